"""Video encoding and probing over PyAV, with the graph embedded in the container metadata.

PyAV gives us libx264/x265/vpx/svtav1/prores in-process; the app never shells out to ffmpeg.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from studio.media.types import Audio, Frames, VideoFile

GRAPH_TAG = "studio_graph"  # the metadata key holding the graph JSON


@dataclass(frozen=True)
class Codec:
    name: str  # our name, used in graph files
    encoder: str  # the libav encoder
    suffix: str  # container by file suffix
    pixel_format: str
    audio_encoder: str
    crf_option: str | None = "crf"


CODECS: dict[str, Codec] = {
    "h264": Codec("h264", "libx264", ".mp4", "yuv420p", "aac"),
    "h265": Codec("h265", "libx265", ".mp4", "yuv420p", "aac"),
    "vp9": Codec("vp9", "libvpx-vp9", ".webm", "yuv420p", "libopus"),
    "av1": Codec("av1", "libsvtav1", ".mkv", "yuv420p", "libopus"),
    "prores": Codec("prores", "prores_ks", ".mov", "yuv422p10le", "aac", crf_option=None),
}


def write_video(
    path: str | Path,
    frames: Frames,
    *,
    codec: str = "h264",
    crf: int = 18,
    audio: Audio | None = None,
    metadata: dict[str, str] | None = None,
    check_cancelled: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Encode ``frames`` (and ``audio``, fitted to the video's length) into ``path``.

    Odd frame sizes are padded by one edge pixel, as yuv420p needs even sizes. The caller
    handles atomicity (see :func:`studio.files.atomic_path`).
    """
    import av
    import numpy as np

    spec = CODECS[codec]
    fps = Fraction(frames.fps).limit_denominator(1001)
    array = frames.array
    pad_h, pad_w = array.shape[1] % 2, array.shape[2] % 2
    if pad_h or pad_w:
        array = np.pad(array, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    options = {"movflags": "use_metadata_tags"} if spec.suffix in (".mp4", ".mov") else {}
    with av.open(str(path), mode="w", format=_format_for(spec.suffix), options=options) as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        stream = container.add_stream(spec.encoder, rate=fps)
        stream.width = array.shape[2]
        stream.height = array.shape[1]
        stream.pix_fmt = spec.pixel_format
        stream.time_base = 1 / fps
        stream.codec_context.time_base = 1 / fps
        opts: dict[str, str] = {}
        if spec.crf_option:
            opts[spec.crf_option] = str(crf)
        if spec.encoder == "libx265":
            opts["x265-params"] = "log-level=error"
            stream.codec_tag = "hvc1"
        if spec.encoder == "libvpx-vp9":
            opts["b"] = "0"
        stream.options = opts
        audio_stream = None
        if audio is not None:
            audio_stream = container.add_stream(spec.audio_encoder, rate=_audio_rate(spec, audio.sample_rate))
            audio_stream.layout = "stereo" if audio.channels >= 2 else "mono"
        total = array.shape[0]
        for index in range(total):
            if check_cancelled is not None:
                check_cancelled()
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array[index]), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
            if progress is not None:
                progress(index + 1, total)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            _encode_audio(container, audio_stream, audio, total / float(fps))


def _format_for(suffix: str) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}[suffix]


def _audio_rate(spec: Codec, rate: int) -> int:
    if spec.audio_encoder == "libopus":
        return 48000  # Opus only takes a few rates; 48 kHz is its native one
    return rate


def _encode_audio(container: Any, stream: Any, audio: Audio, duration: float) -> None:
    """Encode ``audio`` trimmed or zero-padded to ``duration`` seconds."""
    import av
    import numpy as np

    wave = np.asarray(audio.waveform, dtype=np.float32)
    channels = 2 if audio.channels >= 2 else 1
    wave = wave[:channels]
    want = int(round(duration * audio.sample_rate))
    if wave.shape[1] >= want:
        wave = wave[:, :want]
    else:
        wave = np.pad(wave, ((0, 0), (0, want - wave.shape[1])))
    layout = "stereo" if channels == 2 else "mono"
    resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=stream.rate)
    chunk = 4096
    pts = 0
    for start in range(0, wave.shape[1], chunk):
        piece = np.ascontiguousarray(
            wave[:, start : start + chunk].reshape(1, -1)
            if channels == 1
            else wave[:, start : start + chunk].T.reshape(1, -1)
        )
        frame = av.AudioFrame.from_ndarray(piece, format="flt", layout=layout)
        frame.sample_rate = audio.sample_rate
        frame.pts = pts
        pts += piece.shape[1] // channels
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                container.mux(packet)
    for resampled in resampler.resample(None):
        for packet in stream.encode(resampled):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def probe_video(path: str | Path) -> VideoFile:
    """Open a video file and read its facts (duration, fps, size, frames, audio)."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        fps = float(video.average_rate or video.guessed_rate or 0) or 0.0
        frames = video.frames
        if not frames:
            frames = sum(1 for _ in container.demux(video) if _.size)  # count packets when not stored
        if container.duration:
            duration = container.duration / 1_000_000
        elif video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        else:
            duration = frames / fps if fps else 0.0
        return VideoFile(
            path=Path(path),
            duration=duration,
            fps=fps,
            width=video.codec_context.width,
            height=video.codec_context.height,
            frame_count=int(frames),
            has_audio=bool(container.streams.audio),
            codec=video.codec_context.name,
        )


def read_embedded_graph(path: str | Path) -> dict[str, Any] | None:
    """The graph JSON stored in a rendered file's metadata, or None when there is none."""
    import av

    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            for stream in container.streams:
                tags.update({k: v for k, v in stream.metadata.items() if k not in tags})
    except (av.error.FFmpegError, OSError):
        return None
    for key, value in tags.items():
        if key.lower() == GRAPH_TAG:
            try:
                data = json.loads(value)
            except (ValueError, RecursionError):
                return None
            return data if isinstance(data, dict) else None
    return None
