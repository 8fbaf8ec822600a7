"""Stable Diffusion 1.x/2.x: StableDiffusionPipeline and its img2img pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nodes.diffusion.families.base import (
    DECODE_CHUNK,
    Family,
    SampleJob,
    batch_to_frames,
    frames_to_batch,
    guided_step,
    pixels_to_unit,
    repeat_batch,
    require_steps_left,
    using_scheduler,
    vae_tiling,
)
from nodes.diffusion.families.lora_names import recognise_sd_lora
from nodes.diffusion.values import Latent, LatentFormat, ModelHandle, ModelParts
from studio.nodeapi import FamilySpec, NodeError


class StableDiffusion(Family):
    """Stable Diffusion 1.x/2.x: StableDiffusionPipeline and StableDiffusionImg2ImgPipeline."""

    img2img_class = "StableDiffusionImg2ImgPipeline"

    def img2img(self) -> Any:
        import diffusers

        return getattr(diffusers, self.img2img_class)

    def load_file(
        self,
        path: Path,
        parts: ModelParts,
        torch_dtype: Any,
        allow_pickle: bool,
        config: Path | None,
        bundled: Callable[[str], Path | None] | None = None,
    ) -> Any:
        """A full checkpoint in the original layout. With a config folder (LoadModel's ``config``, or a
        folder named after the file beside it) diffusers reads that; otherwise the app's shipped configs
        and CLIP vocabulary describe it (``bundled``: the run context's lookup of the app's files; see
        sd_files). Without ``bundled`` the default's search (config, sidecar, Hugging Face cache) applies."""
        from nodes.diffusion.families.sd_files import CHECKPOINT_PIPELINES, load_checkpoint
        from nodes.diffusion.loading import PICKLE_SUFFIXES, refuse_pickle, sidecar_config

        described = self.spec.pipelines[0] in CHECKPOINT_PIPELINES  # not AnimateDiff's motion modules
        if not described or parts.given() or config is not None or bundled is None or sidecar_config(path):
            return super().load_file(path, parts, torch_dtype, allow_pickle, config)
        refuse_pickle(path, allow_pickle)
        if path.suffix not in PICKLE_SUFFIXES and path.suffix != ".safetensors":
            raise NodeError(f"{path.name}: expected a diffusers folder or a .safetensors file")
        return load_checkpoint(self.load_class(), path, family=self.name, torch_dtype=torch_dtype, bundled=bundled)

    def latent_format(self, pipe: Any) -> LatentFormat:
        config = pipe.vae.config
        return LatentFormat(
            family=self.name,
            channels=int(pipe.unet.config.in_channels),
            scaling=float(config.scaling_factor),
            shift=float(getattr(config, "shift_factor", None) or 0.0),
            spatial=int(pipe.vae_scale_factor),
            temporal=1,
            rgb_factors=self.spec.preview_factors,
            rgb_bias=self.spec.preview_bias,
        )

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        pipe = model.pipeline
        embeds, _ = pipe.encode_prompt(text, pipe._execution_device, 1, False)
        return {"prompt_embeds": embeds}

    def _embeddings(self, job: SampleJob, n: int, cfg_on: bool, device: Any) -> Any:
        import torch

        positive = repeat_batch(job.positive.tensors["prompt_embeds"].to(device), n)
        if not cfg_on:
            return positive
        negative = repeat_batch(job.negative.tensors["prompt_embeds"].to(device), n)
        return torch.cat([negative, positive])

    def _initial_latents(self, model: ModelHandle, latent: Latent, generator: Any, device: Any, dtype: Any) -> Any:
        """The image latents img2img starts from: drawn from the VAE posterior with the sampler's
        generator (as ``retrieve_latents`` does), or the latent as it is."""
        if latent.posterior is None:
            return frames_to_batch(latent.samples).to(device=device, dtype=dtype)
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        posterior = DiagonalGaussianDistribution(latent.posterior.to(device=device, dtype=dtype))
        return self._to_diffusion(model.pipeline.vae, posterior.sample(generator=generator))

    def _to_diffusion(self, vae: Any, drawn: Any) -> Any:
        """VAE latents → the diffusion space, as the image-to-image pipeline's ``prepare_latents`` scales them."""
        config = vae.config
        shift = getattr(config, "shift_factor", None) or 0.0
        return (drawn - shift) * config.scaling_factor if shift else config.scaling_factor * drawn

    def _to_vae(self, vae: Any, latents: Any) -> Any:
        """Diffusion latents → what the VAE decodes."""
        config = vae.config
        shift = getattr(config, "shift_factor", None) or 0.0
        return latents / config.scaling_factor + shift

    def _processor(self, pipe: Any) -> Any:
        processor = getattr(pipe, "image_processor", None)
        return processor if processor is not None else pipe.video_processor

    def _before_loop(self, scheduler: Any, from_noise: bool) -> None:
        """Scheduler set-up the pipeline does right before its denoising loop (none for SD 1.x)."""

    def sample(self, model: ModelHandle, job: SampleJob) -> Any:
        import torch
        from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import retrieve_timesteps

        pipe = model.pipeline
        device = pipe._execution_device
        b, c, f, h, w = job.latent.shape
        n = b * f
        cfg_on = job.cfg > 1.0 and pipe.unet.config.time_cond_proj_dim is None
        embeds = self._embeddings(job, n, cfg_on, device)
        dtype = embeds.dtype
        scheduler = job.scheduler
        with using_scheduler(pipe, scheduler):
            timesteps, steps = retrieve_timesteps(scheduler, job.steps, device)
            if job.from_noise:
                s = pipe.vae_scale_factor
                latents = pipe.prepare_latents(n, c, h * s, w * s, dtype, device, job.generator)
            else:
                img2img = self.img2img()
                timesteps, steps = img2img.get_timesteps(pipe, steps, job.denoise, device)
                require_steps_left(steps, job)
                start = timesteps[:1].repeat(n)
                init = self._initial_latents(model, job.latent, job.generator, device, dtype)
                latents = img2img.prepare_latents(pipe, init, start, n, 1, dtype, device, job.generator)
            extra = pipe.prepare_extra_step_kwargs(job.generator, 0.0)
            timestep_cond = None
            if pipe.unet.config.time_cond_proj_dim is not None:
                scale = torch.tensor(job.cfg - 1).repeat(n)
                timestep_cond = pipe.get_guidance_scale_embedding(
                    scale, embedding_dim=pipe.unet.config.time_cond_proj_dim
                ).to(device=device, dtype=latents.dtype)
            added = self._added_cond(
                pipe, job, n, cfg_on, device, dtype, (h * pipe.vae_scale_factor, w * pipe.vae_scale_factor)
            )
            self._before_loop(scheduler, job.from_noise)
            total = len(timesteps)
            for i, t in enumerate(timesteps):
                model_input = torch.cat([latents] * 2) if cfg_on else latents
                model_input = scheduler.scale_model_input(model_input, t)
                noise_pred = pipe.unet(
                    model_input,
                    t,
                    encoder_hidden_states=embeds,
                    timestep_cond=timestep_cond,
                    added_cond_kwargs=added,
                    return_dict=False,
                )[0]
                latents, shown = guided_step(scheduler, noise_pred, t, latents, extra, job.cfg if cfg_on else None)
                job.on_step(i, total, lambda shown=shown: batch_to_frames(shown, f))
        return batch_to_frames(latents, f)

    def _added_cond(
        self, pipe: Any, job: SampleJob, n: int, cfg_on: bool, device: Any, dtype: Any, size: tuple[int, int]
    ) -> Any:
        """Extra UNet conditioning (``added_cond_kwargs``); SD 1.x/2.x has none. ``size`` is (height, width) in pixels."""
        return None

    def decode(self, model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None]) -> Any:
        import numpy as np

        pipe = model.pipeline
        vae = pipe.vae
        images = frames_to_batch(latent.samples)
        processor = self._processor(pipe)
        out = []
        with vae_tiling(vae, tiled), self._vae_precision(vae) as vae_dtype:
            for start in range(0, images.shape[0], DECODE_CHUNK):
                check_cancelled()
                chunk = images[start : start + DECODE_CHUNK].to(device=pipe._execution_device, dtype=vae_dtype)
                decoded = vae.decode(self._to_vae(vae, chunk), return_dict=False)[0]
                pixels = processor.postprocess(decoded, output_type="np")
                out.append(pixels.astype(np.float32, copy=False))
        return np.concatenate(out)

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        pipe = model.pipeline
        vae = pipe.vae
        fmt = model.latent_format
        count, height, width, _ = frames.array.shape
        self.check_size(fmt, width, height, count)
        image = self._processor(pipe).preprocess(pixels_to_unit(frames.array))
        with self._vae_precision(vae) as vae_dtype:
            dist = vae.encode(image.to(device=pipe._execution_device, dtype=vae_dtype)).latent_dist
        samples = self._to_diffusion(vae, dist.mode())
        return Latent(batch_to_frames(samples, count), fmt, posterior=dist.parameters, fps=frames.fps)

    @contextmanager
    def _vae_precision(self, vae: Any) -> Iterator[Any]:
        """The dtype the VAE runs in: its own (SDXL upcasts a float16 VAE that would overflow)."""
        yield vae.dtype


# ComfyUI's SD15 latent→RGB factors (comfy/latent_formats.py, GPL-3.0); SD 2.x shares the SD 1.x VAE.
SD_PREVIEW_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


def recognise_sd(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    """An original-layout SD 1.x/2.x checkpoint: a UNet under ``model.diffusion_model``; SD 2.x has OpenCLIP."""
    if not any(name.startswith("model.diffusion_model.input_blocks") for name in tensors):
        return None
    return "SD 2.x" if any(name.startswith("cond_stage_model.model.") for name in tensors) else "SD 1.x"


SD15 = FamilySpec(
    name="sd15",
    label="Stable Diffusion 1.x/2.x",
    pipelines=("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"),
    components=("UNet2DConditionModel", "AutoencoderKL", "CLIPTextModel"),
    recognise=recognise_sd,
    recognise_lora=recognise_sd_lora,
    preview_factors=SD_PREVIEW_FACTORS,
    adapter=StableDiffusion,
    order=30,
)
