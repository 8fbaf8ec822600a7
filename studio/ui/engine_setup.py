"""The engine the window runs graphs with, built from the user's settings."""

from __future__ import annotations

import functools
import os
from typing import Any

IN_PROCESS_ENV = "STUDIO_RENDER_IN_PROCESS"  # "1": render on a thread of the window's process (debugging, profiling)


def make_engine(settings: Any, registry: Any) -> Any:
    """An engine for ``settings``: its device, output and model folders (ComfyUI kind folders
    included), pickle policy, CPU threads, and the on-disk cache of expensive outputs; or, with a
    cluster address, the render farm's runner (it connects on the first job, from the queue's thread)."""
    if settings.cluster_address.strip():
        from studio.farm import ClusterRunner

        return ClusterRunner(settings.cluster_address.strip(), registry, settings.output_path)
    from studio.local_engine import engine_from_settings

    return engine_from_settings(settings, registry)


def window_engine(settings: Any, registry: Any) -> Any:
    """What the window's render queue runs on: the render farm when one is set, else an engine
    in a render process of its own (so torch, model loads and sampling never stall the window,
    and a crash in them never takes the window down)."""
    if settings.cluster_address.strip() or os.environ.get(IN_PROCESS_ENV) == "1":
        return make_engine(settings, registry)
    from studio.engine.process import ProcessEngine
    from studio.local_engine import render_process_engine

    return ProcessEngine(functools.partial(render_process_engine, settings))
