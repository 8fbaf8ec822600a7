"""Loading a model for LoadModel: find the path, tell the family, refuse pickles, load locally.

Folders load through ``from_pretrained`` and single ``.safetensors`` files through
``from_single_file``, always with ``local_files_only=True``: nothing is fetched, and a config
diffusers would have to download is reported as an error instead of a hang.

A single file is read by its family's adapter (``load_file``): a bare Wan transformer with its
``text_encoder`` and ``vae`` parts (families/wan_files.py), a full SD/SDXL checkpoint, or any
checkpoint diffusers' ``from_single_file`` reads. diffusers builds the pipeline from a diffusers
folder's configuration (``model_index.json``, each component's ``config.json`` and tokenizer
files; no weights needed). We always hand it a local one, found in this order:

1. LoadModel's ``config`` parameter (a local diffusers folder),
2. a folder next to the file named after it (``dreamshaper.safetensors`` → ``dreamshaper/``)
   holding ``model_index.json``, or the file's own folder when it holds one,
3. for SD 1.x/2.x and SDXL, the configs and CLIP vocabulary shipped with the app, with sizes read
   from the checkpoint's tensor shapes (families/sd_files.py),
4. the Hugging Face cache, when it already holds the configs of the repository diffusers would
   use for this checkpoint (e.g. ``stable-diffusion-v1-5/stable-diffusion-v1-5``).

Otherwise LoadModel fails at once, naming the file, the repository diffusers wanted and what to
do. (diffusers itself would retry *with* downloads when ``local_files_only`` finds no cached
config, so it is never left to look on its own.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nodes.diffusion.previews import with_folder_factors
from nodes.diffusion.values import ModelHandle, ModelParts
from studio.nodeapi import FamilyRegistry, FamilySpec, MissingFiles, NodeError
from studio.nodeapi.weights import WeightsFileError, read_model_index, safetensors_header

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
DTYPES = ("auto", "float32", "float16", "bfloat16")
OFFLOAD = ("none", "model", "sequential", "group")
# What each offload mode does, for LoadModel's parameter help.
OFFLOAD_DOC = (
    "keep parts of the model in CPU memory when VRAM is short: model (each component moves to the GPU "
    "while it runs), group (diffusers' group offloading: the blocks of each component move in turn, "
    "prefetched on a CUDA stream; less VRAM than model, faster than sequential), sequential (layer by "
    "layer: least VRAM, slowest). No effect on the CPU, where everything already lives in RAM"
)


def resolve_path(path: str, folders: Iterable[Path], bundled: Callable[[str], Path | None]) -> Path:
    """An absolute path as is; a relative one is looked up in each model folder in turn, then in
    the working folder, then among the bundled files (``bundled``: the run context's lookup)."""
    if not path.strip():
        raise NodeError("path is empty: choose a diffusers model folder or a .safetensors file")
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        if candidate.exists():
            return candidate
        raise MissingFiles(f"path {path!r} does not exist", [path])
    searched = [Path(f).expanduser() for f in folders]
    for folder in searched:
        if (folder / candidate).exists():
            return folder / candidate
    if candidate.exists():
        return candidate.resolve()
    found = bundled(path)  # e.g. the starter model, from wherever the app runs
    if found is not None:
        return found
    where = ", ".join(str(f) for f in searched) or "no model folders are set"
    raise MissingFiles(f"path {path!r} was not found in the model folders ({where})", [path])


def detect_family(path: Path, families: FamilyRegistry) -> FamilySpec:
    """The family of a diffusers folder or weights file, or a NodeError naming what was found."""
    supported = ", ".join(families.names) or "none installed"
    try:
        if path.is_dir():
            if not (path / "model_index.json").is_file():
                raise NodeError(f"{path} is not a diffusers model folder (it has no model_index.json)")
            spec = families.of_folder(path)
            if spec is None:
                found = read_model_index(path).get("_class_name")
                what = found if isinstance(found, str) and found else "model of unknown type"
                raise NodeError(f"{path.name} is a {what!r}; supported families: {supported}")
            return spec
        found = families.of_file(path)
    except WeightsFileError as exc:
        raise NodeError(str(exc)) from None
    if found is None:
        raise NodeError(f"could not tell the model family of {path.name}; supported families: {supported}")
    return found[0]


MAX_NESTING = 3  # pipelines inside pipelines (Wan 2.2's experts may be one); deeper is not a real model


def check_folder(folder: Path, allow_pickle: bool, _depth: int = 0) -> bool:
    """Check every component named in model_index.json before loading, at every depth (a component
    may itself be a pipeline folder); return whether pickled weights are present (then allowed).
    A missing, corrupt or escaping component names its file."""
    if _depth > MAX_NESTING:
        raise NodeError(f"{folder}: pipelines nested more than {MAX_NESTING} deep; not a model folder")
    try:
        data = read_model_index(folder)
    except WeightsFileError as exc:
        raise NodeError(str(exc)) from None
    pickled = False
    for name, value in data.items():
        if name.startswith("_") or not isinstance(value, list) or not value or value[0] is None:
            continue
        if Path(name).name != name or name in (".", ".."):
            raise NodeError(f"{folder.name}: component name {name!r} in model_index.json is not a folder name")
        sub = folder / name
        if not sub.is_dir():
            raise NodeError(f"{folder.name}: component {name!r} named in model_index.json has no folder {sub}")
        if (sub / "model_index.json").is_file():
            pickled |= check_folder(sub, allow_pickle, _depth + 1)
        else:
            pickled |= _check_component(sub, allow_pickle)
    return pickled


def _check_component(component: Path, allow_pickle: bool) -> bool:
    """Read every .safetensors header under a component folder; a folder holding pickle weights and
    no .safetensors is refused unless pickles are allowed. Returns whether pickles were found."""
    pickled = False
    for root, dirs, files in os.walk(component):
        if len(Path(root).relative_to(component).parts) >= MAX_NESTING:
            dirs.clear()
        weights = sorted(f for f in files if f.endswith(".safetensors"))
        for name in weights:
            try:
                safetensors_header(Path(root) / name)
            except WeightsFileError as exc:
                raise NodeError(f"{Path(root) / name} is not a readable .safetensors file: {exc}") from None
        if not weights and any(Path(f).suffix in PICKLE_SUFFIXES for f in files):
            pickled = True
            if not allow_pickle:
                raise NodeError(
                    f"{root} holds only pickle weights (.bin/.ckpt/.pt), which can run code when loaded; "
                    "convert them to .safetensors or turn on 'allow pickle' in settings"
                )
    return pickled


@contextmanager
def offline() -> Any:
    """HF_HUB_OFFLINE for code that reads it at call time (and for any child process), and
    huggingface_hub's own flag, which it reads from the environment only when first imported;
    diffusers' and transformers' loading progress bars off meanwhile."""
    import huggingface_hub.constants as hub
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    previous = os.environ.get("HF_HUB_OFFLINE")
    previous_hub = hub.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hub.HF_HUB_OFFLINE = True
    # Their "Loading pipeline components…" bars would draw over the studio's own progress.
    bars = [lib for lib in (diffusers_logging, transformers_logging) if lib.is_progress_bar_enabled()]
    for lib in bars:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib in bars:
            lib.enable_progress_bar()
        hub.HF_HUB_OFFLINE = previous_hub
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def load_model(
    path: Path,
    *,
    family: FamilySpec,
    families: FamilyRegistry,
    dtype: str,
    offload: str,
    device: str,
    allow_pickle: bool,
    logger: Any,
    config: Path | None = None,
    parts: ModelParts | None = None,
    bundled: Callable[[str], Path | None] | None = None,
    status: Callable[[str], None] = lambda text: None,
) -> ModelHandle:
    """``status`` hears each slow step as it starts (importing diffusers, reading, moving to the device)."""
    import torch

    adapter = families.adapter(family.name)
    torch_dtype = getattr(torch, dtype)
    if "diffusers" not in sys.modules:
        status("Importing diffusers (first run only)…")
    cls = adapter.load_class()
    parts = parts or ModelParts()
    if config is not None and path.is_dir():
        raise NodeError(f"config is only for single .safetensors files, but path {path} is a folder; clear config")
    if parts.given() and path.is_dir():
        names = ", ".join(parts.given())
        raise NodeError(f"{names}: only for a single diffusion-model file, but path {path} is a folder; clear {names}")
    status(f"Reading {path.name} ({family.label}, {dtype})…")
    try:
        with offline():
            if path.is_dir():
                pickled = check_folder(path, allow_pickle)
                pipe = cls.from_pretrained(
                    path, dtype=torch_dtype, local_files_only=True, use_safetensors=None if pickled else True
                )
            else:
                pipe = adapter.load_file(path, parts, torch_dtype, allow_pickle, config, bundled=bundled)
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
    status(f"Moving the model to {device}" + (f" ({offload} offload)…" if offload != "none" else "…"))
    apply_offload(pipe, offload, device)
    return ModelHandle(
        family=family.name,
        pipeline=pipe,
        adapter=adapter,
        path=path,
        device=device,
        dtype=dtype,
        offload=offload,
        latent_format=with_folder_factors(adapter.latent_format(pipe), path, logger),
    )


def apply_offload(pipe: Any, offload: str, device: str) -> None:
    """Place the pipeline on ``device`` the way ``offload`` asks (LoadModel has already turned offload
    off on the CPU, where it means nothing).

    ``group`` is diffusers' block-level group offloading: each component's blocks wait in CPU memory
    and move to ``device`` one group at a time. On CUDA the next group is prefetched on a side stream
    while the current one computes (``use_stream``; ``non_blocking`` copies from pinned memory), as
    diffusers' documentation recommends; elsewhere (MPS) the copies are plain. The CUDA path is
    written per diffusers' docs and is untested here (no GPU in CI).
    """
    import torch

    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif offload == "group":
        stream = device == "cuda" and torch.cuda.is_available()
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            non_blocking=stream,
            use_stream=stream,
        )
    else:
        pipe.to(device)


def refuse_pickle(path: Path, allow_pickle: bool) -> None:
    """A single pickled checkpoint is refused before anything reads it, unless the user allowed pickles."""
    if path.is_file() and path.suffix in PICKLE_SUFFIXES and not allow_pickle:
        raise NodeError(
            f"{path.name} is a pickle file ({path.suffix}), which can run code when loaded; "
            "convert it to .safetensors or turn on 'allow pickle' in settings"
        )


def check_config_folder(config: Path) -> Path:
    """A config folder given to LoadModel: a local diffusers folder (configs suffice)."""
    if not config.is_dir() or not (config / "model_index.json").is_file():
        raise NodeError(
            f"config {str(config)!r} is not a diffusers model folder (a folder with model_index.json); "
            "point it at a local copy of the model's diffusers folder"
        )
    return config


def sidecar_config(path: Path) -> Path | None:
    """A diffusers folder next to a single file that describes it: ``<stem>/`` or the file's own folder."""
    for folder in (path.with_suffix(""), path.parent):
        if (folder / "model_index.json").is_file():
            return folder
    return None


def _cached_config(checkpoint: Any) -> tuple[str, Path | None]:
    """The repository diffusers would take this checkpoint's configs from, and its cached copy if any."""
    try:
        from diffusers.loaders.single_file_utils import fetch_diffusers_config
        from huggingface_hub import snapshot_download

        repo = fetch_diffusers_config(checkpoint)["pretrained_model_name_or_path"]
    except Exception:  # noqa: BLE001 - an unrecognised checkpoint: nothing to look up
        return "", None
    try:
        # The same files diffusers asks for (configs, tokenizer vocabularies), from the cache only.
        patterns = ["**/*.json", "*.json", "*.txt", "**/*.txt", "**/*.model"]
        return repo, Path(snapshot_download(repo, local_files_only=True, allow_patterns=patterns))
    except Exception:  # noqa: BLE001 - not cached (or an unusable cache): reported by the caller
        return repo, None


def load_single_file(
    cls: Any, path: Path, torch_dtype: Any, allow_pickle: bool, config: Path | None = None, label: str = ""
) -> Any:
    """A full single-file checkpoint through diffusers' ``from_single_file``, with a local config folder."""
    refuse_pickle(path, allow_pickle)
    if path.suffix not in PICKLE_SUFFIXES and path.suffix != ".safetensors":
        raise NodeError(f"{path.name}: expected a diffusers folder or a .safetensors file")
    if not hasattr(cls, "from_single_file"):
        raise NodeError(
            f"{path.name}: {label or cls.__name__} models cannot be loaded from a single file "
            f"({cls.__name__} has no from_single_file); use a diffusers model folder"
        )
    folder = check_config_folder(config) if config is not None else sidecar_config(path)
    if folder is None:
        from diffusers.loaders.single_file_utils import load_single_file_checkpoint

        # Only to learn which repository diffusers would want (memory-mapped for .safetensors).
        repo, folder = _cached_config(load_single_file_checkpoint(str(path), local_files_only=True))
        if folder is None:
            wanted = f"the configuration of {repo}" if repo else "a diffusers configuration for it"
            raise NodeError(
                f"{path.name}: diffusers needs {wanted} to build the pipeline from this single file, and it "
                "is not on this machine (nothing is downloaded). Set LoadModel's config to a local diffusers "
                "folder of the same model (model_index.json and the config files are enough), or put that "
                f"folder next to the file as {path.with_suffix('').name}/"
            )
    # A local config folder keeps diffusers from downloading; pickled checkpoints (when allowed)
    # are read with torch.load(weights_only=True).
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    try:
        return cls.from_single_file(str(path), config=str(folder), dtype=torch_dtype, local_files_only=True)
    except SingleFileComponentError as exc:  # e.g. a UNet-only file: a component's weights are missing
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NodeError(f"could not load {path}: {first}") from exc
