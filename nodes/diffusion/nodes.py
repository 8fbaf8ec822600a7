"""The diffusion node types: LoadModel → TextEncode → EmptyLatent → Sampler → VAEDecode (and VAEEncode).

Each compute function checks its inputs, then hands the work to the model family's adapter
(nodes/diffusion/families/), which drives the family's own diffusers pipeline.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nodes.diffusion import estimate as memory
from nodes.diffusion.acceleration import ATTENTION_DOC, COMPILE_DOC, compile_model, set_attention
from nodes.diffusion.context_windows import check_window
from nodes.diffusion.families import BUILTIN_FAMILY_NAMES, SampleJob
from nodes.diffusion.images import FIT_CHOICES, fit_image, latent_pixel_size
from nodes.diffusion.loading import DTYPES, OFFLOAD, OFFLOAD_DOC, detect_family, load_model, refuse_pickle, resolve_path
from nodes.diffusion.lora import loras_active
from nodes.diffusion.previews import model_previewer
from nodes.diffusion.schedulers import SCHEDULER_CHOICES, make_scheduler
from nodes.diffusion.speedups import SPEEDUP_DOC, SPEEDUPS, THRESHOLD_DOC, step_caching
from nodes.diffusion.values import LATENT_ON_DISK, Conditioning, Latent, ModelHandle, ModelParts
from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.media.types import Frames, Image
from studio.nodeapi import ATTENTION_BACKENDS, NodeError

# The built-in families; a family from an installed pack is used through "auto".
FAMILY_CHOICES = ("auto", *BUILTIN_FAMILY_NAMES)


@contextmanager
def torch_work(what: str) -> Iterator[None]:
    """No autograd, and CUDA out-of-memory turned into advice on the node."""
    import torch

    try:
        with torch.no_grad():
            yield
    except torch.OutOfMemoryError:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise NodeError(
            f"ran out of GPU memory while {what}; lower width, height or frames, set offload to model "
            "or sequential in LoadModel, or turn on tiled in VAEDecode"
        ) from None


def _same_family(model: ModelHandle, value: Any, port: str) -> None:
    family = getattr(value, "family", None) or getattr(getattr(value, "format", None), "family", None)
    if family != model.family:
        raise NodeError(f"{port} was made for a {family} model, but model is {model.family}; connect matching nodes")


@node_type(
    "LoadModel",
    category="Diffusion",
    estimate=memory.load_model,
    description="Load a diffusion model (a diffusers folder or a single .safetensors file) from the model folders.",
    params=[
        ParamSpec(
            "path",
            t.PATH,
            "",
            doc="a diffusers folder or a .safetensors file, absolute or inside a model folder",
            file_types=(".safetensors", ".gguf"),
            model_kinds=("checkpoint", "diffusion_model", "diffusers"),
        ),
        ParamSpec("family", t.CHOICE, "auto", choices=FAMILY_CHOICES, doc="model family; auto tells it from the files"),
        ParamSpec("dtype", t.CHOICE, "auto", choices=DTYPES, doc="auto: half precision on GPUs, float32 on the CPU"),
        ParamSpec("offload", t.CHOICE, "none", choices=OFFLOAD, doc=OFFLOAD_DOC),
        ParamSpec(
            "config",
            t.PATH,
            "",
            directory=True,
            doc="single .safetensors files only: a local diffusers folder of the same model whose configs "
            "describe the file (model_index.json and config files suffice); empty: a folder named after "
            "the file next to it, else the configs shipped with the app (SD 1.x/2.x, SDXL), else the "
            "Hugging Face cache",
        ),
        *(
            ParamSpec(name, t.PATH, "", file_types=(".safetensors", ".gguf"), doc=doc, model_kinds=(name,))
            for name, doc in (
                ("text_encoder", "for a bare diffusion-model file: the text encoder (file or folder)"),
                ("vae", "for a bare diffusion-model file: the VAE (file or folder)"),
                (
                    "image_encoder",
                    "for a bare Wan 2.1 image-to-video file: its CLIP vision encoder "
                    "(clip_vision_h.safetensors, or a diffusers folder)",
                ),
            )
        ),
        ParamSpec("attention", t.CHOICE, "auto", choices=ATTENTION_BACKENDS, doc=ATTENTION_DOC),
        ParamSpec("compile", t.BOOL, False, doc=COMPILE_DOC),
    ],
    outputs=[OutputSpec("model", t.MODEL)],
)
def load_model_node(
    ctx,
    *,
    path: str,
    family: str,
    dtype: str,
    offload: str,
    config: str = "",
    text_encoder: str = "",
    vae: str = "",
    image_encoder: str = "",
    attention: str = "auto",
    compile: bool = False,
) -> dict:
    resolved = resolve_path(path, ctx.settings.model_folders, ctx.bundled)
    refuse_pickle(resolved, ctx.settings.allow_pickle)
    optional = {"config": config, "text_encoder": text_encoder, "vae": vae, "image_encoder": image_encoder}
    found: dict[str, Path | None] = {}
    for name, given in optional.items():
        try:
            found[name] = resolve_path(given, ctx.settings.model_folders, ctx.bundled) if given.strip() else None
            if found[name] is not None and name != "config":
                refuse_pickle(found[name], ctx.settings.allow_pickle)
        except NodeError as exc:
            raise NodeError(f"{name}: {exc}") from None
    config_folder = found.pop("config")
    parts = ModelParts(**found)
    families = ctx.families
    if family == "auto":
        detected = detect_family(resolved, families)
    elif family in families:
        detected = families[family]
    else:
        raise NodeError(f"family {family!r} is not installed; installed: {', '.join(families.names)}")
    if "torch" not in sys.modules:
        ctx.status("Importing torch (first run only)…")
    backend = ctx.settings.attention if attention == "auto" else attention
    with torch_work("loading the model"):
        device = ctx.device  # "auto" looks for a GPU
        if backend not in ATTENTION_BACKENDS:
            raise NodeError(f"attention must be one of {', '.join(ATTENTION_BACKENDS)}, got {backend!r}")
        handle = load_model(
            resolved,
            family=detected,
            families=families,
            dtype=ctx.dtype if dtype == "auto" else dtype,
            offload=offload,
            device=device,
            status=ctx.status,
            allow_pickle=ctx.settings.allow_pickle,
            logger=ctx.logger,
            config=config_folder,
            parts=parts,
            bundled=ctx.bundled,
        )
        ctx.logger.info(f"attention: {set_attention(handle, backend, device, ctx.status)}")
        if compile or ctx.settings.compile:
            compile_model(handle, ctx.logger.info)
    return {"model": handle}


@node_type(
    "TextEncode",
    category="Diffusion",
    estimate=memory.text_encode,
    description="Encode a prompt with the model's own text encoder(s).",
    inputs=[InputSpec("model", t.MODEL)],
    params=[ParamSpec("text", t.STRING, "", multiline=True, doc="the prompt")],
    outputs=[OutputSpec("conditioning", t.CONDITIONING)],
)
def text_encode(ctx, *, model: ModelHandle, text: str) -> dict:
    return {"conditioning": _encode(model, text)}


def _encode(model: ModelHandle, text: str) -> Conditioning:
    with torch_work("encoding the prompt"), loras_active(model):
        tensors = model.adapter.encode_text(model, text)
    return Conditioning(model.family, text, {k: v.detach().cpu() for k, v in tensors.items()})


@node_type(
    "EmptyLatent",
    category="Diffusion",
    estimate=memory.empty_latent,
    description="An empty latent of a given size; the sampler starts it from noise.",
    inputs=[InputSpec("model", t.MODEL)],
    params=[
        ParamSpec("width", t.INT, 512, min=8, max=8192, doc="pixels"),
        ParamSpec("height", t.INT, 512, min=8, max=8192, doc="pixels"),
        ParamSpec("frames", t.INT, 1, min=1, max=2000, doc="1 for an image; video models have their own rules"),
        ParamSpec("batch", t.INT, 1, min=1, max=64, doc="independent samples"),
    ],
    outputs=[OutputSpec("latent", t.LATENT)],
)
def empty_latent(ctx, *, model: ModelHandle, width: int, height: int, frames: int, batch: int) -> dict:
    latent = model.adapter.empty_latent(model, width, height, frames, batch)
    latent.fps = model.adapter.default_fps
    return {"latent": latent}


@node_type(
    "Sampler",
    category="Diffusion",
    estimate=memory.sampler,
    description="Denoise a latent with the model, guided by the prompts; previews every step.",
    inputs=[
        InputSpec("model", t.MODEL),
        InputSpec("positive", t.CONDITIONING),
        InputSpec("negative", t.CONDITIONING, optional=True, doc="unconnected: the empty prompt"),
        InputSpec("latent", t.LATENT),
        InputSpec("first_frame", t.IMAGE, optional=True, doc="image-to-video: the clip starts from this image"),
        InputSpec("last_frame", t.IMAGE, optional=True, doc="first/last-frame: the clip ends on this image"),
    ],
    params=[
        ParamSpec("steps", t.INT, 20, min=1, max=200),
        ParamSpec("cfg", t.FLOAT, 7.0, min=0.0, max=50.0, doc="classifier-free guidance scale; ≤ 1 turns it off"),
        ParamSpec("seed", t.SEED, 0),
        ParamSpec("scheduler", t.CHOICE, "default", choices=SCHEDULER_CHOICES, doc="default: the model's own"),
        ParamSpec(
            "shift",
            t.FLOAT,
            0.0,
            min=0.0,
            max=100.0,
            doc="flow-matching models (Wan, LTX): the timestep shift (higher: more steps at high noise; "
            "few-step LoRAs name theirs); 0: the model's own",
        ),
        ParamSpec(
            "denoise", t.FLOAT, 1.0, min=0.0, max=1.0, doc="below 1 keeps part of the input latent (image-to-image)"
        ),
        ParamSpec(
            "fit",
            t.CHOICE,
            "crop",
            choices=FIT_CHOICES,
            doc="how first_frame/last_frame meet the latent's size: crop (fill, keep the centre), "
            "pad (letterbox), or resize (stretch)",
        ),
        ParamSpec(
            "context_frames",
            t.INT,
            0,
            min=0,
            max=1000,
            doc="long clips: denoise in sliding windows of this many frames, blended where they overlap, so "
            "memory follows the window, not the clip (Wan: 81, AnimateDiff: 16); 0: the whole clip at once",
        ),
        ParamSpec(
            "context_overlap",
            t.INT,
            8,
            min=0,
            max=500,
            doc="frames shared by neighbouring context windows, cross-faded (only with context_frames)",
        ),
        ParamSpec("speedup", t.CHOICE, "none", choices=SPEEDUPS, doc=SPEEDUP_DOC),
        ParamSpec("speedup_threshold", t.FLOAT, 0.0, min=0.0, max=100.0, doc=THRESHOLD_DOC),
    ],
    outputs=[OutputSpec("latent", t.LATENT)],
    persist=LATENT_ON_DISK,
)
def sampler(
    ctx,
    *,
    model: ModelHandle,
    positive: Conditioning,
    negative: Conditioning | None,
    latent: Latent,
    steps: int,
    cfg: float,
    seed: int,
    scheduler: str,
    denoise: float,
    first_frame: Image | None = None,
    last_frame: Image | None = None,
    fit: str = "crop",
    context_frames: int = 0,
    context_overlap: int = 8,
    shift: float = 0.0,
    speedup: str = "none",
    speedup_threshold: float = 0.0,
) -> dict:
    _same_family(model, positive, "positive")
    check_window(context_frames, context_overlap)
    _same_family(model, latent, "latent")
    images = {"first_frame": first_frame, "last_frame": last_frame}
    for port, image in images.items():
        if image is not None and port not in model.adapter.image_inputs:
            usable = " and ".join(sorted(model.adapter.image_inputs)) or "no image inputs"
            raise NodeError(f"{port}: {model.adapter.label} models cannot use it (this family takes {usable})")
    if negative is None:
        zeros = model.adapter.unconditional(model, positive)
        if zeros is not None:
            negative = Conditioning(model.family, "", zeros)
        else:
            negative = model.memo.get("empty_prompt")
            if negative is None:
                negative = model.memo["empty_prompt"] = _encode(model, "")
    else:
        _same_family(model, negative, "negative")
    fmt = latent.format
    preview = model_previewer(model, fmt, ctx.settings.model_folders, ctx.logger)

    def on_step(index: int, total: int, make: Callable[[], Any]) -> None:
        ctx.progress(index + 1, total)
        if ctx.wants_preview(index + 1, total):
            ctx.preview(lambda: preview(make()), index + 1, total)
        ctx.check_cancelled()

    job = SampleJob(
        positive=positive,
        negative=negative,
        latent=latent,
        steps=steps,
        cfg=cfg,
        scheduler=make_scheduler(scheduler, model, shift),
        generator=ctx.generator(seed),
        denoise=denoise,
        on_step=on_step,
        context_frames=context_frames,
        context_overlap=context_overlap,
        context_shift=speedup == "none",
        **{
            port: fit_image(image.array, latent_pixel_size(latent), fit)
            for port, image in images.items()
            if image is not None
        },
    )
    ctx.check_cancelled()
    with (
        torch_work("sampling"),
        loras_active(model),
        step_caching(model, job, speedup, speedup_threshold, ctx.status) as job,
    ):
        samples = model.adapter.sample(model, job)
    return {"latent": Latent(samples.detach().cpu(), fmt, fps=latent.fps)}


@node_type(
    "VAEDecode",
    category="Diffusion",
    estimate=memory.vae_decode,
    description="Decode a latent into frames with the model's VAE.",
    inputs=[InputSpec("model", t.MODEL), InputSpec("latent", t.LATENT)],
    params=[
        ParamSpec(
            "tiled",
            t.BOOL,
            False,
            doc="decode in tiles: slower, needs far less memory (the memory estimate suggests it when the "
            "decode would not fit; it is never switched on by itself, tiles change the output slightly)",
        )
    ],
    outputs=[OutputSpec("frames", t.FRAMES)],
)
def vae_decode(ctx, *, model: ModelHandle, latent: Latent, tiled: bool) -> dict:
    _same_family(model, latent, "latent")
    with torch_work("decoding"):
        pixels = model.adapter.decode(model, latent, tiled, ctx.check_cancelled)
    return {"frames": Frames(to_uint8(pixels), latent.fps)}


def to_uint8(pixels: Any) -> Any:
    """float 0..1 → uint8, rounding as diffusers' ``numpy_to_pil`` does."""
    import numpy as np

    return np.ascontiguousarray((pixels * 255).round().astype(np.uint8))


@node_type(
    "VAEEncode",
    category="Diffusion",
    estimate=memory.vae_encode,
    description="Encode frames into a latent with the model's VAE (for image-to-image or video-to-video).",
    inputs=[InputSpec("model", t.MODEL), InputSpec("frames", t.FRAMES)],
    outputs=[OutputSpec("latent", t.LATENT)],
)
def vae_encode(ctx, *, model: ModelHandle, frames: Frames) -> dict:
    ctx.check_cancelled()
    with torch_work("encoding frames"):
        latent = model.adapter.encode_frames(model, frames)
    return {
        "latent": Latent(
            latent.samples.detach().cpu(),
            latent.format,
            posterior=None if latent.posterior is None else latent.posterior.detach().cpu(),
            fps=frames.fps,
        )
    }
