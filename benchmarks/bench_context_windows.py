"""Sliding context windows on the bundled starter Wan model, on the CPU (issue 14, long clips).

Samples clips of 1×, 2× and 4× the window length with context windows, and the same clips as one
whole-clip call for contrast, each configuration in a fresh child process (so each peak is its own):

- peak RSS of the child after sampling (ru_maxrss), and what sampling added to the RSS it had
  before (model loaded, prompts encoded); a one-step warm-up run comes first, untimed; target: windowed peak at 4× ≤ 1.3× the peak at 1×,
- Sampler seconds and the number of windows (target: time linear in the clip's length, i.e.
  constant seconds per window),
- seams, on the decoded 4× clips: the mean absolute change between consecutive frames where the
  clip crosses from one latent frame to the next, at the edges of the first step's windows'
  cross-fades vs everywhere else (a ratio near the whole-clip run's means no visible seam), and the
  largest change at any crossing over the median one (the windows move from step to step, so a
  seam could form elsewhere: this finds it wherever it is).

    .venv/bin/python benchmarks/bench_context_windows.py [--size 256] [--window 17] [--overlap 8] [--steps 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources/models/starter"
PROMPT = "a red circle moving right on a blue background"


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(size: int, frames: int, window: int, overlap: int, steps: int, seams_of: int) -> None:
    """One configuration: print one JSON line of figures; ``seams_of`` > 0: decode the clip and measure
    the seams of that window length's schedule (the whole-clip run is measured at the same places)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    import torch
    from diffusion_graphs import load_model_handle, run_node

    from nodes.diffusion.context_windows import clip_windows
    from studio.composition import default_registry

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    registry = default_registry(plugins=False)
    model = load_model_handle(STARTER)
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text="")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=size, height=size, frames=frames)["latent"]
    before, loaded_peak = rss_mib(), peak_mib()

    def sample(steps: int):
        return run_node(
            registry,
            "Sampler",
            model=model,
            positive=positive,
            negative=negative,
            latent=latent,
            steps=steps,
            cfg=4.0,
            seed=42,
            context_frames=window,
            context_overlap=overlap,
        )["latent"]

    sample(1)  # warm-up: torch's first calls at these shapes are slow, whatever the windows
    start = time.perf_counter()
    sampled = sample(steps)
    seconds = time.perf_counter() - start
    peak = peak_mib()
    # The windows move from step to step (a step may hold one more): their mean number per step.
    counts = [
        len(clip_windows(latent.shape[2], window, overlap, model.latent_format.temporal, s)) for s in range(steps)
    ]
    figures = {
        "latent_frames": latent.shape[2],
        "windows": sum(counts) / steps,
        "seconds": seconds,
        "peak_mib": peak,
        "added_mib": peak - before,
        "loaded_peak_mib": loaded_peak,
    }
    if seams_of:
        fmt = model.latent_format
        schedule = clip_windows(latent.shape[2], seams_of, overlap, fmt.temporal)
        pixels = run_node(registry, "VAEDecode", model=model, latent=sampled)["frames"].array
        figures.update(seam_figures(pixels, schedule, fmt.temporal))
    print(json.dumps(figures), flush=True)


def seam_figures(pixels, windows: list[slice], temporal: int) -> dict:
    """Mean |frame change| at latent-frame crossings on the edges of cross-fades vs elsewhere."""
    import numpy as np

    edges = set()
    for before, after in zip(windows, windows[1:], strict=False):
        edges.update({after.start, before.stop})  # the latent frame a cross-fade starts on / the one after it
    change = np.abs(np.diff(pixels.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))  # [frames - 1]
    at_edge, inside = [], []
    for p in range(len(change)):
        a, b = latent_of(p, temporal), latent_of(p + 1, temporal)
        if a == b:
            continue  # within one latent frame the VAE interpolates: not a place a seam can show
        (at_edge if b in edges else inside).append(change[p])
    edge = float(np.mean(at_edge)) if at_edge else float("nan")
    rest = float(np.mean(inside))
    crossings = np.array(at_edge + inside)
    places = [p for p in range(len(change)) if latent_of(p, temporal) != latent_of(p + 1, temporal)]
    # Windows that move from step to step leave no fixed edge: the worst crossing anywhere, against
    # the typical one, shows a seam wherever it is.
    worst = float(crossings.max() / np.median(crossings))
    worst_at = max(places, key=lambda p: change[p])  # the pixel frame before the largest change
    return {
        "seam_edge": edge,
        "seam_inside": rest,
        "seam_ratio": edge / rest,
        "seam_worst": worst,
        "worst_at": worst_at,
    }


def latent_of(pixel_frame: int, temporal: int) -> int:
    return 0 if pixel_frame == 0 else (pixel_frame - 1) // temporal + 1


def run_case(args, frames: int, window: int, seams: bool) -> dict:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench_context_windows as b; "
        f"b.child({args.size}, {frames}, {window}, {args.overlap}, {args.steps}, {args.window if seams else 0})"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"child failed ({frames} frames, window {window}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="width and height in pixels")
    parser.add_argument("--window", type=int, default=17, help="context_frames (pixel frames, 4k+1)")
    parser.add_argument("--overlap", type=int, default=8, help="context_overlap (pixel frames)")
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    lengths = {n: (args.window - 1) * n + 1 for n in (1, 2, 4)}  # n× the window, as 4k+1 frames
    print(
        f"starter Wan, {args.size}x{args.size}, {args.steps} steps, cfg 4, window {args.window} / overlap {args.overlap}"
    )
    print(
        f"{'clip':>10} {'mode':>9} {'latent':>6} {'windows':>7} {'seconds':>8} {'s/window':>8} {'peak MiB':>9} {'added MiB':>9}"
    )
    results = {}
    for n, frames in lengths.items():
        for mode, window in (("windowed", args.window), ("whole", 0)):
            if n == 1 and mode == "whole":
                continue  # one window is the whole clip: the same call
            r = results[n, mode] = run_case(args, frames, window, seams=n == 4)
            print(
                f"{n}x {frames:>4}f {mode:>9} {r['latent_frames']:>6} {r['windows']:>7.1f} {r['seconds']:>8.2f} "
                f"{r['seconds'] / r['windows']:>8.2f} {r['peak_mib']:>9.0f} {r['added_mib']:>9.0f}"
            )
    one, four = results[1, "windowed"], results[4, "windowed"]
    print(
        f"windowed peak 4x / 1x: {four['peak_mib'] / one['peak_mib']:.2f} (target <= 1.3); added 4x / 1x: "
        f"{four['added_mib'] / max(one['added_mib'], 1):.2f}; whole-clip peak 4x / 1x: "
        f"{results[4, 'whole']['peak_mib'] / one['peak_mib']:.2f}"
    )
    print(
        f"windowed time 4x / 1x: {four['seconds'] / one['seconds']:.2f} for {four['windows']:.1f} windows "
        f"per step ({four['seconds'] / four['windows'] / one['seconds']:.2f} of the 1x time per window)"
    )
    for mode in ("windowed", "whole"):
        r = results[4, mode]
        print(
            f"seams, 4x {mode}: mean frame change at cross-fade edges {r['seam_edge']:.4f}, "
            f"elsewhere {r['seam_inside']:.4f}, ratio {r['seam_ratio']:.2f}; worst crossing / median "
            f"{r['seam_worst']:.2f} (after frame {r['worst_at']})"
        )


if __name__ == "__main__":
    main()
