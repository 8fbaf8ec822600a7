"""Finding models in the model folders and telling their family, without loading any weights.

A diffusers folder is recognised by its ``model_index.json``; a single ``.safetensors`` file
by its header's tensor names (read as JSON, never executed). A ComfyUI ``models/`` folder
(checkpoints, diffusion_models, vae, text_encoders, loras) can be added unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.nodeapi.families import FamilyRegistry
from studio.nodeapi.weights import WeightsFileError

WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    family: str  # a family name, or "unknown"
    kind: str  # "diffusers" (a folder) or "file"
    size_bytes: int
    variant: str = ""  # what the file's tensors say it is, e.g. "SDXL", "Wan T2V 1.3B"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "family": self.family,
            "variant": self.variant,
            "kind": self.kind,
            "size_bytes": self.size_bytes,
        }


def _folder_entry(folder: Path, families: FamilyRegistry) -> ModelEntry:
    try:
        spec = families.of_folder(folder)
    except WeightsFileError:
        spec = None
    name = spec.name if spec else "unknown"
    return ModelEntry(folder.name, folder, name, "diffusers", _size(folder), spec.label if spec else "")


def _file_entry(path: Path, families: FamilyRegistry) -> ModelEntry:
    try:
        found = families.of_file(path)
    except WeightsFileError:
        found = None
    family, variant = (found[0].name, found[1]) if found else ("unknown", "")
    return ModelEntry(path.name, path, family, "file", path.stat().st_size, variant)


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


def find_models(folders: Iterable[Path], families: FamilyRegistry, max_depth: int = 3) -> list[ModelEntry]:
    """Every diffusers folder and weights file under ``folders`` (missing folders are skipped)."""
    found: list[ModelEntry] = []
    seen: set[Path] = set()

    def visit(folder: Path, depth: int) -> None:
        if folder in seen or depth > max_depth:
            return
        seen.add(folder)
        if (folder / "model_index.json").is_file():
            found.append(_folder_entry(folder, families))
            return
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return
        for child in children:
            if child.is_dir():
                visit(child, depth + 1)
            elif child.suffix in WEIGHT_SUFFIXES:
                found.append(_file_entry(child, families))

    for folder in folders:
        folder = Path(folder).expanduser()
        if folder.is_dir():
            visit(folder.resolve(), 0)
    return found
