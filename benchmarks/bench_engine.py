"""Engine overhead, planning and cached reruns (issue: Foundation).

Prints figures and ratios against a baseline measured in the same process:
- per-node overhead on a chain of 200 trivial nodes vs calling the same functions directly,
- validate + plan of a 1,000-node graph,
- a fully cached rerun of that graph.

    .venv/bin/python benchmarks/bench_engine.py
"""

from __future__ import annotations

import statistics
import time

from studio.engine import Engine, RunSettings
from studio.engine.plan import plan
from studio.graph import Graph, InputSpec, Link, Node, NodeRegistry, OutputSpec, ParamSpec, node_type, validate
from studio.graph import types as t


@node_type("Start", category="Bench", params=[ParamSpec("value", t.INT, 0)], outputs=[OutputSpec("out", t.INT)])
def start(ctx, *, value):
    return {"out": value}


@node_type(
    "Step",
    category="Bench",
    inputs=[InputSpec("a", t.INT)],
    params=[ParamSpec("add", t.INT, 1)],
    outputs=[OutputSpec("out", t.INT)],
)
def step(ctx, *, a, add):
    return {"out": a + add}


@node_type("End", category="Bench", inputs=[InputSpec("a", t.INT)], outputs=[OutputSpec("out", t.INT)], output=True)
def end(ctx, *, a):
    return {"out": a}


def registry() -> NodeRegistry:
    reg = NodeRegistry()
    reg.register_all([start, step, end])
    return reg


def chain_graph(length: int) -> Graph:
    graph = Graph()
    graph.add_node(Node("n0", "Start", {"value": 0}))
    for i in range(1, length - 1):
        graph.add_node(Node(f"n{i}", "Step", {"add": 1}, position=(i * 10.0, 0)))
        graph.connect(Link(f"n{i - 1}", "out", f"n{i}", "a"))
    graph.add_node(Node(f"n{length - 1}", "End"))
    graph.connect(Link(f"n{length - 2}", "out", f"n{length - 1}", "a"))
    return graph


def wide_graph(count: int) -> Graph:
    """Many short branches into outputs: closer to a real editor graph than one long chain."""
    graph = Graph()
    for b in range(count // 5):
        graph.add_node(Node(f"s{b}", "Start", {"value": b}))
        for i in range(3):
            graph.add_node(Node(f"b{b}_{i}", "Step", {"add": i}))
            graph.connect(Link(f"s{b}" if i == 0 else f"b{b}_{i - 1}", "out", f"b{b}_{i}", "a"))
        graph.add_node(Node(f"e{b}", "End"))
        graph.connect(Link(f"b{b}_2", "out", f"e{b}", "a"))
    return graph


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    reg = registry()
    engine = Engine("cpu", registry=reg, settings=RunSettings())
    chain = chain_graph(200)

    def direct():
        value = start.compute(None, value=0)["out"]
        for _ in range(198):
            value = step.compute(None, a=value, add=1)["out"]
        end.compute(None, a=value)

    def engine_run():
        engine.cache.clear()
        engine.run(chain)

    base_best, _ = best(direct, 50)
    run_best, run_median = best(engine_run, 20)
    per_node = (run_best - base_best) / 200 * 1000
    print(
        f"chain of 200 trivial nodes: engine {run_best * 1000:.2f} ms (median {run_median * 1000:.2f}), "
        f"direct calls {base_best * 1000:.3f} ms"
    )
    print(
        f"  engine overhead per node: {per_node:.4f} ms (target < 0.2 ms)  ratio engine/direct: {run_best / base_best:.0f}x"
    )

    big = wide_graph(1000)
    validate_best, _ = best(lambda: validate(big, reg), 10)
    plan_best, _ = best(lambda: plan(big, reg), 10)
    print(
        f"1,000-node graph: validate {validate_best * 1000:.2f} ms + plan {plan_best * 1000:.2f} ms "
        f"= {(validate_best + plan_best) * 1000:.2f} ms (target < 50 ms)"
    )

    engine.cache.clear()
    t0 = time.perf_counter()
    engine.run(big)
    first = time.perf_counter() - t0
    cached_best, cached_median = best(lambda: engine.run(big), 10)
    report = engine.run(big)
    assert all(r.status == "cached" for r in report.nodes.values())
    print(
        f"1,000-node graph: first run {first * 1000:.1f} ms, fully cached rerun {cached_best * 1000:.2f} ms "
        f"(median {cached_median * 1000:.2f}; target < 20 ms; includes validation and planning)  "
        f"ratio cached/first: {cached_best / first:.2f}"
    )


if __name__ == "__main__":
    main()
