"""Video encoding, decoding and probing over PyAV, with the graph embedded in the container metadata.

PyAV gives us libx264/x265/vpx/svtav1/prores in-process; the app never shells out to ffmpeg.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from studio.media.audio_io import AudioFeed, _reason, decode_audio_stream, encoder_rate, open_media
from studio.media.errors import MediaError
from studio.media.limits import BoundedArray, check_picture, memory_budget, size_text, too_big
from studio.media.types import Audio, Frames, VideoFile

GRAPH_TAG = "studio_graph"  # the metadata key holding the graph JSON
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")


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
CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}


def frame_rate(fps: float) -> Fraction:
    """An exact rational rate for ``fps``; NTSC rates (23.976, 29.97, 59.94) become n*1000/1001."""
    ntsc = round(fps * 1.001)
    if ntsc % 6 == 0 and abs(fps - ntsc / 1.001) < 1e-3 and abs(fps - ntsc) > 1e-2:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


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
    """Encode ``frames`` (and ``audio``, trimmed or silence-padded to the video's length) into ``path``.

    The caller handles atomicity (see :func:`studio.files.atomic_path`).
    """
    total = frames.count
    with VideoWriter(
        path,
        width=frames.width,
        height=frames.height,
        fps=frames.fps,
        codec=codec,
        crf=crf,
        audio=audio,
        metadata=metadata,
    ) as writer:
        for index in range(total):
            if check_cancelled is not None:
                check_cancelled()
            writer.write(frames.array[index])
            if progress is not None:
                progress(index + 1, total)


class VideoWriter:
    """Encode frames one at a time (memory stays bounded), with audio muxed in the same pass.

    Audio is interleaved as the video advances and, on close, trimmed or silence-padded to the
    video's length. Odd frame sizes are padded by one edge pixel, as 4:2:0 and 4:2:2 need even
    sizes. Use as a context manager; the caller handles atomicity (:func:`studio.files.atomic_path`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float,
        codec: str = "h264",
        crf: int = 18,
        audio: Audio | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        import av
        import numpy as np

        if codec not in CODECS:
            raise MediaError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
        spec = CODECS[codec]
        self.rate = frame_rate(fps)
        self.size = (height, width)
        self.count = 0
        self._frame = np.empty((height + height % 2, width + width % 2, 3), np.uint8)
        self._direct_yuv = spec.pixel_format == "yuv420p"
        if spec.encoder == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints a banner to stderr otherwise; keep errors
        options = {"movflags": "use_metadata_tags"} if spec.suffix in (".mp4", ".mov") else {}
        self.container = av.open(str(path), mode="w", format=CONTAINER_FORMATS[spec.suffix], options=options)
        try:
            for key, value in (metadata or {}).items():
                self.container.metadata[key] = value
            stream = self.container.add_stream(spec.encoder, rate=self.rate, options=_encoder_options(spec, crf))
            stream.height, stream.width = self._frame.shape[:2]
            stream.pix_fmt = spec.pixel_format
            stream.time_base = 1 / self.rate
            stream.codec_context.time_base = 1 / self.rate
            if spec.encoder == "libx265":
                stream.codec_tag = "hvc1"  # lets Apple players open HEVC in mp4
            self.stream = stream
            self.feed = None
            if audio is not None:
                layout = "stereo" if audio.channels >= 2 else "mono"
                rate = encoder_rate(spec.audio_encoder, audio.sample_rate)
                audio_stream = self.container.add_stream(spec.audio_encoder, rate=rate)
                audio_stream.layout = layout
                audio_stream.bit_rate = 192_000 if layout == "stereo" else 96_000
                self.feed = AudioFeed(self.container, audio_stream, audio)
        except BaseException:
            self.container.close()
            raise

    def write(self, image: Any) -> None:
        """Append one uint8 RGB frame ``[height, width, 3]``."""
        import av
        import cv2

        height, width = self.size
        if getattr(image, "shape", None) != (height, width, 3) or str(image.dtype) != "uint8":
            raise MediaError(
                f"frames must be uint8 [{height}, {width}, 3], got {getattr(image, 'dtype', '?')} {getattr(image, 'shape', None)}"
            )
        frame = self._frame
        frame[:height, :width] = image
        if frame.shape[0] != height:
            frame[-1, :width] = image[-1]
        if frame.shape[1] != width:
            frame[:, -1] = frame[:, -2]
        # OpenCV's RGB->I420 (BT.601 limited range, as swscale's default) is several times faster
        # than PyAV's per-frame reformat, which would otherwise dominate the encode time.
        if self._direct_yuv:
            video_frame = av.VideoFrame.from_ndarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        else:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts = self.count
        for packet in self.stream.encode(video_frame):
            self.container.mux(packet)
        self.count += 1
        if self.feed is not None:
            self.feed.feed_until(float(self.count / self.rate))

    def close(self) -> None:
        """Flush the encoders (audio fitted to the frames written) and finish the file."""
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            if self.feed is not None:
                self.feed.finish(float(self.count / self.rate))
        finally:
            self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.container.close()  # a failed or cancelled file is the caller's to delete


def _encoder_options(spec: Codec, crf: int) -> dict[str, str]:
    opts: dict[str, str] = {}
    if spec.crf_option:
        opts[spec.crf_option] = str(crf)
    if spec.encoder == "libx264":
        # The same frames must give the same file. Without this, x264's macroblock-tree rate
        # control took a SIMD path that made 9 of 10 encodes of the same 96 frames differ (in
        # pixels, up to 44 levels), threaded or not; with it every encode matched, about 20%
        # slower to encode (a small share of a render).
        opts["x264-params"] = "cpu-independent=1"
    if spec.encoder == "libx265":
        opts["x265-params"] = "log-level=error"
    if spec.encoder == "libvpx-vp9":
        opts.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})  # constant quality, usable speed
    if spec.encoder == "libsvtav1":
        opts["preset"] = "8"
    if spec.encoder == "prores_ks":
        opts["profile"] = "2"  # ProRes 422 (standard); crf does not apply
    return opts


def read_video(
    path: str | Path,
    *,
    max_frames: int = 0,
    sample_rate: int = 0,
    max_bytes: int | None = None,
    check_cancelled: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Frames, Audio | None]:
    """Decode ``path`` to uint8 RGB frames and its first audio track (None when it has none).

    ``max_frames`` 0 reads every frame. Frames and audio together may take at most ``max_bytes``
    (default: :func:`~studio.media.limits.memory_budget`). Raises :class:`MediaError` for a
    missing, unreadable or truncated file, and for one that would decode past that limit.
    """
    path = Path(path)
    limit = memory_budget() if max_bytes is None else max_bytes
    container = open_media(path)
    with container:
        if not container.streams.video:
            raise MediaError(f"{path.name} has no video track")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 24.0
        pixels = _decode_frames(container, stream, path, max_frames, limit, check_cancelled, progress)
        clip = Frames(pixels, fps)
        audio = None
        if container.streams.audio:
            container.seek(0)
            audio = decode_audio_stream(
                container,
                container.streams.audio[0],
                path,
                sample_rate,
                max_bytes=max(limit - clip.nbytes, 0),
                until=clip.duration if max_frames else None,
                hint=f"that is what the frames ({size_text(clip.nbytes)}) leave of {size_text(limit)}; "
                "set max_frames to read fewer",
            )
        return clip, audio


def _decode_frames(
    container: Any,
    stream: Any,
    path: Path,
    max_frames: int,
    limit: int,
    check_cancelled: Callable[[], None] | None,
    progress: Callable[[int, int], None] | None,
) -> Any:
    """The frames of ``stream`` as one uint8 ``[F, H, W, 3]`` array, filled in place within ``limit`` bytes."""
    import av

    hint = "set max_frames to read part of it"
    width, height = stream.codec_context.width, stream.codec_context.height
    check_picture(path, width, height)
    # Counting packets reads no pixels, and there is one per frame for nearly every codec: it
    # sizes the array exactly, and refuses a clip too long for the limit before decoding any of it.
    if width and height:
        most = limit // (width * height * 3)
        count = _count_packets(path, min(max_frames, most + 1) if max_frames else most + 1)
        if count > most:
            needed = count * width * height * 3
            what = f"at least {_frames_text(count, width, height)}"
            raise too_big(path, needed, limit, what, at_least=True, hint=hint)
    else:  # the size shows with the first frame; the array then checks the count
        count = _count_packets(path, max_frames)
    wanted = min(count, max_frames) if max_frames else count
    declared = int(stream.frames or 0)
    frames: BoundedArray | None = None
    try:
        for frame in container.decode(stream):
            if check_cancelled is not None:
                check_cancelled()
            if frames is None:
                frames = _frame_array(path, frame.width, frame.height, limit, wanted, hint)
            frames.extend(frame.to_ndarray(format="rgb24")[None])
            if progress is not None and wanted:
                progress(min(frames.length, wanted), wanted)
            if max_frames and frames.length >= max_frames:
                break
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode {path.name}: damaged or truncated ({_reason(exc)})") from None
    if frames is None or not frames.length:
        raise MediaError(f"{path.name}: no frame could be decoded (empty, damaged or truncated)")
    # Containers that index every frame (mp4, mov) say how many there are; a shortfall means
    # the data ends early, which decoders otherwise pass over silently.
    if declared and not max_frames and frames.length < declared - 1:
        raise MediaError(f"{path.name} is truncated: it declares {declared} frames but only {frames.length} decode")
    return frames.take()


def _frame_array(path: Path, width: int, height: int, limit: int, capacity: int, hint: str) -> BoundedArray:
    import numpy as np

    check_picture(path, width, height)
    return BoundedArray(
        path,
        item_shape=(height, width, 3),
        dtype=np.uint8,
        limit=limit,
        capacity=capacity,
        describe=lambda n: _frames_text(n, width, height),
        hint=hint,
    )


def _frames_text(count: int, width: int, height: int) -> str:
    return f"{count} frame{'s' if count != 1 else ''} of {width}×{height}"


def _count_packets(path: Path, stop: int) -> int:
    """Video packets in ``path``, counting no further than ``stop`` (0: all of them)."""
    import av

    count = 0
    with open_media(path) as container:
        try:
            for packet in container.demux(container.streams.video[0]):
                if packet.size:
                    count += 1
                    if count == stop:
                        break
        except av.error.FFmpegError:
            pass  # a damaged tail: decoding reports it with the reason
    return count


def probe_video(path: str | Path) -> VideoFile:
    """Open a video file and read its facts (duration, fps, size, frames, audio)."""
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path.name} has no video track")
        video = container.streams.video[0]
        fps = float(video.average_rate or video.guessed_rate or 0) or 0.0
        frames = video.frames
        if not frames:
            frames = sum(1 for _ in container.demux(video) if _.size)  # count packets when not stored
        if video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        elif frames and fps:
            duration = frames / fps
        else:
            duration = (container.duration or 0) / 1_000_000
        return VideoFile(
            path=path,
            duration=duration,
            fps=fps,
            width=video.codec_context.width,
            height=video.codec_context.height,
            frame_count=int(frames),
            has_audio=bool(container.streams.audio),
            codec=video.codec_context.name,
        )


def read_embedded_graph_text(path: str | Path) -> str | None:
    """The graph JSON text in a rendered file's metadata, or None when there is none (or the file is unreadable).

    Parse it with ``studio.graph.loads_graph(text, source=str(path))``: an embedded graph gets
    exactly the loader and the limits a graph file gets (size, NaN, nesting, node count).
    """
    for key, value in read_tags(path).items():
        if key.lower() == GRAPH_TAG:
            return value
    return None


def read_tags(path: str | Path) -> dict[str, str]:
    """Container metadata of ``path`` (stream tags fill in keys the container lacks); {} if unreadable."""
    import av

    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            for stream in container.streams:
                tags.update({k: v for k, v in stream.metadata.items() if k not in tags})
    except (av.error.FFmpegError, OSError):
        return {}
    return tags
