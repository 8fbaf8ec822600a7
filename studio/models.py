"""Finding models in the model folders and telling their family, without loading any weights.

A diffusers folder is recognised by its ``model_index.json``; a single ``.safetensors`` file
by its header's tensor names (read as JSON, never executed). A ComfyUI ``models/`` folder
(checkpoints, diffusion_models, vae, text_encoders, loras) can be added unchanged.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Skipped:
    """Something in a model folder the scan could not read, and why (shown, never fatal)."""

    path: Path
    reason: str

    def to_json(self) -> dict:
        return {"path": str(self.path), "reason": self.reason}


@dataclass
class ModelScan:
    models: list[ModelEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _folder_entry(folder: Path, families: FamilyRegistry) -> ModelEntry:
    spec = families.of_folder(folder)
    name = spec.name if spec else "unknown"
    return ModelEntry(folder.name, folder, name, "diffusers", _size(folder), spec.label if spec else "")


def _file_entry(path: Path, families: FamilyRegistry) -> ModelEntry:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise WeightsFileError("not a regular file")
    found = families.of_file(path)
    family, variant = (found[0].name, found[1]) if found else ("unknown", "")
    return ModelEntry(path.name, path, family, "file", info.st_size, variant)


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def scan_models(folders: Iterable[Path], families: FamilyRegistry, max_depth: int = 3) -> ModelScan:
    """Every diffusers folder and weights file under ``folders``, and what was skipped with why.

    Missing folders are skipped quietly; files that cannot be read (dangling links, special
    files, damaged headers) are listed in ``skipped``. Nothing here blocks or runs code.
    """
    scan = ModelScan()
    seen: set[Path] = set()

    def read(path: Path, make) -> None:
        try:
            scan.models.append(make(path, families))
        except (OSError, WeightsFileError) as exc:
            reason = str(exc).removeprefix(f"{path.name}: ") if isinstance(exc, WeightsFileError) else None
            scan.skipped.append(Skipped(path, reason or exc.strerror or type(exc).__name__))

    def visit(folder: Path, depth: int) -> None:
        if folder in seen or depth > max_depth:
            return
        seen.add(folder)
        if (folder / "model_index.json").is_file():
            read(folder, _folder_entry)
            return
        try:
            children = sorted(folder.iterdir())
        except OSError as exc:
            scan.skipped.append(Skipped(folder, exc.strerror or type(exc).__name__))
            return
        for child in children:
            if child.is_dir():
                visit(child.resolve(), depth + 1)
            elif child.suffix in WEIGHT_SUFFIXES:
                read(child, _file_entry)

    for folder in folders:
        folder = Path(folder).expanduser()
        if folder.is_dir():
            visit(folder.resolve(), 0)
    return scan


def find_models(folders: Iterable[Path], families: FamilyRegistry, max_depth: int = 3) -> list[ModelEntry]:
    """Every diffusers folder and weights file under ``folders`` (see :func:`scan_models`)."""
    return scan_models(folders, families, max_depth).models
