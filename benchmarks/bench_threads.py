"""The starter render's sampler on the CPU, idle and beside another torch process (issue 11).

Runs the bundled starter graph (resources/graphs/starter.graph.json) up to its Sampler node
through the Engine on the CPU, once to load the model and then ``--reps`` times with a new seed
(only the Sampler reruns), and takes the Sampler's seconds from the run report. Four cases,
each in a fresh child process because OpenMP reads its settings once, when torch loads:

- before: torch's defaults (the policy switched off in the child: the engine never sets threads),
- after: the engine's policy (one thread per core that no other process keeps busy),

each idle and with a competing child process running small torch matmuls in a loop on two
threads (started before the case and stopped after it). Prints the best and median Sampler
times, the ratios loaded/idle (target <= 2x) and after/before idle (target: not slower), and how
many cores other processes kept busy while each case ran, since "idle" on a shared machine
is only as idle as the neighbours allow.

    .venv/bin/python benchmarks/bench_threads.py [--reps 5] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRAPH = ROOT / "resources/graphs/starter.graph.json"
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "STUDIO_CPU_THREADS")
COMPETITOR = """
import torch
torch.set_num_threads(2)
a, b = torch.randn(128, 128), torch.randn(128, 128)
v = torch.randn(65536)
while True:
    c = a @ b
    w = torch.tanh(v) * 2.0
"""


def child(policy: str, reps: int) -> None:
    """One case: print a JSON line with the Sampler's seconds per run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    if policy == "before":
        from studio.engine import threads

        threads.apply_cpu_threads = lambda setting=None: 0  # the old engine: torch keeps its own count
    from studio.composition import default_families, default_registry
    from studio.engine import Engine
    from studio.graph.fileformat import load_graph

    graph = load_graph(GRAPH)
    engine = Engine(
        "cpu",
        registry=default_registry(plugins=False),
        families=default_families(plugins=False),
    )
    seconds = []
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as output:
        for index in range(reps + 1):
            graph.set_param("sampler", "seed", 1000 + index)
            report = engine.run(graph, targets=["sampler"], output_dir=output)
            if not report.ok:
                raise SystemExit(f"the starter graph failed: {report.to_json()['nodes']}")
            seconds.append(report.nodes["sampler"].seconds)
    import torch

    # The first run also loaded the model and warmed up.
    print(json.dumps({"sampler": seconds[1:], "threads": torch.get_num_threads()}))


def clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
    env["HF_HUB_OFFLINE"] = "1"
    return env


def busy_cores_sampler():
    """Average cores busy with other processes over a window, from /proc/stat (None elsewhere)."""

    def read() -> tuple[float, float] | None:
        try:
            fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
        return sum(fields[:8]) - idle, sum(fields[:8])

    start = read()

    def stop(own_cpu_seconds: float, wall: float) -> float | None:
        end = read()
        if start is None or end is None or end[1] == start[1]:
            return None
        cores = os.cpu_count() or 1
        busy = (end[0] - start[0]) / (end[1] - start[1]) * cores
        return max(0.0, busy - own_cpu_seconds / wall)

    return stop


def run_case(policy: str, loaded: bool, reps: int) -> dict:
    env = clean_environment()
    competitor = None
    if loaded:
        competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR], env=env)
        time.sleep(1.0)  # let it reach its loop
    measure = busy_cores_sampler()
    t0 = time.perf_counter()
    before = os.times()
    try:
        result = subprocess.run(
            [sys.executable, __file__, "--child", policy, "--reps", str(reps)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        # The case's CPU time is ours (the competitor, not yet waited for, is not in it); the
        # rest of the machine's busy time is the competitor's and the neighbours'.
        after = os.times()
        own = (after.children_user + after.children_system) - (before.children_user + before.children_system)
        busy = measure(own, time.perf_counter() - t0)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    if result.returncode != 0:
        raise SystemExit(f"case {policy} ({'loaded' if loaded else 'idle'}) failed:\n{result.stderr[-2000:]}")
    record = json.loads(result.stdout.strip().splitlines()[-1])
    record["busy_elsewhere"] = busy
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="Sampler runs per case after the first")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the four cases, interleaved")
    parser.add_argument("--child", choices=("before", "after"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reps)
        return

    cases = [(policy, loaded) for loaded in (False, True) for policy in ("before", "after")]
    times: dict[tuple[str, bool], list[float]] = {case: [] for case in cases}
    for round_index in range(args.rounds):
        for policy, loaded in cases:
            record = run_case(policy, loaded, args.reps)
            times[(policy, loaded)] += record["sampler"]
            busy = record["busy_elsewhere"]
            print(
                f"round {round_index + 1}: {policy:6} {'loaded' if loaded else 'idle':6} "
                f"threads {record['threads']}, cores busy elsewhere {'?' if busy is None else f'{busy:.2f}'}: "
                + " ".join(f"{s:.2f}" for s in record["sampler"])
                + " s",
                flush=True,
            )

    def best(policy: str, loaded: bool) -> float:
        return min(times[(policy, loaded)])

    def median(policy: str, loaded: bool) -> float:
        return statistics.median(times[(policy, loaded)])

    print(f"\nstarter Sampler, {os.cpu_count()} CPUs (best / median of {args.reps * args.rounds} runs)")
    for policy in ("before", "after"):
        print(
            f"{policy:6}: idle {best(policy, False):.3f} / {median(policy, False):.3f} s   "
            f"loaded {best(policy, True):.3f} / {median(policy, True):.3f} s   "
            f"ratio loaded/idle {best(policy, True) / best(policy, False):.2f}x "
            f"(median {median(policy, True) / median(policy, False):.2f}x; target <= 2x)"
        )
    print(
        f"after/before idle: {best('after', False) / best('before', False):.2f} "
        f"(median {median('after', False) / median('before', False):.2f}; target: not slower)   "
        f"after/before loaded: {best('after', True) / best('before', True):.3f}"
    )
    sys.path.insert(0, str(ROOT))
    from studio.engine.threads import busy_cores_elsewhere

    t0 = time.perf_counter()
    for _ in range(20):
        busy_cores_elsewhere()
    print(f"the policy's load probe, once per run: {(time.perf_counter() - t0) / 20 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
