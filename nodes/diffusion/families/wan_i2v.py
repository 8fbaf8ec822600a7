"""The Sampler's first_frame and last_frame for Wan models, whichever kind the model is.

- **Image-to-video** (transformer input = latents + 20 condition channels, 36 in all): Wan 2.1 I2V
  and FLF2V (with a CLIP image encoder) and Wan 2.2 A14B I2V (without one). The encoded first (and
  last) frame and a mask of the known frames are concatenated to the latents at every step, as
  ``WanImageToVideoPipeline`` does; Wan 2.1's image encoder adds CLIP's penultimate hidden states.
- **Wan 2.2 TI2V** (``expand_timesteps``): the first latent frame is the encoded image, kept clean
  (timestep 0 on its tokens), as ``WanImageToVideoPipeline`` does for the 5B model.
- **Text-to-video** (no image conditioning, e.g. the bundled starter): an approximation that needs
  no training. At every step the known latent frames are replaced by the encoded image noised to
  that step's level (flow matching: ``x_t = (1 - sigma) * x0 + sigma * noise``, with the run's own
  initial noise), and by the clean encoded image at the end. The model fills in the other frames.
  The last latent frame stands for the clip's last 4 frames: it is taken from the image held still
  for 5 frames, so the end is pulled towards the image less exactly than the start.

Every number of the native modes comes from diffusers' own ``encode_image`` and ``prepare_latents``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodes.diffusion.families.base import SampleJob, repeat_batch
from studio.nodeapi import NodeError

NATIVE, TI2V, TEXT_ONLY = "image-to-video", "ti2v", "text-to-video"


def image_mode(pipe: Any) -> str:
    """How a loaded Wan pipeline takes images: NATIVE, TI2V or TEXT_ONLY (the approximation)."""
    transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
    if int(transformer.config.in_channels) != int(pipe.vae.config.z_dim):
        return NATIVE
    if bool(getattr(pipe.config, "expand_timesteps", False)):
        return TI2V
    return TEXT_ONLY


def check_images(pipe: Any, job: SampleJob, label: str) -> str:
    """The model's image mode, once the images given suit it (a NodeError naming the port otherwise)."""
    mode = image_mode(pipe)
    first, last = job.first_frame is not None, job.last_frame is not None
    transformer = pipe.transformer
    clip = transformer is not None and transformer.config.image_dim is not None
    flf2v = clip and transformer.config.pos_embed_seq_len is not None
    if (first or last) and not job.from_noise:
        raise NodeError(
            "first_frame/last_frame: image conditioning starts from an EmptyLatent with denoise 1; "
            f"got {'an encoded latent' if not job.latent.empty else f'denoise {job.denoise:g}'}"
        )
    if mode == NATIVE and not first:
        raise NodeError(f"first_frame: this {label} image-to-video model needs first_frame (connect an image)")
    if flf2v and not last:
        raise NodeError(f"last_frame: this {label} first/last-frame model needs last_frame too (connect an image)")
    if last and mode == NATIVE and clip and not flf2v:
        raise NodeError(
            f"last_frame: this {label} image-to-video model was not trained with a last frame; "
            "use a first/last-frame model (Wan2.1-FLF2V-14B-720P) or leave last_frame unconnected"
        )
    if last and mode == TI2V:
        raise NodeError(f"last_frame: {label} TI2V models take a first frame only; leave last_frame unconnected")
    if last and not first and mode != TEXT_ONLY:
        raise NodeError("last_frame: needs first_frame too")
    if clip and getattr(pipe, "image_encoder", None) is None:
        raise NodeError(f"first_frame: this {label} model needs its image encoder, and none was loaded")
    return mode


def pil(array: Any) -> Any:
    from PIL import Image

    return Image.fromarray(array)


@dataclass
class FrameConditioning:
    """How each step's transformer input is made from the latents, for one model and one run."""

    mode: str
    condition: Any = None  # NATIVE: mask + encoded frames (channels); TI2V: the encoded first frame
    mask: Any = None  # TI2V: 1 where the latents are sampled, 0 on the image's frame; [1, 1, F, h, w]
    image_embeds: Any = None  # Wan 2.1: CLIP's penultimate hidden states
    known: Any = None  # TEXT_ONLY: {latent frame index: encoded frame [B, C, 1, h, w]}
    noise: Any = None  # TEXT_ONLY: the run's initial noise

    def before_step(self, latents: Any, index: int, scheduler: Any) -> Any:
        """The latents with the known frames set to this step's noise level (TEXT_ONLY)."""
        if not self.known:
            return latents
        sigma = float(scheduler.sigmas[index])
        return self._replace(latents, lambda frame, noise: (1.0 - sigma) * frame + sigma * noise)

    def model_input(self, latents: Any) -> Any:
        import torch

        if self.mode == NATIVE:
            return torch.cat([latents, self.condition], dim=1)
        if self.condition is not None:  # TI2V with an image
            return (1 - self.mask) * self.condition + self.mask * latents
        return latents

    def timestep(self, t: Any, batch: int) -> Any:
        if self.mask is not None:  # expanded timesteps: one per token, 0 on the image's tokens
            return (self.mask[0][0][:, ::2, ::2] * t).flatten().unsqueeze(0).expand(batch, -1)
        return t.expand(batch)

    def finish(self, latents: Any) -> Any:
        if self.known:
            return self._replace(latents, lambda frame, noise: frame)
        if self.condition is not None and self.mode == TI2V:
            return (1 - self.mask) * self.condition + self.mask * latents
        return latents

    def _replace(self, latents: Any, value: Any) -> Any:
        latents = latents.clone()
        for index, frame in self.known.items():
            latents[:, :, index : index + 1] = value(frame, self.noise[:, :, index : index + 1])
        return latents


def prepare(pipe: Any, job: SampleJob, mode: str, device: Any, transformer_dtype: Any) -> tuple[Any, FrameConditioning]:
    """The initial latents and the run's frame conditioning, drawing the noise as the model's pipeline
    does (WanPipeline for text-to-video, WanImageToVideoPipeline with an image)."""
    import diffusers
    import torch

    b, c, f, h, w = job.latent.shape
    s = int(pipe.vae_scale_factor_spatial)
    height, width = h * s, w * s
    frames = (f - 1) * int(pipe.vae_scale_factor_temporal) + 1
    first, last = job.first_frame, job.last_frame
    expand = bool(getattr(pipe.config, "expand_timesteps", False))
    if first is None or mode == TEXT_ONLY:
        latents = diffusers.WanPipeline.prepare_latents(
            pipe, b, c, height, width, frames, torch.float32, device, job.generator
        )
        plain = without_images(pipe, latents)
        if first is None and last is None:
            return latents, plain
        known = {}
        if first is not None:
            known[0] = repeat_batch(encode_image(pipe, first, height, width, device), b)
        if last is not None:  # a later latent frame stands for `temporal` frames: encode the image held still
            held = encode_image(pipe, last, height, width, device, frames=1 + int(pipe.vae_scale_factor_temporal))
            known[f - 1] = repeat_batch(held[:, :, -1:], b)
        return latents, FrameConditioning(TEXT_ONLY, mask=plain.mask, known=known, noise=latents.clone())
    i2v = diffusers.WanImageToVideoPipeline
    image_embeds = None
    transformer = pipe.transformer
    if transformer is not None and transformer.config.image_dim is not None:
        images = pil(first) if last is None else [pil(first), pil(last)]
        image_embeds = i2v.encode_image(pipe, images, device).repeat(b, 1, 1).to(transformer_dtype)
    image = pipe.video_processor.preprocess(pil(first), height=height, width=width).to(device, dtype=torch.float32)
    last_image = None
    if last is not None:
        last_image = pipe.video_processor.preprocess(pil(last), height=height, width=width)
        last_image = last_image.to(device, dtype=torch.float32)
    prepared = i2v.prepare_latents(
        pipe, image, b, c, height, width, frames, torch.float32, device, job.generator, None, last_image
    )
    if expand:
        latents, condition, mask = prepared
        return latents, FrameConditioning(TI2V, condition=condition, mask=mask)
    latents, condition = prepared
    return latents, FrameConditioning(NATIVE, condition=condition, image_embeds=image_embeds)


def encode_image(pipe: Any, array: Any, height: int, width: int, device: Any, frames: int = 1) -> Any:
    """One image (held for ``frames`` frames) as a normalised latent ``[1, C, F, h, w]``, as
    WanImageToVideoPipeline encodes its first frame (argmax of the VAE's posterior)."""
    import torch
    from diffusers.pipelines.wan.pipeline_wan_i2v import retrieve_latents

    vae = pipe.vae
    image = pipe.video_processor.preprocess(pil(array), height=height, width=width).unsqueeze(2)
    image = image.repeat(1, 1, frames, 1, 1)
    latent = retrieve_latents(vae.encode(image.to(device, dtype=vae.dtype)), sample_mode="argmax")
    latent = latent.to(device=device, dtype=torch.float32)
    z = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean).view(1, z, 1, 1, 1).to(latent)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, z, 1, 1, 1).to(latent)
    return (latent - mean) * inv_std


def without_images(pipe: Any, latents: Any) -> FrameConditioning:
    """A run with no image: the latents as they are (Wan 2.2 TI2V: with its all-ones timestep mask)."""
    import torch

    if not bool(getattr(pipe.config, "expand_timesteps", False)):
        return FrameConditioning(TEXT_ONLY)
    f, h, w = latents.shape[2:]
    return FrameConditioning(TI2V, mask=torch.ones((1, 1, f, h, w), dtype=torch.float32, device=latents.device))
