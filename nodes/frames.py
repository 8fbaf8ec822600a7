"""FrameAt: one frame out of a clip, so a clip's last frame can start the next one."""

from __future__ import annotations

from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.media.types import Frames, Image
from studio.nodeapi import NodeError


@node_type(
    "FrameAt",
    category="Image",
    description="Take one frame out of a clip (negative index: from the end; -1 is the last frame).",
    inputs=[InputSpec("frames", t.FRAMES)],
    params=[ParamSpec("index", t.INT, -1, min=-1_000_000, max=1_000_000, doc="0 is the first frame, -1 the last")],
    outputs=[OutputSpec("image", t.IMAGE)],
)
def frame_at(ctx, *, frames: Frames, index: int) -> dict:
    count = int(frames.array.shape[0])
    if not -count <= index < count:
        raise NodeError(f"index {index} is outside the clip's {count} frames (use 0..{count - 1}, or -1..-{count})")
    return {"image": Image(frames.array[index].copy())}
