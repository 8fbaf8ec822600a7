"""Saving, loading and exporting timelines: .otio always, EDL and FCP7 XML where OTIO's adapters exist.

Files from others are read with OTIO's core JSON deserializer only, so no adapter plugin or
entry point is ever imported by opening a file.
"""

from __future__ import annotations

from pathlib import Path

from studio.files import atomic_write_bytes
from studio.timeline.model import Timeline, TimelineError

MAX_OTIO_BYTES = 64 * 1024 * 1024
# our format name -> (OTIO adapter, file suffix)
EXPORT_FORMATS = {"otio": ("otio_json", ".otio"), "edl": ("cmx_3600", ".edl"), "fcp7": ("fcp_xml", ".xml")}


def save_timeline(timeline: Timeline, path: str | Path) -> Path:
    """Write the timeline as OpenTimelineIO JSON, atomically."""
    return atomic_write_bytes(path, timeline.to_json().encode("utf-8"))


def load_timeline(path: str | Path) -> Timeline:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_OTIO_BYTES:
            raise TimelineError(f"{path.name} is {size} bytes, larger than the {MAX_OTIO_BYTES} allowed")
        text = path.read_text("utf-8")
    except OSError as exc:
        raise TimelineError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TimelineError(f"{path.name} is not UTF-8 text") from None
    return Timeline.from_json(text)


def available_formats() -> list[str]:
    """Interchange formats whose OTIO adapter is installed."""
    import opentimelineio as otio

    names = set(otio.adapters.available_adapter_names())
    return [fmt for fmt, (adapter, _) in EXPORT_FORMATS.items() if adapter in names]


def export_timeline(timeline: Timeline, path: str | Path, fmt: str) -> Path:
    """Write the cut in another editor's format (``otio``, ``edl``, ``fcp7``)."""
    import opentimelineio as otio

    if fmt not in EXPORT_FORMATS:
        raise TimelineError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if fmt not in available_formats():
        raise TimelineError(f"the OpenTimelineIO adapter for {fmt} is not installed")
    adapter, _suffix = EXPORT_FORMATS[fmt]
    subject = timeline.otio
    if fmt == "edl":
        # An EDL holds one video track; the soundtrack travels in the .otio and the film.
        subject = timeline.otio.deepcopy()
        for track in list(subject.tracks):
            if track.kind != otio.schema.TrackKind.Video:
                subject.tracks.remove(track)
    text = otio.adapters.write_to_string(subject, adapter)
    return atomic_write_bytes(path, text.encode("utf-8"))
