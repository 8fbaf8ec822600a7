"""Tiny SD on the CPU: our graph vs StableDiffusionPipeline, and the cost of step previews.

Prints, all measured in this process:
- max abs difference between the graph's frames and the pipeline's (float, before uint8),
- wall time of the pipeline call vs our node chain (TextEncode, EmptyLatent, Sampler,
  VAEDecode; the model is loaded once for both) and their ratio (target ≤ 1.05),
- Sampler time with a preview on every step vs previews off, and the preview share
  measured directly (time spent building previews / sampling time; target < 3%).

Run: .venv/bin/python benchmarks/bench_sampler.py [--steps 20] [--size 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64, help="image width and height in pixels")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import numpy as np
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusion_graphs import make_context
    from tiny_models import build_sd

    import nodes.diffusion.previews as previews_module
    from studio.composition import default_registry
    from studio.engine.context import RunSettings

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    registry = default_registry(plugins=False)
    folder = build_sd(Path(tempfile.mkdtemp()) / "tiny-sd", channels=(32, 64), sample_size=args.size // 2)
    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    prompt, size, steps, cfg = "a red cat sits on the house", args.size, args.steps, 7.5

    def call(node_type, settings=None, **values):
        spec = registry[node_type]
        arguments = {p.name: None for p in spec.inputs} | spec.default_params() | values
        return spec.compute(make_context(node_type, settings=settings), **arguments)

    model = call("LoadModel", path=str(folder))["model"]

    def run_pipeline(seed):
        gen = torch.Generator("cpu").manual_seed(seed)
        return pipe(
            prompt,
            height=size,
            width=size,
            num_inference_steps=steps,
            guidance_scale=cfg,
            generator=gen,
            output_type="np",
        ).images

    def run_graph(seed, settings=None, keep_float=False):
        positive = call("TextEncode", model=model, text=prompt)["conditioning"]
        latent = call("EmptyLatent", model=model, width=size, height=size)["latent"]
        sampled = call(
            "Sampler", settings, model=model, positive=positive, latent=latent, steps=steps, cfg=cfg, seed=seed
        )["latent"]
        if keep_float:
            with torch.no_grad():
                return model.adapter.decode(model, sampled, False, lambda: None)
        return call("VAEDecode", model=model, latent=sampled)["frames"]

    diff = float(np.abs(run_graph(1, keep_float=True) - run_pipeline(1)).max())
    print(
        f"tiny SD (UNet channels 32/64), {size}x{size}, {steps} steps, cfg {cfg}, CPU float32, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"max abs difference graph vs pipeline: {diff:.3g}")

    pipe_times, graph_times = [], []
    for i in range(args.repeats):  # interleaved so drift hits both alike
        t0 = time.perf_counter()
        run_pipeline(10 + i)
        pipe_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_graph(10 + i)
        graph_times.append(time.perf_counter() - t0)
    p, g = min(pipe_times), min(graph_times)
    print("(best of each, which is least disturbed by other load on the machine)")
    print(f"pipeline call: {p * 1000:.1f} ms   graph: {g * 1000:.1f} ms   ratio graph/pipeline: {g / p:.3f}")

    # Previews: every step vs off (only the last step is always sent).
    every = RunSettings(preview_interval=0.0)
    off = RunSettings(preview_interval=1e9)
    spent = [0.0]
    original = previews_module.latent_preview

    def timed_preview(latents, fmt):
        t0 = time.perf_counter()
        try:
            return original(latents, fmt)
        finally:
            spent[0] += time.perf_counter() - t0

    positive = call("TextEncode", model=model, text=prompt)["conditioning"]
    latent = call("EmptyLatent", model=model, width=size, height=size)["latent"]
    on_times, off_times, shares = [], [], []
    for i in range(args.repeats):
        for settings, sink in ((every, on_times), (off, off_times)):
            spent[0] = 0.0
            previews_module.latent_preview = timed_preview  # model_previewer looks it up per call
            try:
                t0 = time.perf_counter()
                call("Sampler", settings, model=model, positive=positive, latent=latent, steps=steps, cfg=cfg, seed=i)
                elapsed = time.perf_counter() - t0
            finally:
                previews_module.latent_preview = original
            sink.append(elapsed)
            if settings is every:
                shares.append(spent[0] / elapsed)
    on, no = min(on_times), min(off_times)
    print(
        f"sampler with a preview every step: {on * 1000:.1f} ms   previews off: {no * 1000:.1f} ms   "
        f"ratio {on / no:.3f}"
    )
    print(f"time building previews / sampling time (every step): {statistics.median(shares) * 100:.2f}%")


if __name__ == "__main__":
    main()
