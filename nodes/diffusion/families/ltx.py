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
    # ComfyUI's LTXV latent→RGB factors (comfy/latent_formats.py, class LTXV, GPL-3.0), on the normalised
    # latent (ComfyUI's LTXV VAE applies the per-channel statistics itself, as our wire latents have them).
    preview_factors=(
        (1.1202e-02, -6.3815e-04, -1.0021e-02),
        (8.6031e-02, 6.5813e-02, 9.5409e-04),
        (-1.2576e-02, -7.5734e-03, -4.0528e-03),
        (9.4063e-03, -2.1688e-03, 2.6093e-03),
        (3.7636e-03, 1.2765e-02, 9.1548e-03),
        (2.1024e-02, -5.2973e-03, 3.4373e-03),
        (-8.8896e-03, -1.9703e-02, -1.8761e-02),
        (-1.3160e-02, -1.0523e-02, 1.9709e-03),
        (-1.5152e-03, -6.9891e-03, -7.5810e-03),
        (-1.7247e-03, 4.6560e-04, -3.3839e-03),
        (1.3617e-02, 4.7077e-03, -2.0045e-03),
        (1.0256e-02, 7.7318e-03, 1.3948e-02),
        (-1.6108e-02, -6.2151e-03, 1.1561e-03),
        (7.3407e-03, 1.5628e-02, 4.4865e-04),
        (9.5357e-04, -2.9518e-03, -1.4760e-02),
        (1.9143e-02, 1.0868e-02, 1.2264e-02),
        (4.4575e-03, 3.6682e-05, -6.8508e-03),
        (-4.5681e-04, 3.2570e-03, 7.7929e-03),
        (3.3902e-02, 3.3405e-02, 3.7454e-02),
        (-2.3001e-02, -2.4877e-03, -3.1033e-03),
        (5.0265e-02, 3.8841e-02, 3.3539e-02),
        (-4.1018e-03, -1.1095e-03, 1.5859e-03),
        (-1.2689e-01, -1.3107e-01, -2.1005e-01),
        (2.6276e-02, 1.4189e-02, -3.5963e-03),
        (-4.8679e-03, 8.8486e-03, 7.8029e-03),
        (-1.6610e-03, -4.8597e-03, -5.2060e-03),
        (-2.1010e-03, 2.3610e-03, 9.3796e-03),
        (-2.2482e-02, -2.1305e-02, -1.5087e-02),
        (-1.5753e-02, -1.0646e-02, -6.5083e-03),
        (-4.6975e-03, 5.0288e-03, -6.7390e-03),
        (1.1951e-02, 2.0712e-02, 1.6191e-02),
        (-6.3704e-03, -8.4827e-03, -9.5483e-03),
        (7.2610e-03, -9.9326e-03, -2.2978e-02),
        (-9.1904e-04, 6.2882e-03, 9.5720e-03),
        (-3.7178e-02, -3.7123e-02, -5.6713e-02),
        (-1.3373e-01, -1.0720e-01, -5.3801e-02),
        (-5.3702e-03, 8.1256e-03, 8.8397e-03),
        (-1.5247e-01, -2.1437e-01, -2.1843e-01),
        (3.1441e-02, 7.0335e-03, -9.7541e-03),
        (2.1528e-03, -8.9817e-03, -2.1023e-02),
        (3.8461e-03, -5.8957e-03, -1.5014e-02),
        (-4.3470e-03, -1.2940e-02, -1.5972e-02),
        (-5.4781e-03, -1.0842e-02, -3.0204e-03),
        (-6.5347e-03, 3.0806e-03, -1.0163e-02),
        (-5.0414e-03, -7.1503e-03, -8.9686e-04),
        (-8.5851e-03, -2.4351e-03, 1.0674e-03),
        (-9.0016e-03, -9.6493e-03, 1.5692e-03),
        (5.0914e-03, 1.2099e-02, 1.9968e-02),
        (1.3758e-02, 1.1669e-02, 8.1958e-03),
        (-1.0518e-02, -1.1575e-02, -4.1307e-03),
        (-2.8410e-02, -3.1266e-02, -2.2149e-02),
        (2.9336e-03, 3.6511e-02, 1.8717e-02),
        (-1.6703e-02, -1.6696e-02, -4.4529e-03),
        (4.8818e-02, 4.0063e-02, 8.7410e-03),
        (-1.5066e-02, -5.7328e-04, 2.9785e-03),
        (-1.7613e-02, -8.1034e-03, 1.3086e-02),
        (-9.2633e-03, 1.0803e-02, -6.3489e-03),
        (3.0851e-03, 4.7750e-04, 1.2347e-02),
        (-2.2785e-02, -2.3043e-02, -2.6005e-02),
        (-2.4787e-02, -1.5389e-02, -2.2104e-02),
        (-2.3572e-02, 1.0544e-03, 1.2361e-02),
        (-7.8915e-03, -1.2271e-03, -6.0968e-03),
        (-1.1478e-02, -1.2543e-03, 6.2679e-03),
        (-5.4229e-02, 2.6644e-02, 6.3394e-03),
        (4.4216e-03, -7.3338e-03, -1.0464e-02),
        (-4.5013e-03, 1.6082e-03, 1.4420e-02),
        (1.3673e-02, 8.8877e-03, 4.1253e-03),
        (-1.0145e-02, 9.0072e-03, 1.5695e-02),
        (-5.6234e-03, 1.1847e-03, 8.1261e-03),
        (-3.7171e-03, -5.3538e-03, 1.2590e-03),
        (2.9476e-02, 2.1424e-02, 3.0424e-02),
        (-3.4925e-02, -2.4340e-02, -2.5316e-02),
        (-3.4127e-02, -2.2406e-02, -1.0589e-02),
        (-1.7342e-02, -1.3249e-02, -1.0719e-02),
        (-2.1478e-03, -8.6051e-03, -2.9878e-03),
        (1.2089e-03, -4.2391e-03, -6.8569e-03),
        (9.0411e-04, -6.6886e-03, -6.7547e-05),
        (1.6048e-02, -1.0057e-02, -2.8929e-02),
        (1.2290e-03, 1.0163e-02, 1.8861e-02),
        (1.7264e-02, 2.7257e-04, 1.3785e-02),
        (-1.3482e-02, -3.6427e-03, 6.7481e-04),
        (4.6782e-03, -5.2423e-03, 2.4467e-03),
        (-5.9113e-03, -6.2244e-03, -1.8162e-03),
        (1.5496e-02, 1.4582e-02, 1.9514e-03),
        (7.4958e-03, 1.5886e-03, -8.2305e-03),
        (1.9086e-02, 1.6360e-03, -3.9674e-03),
        (-5.7021e-03, -2.7307e-03, -4.1066e-03),
        (1.7450e-03, 1.4602e-02, 2.5794e-02),
        (-8.2788e-04, 2.2902e-03, 4.5161e-03),
        (1.1632e-02, 8.9193e-03, -7.2813e-03),
        (7.5721e-03, 2.6784e-03, 1.1393e-02),
        (5.1939e-03, 3.6903e-03, 1.4049e-02),
        (-1.8383e-02, -2.2529e-02, -2.4477e-02),
        (5.8842e-04, -5.7874e-03, -1.4770e-02),
        (-1.6125e-02, -8.6101e-03, -1.4533e-02),
        (2.0540e-02, 2.0729e-02, 6.4338e-03),
        (3.3587e-03, -1.1226e-02, -1.6444e-02),
        (-1.4742e-03, -1.0489e-02, 1.7097e-03),
        (2.8130e-02, 2.3546e-02, 3.2791e-02),
        (-1.8532e-02, -1.2842e-02, -8.7756e-03),
        (-8.0533e-03, -1.0771e-02, -1.7536e-02),
        (-3.9009e-03, 1.6150e-02, 3.3359e-02),
        (-7.4554e-03, -1.4154e-02, -6.1910e-03),
        (3.4734e-03, -1.1370e-02, -1.0581e-02),
        (1.1476e-02, 3.9281e-03, 2.8231e-03),
        (7.1639e-03, -1.4741e-03, -3.8066e-03),
        (2.2250e-03, -8.7552e-03, -9.5719e-03),
        (2.4146e-02, 2.1696e-02, 2.8056e-02),
        (-5.4365e-03, -2.4291e-02, -1.7802e-02),
        (7.4263e-03, 1.0510e-02, 1.2705e-02),
        (6.2669e-03, 6.2658e-03, 1.9211e-02),
        (1.6378e-02, 9.4933e-03, 6.6971e-03),
        (1.7173e-02, 2.3601e-02, 2.3296e-02),
        (-1.4568e-02, -9.8279e-03, -1.1556e-02),
        (1.4431e-02, 1.4430e-02, 6.6362e-03),
        (-6.8230e-03, 1.8863e-02, 1.4555e-02),
        (6.1156e-03, 3.4700e-03, -2.6662e-03),
        (-2.6983e-03, -5.9402e-03, -9.2276e-03),
        (1.0235e-02, 7.4173e-03, -7.6243e-03),
        (-1.3255e-02, 1.9322e-02, -9.2153e-04),
        (2.4222e-03, -4.8039e-03, -1.5759e-02),
        (2.6244e-02, 2.5951e-02, 2.0249e-02),
        (1.5711e-02, 1.8498e-02, 2.7407e-03),
        (-2.1714e-03, 4.7214e-03, -2.2443e-02),
        (-7.4747e-03, 7.4166e-03, 1.4430e-02),
        (-8.3906e-03, -7.9776e-03, 9.7927e-03),
        (3.8321e-02, 9.6622e-03, -1.9268e-02),
        (-1.4605e-02, -6.7032e-03, 3.9675e-03),
    ),
    preview_bias=(-0.0571, -0.1657, -0.2512),
    adapter=LTXVideo,
    video=True,
    order=50,
)
