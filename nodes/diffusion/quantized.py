"""Quantized weights as ComfyUI users have them: GGUF files and fp8 files (plain and "scaled").

GGUF (city96's ComfyUI-GGUF files, ``diffusion_models/wan2.1-t2v-14b-Q8_0.gguf``): read with diffusers'
``load_gguf_checkpoint``, where each quantized tensor is a ``GGUFParameter`` (its blocks as bytes, the
logical shape in ``quant_shape``) and F32/F16 tensors are plain. diffusers' GGUF quantizer then loads
the quantized weights into ``GGUFLinear`` layers, which dequantize them for each forward in the
compute dtype. ComfyUI-GGUF may store a tensor flattened with its real shape in the header
(``comfy.gguf.orig_shape.*``), which diffusers does not read: unquantized ones are reshaped here.

fp8 (``…_fp8_e4m3fn.safetensors``, ``…_fp8_e4m3fn_scaled.safetensors``): each Linear layer whose weight
the file holds in float8 keeps it in float8, and upcasts it for each forward (a diffusers hook), so it
computes with exactly the dequantized weight in the compute dtype while storing one byte a weight.
ComfyUI's "scaled fp8" files add a ``scaled_fp8`` marker tensor (its dtype names the format) and, per
Linear, ``<layer>.scale_weight`` (the weight's float32 scale) and sometimes ``<layer>.scale_input``
(the input's scale for fp8 matrix-multiply kernels; unused here, where the weight is upcast instead).
Every other fp8 tensor (embeddings, norms, the modules a class keeps in float32) is dequantized at load.

Not diffusers' ``enable_layerwise_casting``: it would also store in fp8 every bias and every Linear the
file keeps in higher precision, which changes them; and fp8 matrix multiplication (``torch._scaled_mm``
on GPUs that have it) is not used, so a scaled layer computes in the compute dtype as ComfyUI's does
without ``--fast``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from studio.nodeapi import NodeError

SCALED_FP8_MARKER = "scaled_fp8"
SCALE_WEIGHT, SCALE_INPUT = ".scale_weight", ".scale_input"
FP8_HOOK = "studio_fp8_weight"


# ---- GGUF ----------------------------------------------------------------------------------------
def is_gguf(tensor: Any) -> bool:
    """Whether ``tensor`` is a GGUF-quantized parameter (blocks of bytes, not values)."""
    return hasattr(tensor, "quant_type")


def logical_shape(tensor: Any) -> tuple[int, ...]:
    """A tensor's shape as the model sees it (a GGUF-quantized one's, not its bytes')."""
    return tuple(getattr(tensor, "quant_shape", None) or tensor.shape)


def read_gguf(path: Path) -> dict[str, Any]:
    """Every tensor of a ``.gguf`` file, as diffusers' GGUF loader reads them, with ComfyUI-GGUF's
    recorded original shapes applied to unquantized tensors."""
    from diffusers.models.model_loading_utils import load_gguf_checkpoint

    from studio.nodeapi.weights import WeightsFileError, gguf_tensors

    try:
        shapes = {name: info.shape for name, info in gguf_tensors(path).items()}
    except WeightsFileError as exc:
        raise NodeError(str(exc)) from None
    try:
        state = load_gguf_checkpoint(str(path))
    except ValueError as exc:  # diffusers' words for a quantization type it cannot dequantize
        first = str(exc).strip().splitlines()[0]
        raise NodeError(
            f"{path.name}: {first}; use a file in Q8_0, Q6_K, Q5_K, Q4_K or another type diffusers reads"
        ) from None
    for name, tensor in state.items():
        wanted = shapes.get(name)
        if wanted is None or logical_shape(tensor) == wanted:
            continue
        if is_gguf(tensor):
            raise NodeError(
                f"{path.name}: {name} is quantized in a reshaped layout ({logical_shape(tensor)} for {wanted}), "
                "which diffusers cannot load; use a GGUF made without reshaping (any Wan GGUF from ComfyUI-GGUF)"
            )
        state[name] = tensor.reshape(wanted)
    return state


def gguf_quantization(compute_dtype: Any) -> Any:
    """diffusers' GGUF loading configuration: quantized weights dequantized to ``compute_dtype``."""
    from diffusers import GGUFQuantizationConfig

    return GGUFQuantizationConfig(compute_dtype=compute_dtype)


def dequantize_outside_linears(empty_model: Any, state: dict[str, Any]) -> None:
    """Dequantize (to float32) the quantized tensors of ``state`` that are not a Linear's weight:
    diffusers computes only Linear layers from quantized weights."""
    import torch
    from diffusers.quantizers.gguf.utils import dequantize_gguf_tensor

    linears = {f"{name}.weight" for name, m in empty_model.named_modules() if isinstance(m, torch.nn.Linear)}
    for key, tensor in state.items():
        if is_gguf(tensor) and key not in linears:
            state[key] = dequantize_gguf_tensor(tensor).float()


# ---- fp8 -----------------------------------------------------------------------------------------
def is_fp8(tensor: Any) -> bool:
    import torch

    return tensor.dtype in (torch.float8_e4m3fn, torch.float8_e5m2)


def has_fp8(state: Mapping[str, Any]) -> bool:
    return any(is_fp8(tensor) for tensor in state.values())


def split_scales(state: dict[str, Any], name: str) -> dict[str, Any]:
    """Remove a scaled-fp8 file's marker and scale tensors from ``state``; return each layer's weight
    scale by layer name (``blocks.0.attn1.to_q``)."""
    state.pop(SCALED_FP8_MARKER, None)
    scales = {}
    for key in [k for k in state if k.endswith((SCALE_WEIGHT, SCALE_INPUT))]:
        scale = state.pop(key)
        if key.endswith(SCALE_INPUT):
            continue  # the input's scale for fp8 matrix multiplication, which is not used
        layer = key[: -len(SCALE_WEIGHT)]
        if layer + ".weight" not in state:
            raise NodeError(f"{name}: {key} scales a weight the file does not have ({layer}.weight)")
        if scale.numel() != 1 and scale.numel() != state[layer + ".weight"].shape[0]:
            raise NodeError(f"{name}: {key} has {scale.numel()} values; expected one, or one per row of {layer}.weight")
        scales[layer] = scale.float().reshape(-1, 1) if scale.numel() > 1 else scale.float().reshape(())
    return scales


def dequantize(weight: Any, scale: Any | None, dtype: Any) -> Any:
    """``weight × scale`` in ``dtype``: multiplied in float32, rounded once (ComfyUI's scaled fp8 rule)."""
    import torch

    if scale is None:
        return weight.to(dtype)
    return (weight.to(torch.float32) * scale.to(weight.device)).to(dtype)


def load_fp8(
    model: Any,
    state: dict[str, Any],
    scales: Mapping[str, Any],
    compute_dtype: Any,
    *,
    float32: Iterable[str] = (),
    dequantized: Iterable[str] = (),
) -> set[str]:
    """Fill ``model`` (built with empty weights; ``state`` holds its tensors, as the caller checked,
    tied ones aside) from ``state``:
    each Linear's fp8 weight stays fp8 and is upcast as it computes; every other floating tensor is
    dequantized to ``compute_dtype``, or to float32 in a module named in ``float32``. Modules named in
    ``dequantized`` never keep fp8 weights (a model that reads those weights' dtype). Returns the layers
    kept in fp8."""
    import torch

    float32, dequantized = set(float32), set(dequantized)
    linears = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    kept = set()
    for key, tensor in state.items():
        layer, _, leaf = key.rpartition(".")
        parts = set(key.split("."))
        if leaf == "weight" and layer in linears and is_fp8(tensor) and not parts & (float32 | dequantized):
            kept.add(layer)
        elif tensor.is_floating_point():
            target = torch.float32 if parts & float32 else compute_dtype
            state[key] = dequantize(tensor, scales.get(layer) if leaf == "weight" else None, target)
    model.load_state_dict(state, strict=False, assign=True)
    modules = dict(model.named_modules())
    for layer in sorted(kept):
        upcast_as_computed(modules[layer], scales.get(layer), compute_dtype)
    return kept


def upcast_as_computed(linear: Any, scale: Any | None, compute_dtype: Any) -> None:
    """Keep ``linear``'s fp8 weight and compute with it upcast (and scaled) to ``compute_dtype``."""
    from diffusers.hooks import HookRegistry

    linear.register_buffer("scale_weight", scale, persistent=False)  # moves with the layer
    HookRegistry.check_if_exists_or_initialize(linear).register_hook(_fp8_hook_class()(compute_dtype), FP8_HOOK)


@functools.cache
def _fp8_hook_class() -> type:
    import torch
    from diffusers.hooks import ModelHook

    class Fp8WeightHook(ModelHook):
        """A Linear's forward with its fp8 weight upcast (times its ``scale_weight``) to the compute dtype."""

        _is_stateful = False

        def __init__(self, compute_dtype: torch.dtype) -> None:
            super().__init__()
            self.compute_dtype = compute_dtype

        def new_forward(self, module: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
            weight = dequantize(module.weight, module.scale_weight, self.compute_dtype)
            return torch.nn.functional.linear(hidden, weight, module.bias)

    return Fp8WeightHook
