"""What a timeline may hold: its error type, the bounds on its size and numbers, and the checks
shared by the loader (before OpenTimelineIO sees a file) and the model (before an edit stores a value).

The bounds keep a stranger's file from costing more than a real film would: a cut of at most
four hours at 1-240 fps, every time within a day, JSON at most 64 levels deep, 32 MB and a
million values (a worst-allowed file loads in a few seconds).
"""

from __future__ import annotations

import math
import operator
from typing import Any

MAX_OTIO_BYTES = 32 * 1024 * 1024  # a thousand shots with their graphs take about 8 MB
MAX_DEPTH = 64  # JSON nesting levels; the studio writes about 12
MAX_VALUES = 1_000_000  # JSON values in one document (a shot and its graph: about 250)
MAX_STRING = 100_000  # characters in one string (a long prompt fits)
MAX_KEY = 1_000  # characters in one object key
MAX_TRACKS = 16
MAX_ITEMS = 10_000  # clips, gaps and dissolves over all tracks; also media references
MAX_MARKERS = 10_000
MAX_EFFECTS = 10_000
MIN_RATE, MAX_RATE = 1.0, 240.0  # the film's frames per second
MIN_MEDIA_RATE, MAX_MEDIA_RATE = 1e-3, 1e6  # any OTIO time's rate (audio sample rates included)
MAX_FILM_SECONDS = 4 * 3600  # a shot, a file's length, the whole cut
MAX_TIME_SECONDS = 24 * 3600  # any point in time (a camera's timecode start, say)
MIN_GAIN_DB, MAX_GAIN_DB = -120.0, 40.0
MAX_PIXELS = 16_384  # a shot's recorded width or height
INT64 = 2**63  # OpenTimelineIO stores integers as C++ int64_t
CLIP_METADATA_DEPTH = 7  # where a clip's studio metadata sits: Timeline.tracks.children[i].children[j].metadata.studio


class TimelineError(ValueError):
    """An edit or a file the timeline refuses, with the reason."""


def is_number(value: Any) -> bool:
    """A JSON number: int or float, never bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def show(value: Any, limit: int = 40) -> str:
    """A value for an error message, cut short."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        text = str(int(value))
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_rate(value: Any, where: str = "the timeline's rate") -> float:
    """The film's frame rate as a float, or TimelineError."""
    if not is_number(value) or not math.isfinite(value) or not MIN_RATE <= value <= MAX_RATE:
        raise TimelineError(f"{where} must be a number of frames per second from 1 to 240, got {show(value)}")
    return float(value)


def max_frames(rate: float) -> int:
    """The most frames a shot, a file or the whole cut may have at ``rate``."""
    return int(MAX_FILM_SECONDS * rate)


def frames_limit(rate: float) -> str:
    """``345,600 (4 h at 24 fps)``: the frame limit with where it comes from."""
    return f"{max_frames(rate):,} ({MAX_FILM_SECONDS // 3600} h at {show(float(rate))} fps)"


def check_frames(frames: Any, rate: float, what: str) -> int:
    """A whole number of frames from 1 up to :func:`max_frames`, or TimelineError naming ``what``."""
    if not is_number(frames) or not math.isfinite(frames) or frames != int(frames):
        raise TimelineError(f"{what} must be a whole number of frames, got {show(frames)}")
    if not 1 <= frames <= max_frames(rate):
        raise TimelineError(f"{what} has {show(frames)} frames; it needs 1 to {frames_limit(rate)}")
    return int(frames)


def check_saved_size(text: str, what: str = "the timeline") -> None:
    """Refuses a timeline whose saved JSON would be too large to open again."""
    size = len(text.encode("utf-8"))
    if size > MAX_OTIO_BYTES:
        raise TimelineError(f"{what} would be {size:,} bytes; a timeline file may be at most {MAX_OTIO_BYTES:,}")


def check_cut_length(frames: int, rate: float) -> None:
    """Refuses a cut (after an edit, or to render) longer than :func:`max_frames`."""
    if frames > max_frames(rate):
        raise TimelineError(f"a cut of {frames:,} frames is too long; at most {frames_limit(rate)}")


def check_number(value: Any, low: float, high: float, what: str) -> float:
    """A finite number within ``low..high``, or TimelineError naming ``what``."""
    if not is_number(value) or not math.isfinite(value) or not low <= value <= high:
        raise TimelineError(f"{what} must be a number from {show(low)} to {show(high)}, got {show(value)}")
    return float(value)


def check_json_value(value: Any, where: str, depth: int = 0) -> list[dict[str, Any]]:
    """Bounds for plain JSON data (metadata, or a whole document): nesting, size, strings, numbers.

    Walks without recursion, so no document can exhaust the stack, and raises TimelineError with
    the path to the first value out of bounds. Returns the objects that carry an ``OTIO_SCHEMA``.
    """
    if not isinstance(value, (dict, list, tuple)):
        problem = _value_problem(value)
        if problem:
            raise TimelineError(f"{where}: the document {problem}")
        return []
    schemas: list[dict[str, Any]] = []
    # containers waiting: (value, depth, parent entry, key); a path is rebuilt only for an error message
    stack: list[tuple[Any, int, Any, Any]] = [(value, depth, None, None)]
    seen = 1
    while stack:
        entry = stack.pop()
        item, level = entry[0], entry[1]
        seen += len(item)
        if seen > MAX_VALUES:
            raise TimelineError(f"{where} holds more than {MAX_VALUES:,} values")
        if level >= MAX_DEPTH:
            raise TimelineError(
                f"{where}: {_path(entry) or 'the document'} is nested more than {MAX_DEPTH} levels deep"
            )
        if isinstance(item, dict):
            if "OTIO_SCHEMA" in item:
                schemas.append(item)
            if "OTIO_REF_ID" in item:  # OTIO's shared-object references: the studio writes none
                raise TimelineError(f"{where}: {_path(entry) or 'the document'} uses OTIO_REF_ID references")
            for key in item:
                if not isinstance(key, str) or len(key) > MAX_KEY:
                    raise TimelineError(
                        f"{where}: {_path(entry) or 'the document'} has a key that is not text of at most "
                        f"{MAX_KEY:,} characters: {show(key)}"
                    )
            children: Any = item.items()
        else:
            children = enumerate(item)
        for key, child in children:
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, level + 1, entry, key))
            elif child is not None and child is not True and child is not False:
                problem = _value_problem(child)
                if problem:
                    raise TimelineError(f"{where}: {_path((child, level + 1, entry, key))} {problem}")
    return schemas


def _value_problem(item: Any) -> str | None:
    """What is wrong with one JSON scalar, or None."""
    if isinstance(item, str):
        return _string_problem(item)
    if isinstance(item, float):
        return None if math.isfinite(item) else f"is {show(item)}, not a finite number"
    if isinstance(item, int) and not isinstance(item, bool):
        return None if -INT64 <= item < INT64 else f"is {show(item)}, outside the 64-bit integers OpenTimelineIO stores"
    if item is None or isinstance(item, bool):
        return None
    return f"is a {type(item).__name__}, not JSON data"


def _string_problem(text: str) -> str | None:
    if len(text) > MAX_STRING:
        return f"is a string of {len(text):,} characters; at most {MAX_STRING:,}"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: OTIO's parser refuses them, other code chokes
            return "holds text that is not valid Unicode"
    return None


def _path(entry: tuple[Any, int, Any, Any]) -> str:
    keys = []
    while entry[2] is not None:
        keys.append(entry[3])
        entry = entry[2]
    text = "".join(f"[{key}]" if isinstance(key, int) else f".{_cut(key)}" for key in reversed(keys))
    text = text.removeprefix(".")
    return text if len(text) <= 120 else f"{text[:60]}…{text[-50:]}"


def _cut(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def whole_number(value: Any, what: str) -> int:
    """An integer argument (an index, a frame count), or TimelineError: never NaN, a float or None."""
    if isinstance(value, bool):
        raise TimelineError(f"{what} must be a whole number, got {show(value)}")
    try:
        return operator.index(value)
    except TypeError:
        raise TimelineError(f"{what} must be a whole number, got {show(value)}") from None


def check_shot_metadata(meta: Any, what: str) -> dict[str, Any]:
    """The studio's record on a shot: ``graph`` (an object or null), ``seed``, ``settings``."""
    meta = _object(meta, f"{what}: its studio metadata")
    graph, seed = meta.get("graph"), meta.get("seed")
    if graph is not None and not isinstance(graph, dict):
        raise TimelineError(f"{what}: its graph must be an object or null, got {show(graph)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TimelineError(f"{what}: its seed must be a whole number or null, got {show(seed)}")
    settings = _object(meta.get("settings", {}), f"{what}: its settings")
    for key in ("width", "height"):
        if key in settings:
            size = settings[key]
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PIXELS:
                raise TimelineError(f"{what}: its {key} must be 1 to {MAX_PIXELS} pixels, got {show(size)}")
    if "fps" in settings:
        check_number(settings["fps"], 1e-3, MAX_MEDIA_RATE, f"{what}: its fps")
    return meta


def check_clip_metadata(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """A shot's studio record before it is stored: refused whole when OTIO could not keep it."""
    check_json_value(meta, f"shot {name!r}'s metadata", depth=CLIP_METADATA_DEPTH)
    return check_shot_metadata(meta, f"shot {name!r}")


def check_sound_metadata(meta: Any, what: str) -> dict[str, Any]:
    """The soundtrack's gain in dB and fades in seconds."""
    meta = _object(meta, f"{what}: its studio metadata")
    check_number(meta.get("gain_db", 0.0), MIN_GAIN_DB, MAX_GAIN_DB, f"{what}: its gain_db")
    for key in ("fade_in", "fade_out"):
        check_number(meta.get(key, 0.0), 0.0, MAX_FILM_SECONDS, f"{what}: its {key}")
    return meta


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TimelineError(f"{what} must be an object, got {show(value)}")
    return value
