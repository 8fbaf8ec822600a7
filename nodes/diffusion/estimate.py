"""Memory estimates of the diffusion nodes (their ``estimate`` hooks; studio.nodeapi.memory has the contract).

Nothing is loaded: LoadModel reads the weights' headers and the components' configs (footprint.py);
the other nodes plan shapes. The figures, per node:

- LoadModel holds its weights, where they will live: on CUDA without offload in VRAM; with ``model``,
  ``group`` or ``sequential`` offload in RAM, each node then bringing to the GPU what it computes with
  (a whole component for ``model``; two of a component's ``layers`` blocks for ``group``, the one
  computing and the one prefetched; about one block for ``sequential``). Loading needs the largest
  component once more while its state dict is copied in. On the CPU it also holds ``CPU_RUNTIME``:
  what torch's kernels, thread pools and allocator keep once a model has run (measured on the tiny
  models, benchmarks/bench_estimate.py).
- Sampler needs ``SAMPLER_FACTOR × tokens × width × bytes`` of activations: tokens are the latent's
  positions after the denoiser's patching (both guidance halves when the family batches them), width
  the denoiser's hidden size; the factor counts the tensors alive at once in a block (attention
  inputs and outputs, the feed-forward's wider hidden layer, skip connections), with
  memory-efficient attention (no tokens² matrix: torch's SDPA on CUDA and on the CPU).
- VAEDecode needs ``DECODE_FACTOR × pixels × vae width × bytes`` for one decoded chunk (the frames a
  family's VAE decodes at once, capped at a tile's area when tiled), plus the decoded clip in float
  (the pipeline's post-processing keeps a tensor and an array) and holds the frames as uint8.
- The factors differ by device: on the CPU the VAE's convolutions unfold their input (im2col, 9
  copies per 2-d kernel, vol2col, 27 per 3-d one), which CUDA's convolutions do not, and a 3-d VAE's
  decode holds about ``VIDEO_VAE_CPU_FIXED`` whatever the size. The CPU figures are a least-squares fit
  of benchmarks/bench_estimate.py's measurements (tiny Wan at 128², 256², 384² × 17 frames: 221, 271,
  493 MB over an idle process; tiny SD at 256², 512², 768²: 40, 106, 183 MB): per pixel ~2,200 bytes
  for the Wan (28 × 4 frames × 16 channels × 4 bytes / 2² for its patchified decoder, plus the float
  clip) over a 164 MB intercept, ~285 bytes for SD (16 × 4 channels × 4 bytes plus the float image)
  over 22 MB. The CUDA factors come from published figures (Wan 2.1 1.3B at 832×480×81 in bf16 needs
  8.2 GB with the text encoder kept on the CPU, per Wan's README; SDXL's VAE at 1024² in fp32 about
  10 GB untiled) and are untested here (no GPU).

Tiled decoding is advised, not switched on by itself: a run keeps the settings it was given (tiles
change the output slightly). Slicing needs no setting: the families already decode one batch item
(video) or ``DECODE_CHUNK`` images at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodes.diffusion.footprint import DENOISERS, DTYPE_BYTES, Footprint, file_footprint, folder_footprint
from nodes.diffusion.loading import detect_family, resolve_path
from nodes.diffusion.values import ModelParts
from nodes.frames_memory import PlannedFrames
from studio.nodeapi import MissingFiles, NodeError
from studio.nodeapi.memory import MB, EstimateContext, Estimated, MemoryUse, Tweak
from studio.nodeapi.weights import WeightsFileError

SAMPLER_FACTOR = {"cpu": 24.0, "cuda": 16.0}
# By device and by the VAE's convolutions: "2d" image VAEs, "3d" video VAEs (fitted, see the docstring).
DECODE_FACTOR = {"cpu": {"2d": 16.0, "3d": 28.0}, "cuda": {"2d": 20.0, "3d": 20.0}}
CPU_RUNTIME = 20 * MB
VIDEO_VAE_CPU_FIXED = 135 * MB  # a 3-d VAE's decode on the CPU, whatever the size (tiny Wan: intercept of the fit)
TEXT_FACTOR = 16.0  # a text encoder's activations: tensors of tokens × width alive at once
TILE_PIXELS = 512 * 512  # the area diffusers' VAEs decode at once when tiled (their default tile sizes)


@dataclass(frozen=True)
class Geometry:
    """How a family's latent and denoiser are shaped: what the estimate needs of its configs."""

    channels: int
    spatial: int  # pixels per latent pixel
    temporal: int  # pixel frames per latent frame (1: image models)
    patch: int  # latent pixels per token, each way
    width: int  # the denoiser's hidden size
    vae_width: int  # the VAE decoder's channels at full resolution
    vae_patch: int = 1  # Wan 2.2's VAE decodes at half size and unpatchifies
    decode_frames: int = 8  # pixel frames a VAE decodes at once
    cfg_batched: bool = True  # guidance runs both halves as one batch
    text_tokens: int = 77
    text_width: int = 768
    blocks: int = 28  # the denoiser's repeated blocks (group offload moves one at a time)


# Published sizes, for single files without configs: (channels, spatial, temporal, patch, width, vae width).
FAMILY_DEFAULTS = {
    "sd15": Geometry(4, 8, 1, 1, 320, 128),
    "sdxl": Geometry(4, 8, 1, 1, 320, 128, text_width=2048),
    "animatediff": Geometry(4, 8, 1, 1, 320, 128),
    "wan": Geometry(16, 8, 4, 2, 1536, 96, decode_frames=4, cfg_batched=False, text_tokens=512, text_width=4096),
    "wan22": Geometry(16, 8, 4, 2, 5120, 96, decode_frames=4, cfg_batched=False, text_tokens=512, text_width=4096),
    "ltx": Geometry(128, 32, 8, 1, 2048, 128, decode_frames=10_000, text_tokens=128, text_width=4096),
    "cogvideox": Geometry(16, 8, 4, 2, 1920, 128, decode_frames=8, text_tokens=226, text_width=4096),
}


@dataclass(frozen=True)
class PlannedModel:
    family: str
    footprint: Footprint
    geometry: Geometry
    bytes: int  # per value in the compute dtype
    offload: str
    device: str


@dataclass(frozen=True)
class PlannedLatent:
    family: str
    width: int
    height: int
    frames: int
    batch: int


def geometry(family: str, configs: dict[str, dict[str, Any]]) -> Geometry:
    """The family's published geometry, corrected by what the model's configs say."""
    base = FAMILY_DEFAULTS.get(family, FAMILY_DEFAULTS["sd15"])
    vae, text = configs.get("vae") or {}, configs.get("text_encoder") or {}
    denoiser = next((configs[n] for n in DENOISERS if configs.get(n)), {})
    values: dict[str, Any] = {}
    if "block_out_channels" in vae:  # AutoencoderKL, CogVideoX, LTX
        channels = vae["block_out_channels"]
        values["vae_width"] = int(channels[0])
        values["channels"] = int(vae.get("latent_channels", base.channels))
        if "spatio_temporal_scaling" in vae:  # LTX: the patch size times one halving per scaling block
            halvings = sum(bool(s) for s in vae["spatio_temporal_scaling"])
            values["spatial"] = int(vae.get("patch_size", 4)) * 2**halvings
            values["temporal"] = int(vae.get("patch_size_t", 1)) * 2**halvings
        else:
            values["spatial"] = 2 ** (len(channels) - 1)
            if "temporal_compression_ratio" in vae:
                values["temporal"] = int(vae["temporal_compression_ratio"])
    elif "z_dim" in vae:  # Wan's VAE
        values["channels"] = int(vae["z_dim"])
        values["vae_width"] = int(vae.get("decoder_base_dim") or vae.get("base_dim", 96))
        values["vae_patch"] = int(vae.get("patch_size") or 1)
        values["spatial"] = int(vae.get("scale_factor_spatial") or 2 ** (len(vae.get("dim_mult", [1] * 4)) - 1))
        values["temporal"] = int(vae.get("scale_factor_temporal") or 2 ** sum(map(bool, vae["temperal_downsample"])))
    if "block_out_channels" in denoiser:  # a UNet: its first level is the widest in positions
        values["width"] = _int(denoiser["block_out_channels"][0], base.width)
    elif denoiser.get("num_attention_heads") and denoiser.get("attention_head_dim"):
        values["width"] = _int(denoiser["num_attention_heads"], 1) * _int(denoiser["attention_head_dim"], base.width)
        patch = denoiser.get("patch_size", base.patch)
        values["patch"] = _int(patch[-1] if isinstance(patch, list) and patch else patch, base.patch)
        values["blocks"] = _int(denoiser.get("num_layers"), base.blocks)
    if text:
        values["text_width"] = int(text.get("d_model") or text.get("hidden_size") or base.text_width)
    return Geometry(**{**base.__dict__, **values})


def _int(value: Any, default: int) -> int:
    """A positive whole number from a config, else ``default`` (configs are data from strangers)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def load_model(
    ctx: EstimateContext,
    *,
    path: str,
    family: str,
    dtype: str,
    offload: str,
    config: str = "",
    text_encoder: str = "",
    vae: str = "",
    image_encoder: str = "",
    **speed: Any,  # attention backend, compile: no memory of their own worth counting here
) -> Estimated:
    found = _find_all(ctx, path=path, text_encoder=text_encoder, vae=vae, image_encoder=image_encoder, config=config)
    resolved, config_folder = found.pop("path"), found.pop("config")
    parts = ModelParts(**found)
    if family == "auto":
        spec = detect_family(resolved, ctx.families)
    elif family in ctx.families:
        spec = ctx.families[family]
    else:
        raise NodeError(f"family {family!r} is not installed")
    size = DTYPE_BYTES[ctx.dtype if dtype == "auto" else dtype]
    try:
        footprint = (
            folder_footprint(resolved, size)
            if resolved.is_dir()
            else file_footprint(resolved, parts, size, config_folder)
        )
    except WeightsFileError as exc:
        raise NodeError(str(exc)) from None
    offload = offload if ctx.on_gpu else "none"  # offload means nothing where RAM is the device's memory
    planned = PlannedModel(spec.name, footprint, geometry(spec.name, footprint.configs), size, offload, ctx.device)
    largest = max(footprint.weights.values(), default=0)
    note = f"{len(footprint.weights)} components, {_mb(footprint.total)} of weights"
    if ctx.on_gpu and offload == "none":
        use = MemoryUse(held_vram=footprint.total, work_ram=largest, note=note)
    else:
        runtime = CPU_RUNTIME if ctx.device == "cpu" else 0
        use = MemoryUse(held_ram=footprint.total + runtime, work_ram=largest, note=note)
    modes = ("model", "group", "sequential")  # mildest first
    stronger = modes[modes.index(offload) + 1 :] if offload in modes else modes
    tweaks = tuple(Tweak({"offload": m}, f"offload {m}") for m in stronger) if ctx.on_gpu else ()
    return Estimated({"model": planned}, use, tweaks)


def _find_all(ctx: EstimateContext, **given: str) -> dict[str, Any]:
    """Each given file found (``path`` must be given; the others may be empty: None). Every missing
    one is named in one MissingFiles, so the window counts them all, not only the first."""
    found: dict[str, Any] = {}
    missing: list[MissingFiles] = []
    for name, value in given.items():
        if name != "path" and not value.strip():
            found[name] = None
            continue
        try:
            found[name] = resolve_path(value, ctx.settings.model_folders, ctx.bundled)
        except MissingFiles as exc:
            missing.append(exc)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise MissingFiles(f"{missing[0]}{more}", [p for exc in missing for p in exc.paths])
    return found


def load_lora(ctx: EstimateContext, *, model: PlannedModel | None, path: str, **params: Any) -> Estimated:
    """The LoRA's file must be there; its weights join the planned model's, where they live (the
    file's size: its header and metadata are a rounding error), and the planned model passes on."""
    size = resolve_path(path, ctx.settings.model_folders, ctx.bundled).stat().st_size
    if model is None:
        return Estimated({"model": None})
    note = f"LoRA, {_mb(size)}"
    in_vram = model.device == "cuda" and model.offload == "none"
    use = MemoryUse(held_vram=size, note=note) if in_vram else MemoryUse(held_ram=size, note=note)
    return Estimated({"model": model}, use)


def on_gpu_while_computing(model: PlannedModel, component_bytes: int) -> int:
    """VRAM a component takes while it computes under the model's offload mode (CUDA only)."""
    if model.device != "cuda":
        return 0
    blocks = max(model.geometry.blocks, 1)
    return {
        "none": 0,  # already counted as held by LoadModel
        "model": component_bytes,
        "group": component_bytes * min(1.0, 2 / blocks + 0.05),  # one block computing, one prefetched, the rest
        "sequential": component_bytes * min(1.0, 1 / blocks),
    }.get(model.offload, 0)


def _place(model: PlannedModel, work: int, weights: int = 0, note: str = "", held_frames: int = 0) -> MemoryUse:
    """Activations in VRAM on CUDA (with the weights the offload mode brings in), else in RAM."""
    if model.device == "cuda":
        return MemoryUse(held_ram=held_frames, work_vram=int(work + weights), note=note)
    return MemoryUse(held_ram=held_frames, work_ram=int(work), note=note)


def text_encode(ctx: EstimateContext, *, model: PlannedModel | None, **params: Any) -> Estimated:
    if model is None:
        return Estimated()
    g = model.geometry
    work = TEXT_FACTOR * g.text_tokens * g.text_width * model.bytes
    weights = on_gpu_while_computing(model, model.footprint.weights.get("text_encoder", 0))
    return Estimated({"conditioning": model.family}, _place(model, work, weights))


def empty_latent(
    ctx: EstimateContext,
    *,
    model: PlannedModel | None,
    width: int,
    height: int,
    frames: int,
    batch: int,
    **params: Any,
) -> Estimated:
    if model is None:
        return Estimated()
    g = model.geometry
    latent = PlannedLatent(model.family, width, height, frames, batch)
    multiple = g.spatial * g.patch
    tweaks = []
    for scale in (0.75, 0.5):
        w, h = (max(multiple, int(v * scale) // multiple * multiple) for v in (width, height))
        if (w, h) != (width, height):
            tweaks.append(Tweak({"width": w, "height": h}, f"size {w}×{h}", rank=2))
    if g.temporal > 1 and frames > g.temporal + 1:
        fewer = ((frames - 1) // g.temporal // 2) * g.temporal + 1
        tweaks.append(Tweak({"frames": fewer}, f"{fewer} frames", rank=2))
    return Estimated({"latent": latent}, MemoryUse(), tuple(tweaks))


def latent_frames(g: Geometry, frames: int) -> int:
    return frames if g.temporal == 1 else (frames - 1) // g.temporal + 1


def sampler(ctx: EstimateContext, *, model: PlannedModel | None, latent: PlannedLatent | None, **params) -> Estimated:
    if model is None or latent is None:
        return Estimated()
    g = model.geometry
    tokens = (
        latent.batch
        * latent_frames(g, latent.frames)
        * (latent.height // g.spatial // g.patch)
        * (latent.width // g.spatial // g.patch)
    )
    context = params.get("context_frames") or 0
    if context and g.temporal > 1 and context < latent.frames:  # sliding windows: memory follows the window
        tokens = tokens * latent_frames(g, context) // max(latent_frames(g, latent.frames), 1)
    cfg = params.get("cfg")
    passes = 2 if g.cfg_batched and (cfg is None or cfg > 1.0) else 1
    work = SAMPLER_FACTOR["cuda" if model.device == "cuda" else "cpu"] * tokens * passes * g.width * model.bytes
    weights = on_gpu_while_computing(model, model.footprint.denoiser)
    note = f"{tokens * passes} tokens × {g.width} wide"
    return Estimated({"latent": latent}, _place(model, work, weights, note))


def vae_decode(
    ctx: EstimateContext, *, model: PlannedModel | None, latent: PlannedLatent | None, tiled: bool, **params: Any
) -> Estimated:
    if model is None or latent is None:
        return Estimated()
    g = model.geometry
    area = latent.width * latent.height
    chunk = min(latent.frames, g.decode_frames) * min(area, TILE_PIXELS if tiled else area)
    device = "cuda" if model.device == "cuda" else "cpu"
    factor = DECODE_FACTOR[device]["3d" if g.temporal > 1 else "2d"]
    activations = factor * chunk * g.vae_width * model.bytes / g.vae_patch**2
    if device == "cpu" and g.temporal > 1:
        activations += VIDEO_VAE_CPU_FIXED
    clip = latent.frames * area * 3
    post = clip * 4 * 2  # the decoded clip in float, in RAM: the VAE's tensor and the post-processed array
    frames = latent.batch * latent.frames
    held = frames * area * 3  # the frames, uint8
    if model.device == "cuda":  # the decoded item sits on the GPU before post-processing
        weights = on_gpu_while_computing(model, model.footprint.weights.get("vae", 0))
        use = MemoryUse(held_ram=held, work_ram=post, work_vram=int(activations + clip * model.bytes + weights))
    else:
        use = MemoryUse(held_ram=held, work_ram=int(activations + post))
    tweaks = () if tiled else (Tweak({"tiled": True}, "tiled decoding", rank=1),)
    return Estimated({"frames": PlannedFrames(frames, latent.width, latent.height)}, use, tweaks)


def vae_encode(
    ctx: EstimateContext, *, model: PlannedModel | None, frames: PlannedFrames | None, **params: Any
) -> Estimated:
    if model is None or frames is None:
        return Estimated()
    latent = PlannedLatent(model.family, frames.width, frames.height, frames.count, 1)
    decoded = vae_decode(ctx, model=model, latent=latent, tiled=False)
    return Estimated({"latent": latent}, MemoryUse(work_ram=decoded.use.work_ram, work_vram=decoded.use.work_vram))


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
