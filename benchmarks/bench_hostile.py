"""The hostile-input corpus (issue 12) in figures: its size, and for every case run by the CLI and by the
Python API the exit code, seconds and peak RSS, each in a subprocess under the corpus's memory limit.

Prints figures, no verdicts (tests/test_hostile_corpus.py asserts them).

    .venv/bin/python benchmarks/bench_hostile.py            # every case
    .venv/bin/python benchmarks/bench_hostile.py --no-torch # without the case that imports torch
    .venv/bin/python benchmarks/bench_hostile.py ring media # only cases whose name holds one of these
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hostile_cases import CASES, size_on_disk, vias, write_case  # noqa: E402
from hostile_runner import run_case  # noqa: E402


def main(argv: list[str]) -> int:
    torch = "--no-torch" not in argv
    words = [a for a in argv if not a.startswith("--")]
    cases = [c for c in CASES if (torch or not c.torch) and (not words or any(w in c.name for w in words))]
    with tempfile.TemporaryDirectory(prefix="hostile-corpus-") as scratch:
        root, home = Path(scratch) / "corpus", Path(scratch) / "home"
        started = time.perf_counter()
        folders = {case.name: write_case(case, root) for case in cases}
        written = time.perf_counter() - started
        runs = sum(len(vias(c)) for c in cases)
        print(
            f"corpus: {len(cases)} cases ({runs} runs), {size_on_disk(root):,} bytes on disk, written in {written:.1f} s"
        )
        largest = max(cases, key=lambda c: size_on_disk(folders[c.name]))
        print(f"largest: {largest.name}, {size_on_disk(folders[largest.name]):,} bytes")
        print()
        print(f"{'case':36s} {'via':4s} {'exit':>4s} {'seconds':>8s} {'peak MB':>8s}  bounds")
        total = 0.0
        for case in cases:
            for via in vias(case):
                outcome = run_case(case, via, folders[case.name], home)
                total += outcome.seconds
                code = "kill" if outcome.code is None else str(outcome.code)
                bounds = f"{case.seconds:.0f} s, {case.peak_mb} MB"
                print(f"{case.name:36s} {via:4s} {code:>4s} {outcome.seconds:8.2f} {outcome.peak_mb:8.0f}  {bounds}")
        print(f"\n{runs} runs in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
