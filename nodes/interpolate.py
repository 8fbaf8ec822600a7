"""Interpolate: raise the frame rate with motion-compensated in-between frames."""

from __future__ import annotations

from nodes import frames_memory
from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.media.types import Frames
from studio.nodeapi import NodeError


@node_type(
    "Interpolate",
    category="Video",
    estimate=frames_memory.interpolate,
    description="Multiply the frame rate: flow-warped in-betweens (never across a scene cut), or a cross-fade.",
    inputs=[InputSpec("frames", t.FRAMES)],
    params=[
        ParamSpec("multiplier", t.INT, 2, min=2, max=4, doc="frames out per frame in (2, 3 or 4)"),
        ParamSpec(
            "method", t.CHOICE, "flow", choices=("flow", "blend"), doc="flow: motion-compensated; blend: cross-fade"
        ),
    ],
    outputs=[OutputSpec("frames", t.FRAMES)],
)
def interpolate(ctx, *, frames: Frames, multiplier: int, method: str) -> dict:
    from studio.media.interpolate import interpolate_frames

    factor = multiplier
    fps = frames.fps * factor
    if fps > 1000:
        raise NodeError(f"multiplier: {frames.fps:g} fps x {factor} = {fps:g} fps, above the 1000 fps limit")
    array = interpolate_frames(frames.array, factor, method, check_cancelled=ctx.check_cancelled, progress=ctx.progress)
    return {"frames": Frames(array, fps)}
