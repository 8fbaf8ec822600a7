"""Media in and out of the graph: load images, videos and audio; put audio onto a rendered video."""

from __future__ import annotations

from pathlib import Path

from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.media.types import Audio, VideoFile
from studio.nodeapi import NodeError, graph_metadata, write_numbered

_IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".exr")
_VIDEO_TYPES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif", ".mpg", ".ts")
_AUDIO_TYPES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff", ".mp4", ".mov", ".mkv", ".webm")
_RATE = dict(min=0, max=384_000, doc="samples per second to resample to; 0 keeps the file's rate")


def _need_path(ctx, path: str, what: str) -> str:
    """The file to read: as given, or (when relative and not found) a bundled resource."""
    if not path.strip():
        raise NodeError(f"path is empty: choose {what}")
    if not Path(path).expanduser().exists():
        bundled = ctx.bundled(path)
        if bundled is not None:
            return str(bundled)
    return path


@node_type(
    "LoadImage",
    category="Input",
    description="Read an image file as one RGB frame.",
    params=[ParamSpec("path", t.PATH, "", file_types=_IMAGE_TYPES, doc="image file")],
    outputs=[OutputSpec("image", t.IMAGE)],
)
def load_image(ctx, *, path: str) -> dict:
    from studio.media.errors import MediaError
    from studio.media.image_io import read_image

    try:
        return {"image": read_image(_need_path(ctx, path, "an image file"))}
    except MediaError as exc:
        raise NodeError(f"path: {exc}") from None


@node_type(
    "LoadVideo",
    category="Input",
    description="Decode a video file to frames, and its audio track when it has one.",
    params=[
        ParamSpec("path", t.PATH, "", file_types=_VIDEO_TYPES, doc="video file"),
        ParamSpec("max_frames", t.INT, 0, min=0, max=1_000_000, doc="read at most this many frames; 0 reads all"),
        ParamSpec("sample_rate", t.INT, 0, **_RATE),
    ],
    outputs=[
        OutputSpec("frames", t.FRAMES),
        OutputSpec("audio", t.AUDIO, doc="empty (None) when the file has no audio track"),
    ],
)
def load_video(ctx, *, path: str, max_frames: int, sample_rate: int) -> dict:
    from studio.media.errors import MediaError
    from studio.media.video_io import read_video

    try:
        frames, audio = read_video(
            _need_path(ctx, path, "a video file"),
            max_frames=max_frames,
            sample_rate=sample_rate,
            check_cancelled=ctx.check_cancelled,
            progress=ctx.progress,
        )
    except MediaError as exc:
        raise NodeError(f"path: {exc}") from None
    return {"frames": frames, "audio": audio}


@node_type(
    "LoadAudio",
    category="Input",
    description="Decode the audio of a sound or video file, resampled on request.",
    params=[
        ParamSpec("path", t.PATH, "", file_types=_AUDIO_TYPES, doc="audio file"),
        ParamSpec("sample_rate", t.INT, 0, **_RATE),
    ],
    outputs=[OutputSpec("audio", t.AUDIO)],
)
def load_audio(ctx, *, path: str, sample_rate: int) -> dict:
    from studio.media.audio_io import read_audio
    from studio.media.errors import MediaError

    try:
        return {"audio": read_audio(_need_path(ctx, path, "an audio file"), sample_rate)}
    except MediaError as exc:
        raise NodeError(f"path: {exc}") from None


@node_type(
    "MuxAudio",
    category="Output",
    description="Put audio onto a rendered video as a new file, copying the picture without re-encoding.",
    inputs=[InputSpec("video", t.VIDEO), InputSpec("audio", t.AUDIO)],
    params=[
        ParamSpec(
            "offset", t.FLOAT, 0.0, min=-3600.0, max=3600.0, doc="seconds to delay the audio; negative skips its start"
        ),
        ParamSpec(
            "fit",
            t.CHOICE,
            "pad",
            choices=("trim", "pad", "loop"),
            doc="trim: cut at the video's end; pad: also fill with silence; loop: repeat",
        ),
        ParamSpec("fade_out", t.FLOAT, 0.0, min=0.0, max=600.0, doc="seconds of fade to silence at the end"),
        ParamSpec("filename_prefix", t.STRING, "studio_mux", doc="name inside the output folder; '..' is not allowed"),
    ],
    outputs=[OutputSpec("video", t.VIDEO)],
)
def mux_audio_node(
    ctx, *, video: VideoFile, audio: Audio | None, offset: float, fit: str, fade_out: float, filename_prefix: str
) -> dict:
    from studio.media.errors import MediaError
    from studio.media.mux import mux_audio
    from studio.media.video_io import probe_video

    if audio is None:
        raise NodeError("audio: nothing arrived (the source has no audio track)")
    metadata = graph_metadata(ctx)  # the graph that made this file, mux step included

    def write(tmp: Path) -> None:
        mux_audio(
            video.path,
            tmp,
            audio,
            offset=offset,
            fit=fit,
            fade_out=fade_out,
            metadata=metadata,
            check_cancelled=ctx.check_cancelled,
        )

    try:
        target = write_numbered(ctx, filename_prefix, video.path.suffix.lower(), write)
    except MediaError as exc:
        raise NodeError(str(exc)) from None
    return {"video": probe_video(target)}
