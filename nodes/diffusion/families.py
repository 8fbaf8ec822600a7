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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nodes.diffusion.previews import preview_factors
from nodes.diffusion.values import Conditioning, Latent, LatentFormat, ModelHandle
from studio.engine.context import NodeError

DECODE_CHUNK = 8  # image frames decoded at once: bounds VAE memory on long clips


@dataclass
class SampleJob:
    """Everything one Sampler run needs besides the model."""

    positive: Conditioning
    negative: Conditioning
    latent: Latent
    steps: int
    cfg: float
    scheduler: Any
    generator: Any
    denoise: float
    # on_step(index, total, make_preview_latents) is called after every scheduler step.
    on_step: Callable[[int, int, Callable[[], Any]], None]

    @property
    def from_noise(self) -> bool:
        """Text-to-image/video: an empty latent fully denoised starts from pure noise."""
        return self.latent.empty and self.denoise >= 1.0


@contextmanager
def using_scheduler(pipe: Any, scheduler: Any) -> Iterator[None]:
    """Let the pipeline's own helpers (which read ``self.scheduler``) see this run's scheduler.

    Set through ``__dict__`` so the pipeline's config is not rewritten; restored afterwards.
    """
    previous = pipe.__dict__.get("scheduler")
    pipe.__dict__["scheduler"] = scheduler
    try:
        yield
    finally:
        pipe.__dict__["scheduler"] = previous


@contextmanager
def vae_tiling(vae: Any, tiled: bool) -> Iterator[None]:
    was = bool(getattr(vae, "use_tiling", False))
    if tiled != was and hasattr(vae, "enable_tiling"):
        vae.enable_tiling() if tiled else vae.disable_tiling()
    try:
        yield
    finally:
        if tiled != was and hasattr(vae, "enable_tiling"):
            vae.enable_tiling() if was else vae.disable_tiling()


def frames_to_batch(x: Any) -> Any:
    """[B, C, F, H, W] → [B*F, C, H, W] (image families sample frames as a batch)."""
    b, c, f, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)


def batch_to_frames(x: Any, frames: int) -> Any:
    n, c, h, w = x.shape
    return x.reshape(n // frames, frames, c, h, w).permute(0, 2, 1, 3, 4)


def repeat_batch(tensor: Any, n: int) -> Any:
    """Repeat one prompt's embeddings for ``n`` samples, as ``num_images_per_prompt`` does."""
    if tensor.shape[0] == n:
        return tensor
    if tensor.shape[0] != 1:
        raise NodeError(f"conditioning holds {tensor.shape[0]} prompts but the latent has {n} samples")
    return tensor.repeat(n, *([1] * (tensor.ndim - 1)))


def _pixels_to_unit(array: Any) -> Any:
    """uint8 [F, H, W, 3] → float32 in 0..1, exactly as diffusers' ``pil_to_numpy`` computes it."""
    import numpy as np

    return array.astype(np.float32) / 255.0


class Family:
    """The interface every family adapter implements."""

    name = ""
    label = ""
    pipeline_class = ""
    flow_matching = False
    video = False
    default_fps = 24.0

    def load_class(self) -> Any:
        import diffusers

        return getattr(diffusers, self.pipeline_class)

    def latent_format(self, pipe: Any) -> LatentFormat:
        raise NotImplementedError

    def check_size(self, fmt: LatentFormat, width: int, height: int, frames: int) -> None:
        multiple = self.size_multiple(fmt)
        for name, value in (("width", width), ("height", height)):
            if value % multiple:
                raise NodeError(f"{name} must be divisible by {multiple} for {self.label}, got {value}")

    def size_multiple(self, fmt: LatentFormat) -> int:
        return fmt.spatial

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def unconditional(self, model: ModelHandle, positive: Conditioning) -> dict[str, Any] | None:
        """The negative embeddings when the Sampler's negative is unconnected, where the pipeline does not
        encode the empty prompt (SDXL's zeros); None: encode the empty prompt."""
        return None

    def empty_latent(self, model: ModelHandle, width: int, height: int, frames: int, batch: int) -> Latent:
        import torch

        fmt = model.latent_format
        self.check_size(fmt, width, height, frames)
        latent_frames = frames if fmt.temporal == 1 else (frames - 1) // fmt.temporal + 1
        shape = (batch, fmt.channels, latent_frames, height // fmt.spatial, width // fmt.spatial)
        return Latent(torch.zeros(shape, dtype=torch.float32), fmt, empty=True)

    def sample(self, model: ModelHandle, job: SampleJob) -> Any:
        raise NotImplementedError

    def decode(self, model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None]) -> Any:
        raise NotImplementedError

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        raise NotImplementedError


class StableDiffusion(Family):
    """Stable Diffusion 1.x/2.x: StableDiffusionPipeline and StableDiffusionImg2ImgPipeline."""

    name = "sd15"
    label = "Stable Diffusion 1.x/2.x"
    pipeline_class = "StableDiffusionPipeline"
    img2img_class = "StableDiffusionImg2ImgPipeline"

    def img2img(self) -> Any:
        import diffusers

        return getattr(diffusers, self.img2img_class)

    def latent_format(self, pipe: Any) -> LatentFormat:
        factors, bias = preview_factors(self.name)
        config = pipe.vae.config
        return LatentFormat(
            family=self.name,
            channels=int(pipe.unet.config.in_channels),
            scaling=float(config.scaling_factor),
            shift=float(getattr(config, "shift_factor", None) or 0.0),
            spatial=int(pipe.vae_scale_factor),
            temporal=1,
            rgb_factors=factors,
            rgb_bias=bias,
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
                if steps == 0:
                    raise NodeError(f"denoise {job.denoise:g} with {job.steps} steps leaves no step to run")
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
                if cfg_on:
                    uncond, cond = noise_pred.chunk(2)
                    noise_pred = uncond + job.cfg * (cond - uncond)
                out = scheduler.step(noise_pred, t, latents, **extra, return_dict=True)
                latents = out.prev_sample
                shown = getattr(out, "pred_original_sample", None)
                shown = latents if shown is None else shown
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
        image = self._processor(pipe).preprocess(_pixels_to_unit(frames.array))
        with self._vae_precision(vae) as vae_dtype:
            dist = vae.encode(image.to(device=pipe._execution_device, dtype=vae_dtype)).latent_dist
        samples = self._to_diffusion(vae, dist.mode())
        return Latent(batch_to_frames(samples, count), fmt, posterior=dist.parameters, fps=frames.fps)

    @contextmanager
    def _vae_precision(self, vae: Any) -> Iterator[Any]:
        """The dtype the VAE runs in: its own (SDXL upcasts a float16 VAE that would overflow)."""
        yield vae.dtype


class StableDiffusionXL(StableDiffusion):
    """Stable Diffusion XL base: StableDiffusionXLPipeline and StableDiffusionXLImg2ImgPipeline.

    Two text encoders (hidden states concatenated, pooled embeddings from the second) and
    ``added_cond_kwargs`` with the pooled embeddings and the size/crop time ids. An unconnected
    negative prompt is zeros when the model's ``force_zeros_for_empty_prompt`` says so, as in
    diffusers. The invisible watermark diffusers adds when ``invisible-watermark`` is installed
    is not applied. Refiner models (aesthetic-score time ids) are not supported.
    """

    name = "sdxl"
    label = "Stable Diffusion XL"
    pipeline_class = "StableDiffusionXLPipeline"
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


class AnimateDiff(StableDiffusion):
    """AnimateDiff: an SD 1.x UNet with a MotionAdapter (UNetMotionModel), AnimateDiffPipeline and
    AnimateDiffVideoToVideoPipeline for denoise < 1. Frames are denoised together, not folded into
    the batch; the VAE still decodes them as images."""

    name = "animatediff"
    label = "AnimateDiff"
    pipeline_class = "AnimateDiffPipeline"
    video = True
    default_fps = 8.0
    v2v_chunk = 16  # AnimateDiffVideoToVideoPipeline's decode_chunk_size: frames per VAE posterior draw

    def _max_frames(self, pipe: Any) -> int | None:
        value = getattr(pipe.unet.config, "motion_max_seq_length", None)
        return int(value) if value else None

    def empty_latent(self, model: ModelHandle, width: int, height: int, frames: int, batch: int) -> Latent:
        self._check_frames(model, frames)
        return super().empty_latent(model, width, height, frames, batch)

    def _check_frames(self, model: ModelHandle, frames: int) -> None:
        limit = self._max_frames(model.pipeline)
        if limit is not None and frames > limit:
            raise NodeError(
                f"frames must be at most {limit} for this {self.label} model (its motion modules' "
                f"motion_max_seq_length), got {frames}"
            )

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        self._check_frames(model, frames.array.shape[0])
        return super().encode_frames(model, frames)

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
        from diffusers.pipelines.animatediff.pipeline_animatediff_video2video import retrieve_timesteps
        from diffusers.utils.torch_utils import randn_tensor

        pipe = model.pipeline
        device = pipe._execution_device
        b, c, f, h, w = job.latent.shape
        cfg_on = job.cfg > 1.0
        embeds = self._embeddings(job, b, cfg_on, device).repeat_interleave(repeats=f, dim=0)
        scheduler = job.scheduler
        with using_scheduler(pipe, scheduler):
            if job.from_noise:
                scheduler.set_timesteps(job.steps, device=device)
                timesteps = scheduler.timesteps
                s = pipe.vae_scale_factor
                latents = pipe.prepare_latents(b, c, f, h * s, w * s, embeds.dtype, device, job.generator)
            else:
                v2v = diffusers.AnimateDiffVideoToVideoPipeline
                timesteps, steps = retrieve_timesteps(scheduler, job.steps, device)
                timesteps, steps = v2v.get_timesteps(pipe, steps, timesteps, job.denoise, device)
                if steps == 0:
                    raise NodeError(f"denoise {job.denoise:g} with {job.steps} steps leaves no step to run")
                start = timesteps[:1].repeat(b)
                init = self._video_initial_latents(model, job.latent, job.generator, device, pipe.dtype)
                if init.shape[0] != b:
                    init = repeat_batch(init, b)
                noise = randn_tensor(init.shape, generator=job.generator, device=device, dtype=pipe.dtype)
                latents = scheduler.add_noise(init, noise, start).permute(0, 2, 1, 3, 4)
            extra = pipe.prepare_extra_step_kwargs(job.generator, 0.0)
            total = len(timesteps)
            for i, t in enumerate(timesteps):
                model_input = torch.cat([latents] * 2) if cfg_on else latents
                model_input = scheduler.scale_model_input(model_input, t)
                noise_pred = pipe.unet(model_input, t, encoder_hidden_states=embeds, return_dict=False)[0]
                if cfg_on:
                    uncond, cond = noise_pred.chunk(2)
                    noise_pred = uncond + job.cfg * (cond - uncond)
                out = scheduler.step(noise_pred, t, latents, **extra, return_dict=True)
                latents = out.prev_sample
                shown = getattr(out, "pred_original_sample", None)
                shown = latents if shown is None else shown
                job.on_step(i, total, lambda shown=shown: shown)  # [B, C, F, h, w]: every frame
        return latents


class Wan(Family):
    """Wan 2.1/2.2 text-to-video: WanPipeline (and WanVideoToVideoPipeline for denoise < 1)."""

    name = "wan"
    label = "Wan 2.1/2.2"
    pipeline_class = "WanPipeline"
    flow_matching = True
    video = True
    default_fps = 16.0
    max_sequence_length = 512  # WanPipeline.__call__'s default

    def latent_format(self, pipe: Any) -> LatentFormat:
        factors, bias = preview_factors(self.name)
        transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
        return LatentFormat(
            family=self.name,
            channels=int(transformer.config.in_channels),
            scaling=1.0,  # per channel: (vae latent - latents_mean) / latents_std, from the VAE config
            shift=0.0,
            spatial=int(pipe.vae_scale_factor_spatial),
            temporal=int(pipe.vae_scale_factor_temporal),
            rgb_factors=factors,
            rgb_bias=bias,
        )

    def size_multiple(self, fmt: LatentFormat) -> int:
        return fmt.spatial * 2  # the transformer patchifies 2×2 latent pixels

    def check_size(self, fmt: LatentFormat, width: int, height: int, frames: int) -> None:
        super().check_size(fmt, width, height, frames)
        if frames % fmt.temporal != 1 % fmt.temporal:
            raise NodeError(f"frames must be {fmt.temporal}×k+1 for {self.label} (e.g. 33, 81), got {frames}")

    def _transformer(self, pipe: Any) -> Any:
        return pipe.transformer if pipe.transformer is not None else pipe.transformer_2

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        pipe = model.pipeline
        embeds, _ = pipe.encode_prompt(
            prompt=text,
            do_classifier_free_guidance=False,
            max_sequence_length=self.max_sequence_length,
            device=pipe._execution_device,
        )
        return {"prompt_embeds": embeds}

    def _normalisation(self, vae: Any, device: Any, dtype: Any) -> tuple[Any, Any]:
        import torch

        z = vae.config.z_dim
        mean = torch.tensor(vae.config.latents_mean).view(1, z, 1, 1, 1).to(device, dtype)
        inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, z, 1, 1, 1).to(device, dtype)
        return mean, inv_std

    def sample(self, model: ModelHandle, job: SampleJob) -> Any:
        import diffusers
        import torch
        from diffusers.pipelines.wan.pipeline_wan_video2video import retrieve_timesteps
        from diffusers.utils.torch_utils import randn_tensor

        pipe = model.pipeline
        device = pipe._execution_device
        transformer_dtype = self._transformer(pipe).dtype
        b, c, f, h, w = job.latent.shape
        cfg_on = job.cfg > 1.0
        positive = repeat_batch(job.positive.tensors["prompt_embeds"].to(device), b).to(transformer_dtype)
        negative = repeat_batch(job.negative.tensors["prompt_embeds"].to(device), b).to(transformer_dtype)
        scheduler = job.scheduler
        fmt = model.latent_format
        with using_scheduler(pipe, scheduler):
            if job.from_noise:
                scheduler.set_timesteps(job.steps, device=device)
                timesteps = scheduler.timesteps
                s = fmt.spatial
                latents = pipe.prepare_latents(
                    b, c, h * s, w * s, fmt.pixel_frames(f), torch.float32, device, job.generator
                )
                scheduler.set_begin_index(0)
            else:
                v2v = diffusers.WanVideoToVideoPipeline
                timesteps, steps = retrieve_timesteps(scheduler, job.steps, device)
                timesteps, steps = v2v.get_timesteps(pipe, steps, timesteps, job.denoise, device)
                if steps == 0:
                    raise NodeError(f"denoise {job.denoise:g} with {job.steps} steps leaves no step to run")
                start = timesteps[:1].repeat(b)
                init = repeat_batch(job.latent.samples.to(device=device, dtype=torch.float32), b)
                noise = randn_tensor(init.shape, generator=job.generator, device=device, dtype=torch.float32)
                if hasattr(scheduler, "add_noise"):
                    latents = scheduler.add_noise(init, noise, start)
                else:
                    latents = scheduler.scale_noise(init, start, noise)
            boundary = getattr(pipe.config, "boundary_ratio", None)
            boundary_t = boundary * scheduler.config.num_train_timesteps if boundary is not None else None
            expand = bool(getattr(pipe.config, "expand_timesteps", False))
            mask = torch.ones(latents.shape, dtype=torch.float32, device=device) if expand else None
            total = len(timesteps)
            for i, t in enumerate(timesteps):
                if boundary_t is None or t >= boundary_t or pipe.transformer_2 is None:
                    current = self._transformer(pipe)
                else:
                    current = pipe.transformer_2  # Wan 2.2's low-noise expert
                model_input = latents.to(transformer_dtype)
                if expand:
                    timestep = (mask[0][0][:, ::2, ::2] * t).flatten().unsqueeze(0).expand(latents.shape[0], -1)
                else:
                    timestep = t.expand(latents.shape[0])
                noise_pred = current(
                    hidden_states=model_input, timestep=timestep, encoder_hidden_states=positive, return_dict=False
                )[0]
                if cfg_on:
                    noise_uncond = current(
                        hidden_states=model_input, timestep=timestep, encoder_hidden_states=negative, return_dict=False
                    )[0]
                    noise_pred = noise_uncond + job.cfg * (noise_pred - noise_uncond)
                latents = scheduler.step(noise_pred, t, latents, return_dict=False)[0]
                job.on_step(i, total, lambda latents=latents: latents)
        return latents

    def decode(self, model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None]) -> Any:
        import numpy as np

        pipe = model.pipeline
        vae = pipe.vae
        out = []
        with vae_tiling(vae, tiled):
            for index in range(latent.samples.shape[0]):
                check_cancelled()
                latents = latent.samples[index : index + 1].to(pipe._execution_device, dtype=vae.dtype)
                mean, inv_std = self._normalisation(vae, latents.device, latents.dtype)
                video = vae.decode(latents / inv_std + mean, return_dict=False)[0]
                pixels = pipe.video_processor.postprocess_video(video, output_type="np")  # [1, F, H, W, 3]
                out.append(pixels[0].astype(np.float32, copy=False))
        return np.concatenate(out)

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        import torch
        from diffusers.pipelines.wan.pipeline_wan_video2video import retrieve_latents

        pipe = model.pipeline
        vae = pipe.vae
        fmt = model.latent_format
        count, height, width, _ = frames.array.shape
        self.check_size(fmt, width, height, count)
        video = pipe.video_processor.preprocess_video(_pixels_to_unit(frames.array)[None], height=height, width=width)
        video = video.to(pipe._execution_device, dtype=torch.float32)
        latents = retrieve_latents(vae.encode(video.to(vae.dtype)), sample_mode="argmax").to(torch.float32)
        mean, inv_std = self._normalisation(vae, latents.device, latents.dtype)
        return Latent((latents - mean) * inv_std, fmt, fps=frames.fps)


FAMILIES: dict[str, Family] = {
    family.name: family for family in (StableDiffusion(), StableDiffusionXL(), AnimateDiff(), Wan())
}


def family_adapter(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise NodeError(f"model family {name!r} is not supported; supported: {', '.join(sorted(FAMILIES))}") from None
