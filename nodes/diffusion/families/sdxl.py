"""SDXL: two text encoders, pooled embeddings and size/crop time ids (StableDiffusionXLPipeline)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from nodes.diffusion.families.base import SampleJob, repeat_batch
from nodes.diffusion.families.lora_names import recognise_sdxl_lora
from nodes.diffusion.families.sd import StableDiffusion
from nodes.diffusion.values import Conditioning, Latent, ModelHandle
from studio.nodeapi import FamilySpec


class StableDiffusionXL(StableDiffusion):
    """Stable Diffusion XL base: StableDiffusionXLPipeline and StableDiffusionXLImg2ImgPipeline.

    Two text encoders (hidden states concatenated, pooled embeddings from the second) and
    ``added_cond_kwargs`` with the pooled embeddings and the size/crop time ids. An unconnected
    negative prompt is zeros when the model's ``force_zeros_for_empty_prompt`` says so, as in
    diffusers. The invisible watermark diffusers adds when ``invisible-watermark`` is installed
    is not applied. Refiner models (aesthetic-score time ids) are not supported.
    """

    img2img_class = "StableDiffusionXLImg2ImgPipeline"

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        pipe = model.pipeline
        embeds, _, pooled, _ = pipe.encode_prompt(
            text, device=pipe._execution_device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        return {"prompt_embeds": embeds, "pooled_prompt_embeds": pooled}

    def unconditional(self, model: ModelHandle, positive: Conditioning) -> dict[str, Any] | None:
        if not getattr(model.pipeline.config, "force_zeros_for_empty_prompt", False):
            return None
        import torch

        return {key: torch.zeros_like(value) for key, value in positive.tensors.items()}

    def _added_cond(
        self, pipe: Any, job: SampleJob, n: int, cfg_on: bool, device: Any, dtype: Any, size: tuple[int, int]
    ) -> Any:
        import torch

        pooled = repeat_batch(job.positive.tensors["pooled_prompt_embeds"].to(device), n)
        if cfg_on:
            negative = repeat_batch(job.negative.tensors["pooled_prompt_embeds"].to(device), n)
            pooled = torch.cat([negative, pooled])
        encoder_2 = pipe.text_encoder_2
        projection = int(pooled.shape[-1]) if encoder_2 is None else encoder_2.config.projection_dim
        # original size, crop top-left (0, 0), target size: the pipelines' defaults for one size.
        time_ids = pipe._get_add_time_ids(size, (0, 0), size, dtype=dtype, text_encoder_projection_dim=projection)
        rows = 2 * n if cfg_on else n
        return {"text_embeds": pooled.to(dtype), "time_ids": time_ids.to(device).repeat(rows, 1)}

    def _initial_latents(self, model: ModelHandle, latent: Latent, generator: Any, device: Any, dtype: Any) -> Any:
        if latent.posterior is None:
            return super()._initial_latents(model, latent, generator, device, dtype)
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        # Drawn in the dtype the VAE encoded in (float32 when a float16 VAE was upcast), then cast,
        # as StableDiffusionXLImg2ImgPipeline.prepare_latents does.
        posterior = DiagonalGaussianDistribution(latent.posterior.to(device=device))
        return self._to_diffusion(model.pipeline.vae, posterior.sample(generator=generator).to(dtype))

    def _before_loop(self, scheduler: Any, from_noise: bool) -> None:
        # StableDiffusionXLPipeline sets it; the image-to-image pipeline's get_timesteps set its own.
        if from_noise and hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(0)

    def _latents_stats(self, vae: Any, like: Any) -> tuple[Any, Any] | None:
        config = vae.config
        mean = getattr(config, "latents_mean", None)
        std = getattr(config, "latents_std", None)
        if mean is None or std is None:
            return None
        import torch

        channels = len(mean)
        return (
            torch.tensor(mean).view(1, channels, 1, 1).to(like.device, like.dtype),
            torch.tensor(std).view(1, channels, 1, 1).to(like.device, like.dtype),
        )

    def _to_diffusion(self, vae: Any, drawn: Any) -> Any:
        stats = self._latents_stats(vae, drawn)
        if stats is None:
            return vae.config.scaling_factor * drawn
        mean, std = stats
        return (drawn - mean) * vae.config.scaling_factor / std

    def _to_vae(self, vae: Any, latents: Any) -> Any:
        stats = self._latents_stats(vae, latents)
        if stats is None:
            return latents / vae.config.scaling_factor
        mean, std = stats
        return latents * std / vae.config.scaling_factor + mean

    @contextmanager
    def _vae_precision(self, vae: Any) -> Iterator[Any]:
        import torch

        if vae.dtype != torch.float16 or not vae.config.force_upcast:
            yield vae.dtype
            return
        vae.to(dtype=torch.float32)  # SDXL's VAE overflows in float16, as the pipelines note
        try:
            yield torch.float32
        finally:
            vae.to(dtype=torch.float16)


def recognise_sdxl(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    """An original-layout SDXL base checkpoint: two text encoders under ``conditioner.embedders``."""
    return "SDXL" if any(name.startswith("conditioner.embedders.1") for name in tensors) else None


SDXL = FamilySpec(
    name="sdxl",
    label="Stable Diffusion XL",
    pipelines=("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline"),
    components=("UNet2DConditionModel", "AutoencoderKL", "CLIPTextModel", "CLIPTextModelWithProjection"),
    recognise=recognise_sdxl,
    recognise_lora=recognise_sdxl_lora,
    # ComfyUI's SDXL latent→RGB factors (comfy/latent_formats.py, GPL-3.0)
    preview_factors=(
        (0.3651, 0.4232, 0.4341),
        (-0.2533, -0.0042, 0.1068),
        (0.1076, 0.1111, -0.0362),
        (-0.3165, -0.2492, -0.2188),
    ),
    preview_bias=(0.1084, -0.0175, -0.0011),
    adapter=StableDiffusionXL,
    order=20,
)
