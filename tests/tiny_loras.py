"""Tiny LoRA files for the tiny test models, written in the layouts users have.

One random low-rank update per target layer (fixed seed), saved under each format's names:
diffusers/PEFT (``unet.…lora_A.weight``), Kohya for SD (``lora_unet_…lora_down.weight`` with
``.alpha``), ComfyUI for Wan and LTX (``diffusion_model.…``) and musubi-tuner's Wan layout
(``lora_unet_blocks_0_self_attn_q…``). diffusers' ``load_lora_weights`` converts every one of
them back to the same adapter, so tests can compare our graph with diffusers' own loading.
"""

from __future__ import annotations

from pathlib import Path

RANK = 2
# Linear layers the LoRAs touch, by the end of their module name.
ATTENTION = (".to_q", ".to_k", ".to_v", ".to_out.0")
WAN_FFN = (".ffn.net.0.proj", ".ffn.net.2")
CLIP = (".q_proj", ".k_proj", ".v_proj", ".out_proj")


def lora_layers(model, ends: tuple[str, ...], seed: int = 1, scale: float = 0.3) -> dict[str, tuple]:
    """{module name: (down [rank, in], up [out, rank])} for every Linear whose name ends with ``ends``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    layers = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(ends):
            down = torch.randn(RANK, module.in_features, generator=generator) * scale
            up = torch.randn(module.out_features, RANK, generator=generator) * scale
            layers[name] = (down, up)
    return layers


def diffusers_keys(layers: dict, prefix: str) -> dict:
    """diffusers/PEFT names: ``<component>.<module>.lora_A.weight`` / ``lora_B``."""
    state = {}
    for name, (down, up) in layers.items():
        state[f"{prefix}.{name}.lora_A.weight"] = down.contiguous()
        state[f"{prefix}.{name}.lora_B.weight"] = up.contiguous()
    return state


def old_diffusers_keys(layers: dict) -> dict:
    """diffusers' older attention-processor names (SD UNets): ``unet.….processor.to_q_lora.down.weight``."""
    state = {}
    for name, (down, up) in layers.items():
        parent, leaf = name.removesuffix(".0").rsplit(".", 1)  # to_out.0 → to_out
        base = f"unet.{parent}.processor.{leaf}_lora"
        state[f"{base}.down.weight"] = down.contiguous()
        state[f"{base}.up.weight"] = up.contiguous()
    return state


def kohya_keys(layers: dict, prefix: str, alpha: float = 1.0) -> dict:
    """Kohya's names (SD): ``lora_unet_<module with _>.lora_down.weight`` / ``lora_up`` / ``alpha``."""
    import torch

    state = {}
    for name, (down, up) in layers.items():
        base = f"{prefix}_{name.replace('.', '_')}"
        state[f"{base}.lora_down.weight"] = down.contiguous()
        state[f"{base}.lora_up.weight"] = up.contiguous()
        state[f"{base}.alpha"] = torch.tensor(alpha)
    return state


def sgm_name(name: str, layers_per_block: int) -> str:
    """A UNet module's name in the original (SGM) layout Kohya's SDXL LoRAs use:
    ``down_blocks.1.attentions.0.…`` → ``input_blocks.4.1.…``."""
    parts = name.split(".")
    if parts[0] == "mid_block":
        return ".".join(["middle_block", "1", *parts[3:]])
    block, inner = int(parts[1]), int(parts[3])
    if parts[0] == "down_blocks":
        return ".".join(["input_blocks", str(1 + block * (layers_per_block + 1) + inner), "1", *parts[4:]])
    return ".".join(["output_blocks", str(block * (layers_per_block + 1) + inner), "1", *parts[4:]])


def sgm_kohya_keys(layers: dict, layers_per_block: int, alpha: float = 1.0) -> dict:
    """Kohya's names for SDXL UNets: ``lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q…``."""
    return kohya_keys({sgm_name(n, layers_per_block): v for n, v in layers.items()}, "lora_unet", alpha)


# diffusers' Wan module names → the original (and ComfyUI) ones.
_WAN_NAMES = {
    "attn1.to_q": "self_attn.q",
    "attn1.to_k": "self_attn.k",
    "attn1.to_v": "self_attn.v",
    "attn1.to_out.0": "self_attn.o",
    "attn2.to_q": "cross_attn.q",
    "attn2.to_k": "cross_attn.k",
    "attn2.to_v": "cross_attn.v",
    "attn2.to_out.0": "cross_attn.o",
    "ffn.net.0.proj": "ffn.0",
    "ffn.net.2": "ffn.2",
}


def _wan_original(name: str) -> str:
    block, index, rest = name.split(".", 2)
    return f"{block}.{index}.{_WAN_NAMES[rest]}"


def comfy_wan_keys(layers: dict) -> dict:
    """ComfyUI's Wan names: ``diffusion_model.blocks.0.self_attn.q.lora_A.weight``."""
    state = {}
    for name, (down, up) in layers.items():
        base = "diffusion_model." + _wan_original(name)
        state[f"{base}.lora_A.weight"] = down.contiguous()
        state[f"{base}.lora_B.weight"] = up.contiguous()
    return state


def musubi_wan_keys(layers: dict, alpha: float = 1.0) -> dict:
    """musubi-tuner's Wan names (the community trainer): ``lora_unet_blocks_0_self_attn_q.lora_down.weight``."""
    import torch

    state = {}
    for name, (down, up) in layers.items():
        base = "lora_unet_" + _wan_original(name).replace(".", "_")
        state[f"{base}.lora_down.weight"] = down.contiguous()
        state[f"{base}.lora_up.weight"] = up.contiguous()
        state[f"{base}.alpha"] = torch.tensor(alpha)
    return state


def comfy_keys(layers: dict) -> dict:
    """ComfyUI's names for transformers kept in diffusers' layout (LTX-Video): ``diffusion_model.<module>``."""
    return diffusers_keys(layers, "diffusion_model")


def save(state: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def apply_lora(registry, model, path, strength=1.0, **extra):
    """The model LoadLoRA makes from ``model`` and the file at ``path``."""
    from diffusion_graphs import run_node

    return run_node(registry, "LoadLoRA", model=model, path=str(path), strength=strength, **extra)["model"]


def max_difference(a, b) -> float:
    import numpy as np

    return float(np.abs(np.asarray(a) - np.asarray(b)).max())
