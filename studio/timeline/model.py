"""The shot timeline: a video track of rendered shots and a soundtrack, over OpenTimelineIO.

OTIO holds the data and does interchange; its Python API has no editing operations, so the
ones here are ours, written on Track's list semantics in integer frames at the timeline's
rate. A dissolve of D frames between shots A and B follows OTIO's transition model: A gives
up its last ``out_offset`` frames and B its first ``in_offset`` frames (D in all) as handles
the transition blends over, so the cut is D frames shorter than the two shots laid end to end.

Each shot keeps, under ``metadata["studio"]``, the graph, seed and settings that made it,
so it can be opened in the editor, changed and re-rendered in place.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.timeline import limits
from studio.timeline.limits import TimelineError, whole_number
from studio.timeline.otio_check import (
    AUDIO_TRACK,
    DEFAULT_RATE,
    META_KEY,
    VIDEO_TRACK,
    read_otio_document,
    read_otio_json,
)


@dataclass(frozen=True)
class ShotInfo:
    """What the timeline view shows for one shot."""

    index: int  # position among the shots (transitions not counted)
    name: str
    path: Path
    start: int  # first frame on the timeline
    duration: int  # frames on the timeline
    source_in: int  # first frame used from the file
    available: int  # frames in the file
    offline: bool  # the file is missing
    metadata: dict[str, Any]


def _otio():
    import opentimelineio as otio

    return otio


class Timeline:
    """A film: shots in order on one video track, optional dissolves, one soundtrack."""

    def __init__(self, name: str = "Film", rate: float = DEFAULT_RATE, otio_timeline: Any = None) -> None:
        otio = _otio()
        if otio_timeline is None:
            otio_timeline = otio.schema.Timeline(name=name)
            otio_timeline.metadata[META_KEY] = {"rate": limits.check_rate(rate)}
            otio_timeline.tracks.append(otio.schema.Track(name=VIDEO_TRACK, kind=otio.schema.TrackKind.Video))
            otio_timeline.tracks.append(otio.schema.Track(name=AUDIO_TRACK, kind=otio.schema.TrackKind.Audio))
        self.otio = otio_timeline

    # ---- reading -----------------------------------------------------------------------
    @property
    def rate(self) -> float:
        studio = self.otio.metadata.get(META_KEY, {})
        return limits.check_rate(studio.get("rate", DEFAULT_RATE) if hasattr(studio, "get") else studio)

    @property
    def video(self) -> Any:
        return self._track(VIDEO_TRACK)

    @property
    def audio(self) -> Any:
        return self._track(AUDIO_TRACK)

    def _track(self, name: str) -> Any:
        for track in self.otio.tracks:
            if track.name == name:
                return track
        raise TimelineError(f"the timeline has no {name!r} track")

    def _clips(self) -> list[Any]:
        otio = _otio()
        return [item for item in self.video if isinstance(item, otio.schema.Clip)]

    def __len__(self) -> int:
        return len(self._clips())

    def shots(self) -> list[ShotInfo]:
        otio = _otio()
        infos = []
        position = 0
        index = 0
        for item in self.video:
            if isinstance(item, otio.schema.Transition):
                continue
            duration = self._frames(item.duration())
            if isinstance(item, otio.schema.Clip):
                ref = item.media_reference
                path = Path(_url_to_path(ref.target_url)) if hasattr(ref, "target_url") else Path()
                available = self._frames(ref.available_range.duration) if ref.available_range else duration
                infos.append(
                    ShotInfo(
                        index=index,
                        name=item.name,
                        path=path,
                        start=position,
                        duration=duration,
                        source_in=self._frames(item.source_range.start_time) if item.source_range else 0,
                        available=available,
                        offline=not path.is_file(),
                        metadata=limits.check_shot_metadata(
                            _plain(item.metadata.get(META_KEY, {})), f"shot {index} ({item.name})"
                        ),
                    )
                )
                index += 1
            position += duration
        return infos

    def duration(self) -> int:
        """Length of the cut in frames (dissolves overlap, so they shorten it)."""
        return self._frames(self.video.duration())

    def transitions(self) -> list[tuple[int, int, int]]:
        """(shot index before the dissolve, in_offset, out_offset) for each dissolve."""
        otio = _otio()
        found, clips_seen = [], 0
        for item in self.video:
            if isinstance(item, otio.schema.Clip):
                clips_seen += 1
            elif isinstance(item, otio.schema.Transition):
                found.append((clips_seen - 1, self._frames(item.in_offset), self._frames(item.out_offset)))
        return found

    def offline_shots(self) -> list[ShotInfo]:
        return [s for s in self.shots() if s.offline]

    # ---- editing -----------------------------------------------------------------------
    def add_shot(
        self,
        path: str | Path,
        frames: int,
        *,
        name: str = "",
        index: int | None = None,
        graph: dict[str, Any] | None = None,
        seed: int | None = None,
        settings: dict[str, Any] | None = None,
    ) -> int:
        """Append (or insert at ``index``) a shot of ``frames`` frames; returns its index."""
        name = name or Path(path).stem
        frames = limits.check_frames(frames, self.rate, f"shot {name!r}")
        meta = limits.check_clip_metadata({"graph": graph, "seed": seed, "settings": settings or {}}, name)
        limits.check_cut_length(self.duration() + frames, self.rate)
        clip = self._file_clip(name, path, frames, meta)
        count = len(self)
        index = count if index is None else whole_number(index, "a shot index")
        if not 0 <= index <= count:
            raise TimelineError(f"shot index must be between 0 and {count}, got {index}")
        self._detach_transitions_around(index)
        self.video.insert(self._item_index(index) if index < count else len(self.video), clip)
        return index

    def trim(self, index: int, source_in: int, duration: int) -> None:
        """Use ``duration`` frames of the shot's file starting at ``source_in``."""
        clip = self._clip(index)
        source_in, duration = whole_number(source_in, "a trim's first frame"), whole_number(duration, "a trim's length")
        available = self._frames(clip.media_reference.available_range.duration)
        if source_in < 0 or duration < 1 or source_in + duration > available:
            raise TimelineError(
                f"shot {index} ({clip.name}): frames {source_in}..{source_in + duration} are outside its "
                f"{available} frames"
            )
        before, after = self._offsets_around(index)
        if before[0] > source_in or after[1] > available - (source_in + duration):
            raise TimelineError(f"shot {index} ({clip.name}): the dissolve next to it needs those frames")
        limits.check_cut_length(self.duration() - self._span(clip)[1] + duration, self.rate)
        clip.source_range = self._range(source_in, duration)

    def split(self, index: int, at: int) -> int:
        """Split a shot ``at`` frames into it; returns the index of the second part."""
        clip = self._clip(index)
        at = whole_number(at, "a split point")
        start, duration = self._span(clip)
        if not 0 < at < duration:
            raise TimelineError(f"shot {index} ({clip.name}): split point must be inside 1..{duration - 1}, got {at}")
        second = clip.deepcopy()
        clip.source_range = self._range(start, at)
        second.source_range = self._range(start + at, duration - at)
        item_index = self._item_index(index)
        # a dissolve after the shot now belongs to the second half
        self.video.insert(item_index + 1, second)
        return index + 1

    def move(self, index: int, to: int) -> None:
        """Move a shot to position ``to``; dissolves touching it are removed (they joined other shots)."""
        count = len(self)
        index, to = whole_number(index, "a shot index"), whole_number(to, "a shot index")
        if not (0 <= index < count and 0 <= to < count):
            raise TimelineError(f"shot indices must be between 0 and {count - 1}, got {index} -> {to}")
        if index == to:
            return
        self._detach_transitions_around(index, both_sides=True)
        clip = self._clip(index)
        self.video.remove(clip)
        clips = self._clips()
        if to >= len(clips):
            self.video.append(clip)
        else:
            self.video.insert(list(self.video).index(clips[to]), clip)

    def delete(self, index: int, ripple: bool = True) -> None:
        """Remove a shot; without ripple a gap keeps later shots where they were."""
        otio = _otio()
        index = whole_number(index, "a shot index")
        self._detach_transitions_around(index, both_sides=True)
        clip = self._clip(index)
        position = list(self.video).index(clip)
        duration = clip.duration()
        self.video.remove(clip)
        if not ripple:
            self.video.insert(position, otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=duration)))

    def add_dissolve(self, index: int, frames: int) -> None:
        """Cross-dissolve of ``frames`` frames between shot ``index`` and the next one."""
        otio = _otio()
        index, frames = whole_number(index, "a shot index"), whole_number(frames, "a dissolve's length")
        if frames < 2:
            raise TimelineError(f"a dissolve needs at least 2 frames, got {frames}")
        if not 0 <= index < len(self) - 1:
            raise TimelineError(f"a dissolve goes between two shots; there is no shot after {index}")
        a, b = self._clip(index), self._clip(index + 1)
        items = list(self.video)
        if items.index(b) != items.index(a) + 1:
            raise TimelineError(f"shots {index} and {index + 1} are not adjacent (a gap or dissolve is between them)")
        out_off = frames // 2
        in_off = frames - out_off
        # OTIO: the dissolve spans in_offset frames before the cut and out_offset after it; A's media
        # must run on out_offset frames past its out point and B's start in_offset frames early.
        (a_in, a_len), (b_in, b_len) = self._span(a), self._span(b)
        if a_len - out_off < 1 or b_len - in_off < 1:
            raise TimelineError(f"a {frames}-frame dissolve is longer than shot {index} or {index + 1}")
        a.source_range = self._range(a_in, a_len - out_off)
        b.source_range = self._range(b_in + in_off, b_len - in_off)
        transition = otio.schema.Transition(
            name="Dissolve",
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
            in_offset=otio.opentime.RationalTime(in_off, self.rate),
            out_offset=otio.opentime.RationalTime(out_off, self.rate),
        )
        self.video.insert(items.index(a) + 1, transition)

    def remove_dissolve(self, index: int) -> None:
        """Remove the dissolve after shot ``index``, giving its frames back to both shots."""
        otio = _otio()
        a = self._clip(index)
        items = list(self.video)
        position = items.index(a) + 1
        if position >= len(items) or not isinstance(items[position], otio.schema.Transition):
            raise TimelineError(f"there is no dissolve after shot {index}")
        transition, b = items[position], items[position + 1]
        in_off, out_off = self._frames(transition.in_offset), self._frames(transition.out_offset)
        limits.check_cut_length(self.duration() + in_off + out_off, self.rate)
        self.video.remove(transition)
        (a_in, a_len), (b_in, b_len) = self._span(a), self._span(b)
        a.source_range = self._range(a_in, a_len + out_off)
        b.source_range = self._range(b_in - in_off, b_len + in_off)

    def set_soundtrack(
        self, path: str | Path, seconds: float, *, gain_db: float = 0.0, fade_in: float = 0.0, fade_out: float = 0.0
    ) -> None:
        """Put one audio file under the film (replacing any), with gain and fades in seconds."""
        seconds = limits.check_number(seconds, 0.0, limits.MAX_FILM_SECONDS, "the soundtrack's length in seconds")
        meta = {"gain_db": gain_db, "fade_in": fade_in, "fade_out": fade_out}
        meta = {key: float(value) for key, value in limits.check_sound_metadata(meta, "the soundtrack").items()}
        clip = self._file_clip(Path(path).stem, path, max(1, int(round(seconds * self.rate))), meta)
        track = self.audio
        while len(track):
            track.pop()
        track.append(clip)

    def soundtrack(self) -> dict[str, Any] | None:
        track = self.audio
        if not len(track):
            return None
        clip = track[0]
        meta = limits.check_sound_metadata(_plain(clip.metadata.get(META_KEY, {})), "the soundtrack")
        return {"path": Path(_url_to_path(clip.media_reference.target_url)), **meta}

    def replace_media(self, index: int, path: str | Path, frames: int, **metadata: Any) -> None:
        """Point a shot at a new render (after it succeeded), keeping its trims where they fit."""
        clip = self._clip(index)
        frames = limits.check_frames(frames, self.rate, f"shot {index} ({clip.name})'s new render")
        start, duration = self._span(clip)
        before, after = self._offsets_around(index)
        start = min(start, max(0, frames - 1))
        duration = max(1, min(duration, frames - start - after[1]))
        if start < before[0] or start + duration + after[1] > frames:
            raise TimelineError(f"shot {index} ({clip.name}): the new render is too short for the dissolves around it")
        info = limits.check_clip_metadata({**_plain(clip.metadata.get(META_KEY, {})), **metadata}, clip.name)
        clip.media_reference = self._file_reference(path, frames)
        clip.source_range = self._range(start, duration)
        clip.metadata[META_KEY] = info

    # ---- snapshots (undo) and interchange ------------------------------------------------
    def to_json(self) -> str:
        """OTIO JSON without indentation: undo keeps two per edit, and a save must open again."""
        return _otio().adapters.write_to_string(self.otio, "otio_json", indent=-1)

    @classmethod
    def from_json(cls, text: str, source: str = "") -> "Timeline":
        """Read OTIO JSON, checked before OTIO builds anything (:mod:`studio.timeline.otio_check`);
        ``source`` names the file in errors."""
        return cls._with_tracks(read_otio_json(text, source))

    @classmethod
    def from_document(cls, data: Any, source: str = "") -> "Timeline":
        """Read already-parsed OTIO JSON data (a project file's timeline), checked the same way."""
        return cls._with_tracks(read_otio_document(data, source))

    @classmethod
    def _with_tracks(cls, otio_timeline: Any) -> "Timeline":
        timeline = cls(otio_timeline=otio_timeline)
        timeline.video  # noqa: B018 - raises if the tracks are not ours
        timeline.audio  # noqa: B018
        return timeline

    def copy(self) -> "Timeline":
        return Timeline(otio_timeline=copy.deepcopy(self.otio))

    # ---- helpers -----------------------------------------------------------------------
    def _clip(self, index: int) -> Any:
        index = whole_number(index, "a shot index")
        clips = self._clips()
        if not 0 <= index < len(clips):
            raise TimelineError(f"no shot {index}; the timeline has {len(clips)}")
        return clips[index]

    def _item_index(self, index: int) -> int:
        return list(self.video).index(self._clip(index))

    def _offsets_around(self, index: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(in, out) offsets of the dissolves before and after shot ``index`` ((0, 0) when none)."""
        before = after = (0, 0)
        for shot, in_off, out_off in self.transitions():
            if shot == index - 1:
                before = (in_off, out_off)
            elif shot == index:
                after = (in_off, out_off)
        return before, after

    def _has_dissolve_after(self, index: int) -> bool:
        return any(shot == index for shot, _, _ in self.transitions())

    def _detach_transitions_around(self, index: int, both_sides: bool = False) -> None:
        """Remove the dissolves an edit at shot ``index`` would break.

        Inserting before shot ``index`` breaks the dissolve that joins it to the shot before;
        moving or deleting it (``both_sides``) also breaks the one after it.
        """
        if 0 < index < len(self) and self._has_dissolve_after(index - 1):
            self.remove_dissolve(index - 1)
        if both_sides and self._has_dissolve_after(index):
            self.remove_dissolve(index)

    def _frames(self, time: Any) -> int:
        value = time.rescaled_to(self.rate).value
        if not math.isfinite(value) or abs(value) > 2**53:
            raise TimelineError(f"a time of {limits.show(value)} frames is out of range")
        return int(round(value))

    def _span(self, clip: Any) -> tuple[int, int]:
        """(first frame used from the file, frames used) of a clip."""
        return self._frames(clip.source_range.start_time), self._frames(clip.source_range.duration)

    def _file_reference(self, path: str | Path, frames: int) -> Any:
        available = self._range(0, frames)
        return _otio().schema.ExternalReference(target_url=str(Path(path).resolve()), available_range=available)

    def _file_clip(self, name: str, path: str | Path, frames: int, meta: dict[str, Any]) -> Any:
        """A clip using all ``frames`` frames of the file at ``path``."""
        reference = self._file_reference(path, frames)
        clip = _otio().schema.Clip(name=name, media_reference=reference, source_range=self._range(0, frames))
        clip.metadata[META_KEY] = meta
        return clip

    def _range(self, start: int, duration: int) -> Any:
        otio = _otio()
        return otio.opentime.TimeRange(
            start_time=otio.opentime.RationalTime(start, self.rate),
            duration=otio.opentime.RationalTime(duration, self.rate),
        )


def _url_to_path(url: str) -> str:
    return url[len("file://") :] if url.startswith("file://") else url


def _plain(value: Any) -> Any:
    """OTIO's AnyDictionary/AnyVector as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [_plain(v) for v in value]
    return value
