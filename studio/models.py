"""Finding models in the model folders and telling their family, without loading any weights.

A diffusers folder is recognised by its ``model_index.json``; a single ``.safetensors`` file
by its header's tensor names (read as JSON, never executed). A ComfyUI ``models/`` folder
(checkpoints, diffusion_models, vae, text_encoders, loras) can be added unchanged.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PIPELINE_FAMILIES = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionImg2ImgPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "AnimateDiffPipeline": "animatediff",
    "AnimateDiffVideoToVideoPipeline": "animatediff",
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "LTXPipeline": "ltx",
    "CogVideoXPipeline": "cogvideox",
}
WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    family: str  # a family name, or "unknown"
    kind: str  # "diffusers" (a folder) or "file"
    size_bytes: int

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "family": self.family,
            "kind": self.kind,
            "size_bytes": self.size_bytes,
        }


def family_of_folder(folder: Path) -> str:
    try:
        index = json.loads((folder / "model_index.json").read_text("utf-8"))
    except (OSError, ValueError):
        return "unknown"
    name = index.get("_class_name") if isinstance(index, dict) else None
    if isinstance(name, str) and name in PIPELINE_FAMILIES:
        return PIPELINE_FAMILIES[name]
    if isinstance(index, dict) and isinstance(index.get("studio_family"), str):
        return index["studio_family"]
    return "unknown"


def safetensors_keys(path: Path) -> list[str]:
    """Tensor names from a .safetensors header (8-byte length, then JSON)."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path.name} is too short to be a .safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > MAX_HEADER:
            raise ValueError(f"{path.name} has an implausible header of {length} bytes")
        header = json.loads(handle.read(length))
    return [k for k in header if k != "__metadata__"]


def family_of_file(path: Path) -> str:
    if path.suffix != ".safetensors":
        return "unknown"
    try:
        keys = safetensors_keys(path)
    except (OSError, ValueError):
        return "unknown"
    joined = set(keys)
    if any("motion_modules" in k for k in joined):  # motion modules, alone or merged into an SD UNet
        return "animatediff"
    if any(k.startswith("conditioner.embedders.1") for k in joined):
        return "sdxl"
    if any(k.startswith("model.diffusion_model.input_blocks") for k in joined):
        return "sd15"
    if any(k.startswith(("patch_embedding", "model.diffusion_model.patch_embedding")) for k in joined):
        return "wan"
    return "unknown"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def find_models(folders: Iterable[Path], max_depth: int = 3) -> list[ModelEntry]:
    """Every diffusers folder and weights file under ``folders`` (missing folders are skipped)."""
    found: list[ModelEntry] = []
    seen: set[Path] = set()

    def visit(folder: Path, depth: int) -> None:
        if folder in seen or depth > max_depth:
            return
        seen.add(folder)
        if (folder / "model_index.json").is_file():
            found.append(ModelEntry(folder.name, folder, family_of_folder(folder), "diffusers", _size(folder)))
            return
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return
        for child in children:
            if child.is_dir():
                visit(child, depth + 1)
            elif child.suffix in WEIGHT_SUFFIXES:
                found.append(ModelEntry(child.name, child, family_of_file(child), "file", child.stat().st_size))

    for folder in folders:
        folder = Path(folder).expanduser()
        if folder.is_dir():
            visit(folder.resolve(), 0)
    return found
