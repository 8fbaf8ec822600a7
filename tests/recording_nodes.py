"""Tiny node types for engine tests: they count their calls and can fail or wait on demand."""

from __future__ import annotations

import threading
from collections import Counter

from studio.engine.context import NodeError
from studio.graph import Graph, InputSpec, Link, Node, NodeRegistry, OutputSpec, ParamSpec, node_type
from studio.graph import types as t

NUMBER = "NUMBER"


class Recorder:
    """Builds a registry whose nodes record each call; ``calls`` counts runs per node id."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.gate = threading.Event()  # Slow nodes wait on it
        self.gate.set()
        self.started = threading.Event()
        self.registry = NodeRegistry()
        self.registry.register_all(self._specs())

    def _specs(self):
        rec = self

        @node_type(
            "Const",
            category="Test",
            params=[ParamSpec("value", t.INT, 1, min=-1000, max=1000)],
            outputs=[OutputSpec("out", NUMBER)],
        )
        def const(ctx, *, value):
            rec.calls[ctx.node_id] += 1
            return {"out": value}

        @node_type(
            "Add",
            category="Test",
            inputs=[InputSpec("a", NUMBER), InputSpec("b", NUMBER, optional=True)],
            params=[ParamSpec("offset", t.INT, 0, min=-1000, max=1000)],
            outputs=[OutputSpec("out", NUMBER)],
        )
        def add(ctx, *, a, b, offset):
            rec.calls[ctx.node_id] += 1
            return {"out": a + (b or 0) + offset}

        @node_type(
            "Fail",
            category="Test",
            inputs=[InputSpec("a", NUMBER)],
            params=[ParamSpec("fail", t.BOOL, True)],
            outputs=[OutputSpec("out", NUMBER)],
        )
        def fail(ctx, *, a, fail):
            rec.calls[ctx.node_id] += 1
            if fail:
                raise NodeError(f"refused the value {a}")
            return {"out": a}

        @node_type(
            "Slow",
            category="Test",
            inputs=[InputSpec("a", NUMBER)],
            params=[ParamSpec("steps", t.INT, 50, min=1, max=10_000)],
            outputs=[OutputSpec("out", NUMBER)],
        )
        def slow(ctx, *, a, steps):
            rec.calls[ctx.node_id] += 1
            rec.started.set()
            for step in range(steps):
                rec.gate.wait(5)
                ctx.check_cancelled()
                ctx.progress(step + 1, steps)
                ctx.preview(lambda s=step: [[s]], step + 1, steps)
            return {"out": a}

        @node_type(
            "Sink",
            category="Test",
            inputs=[InputSpec("a", NUMBER)],
            outputs=[OutputSpec("result", NUMBER)],
            output=True,
        )
        def sink(ctx, *, a):
            rec.calls[ctx.node_id] += 1
            return {"result": a}

        @node_type(
            "IntSource",
            category="Test",
            params=[ParamSpec("v", t.INT, 0, min=-(10**6), max=10**6)],
            outputs=[OutputSpec("value", t.INT)],
        )
        def int_source(ctx, *, v):
            return {"value": v}

        return [const, add, fail, slow, sink, int_source]


def chain(*types_and_ids: tuple[str, str], params: dict | None = None) -> Graph:
    """A linear graph: each node's ``out`` feeds the next node's ``a``."""
    graph = Graph()
    previous = None
    for index, (type_name, node_id) in enumerate(types_and_ids):
        graph.add_node(Node(node_id, type_name, dict((params or {}).get(node_id, {})), position=(index * 200.0, 0.0)))
        if previous is not None:
            graph.connect(Link(previous, "out", node_id, "a"))
        previous = node_id
    return graph


def plugin_specs():
    """An entry point target, as a node pack would declare it."""
    from studio.graph import OutputSpec, node_type

    @node_type("PackNode", category="Pack", outputs=[OutputSpec("out", NUMBER)])
    def pack_node(ctx):
        return {"out": 0}

    return [pack_node]


def broken_plugin():
    raise RuntimeError("this pack is broken")
