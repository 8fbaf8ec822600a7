"""Which family a LoRA file was made for, from its tensor names and widths (no weights read).

LoRA files name the layers they change in their trainer's layout: diffusers/PEFT
(``unet.….lora_A.weight``), Kohya (``lora_unet_…_attn2_to_k.lora_down.weight``, ``lora_te2_`` for
SDXL's second text encoder), ComfyUI (``diffusion_model.blocks.0.self_attn.q…``) and musubi-tuner
(``lora_unet_blocks_0_self_attn_q…``). A UNet's cross-attention width tells SD 1.x (768), SD 2.x
(1024) and SDXL (2048) apart; a Wan block's width tells its size.
"""

from __future__ import annotations

from collections.abc import Mapping

_DOWN = ("lora_down", "lora_A", "lora.down")
_PREFIXES = ("diffusion_model.", "transformer.", "lora_unet_", "base_model.model.")
_UNET_PREFIXES = ("lora_unet_", "unet.", "lora_te_", "lora_te1_", "text_encoder.")
_SDXL_MARKS = ("lora_te2_", "text_encoder_2.")


def _down_width(tensors: Mapping[str, tuple[int, ...]], *marks: str) -> int | None:
    """The input width of the first down (A) matrix of a layer named by one of ``marks``."""
    for name, shape in tensors.items():
        if any(mark in name for mark in marks) and any(down in name for down in _DOWN) and len(shape) >= 2:
            return int(shape[1])
    return None


def _unet_width(tensors: Mapping[str, tuple[int, ...]]) -> int | None:
    return _down_width(tensors, "attn2_to_k", "attn2.to_k", "attn2.processor.to_k")


def recognise_sd_lora(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    if not any(name.startswith(_UNET_PREFIXES) for name in tensors) or any(
        name.startswith(_SDXL_MARKS) for name in tensors
    ):
        return None
    return {768: "SD 1.x LoRA", 1024: "SD 2.x LoRA"}.get(_unet_width(tensors) or 0)


def recognise_sdxl_lora(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    if any(name.startswith(_SDXL_MARKS) for name in tensors):
        return "SDXL LoRA"
    if any(name.startswith(_UNET_PREFIXES) for name in tensors) and _unet_width(tensors) == 2048:
        return "SDXL LoRA"
    return None


def recognise_wan_lora(tensors: Mapping[str, tuple[int, ...]]) -> str | None:
    from nodes.diffusion.families.wan import WAN_SIZES

    stems = {}
    for name, shape in tensors.items():
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        stems[name] = shape
    wan = [n for n in stems if n.startswith("blocks") and ("self_attn" in n or ".attn1." in n)]
    if not wan:
        return None
    width = _down_width({n: stems[n] for n in wan}, "self_attn.q", "self_attn_q", "attn1.to_q")
    return f"Wan LoRA {WAN_SIZES.get(width, f'width {width}')}" if width else "Wan LoRA"
