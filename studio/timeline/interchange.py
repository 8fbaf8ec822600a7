"""Saving, loading and exporting timelines: .otio always, EDL and FCP7 XML where OTIO's adapters exist.

Only .otio files are read, and only after :mod:`studio.timeline.otio_check` has bounded them,
with OTIO's core JSON deserializer: no adapter plugin or entry point is ever imported by opening
a file. EDL and FCP7 XML are written, never read.
"""

from __future__ import annotations

from pathlib import Path

from studio.files import atomic_write_bytes
from studio.timeline.limits import MAX_OTIO_BYTES
from studio.timeline.model import Timeline, TimelineError

# our format name -> (OTIO adapter, file suffix)
EXPORT_FORMATS = {"otio": ("otio_json", ".otio"), "edl": ("cmx_3600", ".edl"), "fcp7": ("fcp_xml", ".xml")}


def save_timeline(timeline: Timeline, path: str | Path) -> Path:
    """Write the timeline as OpenTimelineIO JSON, atomically."""
    return atomic_write_bytes(path, timeline.to_json().encode("utf-8"))


def load_timeline(path: str | Path) -> Timeline:
    """Read a .otio file; anything wrong with it is one TimelineError naming the file."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a pipe or device could block or never end
        raise TimelineError(f"{path.name} is not a regular file")
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_OTIO_BYTES + 1)  # read no more than allowed, even if the file grows
    except OSError as exc:
        raise TimelineError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_OTIO_BYTES:
        raise TimelineError(f"{path.name} is larger than the {MAX_OTIO_BYTES:,} bytes allowed")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TimelineError(f"{path.name} is not UTF-8 text (byte {exc.start})") from None
    return Timeline.from_json(text, source=path.name)


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
    try:
        text = otio.adapters.write_to_string(subject, adapter)
    except Exception as exc:  # adapters raise their own types (and plain ones) for cuts they cannot express
        raise TimelineError(f"the cut cannot be written as {fmt}: {exc}") from None
    try:
        return atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise TimelineError(f"cannot write {path}: {exc.strerror or exc}") from None
