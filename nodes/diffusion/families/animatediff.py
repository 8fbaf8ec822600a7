"""AnimateDiff: an SD 1.5 UNet with a motion adapter, frames denoised together (AnimateDiffPipeline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nodes.diffusion.context_windows import clip_windows, predict_in_windows
from nodes.diffusion.families.base import (
    SampleJob,
    guided_step,
    repeat_batch,
    using_scheduler,
    video_to_video_timesteps,
)
from nodes.diffusion.families.sd import SD_PREVIEW_FACTORS, StableDiffusion
from nodes.diffusion.values import Latent, ModelHandle
from studio.nodeapi import FamilySpec, NodeError


class AnimateDiff(StableDiffusion):
    """AnimateDiff: an SD 1.x UNet with a MotionAdapter (UNetMotionModel), AnimateDiffPipeline and
    AnimateDiffVideoToVideoPipeline for denoise < 1. Frames are denoised together, not folded into
    the batch; the VAE still decodes them as images."""

    default_fps = 8.0
    v2v_chunk = 16  # AnimateDiffVideoToVideoPipeline's decode_chunk_size: frames per VAE posterior draw

    def _max_frames(self, pipe: Any) -> int | None:
        value = getattr(pipe.unet.config, "motion_max_seq_length", None)
        return int(value) if value else None

    def _check_window(self, model: ModelHandle, windows: list[slice]) -> None:
        """The motion modules see at most ``motion_max_seq_length`` frames at once: a longer clip is
        sampled in context windows (the Sampler's context_frames), each within the limit."""
        limit = self._max_frames(model.pipeline)
        size = windows[0].stop - windows[0].start
        if limit is None or size <= limit:
            return
        if len(windows) > 1:
            raise NodeError(
                f"context_frames must be at most {limit} for this {self.label} model (its motion modules' "
                f"motion_max_seq_length), got {size}"
            )
        raise NodeError(
            f"the clip has {size} frames, more than this {self.label} model's motion modules take at once "
            f"({limit}, motion_max_seq_length); set the Sampler's context_frames to at most {limit} to "
            "sample it in windows"
        )

    def _video_initial_latents(
        self, model: ModelHandle, latent: Latent, generator: Any, device: Any, dtype: Any
    ) -> Any:
        """[B, F, C, h, w] latents video-to-video starts from: drawn from the VAE posterior in chunks of
        frames with the sampler's generator (as the pipeline's ``encode_video`` does), or the latent as it is."""
        import torch

        if latent.posterior is None:
            return latent.samples.permute(0, 2, 1, 3, 4).to(device=device, dtype=dtype)
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        parameters = latent.posterior.to(device=device, dtype=dtype)  # [frames, 2C, h, w]
        drawn = [
            DiagonalGaussianDistribution(parameters[i : i + self.v2v_chunk]).sample(generator=generator)
            for i in range(0, parameters.shape[0], self.v2v_chunk)
        ]
        return self._to_diffusion(model.pipeline.vae, torch.cat(drawn).unsqueeze(0))

    def sample(self, model: ModelHandle, job: SampleJob) -> Any:
        import diffusers
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        pipe = model.pipeline
        device = pipe._execution_device
        b, c, f, h, w = job.latent.shape
        cfg_on = job.cfg > 1.0
        prompts = self._embeddings(job, b, cfg_on, device)
        embeds = prompts.repeat_interleave(repeats=f, dim=0)
        scheduler = job.scheduler
        with using_scheduler(pipe, scheduler):
            if job.from_noise:
                scheduler.set_timesteps(job.steps, device=device)
                timesteps = scheduler.timesteps
                s = pipe.vae_scale_factor
                latents = pipe.prepare_latents(b, c, f, h * s, w * s, embeds.dtype, device, job.generator)
            else:
                v2v = diffusers.AnimateDiffVideoToVideoPipeline
                timesteps = video_to_video_timesteps(v2v, pipe, scheduler, job, device)
                start = timesteps[:1].repeat(b)
                init = self._video_initial_latents(model, job.latent, job.generator, device, pipe.dtype)
                if init.shape[0] != b:
                    init = repeat_batch(init, b)
                noise = randn_tensor(init.shape, generator=job.generator, device=device, dtype=pipe.dtype)
                latents = scheduler.add_noise(init, noise, start).permute(0, 2, 1, 3, 4)
            extra = pipe.prepare_extra_step_kwargs(job.generator, 0.0)
            total = len(timesteps)
            self._check_window(model, clip_windows(f, job.context_frames, job.context_overlap, 1))
            for i, t in enumerate(timesteps):
                step = i if job.context_shift else 0  # the windows move from step to step
                windows = clip_windows(f, job.context_frames, job.context_overlap, 1, step=step)
                model_input = torch.cat([latents] * 2) if cfg_on else latents
                model_input = scheduler.scale_model_input(model_input, t)

                def predict(frames: slice, model_input: Any = model_input, t: Any = t) -> Any:
                    window = model_input[:, :, frames]
                    n = window.shape[2]
                    prompt = embeds if n == f else prompts.repeat_interleave(repeats=n, dim=0)
                    return pipe.unet(window, t, encoder_hidden_states=prompt, return_dict=False)[0]

                noise_pred = predict_in_windows(predict, f, windows)
                latents, shown = guided_step(scheduler, noise_pred, t, latents, extra, job.cfg if cfg_on else None)
                job.on_step(i, total, lambda shown=shown: shown)  # [B, C, F, h, w]: every frame
        return latents


def recognise_animatediff(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    """Motion modules, alone or merged into an SD UNet."""
    if not any("motion_modules" in name for name in tensors):
        return None
    merged = any(name.startswith("model.diffusion_model.") for name in tensors)
    return "AnimateDiff (merged checkpoint)" if merged else "AnimateDiff motion module"


ANIMATEDIFF = FamilySpec(
    name="animatediff",
    label="AnimateDiff",
    pipelines=("AnimateDiffPipeline", "AnimateDiffVideoToVideoPipeline"),
    components=("UNetMotionModel", "MotionAdapter", "AutoencoderKL", "CLIPTextModel"),
    recognise=recognise_animatediff,
    preview_factors=SD_PREVIEW_FACTORS,  # the SD 1.x VAE
    adapter=AnimateDiff,
    video=True,
    order=10,  # before SD: a merged checkpoint also holds an SD UNet
)
