"""The Sampler's step caching (speedup) on small Wan and SD models on the CPU: speed-up and PSNR per method.

For each family and each method it supports, one sampling run at the method's default threshold (and
the thresholds given with --thresholds) against the uncached run at the same steps, all in this process:
- CPU seconds of the Sampler on one torch thread (process time: the figures hold on a machine other
  programs share, where wall time swings with their load) and the speed-up (uncached / cached),
- the share of attention rows still computed (what the cache skipped, independent of timing),
- PSNR in dB of the decoded frames against the uncached run's (higher is closer; ∞ = identical).
MagCache's first run with a model measures it (uncached); its measuring run is timed separately.

The models are random and small (a Wan transformer of 8 blocks at width 256 on 17 frames of
96×96; an SD UNet of 64/128 channels at 128×128), as large as keeps a run at a few CPU seconds.
Per-step overhead (scheduler, hooks, Python) weighs more here than on a real 1.3B-14B model, where
the skipped blocks dominate, so real speed-ups are larger; a UNet spends most of its time in
convolutions, which taylorseer and pab (attention only) do not skip. Random weights also change
across steps unlike a trained model's, so PSNR says how far a method moves the result, not how
good a real picture looks.

Run: .venv/bin/python benchmarks/bench_speedup.py [--steps 12] [--family wan,sd]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def build_wan_model(folder: Path) -> Path:
    """The tiny Wan pipeline of the tests with a larger transformer."""
    import torch
    from diffusers import WanPipeline, WanTransformer3DModel
    from tiny_models import wan_components

    parts = wan_components()
    torch.manual_seed(0)
    parts["transformer"] = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=4,
        attention_head_dim=64,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=1024,
        num_layers=8,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=64,
    ).eval()
    WanPipeline(**parts).save_pretrained(folder, safe_serialization=True)
    return folder


def psnr(out, reference) -> float:
    mse = float(((out - reference) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--family", default="wan,sd")
    parser.add_argument("--thresholds", default="", help="extra runs, e.g. first_block=0.2,pab=3")
    args = parser.parse_args()

    import torch
    from diffusion_graphs import make_context
    from tiny_models import build_sd

    from studio.composition import default_registry

    torch.set_num_threads(1)  # process time then measures this run's work alone
    registry = default_registry(plugins=False)
    extra = [item.split("=") for item in args.thresholds.split(",") if item]

    def call(node_type, **values):
        spec = registry[node_type]
        arguments = {p.name: None for p in spec.inputs} | spec.default_params() | values
        return spec.compute(make_context(node_type), **arguments)

    tmp = Path(tempfile.mkdtemp())
    setups = {
        "wan": (lambda: build_wan_model(tmp / "wan"), dict(width=96, height=96, frames=17), 5.0),
        "sd": (lambda: build_sd(tmp / "sd", channels=(64, 128), sample_size=64), dict(width=128, height=128), 7.5),
    }
    print(f"{'family':6} {'speedup':12} {'threshold':>9} {'CPU s':>8} {'speed-up':>8} {'attention':>9} {'PSNR dB':>8}")
    for family in args.family.split(","):
        build, size, cfg = setups[family]
        model = call("LoadModel", path=str(build()))["model"]
        bench_family(call, family, model, size, cfg, args.steps, extra)


def bench_family(call, family: str, model, size: dict, cfg: float, steps: int, extra: list) -> None:
    import torch

    from nodes.diffusion.speedups import DEFAULT_THRESHOLDS, denoisers, supported

    positive = call("TextEncode", model=model, text="a red cat runs under the big tree")["conditioning"]
    negative = call("TextEncode", model=model, text="a blue sky")["conditioning"]
    latent = call("EmptyLatent", model=model, **size)["latent"]
    rows = [0]

    def count(_module, args, _output):
        rows[0] += args[0].shape[0]

    for name, module in denoisers(model)[0].named_modules():
        if name.endswith(".to_q"):
            module.register_forward_hook(count)

    def sample(speedup="none", threshold=0.0):
        rows[0] = 0
        start = time.process_time()
        out = call(
            "Sampler",
            model=model,
            positive=positive,
            negative=negative,
            latent=latent,
            steps=steps,
            cfg=cfg,
            seed=3,
            speedup=speedup,
            speedup_threshold=threshold,
        )["latent"]
        seconds = time.process_time() - start
        with torch.no_grad():
            frames = torch.from_numpy(model.adapter.decode(model, out, False, lambda: None))
        return seconds, rows[0], frames

    sample()  # warm-up: first-call allocations and lazy imports
    base_seconds, base_rows, base = sample()
    print(f"{family:6} {'none':12} {'':>9} {base_seconds:8.2f} {1.0:8.2f} {1.0:9.0%} {'∞':>8}", flush=True)
    methods = supported(denoisers(model)[0])
    runs = [(m, DEFAULT_THRESHOLDS[m]) for m in methods] + [(m, float(t)) for m, t in extra if m in methods]
    for method, threshold in runs:
        if method == "mag" and "mag_ratios" not in model.memo:
            seconds, _, _ = sample(method, threshold)
            print(f"{family:6} {'mag measure':12} {'':>9} {seconds:8.2f} {base_seconds / seconds:8.2f}", flush=True)
        seconds, used, frames = sample(method, threshold)
        print(
            f"{family:6} {method:12} {threshold:9g} {seconds:8.2f} {base_seconds / seconds:8.2f} "
            f"{used / base_rows:9.0%} {psnr(frames, base):8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
