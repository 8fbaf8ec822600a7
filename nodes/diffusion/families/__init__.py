"""One adapter per model family, driving that family's diffusers pipeline with its own helpers.

The split into encode → sample → decode is ours; every number comes from diffusers: the
pipeline's ``encode_prompt``, ``prepare_latents``, ``get_timesteps`` and VAE scaling, and the
scheduler's ``set_timesteps``/``step``. Each ``sample`` follows its pipeline's ``__call__``
line by line, so a graph with the same prompt, seed, steps, cfg and scheduler gives the
pipeline's frames.

Each family module ends with its declaration (a ``FamilySpec``: pipelines, how its files are
recognised, preview factors, the adapter); ``builtin_families`` lists them for the registry.

Latents travel as ``[batch, channels, frames, height, width]``. Image families (SD, SDXL)
fold frames into the batch, so a clip is sampled and decoded frame by frame.
"""

from __future__ import annotations

from nodes.diffusion.families.animatediff import ANIMATEDIFF, AnimateDiff
from nodes.diffusion.families.base import Family, SampleJob
from nodes.diffusion.families.cogvideox import COGVIDEOX, CogVideoX
from nodes.diffusion.families.ltx import LTX, LTXVideo
from nodes.diffusion.families.sd import SD15, StableDiffusion
from nodes.diffusion.families.sdxl import SDXL, StableDiffusionXL
from nodes.diffusion.families.wan import WAN, Wan
from studio.nodeapi import FamilySpec


def builtin_families() -> list[FamilySpec]:
    """Every built-in family declaration. A new family adds one line here."""
    return [SD15, SDXL, ANIMATEDIFF, WAN, LTX, COGVIDEOX]


BUILTIN_FAMILY_NAMES = tuple(sorted(spec.name for spec in builtin_families()))

__all__ = [
    "BUILTIN_FAMILY_NAMES",
    "AnimateDiff",
    "CogVideoX",
    "Family",
    "LTXVideo",
    "SampleJob",
    "StableDiffusion",
    "StableDiffusionXL",
    "Wan",
    "builtin_families",
]
