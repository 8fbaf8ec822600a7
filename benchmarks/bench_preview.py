"""How much the live preview looks like the result: PSNR of the last step's preview against the
frames VAEDecode makes from the same latent, before (the family's published factors) and after (the
factors fitted for the model, preview_factors.json), per family that has real weights here.

The decoded frames are averaged down to the preview's grid (latent pixels; each latent frame the
frames it compresses), so both are compared at the size the linear preview has.

Families: the bundled starter (a small Wan-architecture model with its own trained VAE). The real
families' published factors (SD, SDXL, Wan, LTX, CogVideoX) need their real VAE weights to measure,
and tiny TAESD decoders need real TAESD weights: neither ships or is downloaded here.

Run: .venv/bin/python benchmarks/bench_preview.py [--steps 20] [--prompts 6]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts" / "train_starter")]

PROMPTS = [
    "a red circle moving right on a blue background",
    "a yellow square moving up on a black background",
    "a white triangle moving left on a green background",
    "a green circle moving down on a red background",
    "a blue square staying still on a black background",
    "a red triangle moving right on a green background",
    "a yellow circle moving left on a blue background",
    "a white square moving down on a red background",
]


def to_grid(frames, grid):
    """uint8 [F, H, W, 3] decoded frames averaged to the preview's grid (latent frames, height, width)."""
    import numpy as np

    count, height, width = grid
    video = frames.astype(np.float64)
    if count > 1 and len(video) > count:
        step = (len(video) - 1) // (count - 1)
        video = np.stack([video[0]] + [video[1 + k * step : 1 + (k + 1) * step].mean(0) for k in range(count - 1)])
    f, h, w, c = video.shape
    return video.reshape(f, height, h // height, width, w // width, c).mean(axis=(2, 4))


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0**2 / max(mse, 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="the starter graph's own step count")
    parser.add_argument("--prompts", type=int, default=6)
    args = parser.parse_args()

    import numpy as np
    from diffusion_graphs import make_context

    from nodes.diffusion.previews import latent_preview
    from studio.composition import default_families, default_registry

    registry = default_registry(plugins=False)

    def call(node_type, **values):
        spec = registry[node_type]
        arguments = {p.name: None for p in spec.inputs} | spec.default_params() | values
        return spec.compute(make_context(node_type), **arguments)

    folder = ROOT / "resources" / "models" / "starter"  # this checkout's, with its preview_factors.json
    model = call("LoadModel", path=str(folder))["model"]
    spec = default_families(plugins=False)[model.family]
    after = model.latent_format
    before = replace(after, rgb_factors=spec.preview_factors, rgb_bias=spec.preview_bias)
    print(f"starter ({spec.label} architecture, its own VAE), {args.steps} steps, 64×64, 9 frames")
    scores = {"before": [], "after": []}
    for seed, prompt in enumerate(PROMPTS[: args.prompts]):
        positive = call("TextEncode", model=model, text=prompt)["conditioning"]
        empty = call("EmptyLatent", model=model, width=64, height=64, frames=9)["latent"]
        latent = call("Sampler", model=model, positive=positive, latent=empty, steps=args.steps, cfg=4.0, seed=seed)
        frames = call("VAEDecode", model=model, latent=latent["latent"])["frames"].array
        for name, fmt in (("before", before), ("after", after)):
            preview = latent_preview(latent["latent"].samples, fmt)  # what the last step shows
            scores[name].append(psnr(preview, to_grid(frames, preview.shape[:3])))
        print(f"  {prompt!r}: before {scores['before'][-1]:.2f} dB  after {scores['after'][-1]:.2f} dB")
    b, a = np.mean(scores["before"]), np.mean(scores["after"])
    print(f"mean PSNR of the last-step preview vs the decoded frames: before {b:.2f} dB  after {a:.2f} dB")
    print(f"improvement {a - b:+.2f} dB (mean squared error ×{10 ** ((b - a) / 10):.3f})")


if __name__ == "__main__":
    main()
