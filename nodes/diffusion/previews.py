"""Cheap step previews: a linear latent→RGB map per family (numbers in resources/preview_factors.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FACTORS_FILE = Path(__file__).resolve().parents[2] / "resources" / "preview_factors.json"


@cache
def preview_factors(family: str) -> tuple[tuple[tuple[float, float, float], ...], tuple[float, float, float]]:
    """``(factors [channels][3], bias [3])`` for ``family``; empty factors when none are known."""
    data = json.loads(FACTORS_FILE.read_text("utf-8"))
    entry = data.get(family)
    if not isinstance(entry, dict):
        return (), (0.0, 0.0, 0.0)
    factors = tuple(tuple(float(v) for v in row) for row in entry["factors"])
    bias = tuple(float(v) for v in entry.get("bias", (0.0, 0.0, 0.0)))
    return factors, bias  # type: ignore[return-value]


def latent_preview(latents: Any, fmt: Any) -> Any:
    """uint8 RGB frames ``[frames, h, w, 3]`` of the first batch item of ``latents`` [B, C, F, h, w].

    Image models with several frames (frame-by-frame) preview all of them too. Channels
    without factors (an unknown family) fall back to the first three channels.
    """
    import torch

    x = latents[0].detach().float()  # C, F, h, w
    if fmt.rgb_factors and len(fmt.rgb_factors) == x.shape[0]:
        factors = torch.tensor(fmt.rgb_factors, dtype=x.dtype, device=x.device)
        bias = torch.tensor(fmt.rgb_bias, dtype=x.dtype, device=x.device)
        rgb = torch.einsum("cfhw,cr->fhwr", x, factors) + bias
    else:
        rgb = x[:3].permute(1, 2, 3, 0)
        if rgb.shape[-1] < 3:
            rgb = rgb[..., :1].expand(*rgb.shape[:-1], 3)
    rgb = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
    return rgb.cpu().numpy()
