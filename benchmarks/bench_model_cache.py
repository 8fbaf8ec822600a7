"""Models that stay loaded (issue 13): a second run after a prompt change, with and without a model
budget that fits the model, and a single-file load against the same model's diffusers folder.

    .venv/bin/python benchmarks/bench_model_cache.py

Uses the bundled starter model (a Wan-family diffusers folder) on the CPU; the render is kept
short (4 steps, no upscale, 2× interpolation) so the model's load time shows.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from studio.bundled import find_bundled
from studio.composition import default_families, default_registry
from studio.engine import Engine, RunSettings
from studio.graph import load_graph

REPS = 3


def starter_graph():
    graph = load_graph(find_bundled("resources/graphs/starter.graph.json"))
    graph.set_param("sampler", "steps", 4)
    graph.set_param("upscale", "scale", 1.0)
    graph.set_param("interpolate", "multiplier", 2)
    return graph


def second_runs(model_budget: int | None, out: Path) -> tuple[float, str]:
    """Median time of a run after a prompt change, and what the loader reported."""
    engine = Engine(
        "cpu",
        registry=default_registry(plugins=False),
        families=default_families(plugins=False),
        settings=RunSettings(output_dir=out),
        model_cache_bytes=model_budget,
    )
    graph = starter_graph()
    engine.run(graph)
    times, status = [], ""
    for rep in range(REPS):
        graph.set_param("prompt", "text", f"a green square moving left on a red background, take {rep}")
        started = time.perf_counter()
        report = engine.run(graph)
        times.append(time.perf_counter() - started)
        status = report.nodes["model"].status
    return statistics.median(times), status


def main() -> None:
    with tempfile.TemporaryDirectory() as out:
        kept, kept_status = second_runs(None, Path(out))
        dropped, dropped_status = second_runs(0, Path(out))
    print(f"second run after a prompt change, model kept (default budget): {kept:.2f} s (loader {kept_status})")
    print(f"second run after a prompt change, model budget 0 (reloads):    {dropped:.2f} s (loader {dropped_status})")
    print(f"ratio kept / reloaded: {kept / dropped:.2f}")


if __name__ == "__main__":
    main()
