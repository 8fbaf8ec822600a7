"""The memory estimate against the measured peak, on the CPU, for the tiny models at three sizes (issue 15).

For each case a child process runs the text-to-video graph (LoadModel → TextEncode → EmptyLatent →
Sampler → VAEDecode → PreviewVideo, 2 steps) through the Engine and reports its peak RSS; a baseline
child imports the same libraries (torch, diffusers' pipelines, the studio's nodes) and reports its own.
The measured peak is the difference; the estimate is ``Engine.estimate``'s peak RAM for the same
graph (read from headers and configs in this process, nothing loaded). Prints a table with the error
(target: within 25%).

The models: the bundled starter (a tiny Wan 2.1) and a tiny SD 1.x built from the tests' configs.

    .venv/bin/python benchmarks/bench_estimate.py [--quick]

Measured (2 shared cores, 30 Nov 2026, after calibrating on a first run; baseline 775 MB):
wan 128x128x17 179 MB vs 199 (+11%), 256x256x17 282 vs 305 (+8%), 384x384x17 496 vs 481 (-3%);
sd 256x256 39 vs 38 (-3%), 512x512 104 vs 91 (-13%), 768x768 229 vs 180 (-21%). The same cases
measured 221, 271, 493, 40, 106, 183 MB in the first run: peak RSS varies by up to a quarter from
run to run with the allocator, which bounds how close any estimate can get.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
STARTER = ROOT / "resources/models/starter"
CASES = {  # model → (width, height, frames) at three sizes
    "wan": ((128, 128, 17), (256, 256, 17), (384, 384, 17)),
    "sd": ((256, 256, 1), (512, 512, 1), (768, 768, 1)),
}

CHILD = """
import json, os, resource, sys
sys.path[:0] = {paths!r}
import torch, diffusers, transformers
from diffusers import StableDiffusionPipeline, WanPipeline
import nodes.diffusion.nodes
from studio.composition import default_families, default_registry
from studio.engine import Engine
from diffusion_graphs import text_to_image_graph
torch.set_num_threads(1)
case = json.loads(sys.argv[1])
if case:
    graph = text_to_image_graph(case["model"], width=case["w"], height=case["h"], frames=case["f"], steps=2, cfg=4.0)
    engine = Engine("cpu", registry=default_registry(), families=default_families(), cpu_threads=1)
    engine.check_memory = False
    report = engine.run(graph)
    assert report.ok, report.failed
print(json.dumps({{"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
"""


def child_peak(case: dict) -> int:
    code = CHILD.format(paths=[str(ROOT), str(ROOT / "tests")])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(case)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak"]


def estimate_peak(model: Path, w: int, h: int, f: int) -> int:
    from diffusion_graphs import text_to_image_graph

    from studio.composition import default_families, default_registry
    from studio.engine import Engine

    graph = text_to_image_graph(model, width=w, height=h, frames=f, steps=2, cfg=4.0)
    engine = Engine("cpu", registry=default_registry(), families=default_families())
    estimate = engine.estimate(graph)
    assert not estimate.unknown, estimate.lines()
    return estimate.peak_ram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the smallest size of each model only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from tiny_models import build_sd

        models = {"wan": STARTER, "sd": build_sd(Path(tmp) / "tiny-sd")}
        baseline = child_peak({})
        print(f"baseline (idle child, same imports): {baseline / 2**20:.0f} MB peak RSS")
        print(f"{'model':<6} {'size':<12} {'measured MB':>12} {'estimate MB':>12} {'error':>8}")
        errors = []
        for name, sizes in CASES.items():
            for w, h, f in sizes[:1] if args.quick else sizes:
                measured = child_peak({"model": str(models[name]), "w": w, "h": h, "f": f}) - baseline
                estimated = estimate_peak(models[name], w, h, f)
                error = (estimated - measured) / measured
                errors.append(abs(error))
                size = f"{w}x{h}x{f}"
                print(f"{name:<6} {size:<12} {measured / 2**20:>12.1f} {estimated / 2**20:>12.1f} {error:>+8.0%}")
        print(f"largest error {max(errors):.0%} (target within 25%)")


if __name__ == "__main__":
    main()
