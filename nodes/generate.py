"""Procedural clips that need no model: a moving test pattern and solid colours.

They make a real video from a bare install and give the engine something cheap to run.
"""

from __future__ import annotations

from studio.graph import types as t
from studio.graph.spec import OutputSpec, ParamSpec, node_type
from studio.media.types import Frames

_SIZE = dict(min=16, max=4096)


@node_type(
    "TestPattern",
    category="Generate",
    description="A moving colour-bar test pattern with a sweeping circle (no model needed).",
    params=[
        ParamSpec("width", t.INT, 256, **_SIZE, doc="frame width in pixels"),
        ParamSpec("height", t.INT, 256, **_SIZE, doc="frame height in pixels"),
        ParamSpec("frames", t.INT, 24, min=1, max=10_000, doc="number of frames"),
        ParamSpec("fps", t.FLOAT, 24.0, min=1.0, max=240.0, doc="frames per second"),
        ParamSpec("seed", t.SEED, 0, doc="changes the circle's colour and path"),
    ],
    outputs=[OutputSpec("frames", t.FRAMES)],
)
def make_test_pattern(ctx, *, width: int, height: int, frames: int, fps: float, seed: int) -> dict:
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    bars = np.array(
        [[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16], [235, 16, 235], [235, 16, 16], [16, 16, 235]],
        dtype=np.uint8,
    )
    columns = bars[(np.arange(width) * len(bars)) // width]
    background = np.broadcast_to(columns, (height, width, 3))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    radius = max(2, min(width, height) // 8)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    phase = rng.uniform(0, 2 * np.pi)
    for i in range(frames):
        ctx.check_cancelled()
        frame = out[i]
        shift = (i * max(1, width // 48)) % width
        frame[:] = np.roll(background, shift, axis=1)
        angle = phase + 2 * np.pi * i / max(frames, 1)
        cx = int(width / 2 + (width / 3) * np.cos(angle))
        cy = int(height / 2 + (height / 3) * np.sin(angle))
        cv2.circle(frame, (cx, cy), radius, colour, thickness=-1, lineType=cv2.LINE_AA)
        ctx.progress(i + 1, frames)
    return {"frames": Frames(out, fps)}


@node_type(
    "SolidColor",
    category="Generate",
    description="A clip of one solid colour.",
    params=[
        ParamSpec("width", t.INT, 256, **_SIZE),
        ParamSpec("height", t.INT, 256, **_SIZE),
        ParamSpec("frames", t.INT, 24, min=1, max=10_000),
        ParamSpec("fps", t.FLOAT, 24.0, min=1.0, max=240.0),
        ParamSpec("red", t.INT, 0, min=0, max=255),
        ParamSpec("green", t.INT, 0, min=0, max=255),
        ParamSpec("blue", t.INT, 0, min=0, max=255),
    ],
    outputs=[OutputSpec("frames", t.FRAMES)],
)
def solid_color(ctx, *, width: int, height: int, frames: int, fps: float, red: int, green: int, blue: int) -> dict:
    import numpy as np

    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    out[...] = (red, green, blue)
    return {"frames": Frames(out, fps)}
