"""What part of a model a weights file holds (its kind) and how its weights are stored (its precision).

Kinds are generic knowledge shared by every family: a LoRA, a text encoder or a VAE is named
the same way whatever it belongs to (the layouts of the original repositories, ComfyUI and
diffusers' single-file converters). Which *family* a file belongs to stays in the family
declarations (:mod:`studio.nodeapi.families`). Everything here reads tensor names, shapes and
storage types from a header, never weights, and imports no torch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from studio.nodeapi.weights import TensorInfo

CHECKPOINT = "checkpoint"  # a full model in one file: denoiser + VAE + text encoder(s)
DIFFUSION_MODEL = "diffusion_model"  # a bare UNet or transformer
TEXT_ENCODER = "text_encoder"
VAE = "vae"
IMAGE_ENCODER = "image_encoder"
LORA = "lora"
UPSCALER = "upscaler"
DIFFUSERS = "diffusers"  # a diffusers pipeline folder (model_index.json)
UNKNOWN = "unknown"

KINDS = (CHECKPOINT, DIFFUSION_MODEL, DIFFUSERS, TEXT_ENCODER, VAE, IMAGE_ENCODER, LORA, UPSCALER, UNKNOWN)
KIND_LABELS = {
    CHECKPOINT: "checkpoint",
    DIFFUSION_MODEL: "diffusion model",
    DIFFUSERS: "diffusers folder",
    TEXT_ENCODER: "text encoder",
    VAE: "VAE",
    IMAGE_ENCODER: "image encoder",
    LORA: "LoRA",
    UPSCALER: "upscaler",
    UNKNOWN: "unknown",
}

# ComfyUI's model folders (folder_paths.py; "unet" and "clip" are its legacy names) and the kind
# each holds. A file inside one of them is that kind, whatever its tensors say.
KIND_FOLDERS = {
    "checkpoints": CHECKPOINT,
    "diffusion_models": DIFFUSION_MODEL,
    "unet": DIFFUSION_MODEL,
    "text_encoders": TEXT_ENCODER,
    "clip": TEXT_ENCODER,
    "vae": VAE,
    "clip_vision": IMAGE_ENCODER,
    "loras": LORA,
    "upscale_models": UPSCALER,
    "diffusers": DIFFUSERS,
}

# ---- kinds from tensor names --------------------------------------------------------------
_LORA_MARKS = (
    ".lora_A.",
    ".lora_B.",
    ".lora_down.",
    ".lora_up.",
    ".lora.down.",
    ".lora.up.",
    "_lora.down.",  # diffusers' older attention-processor layout (to_q_lora.down.weight)
    "_lora.up.",
    ".hada_w1",
    ".lokr_w1",
)
_LORA_PREFIXES = ("lora_unet_", "lora_te", "lora_transformer_")
# Parts of a full checkpoint (the original LDM layout diffusers' single_file_utils reads).
_DENOISER_PREFIXES = ("model.diffusion_model.",)
_OTHER_PART_PREFIXES = (
    "first_stage_model.",  # the VAE
    "cond_stage_model.",  # SD 1.x/2.x text encoder
    "conditioner.",  # SDXL text encoders
    "text_encoders.",  # SD3
    "vae.",  # LTX-Video
)
# Top-level names of bare denoisers (UNets and transformers of the common layouts).
_DENOISER_HEADS = {
    "input_blocks",
    "double_blocks",
    "single_blocks",
    "joint_blocks",
    "transformer_blocks",
    "blocks",
    "down_blocks",
    "patch_embedding",
    "patchify_proj",
    "x_embedder",
    "time_embed",
    "time_embedding",
}


def kind_of_tensors(names: Mapping[str, object] | set[str], *, denoiser: bool = False) -> str:
    """The kind of a single weights file from its tensor names.

    ``denoiser`` says a model family already recognised a UNet or transformer in the file (the
    family declarations know their own layouts); it then is a checkpoint or a diffusion model.
    """
    keys = list(names)
    if any(mark in name for name in keys for mark in _LORA_MARKS) or any(k.startswith(_LORA_PREFIXES) for k in keys):
        return LORA
    prefixed = any(k.startswith(_DENOISER_PREFIXES) for k in keys)
    if (denoiser or prefixed) and any(k.startswith(_OTHER_PART_PREFIXES) for k in keys):
        return CHECKPOINT
    if prefixed:
        return DIFFUSION_MODEL
    key_set = set(keys)
    # The parts' own layouts before a family's word: they never hold a denoiser's names.
    if _is_text_encoder(keys, key_set):
        return TEXT_ENCODER
    if any(k.startswith(("vision_model.", "visual.")) for k in keys):  # CLIP vision (HF, OpenCLIP)
        return IMAGE_ENCODER
    if any(k.startswith(("decoder.", "first_stage_model.", "vae.decoder.")) for k in keys):
        return VAE  # LDM, diffusers and Wan VAEs (decoder.conv_in / decoder.middle / decoder.head)
    if _is_upscaler(keys, key_set):
        return UPSCALER
    if denoiser or any(k.split(".", 1)[0] in _DENOISER_HEADS for k in keys):
        return DIFFUSION_MODEL
    return UNKNOWN


# CLIP vision towers by width (ComfyUI's clip_vision_config_*.json): the names creators know them by.
_CLIP_VISION_NAMES = {768: "ViT-B", 1024: "ViT-L", 1280: "ViT-H", 1664: "ViT-bigG"}
_CLIP_VISION_PATCHES = ("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight")


def image_encoder_variant(shapes: Mapping[str, tuple[int, ...]]) -> str:
    """What a CLIP vision file holds, e.g. "CLIP ViT-H/14" (clip_vision_h, Wan 2.1 image-to-video's
    image encoder), from its patch embedding's width and patch size; "" for other image encoders."""
    for key in _CLIP_VISION_PATCHES:
        shape = shapes.get(key)
        if shape is not None and len(shape) == 4:
            width, patch = shape[0], shape[2]
            return f"CLIP {_CLIP_VISION_NAMES.get(width, f'vision, width {width}')}/{patch}"
    return ""


def _is_text_encoder(keys: list[str], key_set: set[str]) -> bool:
    if any(k.startswith("encoder.block.") for k in keys):
        return True  # T5 / UMT5 encoders (HF layout, as ComfyUI ships them; VAEs say "encoder.down")
    if any(k.startswith(("text_model.", "transformer.text_model.")) for k in keys):
        return True  # CLIP text encoders (HF layout)
    if "token_embedding.weight" in key_set and any(k.startswith("transformer.resblocks.") for k in keys):
        return True  # OpenCLIP text towers
    return any(k.startswith(("model.embed_tokens.", "model.layers.")) for k in keys)  # LLM encoders


def _is_upscaler(keys: list[str], key_set: set[str]) -> bool:
    if "conv_first.weight" in key_set:
        return True  # RRDBNet (ESRGAN, Real-ESRGAN), SwinIR, HAT, DAT
    if "model.0.weight" in key_set and all(k.startswith("model.") for k in keys):
        return True  # the original ESRGAN layout
    return "body.0.weight" in key_set and all(k.startswith("body.") for k in keys)  # Real-ESRGAN compact


# ---- precision ----------------------------------------------------------------------------
_SAFETENSORS_PRECISIONS = {
    "F64": "fp64",
    "F32": "fp32",
    "F16": "fp16",
    "BF16": "bf16",
    "F8_E4M3": "fp8 e4m3fn",
    "F8_E5M2": "fp8 e5m2",
    "I8": "int8",
    "U8": "uint8",
}
FP8_SCALED = "fp8 scaled"
# ComfyUI's scaled fp8 files carry a "scaled_fp8" marker and a scale per weight.
_SCALE_SUFFIXES = (".scale_weight", ".weight_scale")


def dominant_dtype(tensors: Mapping[str, TensorInfo]) -> str:
    """The storage type holding most of the file's numbers (norms and biases are often kept wider)."""
    elements: Counter[str] = Counter()
    for info in tensors.values():
        elements[info.dtype] += math.prod(info.shape)
    if not elements:
        return ""
    return max(elements.items(), key=lambda item: (item[1], item[0]))[0]


def precision_of(tensors: Mapping[str, TensorInfo], *, gguf: bool = False) -> str:
    """How the weights are stored: "fp16", "bf16", "fp8 e4m3fn", "fp8 scaled", "GGUF Q8_0", ..."""
    dtype = dominant_dtype(tensors)
    if not dtype:
        return ""
    if gguf:
        return f"GGUF {dtype}"
    label = _SAFETENSORS_PRECISIONS.get(dtype, dtype.lower())
    if label.startswith("fp8") and ("scaled_fp8" in tensors or any(k.endswith(_SCALE_SUFFIXES) for k in tensors)):
        return FP8_SCALED
    return label
