"""The values on MODEL, CONDITIONING and LATENT wires (DESIGN.md §3).

Plain containers; torch is never imported here. Each reports its memory through
``cache_nbytes()`` so the engine's byte-bounded cache can size it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.graph.spec import DiskCodec


def _tensor_bytes(value: Any) -> int:
    numel = getattr(value, "numel", None)
    size = getattr(value, "element_size", None)
    return int(numel()) * int(size()) if callable(numel) and callable(size) else 0


@dataclass(frozen=True)
class LatentFormat:
    """How a family's latents relate to pixels: VAE scaling/shift, downsampling, preview factors."""

    family: str
    channels: int
    scaling: float  # diffusion latent = (vae latent - shift) * scaling (Wan: per-channel, see families)
    shift: float
    spatial: int  # pixels per latent pixel
    temporal: int  # pixel frames per latent frame after the first (1 for image models)
    rgb_factors: tuple[tuple[float, float, float], ...] = ()
    rgb_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def pixel_frames(self, latent_frames: int) -> int:
        return latent_frames if self.temporal == 1 else (latent_frames - 1) * self.temporal + 1


@dataclass(frozen=True)
class ModelParts:
    """The separate files a bare diffusion-model file needs (ComfyUI keeps them in folders of their
    own): each a file or a diffusers component folder, None when not given."""

    text_encoder: Path | None = None
    vae: Path | None = None
    image_encoder: Path | None = None

    def given(self) -> dict[str, Path]:
        return {name: path for name, path in vars(self).items() if path is not None}


@dataclass(eq=False)
class ModelHandle:
    """A loaded diffusers pipeline and the family adapter that drives it."""

    cache_pool = "models"  # the engine keeps loaded models under a budget of their own

    family: str
    pipeline: Any
    adapter: Any
    path: Path
    device: str
    dtype: str
    offload: str
    latent_format: LatentFormat
    memo: dict[str, Any] = field(default_factory=dict)  # small per-model results, e.g. the empty prompt
    # The LoRAs applied, in order: (adapter name in the pipeline, file, strength). A handle with a
    # chain is a view of LoadModel's handle: same pipeline, the adapters switched on at use
    # (nodes/diffusion/lora.py).
    loras: tuple[tuple[str, str, float], ...] = ()

    def cache_nbytes(self) -> int:
        return sum(self.cache_placement().values()) or 1024

    def cache_placement(self) -> dict[str, int]:
        """Bytes of weights by where they sit: ``vram`` on a GPU, ``ram`` otherwise (offloaded parts
        count where they are now). A LoRA view counts only the weights of the adapter it added: the
        pipeline's are counted once, by the handle LoadModel made, and earlier links by their views."""
        names = (f".{self.loras[-1][0]}.",) if self.loras else ()
        placed: dict[str, int] = {}
        for component in getattr(self.pipeline, "components", {}).values():
            named = getattr(component, "named_parameters", None)
            if not callable(named):
                continue
            for name, tensor in named():
                if names and not any(part in name for part in names):
                    continue
                kind = getattr(getattr(tensor, "device", None), "type", "cpu")
                if kind == "meta":
                    continue
                place = "vram" if kind in ("cuda", "mps", "xpu") else "ram"
                placed[place] = placed.get(place, 0) + _tensor_bytes(tensor)
        return placed or {"ram": 1024}


@dataclass(eq=False)
class Conditioning:
    """Prompt embeddings for one family (``prompt_embeds`` plus pooled embeddings where it has them)."""

    family: str
    text: str
    tensors: dict[str, Any] = field(default_factory=dict)

    def cache_nbytes(self) -> int:
        return sum(_tensor_bytes(t) for t in self.tensors.values()) + len(self.text)


@dataclass(eq=False)
class Latent:
    """Latents ``[batch, channels, frames, height, width]`` in the model's diffusion space.

    ``empty`` marks an EmptyLatent: the sampler starts from pure noise. ``posterior`` holds
    the VAE encoder's moments for an encoded clip, so the sampler can draw from them with
    its own seed, as diffusers' image-to-image pipelines do.
    """

    samples: Any
    format: LatentFormat
    empty: bool = False
    posterior: Any = None
    fps: float = 24.0

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.samples.shape)

    def cache_nbytes(self) -> int:
        return _tensor_bytes(self.samples) + _tensor_bytes(self.posterior)


def _dump_latent(outputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    latent: Latent = outputs["latent"]
    tensors = {"samples": latent.samples}
    if latent.posterior is not None:
        tensors["posterior"] = latent.posterior
    return tensors, {"format": asdict(latent.format), "empty": latent.empty, "fps": latent.fps}


def _load_latent(tensors: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    fmt = meta.get("format")
    if not isinstance(fmt, dict) or set(fmt) != {f.name for f in fields(LatentFormat)}:
        raise ValueError("no latent format")
    fmt = dict(fmt)
    fmt["rgb_factors"] = tuple(tuple(float(v) for v in row) for row in fmt["rgb_factors"])
    fmt["rgb_bias"] = tuple(float(v) for v in fmt["rgb_bias"])
    fps = meta.get("fps")
    if "samples" not in tensors or not isinstance(fps, (int, float)) or not isinstance(meta.get("empty"), bool):
        raise ValueError("not a latent")
    latent = Latent(tensors["samples"], LatentFormat(**fmt), meta["empty"], tensors.get("posterior"), float(fps))
    return {"latent": latent}


# Sampled latents are kept on disk between runs: resuming after a failed decode skips the sampling.
LATENT_ON_DISK = DiskCodec(dump=_dump_latent, load=_load_latent)
