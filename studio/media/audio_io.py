"""Audio over PyAV: decode any container's audio track, fit a waveform to a length, encode it
interleaved with video.

Waveforms are float32 ``[channels, samples]`` (see :class:`studio.media.types.Audio`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from studio.media.errors import MediaError
from studio.media.limits import BoundedArray, memory_budget
from studio.media.types import Audio

FITS = ("trim", "pad", "loop")
MAX_SAMPLE_RATE = 384_000


def read_audio(path: str | Path, sample_rate: int = 0, *, max_bytes: int | None = None) -> Audio:
    """Decode the first audio track of ``path`` (any container PyAV reads, video files too).

    ``sample_rate`` 0 keeps the file's rate; otherwise the audio is resampled to it. The
    waveform may take at most ``max_bytes`` (default: :func:`~studio.media.limits.memory_budget`).
    Raises :class:`MediaError` for a missing, unreadable or audio-less file, and for one that
    would decode past that limit.
    """

    path = Path(path)
    if sample_rate < 0 or sample_rate > MAX_SAMPLE_RATE:
        raise MediaError(f"sample rate must be between 0 (keep) and {MAX_SAMPLE_RATE}, got {sample_rate}")
    container = open_media(path)
    with container:
        if not container.streams.audio:
            raise MediaError(f"{path.name} has no audio track")
        stream = container.streams.audio[0]
        return decode_audio_stream(container, stream, path, sample_rate, max_bytes=max_bytes)


def open_media(path: Path) -> Any:
    """Open ``path`` for reading with PyAV, turning every failure into a :class:`MediaError`."""
    import av

    if not path.exists():
        raise MediaError(f"file not found: {path}")
    if not path.is_file():
        raise MediaError(f"not a file: {path}")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot read {path.name}: not a media file or damaged ({_reason(exc)})") from None


def decode_audio_stream(
    container: Any,
    stream: Any,
    path: Path,
    sample_rate: int,
    *,
    max_bytes: int | None = None,
    until: float | None = None,
    hint: str = "",
) -> Audio:
    """Decode ``stream`` of an open ``container`` to float32 ``[channels, samples]``.

    At most ``max_bytes`` (default: the media budget) are decoded; ``until`` seconds, when
    given, ends the waveform there. ``hint`` is added to the error for going past the limit.
    """
    import av
    import numpy as np

    rate = sample_rate or stream.rate or stream.codec_context.sample_rate
    if not rate:
        raise MediaError(f"{path.name}: the audio track has no sample rate")
    channels = stream.codec_context.channels or 2
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else None
    # Planar float output gives [channels, samples] rows directly; the resampler also converts rate.
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    samples = _audio_array(container, stream, path, rate, channels, max_bytes, until, hint or _rate_hint(sample_rate))
    stop = round(until * rate) if until is not None else 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                samples.extend(out.to_ndarray())
            if stop and samples.length >= stop:
                break
        else:
            for out in resampler.resample(None):
                samples.extend(out.to_ndarray())
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode the audio of {path.name}: damaged or truncated ({_reason(exc)})") from None
    if not samples.length:
        raise MediaError(f"{path.name}: the audio track holds no samples (empty or truncated)")
    if stop:
        samples.keep(stop)
    wave = samples.take()
    np.clip(wave, -1.0, 1.0, out=wave)
    return Audio(wave, int(rate))


def _audio_array(
    container: Any,
    stream: Any,
    path: Path,
    rate: int,
    channels: int,
    max_bytes: int | None,
    until: float | None,
    hint: str,
) -> BoundedArray:
    """The waveform's array, sized from the track's duration where the file gives one."""
    import numpy as np

    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    else:
        seconds = (container.duration or 0) / 1_000_000
    if until is not None:
        seconds = min(seconds, until) if seconds > 0 else until
    return BoundedArray(
        path,
        item_shape=(),
        dtype=np.float32,
        planes=channels,
        limit=memory_budget() if max_bytes is None else max_bytes,
        capacity=math.ceil(seconds * rate) if seconds > 0 else rate,
        guess=seconds <= 0,  # a second to start with, when the file does not say how long it is
        describe=lambda n: f"{n / rate:,.2f} s of {channels}-channel audio at {rate} Hz",
        hint=hint,
    )


def _rate_hint(sample_rate: int) -> str:
    return f"a sample_rate lower than {sample_rate} needs less" if sample_rate else ""


def fit_audio(audio: Audio, duration: float, *, offset: float = 0.0, fit: str = "pad", fade_out: float = 0.0) -> Audio:
    """Place ``audio`` on a timeline of ``duration`` seconds.

    ``offset`` > 0 delays the audio (silence before it), < 0 skips its start. ``fit``: ``trim``
    cuts what runs past the end and leaves shorter audio short; ``pad`` also fills with silence
    to exactly ``duration``; ``loop`` repeats the audio to fill. ``fade_out`` seconds fade the
    end of what remains linearly to silence.
    """
    import numpy as np

    if fit not in FITS:
        raise MediaError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if duration <= 0:
        raise MediaError(f"duration must be positive, got {duration}")
    rate = audio.sample_rate
    wave = np.asarray(audio.waveform, dtype=np.float32)
    want = int(round(duration * rate))
    shift = int(round(offset * rate))
    if shift < 0:
        wave = wave[:, min(-shift, wave.shape[1]) :]
    if fit == "loop" and wave.shape[1] > 0:
        room = max(want - max(shift, 0), 0)
        if wave.shape[1] < room:
            wave = np.tile(wave, (1, -(-room // wave.shape[1])))
    if shift > 0:
        wave = np.concatenate([np.zeros((wave.shape[0], shift), np.float32), wave], axis=1)
    wave = wave[:, :want]
    if fit in ("pad", "loop") and wave.shape[1] < want:
        wave = np.pad(wave, ((0, 0), (0, want - wave.shape[1])))
    wave = np.array(wave, dtype=np.float32)  # own the memory before fading in place
    fade = min(int(round(fade_out * rate)), wave.shape[1])
    if fade > 0:
        wave[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return Audio(wave, rate)


def encoder_rate(encoder: str, rate: int) -> int:
    """The sample rate ``encoder`` will be fed: Opus takes only a few rates, 48 kHz is its own."""
    if encoder == "libopus":
        return 48000
    if encoder == "aac" and rate > 96000:
        return 48000
    return rate


class AudioFeed:
    """Encodes a waveform into an output stream a slice at a time, so audio packets interleave
    with video packets as the video is written (one pass, no whole-file buffering in the muxer)."""

    CHUNK = 4096

    def __init__(self, container: Any, stream: Any, audio: Audio) -> None:
        import av
        import numpy as np

        self.container = container
        self.stream = stream
        wave = np.asarray(audio.waveform, dtype=np.float32)
        self.channels = 2 if wave.shape[0] >= 2 else 1
        # Keep the first two channels: every target container takes mono or stereo.
        self.wave = np.ascontiguousarray(wave[: self.channels])
        self.rate = audio.sample_rate
        self.layout = "stereo" if self.channels == 2 else "mono"
        self.resampler = av.AudioResampler(format=stream.format.name, layout=self.layout, rate=stream.rate)
        self.done = 0

    def feed_until(self, seconds: float) -> None:
        """Encode samples up to ``seconds`` into the stream (and mux the packets)."""
        end = min(int(round(seconds * self.rate)), self.wave.shape[1])
        while self.done < end:
            stop = min(self.done + self.CHUNK, end)
            self._encode(self.wave[:, self.done : stop], self.done)
            self.done = stop

    def finish(self, duration: float | None = None) -> None:
        """Encode what is left (trimmed or silence-padded to ``duration`` seconds when given)
        and flush the resampler and the encoder."""
        import numpy as np

        if duration is not None:
            want = int(round(duration * self.rate))
            if want > self.wave.shape[1]:
                self.wave = np.pad(self.wave, ((0, 0), (0, want - self.wave.shape[1])))
            self.wave = self.wave[:, :want]
        self.feed_until(self.wave.shape[1] / self.rate)
        for packet in self._packets(self.resampler.resample(None)):
            self.container.mux(packet)
        for packet in self.stream.encode():
            self.container.mux(packet)

    def _encode(self, piece: Any, pts: int) -> None:
        import av
        import numpy as np

        # Packed float: interleave the channels into one row, as PyAV's "flt" layout expects.
        packed = np.ascontiguousarray(piece.T.reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=self.layout)
        frame.sample_rate = self.rate
        frame.pts = pts
        for packet in self._packets(self.resampler.resample(frame)):
            self.container.mux(packet)

    def _packets(self, frames: list[Any]) -> Iterator[Any]:
        for frame in frames:
            yield from self.stream.encode(frame)


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() if ":" in text and len(text) > 80 else text
