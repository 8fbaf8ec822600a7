"""A model's memory footprint from its files, read as headers and configs only (never weights).

Weights count at the precision they will have once loaded: float tensors in the compute dtype
(``from_pretrained``/``from_single_file`` cast them), fp8 tensors at one byte (quantized.py keeps fp8
Linear weights in fp8), GGUF tensors at their quantised size (diffusers keeps them quantised and
dequantises per forward), integer tensors as stored. A diffusers folder counts the ``.safetensors``
files of each component named in ``model_index.json`` (the files without a variant infix such as
``.fp16`` when both exist, as ``from_pretrained`` without ``variant`` picks them); a single file is
split into denoiser, VAE and text encoder by its key prefixes, plus the parts LoadModel names.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodes.diffusion.values import ModelParts
from studio.nodeapi.weights import SAFETENSORS_SUFFIXES, TensorInfo, WeightsFileError, read_model_index, weights_tensors

FLOAT_TYPES = {"F64", "F32", "F16", "BF16"}
INT_BYTES = {"I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1}
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
MAX_CONFIG = 1024 * 1024
# Single-file checkpoints (the original LDM layout, ComfyUI's): key prefix → component.
PREFIXES = (
    ("model.diffusion_model.", "denoiser"),
    ("first_stage_model.", "vae"),
    ("vae.", "vae"),
    ("cond_stage_model.", "text_encoder"),
    ("conditioner.", "text_encoder"),
    ("text_encoders.", "text_encoder"),
)
DENOISERS = ("transformer", "unet", "transformer_2", "denoiser")
_VARIANT = re.compile(r"\.(fp16|fp32|bf16|fp8\w*|non_ema|ema)\.safetensors$")


@dataclass(frozen=True)
class Footprint:
    """Bytes of weights per component once loaded, and the components' configs where a folder gave them."""

    weights: dict[str, int]
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.weights.values())

    @property
    def denoiser(self) -> int:
        return sum(b for name, b in self.weights.items() if name in DENOISERS)


def tensor_bytes(info: TensorInfo, float_bytes: int) -> int:
    numel = 1
    for d in info.shape:
        numel *= d
    if info.dtype in FLOAT_TYPES:
        return numel * float_bytes
    if info.dtype.startswith("F8"):
        return numel
    if info.dtype in INT_BYTES:
        return numel * INT_BYTES[info.dtype]
    return _gguf_bytes(info.dtype, numel, float_bytes)


def _gguf_bytes(type_name: str, numel: int, float_bytes: int) -> int:
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    except (ImportError, KeyError):
        return numel * float_bytes
    if type_name in ("F32", "F16", "BF16", "F64"):
        return numel * float_bytes
    return numel // block * size


def file_tensors(path: Path) -> dict[str, TensorInfo]:
    """A weights file's header, memoised by path, size and modification time (the window re-estimates
    on every edit; a changed file is read again)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise WeightsFileError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    return _cached_tensors(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _cached_tensors(path: str, size: int, mtime: int) -> dict[str, TensorInfo]:
    return weights_tensors(path)


def read_config(path: Path) -> dict[str, Any]:
    """A component's ``config.json`` as a dict, or {} when absent or unreadable (the estimate then
    uses the family's published sizes)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def folder_weights(folder: Path, float_bytes: int) -> int:
    """Bytes of one component folder's weights (the variant-less files when both kinds are there)."""
    files = sorted(p for p in folder.glob("*") if p.suffix in SAFETENSORS_SUFFIXES or p.suffix == ".gguf")
    plain = [p for p in files if not _VARIANT.search(p.name)]
    return sum(tensor_bytes(info, float_bytes) for path in (plain or files) for info in file_tensors(path).values())


def folder_footprint(folder: Path, float_bytes: int) -> Footprint:
    index = read_model_index(folder)
    weights: dict[str, int] = {}
    configs: dict[str, dict[str, Any]] = {}
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or not value or value[0] is None:
            continue
        if Path(name).name != name or not (folder / name).is_dir():
            continue
        weights[name] = folder_weights(folder / name, float_bytes)
        configs[name] = read_config(folder / name / "config.json")
    return Footprint(weights, configs)


def file_footprint(path: Path, parts: ModelParts, float_bytes: int, config: Path | None) -> Footprint:
    """A single file (split by key prefix) plus the part files or folders LoadModel names; configs from
    ``config`` or a sidecar folder when there is one."""
    weights: dict[str, int] = {}
    for file in _with_expert(path):
        for name, info in file_tensors(file).items():
            component = next((c for prefix, c in PREFIXES if name.startswith(prefix)), "denoiser")
            if component == "denoiser" and file != path:
                component = "transformer_2"
            weights[component] = weights.get(component, 0) + tensor_bytes(info, float_bytes)
    for name, part in parts.given().items():
        if part.is_dir():
            # A pipeline folder lends only its own component (wan_files.component_folder).
            footprint = folder_footprint(part, float_bytes) if (part / "model_index.json").is_file() else None
            weights[name] = (
                footprint.weights.get(name, footprint.total) if footprint else folder_weights(part, float_bytes)
            )
        else:
            weights[name] = sum(tensor_bytes(i, float_bytes) for i in file_tensors(part).values())
    configs: dict[str, dict[str, Any]] = {}
    for folder in (config, path.with_suffix(""), path.parent):
        if folder is not None and (folder / "model_index.json").is_file():
            configs = {sub.name: read_config(sub / "config.json") for sub in folder.iterdir() if sub.is_dir()}
            break
    return Footprint(weights, configs)


def _with_expert(path: Path) -> list[Path]:
    """Wan 2.2 A14B: naming one expert's file loads both (families/wan_files.py)."""
    for mine, other in (("high_noise", "low_noise"), ("low_noise", "high_noise")):
        if mine in path.name:
            sibling = path.with_name(path.name.replace(mine, other))
            if sibling.is_file():
                return [path, sibling]
    return [path]
