"""Interpolation quality and speed on a synthetic clip with known motion.

The scene (a panning textured background and three textured objects moving several pixels
per frame) is rendered at double rate; the even frames are the input and the odd frames are
the true in-betweens. For each method it prints PSNR against the truth over the whole frame
and in the edge band (pixels near a moving object's outline, where occlusions and flow
errors live: ~5% of the frame but most of the error), and the ×2 throughput:

* ``blend``: cross-fade;
* ``warp``: DIS flow, no occlusion handling;
* ``sharp-warp``: the flow sharpened at motion edges, still a plain (1-t, t) blend;
* ``flow``: sharpened flow and occlusion weights (what the node uses).

Wall-clock frames/s swing with the machine's load (printed), so it also prints output frames
per CPU-second, which does not.

    .venv/bin/python benchmarks/bench_interpolate.py [--frames 24] [--size 512]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from studio.media.interpolate import interpolate_frames
from studio.media.synthetic import SyntheticScene

METHODS = ("blend", "warp", "sharp-warp", "flow")


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    err = (a.astype(np.float32) - b.astype(np.float32)) ** 2
    mse = float(np.mean(err if mask is None else err[mask]))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=24, help="input frames")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per method (best kept)")
    args = parser.parse_args()

    scene = SyntheticScene(args.size, args.size, length=args.frames + 2)
    full = scene.clip(2 * args.frames - 1, step=0.5)  # double rate: ground truth
    clip, truth = full[0::2], full[1::2]
    bands = [scene.edge_band(i + 0.5) for i in range(len(truth))]
    print(
        f"clip: {args.frames} frames {args.size}x{args.size}, pan {scene.pan} px/frame, "
        f"objects {[o.velocity for o in scene.objects]} px/frame; "
        f"edge band {100 * np.mean(bands):.1f}% of pixels"
    )
    print(f"{'':>10}  {'PSNR dB: mean   min':>19}  {'band mean   min':>16}  {'out frames/s':>12}  {'per CPU-s':>9}")

    results = {}
    for method in METHODS:
        wall = cpu = float("inf")
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = interpolate_frames(clip, 2, method)
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        middles = out[1:-1:2]
        scores = [psnr(m, t) for m, t in zip(middles, truth, strict=True)]
        edges = [psnr(m, t, b) for m, t, b in zip(middles, truth, bands, strict=True)]
        results[method] = (np.mean(scores), np.mean(edges), len(out) / wall)
        print(
            f"{method:>10}  {np.mean(scores):10.2f} {np.min(scores):6.2f}  {np.mean(edges):9.2f} {np.min(edges):6.2f}"
            f"  {len(out) / wall:12.1f}  {len(out) / cpu:9.1f}"
        )
    flow, warp, sharp, base = results["flow"], results["warp"], results["sharp-warp"], results["blend"]
    print(f"flow over blend: {flow[0] - base[0]:+.2f} dB (floor +3 dB)")
    print(
        f"occlusion handling over plain warp: {flow[0] - warp[0]:+.2f} dB, edge band {flow[1] - warp[1]:+.2f} dB"
        f" (sharpening {sharp[0] - warp[0]:+.2f} / {sharp[1] - warp[1]:+.2f},"
        f" then weights {flow[0] - sharp[0]:+.2f} / {flow[1] - sharp[1]:+.2f})"
    )
    load = os.getloadavg()
    print(f"flow x2 speed: {flow[2]:.1f} output frames/s (target >= 20), load average {load[0]:.2f} {load[1]:.2f}")


if __name__ == "__main__":
    main()
