"""CogVideoX text-, image- and video-to-video (CogVideoXPipeline, CogVideoXImageToVideoPipeline,
CogVideoXVideoToVideoPipeline for denoise < 1).

CogVideoX works on latents ``[batch, frames, channels, height, width]``; the wires carry
``[batch, channels, frames, height, width]``, so ``sample`` permutes at its boundaries. An
image-to-video transformer (twice the latent channels in) takes the encoded first frame,
padded with zero frames, as extra channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from nodes.diffusion.families.base import (
    Family,
    SampleJob,
    decode_clips,
    pixels_to_unit,
    repeat_batch,
    require_steps_left,
    using_scheduler,
)
from nodes.diffusion.values import Latent, LatentFormat, ModelHandle
from studio.nodeapi import FamilySpec, NodeError


def dynamic_guidance(cfg: float, t: Any, steps: int) -> float:
    """CogVideoX's ``use_dynamic_cfg`` scale at timestep ``t`` (the pipelines' formula, as written)."""
    return 1 + cfg * ((1 - math.cos(math.pi * ((steps - t.item()) / steps) ** 5.0)) / 2)


class CogVideoX(Family):
    """CogVideoX 1.0/1.5: CogVideoXPipeline's steps, with CogVideoXImageToVideoPipeline's start for
    ``first_frame`` and CogVideoXVideoToVideoPipeline's for denoise < 1."""

    default_fps = 8.0
    frame_examples = "49, 81"
    image_inputs = frozenset({"first_frame"})
    # The pipelines' default (False); CogVideoX 5B's examples turn it on.
    use_dynamic_cfg = False

    def latent_format(self, pipe: Any) -> LatentFormat:
        return LatentFormat(
            family=self.name,
            channels=int(pipe.vae.config.latent_channels),
            scaling=float(pipe.vae_scaling_factor_image),
            shift=0.0,
            spatial=int(pipe.vae_scale_factor_spatial),
            temporal=int(pipe.vae_scale_factor_temporal),
            rgb_factors=self.spec.preview_factors,
            rgb_bias=self.spec.preview_bias,
        )

    def size_multiple(self, fmt: LatentFormat) -> int:
        return fmt.spatial * 2  # the transformer patchifies 2×2 latent pixels

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        pipe = model.pipeline
        embeds, _ = pipe.encode_prompt(
            prompt=text,
            do_classifier_free_guidance=False,
            max_sequence_length=int(pipe.transformer.config.max_text_seq_length),
            device=pipe._execution_device,
        )
        return {"prompt_embeds": embeds}

    def _is_image_to_video(self, pipe: Any) -> bool:
        return int(pipe.transformer.config.in_channels) == 2 * int(pipe.vae.config.latent_channels)

    def _start(self, pipe: Any, job: SampleJob, size: tuple, dtype: Any, device: Any) -> tuple[Any, Any]:
        """The starting noise and, for an image-to-video model, the image latents, as the pipeline draws them."""
        import diffusers

        b, c, num_frames, height, width = size
        if not self._is_image_to_video(pipe):
            if job.first_frame is not None:
                raise NodeError(f"first_frame: this {self.label} model is text-to-video; load an image-to-video one")
            return pipe.prepare_latents(b, c, num_frames, height, width, dtype, device, job.generator), None
        if job.first_frame is None:
            raise NodeError(f"first_frame: this {self.label} model is image-to-video; connect an image")
        image = pipe.video_processor.preprocess(pixels_to_unit(job.first_frame)[None], height=height, width=width)
        image = repeat_batch(image.to(device, dtype=dtype), b)
        i2v = diffusers.CogVideoXImageToVideoPipeline
        return i2v.prepare_latents(pipe, image, b, c, num_frames, height, width, dtype, device, job.generator)

    def _noised(self, pipe: Any, job: SampleJob, timestep: Any, dtype: Any, device: Any) -> Any:
        """Video-to-video's start, as CogVideoXVideoToVideoPipeline.prepare_latents makes it: the encoded
        clip drawn from its VAE posterior with the sampler's generator, noised to the first timestep."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
        from diffusers.utils.torch_utils import randn_tensor

        if self._is_image_to_video(pipe):
            raise NodeError(f"denoise {job.denoise:g}: {self.label} image-to-video models start from noise; use 1.0")
        latent = job.latent
        frames = latent.shape[2]
        patch_t = pipe.transformer.config.patch_size_t
        if patch_t is not None and frames % patch_t:
            raise NodeError(f"latent: video-to-video needs a multiple of {patch_t} latent frames, got {frames}")
        if latent.posterior is None:
            init = latent.samples.to(device, dtype)
        else:
            drawn = DiagonalGaussianDistribution(latent.posterior.to(device)).sample(generator=job.generator)
            init = pipe.vae_scaling_factor_image * drawn.to(dtype)
        init = init.permute(0, 2, 1, 3, 4)  # [B, F, C, H, W]
        noise = randn_tensor(init.shape, generator=job.generator, device=device, dtype=dtype)
        return pipe.scheduler.add_noise(init, noise, timestep) * pipe.scheduler.init_noise_sigma

    def sample(self, model: ModelHandle, job: SampleJob) -> Any:
        import diffusers
        import torch
        from diffusers import CogVideoXDPMScheduler
        from diffusers.pipelines.cogvideo.pipeline_cogvideox import retrieve_timesteps

        if job.context_frames:
            raise NodeError(
                f"context_frames {job.context_frames}: {self.label} samples the whole clip at once "
                "(sliding windows are for Wan and AnimateDiff); set it to 0"
            )
        pipe = model.pipeline
        device = pipe._execution_device
        transformer = pipe.transformer
        fmt = model.latent_format
        b, c, f, h, w = job.latent.shape
        dtype = job.positive.tensors["prompt_embeds"].dtype  # the pipeline's latents take the prompt's dtype
        embeds = repeat_batch(job.positive.tensors["prompt_embeds"].to(device), b)
        cfg_on = job.cfg > 1.0
        if cfg_on:
            negative = repeat_batch(job.negative.tensors["prompt_embeds"].to(device, embeds.dtype), b)
            embeds = torch.cat([negative, embeds])
        scheduler = job.scheduler
        height, width = h * fmt.spatial, w * fmt.spatial
        with using_scheduler(pipe, scheduler):
            timesteps, steps = retrieve_timesteps(scheduler, job.steps, device)
            if job.from_noise:
                patch_t = transformer.config.patch_size_t
                padding = patch_t - f % patch_t if patch_t is not None and f % patch_t else 0  # CogVideoX 1.5
                num_frames = fmt.pixel_frames(f) + padding * fmt.temporal
                latents, image_latents = self._start(pipe, job, (b, c, num_frames, height, width), dtype, device)
            else:
                v2v = diffusers.CogVideoXVideoToVideoPipeline
                timesteps, steps = v2v.get_timesteps(pipe, steps, timesteps, job.denoise, device)
                require_steps_left(steps, job)
                padding, image_latents = 0, None
                latents = self._noised(pipe, job, timesteps[:1].repeat(b), dtype, device)
            extra = pipe.prepare_extra_step_kwargs(job.generator, 0.0)
            rotary = None
            if transformer.config.use_rotary_positional_embeddings:
                rotary = pipe._prepare_rotary_positional_embeddings(height, width, latents.size(1), device)
            ofs = None
            if image_latents is not None and transformer.config.ofs_embed_dim is not None:
                ofs = latents.new_full((1,), fill_value=2.0)
            dpm = isinstance(scheduler, CogVideoXDPMScheduler)
            old_pred_original_sample = None
            total = len(timesteps)
            for i, t in enumerate(timesteps):
                model_input = torch.cat([latents] * 2) if cfg_on else latents
                model_input = scheduler.scale_model_input(model_input, t)
                if image_latents is not None:
                    image_input = torch.cat([image_latents] * 2) if cfg_on else image_latents
                    model_input = torch.cat([model_input, image_input], dim=2)
                noise_pred = transformer(
                    hidden_states=model_input,
                    encoder_hidden_states=embeds,
                    timestep=t.expand(model_input.shape[0]),
                    ofs=ofs,
                    image_rotary_emb=rotary,
                    return_dict=False,
                )[0].float()
                if cfg_on:
                    scale = dynamic_guidance(job.cfg, t, steps) if self.use_dynamic_cfg else job.cfg
                    uncond, cond = noise_pred.chunk(2)
                    noise_pred = uncond + scale * (cond - uncond)
                if dpm:
                    back = timesteps[i - 1] if i > 0 else None
                    latents, old_pred_original_sample = scheduler.step(
                        noise_pred, old_pred_original_sample, t, back, latents, **extra, return_dict=False
                    )
                else:
                    latents = scheduler.step(noise_pred, t, latents, **extra, return_dict=False)[0]
                latents = latents.to(dtype)
                job.on_step(i, total, lambda latents=latents: latents[:, padding:].permute(0, 2, 1, 3, 4))
        return latents[:, padding:].permute(0, 2, 1, 3, 4)

    def decode(self, model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None]) -> Any:
        pipe = model.pipeline

        def decode(latents: Any) -> Any:
            return pipe.vae.decode(latents.to(dtype=pipe.vae.dtype) / pipe.vae_scaling_factor_image).sample

        return decode_clips(model, latent, tiled, check_cancelled, decode)

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        """A clip's latent (the posterior's mode, scaled) with the posterior the sampler draws from."""
        import torch

        pipe = model.pipeline
        vae = pipe.vae
        fmt = model.latent_format
        count, height, width, _ = frames.array.shape
        self.check_size(fmt, width, height, count)
        video = pipe.video_processor.preprocess_video(pixels_to_unit(frames.array)[None], height=height, width=width)
        dist = vae.encode(video.to(pipe._execution_device, dtype=vae.dtype)).latent_dist
        samples = (dist.mode() * pipe.vae_scaling_factor_image).to(torch.float32)
        return Latent(samples, fmt, posterior=dist.parameters, fps=frames.fps)


COGVIDEOX = FamilySpec(
    name="cogvideox",
    label="CogVideoX",
    pipelines=("CogVideoXPipeline", "CogVideoXImageToVideoPipeline", "CogVideoXVideoToVideoPipeline"),
    components=("CogVideoXTransformer3DModel", "AutoencoderKLCogVideoX", "T5EncoderModel"),
    # diffusers 0.42 has no single-file loader for CogVideoX: diffusers folders only.
    recognise=None,
    # ComfyUI's latent_formats.py publishes no CogVideoX factors: previews show the first three channels.
    preview_factors=(),
    adapter=CogVideoX,
    video=True,
    order=60,
)
