"""LTX-Video text-to-video (LTXPipeline), image-to-video (LTXImageToVideoPipeline) and first/last-frame
conditioning (LTXConditionPipeline).

Latents travel unpacked and normalised, ``[B, C, F, H, W]``; the transformer sees them packed into
tokens (``_pack_latents``) and they are unpacked after sampling, as the pipelines do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nodes.diffusion.families.base import (
    Family,
    SampleJob,
    decode_clips,
    pixels_to_unit,
    repeat_batch,
    using_scheduler,
)
from nodes.diffusion.families.ltx_preview import LTX_PREVIEW_BIAS, LTX_PREVIEW_FACTORS
from nodes.diffusion.values import Latent, LatentFormat, ModelHandle, ModelParts
from studio.nodeapi import FamilySpec, NodeError


class LTXVideo(Family):
    """LTX-Video 0.9.x: LTXPipeline; LTXImageToVideoPipeline when the Sampler gets a first frame only, and
    LTXConditionPipeline (0.9.5 and later) when it gets a last frame."""

    flow_matching = True
    default_fps = 25.0  # LTXPipeline.__call__'s frame_rate; the transformer's rope is scaled by it
    frame_examples = "97, 161"
    max_sequence_length = 128  # LTXPipeline.__call__'s default
    condition_sequence_length = 256  # LTXConditionPipeline.__call__'s default
    image_inputs = frozenset({"first_frame", "last_frame"})
    image_condition_noise = 0.15  # LTXConditionPipeline.__call__'s image_cond_noise_scale

    def load_file(
        self,
        path: Path,
        parts: ModelParts,
        torch_dtype: Any,
        allow_pickle: bool,
        config: Path | None,
        bundled: Callable[[str], Path | None] | None = None,
    ) -> Any:
        """A single LTX-Video file (transformer and VAE as Lightricks publishes them, or a bare transformer)
        through diffusers' ``from_single_file`` with a local config folder, as the base does; the T5 encoder
        comes from that folder's ``text_encoder``, which diffusers' single-file loader does not find there
        (it looks only for diffusers-named weights)."""
        from types import SimpleNamespace

        from diffusers import LTXPipeline

        from nodes.diffusion.loading import check_config_folder, load_single_file, sidecar_config

        folder = check_config_folder(config) if config is not None else sidecar_config(path)
        if parts.given() or folder is None or not (folder / "text_encoder" / "config.json").is_file():
            return super().load_file(path, parts, torch_dtype, allow_pickle, config, bundled)
        from diffusers import AutoencoderKLLTXVideo
        from transformers import T5EncoderModel

        from studio.nodeapi.weights import tensor_shapes

        given = {"torch_dtype": torch_dtype, "local_files_only": True}
        known = {"text_encoder": T5EncoderModel.from_pretrained(folder / "text_encoder", **given)}
        bare = path.suffix == ".safetensors" and not any(name.startswith("vae.") for name in tensor_shapes(path))
        if bare and (folder / "vae" / "config.json").is_file():  # a transformer alone: the folder's VAE
            known["vae"] = AutoencoderKLLTXVideo.from_pretrained(folder / "vae", **given)

        def from_single_file(*args: Any, **kwargs: Any) -> Any:
            return LTXPipeline.from_single_file(*args, **known, **kwargs)

        loader = SimpleNamespace(__name__="LTXPipeline", from_single_file=from_single_file)
        return load_single_file(loader, path, torch_dtype, allow_pickle, config, self.label)

    def latent_format(self, pipe: Any) -> LatentFormat:
        return LatentFormat(
            family=self.name,
            channels=int(pipe.transformer.config.in_channels),
            scaling=1.0,  # per channel: (vae latent - latents_mean) * scaling_factor / latents_std (VAE buffers)
            shift=0.0,
            spatial=int(pipe.vae_spatial_compression_ratio),
            temporal=int(pipe.vae_temporal_compression_ratio),
            rgb_factors=self.spec.preview_factors,
            rgb_bias=self.spec.preview_bias,
        )

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        """The prompt as each pipeline encodes it: LTXPipeline's (128 tokens, the encoder blind to padding)
        and LTXConditionPipeline's (``condition_``: 256 tokens, padding masked in the encoder too)."""
        import diffusers

        pipe = model.pipeline
        device = pipe._execution_device
        embeds, mask, _, _ = pipe.encode_prompt(
            prompt=text, do_classifier_free_guidance=False, max_sequence_length=self.max_sequence_length, device=device
        )
        condition = diffusers.LTXConditionPipeline(**pipe.components)  # shares the loaded parts
        masked_embeds, full_mask, _, _ = condition.encode_prompt(
            prompt=text, do_classifier_free_guidance=False, max_sequence_length=self.condition_sequence_length
        )
        return {
            "prompt_embeds": embeds,
            "prompt_attention_mask": mask,
            "condition_prompt_embeds": masked_embeds,
            "condition_prompt_attention_mask": full_mask,
        }

    def _prompts(self, job: SampleJob, batch: int, device: Any, prefix: str = "") -> tuple[Any, Any]:
        """The embeddings and attention masks the transformer sees: [negative, positive] under guidance."""
        import torch

        def repeat(conditioning: Any, key: str) -> Any:
            return repeat_batch(conditioning.tensors[prefix + key].to(device), batch)

        embeds, mask = repeat(job.positive, "prompt_embeds"), repeat(job.positive, "prompt_attention_mask")
        if job.cfg > 1.0:
            embeds = torch.cat([repeat(job.negative, "prompt_embeds"), embeds])
            mask = torch.cat([repeat(job.negative, "prompt_attention_mask"), mask])
        return embeds, mask

    def _timesteps(self, scheduler: Any, steps: int, sequence_length: int, device: Any) -> Any:
        """LTXPipeline's schedule: sigmas 1 → 1/steps, shifted by ``calculate_shift`` of the video's length."""
        import inspect

        import numpy as np
        from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift, retrieve_timesteps

        accepted = inspect.signature(scheduler.set_timesteps).parameters
        if "sigmas" not in accepted or "mu" not in accepted:  # a solver picked on the Sampler: its own spacing
            scheduler.set_timesteps(steps, device=device)
            return scheduler.timesteps
        mu = calculate_shift(
            sequence_length,
            scheduler.config.get("base_image_seq_len", 256),
            scheduler.config.get("max_image_seq_len", 4096),
            scheduler.config.get("base_shift", 0.5),
            scheduler.config.get("max_shift", 1.15),
        )
        sigmas = np.linspace(1.0, 1 / steps, steps)
        timesteps, _ = retrieve_timesteps(scheduler, steps, device, sigmas=sigmas, mu=mu)
        return timesteps

    def _first_frame_latents(self, pipe: Any, job: SampleJob, size: tuple, dtype: Any, device: Any) -> tuple:
        """Noise with the first frame's latent in place, and the conditioning mask (LTXImageToVideoPipeline)."""
        import diffusers
        import torch

        b, c, frames, height, width = size
        image = pipe.video_processor.preprocess(pixels_to_unit(job.first_frame)[None], height=height, width=width)
        image = image.to(device=device, dtype=dtype)
        i2v = diffusers.LTXImageToVideoPipeline
        return i2v.prepare_latents(pipe, image, b, c, height, width, frames, torch.float32, device, job.generator)

    def sample(self, model: ModelHandle, job: SampleJob) -> Any:
        import torch

        if job.denoise < 1.0:
            raise NodeError(
                f"denoise {job.denoise:g}: {self.label} samples from noise (denoise 1); "
                "to start from a picture, connect it to first_frame"
            )
        if job.context_frames:
            raise NodeError(
                f"context_frames {job.context_frames}: {self.label} samples the whole clip at once "
                "(sliding windows are for Wan and AnimateDiff); set it to 0"
            )
        if job.last_frame is not None:
            return self._sample_conditioned(model, job)
        pipe = model.pipeline
        device = pipe._execution_device
        b, c, f, h, w = job.latent.shape
        fmt = model.latent_format
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        cfg_on = job.cfg > 1.0
        embeds, mask = self._prompts(job, b, device)
        height, width, frames = h * fmt.spatial, w * fmt.spatial, fmt.pixel_frames(f)
        scheduler = job.scheduler

        def unpack(packed: Any) -> Any:
            return pipe._unpack_latents(packed, f, h, w, p, pt)

        with using_scheduler(pipe, scheduler):
            condition = None
            if job.first_frame is None:
                latents = pipe.prepare_latents(b, c, height, width, frames, torch.float32, device, job.generator)
            else:
                size = (b, c, frames, height, width)
                latents, condition = self._first_frame_latents(pipe, job, size, embeds.dtype, device)
                if cfg_on:
                    condition = torch.cat([condition, condition])
            timesteps = self._timesteps(scheduler, job.steps, f * h * w, device)
            rope_interpolation_scale = (pipe.vae_temporal_compression_ratio / job.latent.fps, fmt.spatial, fmt.spatial)
            total = len(timesteps)
            for i, t in enumerate(timesteps):
                model_input = (torch.cat([latents] * 2) if cfg_on else latents).to(embeds.dtype)
                timestep = t.expand(model_input.shape[0])
                if condition is not None:
                    timestep = timestep.unsqueeze(-1) * (1 - condition)  # the given first frame is clean
                with pipe.transformer.cache_context("cond_uncond"):
                    noise_pred = pipe.transformer(
                        hidden_states=model_input,
                        encoder_hidden_states=embeds,
                        timestep=timestep,
                        encoder_attention_mask=mask,
                        num_frames=f,
                        height=h,
                        width=w,
                        rope_interpolation_scale=rope_interpolation_scale,
                        return_dict=False,
                    )[0]
                noise_pred = noise_pred.float()
                if cfg_on:
                    uncond, cond = noise_pred.chunk(2)
                    noise_pred = uncond + job.cfg * (cond - uncond)
                if condition is None:
                    latents = scheduler.step(noise_pred, t, latents, return_dict=False)[0]
                else:  # only the frames after the first are denoised
                    noise_pred, latents = unpack(noise_pred), unpack(latents)
                    stepped = scheduler.step(noise_pred[:, :, 1:], t, latents[:, :, 1:], return_dict=False)[0]
                    latents = pipe._pack_latents(torch.cat([latents[:, :, :1], stepped], dim=2), p, pt)
                job.on_step(i, total, lambda latents=latents: unpack(latents))
        return unpack(latents)

    def _check_condition_scheduler(self, scheduler: Any) -> None:
        """LTXConditionPipeline steps each token at its own time, over a fixed (unshifted) schedule."""
        import inspect

        if "per_token_timesteps" not in inspect.signature(scheduler.step).parameters:
            raise NodeError(
                f"scheduler {type(scheduler).__name__.removesuffix('Scheduler')}: {self.label} with a last_frame "
                "steps each token at its own time (LTXConditionPipeline); use default or FlowMatchEulerDiscrete"
            )
        if scheduler.config.get("use_dynamic_shifting", False):
            raise NodeError(
                f"last_frame: this {self.label} model's scheduler shifts with the clip's length, which "
                "LTXConditionPipeline cannot use; use LTX-Video 0.9.5 or later for first/last-frame clips"
            )

    def _condition_frames(self, pipe: Any, job: SampleJob, height: int, width: int, frames: int) -> tuple:
        """The given frames as one-frame videos for the VAE, with their pixel-frame indices."""
        tensors, indices = [], []
        for image, index in ((job.first_frame, 0), (job.last_frame, frames - 1)):
            if image is not None:
                pixels = pipe.video_processor.preprocess(pixels_to_unit(image)[None], height, width)
                tensors.append(pixels.unsqueeze(2).to(pipe._execution_device, dtype=pipe.vae.dtype))
                indices.append(index)
        return tensors, indices

    def _sample_conditioned(self, model: ModelHandle, job: SampleJob) -> Any:
        """LTXConditionPipeline with the first frame (if given) at index 0 and the last at the clip's end."""
        import diffusers
        import torch
        from diffusers.pipelines.ltx.pipeline_ltx_condition import linear_quadratic_schedule, retrieve_timesteps

        scheduler = job.scheduler
        self._check_condition_scheduler(scheduler)
        pipe = diffusers.LTXConditionPipeline(**model.pipeline.components)  # shares the loaded parts
        device = pipe._execution_device
        b, c, f, h, w = job.latent.shape
        fmt = model.latent_format
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        cfg_on = job.cfg > 1.0
        embeds, mask = self._prompts(job, b, device, prefix="condition_")
        height, width, frames = h * fmt.spatial, w * fmt.spatial, fmt.pixel_frames(f)
        tensors, indices = self._condition_frames(pipe, job, height, width, frames)
        with using_scheduler(pipe, scheduler):
            timesteps, _ = retrieve_timesteps(scheduler, job.steps, device, linear_quadratic_schedule(job.steps) * 1000)
            latents, condition, coords, extra = pipe.prepare_latents(
                tensors,
                [1.0] * len(tensors),
                indices,
                batch_size=b,
                num_channels_latents=c,
                height=height,
                width=width,
                num_frames=frames,
                generator=job.generator,
                device=device,
                dtype=torch.float32,
            )
            coords = coords.float()
            coords[:, 0] = coords[:, 0] * (1.0 / job.latent.fps)
            init_latents = latents.clone()
            if cfg_on:
                coords = torch.cat([coords, coords])
            model_condition = torch.cat([condition, condition]) if cfg_on else condition

            def unpack(packed: Any) -> Any:
                return pipe._unpack_latents(packed[:, extra:], f, h, w, p, pt)

            total = len(timesteps)
            for i, t in enumerate(timesteps):
                # The given frames are noised a little, less at each step (motion continuity).
                latents = pipe.add_noise_to_image_conditioning_latents(
                    t / 1000.0, init_latents, latents, self.image_condition_noise, condition, job.generator
                )
                model_input = (torch.cat([latents] * 2) if cfg_on else latents).to(embeds.dtype)
                timestep = t.expand(model_input.shape[0]).unsqueeze(-1).float()
                timestep = torch.min(timestep, (1 - model_condition) * 1000.0)
                with pipe.transformer.cache_context("cond_uncond"):
                    noise_pred = pipe.transformer(
                        hidden_states=model_input,
                        encoder_hidden_states=embeds,
                        timestep=timestep,
                        encoder_attention_mask=mask,
                        video_coords=coords,
                        return_dict=False,
                    )[0]
                if cfg_on:
                    uncond, cond = noise_pred.chunk(2)
                    noise_pred = uncond + job.cfg * (cond - uncond)
                    timestep, _ = timestep.chunk(2)
                denoised = scheduler.step(-noise_pred, t, latents, per_token_timesteps=timestep, return_dict=False)[0]
                latents = torch.where((t / 1000 - 1e-6 < (1.0 - condition)).unsqueeze(-1), denoised, latents)
                job.on_step(i, total, lambda latents=latents: unpack(latents))
        return unpack(latents)

    def decode(self, model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None]) -> Any:
        import torch

        pipe = model.pipeline
        vae = pipe.vae

        def decode(latents: Any) -> Any:
            latents = pipe._denormalize_latents(
                latents.to(dtype=torch.float32), vae.latents_mean, vae.latents_std, vae.config.scaling_factor
            )
            latents = latents.to(vae.dtype)
            # The pipelines' decode_timestep and decode_noise_scale default to 0: no noise is mixed in.
            timestep = None
            if vae.config.timestep_conditioning:
                timestep = torch.tensor([0.0], device=latents.device, dtype=latents.dtype)
            return vae.decode(latents, timestep, return_dict=False)[0]

        return decode_clips(model, latent, tiled, check_cancelled, decode)

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        pipe = model.pipeline
        vae = pipe.vae
        latents = self.encode_clip_mode(model, frames)
        latents = pipe._normalize_latents(latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        return Latent(latents, model.latent_format, fps=frames.fps)


LTX_SIZES = {2048: "2B", 4096: "13B"}  # transformer width → published model size


def recognise_ltx(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    """An LTX-Video 0.9.x transformer (or full checkpoint with its VAE), in the original, ComfyUI
    (``model.diffusion_model.``) or diffusers layout, as diffusers' single_file_utils tells it.

    LTX-2 (audio and video, a different model) is left out; the patch projection's width tells the size.
    """
    if any("audio" in name for name in tensors):
        return None
    shape = tensors.get("model.diffusion_model.patchify_proj.weight") or tensors.get("patchify_proj.weight")
    if shape is None and {"caption_projection.linear_1.weight", "time_embed.linear.weight"} <= tensors.keys():
        shape = tensors.get("proj_in.weight")  # diffusers names
    if shape is None or len(shape) != 2:
        return None
    return f"LTX-Video {LTX_SIZES.get(shape[0], f'width {shape[0]}')}"


LTX = FamilySpec(
    name="ltx",
    label="LTX-Video",
    pipelines=("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
    components=("LTXVideoTransformer3DModel", "AutoencoderKLLTXVideo", "T5EncoderModel"),
    recognise=recognise_ltx,
    preview_factors=LTX_PREVIEW_FACTORS,
    preview_bias=LTX_PREVIEW_BIAS,
    adapter=LTXVideo,
    video=True,
    order=50,
)
