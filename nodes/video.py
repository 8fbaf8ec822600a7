"""Output nodes: SaveVideo writes an encoded file carrying its graph; PreviewVideo shows frames in the app."""

from __future__ import annotations

from pathlib import Path

from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.media.types import Audio, Frames
from studio.nodeapi import NodeError, graph_metadata, write_numbered


@node_type(
    "SaveVideo",
    category="Output",
    description="Encode frames (and audio) to a video file in the output folder; the file carries its graph.",
    inputs=[InputSpec("frames", t.FRAMES), InputSpec("audio", t.AUDIO, optional=True)],
    params=[
        ParamSpec(
            "filename_prefix", t.STRING, "studio", doc="name inside the output folder; subfolders allowed, '..' is not"
        ),
        ParamSpec("fps", t.FLOAT, 0.0, min=0.0, max=240.0, doc="frames per second; 0 keeps the frames' own rate"),
        ParamSpec("codec", t.CHOICE, "h264", choices=("h264", "h265", "vp9", "av1", "prores")),
        ParamSpec("crf", t.INT, 18, min=0, max=63, doc="quality: lower is better and larger"),
    ],
    outputs=[OutputSpec("video", t.VIDEO)],
    output=True,
)
def save_video(
    ctx, *, frames: Frames, audio: Audio | None, filename_prefix: str, fps: float, codec: str, crf: int
) -> dict:
    from studio.media.errors import MediaError
    from studio.media.video_io import CODECS, probe_video, write_video

    spec = CODECS[codec]
    if frames.count == 0:
        raise NodeError("frames: the clip has no frames to save")
    if fps:
        frames = Frames(frames.array, fps)
    metadata = graph_metadata(ctx)

    def write(tmp: Path) -> None:
        write_video(
            tmp,
            frames,
            codec=codec,
            crf=crf,
            audio=audio,
            metadata=metadata,
            check_cancelled=ctx.check_cancelled,
            progress=ctx.progress,
        )

    try:
        target = write_numbered(ctx, filename_prefix, spec.suffix, write)
    except (MediaError, av_errors()) as exc:
        raise NodeError(f"codec {codec}: encoding failed ({exc})") from None
    return {"video": probe_video(target)}


def av_errors() -> type[Exception]:
    import av

    return av.error.FFmpegError


@node_type(
    "PreviewVideo",
    category="Output",
    description="Show frames in the app's viewer without writing a file.",
    inputs=[InputSpec("frames", t.FRAMES)],
    output=True,
)
def preview_video(ctx, *, frames: Frames) -> dict:
    return {"frames": frames}
