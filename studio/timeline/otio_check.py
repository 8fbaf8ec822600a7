"""Checking an OpenTimelineIO JSON document before OpenTimelineIO builds objects from it.

OTIO's C++ parser recurses once per nesting level and trusts the numbers it reads, so a file
nested 100,000 deep crashes the process and a clip of 1e15 frames reaches the renderer. Here the
text is parsed by Python's json module (which stops at its recursion limit with an exception),
walked without recursion and checked against :mod:`studio.timeline.limits`: the schemas a
timeline may hold, the studio's shape (one stack of tracks holding clips, gaps and dissolves),
every time finite and within bounds, every shot within four hours at the film's rate. OTIO is
then handed the checked data written out again, so it reads exactly what was checked (the two
parsers differ on duplicate keys and on integers past 64 bits).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from studio.timeline.limits import (
    MAX_DEPTH,
    MAX_EFFECTS,
    MAX_ITEMS,
    MAX_MARKERS,
    MAX_MEDIA_RATE,
    MAX_OTIO_BYTES,
    MAX_TIME_SECONDS,
    MAX_TRACKS,
    MIN_MEDIA_RATE,
    TimelineError,
    check_json_value,
    check_rate,
    check_saved_size,
    check_shot_metadata,
    check_sound_metadata,
    frames_limit,
    is_number,
    max_frames,
    show,
)

META_KEY = "studio"
VIDEO_TRACK = "Shots"
AUDIO_TRACK = "Soundtrack"
DEFAULT_RATE = 24.0

# the schemas a timeline may hold, with the newest version of each that this OTIO reads (generator
# and image-sequence references are left out: the studio makes neither, and their frame arithmetic
# takes numbers a file could set to zero)
SCHEMAS = {
    "Timeline": 1,
    "Stack": 1,
    "Track": 1,
    "Clip": 2,
    "Gap": 1,
    "Transition": 1,
    "ExternalReference": 1,
    "MissingReference": 1,
    "Marker": 2,
    "Effect": 1,
    "TimeEffect": 1,
    "LinearTimeWarp": 1,
    "FreezeFrame": 1,
    "RationalTime": 1,
    "TimeRange": 1,
    "TimeTransform": 1,
    "Box2d": 1,
    "V2d": 1,
    "Color": 1,
}
# fields many schemas share, with the JSON type OTIO expects (its own message for a mismatch is cryptic)
FIELDS = {
    "name": (str, "text"),
    "metadata": (dict, "an object"),
    "children": (list, "a list"),
    "effects": (list, "a list"),
    "markers": (list, "a list"),
    "enabled": (bool, "true or false"),
    "kind": (str, "text"),
    "target_url": (str, "text"),
    "media_references": (dict, "an object"),
}
EFFECTS = {"Effect", "TimeEffect", "LinearTimeWarp", "FreezeFrame"}
ITEMS = {"Clip", "Gap", "Transition"}
MEDIA = {"ExternalReference", "MissingReference"}
_SCHEMA = re.compile(r"([A-Za-z][A-Za-z0-9]*)\.([1-9][0-9]{0,2})")


def read_otio_json(text: str, source: str = "") -> Any:
    """Check OTIO JSON text, then read it with OTIO's core deserializer (no adapter plugins load).

    Returns an ``otio.schema.Timeline``; raises TimelineError for anything else.
    """
    where = source or "the timeline"
    if len(text) > MAX_OTIO_BYTES:
        raise TimelineError(f"{where} is {len(text):,} characters, more than the {MAX_OTIO_BYTES:,} allowed")
    try:
        # NaN and Infinity become floats here so the walk can say where they are
        data = json.loads(text, parse_constant=float)
    except RecursionError:
        raise TimelineError(f"{where}: the JSON is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as exc:
        raise TimelineError(
            f"{where} is not a readable OpenTimelineIO file: not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except ValueError as exc:  # integers of thousands of digits
        raise TimelineError(f"{where} is not a readable OpenTimelineIO file: {exc}") from None
    return read_otio_document(data, source)


def read_otio_document(data: Any, source: str = "") -> Any:
    """Check already-parsed OTIO JSON data (a project file's timeline), then read it with OTIO."""
    import opentimelineio as otio

    where = source or "the timeline"
    if not _is(data, "Timeline"):
        kind = str(data.get("OTIO_SCHEMA", "an object")).split(".")[0] if isinstance(data, dict) else "not an object"
        raise TimelineError(f"{where}: expected an OpenTimelineIO Timeline, got {show(kind)}")
    times = _check_schemas(check_json_value(data, where), where)
    _check_shape(data, where)  # before the times' magnitudes, to name the clip a huge duration belongs to
    for time in times:
        if abs(time["value"] / time["rate"]) > MAX_TIME_SECONDS:
            raise TimelineError(
                f"{where}: a time of {show(time['value'])} at rate {show(time['rate'])} is more than a day"
            )
    checked = json.dumps(data, allow_nan=False, separators=(",", ":"))
    try:
        value = otio.core.deserialize_json_from_string(checked)
    except Exception as exc:  # OTIO raises its own exception types from C++
        raise TimelineError(f"{where} is not a readable OpenTimelineIO file: {exc}") from None
    if not isinstance(value, otio.schema.Timeline):  # the checks above make this unreachable
        raise TimelineError(f"{where}: expected an OpenTimelineIO Timeline, got {type(value).__name__}")
    # OTIO writes every field a file left out; a large file of bare objects could save too big to open
    if len(checked) > MAX_OTIO_BYTES // 2:
        check_saved_size(otio.core.serialize_json_to_string(value, indent=-1), f"{where}, saved again,")
    return value


# ---- every OTIO object, wherever it sits ---------------------------------------------------
def _check_schemas(objects: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Checks every object's schema, the counts, and each time's numbers; returns the times."""
    counts = {name: 0 for name in SCHEMAS}
    times = []
    for item in objects:
        name = _schema_of(item, where)
        counts[name] += 1
        for field, (kind, text) in FIELDS.items():
            if field in item and not isinstance(item[field], kind):
                raise TimelineError(f"{where}: a {name}'s {field} must be {text}, got {show(item[field])}")
        if name == "RationalTime":
            _check_time(item, where)
            times.append(item)
        elif name == "TimeRange":
            _check_range(item, where)
    bounds = (
        (counts["Track"], MAX_TRACKS, "tracks"),
        (sum(counts[name] for name in ITEMS), MAX_ITEMS, "clips, gaps and dissolves"),
        (counts["Marker"], MAX_MARKERS, "markers"),
        (sum(counts[name] for name in EFFECTS), MAX_EFFECTS, "effects"),
        (sum(counts[name] for name in MEDIA), MAX_ITEMS, "media references"),
    )
    for count, limit, what in bounds:
        if count > limit:
            raise TimelineError(f"{where} has {count:,} {what}; at most {limit:,}")
    if counts["Timeline"] > 1 or counts["Stack"] > 1:
        raise TimelineError(f"{where}: a timeline holds one stack of tracks; nested timelines and stacks are not read")
    return times


def _schema_of(item: dict[str, Any], where: str) -> str:
    label = item["OTIO_SCHEMA"]
    match = _SCHEMA.fullmatch(label) if isinstance(label, str) else None
    if match is None or match.group(1) not in SCHEMAS:
        raise TimelineError(f"{where}: {show(label)} is not an OpenTimelineIO schema a timeline may hold")
    name, version = match.group(1), int(match.group(2))
    if not 1 <= version <= SCHEMAS[name]:
        raise TimelineError(f"{where}: {label} is a version of {name} this studio does not read")
    return name


def _check_time(item: dict[str, Any], where: str) -> None:
    rate, value = item.get("rate"), item.get("value")
    if not (is_number(rate) and is_number(value)):
        raise TimelineError(f"{where}: a time needs a numeric rate and value, got {show(rate)} and {show(value)}")
    if not MIN_MEDIA_RATE <= rate <= MAX_MEDIA_RATE:
        raise TimelineError(f"{where}: a time has a rate of {show(rate)}; it must be 0.001 to 1,000,000")


def _check_range(item: dict[str, Any], where: str) -> None:
    for key in ("start_time", "duration"):
        if not _is(item.get(key), "RationalTime"):
            raise TimelineError(f"{where}: a time range needs a {key} time")
        _check_time(item[key], where)  # the walk may not have reached it yet
    if item["duration"]["value"] < 0:
        raise TimelineError(f"{where}: a time range has a negative duration ({show(item['duration']['value'])})")


def _is(value: Any, name: str) -> bool:
    return isinstance(value, dict) and str(value.get("OTIO_SCHEMA", "")).split(".")[0] == name


# ---- the studio's shape: a Timeline over one Stack of Tracks -------------------------------
def _check_shape(data: dict[str, Any], where: str) -> None:
    metadata = _field(data, "metadata", dict, where, "the timeline's metadata")
    studio = metadata.get(META_KEY, {})
    if not isinstance(studio, dict):
        raise TimelineError(f"{where}: the timeline's studio metadata must be an object, got {show(studio)}")
    rate = check_rate(studio.get("rate", DEFAULT_RATE), f"{where}: the timeline's rate")
    stack = data.get("tracks")
    if not _is(stack, "Stack"):
        raise TimelineError(f"{where}: the timeline's tracks must be a Stack")
    _duration(stack.get("source_range"), rate, f"{where}: the stack", required=False)
    for index, track in enumerate(_field(stack, "children", list, where, "the stack's children")):
        if not _is(track, "Track"):
            raise TimelineError(f"{where}: the stack's child {index} is not a Track")
        _check_track(track, rate, where)


def _check_track(track: dict[str, Any], rate: float, where: str) -> None:
    name = track.get("name", "")
    label = f"{where}: track {show(name)}"
    items = _field(track, "children", list, where, f"track {show(name)}'s children")
    ours = name in (VIDEO_TRACK, AUDIO_TRACK)
    _duration(track.get("source_range"), rate, label, required=False)
    total, clips = 0.0, 0
    for position, item in enumerate(items):
        kind = str(item.get("OTIO_SCHEMA", "")).split(".")[0] if isinstance(item, dict) else "not an object"
        if kind not in ITEMS:
            raise TimelineError(f"{label} item {position} is {show(kind)}; tracks hold clips, gaps and dissolves")
        if kind == "Clip":
            what = f"{where}: {name} clip {clips} {show(item.get('name', ''))}"
            total += _check_clip(item, rate, what, ours, sound=name == AUDIO_TRACK)
            clips += 1
        elif kind == "Gap":
            total += _duration(item.get("source_range"), rate, f"{label} gap {position}", required=False)
        else:
            for key in ("in_offset", "out_offset"):
                if key in item:
                    _frames_within(item[key], rate, f"{label} dissolve {position}'s {key}")
            if name == VIDEO_TRACK and not (0 < position < len(items) - 1 and _is_clip_pair(items, position)):
                raise TimelineError(f"{label} item {position}: a dissolve must sit between two clips")
    if total > max_frames(rate):
        raise TimelineError(f"{label} lasts {show(total)} frames; at most {frames_limit(rate)}")


def _check_clip(clip: dict[str, Any], rate: float, what: str, ours: bool, sound: bool) -> float:
    """Checks one clip; returns its length in frames at the film's rate."""
    media = _active_media(clip, what)
    available = media.get("available_range") if isinstance(media, dict) else None
    if clip.get("source_range") is not None:
        frames = _duration(clip["source_range"], rate, what, required=True)
    elif available is not None:
        frames = _duration(available, rate, what, required=True)
    else:
        raise TimelineError(f"{what} has no length: neither a source range nor a file length")
    _duration(available, rate, f"{what}: its file length", required=False)
    if ours:  # the model edits these: they need a file, its length and a used range
        if not _is(media, "ExternalReference") or not isinstance(media.get("target_url"), str):
            raise TimelineError(f"{what} has no file reference (an ExternalReference with a target_url)")
        if available is None or clip.get("source_range") is None:
            raise TimelineError(f"{what} needs both its file's length and the range it uses")
        meta = _field(clip, "metadata", dict, what, "its metadata").get(META_KEY, {})
        (check_sound_metadata if sound else check_shot_metadata)(meta, what)
    return frames


def _active_media(clip: dict[str, Any], what: str) -> Any:
    """The media reference a clip plays: Clip.1 has one, Clip.2 a named set and the active name."""
    if clip["OTIO_SCHEMA"] == "Clip.1":
        return clip.get("media_reference")
    references = _field(clip, "media_references", dict, what, "its media references")
    key = clip.get("active_media_reference_key", "DEFAULT_MEDIA")
    if not isinstance(key, str) or (references and key not in references):
        raise TimelineError(f"{what}: its active media reference {show(key)} is not among its references")
    return references.get(key)


def _duration(time_range: Any, rate: float, what: str, required: bool) -> float:
    if time_range is None and not required:
        return 0.0
    if not _is(time_range, "TimeRange"):
        raise TimelineError(f"{what} needs a time range, got {show(time_range)}")
    return _frames_within(time_range["duration"], rate, f"{what} has a duration of", phrase=True)


def _frames_within(time: Any, rate: float, what: str, phrase: bool = False) -> float:
    """A checked RationalTime's length in frames at the film's rate, at most four hours."""
    if not _is(time, "RationalTime"):
        raise TimelineError(f"{what} must be a time, got {show(time)}")
    frames = time["value"] / time["rate"] * rate
    if not (math.isfinite(frames) and 0 <= frames <= max_frames(rate)):
        text = f"{what} {show(frames)} frames" if phrase else f"{what} is {show(frames)} frames"
        raise TimelineError(f"{text}; it must be 0 to {frames_limit(rate)}")
    return frames


def _is_clip_pair(items: list[Any], position: int) -> bool:
    return _is(items[position - 1], "Clip") and _is(items[position + 1], "Clip")


def _field(item: dict[str, Any], key: str, kind: type, where: str, what: str) -> Any:
    value = item.get(key, kind())
    if not isinstance(value, kind):
        raise TimelineError(f"{where}: {what} must be {'a list' if kind is list else 'an object'}, got {show(value)}")
    return value
