"""LoRAs on a loaded model: the LoadLoRA node, and switching a handle's LoRA chain on at use.

LoadLoRA never copies or reloads the base model. It loads the file's adapter into the shared
pipeline once (diffusers' ``load_lora_weights``, PEFT backend, which also converts the Kohya,
ComfyUI and community Wan formats) under a name derived from the file, and returns a view of
the input handle whose ``loras`` chain names the adapters and their strengths. Text encoding
and sampling run inside :func:`loras_active`, which sets exactly that handle's adapters and
weights (``set_adapters``) or switches LoRA layers off for a handle without a chain, so one base
model can serve graphs with different LoRAs, and changing a strength re-runs only what follows.
An adapter is deleted from the pipeline once no handle uses it any more (see ``sweep``).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from nodes.diffusion import estimate as memory
from nodes.diffusion.loading import offline, resolve_path
from nodes.diffusion.values import ModelHandle
from studio.graph import types as t
from studio.graph.spec import InputSpec, OutputSpec, ParamSpec, node_type
from studio.nodeapi import NodeError
from studio.nodeapi.kinds import LORA, kind_of_tensors
from studio.nodeapi.weights import WeightsFileError, safetensors_header

# Wan 2.2 A14B's two experts: ``transformer`` denoises the high-noise steps, ``transformer_2`` the rest.
EXPERTS = ("both", "high_noise", "low_noise")
_EXPERT_PARTS = {
    "both": ("transformer", "transformer_2"),
    "high_noise": ("transformer",),
    "low_noise": ("transformer_2",),
}


@node_type(
    "LoadLoRA",
    category="Diffusion",
    estimate=memory.load_lora,
    description="Apply a LoRA to a model (stackable); the base model stays loaded when it changes.",
    inputs=[InputSpec("model", t.MODEL)],
    params=[
        ParamSpec(
            "path",
            t.PATH,
            "",
            doc="a LoRA .safetensors file (diffusers/PEFT, Kohya, ComfyUI or Wan community layouts), "
            "absolute or inside a model folder (loras/)",
            file_types=(".safetensors",),
            model_kinds=(LORA,),
        ),
        ParamSpec("strength", t.FLOAT, 1.0, min=-10.0, max=10.0, doc="how strongly the LoRA applies; 0 turns it off"),
        ParamSpec(
            "experts",
            t.CHOICE,
            "both",
            choices=EXPERTS,
            doc="Wan 2.2 A14B only (two denoisers): which expert takes the LoRA; other models: both",
        ),
    ],
    outputs=[OutputSpec("model", t.MODEL)],
)
def load_lora(ctx, *, model: ModelHandle, path: str, strength: float, experts: str = "both") -> dict:
    resolved = resolve_path(path, ctx.settings.model_folders, ctx.bundled)
    check_family(model, resolved, ctx.families)
    name = load_adapter(model, resolved, experts)
    return {"model": with_lora(model, name, resolved, strength)}


# Families whose models take another family's LoRAs (AnimateDiff runs an SD 1.x UNet).
_TAKES = {"animatediff": "sd15"}


def check_family(model: ModelHandle, path: Path, families: Any) -> None:
    """Refuse a LoRA whose layer names and widths say it was made for another family."""
    try:
        header = safetensors_header(path) if path.is_file() and path.suffix == ".safetensors" else {}
        found = families.recognise_lora({name: info.shape for name, info in header.items()}) if header else None
    except (OSError, WeightsFileError):
        return  # read_lora names the damage
    if found is None or found[0].name in (model.family, _TAKES.get(model.family)):
        return
    raise NodeError(
        f"{path.name} is a LoRA for {found[0].label} ({found[1]}), but model is {model.adapter.label}; "
        "use a LoRA made for this model"
    )


def with_lora(model: ModelHandle, name: str, path: Path, strength: float) -> ModelHandle:
    """A view of ``model`` with one more LoRA in its chain (the same file twice adds its strengths)."""
    chain = [link for link in model.loras if link[0] != name]
    before = sum(s for n, _, s in model.loras if n == name)
    chain.append((name, str(path), before + float(strength)))
    view = replace(model, loras=tuple(chain), memo={})
    _hold(view)
    return view


# ---- unloading: an adapter leaves the pipeline once no handle uses it -----------------------------
# Each view counts as a user of the adapters in its chain until it is garbage collected (the engine's
# cache dropped it and no run holds it). Collection may happen in any thread, even mid-sampling, so
# the finalizer only counts; adapters are deleted by sweep(), called where the pipeline is about to be
# used by the one thread that runs graphs.
_USERS = "_studio_lora_users"
_LOCK = threading.RLock()


def _users(pipe: Any) -> dict[str, int]:
    users = getattr(pipe, _USERS, None)
    if users is None:
        users = {}
        setattr(pipe, _USERS, users)
    return users


def _hold(view: ModelHandle) -> None:
    users, names = _users(view.pipeline), [name for name, _, _ in view.loras]
    with _LOCK:
        for name in names:
            users[name] = users.get(name, 0) + 1
    weakref.finalize(view, _let_go, users, names)


def _let_go(users: dict[str, int], names: list[str]) -> None:
    with _LOCK:
        for name in names:
            users[name] = users.get(name, 0) - 1


def sweep(pipe: Any, keep: tuple[str, ...] = ()) -> list[str]:
    """Delete the adapters no live handle uses any more (never those in ``keep``); returns their names."""
    users = _users(pipe)
    with _LOCK:
        idle = [name for name, count in users.items() if count <= 0 and name not in keep]
        for name in idle:
            del users[name]
    if idle:
        pipe.delete_adapters(idle)
    return idle


def adapter_name(path: Path, experts: str) -> str:
    """The adapter's name in the pipeline: the same for the same file (path, size and modification
    time), so a file is loaded once per model however many graphs use it."""
    info = path.stat()
    stamp = f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    digest = hashlib.blake2b(stamp.encode("utf-8"), digest_size=6).hexdigest()
    return f"lora_{digest}" if experts == "both" else f"lora_{digest}_{experts}"


def _targets(model: ModelHandle, experts: str, label: str) -> list[str]:
    """The pipeline components to load into: each Wan 2.2 expert asked for, else the usual ones ("")."""
    pipe = model.pipeline
    two = getattr(pipe, "transformer_2", None) is not None
    if not two:
        if experts != "both":
            raise NodeError(f"experts: {experts} is for Wan 2.2 A14B models (two experts); {label} has one, use both")
        return [""]
    present = [part for part in _EXPERT_PARTS[experts] if getattr(pipe, part, None) is not None]
    if not present:
        raise NodeError(f"experts: this Wan 2.2 model has no {experts.replace('_', '-')} expert loaded")
    return present


def _loaded(pipe: Any) -> dict[str, list[str]]:
    return pipe.get_list_adapters()


def load_adapter(model: ModelHandle, path: Path, experts: str) -> str:
    """Load the LoRA file into the model's pipeline (once) and return its adapter name."""
    pipe = model.pipeline
    label = model.adapter.label
    if not hasattr(pipe, "load_lora_weights"):
        raise NodeError(f"{label} models do not take LoRAs in this version ({type(pipe).__name__} has no LoRA loader)")
    if path.is_dir() or path.suffix != ".safetensors":
        raise NodeError(f"{path.name}: a LoRA must be a .safetensors file")
    name = adapter_name(path, experts)
    targets = _targets(model, experts, label)
    sweep(pipe, keep=(name,))
    loaded = _loaded(pipe)
    anywhere = {n for names in loaded.values() for n in names}
    missing = [part for part in targets if name not in (loaded.get(part, []) if part else anywhere)]
    if not missing:
        return name
    state = read_lora(path)
    try:
        with warnings.catch_warnings(), offline():  # offline() also hides the loaders' progress bars
            # PEFT warns that a model gains a second adapter: holding several is the point here.
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            for part in missing:
                extra = {"load_into_transformer_2": True} if part == "transformer_2" else {}
                pipe.load_lora_weights(dict(state), adapter_name=name, **extra)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError) as exc:
        _forget(pipe, name)
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, (KeyError, IndexError)):  # diffusers' layout converters expect other names
            why = f"its tensor names are not a {label} LoRA layout diffusers reads ({type(exc).__name__}: {first})"
        elif "size mismatch" in str(exc):
            line = next(x.strip() for x in str(exc).splitlines() if "size mismatch" in x)[:300]
            why = f"its layers have other sizes than this model's (a LoRA for another model size?): {line}"
        else:
            why = first
        raise NodeError(f"{path.name}: not a LoRA this {label} model can take: {why}") from None
    if not any(name in names for names in _loaded(pipe).values()):
        raise NodeError(
            f"{path.name}: none of its {len(state)} tensors match a layer of this {label} model "
            "(a LoRA for another model family?)"
        )
    return name


def _forget(pipe: Any, name: str) -> None:
    """Remove what a failed load left of an adapter, so the next try starts clean."""
    if any(name in names for names in _loaded(pipe).values()):
        pipe.delete_adapters(name)


def read_lora(path: Path) -> dict[str, Any]:
    """The file's tensors (safetensors only: never a pickle), after checking it is a LoRA."""
    try:
        header = safetensors_header(path)
    except (OSError, WeightsFileError) as exc:
        reason = str(exc).removeprefix(f"{path.name}: ")
        raise NodeError(f"{path.name} is not a readable .safetensors file: {reason}") from None
    if not header:
        raise NodeError(f"{path.name} holds no tensors; it is not a LoRA")
    if kind_of_tensors(header) != LORA:
        example = next(iter(header))
        raise NodeError(
            f"{path.name} is not a LoRA: its tensors have no LoRA names (lora_A/lora_B, lora_down/lora_up), "
            f"e.g. {example!r}; LoRAs go in LoadLoRA, models in LoadModel"
        )
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors' own error type: a damaged file
        raise NodeError(f"{path.name} could not be read: {exc}") from None


@contextmanager
def loras_active(model: ModelHandle) -> Iterator[None]:
    """Run with exactly ``model``'s LoRA chain on its pipeline: its adapters at their strengths, or
    LoRA layers off when it has none (the pipeline may carry adapters for other handles)."""
    pipe = model.pipeline
    if not hasattr(pipe, "get_list_adapters"):
        yield
        return
    sweep(pipe, keep=tuple(name for name, _, _ in model.loras))
    if model.loras:
        pipe.enable_lora()
        pipe.set_adapters([name for name, _, _ in model.loras], [strength for _, _, strength in model.loras])
    elif any(_loaded(pipe).values()):
        pipe.disable_lora()
    yield
