"""Model folders as their users have them: a ComfyUI install, a Hugging Face cache, a plain folder.

A folder given by the user becomes one or more scan roots. A ComfyUI install (its root, its
``models/`` folder, or a portable bundle holding ``ComfyUI/``) is scanned through its
``models/`` folder plus the folders its ``extra_model_paths.yaml`` names, each with the kind
its key says (read with ``yaml.safe_load``, size-capped, shape-checked: a malformed section is
reported and the rest kept). A Hugging Face cache repository (``models--org--name``) is read
through its current snapshot. Nothing here loads weights or writes anything.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from studio.nodeapi.kinds import KIND_FOLDERS

EXTRA_PATHS = "extra_model_paths.yaml"
MAX_EXTRA_PATHS_BYTES = 256 * 1024  # ComfyUI's example is 2 KB
MAX_EXTRA_FOLDERS = 256
# ComfyUI folders of things that are not models the studio uses (ControlNets, embeddings, ...):
# not scanned when they sit directly in a scanned folder.
OTHER_COMFYUI_FOLDERS = frozenset(
    {
        "configs",
        "controlnet",
        "t2i_adapter",
        "embeddings",
        "hypernetworks",
        "style_models",
        "gligen",
        "photomaker",
        "vae_approx",
        "audio_encoders",
        "model_patches",
        "classifiers",
        "custom_nodes",
    }
)
_COMFYUI_MARKERS = ("comfy", "main.py", "folder_paths.py", "comfyui_version.py", EXTRA_PATHS)
HF_REPO_PREFIX = "models--"


@dataclass(frozen=True)
class Skipped:
    """Something in a model folder the scan could not read, and why (shown, never fatal)."""

    path: Path
    reason: str

    def to_json(self) -> dict:
        return {"path": str(self.path), "reason": self.reason}


@dataclass(frozen=True)
class ScanRoot:
    """A folder to scan; ``kind`` when everything in it is one kind (a ComfyUI kind folder)."""

    path: Path
    kind: str | None = None
    named_by: str = ""  # where the folder came from when not from the user: "extra_model_paths.yaml, ..."


# ---- ComfyUI ------------------------------------------------------------------------------
def comfyui_root(folder: Path) -> Path | None:
    """The ComfyUI install ``folder`` is (its root), holds (a portable bundle) or is the
    ``models/`` folder of; None for any other folder."""
    for candidate in (folder, folder / "ComfyUI", folder.parent if folder.name == "models" else None):
        if candidate is not None and _is_comfyui_root(candidate):
            return candidate
    return None


def _is_comfyui_root(folder: Path) -> bool:
    return (folder / "models").is_dir() and any((folder / marker).exists() for marker in _COMFYUI_MARKERS)


def scan_roots(folder: Path) -> tuple[list[ScanRoot], list[Skipped]]:
    """What to scan for a folder the user gave, and what in its layout could not be read."""
    root = comfyui_root(folder)
    if root is None:
        return [ScanRoot(folder, KIND_FOLDERS.get(folder.name))], []
    roots = [ScanRoot(root / "models")]
    skipped: list[Skipped] = []
    extra = root / EXTRA_PATHS
    if extra.exists() or extra.is_symlink():
        more, skipped = read_extra_model_paths(extra)
        roots += more
    return roots, skipped


def read_extra_model_paths(path: Path) -> tuple[list[ScanRoot], list[Skipped]]:
    """The model folders a ComfyUI ``extra_model_paths.yaml`` names, each with its kind.

    The format (ComfyUI's ``utils/extra_config.py``): sections, each a table with an optional
    ``base_path`` (``~`` and ``$VARS`` expanded, relative to the file's folder) and
    ``is_default``, and folder keys (``checkpoints``, ``loras``, ...) whose value is one path
    or several, one per line. Keys for things the studio does not use are ignored.
    """
    try:
        text = _read_small_text(path, MAX_EXTRA_PATHS_BYTES)
    except (OSError, ValueError) as exc:
        return [], [Skipped(path, str(exc) if isinstance(exc, ValueError) else exc.strerror or type(exc).__name__)]
    import yaml

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        return [], [Skipped(path, f"not valid YAML{at}")]
    if data is None:
        return [], []
    if not isinstance(data, dict):
        return [], [Skipped(path, f"expected sections of model folders, found {_type_name(data)}")]
    roots: list[ScanRoot] = []
    skipped: list[Skipped] = []
    for name, section in data.items():
        if section is None:
            continue
        found, problem = _read_section(path, name, section)
        if problem:
            skipped.append(Skipped(path, f"section {str(name)!r}: {problem}"))
            continue
        roots += found
    if len(roots) > MAX_EXTRA_FOLDERS:
        skipped.append(Skipped(path, f"names {len(roots)} folders; only the first {MAX_EXTRA_FOLDERS} are scanned"))
        roots = roots[:MAX_EXTRA_FOLDERS]
    return roots, skipped


def _read_section(path: Path, name: object, section: object) -> tuple[list[ScanRoot], str | None]:
    if not isinstance(name, str) or not isinstance(section, dict):
        return [], f"expected a table of folder names and paths, found {_type_name(section)}"
    base_text = section.get("base_path")
    if base_text is not None and not isinstance(base_text, str):
        return [], f"base_path must be a folder path, found {_type_name(base_text)}"
    if not isinstance(section.get("is_default", False), bool):
        return [], "is_default must be true or false"
    base = None
    if base_text:
        base = Path(os.path.expandvars(os.path.expanduser(base_text)))
        base = base if base.is_absolute() else path.parent / base
    roots = []
    for key, value in section.items():
        if key in ("base_path", "is_default"):
            continue
        if not isinstance(key, str) or not isinstance(value, str):
            return [], f"{key!s} must be a folder path, or several, one per line; found {_type_name(value)}"
        kind = KIND_FOLDERS.get(key)
        if kind is None:
            continue  # controlnet, embeddings, ...: not models the studio uses
        for line in value.split("\n"):
            line = line.strip()
            if not line:
                continue
            folder = Path(line)
            folder = (base or path.parent) / folder if not folder.is_absolute() else folder
            named_by = f"{path.name} section {name!r}, {key}"
            roots.append(ScanRoot(Path(os.path.normpath(folder)), kind, named_by))
    return roots, None


def _read_small_text(path: Path, limit: int) -> str:
    """A small text file, without following FIFOs or reading past ``limit`` (ValueError: why not)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError("not a regular file")
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"larger than {limit // 1024} KB, not a list of model folders")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def _type_name(value: object) -> str:
    return {dict: "a table", list: "a list", str: "text", type(None): "nothing"}.get(type(value), type(value).__name__)


# ---- Hugging Face cache -------------------------------------------------------------------
@dataclass(frozen=True)
class HubRepo:
    name: str  # "org/name"
    snapshot: Path


def hub_repo(folder: Path) -> HubRepo | None:
    """A Hugging Face cache repository folder (``models--org--name``) and its current snapshot:
    the one ``refs/main`` names, else the newest; None for any other folder."""
    if not folder.name.startswith(HF_REPO_PREFIX) or not (folder / "snapshots").is_dir():
        return None
    name = folder.name[len(HF_REPO_PREFIX) :].replace("--", "/")
    try:
        ref = _read_small_text(folder / "refs" / "main", 256).strip()
    except (OSError, ValueError):
        ref = ""
    if ref and ref.isalnum() and (folder / "snapshots" / ref).is_dir():
        return HubRepo(name, folder / "snapshots" / ref)
    try:
        snapshots = [(p.stat().st_mtime, p.name, p) for p in (folder / "snapshots").iterdir() if p.is_dir()]
    except OSError:
        return None
    return HubRepo(name, max(snapshots)[2]) if snapshots else None


def search_folders(folders: list[Path]) -> list[Path]:
    """Where a relative model path is looked up: each folder, and for a ComfyUI install its
    ``models/`` kind folders and the folders its ``extra_model_paths.yaml`` names, so a graph
    that says ``wan2.1_t2v_1.3B_bf16.safetensors`` finds it in ``diffusion_models/`` as ComfyUI would."""
    found: list[Path] = []
    for folder in folders:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            continue
        roots, _ = scan_roots(folder)
        for root in roots:
            candidates = [root.path]
            if root.kind is None:
                candidates += [root.path / name for name in KIND_FOLDERS]
            found += [c for c in candidates if c not in found and c.is_dir()]
        if folder not in found:
            found.append(folder)
    return found
