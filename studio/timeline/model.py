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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

META_KEY = "studio"
VIDEO_TRACK = "Shots"
AUDIO_TRACK = "Soundtrack"


class TimelineError(ValueError):
    """An edit the timeline refuses, with the reason."""


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

    def __init__(self, name: str = "Film", rate: float = 24.0, otio_timeline: Any = None) -> None:
        otio = _otio()
        if otio_timeline is None:
            otio_timeline = otio.schema.Timeline(name=name)
            otio_timeline.metadata[META_KEY] = {"rate": float(rate)}
            otio_timeline.tracks.append(otio.schema.Track(name=VIDEO_TRACK, kind=otio.schema.TrackKind.Video))
            otio_timeline.tracks.append(otio.schema.Track(name=AUDIO_TRACK, kind=otio.schema.TrackKind.Audio))
        self.otio = otio_timeline

    # ---- reading -----------------------------------------------------------------------
    @property
    def rate(self) -> float:
        return float(self.otio.metadata.get(META_KEY, {}).get("rate", 24.0))

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
                        metadata=_plain(item.metadata.get(META_KEY, {})),
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
        otio = _otio()
        if frames < 1:
            raise TimelineError(f"a shot needs at least one frame, got {frames}")
        path = Path(path)
        clip = otio.schema.Clip(
            name=name or path.stem,
            media_reference=otio.schema.ExternalReference(
                target_url=str(path.resolve()), available_range=self._range(0, frames)
            ),
            source_range=self._range(0, frames),
        )
        clip.metadata[META_KEY] = {"graph": graph, "seed": seed, "settings": settings or {}}
        count = len(self)
        index = count if index is None else index
        if not 0 <= index <= count:
            raise TimelineError(f"shot index must be between 0 and {count}, got {index}")
        self._detach_transitions_around(index)
        self.video.insert(self._item_index(index) if index < count else len(self.video), clip)
        return index

    def trim(self, index: int, source_in: int, duration: int) -> None:
        """Use ``duration`` frames of the shot's file starting at ``source_in``."""
        clip = self._clip(index)
        available = self._frames(clip.media_reference.available_range.duration)
        if source_in < 0 or duration < 1 or source_in + duration > available:
            raise TimelineError(
                f"shot {index} ({clip.name}): frames {source_in}..{source_in + duration} are outside its "
                f"{available} frames"
            )
        before, after = self._offsets_around(index)
        if before[0] > source_in or after[1] > available - (source_in + duration):
            raise TimelineError(f"shot {index} ({clip.name}): the dissolve next to it needs those frames")
        clip.source_range = self._range(source_in, duration)

    def split(self, index: int, at: int) -> int:
        """Split a shot ``at`` frames into it; returns the index of the second part."""
        clip = self._clip(index)
        start = self._frames(clip.source_range.start_time)
        duration = self._frames(clip.source_range.duration)
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
        a_in, a_len = self._frames(a.source_range.start_time), self._frames(a.source_range.duration)
        b_in, b_len = self._frames(b.source_range.start_time), self._frames(b.source_range.duration)
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
        self.video.remove(transition)
        a.source_range = self._range(
            self._frames(a.source_range.start_time), self._frames(a.source_range.duration) + out_off
        )
        b.source_range = self._range(
            self._frames(b.source_range.start_time) - in_off, self._frames(b.source_range.duration) + in_off
        )

    def set_soundtrack(
        self, path: str | Path, seconds: float, *, gain_db: float = 0.0, fade_in: float = 0.0, fade_out: float = 0.0
    ) -> None:
        """Put one audio file under the film (replacing any), with gain and fades in seconds."""
        otio = _otio()
        frames = max(1, int(round(seconds * self.rate)))
        clip = otio.schema.Clip(
            name=Path(path).stem,
            media_reference=otio.schema.ExternalReference(
                target_url=str(Path(path).resolve()), available_range=self._range(0, frames)
            ),
            source_range=self._range(0, frames),
        )
        clip.metadata[META_KEY] = {"gain_db": float(gain_db), "fade_in": float(fade_in), "fade_out": float(fade_out)}
        track = self.audio
        while len(track):
            track.pop()
        track.append(clip)

    def soundtrack(self) -> dict[str, Any] | None:
        track = self.audio
        if not len(track):
            return None
        clip = track[0]
        return {"path": Path(_url_to_path(clip.media_reference.target_url)), **_plain(clip.metadata.get(META_KEY, {}))}

    def replace_media(self, index: int, path: str | Path, frames: int, **metadata: Any) -> None:
        """Point a shot at a new render (after it succeeded), keeping its trims where they fit."""
        clip = self._clip(index)
        start = self._frames(clip.source_range.start_time)
        duration = self._frames(clip.source_range.duration)
        before, after = self._offsets_around(index)
        start = min(start, max(0, frames - 1))
        duration = max(1, min(duration, frames - start - after[1]))
        if start < before[0] or start + duration + after[1] > frames:
            raise TimelineError(f"shot {index} ({clip.name}): the new render is too short for the dissolves around it")
        clip.media_reference = _otio().schema.ExternalReference(
            target_url=str(Path(path).resolve()), available_range=self._range(0, frames)
        )
        clip.source_range = self._range(start, duration)
        info = _plain(clip.metadata.get(META_KEY, {}))
        info.update(metadata)
        clip.metadata[META_KEY] = info

    # ---- snapshots (undo) and interchange ------------------------------------------------
    def to_json(self) -> str:
        return _otio().adapters.write_to_string(self.otio, "otio_json")

    @classmethod
    def from_json(cls, text: str) -> "Timeline":
        """Read OTIO JSON with the core deserializer only: no adapter plugins are loaded."""
        otio = _otio()
        try:
            value = otio.core.deserialize_json_from_string(text)
        except Exception as exc:  # OTIO raises its own exception types from C++
            raise TimelineError(f"not a readable OpenTimelineIO file: {exc}") from None
        if not isinstance(value, otio.schema.Timeline):
            raise TimelineError(f"expected an OpenTimelineIO Timeline, got {type(value).__name__}")
        timeline = cls(otio_timeline=value)
        timeline.video  # noqa: B018 - raises if the tracks are not ours
        timeline.audio  # noqa: B018
        return timeline

    def copy(self) -> "Timeline":
        return Timeline(otio_timeline=copy.deepcopy(self.otio))

    # ---- helpers -----------------------------------------------------------------------
    def _clip(self, index: int) -> Any:
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
        return int(round(time.rescaled_to(self.rate).value))

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
