"""Fit a model's latent→RGB preview factors by least squares against its own VAE decode.

    python scripts/fit_preview_factors.py [MODEL_FOLDER] [--clips 96] [--write]

MODEL_FOLDER is a diffusers folder (default: the bundled starter model). Clips are encoded with the
model's VAE, normalised as the sampler sees them (the diffusion-space latent), decoded again, and the
decoded video, averaged down to the latent grid (space and time), is the target: the fit finds the
linear map + bias that best turns a latent pixel into the colour the VAE would decode there. It
prints the error of the family's published factors and of the fit on held-out clips; ``--write``
stores the fit as ``preview_factors.json`` in the model folder, which LoadModel then prefers.

Data: the starter model's own training clips (scripts/train_starter/data.py) for the starter,
random colour fields with shapes otherwise. The published factors of the real families (SD, SDXL,
Wan, LTX, CogVideoX) were fitted by their authors on real VAEs and photographs; fitting them again
needs those VAE weights, which this repository never downloads.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FACTORS_FILE = "preview_factors.json"


def load_vae(folder: Path):
    """The model's VAE and a function turning its raw latent into the sampler's (diffusion-space) latent."""
    import diffusers

    config = json.loads((folder / "vae" / "config.json").read_text())
    cls = getattr(diffusers, config["_class_name"])
    vae = cls.from_pretrained(folder / "vae", use_safetensors=True).eval()
    if "latents_mean" in config and config.get("latents_mean"):  # Wan: per-channel mean and std
        mean = torch.tensor(config["latents_mean"]).view(1, -1, 1, 1, 1)
        std = torch.tensor(config["latents_std"]).view(1, -1, 1, 1, 1)
        return vae, lambda z: (z - mean) / std, lambda z: z * std + mean
    scaling, shift = config.get("scaling_factor", 1.0), config.get("shift_factor") or 0.0
    return vae, lambda z: (z - shift) * scaling, lambda z: z / scaling + shift


def clips(count: int, seed: int, starter: bool) -> np.ndarray:
    """uint8 [N, 9, 64, 64, 3] clips: the starter's training data, or random colour fields with shapes."""
    rng = np.random.default_rng(seed)
    if starter:
        sys.path.insert(0, str(ROOT / "scripts" / "train_starter"))
        from data import sample_clip

        return np.stack([sample_clip(rng, "all", layout="anywhere")[0] for _ in range(count)])
    import cv2

    out = np.empty((count, 9, 64, 64, 3), np.uint8)
    for i in range(count):
        frame = np.empty((64, 64, 3), np.uint8)
        frame[:] = rng.integers(0, 256, 3)
        for _ in range(3):
            centre = tuple(int(v) for v in rng.integers(0, 64, 2))
            cv2.circle(frame, centre, int(rng.integers(4, 20)), tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
        out[i] = frame
    return out


@torch.no_grad()
def latents_and_targets(vae, normalise, denormalise, video: np.ndarray, batch: int = 8):
    """Per latent pixel: the diffusion-space latent [n, C] and the colour the VAE decodes there [n, 3]."""
    xs, ys = [], []
    for start in range(0, len(video), batch):
        x = torch.from_numpy(video[start : start + batch]).float().div(127.5).sub(1).permute(0, 4, 1, 2, 3)
        z = normalise(vae.encode(x).latent_dist.mode())
        decoded = vae.decode(denormalise(z)).sample.clamp(-1, 1)  # [B, 3, T, H, W]
        xs.append(z.permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1]))
        ys.append(to_latent_grid(decoded, z.shape[2:]).permute(0, 2, 3, 4, 1).reshape(-1, 3))
    return torch.cat(xs), torch.cat(ys)


def to_latent_grid(video: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """Average a decoded video [B, 3, T, H, W] down to the latent's grid (frames, height, width):
    the first latent frame is the first frame, each later one the frames it compresses."""
    frames, height, width = grid
    video = video.float()
    t = video.shape[2]
    if frames > 1 and t > frames:
        step = (t - 1) // (frames - 1)
        groups = [video[:, :, :1]] + [video[:, :, 1 + k * step : 1 + (k + 1) * step] for k in range(frames - 1)]
        video = torch.cat([g.mean(dim=2, keepdim=True) for g in groups], dim=2)
    b, c, f, h, w = video.shape
    pooled = torch.nn.functional.adaptive_avg_pool2d(
        video.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w), (height, width)
    )
    return pooled.reshape(b, f, c, height, width).permute(0, 2, 1, 3, 4)


def fit(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least squares: factors [C, 3] and bias [3] minimising |x @ factors + bias - y|²."""
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    solution = torch.linalg.lstsq(design, y.double()).solution
    return solution[:-1].float(), solution[-1].float()


def error(x, y, factors, bias) -> tuple[float, float]:
    """RMSE on the -1..1 scale and the PSNR it means for 8-bit colour (peak-to-peak 2)."""
    rmse = float(((x @ factors + bias).clamp(-1, 1) - y).pow(2).mean().sqrt())
    return rmse, 20 * math.log10(2 / max(rmse, 1e-9))


def compact_json(record: dict) -> str:
    """JSON with one line per factor row, so a diff shows which channel changed."""
    lines = []
    for key, value in record.items():
        if key == "rgb_factors":
            rows = ",\n".join("  " + json.dumps(row) for row in value)
            lines.append(f' "{key}": [\n{rows}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "resources" / "models" / "starter"))
    parser.add_argument("--clips", type=int, default=96, help="clips to fit on (as many again are held out)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"store the fit as {FACTORS_FILE} in the folder")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    torch.manual_seed(args.seed)
    starter = folder.resolve() == (ROOT / "resources" / "models" / "starter").resolve()

    from studio.composition import default_families

    spec = default_families(plugins=False).of_folder(folder)
    vae, normalise, denormalise = load_vae(folder)
    train = latents_and_targets(vae, normalise, denormalise, clips(args.clips, args.seed, starter))
    held = latents_and_targets(vae, normalise, denormalise, clips(args.clips, args.seed + 1, starter))
    factors, bias = fit(*train)
    print(f"model: {folder} ({spec.label if spec else 'unknown family'}), {train[0].shape[1]} latent channels")
    print(
        f"data: {'the starter training clips' if starter else 'random colour fields'}, {args.clips} clips to fit, {args.clips} held out"
    )
    if spec is not None and len(spec.preview_factors) == train[0].shape[1]:
        published = torch.tensor(spec.preview_factors), torch.tensor(spec.preview_bias)
        rmse, psnr = error(*held, *published)
        print(f"family factors (before): RMSE {rmse:.4f}  PSNR {psnr:.2f} dB on held-out clips")
    rmse, psnr = error(*held, factors, bias)
    print(f"fitted factors (after):  RMSE {rmse:.4f}  PSNR {psnr:.2f} dB on held-out clips")
    fit_rmse, _ = error(*train, factors, bias)
    print(f"fit error on its own clips: RMSE {fit_rmse:.4f}")
    if args.write:
        record = {
            "format": "studio.preview_factors",
            "version": 1,
            "rgb_factors": [[round(float(v), 5) for v in row] for row in factors],
            "rgb_bias": [round(float(v), 5) for v in bias],
            "fit": {
                "method": "least squares against the model's own VAE decode, averaged to the latent grid",
                "data": "starter training clips" if starter else "random colour fields",
                "clips": args.clips,
                "held_out_rmse": round(rmse, 5),
                "held_out_psnr_db": round(psnr, 2),
            },
        }
        path = folder / FACTORS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(compact_json(record))
        tmp.replace(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
