"""Measure the starter model: does each clip show the prompt's colour and motion?

    .venv/bin/python scripts/train_starter/evaluate.py resources/models/starter

Renders the evaluation prompts (seen and held-out colour × shape × motion combinations) with
WanPipeline and analyses every clip with OpenCV/numpy: the background is the frame's median
colour, the shape is the pixels far from it; the shape's mean colour must be nearest the
prompt's colour, and its centroid must move in the prompt's direction (or stay still).
Prints per-attribute accuracy, seen vs held-out.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402

STILL_PIXELS = 6.0  # a centroid that travels less than this (at 64 px) counts as still
SHAPE_DISTANCE = 60.0  # RGB distance from the background that makes a pixel part of the shape

# 24 evaluation cases: every held-out combination plus 16 seen ones covering each colour,
# motion and background. (colour, shape, motion, background)
CASES: tuple[tuple[str, str, str, str], ...] = (
    ("red", "triangle", "up", "black"),
    ("green", "circle", "left", "blue"),
    ("blue", "square", "right", "black"),
    ("yellow", "triangle", "down", "blue"),
    ("white", "circle", "still", "red"),
    ("red", "square", "left", "green"),
    ("blue", "circle", "up", "red"),
    ("yellow", "square", "still", "black"),
    ("red", "circle", "right", "blue"),
    ("red", "triangle", "still", "green"),
    ("green", "square", "down", "black"),
    ("green", "triangle", "up", "red"),
    ("blue", "triangle", "left", "green"),
    ("blue", "circle", "down", "black"),
    ("yellow", "circle", "left", "red"),
    ("yellow", "square", "up", "green"),
    ("white", "square", "right", "blue"),
    ("white", "triangle", "left", "black"),
    ("white", "circle", "down", "green"),
    ("green", "circle", "still", "black"),
    ("red", "square", "down", "blue"),
    ("yellow", "circle", "right", "green"),
    ("blue", "square", "still", "red"),
    ("green", "triangle", "right", "blue"),
)


@dataclass
class ClipReport:
    colour: str | None  # nearest named colour of the shape's pixels (None: no shape found)
    motion: str | None  # "left", "right", "up", "down", "still" (None: no shape found)
    displacement: tuple[float, float]  # centroid travel over the clip (x right, y down), pixels


def analyse_clip(frames: np.ndarray) -> ClipReport:
    """Colour and motion of the one shape in uint8 RGB ``frames`` [F, H, W, 3]."""
    scale = 64.0 / frames.shape[2]
    centroids, colours = [], []
    for frame in frames.astype(np.float32):
        background = np.median(frame.reshape(-1, 3), axis=0)
        distance = np.linalg.norm(frame - background, axis=-1)
        mask = distance > SHAPE_DISTANCE
        if mask.sum() < 8:
            continue
        ys, xs = np.nonzero(mask)
        centroids.append((xs.mean(), ys.mean()))
        core = distance > 0.6 * np.percentile(distance[mask], 95)  # skip blended edge pixels
        colours.append(frame[core])
    if len(centroids) < len(frames) // 2:
        return ClipReport(None, None, (0.0, 0.0))
    pixels = np.concatenate(colours)
    mean = pixels.mean(axis=0)
    names = list(data.COLOURS)
    palette = np.array([data.COLOURS[n] for n in names], np.float32)
    colour = names[int(np.argmin(np.linalg.norm(palette - mean, axis=1)))]
    points = np.array(centroids) * scale
    t = np.arange(len(points), dtype=np.float32)
    slope = np.polyfit(t, points, 1)[0]  # pixels per frame, x and y
    dx, dy = slope * (len(frames) - 1)
    if max(abs(dx), abs(dy)) < STILL_PIXELS:
        motion = "still"
    elif abs(dx) >= abs(dy):
        motion = "right" if dx > 0 else "left"
    else:
        motion = "down" if dy > 0 else "up"
    return ClipReport(colour, motion, (float(dx), float(dy)))


def prompts_for(cases=CASES) -> list[str]:
    return [data.caption(*case) for case in cases]


def render(pipe, prompts: list[str], steps: int, cfg: float, seed: int) -> np.ndarray:
    """uint8 clips [N, F, 64, 64, 3] for ``prompts`` in one batch, seeded."""
    import torch

    generator = torch.Generator("cpu").manual_seed(seed)
    out = pipe(
        prompt=prompts,
        negative_prompt=[""] * len(prompts),
        height=data.SIZE,
        width=data.SIZE,
        num_frames=data.FRAMES,
        num_inference_steps=steps,
        guidance_scale=cfg,
        generator=generator,
        output_type="np",
    ).frames
    return np.clip(np.asarray(out) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def score(cases, reports: list[ClipReport]) -> dict[str, dict[str, float]]:
    """Accuracy per attribute ("colour", "motion") for "seen", "held_out" and "all" cases."""
    table: dict[str, dict[str, float]] = {}
    for attribute, index in (("colour", 0), ("motion", 2)):
        row = {}
        for split in ("seen", "held_out", "all"):
            hits = [
                getattr(report, attribute) == case[index]
                for case, report in zip(cases, reports, strict=True)
                if split == "all" or (split == "held_out") == (case[:3] in data.HELD_OUT)
            ]
            row[split] = sum(hits) / max(1, len(hits))
        table[attribute] = row
    return table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="a diffusers folder (e.g. resources/models/starter)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=4.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save", type=Path, help="write a contact sheet PNG of the clips here")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)

    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from diffusers import WanPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    pipe = WanPipeline.from_pretrained(str(args.model))
    pipe.set_progress_bar_config(disable=True)
    cases, reports, clips = [], [], []
    start = time.time()
    for seed in args.seeds:
        batch = render(pipe, prompts_for(), args.steps, args.cfg, seed)
        clips.append(batch)
        for case, clip in zip(CASES, batch, strict=True):
            report = analyse_clip(clip)
            cases.append(case)
            reports.append(report)
            if args.verbose:
                ok = "ok " if (report.colour, report.motion) == (case[0], case[2]) else "BAD"
                held = "held-out" if case[:3] in data.HELD_OUT else "seen"
                print(
                    f"{ok} {data.caption(*case):55s} {held:8s} -> {report.colour} {report.motion} "
                    f"({report.displacement[0]:+.1f}, {report.displacement[1]:+.1f})"
                )
    seconds = time.time() - start
    table = score(cases, reports)
    print(f"{len(cases)} clips, {args.steps} steps, cfg {args.cfg}, {seconds:.1f} s")
    print(f"{'attribute':10s} {'seen':>6s} {'held-out':>9s} {'all':>6s}")
    for attribute, row in table.items():
        print(f"{attribute:10s} {row['seen']:6.0%} {row['held_out']:9.0%} {row['all']:6.0%}")
    if args.save:
        import cv2

        sheet = np.concatenate([np.concatenate(list(clip), axis=1) for clip in clips[0]], axis=0)
        cv2.imwrite(str(args.save), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
