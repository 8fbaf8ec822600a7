"""Loading a model for LoadModel: find the path, tell the family, refuse pickles, load locally.

Folders load through ``from_pretrained`` and single ``.safetensors`` files through
``from_single_file``, always with ``local_files_only=True``: nothing is fetched, and a config
diffusers would have to download is reported as an error instead of a hang.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nodes.diffusion.families import FAMILIES, family_adapter
from nodes.diffusion.values import ModelHandle
from studio.engine.context import NodeError

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
DTYPES = ("auto", "float32", "float16", "bfloat16")
OFFLOAD = ("none", "model", "sequential")


def resolve_path(path: str, folders: Iterable[Path]) -> Path:
    """An absolute path as is; a relative one is looked up in each model folder in turn."""
    if not path.strip():
        raise NodeError("path is empty: choose a diffusers model folder or a .safetensors file")
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        if candidate.exists():
            return candidate
        raise NodeError(f"path {path!r} does not exist")
    searched = [Path(f).expanduser() for f in folders]
    for folder in searched:
        if (folder / candidate).exists():
            return folder / candidate
    if candidate.exists():
        return candidate.resolve()
    where = ", ".join(str(f) for f in searched) or "no model folders are set"
    raise NodeError(f"path {path!r} was not found in the model folders ({where})")


def detect_family(path: Path) -> str:
    """The family of a diffusers folder or weights file, or a NodeError naming what was found."""
    from studio.models import family_of_file, family_of_folder

    supported = ", ".join(sorted(FAMILIES))
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file():
            raise NodeError(f"{path} is not a diffusers model folder (it has no model_index.json)")
        family = family_of_folder(path)
        if family in FAMILIES:
            return family
        found = _class_name(index)
        raise NodeError(f"{path.name} is a {found or 'model of unknown type'}; supported families: {supported}")
    family = family_of_file(path)
    if family in FAMILIES:
        return family
    raise NodeError(f"could not tell the model family of {path.name}; supported families: {supported}")


def _class_name(index: Path) -> str:
    try:
        data = json.loads(index.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise NodeError(f"{index} is not valid JSON: {exc}") from None
    name = data.get("_class_name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else ""


def check_folder(folder: Path, allow_pickle: bool) -> bool:
    """Check every component named in model_index.json before loading; return whether pickled
    weights are present (then allowed). A missing or corrupt component names its file."""
    from studio.models import safetensors_keys

    data = json.loads((folder / "model_index.json").read_text("utf-8"))
    pickled = False
    for name, value in data.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        sub = folder / name
        if not sub.is_dir():
            raise NodeError(f"{folder.name}: component {name!r} named in model_index.json has no folder {sub}")
        for weights in sorted(sub.glob("*.safetensors")):
            try:
                safetensors_keys(weights)
            except (OSError, ValueError) as exc:
                raise NodeError(f"{weights} is not a readable .safetensors file: {exc}") from None
        if not any(sub.glob("*.safetensors")) and any(p.suffix in PICKLE_SUFFIXES for p in sub.iterdir()):
            pickled = True
            if not allow_pickle:
                raise NodeError(
                    f"{sub} holds only pickle weights (.bin/.ckpt/.pt), which can run code when loaded; "
                    "convert them to .safetensors or turn on 'allow pickle' in settings"
                )
    return pickled


@contextmanager
def offline() -> Any:
    """HF_HUB_OFFLINE for code that reads it at call time (and for any child process)."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def load_model(
    path: Path, *, family: str, dtype: str, offload: str, device: str, allow_pickle: bool, logger: Any
) -> ModelHandle:
    import torch

    adapter = family_adapter(family)
    torch_dtype = getattr(torch, dtype)
    cls = adapter.load_class()
    try:
        with offline():
            if path.is_dir():
                pickled = check_folder(path, allow_pickle)
                pipe = cls.from_pretrained(
                    path, dtype=torch_dtype, local_files_only=True, use_safetensors=None if pickled else True
                )
            else:
                pipe = _load_single_file(cls, path, torch_dtype, allow_pickle)
    except NodeError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NodeError(f"could not load {path}: {first}") from exc
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    if offload != "none" and device == "cpu":
        logger.warning("offload %r has no effect on the CPU; the model stays in memory", offload)
        offload = "none"
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    return ModelHandle(
        family=family,
        pipeline=pipe,
        adapter=adapter,
        path=path,
        device=device,
        dtype=dtype,
        offload=offload,
        latent_format=adapter.latent_format(pipe),
    )


def refuse_pickle(path: Path, allow_pickle: bool) -> None:
    """A single pickled checkpoint is refused before anything reads it, unless the user allowed pickles."""
    if path.is_file() and path.suffix in PICKLE_SUFFIXES and not allow_pickle:
        raise NodeError(
            f"{path.name} is a pickle file ({path.suffix}), which can run code when loaded; "
            "convert it to .safetensors or turn on 'allow pickle' in settings"
        )


def _load_single_file(cls: Any, path: Path, torch_dtype: Any, allow_pickle: bool) -> Any:
    refuse_pickle(path, allow_pickle)
    if path.suffix not in PICKLE_SUFFIXES and path.suffix != ".safetensors":
        raise NodeError(f"{path.name}: expected a diffusers folder or a .safetensors file")
    if not hasattr(cls, "from_single_file"):
        raise NodeError(f"{cls.__name__} cannot load single files; use a diffusers model folder")
    try:
        # diffusers loads pickled checkpoints with torch.load(weights_only=True).
        return cls.from_single_file(str(path), dtype=torch_dtype, local_files_only=True)
    except (OSError, ValueError) as exc:
        text = str(exc)
        if "offline" in text.lower() or "local_files_only" in text or "cache" in text.lower():
            raise NodeError(
                f"{path.name}: diffusers needs this model's config files, which are not available offline; "
                "use a diffusers model folder instead"
            ) from exc
        raise
