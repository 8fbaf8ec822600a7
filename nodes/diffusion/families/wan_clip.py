"""Wan 2.1 image-to-video's CLIP image encoder from the file ComfyUI users have
(``clip_vision/clip_vision_h.safetensors``), or from a diffusers folder.

ComfyUI's file holds a CLIP ViT-H/14 vision tower in Hugging Face transformers' names
(``vision_model.*``, plus ``visual_projection.weight``; transformers 5 saves the same names without
``vision_model.``); ComfyUI also reads OpenCLIP's names
(``visual.conv1.weight``, ``visual.transformer.resblocks.N.attn.in_proj_weight``, …) and converts
them (comfy/clip_vision.py ``convert_to_transformers``), so both are read here. The tower loads into
transformers' ``CLIPVisionModel`` (what Wan-AI's diffusers folders hold; Wan takes its penultimate
hidden states, so the projection is not needed), configured from the tensors' shapes, with ViT-H's
values for what shapes cannot tell. The image processor is CLIP's: the image's short side resized to
the model's input size (bicubic), centre-cropped, CLIP's mean and standard deviation, as the
laion/CLIP-ViT-H-14 processor that diffusers' Wan conversion ships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.nodeapi import NodeError

HF = "vision_model."
OPEN_CLIP = "visual."
# What a CLIP vision tower's shapes cannot tell: every vision config ComfyUI ships (ViT-L/14, ViT-H/14,
# ViT-bigG/14: comfy/clip_vision_config_*.json) has 16 heads; ViT-H's activation and norm epsilon.
HEADS = 16
VIT_H = {"hidden_act": "gelu", "layer_norm_eps": 1e-5}
HELP = "use ComfyUI's clip_vision/clip_vision_h.safetensors (CLIP ViT-H/14) or the image_encoder of a diffusers folder"
# OpenCLIP → transformers names (comfy/utils.py transformers_convert), per residual block.
OPEN_CLIP_BLOCK = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "attn.out_proj": "self_attn.out_proj",
}
OPEN_CLIP_TOP = {
    "class_embedding": "embeddings.class_embedding",
    "conv1.weight": "embeddings.patch_embedding.weight",
    "positional_embedding": "embeddings.position_embedding.weight",
    "ln_pre.weight": "pre_layrnorm.weight",
    "ln_pre.bias": "pre_layrnorm.bias",
    "ln_post.weight": "post_layernorm.weight",
    "ln_post.bias": "post_layernorm.bias",
}


def load_image_encoder(part: Path, image_dim: int, model_name: str, torch_dtype: Any, allow_pickle: bool) -> tuple:
    """``(CLIPVisionModel, CLIPImageProcessor)`` from a CLIP vision file or a diffusers folder, refused
    by name unless its width is the ``image_dim`` the transformer ``model_name`` takes."""
    if part.is_dir():
        model, processor = folder_encoder(part, torch_dtype, allow_pickle)
    else:
        model = file_encoder(part, torch_dtype, allow_pickle)
        processor = clip_processor(model.config.image_size)
    width = int(model.config.hidden_size)
    if width != image_dim:
        raise NodeError(
            f"image_encoder: {part.name} is a CLIP vision model {width} wide, but {model_name} takes "
            f"{image_dim}-wide image features; {HELP}"
        )
    return model, processor


def clip_processor(size: int) -> Any:
    """CLIP's preprocessing for a ``size``-pixel model (CLIPImageProcessor's defaults are CLIP's)."""
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def folder_encoder(part: Path, torch_dtype: Any, allow_pickle: bool) -> tuple:
    """A diffusers ``image_encoder`` folder (or its pipeline folder) and the ``image_processor`` beside it."""
    from transformers import CLIPImageProcessor, CLIPVisionModel

    from nodes.diffusion.families.wan_files import component_folder

    folder = component_folder(part, "image_encoder", allow_pickle)
    try:
        model_type = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        model_type = None
    if model_type not in ("clip_vision_model", "clip"):
        raise NodeError(
            f"image_encoder: {folder} is not a CLIP vision model folder (model_type {model_type!r}); {HELP}"
        )
    safetensors = None if allow_pickle else True
    try:
        model = CLIPVisionModel.from_pretrained(
            str(folder), dtype=torch_dtype, local_files_only=True, use_safetensors=safetensors
        )
    except (OSError, ValueError, KeyError) as exc:
        raise NodeError(f"image_encoder: {folder} could not be loaded as a CLIP vision model ({exc})") from None
    processor_folder = folder.parent / "image_processor"
    if (processor_folder / "preprocessor_config.json").is_file():
        processor = CLIPImageProcessor.from_pretrained(str(processor_folder), local_files_only=True)
    else:
        processor = clip_processor(model.config.image_size)
    return model.eval(), processor


def file_encoder(part: Path, torch_dtype: Any, allow_pickle: bool) -> Any:
    """CLIPVisionModel from a single weights file, its config read from the tensors' shapes."""
    from accelerate import init_empty_weights
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from nodes.diffusion.families.wan_files import mismatch, read_weights

    if part.suffix == ".gguf":
        raise NodeError(f"image_encoder: {part.name} is a GGUF file; {HELP}")
    state = vision_state(read_weights(part, allow_pickle), part.name)
    config = CLIPVisionConfig(**vision_config(state, part.name))
    with init_empty_weights():  # parameters on the meta device; the position_ids buffer real
        model = CLIPVisionModel(config)
    expected = set(model.state_dict())
    if HF + "embeddings.class_embedding" not in expected:  # transformers 5 keeps the tower at the top level
        state = {key.removeprefix(HF): value for key, value in state.items()}
    detail = mismatch(expected, state)
    if detail:
        raise NodeError(f"image_encoder: {part.name} is not a complete CLIP vision model ({detail}); {HELP}")
    state = {key: value.to(torch_dtype) if value.is_floating_point() else value for key, value in state.items()}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:  # shapes that contradict each other
        raise NodeError(f"image_encoder: {part.name}: {str(exc).splitlines()[-1].strip()}; {HELP}") from None
    for buffer in model.buffers():
        if buffer.is_floating_point():
            buffer.data = buffer.data.to(torch_dtype)
    return model.eval().requires_grad_(False)


def vision_state(state: dict[str, Any], name: str) -> dict[str, Any]:
    """The vision tower's tensors in transformers' ``CLIPVisionModel`` names (projection and text tower
    left out), from transformers' or OpenCLIP's layout."""
    if any(key.startswith(OPEN_CLIP + "transformer.resblocks.") for key in state):
        return open_clip_state(state)
    if "embeddings.patch_embedding.weight" in state:  # saved by transformers 5, the tower at the top level
        state = {HF + key: value for key, value in state.items()}
    if HF + "embeddings.patch_embedding.weight" not in state:
        raise NodeError(
            f"image_encoder: {name} is not a CLIP vision model (it has no {HF}embeddings.patch_embedding.weight "
            f"or {OPEN_CLIP}conv1.weight); {HELP}"
        )
    # position_ids: a buffer older exports saved, which transformers now rebuilds itself.
    return {k: v for k, v in state.items() if k.startswith(HF) and k != HF + "embeddings.position_ids"}


def open_clip_state(state: dict[str, Any]) -> dict[str, Any]:
    """OpenCLIP's ``visual.*`` tensors renamed as ComfyUI's convert_to_transformers does: each block's
    fused ``in_proj`` split into q, k and v (written here because neither transformers nor diffusers
    ships this conversion as a function)."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if not key.startswith(OPEN_CLIP) or key == OPEN_CLIP + "proj":
            continue
        rest = key[len(OPEN_CLIP) :]
        if rest in OPEN_CLIP_TOP:
            out[HF + OPEN_CLIP_TOP[rest]] = value
            continue
        parts = rest.split(".")
        if parts[:2] != ["transformer", "resblocks"] or len(parts) < 5:
            out[key] = value  # left unknown: reported as not in the model
            continue
        block, tail = parts[2], ".".join(parts[3:])
        layer = f"{HF}encoder.layers.{block}."
        if tail in ("attn.in_proj_weight", "attn.in_proj_bias"):
            kind = tail.rsplit("_", 1)[1]
            for proj, chunk in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0), strict=True):
                out[f"{layer}self_attn.{proj}.{kind}"] = chunk
            continue
        module, _, suffix = tail.rpartition(".")
        out[layer + OPEN_CLIP_BLOCK.get(module, module) + "." + suffix] = value
    return out


def vision_config(state: dict[str, Any], name: str) -> dict[str, Any]:
    """CLIPVisionConfig's values from the tower's shapes: width and patch size from the patch
    embedding, input size from the position embedding, depth and MLP width from the layers."""

    def shape(key: str, dims: int) -> tuple[int, ...]:
        found = tuple(state[HF + key].shape) if HF + key in state else None
        if found is None or len(found) != dims:
            what = "missing" if found is None else f"shaped {list(found)}"
            raise NodeError(f"image_encoder: {name}'s {HF}{key} is {what}; {HELP}")
        return found

    hidden, channels, patch, _ = shape("embeddings.patch_embedding.weight", 4)
    positions = shape("embeddings.position_embedding.weight", 2)[0]
    grid = round(max(positions - 1, 0) ** 0.5)
    if grid * grid + 1 != positions:
        raise NodeError(f"image_encoder: {name}'s position embedding is not a square grid plus a class token; {HELP}")
    layers = 0
    while f"{HF}encoder.layers.{layers}.mlp.fc1.weight" in state:
        layers += 1
    if layers == 0 or hidden % HEADS:
        raise NodeError(
            f"image_encoder: {name} is not a CLIP vision model this loader knows ({layers} layers, width {hidden}); "
            + HELP
        )
    return {
        **VIT_H,
        "hidden_size": hidden,
        "num_channels": channels,
        "patch_size": patch,
        "image_size": grid * patch,
        "num_hidden_layers": layers,
        "num_attention_heads": HEADS,
        "intermediate_size": shape("encoder.layers.0.mlp.fc1.weight", 2)[0],
    }
