"""Graph walks at scale (issues 11 and 12): building, validating and planning big graphs, and
reporting the dependents of many failing nodes.

Prints figures, no targets: every walk should grow linearly (or n log n) with the graph.

    .venv/bin/python benchmarks/bench_graph_walk.py            # 100,000-node ring and chain, 10,000 failures
    .venv/bin/python benchmarks/bench_graph_walk.py 5000 1000  # smaller sizes (for measuring old code)
"""

from __future__ import annotations

import sys
import time

from studio.engine import Engine, NodeError, NodeFailed, RunSettings
from studio.engine.plan import plan
from studio.graph import Graph, InputSpec, Link, Node, NodeRegistry, OutputSpec, node_type, validate
from studio.graph import types as t


@node_type("Start", category="Bench", outputs=[OutputSpec("out", t.INT)])
def start(ctx):
    return {"out": 0}


@node_type("Step", category="Bench", inputs=[InputSpec("a", t.INT)], outputs=[OutputSpec("out", t.INT)])
def step(ctx, *, a):
    return {"out": a + 1}


@node_type("Refuse", category="Bench", inputs=[InputSpec("a", t.INT)], outputs=[OutputSpec("out", t.INT)])
def refuse(ctx, *, a):
    raise NodeError(f"refused {a}")


@node_type("End", category="Bench", inputs=[InputSpec("a", t.INT)], outputs=[OutputSpec("out", t.INT)], output=True)
def end(ctx, *, a):
    return {"out": a}


def registry() -> NodeRegistry:
    reg = NodeRegistry()
    reg.register_all([start, step, refuse, end])
    return reg


def chain(length: int, ring: bool) -> Graph:
    """``n0 -> n1 -> ... -> n{length-1}``; a ring links the last node back into the first."""
    graph = Graph()
    graph.add_node(Node("n0", "Step" if ring else "Start"))
    for i in range(1, length):
        graph.add_node(Node(f"n{i}", "End" if i == length - 1 and not ring else "Step"))
        graph.connect(Link(f"n{i - 1}", "out", f"n{i}", "a"))
    if ring:
        graph.connect(Link(f"n{length - 1}", "out", "n0", "a"))
    return graph


def failing(count: int) -> Graph:
    """One source feeding ``count`` nodes that fail, each feeding a step and an output."""
    graph = Graph()
    graph.add_node(Node("src", "Start"))
    for i in range(count):
        graph.add_node(Node(f"f{i}", "Refuse"))
        graph.add_node(Node(f"s{i}", "Step"))
        graph.add_node(Node(f"e{i}", "End"))
        graph.connect(Link("src", "out", f"f{i}", "a"))
        graph.connect(Link(f"f{i}", "out", f"s{i}", "a"))
        graph.connect(Link(f"s{i}", "out", f"e{i}", "a"))
    return graph


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    failures = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    reg = registry()

    ring, built = timed(lambda: chain(size, ring=True))
    problems, seconds = timed(lambda: validate(ring, reg))
    on_cycle = sum(1 for p in problems if "cycle" in p.message)
    print(
        f"{size:,}-node ring: build {built:.2f} s, validate {seconds:.2f} s ({on_cycle:,} nodes reported on the cycle)"
    )

    line, built = timed(lambda: chain(size, ring=False))
    problems, seconds = timed(lambda: validate(line, reg))
    order, planned = timed(lambda: plan(line, reg))
    print(
        f"{size:,}-node chain: build {built:.2f} s, validate {seconds:.2f} s ({len(problems)} problems), "
        f"plan {planned:.2f} s ({len(order):,} nodes)"
    )

    graph, built = timed(lambda: failing(failures))
    events = []
    engine = Engine("cpu", registry=reg, settings=RunSettings())
    report, seconds = timed(lambda: engine.run(graph, on_event=events.append))
    skipped = sum(len(e.skipped) for e in events if isinstance(e, NodeFailed))
    print(
        f"{failures:,} failing nodes ({len(graph):,} nodes): build {built:.2f} s, run {seconds:.2f} s "
        f"({len(report.failed):,} failed, {skipped:,} dependents reported)"
    )


if __name__ == "__main__":
    main()
