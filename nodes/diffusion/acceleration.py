"""A loaded model's attention backend and torch.compile (LoadModel's ``attention`` and ``compile``).

Both go through diffusers: ``set_attention_backend`` (its attention dispatcher) on the transformer models,
``enable_xformers_memory_efficient_attention`` on the UNets (their attention processors predate the
dispatcher), and ``compile_repeated_blocks`` (regional compilation of the repeated blocks) where the
denoiser names them, else ``torch.compile`` of the whole denoiser. The GPU-only backends (flash, sage,
xformers) and compiling on CUDA are written per diffusers' documentation and are untested here (no GPU).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nodes.diffusion.speedups import denoisers
from nodes.diffusion.values import ModelHandle
from studio.nodeapi import ATTENTION_BACKENDS, NodeError

GPU_ONLY = ("flash", "sage", "xformers")
AUTO_ORDER = ("flash", "sage", "xformers")  # tried on CUDA in this order: exact attention before quantized
UNET_BACKENDS = ("native", "xformers")
ATTENTION_DOC = (
    "attention kernel: native (PyTorch's), flash (flash-attn), sage (sageattention), xformers, flex "
    "(PyTorch's flex attention); auto: the app's setting, which by default picks the first of flash, sage, "
    "xformers that is installed when the model runs on a CUDA GPU, else native. UNet models (SD, SDXL, "
    "AnimateDiff) take native or xformers. A kernel this machine or model can't run falls back to native, "
    "with a note"
)
COMPILE_DOC = (
    "compile the model's repeated blocks with torch.compile (diffusers' regional compilation): the first "
    "run is slower while it compiles, later runs faster; also on when the app's settings turn it on"
)


def _missing(backend: str) -> str | None:
    """What must be installed for ``backend``, in diffusers' words, or None when it can run."""
    # The check set_attention_backend itself makes; asked first so a missing package is a NodeError
    # before anything is changed on the model.
    from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

    try:
        _check_attention_backend_requirements(AttentionBackendName(backend))
    except RuntimeError as exc:
        return str(exc)
    return None


def _dispatched(denoiser: Any) -> bool:
    """Whether the denoiser's attention goes through diffusers' dispatcher (its transformers do, its UNets don't)."""
    processors = [getattr(m, "processor", None) for m in denoiser.modules()]
    return any(hasattr(p, "_attention_backend") for p in processors if p is not None)


def resolve_attention(choice: str, device: str, dispatched: bool) -> str:
    """The backend a model runs with for ``choice`` (``auto``: the fastest usable, else native)."""
    if choice not in ATTENTION_BACKENDS:
        raise NodeError(f"attention must be one of {', '.join(ATTENTION_BACKENDS)}, got {choice!r}")
    offered = ATTENTION_BACKENDS[1:] if dispatched else UNET_BACKENDS
    cuda = str(device).startswith("cuda")
    if choice == "auto":
        usable = [b for b in AUTO_ORDER if cuda and b in offered and _missing(b) is None]
        return usable[0] if usable else "native"
    if choice not in offered:
        raise NodeError(
            f"attention {choice} does not work with this model's attention layers; choose {' or '.join(offered)}"
        )
    if choice in GPU_ONLY and not cuda:
        raise NodeError(f"attention {choice} needs a CUDA GPU, but the model runs on {device}; choose native or auto")
    missing = _missing(choice) if choice != "native" else None
    if missing:
        raise NodeError(f"attention {choice} is not usable: {missing}")
    return choice


def usable_attention(choice: str, device: str, dispatched: bool, note: Callable[[str], None]) -> str:
    """``resolve_attention``, except that a backend this machine or model can't run falls back to
    native with a note: a graph shared by someone with flash or sage installed still runs here."""
    try:
        return resolve_attention(choice, device, dispatched)
    except NodeError as exc:
        if choice not in ATTENTION_BACKENDS:
            raise
        note(f"{exc}; running with native attention instead")
        return "native"


def set_attention(model: ModelHandle, choice: str, device: str, note: Callable[[str], None] = lambda _: None) -> str:
    """Switch every denoiser of ``model`` to the backend ``choice`` resolves to (native, with a ``note``,
    when it can't run here); returns its name."""
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    chosen = "native"
    for denoiser in denoisers(model):
        dispatched = _dispatched(denoiser)
        chosen = usable_attention(choice, device, dispatched, note)
        if not dispatched:
            if chosen == "xformers":
                denoiser.enable_xformers_memory_efficient_attention()
        elif chosen != "native" or _AttentionBackendRegistry.get_active_backend()[0] != "native":
            # set_attention_backend also sets diffusers' process-wide default, which the processors of
            # models that never chose follow: a native model says so explicitly once that moved.
            denoiser.set_attention_backend(chosen)
    return chosen


def compile_model(model: ModelHandle, note: Callable[[str], None]) -> None:
    """Regional compilation of each denoiser's repeated blocks (the whole denoiser where it names none).

    Not ``fullgraph``: the step-cache hooks (speedups) run Python between blocks, which a full graph refuses.
    Compilation itself happens on the first run, lazily."""
    for denoiser in denoisers(model):
        if getattr(denoiser, "_repeated_blocks", None):
            denoiser.compile_repeated_blocks()
            note(f"compiling the repeated blocks of {type(denoiser).__name__} on its first run")
        else:
            denoiser.compile()
            note(f"compiling {type(denoiser).__name__} on its first run")
