"""Finding models in the model folders and telling what each is, without loading any weights.

A diffusers folder is recognised by its ``model_index.json``; a single ``.safetensors`` or
``.gguf`` file by its header (tensor names, shapes and storage types, read as data, never
executed): its kind (checkpoint, diffusion model, text encoder, VAE, image encoder, LoRA,
upscaler; a ComfyUI kind folder decides when the file sits in one), its family and variant
(the family declarations), its precision. Pickled files (``.ckpt``, ``.pt``, ``.pth``,
``.bin``) are listed by name only, marked as needing "allow pickle". Folder layouts (ComfyUI
installs, Hugging Face caches) are read by :mod:`studio.model_folders`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from studio.model_folders import OTHER_COMFYUI_FOLDERS as _OTHER_FOLDERS
from studio.model_folders import Skipped, hub_repo, scan_roots
from studio.nodeapi.families import FamilyRegistry
from studio.nodeapi.kinds import (
    DIFFUSERS,
    IMAGE_ENCODER,
    KIND_FOLDERS,
    KIND_LABELS,
    LORA,
    UNKNOWN,
    image_encoder_variant,
    kind_of_tensors,
    precision_of,
)
from studio.nodeapi.weights import WeightsFileError, weights_tensors

__all__ = ["ModelEntry", "ModelScan", "Skipped", "bundled_models", "find_models", "scan_models"]

HEADER_SUFFIXES = (".safetensors", ".sft", ".gguf")  # read from their header
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")  # listed by name: reading them runs code
WEIGHT_SUFFIXES = HEADER_SUFFIXES + PICKLE_SUFFIXES
BUNDLED_STARTER = "resources/models/starter"
_DENOISER_COMPONENTS = ("transformer", "unet", "prior", "decoder")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    family: str  # a family name, or "unknown"
    kind: str  # studio.nodeapi.kinds: "checkpoint", "diffusion_model", "vae", ..., "diffusers" (a folder)
    size_bytes: int
    variant: str = ""  # what the file's tensors say it is, e.g. "SDXL", "Wan T2V 1.3B"
    precision: str = ""  # how the weights are stored: "bf16", "fp8 scaled", "GGUF Q8_0"; "" when unread
    needs_pickle: bool = False  # a pickled file: loads only with "allow pickle"
    ref: str = ""  # what a graph names it by when not its path ("resources/models/starter")

    @property
    def value(self) -> str:
        """The parameter value that names this model in a graph."""
        return self.ref or str(self.path)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def to_json(self) -> dict:
        data = {
            "name": self.name,
            "path": str(self.path),
            "family": self.family,
            "variant": self.variant,
            "kind": self.kind,
            "precision": self.precision,
            "size_bytes": self.size_bytes,
            "needs_pickle": self.needs_pickle,
        }
        if self.ref:
            data["ref"] = self.ref
        return data


@dataclass
class ModelScan:
    models: list[ModelEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _folder_entry(folder: Path, families: FamilyRegistry, name: str = "") -> ModelEntry:
    spec = families.of_folder(folder)
    return ModelEntry(
        name or folder.name,
        folder,
        spec.name if spec else "unknown",
        DIFFUSERS,
        _size(folder),
        spec.label if spec else "",
        precision=_folder_precision(folder),
    )


def _folder_precision(folder: Path) -> str:
    """The precision of a diffusers folder's denoiser (its first weights shard tells it); "" if unread."""
    for component in _DENOISER_COMPONENTS:
        shards = sorted((folder / component).glob("*.safetensors"))
        if shards:
            try:
                return precision_of(weights_tensors(shards[0]))
            except (OSError, WeightsFileError):
                return ""  # the loader names the damage when the model is used
    return ""


def _file_entry(path: Path, families: FamilyRegistry, kind: str | None) -> ModelEntry:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise WeightsFileError("not a regular file")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return ModelEntry(path.name, path, "unknown", kind or UNKNOWN, info.st_size, needs_pickle=True)
    tensors = weights_tensors(path)
    shapes = {name: t.shape for name, t in tensors.items()}
    if kind == LORA or (kind is None and kind_of_tensors(tensors) == LORA):
        # A LoRA's family: the one its layer names and widths were made for.
        found, kind = families.recognise_lora(shapes), LORA
    else:
        found = families.recognise(shapes)
        kind = kind or kind_of_tensors(tensors, denoiser=found is not None)
    family, variant = (found[0].name, found[1]) if found else ("unknown", "")
    if kind == IMAGE_ENCODER and not variant:
        variant = image_encoder_variant(shapes)
    precision = precision_of(tensors, gguf=path.suffix.lower() == ".gguf")
    return ModelEntry(path.name, path, family, kind, info.st_size, variant, precision)


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def scan_models(folders: Iterable[Path], families: FamilyRegistry, max_depth: int = 4) -> ModelScan:
    """Every diffusers folder and weights file under ``folders``, and what was skipped with why.

    Missing folders are skipped quietly; files that cannot be read (dangling links, special
    files, damaged headers, a malformed ``extra_model_paths.yaml``) are listed in ``skipped``.
    Nothing here blocks or runs code.
    """
    scan = ModelScan()
    seen: set[Path] = set()

    def read(path: Path, make, *args) -> None:
        try:
            scan.models.append(make(path, families, *args))
        except (OSError, WeightsFileError) as exc:
            reason = str(exc).removeprefix(f"{path.name}: ") if isinstance(exc, WeightsFileError) else None
            scan.skipped.append(Skipped(path, reason or exc.strerror or type(exc).__name__))

    def visit(folder: Path, depth: int, kind: str | None, name: str = "") -> None:
        if folder in seen or depth > max_depth:
            return
        seen.add(folder)
        if (folder / "model_index.json").is_file():
            read(folder, _folder_entry, name)
            return
        try:
            children = sorted(folder.iterdir())
        except OSError as exc:
            scan.skipped.append(Skipped(folder, exc.strerror or type(exc).__name__))
            return
        for child in children:
            if child.is_dir():
                repo = hub_repo(child)
                if repo is not None:
                    visit(repo.snapshot.resolve(), depth + 1, kind, repo.name)
                elif depth > 0 or child.name not in _OTHER_FOLDERS:
                    visit(child.resolve(), depth + 1, kind or KIND_FOLDERS.get(child.name))
            elif child.suffix.lower() in WEIGHT_SUFFIXES:
                read(child, _file_entry, kind if kind != DIFFUSERS else None)

    for folder in folders:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            continue
        roots, skipped = scan_roots(folder)
        scan.skipped += skipped
        for root in roots:
            if root.path.is_dir():
                visit(root.path.resolve(), 0, root.kind)
            else:  # only a folder that extra_model_paths.yaml names can be missing here
                scan.skipped.append(Skipped(root.path, f"not a folder ({root.named_by} names it)"))
    return scan


def find_models(folders: Iterable[Path], families: FamilyRegistry, max_depth: int = 4) -> list[ModelEntry]:
    """Every diffusers folder and weights file under ``folders`` (see :func:`scan_models`)."""
    return scan_models(folders, families, max_depth).models


def bundled_models(families: FamilyRegistry) -> ModelScan:
    """The models that ship with the app (the starter model), named as graphs name them."""
    from studio.bundled import find_bundled

    scan = ModelScan()
    folder = find_bundled(BUNDLED_STARTER)
    if folder is None:
        scan.skipped.append(Skipped(Path(BUNDLED_STARTER), "the bundled starter model is not installed"))
        return scan
    try:
        scan.models.append(replace(_folder_entry(folder, families, "starter (bundled)"), ref=BUNDLED_STARTER))
    except (OSError, WeightsFileError) as exc:
        scan.skipped.append(Skipped(folder, str(exc)))
    return scan
