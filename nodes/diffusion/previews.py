"""Cheap step previews: a linear latent→RGB map with the factors the family declares."""

from __future__ import annotations

from typing import Any


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
