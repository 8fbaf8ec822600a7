"""Helpers for the window tests: a previewing test sampler and graph builders."""

from __future__ import annotations

import threading

from studio.engine.context import NodeError
from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type

# Tests hold a running FakeSampler on this gate to cancel it or to queue behind it.
GATE = threading.Event()


@node_type(
    "FakeSampler",
    category="Sampling",
    description="Test sampler: denoises frames in steps, sending a video preview each step.",
    inputs=[InputSpec("frames", t.FRAMES)],
    params=[
        ParamSpec("steps", t.INT, 4, min=1, max=50, doc="denoising steps"),
        ParamSpec("seed", t.SEED, 0),
        ParamSpec("prompt", t.STRING, "a cat", multiline=True),
        ParamSpec("hold", t.BOOL, False, doc="wait for the test's gate before each step"),
        ParamSpec("fail", t.BOOL, False),
    ],
    outputs=[OutputSpec("frames", t.FRAMES)],
)
def fake_sampler(ctx, *, frames, steps, seed, prompt, hold, fail):
    from studio.media.types import Frames

    if fail:
        raise NodeError("steps must be between 1 and 200, got 0")
    ctx.status("Warming up the fake sampler…")
    for step in range(1, steps + 1):
        while hold and not GATE.wait(0.01):
            ctx.check_cancelled()
        ctx.check_cancelled()
        ctx.preview(frames.array[:, ::4, ::4], step, steps)
        ctx.progress(step, steps)
    return {"frames": Frames(frames.array, frames.fps)}


def small_graph(window, *, sampler: bool = False, hold: bool = False, steps: int = 3, fail: bool = False):
    """pattern -> [sampler ->] save, built through the window's commands."""
    from PySide6.QtCore import QPointF

    scene = window.scene
    pattern = scene.add_node("TestPattern", QPointF(0, 0))
    from studio.ui.commands import SetParamCommand

    for name, value in (("width", 64), ("height", 48), ("frames", 4)):
        scene.push(SetParamCommand(scene.graph, pattern, name, value))
    last = (pattern, "frames")
    ids = {"pattern": pattern}
    if sampler:
        node = scene.add_node("FakeSampler", QPointF(260, 0))
        for name, value in (("hold", hold), ("steps", steps), ("fail", fail)):
            scene.push(SetParamCommand(scene.graph, node, name, value))
        connect(scene, last, (node, "frames"))
        last = (node, "frames")
        ids["sampler"] = node
    save = scene.add_node("SaveVideo", QPointF(520, 0))
    connect(scene, last, (save, "frames"))
    ids["save"] = save
    return ids


def connect(scene, source, target) -> bool:
    out_port = scene.node_items[source[0]].outputs[source[1]]
    in_port = scene.node_items[target[0]].inputs[target[1]]
    return scene.connect_ports(out_port, in_port)
