"""Execution: plan, cache, cancel, events, device choice and the background render queue.

Qt-free; torch is imported only when a run needs it.
"""

from studio.engine.cache import NodeCache
from studio.engine.context import CancelToken, RunContext
from studio.engine.engine import Engine, NodeReport, RunReport
from studio.engine.events import (
    Done,
    Event,
    MemoryWarning,
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    Preview,
    Progress,
    Status,
)
from studio.engine.worker import Job, RenderQueue
from studio.nodeapi import Cancelled, NodeError, RunSettings

__all__ = [
    "CancelToken",
    "Cancelled",
    "Done",
    "Engine",
    "Event",
    "Job",
    "MemoryWarning",
    "NodeCache",
    "NodeCached",
    "NodeError",
    "NodeFailed",
    "NodeFinished",
    "NodeReport",
    "NodeStarted",
    "Preview",
    "Progress",
    "RenderQueue",
    "RunContext",
    "RunReport",
    "RunSettings",
    "Status",
]
