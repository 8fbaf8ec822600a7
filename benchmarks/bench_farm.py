"""The render farm against one process (issue 18), in one run:

- N renders of a graph (seeds 1..N) one after another on one engine in this process,
- the same N on a local Ray cluster of two CPU workers (``studio batch --cluster local``),

and prints the wall times, the speed-up and the per-job overhead of the farm: the worker time
not spent inside the engine's run (dispatch, graph loading, events, sending the file back and
placing it), ``(workers x batch time - sum of the jobs' run times) / N``. Starting the cluster
is reported on its own. Each side starts with an empty cache folder, so nothing is reused from
an earlier run; within a side the model stays loaded between jobs, as in a real batch.

Two workers on a two-core machine share the cores that the single process uses alone (its torch
uses both), so the speed-up there is bounded well below 2; on a machine with a GPU per worker the
workers do not compete.

    .venv/bin/python benchmarks/bench_farm.py                       # 8 starter renders (minutes)
    .venv/bin/python benchmarks/bench_farm.py --graph test-pattern --jobs 4
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = {"starter": "resources/graphs/starter.graph.json", "test-pattern": "resources/graphs/test-pattern.graph.json"}
SEEDS = {"starter": "sampler.seed", "test-pattern": "pattern.seed"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", choices=sorted(GRAPHS), default="starter")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="bench-farm-home-")  # before the studio reads it
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

    from studio.composition import default_families, default_registry
    from studio.engine import CancelToken, Engine, RunSettings
    from studio.farm import Farm, connect
    from studio.graph import load_graph
    from studio.variations import build_jobs, parse_variations

    registry = default_registry()
    graph = load_graph(ROOT / GRAPHS[args.graph])
    jobs = build_jobs(graph, registry, parse_variations(graph, registry, [f"{SEEDS[args.graph]}=1..{args.jobs}"]))
    print(f"{args.jobs} renders of {args.graph}, {os.cpu_count()} CPU cores")

    out = Path(tempfile.mkdtemp(prefix="bench-farm-local-"))
    engine = Engine("cpu", registry=registry, families=default_families(), settings=RunSettings(output_dir=out))
    began = time.perf_counter()
    local_seconds = [engine.run(job.graph).seconds for job in jobs]
    sequential = time.perf_counter() - began
    print(f"one process, one after another: {sequential:7.2f} s  ({sequential / len(jobs):.2f} s a job)")
    del engine

    os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="bench-farm-home-")  # the workers start cold too
    began = time.perf_counter()
    with connect("local", num_cpus=args.workers):
        farm = Farm(max_workers=args.workers)
        started = time.perf_counter() - began
        out = Path(tempfile.mkdtemp(prefix="bench-farm-cluster-"))
        try:
            began = time.perf_counter()
            summary = farm.run(jobs, registry, out, Quiet(len(jobs)), CancelToken())
            batch = time.perf_counter() - began
        finally:
            farm.close()
    assert summary.ok, summary.to_json()
    worked = sum(r.seconds for r in summary.results)
    overhead = (len(farm.workers) * batch - worked) / len(jobs)
    print(f"cluster start ({len(farm.workers)} workers):   {started:7.2f} s  (once per cluster, not per batch)")
    print(f"{len(farm.workers)}-worker local cluster:        {batch:7.2f} s  ({batch / len(jobs):.2f} s a job)")
    print(f"speed-up: {sequential / batch:.2f}x;  per-job overhead: {overhead:.2f} s")
    print(
        f"mean run time of a job: {sum(local_seconds) / len(jobs):.2f} s in one process, {worked / len(jobs):.2f} s on a worker"
    )


class Quiet:
    """A batch printer that prints nothing."""

    def __init__(self, total: int) -> None:
        self.total = total

    def job_started(self, job, worker) -> None:
        pass

    def job_retried(self, job, worker, reason) -> None:
        pass

    def for_job(self, job):
        return _Nothing()


class _Nothing:
    def __call__(self, event) -> None:
        pass

    def finish(self, report) -> None:
        pass


if __name__ == "__main__":
    main()
