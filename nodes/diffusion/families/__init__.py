"""One adapter per model family, driving that family's diffusers pipeline with its own helpers.

The split into encode → sample → decode is ours; every number comes from diffusers: the
pipeline's ``encode_prompt``, ``prepare_latents``, ``get_timesteps`` and VAE scaling, and the
scheduler's ``set_timesteps``/``step``. Each ``sample`` follows its pipeline's ``__call__``
line by line, so a graph with the same prompt, seed, steps, cfg and scheduler gives the
pipeline's frames.

Latents travel as ``[batch, channels, frames, height, width]``. Image families (SD, SDXL)
fold frames into the batch, so a clip is sampled and decoded frame by frame.
"""

from __future__ import annotations

from nodes.diffusion.families.animatediff import AnimateDiff
from nodes.diffusion.families.base import Family, SampleJob
from nodes.diffusion.families.sd import StableDiffusion
from nodes.diffusion.families.sdxl import StableDiffusionXL
from nodes.diffusion.families.wan import Wan
from studio.engine.context import NodeError

FAMILIES: dict[str, Family] = {
    family.name: family for family in (StableDiffusion(), StableDiffusionXL(), AnimateDiff(), Wan())
}


def family_adapter(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise NodeError(f"model family {name!r} is not supported; supported: {', '.join(sorted(FAMILIES))}") from None


__all__ = [
    "FAMILIES",
    "AnimateDiff",
    "Family",
    "SampleJob",
    "StableDiffusion",
    "StableDiffusionXL",
    "Wan",
    "family_adapter",
]
