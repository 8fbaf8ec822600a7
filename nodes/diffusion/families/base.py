"""What every family adapter shares: the sampling job, tensor helpers and the Family interface."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodes.diffusion.values import Conditioning, Latent, LatentFormat, ModelHandle, ModelParts
from studio.nodeapi import FamilySpec, NodeError

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
    # Image conditioning (uint8 RGB [H, W, 3] arrays), already fitted to the latent's pixel size.
    first_frame: Any = None
    last_frame: Any = None
    # Sliding context windows (nodes/diffusion/context_windows.py), in pixel frames; 0: the whole clip at once.
    context_frames: int = 0
    context_overlap: int = 0
    # The windows move from step to step (no fixed seam), except under a step cache: it reuses each call
    # position's result from the step before, which must then see the same frames.
    context_shift: bool = True

    @property
    def from_noise(self) -> bool:
        """Text-to-image/video: an empty latent fully denoised starts from pure noise."""
        return self.latent.empty and self.denoise >= 1.0


def require_steps_left(steps: int, job: SampleJob) -> None:
    """A partial (denoise < 1) run must keep at least one of its steps."""
    if steps == 0:
        raise NodeError(f"denoise {job.denoise:g} with {job.steps} steps leaves no step to run")


def video_to_video_timesteps(v2v: Any, pipe: Any, scheduler: Any, job: SampleJob, device: Any) -> Any:
    """The timesteps of a partial run, as the family's video-to-video pipeline class ``v2v`` cuts them."""
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import retrieve_timesteps

    timesteps, steps = retrieve_timesteps(scheduler, job.steps, device)
    timesteps, steps = v2v.get_timesteps(pipe, steps, timesteps, job.denoise, device)
    require_steps_left(steps, job)
    return timesteps


def guided_step(scheduler: Any, noise_pred: Any, t: Any, latents: Any, extra: dict, cfg: float | None) -> tuple:
    """Classifier-free guidance over a [uncond, cond] batch (``cfg`` None: off), then one scheduler step.

    Returns the new latents and the latents to preview: the scheduler's predicted clean sample
    where it gives one, else the new latents.
    """
    if cfg is not None:
        uncond, cond = noise_pred.chunk(2)
        noise_pred = uncond + cfg * (cond - uncond)
    out = scheduler.step(noise_pred, t, latents, **extra, return_dict=True)
    shown = getattr(out, "pred_original_sample", None)
    return out.prev_sample, out.prev_sample if shown is None else shown


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


def decode_clips(
    model: ModelHandle, latent: Latent, tiled: bool, check_cancelled: Callable[[], None], decode: Callable[[Any], Any]
) -> Any:
    """Float frames ``[F, H, W, 3]`` in 0..1 of every clip in a video latent, one batch item at a time
    (bounding the VAE's memory), through the pipeline's own video post-processing. ``decode`` turns
    one item's diffusion-space latent (on the pipeline's device) into the VAE's video output."""
    import numpy as np

    pipe = model.pipeline
    out = []
    with vae_tiling(pipe.vae, tiled):
        for index in range(latent.samples.shape[0]):
            check_cancelled()
            video = decode(latent.samples[index : index + 1].to(pipe._execution_device))
            pixels = pipe.video_processor.postprocess_video(video, output_type="np")  # [1, F, H, W, 3]
            out.append(pixels[0].astype(np.float32, copy=False))
    return np.concatenate(out)


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


def pixels_to_unit(array: Any) -> Any:
    """uint8 [F, H, W, 3] → float32 in 0..1, exactly as diffusers' ``pil_to_numpy`` computes it."""
    import numpy as np

    return array.astype(np.float32) / 255.0


class Family:
    """The interface every family adapter implements; built by the registry from its declaration."""

    flow_matching = False
    default_fps = 24.0
    # Which of the Sampler's image inputs this family can use ("first_frame", "last_frame").
    image_inputs: frozenset[str] = frozenset()

    def __init__(self, spec: FamilySpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        return self.spec.label

    def load_class(self) -> Any:
        """The pipeline class models of this family load with (the declaration's first)."""
        import diffusers

        return getattr(diffusers, self.spec.pipelines[0])

    def load_file(
        self,
        path: Path,
        parts: ModelParts,
        torch_dtype: Any,
        allow_pickle: bool,
        config: Path | None,
        bundled: Callable[[str], Path | None] | None = None,
    ) -> Any:
        """The pipeline for a single weights file: a full checkpoint, or a bare diffusion model plus
        ``parts``. The default reads full checkpoints through diffusers' ``from_single_file`` with a
        local config folder; families with bare-file loaders override it. ``bundled`` finds the app's
        own files (shipped configs), as the run context's ``bundled`` does."""
        from nodes.diffusion.loading import load_single_file

        if parts.given():
            names = ", ".join(parts.given())
            raise NodeError(f"{names}: {self.label} models load from one checkpoint file; clear {names}")
        return load_single_file(self.load_class(), path, torch_dtype, allow_pickle, config, self.label)

    def latent_format(self, pipe: Any) -> LatentFormat:
        raise NotImplementedError

    frame_examples = ""  # frame counts the family's models are used with, shown by the frame rule

    def check_size(self, fmt: LatentFormat, width: int, height: int, frames: int) -> None:
        multiple = self.size_multiple(fmt)
        for name, value in (("width", width), ("height", height)):
            if value % multiple:
                raise NodeError(f"{name} must be divisible by {multiple} for {self.label}, got {value}")
        # A video VAE keeps the first frame and compresses each later group of `temporal` frames.
        if fmt.temporal > 1 and frames % fmt.temporal != 1:
            examples = f" (e.g. {self.frame_examples})" if self.frame_examples else ""
            raise NodeError(f"frames must be {fmt.temporal}×k+1 for {self.label}{examples}, got {frames}")

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

    def encode_clip_mode(self, model: ModelHandle, frames: Any) -> Any:
        """A clip's VAE latent (the posterior's mode, float32, before the family's normalisation), with
        the clip's size checked and its pixels prepared by the pipeline's own video processor."""
        import torch
        from diffusers.pipelines.wan.pipeline_wan_video2video import retrieve_latents

        pipe = model.pipeline
        vae = pipe.vae
        count, height, width, _ = frames.array.shape
        self.check_size(model.latent_format, width, height, count)
        video = pipe.video_processor.preprocess_video(pixels_to_unit(frames.array)[None], height=height, width=width)
        video = video.to(pipe._execution_device, dtype=vae.dtype)
        return retrieve_latents(vae.encode(video), sample_mode="argmax").to(torch.float32)
