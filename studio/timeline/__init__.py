"""The shot timeline over OpenTimelineIO (no Qt)."""

from studio.timeline.interchange import available_formats, export_timeline, load_timeline, save_timeline
from studio.timeline.model import ShotInfo, Timeline, TimelineError

__all__ = [
    "ShotInfo",
    "Timeline",
    "TimelineError",
    "available_formats",
    "export_timeline",
    "load_timeline",
    "save_timeline",
]
