"""Upscale: resample frames with OpenCV, or run an ESRGAN-family model the user supplies."""

from __future__ import annotations

from nodes import frames_memory
from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.media.types import Frames
from studio.nodeapi import NodeError

MAX_PIXELS = 8192 * 8192  # per output frame


@node_type(
    "Upscale",
    category="Video",
    estimate=frames_memory.upscale,
    description="Enlarge frames with Lanczos or bicubic resampling, or an upscaling model (ESRGAN family).",
    inputs=[InputSpec("frames", t.FRAMES)],
    params=[
        ParamSpec("method", t.CHOICE, "lanczos", choices=("lanczos", "bicubic", "model")),
        ParamSpec("scale", t.FLOAT, 2.0, min=0.25, max=8.0, doc="output size as a multiple of the input"),
        ParamSpec(
            "model_path",
            t.PATH,
            "",
            file_types=(".safetensors", ".pth"),
            doc="upscaling model weights (method 'model'); .safetensors preferred, .pth loaded without code",
            model_kinds=("upscaler",),
        ),
    ],
    outputs=[OutputSpec("frames", t.FRAMES)],
)
def upscale(ctx, *, frames: Frames, method: str, scale: float, model_path: str) -> dict:
    from studio.media.errors import MediaError
    from studio.media.upscale import load_upscale_model, resize_frames, target_size, upscale_with_model

    out_w, out_h = target_size(frames.width, frames.height, scale)
    if out_w * out_h > MAX_PIXELS:
        raise NodeError(f"scale: {scale} would make {out_w}x{out_h} frames, larger than 8192x8192")
    if method != "model":
        return {
            "frames": Frames(
                resize_frames(frames.array, scale, method, check_cancelled=ctx.check_cancelled), frames.fps
            )
        }
    if not model_path.strip():
        raise NodeError("model_path: method 'model' needs an upscaling model file (.safetensors or .pth)")
    try:
        model = load_upscale_model(model_path, ctx.device)
        array = upscale_with_model(
            frames.array, model, scale, check_cancelled=ctx.check_cancelled, progress=ctx.progress
        )
    except MediaError as exc:
        raise NodeError(f"model_path: {exc}") from None
    return {"frames": Frames(array, frames.fps)}
