"""The same graph and seed give the same video, whatever thread count the CPU policy picks.

The automatic thread count follows the machine's load (:mod:`studio.engine.threads`), so two
renders of one graph may run on different counts; MKL's matrix products used to round
differently on each (the starter graph: 0.44 per pixel on average, files with other md5s). And
x264 itself gave another file for the same frames on most encodes after the first in a process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources" / "graphs" / "starter.graph.json"

MATMUL_ON_EACH_COUNT = """
import studio.engine  # what the CLI, the UI and the farm import before anything computes
import torch
g = torch.Generator().manual_seed(0)
a, b = torch.randn(64, 3000, generator=g), torch.randn(3000, 64, generator=g)
results = []
for threads in (1, 2, 3):
    torch.set_num_threads(threads)
    results.append(a @ b)
print(max((r - results[0]).abs().max().item() for r in results))
"""


@pytest.mark.ml
def test_matrix_products_give_the_same_bits_on_any_thread_count():
    # A fresh process: MKL reads its reproducibility mode once, when it first computes.
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    done = subprocess.run(
        [sys.executable, "-c", MATMUL_ON_EACH_COUNT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) == 0.0


@pytest.mark.ml
def test_starter_graph_gives_the_same_file_on_one_and_two_threads(tmp_path):
    from studio.composition import default_families, default_registry
    from studio.engine import Engine, RunSettings
    from studio.graph import load_graph

    md5s = []
    for threads in (1, 2):
        graph = load_graph(STARTER)
        graph.set_param("model", "path", str(ROOT / "resources" / "models" / "starter"))
        graph.set_param("sampler", "steps", 6)
        graph.set_param("interpolate", "multiplier", 2)
        output = tmp_path / f"threads{threads}"
        engine = Engine(
            "cpu",
            registry=default_registry(),
            families=default_families(),
            cpu_threads=threads,
            settings=RunSettings(output_dir=output),
        )
        report = engine.run(graph)
        assert report.ok, report
        (video,) = output.glob("*.mp4")
        md5s.append(hashlib.md5(video.read_bytes()).hexdigest())
    assert md5s[0] == md5s[1]


def test_test_pattern_renders_to_the_same_file_every_time(tmp_path):
    """x264 alone used to vary: most encodes of the same frames differed (no torch involved)."""
    from studio.composition import default_registry
    from studio.engine import Engine, RunSettings
    from studio.graph import load_graph

    md5s = set()
    for run in range(5):
        output = tmp_path / f"run{run}"
        graph = load_graph(ROOT / "resources" / "graphs" / "test-pattern.graph.json")
        graph.set_param("pattern", "frames", 96)
        engine = Engine("cpu", registry=default_registry(), settings=RunSettings(output_dir=output))
        assert engine.run(graph).ok
        (video,) = output.glob("*.mp4")
        md5s.add(hashlib.md5(video.read_bytes()).hexdigest())
    assert len(md5s) == 1
