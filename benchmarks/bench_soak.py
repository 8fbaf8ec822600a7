"""Soak: 100 runs of one small graph in one process, each with a new seed (issue 12, "Memory that grows").

Prints RSS after every 10 runs, the growth per run, the node cache's size, and RSS minus the
cache (what a leak would show), for two budgets: the default (a share of the machine's memory)
and a small one, where RSS must level off.

    .venv/bin/python benchmarks/bench_soak.py [runs]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from studio.bundled import find_bundled
from studio.composition import default_registry
from studio.engine import Engine, RunSettings
from studio.graph import load_graph

MB = 1024**2


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def soak(runs: int, cache_bytes: int | None, label: str) -> None:
    graph = load_graph(find_bundled("resources/graphs/test-pattern.graph.json"))
    graph.set_param("pattern", "width", 160)
    graph.set_param("pattern", "height", 120)
    graph.set_param("pattern", "frames", 24)
    with tempfile.TemporaryDirectory() as out:
        engine = Engine("cpu", registry=default_registry(plugins=False), settings=RunSettings(output_dir=Path(out)))
        if cache_bytes is not None:
            engine.cache.byte_budget = cache_bytes
        print(f"\n{label}: output cache budget {engine.cache.byte_budget / MB:.0f} MB")
        engine.run(graph)  # warm-up: imports, codecs
        start = rss()
        first_half = None
        for run in range(1, runs + 1):
            graph.set_param("pattern", "seed", run)
            assert engine.run(graph).ok
            if run == runs // 2:
                first_half = rss()
            if run % 10 == 0:
                now = rss()
                print(
                    f"  run {run:3d}: RSS {now / MB:7.1f} MB  cache {engine.cache.nbytes / MB:6.1f} MB  "
                    f"RSS - cache {(now - engine.cache.nbytes) / MB:7.1f} MB"
                )
        end = rss()
        print(
            f"  growth per run: {(end - start) / runs / MB:.2f} MB over all runs, "
            f"{(end - first_half) / (runs - runs // 2) / MB:.2f} MB over the second half"
        )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    soak(runs, None, "default budget")
    soak(runs, 20 * MB, "20 MB budget")


if __name__ == "__main__":
    main()
