"""Rendering a timeline to one film with PyAV: shots re-timed to one rate and size, dissolves
blended, shot audio and the soundtrack mixed, written atomically with the timeline embedded."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from studio.media.types import Audio, Frames, VideoFile
from studio.timeline.assemble import frame_recipe, shot_spans
from studio.timeline.limits import check_cut_length
from studio.timeline.model import Timeline, TimelineError

TIMELINE_TAG = "studio_timeline"
FITS = ("letterbox", "scale")


class _ShotFrames:
    """Decoded shots, a few at a time (the recipe walks them in order)."""

    def __init__(self, timeline: Timeline, keep: int = 3) -> None:
        self.shots = timeline.shots()
        self.rate = timeline.rate
        self._cache: OrderedDict[int, tuple[Frames, Audio | None]] = OrderedDict()
        self._keep = keep

    def clip(self, index: int) -> tuple[Frames, Audio | None]:
        from studio.media.video_io import read_video

        if index not in self._cache:
            self._cache[index] = read_video(self.shots[index].path, sample_rate=48000)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        self._cache.move_to_end(index)
        return self._cache[index]

    def frame(self, index: int, frame: int) -> Any:
        """Frame ``frame`` (counted at the timeline's rate) of shot ``index``'s file."""
        frames, _ = self.clip(index)
        source = int(frame * frames.fps / self.rate + 1e-6)
        return frames.array[min(max(source, 0), frames.count - 1)]


def fit_frame(frame: Any, width: int, height: int, fit: str) -> Any:
    """Resize one RGB frame to ``width``x``height``: stretched, or scaled to fit with black bars."""
    import cv2
    import numpy as np

    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    if fit == "scale":
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if w > width else cv2.INTER_LINEAR)
    factor = min(width / w, height / h)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out


def film_frames(
    timeline: Timeline, width: int, height: int, fit: str = "letterbox", source: _ShotFrames | None = None
) -> Iterator[Any]:
    """The film's frames in order, uint8 RGB ``[height, width, 3]``."""
    import numpy as np

    source = source or _ShotFrames(timeline)
    black = np.zeros((height, width, 3), np.uint8)
    for layers in frame_recipe(timeline):
        if not layers:
            yield black
        elif len(layers) == 1:
            yield fit_frame(source.frame(layers[0].shot, layers[0].frame), width, height, fit)
        else:
            mix = np.zeros((height, width, 3), np.float32)
            for layer in layers:
                mix += layer.weight * fit_frame(source.frame(layer.shot, layer.frame), width, height, fit)
            yield np.clip(mix + 0.5, 0, 255).astype(np.uint8)


def film_audio(timeline: Timeline, source: _ShotFrames, sample_rate: int = 48000) -> Audio | None:
    """Shot sound (cross-faded through dissolves) plus the soundtrack with its gain and fades."""
    import numpy as np

    from studio.media.audio_io import read_audio

    rate = timeline.rate
    total = int(round(timeline.duration() / rate * sample_rate))
    mix = np.zeros((2, total), np.float32)
    heard = False
    for span in shot_spans(timeline):
        _, audio = source.clip(span.shot)
        if audio is None:
            continue
        heard = True
        wave = _stereo(audio.waveform)
        start = int(round(span.source_start / rate * sample_rate))
        length = int(round((span.film_end - span.film_start) / rate * sample_rate))
        piece = wave[:, max(start, 0) : max(start, 0) + length]
        gain = np.ones(piece.shape[1], np.float32)
        head = _handle(timeline, span.shot, before=True) / rate * sample_rate
        tail = _handle(timeline, span.shot, before=False) / rate * sample_rate
        if head >= 1:
            n = min(int(head), gain.size)
            gain[:n] = np.linspace(0.0, 1.0, n, dtype=np.float32)
        if tail >= 1:
            n = min(int(tail), gain.size)
            gain[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
        at = int(round(span.film_start / rate * sample_rate))
        end = min(total, at + piece.shape[1])
        if end > at >= 0:
            mix[:, at:end] += piece[:, : end - at] * gain[: end - at]
    track = timeline.soundtrack()
    if track is not None:
        music = read_audio(track["path"], sample_rate)
        wave = _stereo(music.waveform)[:, :total] * np.float32(10 ** (float(track.get("gain_db", 0.0)) / 20))
        for seconds, ramp in ((track.get("fade_in", 0.0), (0.0, 1.0)), (track.get("fade_out", 0.0), (1.0, 0.0))):
            n = min(int(round(float(seconds) * sample_rate)), wave.shape[1])
            if n > 0:
                part = slice(0, n) if ramp[0] == 0.0 else slice(wave.shape[1] - n, wave.shape[1])
                wave[:, part] *= np.linspace(*ramp, n, dtype=np.float32)
        mix[:, : wave.shape[1]] += wave
        heard = True
    if not heard:
        return None
    np.clip(mix, -1.0, 1.0, out=mix)
    return Audio(mix, sample_rate)


def render_film(
    timeline: Timeline,
    path: str | Path,
    *,
    width: int,
    height: int,
    fit: str = "letterbox",
    codec: str = "h264",
    crf: int = 18,
    progress: Callable[[int, int], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> VideoFile:
    """Write the cut to ``path`` (atomically: a cancel or failure leaves nothing behind)."""
    from studio.files import atomic_path
    from studio.media.video_io import VideoWriter, probe_video

    if fit not in FITS:
        raise TimelineError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if width < 16 or height < 16 or width > 8192 or height > 8192:
        raise TimelineError(f"film size must be between 16 and 8192 pixels a side, got {width}x{height}")
    if not len(timeline):
        raise TimelineError("the timeline has no shots to render")
    # before any buffer is sized by it (the soundtrack mix holds the whole film's samples)
    check_cut_length(timeline.duration(), timeline.rate)
    offline = timeline.offline_shots()
    if offline:
        names = ", ".join(f"{s.name} ({s.path})" for s in offline)
        raise TimelineError(f"cannot render: {len(offline)} shot(s) are offline: {names}")
    source = _ShotFrames(timeline)
    audio = film_audio(timeline, source)
    total = timeline.duration()
    with atomic_path(path) as tmp:
        with VideoWriter(
            tmp,
            width=width,
            height=height,
            fps=timeline.rate,
            codec=codec,
            crf=crf,
            audio=audio,
            metadata={TIMELINE_TAG: timeline.to_json()},
        ) as writer:
            for index, frame in enumerate(film_frames(timeline, width, height, fit, source)):
                if check_cancelled is not None:
                    check_cancelled()
                writer.write(frame)
                if progress is not None:
                    progress(index + 1, total)
    return probe_video(path)


def _stereo(wave: Any) -> Any:
    import numpy as np

    wave = np.asarray(wave, np.float32)
    return np.repeat(wave[:1], 2, axis=0) if wave.shape[0] == 1 else wave[:2]


def _handle(timeline: Timeline, shot: int, before: bool) -> int:
    for index, in_off, out_off in timeline.transitions():
        if before and index == shot - 1:
            return in_off + out_off
        if not before and index == shot:
            return in_off + out_off
    return 0
