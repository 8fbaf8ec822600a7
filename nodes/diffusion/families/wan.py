"""Wan 2.1/2.2 text- and image-to-video (WanPipeline, WanImageToVideoPipeline, and WanVideoToVideoPipeline
for denoise < 1)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nodes.diffusion.context_windows import clip_windows, predict_in_windows
from nodes.diffusion.families import wan_i2v
from nodes.diffusion.families.base import (
    Family,
    SampleJob,
    decode_clips,
    repeat_batch,
    using_scheduler,
    video_to_video_timesteps,
)
from nodes.diffusion.families.lora_names import recognise_wan_lora
from nodes.diffusion.values import Latent, LatentFormat, ModelHandle, ModelParts
from studio.nodeapi import FamilySpec


class Wan(Family):
    """Wan 2.1/2.2: WanPipeline, WanImageToVideoPipeline (first_frame, last_frame; see wan_i2v) and
    WanVideoToVideoPipeline for denoise < 1."""

    flow_matching = True
    default_fps = 16.0
    frame_examples = "33, 81"
    max_sequence_length = 512  # WanPipeline.__call__'s default
    # Every Wan model takes them: image-to-video models natively, text-to-video ones by an approximation
    # (wan_i2v); what one model cannot use (a last frame for Wan 2.1 I2V) is refused when it samples.
    image_inputs = frozenset({"first_frame", "last_frame"})

    def load_class(self) -> Any:
        """WanImageToVideoPipeline, for every Wan folder: its optional components (image encoder and
        processor, either expert) make it the one class that holds each Wan model, text-to-video ones
        included (diffusers runs Wan 2.2 TI2V's image-to-video by loading its WanPipeline folder so)."""
        import diffusers

        return diffusers.WanImageToVideoPipeline

    def load_file(
        self,
        path: Path,
        parts: ModelParts,
        torch_dtype: Any,
        allow_pickle: bool,
        config: Path | None,
        bundled: Callable[[str], Path | None] | None = None,
    ) -> Any:
        """A bare Wan transformer file (official, ComfyUI or diffusers names) with the text encoder and
        VAE ``parts`` name, assembled into a WanPipeline (see wan_files)."""
        from nodes.diffusion.families.wan_files import load_wan_files

        return load_wan_files(path, parts, torch_dtype, allow_pickle, config)

    def latent_format(self, pipe: Any) -> LatentFormat:
        return LatentFormat(
            family=self.name,
            channels=int(pipe.vae.config.z_dim),  # image-to-video transformers take condition channels too
            scaling=1.0,  # per channel: (vae latent - latents_mean) / latents_std, from the VAE config
            shift=0.0,
            spatial=int(pipe.vae_scale_factor_spatial),
            temporal=int(pipe.vae_scale_factor_temporal),
            rgb_factors=self.spec.preview_factors,
            rgb_bias=self.spec.preview_bias,
        )

    def size_multiple(self, fmt: LatentFormat) -> int:
        return fmt.spatial * 2  # the transformer patchifies 2×2 latent pixels

    def _transformer(self, pipe: Any) -> Any:
        return pipe.transformer if pipe.transformer is not None else pipe.transformer_2

    def encode_text(self, model: ModelHandle, text: str) -> dict[str, Any]:
        import diffusers

        pipe = model.pipeline
        # What WanPipeline.encode_prompt does for one prompt, called on WanPipeline itself: the image-to-video
        # module's copy of its prompt cleaning needs ftfy, which diffusers does not require.
        embeds = diffusers.WanPipeline._get_t5_prompt_embeds(
            pipe, prompt=text, max_sequence_length=self.max_sequence_length, device=pipe._execution_device
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
        from diffusers.utils.torch_utils import randn_tensor

        pipe = model.pipeline
        mode = wan_i2v.check_images(pipe, job, self.label)
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
                latents, conditioning = wan_i2v.prepare(pipe, job, mode, device, transformer_dtype)
                scheduler.set_begin_index(0)
            else:
                v2v = diffusers.WanVideoToVideoPipeline
                timesteps = video_to_video_timesteps(v2v, pipe, scheduler, job, device)
                start = timesteps[:1].repeat(b)
                init = repeat_batch(job.latent.samples.to(device=device, dtype=torch.float32), b)
                noise = randn_tensor(init.shape, generator=job.generator, device=device, dtype=torch.float32)
                if hasattr(scheduler, "add_noise"):
                    latents = scheduler.add_noise(init, noise, start)
                else:
                    latents = scheduler.scale_noise(init, start, noise)
                conditioning = wan_i2v.without_images(pipe, latents)
            boundary = getattr(pipe.config, "boundary_ratio", None)
            boundary_t = boundary * scheduler.config.num_train_timesteps if boundary is not None else None
            expand = bool(getattr(pipe.config, "expand_timesteps", False))
            mask, image_embeds = conditioning.mask, conditioning.image_embeds
            total = len(timesteps)
            for i, t in enumerate(timesteps):
                # The transformer's rotary positions come from its input's frame count: a window is a
                # short clip. The windows shift from step to step (context_windows).
                step = i if job.context_shift else 0
                windows = clip_windows(latents.shape[2], job.context_frames, job.context_overlap, fmt.temporal, step)
                if boundary_t is None or t >= boundary_t or pipe.transformer_2 is None:
                    current = self._transformer(pipe)
                else:
                    current = pipe.transformer_2  # Wan 2.2's low-noise expert
                latents = conditioning.before_step(latents, i, scheduler)
                model_input = conditioning.model_input(latents).to(transformer_dtype)

                def predict(frames: slice, current: Any = current, model_input: Any = model_input, t: Any = t) -> Any:
                    window = model_input[:, :, frames]
                    if expand:
                        timestep = (mask[0][0][frames][:, ::2, ::2] * t).flatten().unsqueeze(0).expand(b, -1)
                    else:
                        timestep = t.expand(b)
                    noise_pred = current(
                        hidden_states=window,
                        timestep=timestep,
                        encoder_hidden_states=positive,
                        encoder_hidden_states_image=image_embeds,
                        return_dict=False,
                    )[0]
                    if cfg_on:
                        noise_uncond = current(
                            hidden_states=window,
                            timestep=timestep,
                            encoder_hidden_states=negative,
                            encoder_hidden_states_image=image_embeds,
                            return_dict=False,
                        )[0]
                        noise_pred = noise_uncond + job.cfg * (noise_pred - noise_uncond)
                    return noise_pred

                noise_pred = predict_in_windows(predict, latents.shape[2], windows)
                latents = scheduler.step(noise_pred, t, latents, return_dict=False)[0]
                job.on_step(i, total, lambda latents=latents: conditioning.finish(latents))
        return conditioning.finish(latents)

    def decode(self, model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None]) -> Any:
        vae = model.pipeline.vae

        def decode(latents: Any) -> Any:
            latents = latents.to(dtype=vae.dtype)
            mean, inv_std = self._normalisation(vae, latents.device, latents.dtype)
            return vae.decode(latents / inv_std + mean, return_dict=False)[0]

        return decode_clips(model, latent, tiled, check_cancelled, decode)

    def encode_frames(self, model: ModelHandle, frames: Any) -> Latent:
        latents = self.encode_clip_mode(model, frames)
        mean, inv_std = self._normalisation(model.pipeline.vae, latents.device, latents.dtype)
        return Latent((latents - mean) * inv_std, model.latent_format, fps=frames.fps)


WAN_SIZES = {1536: "1.3B", 3072: "5B", 5120: "14B"}  # transformer width → published model size


def recognise_wan(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    """A Wan transformer, in the official, ComfyUI (``model.diffusion_model.``) or diffusers layout.

    The patch embedding's shape tells the variant: its width the size, its input channels the
    mode (16 text-to-video, 36 image-to-video, 48 Wan 2.2 TI2V with its 48-channel VAE).
    """
    prefix = "model.diffusion_model." if "model.diffusion_model.patch_embedding.weight" in tensors else ""
    shape = tensors.get(prefix + "patch_embedding.weight")
    if shape is None or len(shape) != 5:
        return None
    width, channels = shape[0], shape[1]
    size = WAN_SIZES.get(width, f"width {width}")
    if channels == 48:
        return f"Wan 2.2 TI2V {size}"
    if channels == 36:
        image_encoder = any(
            name.startswith((prefix + "img_emb.", prefix + "condition_embedder.image_embedder.")) for name in tensors
        )
        return f"Wan 2.1 I2V {size}" if image_encoder else f"Wan 2.2 I2V {size}"
    return f"Wan T2V {size}"


WAN = FamilySpec(
    name="wan",
    label="Wan 2.1/2.2",
    pipelines=("WanPipeline", "WanVideoToVideoPipeline", "WanImageToVideoPipeline"),
    components=("WanTransformer3DModel", "AutoencoderKLWan", "UMT5EncoderModel"),
    recognise=recognise_wan,
    recognise_lora=recognise_wan_lora,
    # ComfyUI's Wan21 latent→RGB factors (comfy/latent_formats.py, GPL-3.0), on the normalised latent.
    preview_factors=(
        (-0.1299, -0.1692, 0.2932),
        (0.0671, 0.0406, 0.0442),
        (0.3568, 0.2548, 0.1747),
        (0.0372, 0.2344, 0.1420),
        (0.0313, 0.0189, -0.0328),
        (0.0296, -0.0956, -0.0665),
        (-0.3477, -0.4059, -0.2925),
        (0.0166, 0.1902, 0.1975),
        (-0.0412, 0.0267, -0.1364),
        (-0.1293, 0.0740, 0.1636),
        (0.0680, 0.3019, 0.1128),
        (0.0032, 0.0581, 0.0639),
        (-0.1251, 0.0927, 0.1699),
        (0.0060, -0.0633, 0.0005),
        (0.3477, 0.2275, 0.2950),
        (0.1984, 0.0913, 0.1861),
    ),
    preview_bias=(-0.1835, -0.0868, -0.3360),
    adapter=Wan,
    video=True,
    order=40,
)
