"""Primitive nodes: one scalar value on a wire, to drive promoted parameters of other nodes.

One Seed node wired into several samplers' promoted ``seed`` parameters keeps them in step;
one Text node can feed the same prompt to several encoders. Outputs are plain Python values,
so the engine's cache keys and byte estimates treat them like any other small output.
"""

from __future__ import annotations

from studio.graph import types as t
from studio.graph.spec import OutputSpec, ParamSpec, node_type

_CATEGORY = "Primitive"


@node_type(
    "Int",
    category=_CATEGORY,
    description="A whole number on a wire: drives promoted INT parameters (width, frames, steps…).",
    params=[ParamSpec("value", t.INT, 0, doc="the number sent on the wire")],
    outputs=[OutputSpec("value", t.INT)],
)
def int_value(ctx, *, value: int) -> dict:
    return {"value": value}


@node_type(
    "Float",
    category=_CATEGORY,
    description="A number on a wire: drives promoted FLOAT parameters (fps, cfg, denoise…).",
    params=[ParamSpec("value", t.FLOAT, 0.0, doc="the number sent on the wire")],
    outputs=[OutputSpec("value", t.FLOAT)],
)
def float_value(ctx, *, value: float) -> dict:
    return {"value": float(value)}


@node_type(
    "Text",
    category=_CATEGORY,
    description="Text on a wire: one prompt or file name for several nodes' promoted text parameters.",
    params=[ParamSpec("text", t.STRING, "", multiline=True, doc="the text sent on the wire")],
    outputs=[OutputSpec("text", t.STRING)],
)
def text_value(ctx, *, text: str) -> dict:
    return {"text": text}


@node_type(
    "Seed",
    category=_CATEGORY,
    description="A seed on a wire: one seed (fixed, randomized or incremented after each run) for several nodes.",
    params=[ParamSpec("seed", t.SEED, 0, doc="the seed sent on the wire")],
    outputs=[OutputSpec("seed", t.INT)],
)
def seed_value(ctx, *, seed: int) -> dict:
    return {"seed": seed}


@node_type(
    "Bool",
    category=_CATEGORY,
    description="True or false on a wire: drives promoted BOOL parameters (tiled, …).",
    params=[ParamSpec("value", t.BOOL, False, doc="the switch sent on the wire")],
    outputs=[OutputSpec("value", t.BOOL)],
)
def bool_value(ctx, *, value: bool) -> dict:
    return {"value": value}
