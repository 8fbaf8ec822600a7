"""Wan from the files ComfyUI users have, assembled into a WanPipeline offline.

``path`` is a bare Wan transformer (``diffusion_models/wan2.1_t2v_1.3B_bf16.safetensors``): the
official key layout, ComfyUI's (the same under ``model.diffusion_model.``) or diffusers'. The parts
it lacks come from LoadModel's ``text_encoder`` (a UMT5 file or a diffusers folder) and ``vae``
(a Wan VAE file in the original layout, or a diffusers folder). Each configuration is read from the
tensors' names and shapes, as ComfyUI's model detection does, with diffusers' defaults (which the
published Wan configs share) for what shapes cannot tell. The weights go through diffusers' own
converters and ``from_single_file``, given a config folder written here, so nothing is fetched.
The transformer and text encoder may be quantized (see nodes.diffusion.quantized): a GGUF transformer
loads through diffusers' GGUF support, and fp8 files (plain or ComfyUI's scaled fp8) keep their fp8
weights in fp8, computed in ``dtype``.

Wan 2.2 A14B comes as two experts in two files (``…high_noise…``, ``…low_noise…``): naming either
loads both, as ``transformer`` (high noise) and ``transformer_2`` (low noise). Its image-to-video
experts (36 input channels, no image encoder) load the same way; the Sampler's first_frame drives them
(families/wan_i2v.py). Wan 2.1 image-to-video and first/last-frame files (36 input channels and an
``img_emb`` image projection) also take LoadModel's ``image_encoder``, ComfyUI's
``clip_vision_h.safetensors`` or a diffusers folder (families/wan_clip.py), and make a
WanImageToVideoPipeline.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodes.diffusion import quantized, text_encoders
from nodes.diffusion.loading import PICKLE_SUFFIXES, refuse_pickle
from nodes.diffusion.values import ModelParts
from studio.nodeapi import NodeError

COMFY_PREFIX = "model.diffusion_model."
HEAD_DIM = 128  # every published Wan transformer's attention head size (ComfyUI's detection assumes it too)
ROPE_MAX_SEQ_LEN = 1024  # not stored in the weights; the published configs' value
# The scheduler Wan's diffusers repositories ship (scheduler/scheduler_config.json); Wan 2.2 TI2V
# 5B samples with flow_shift 5.0 (diffusers' scripts/convert_wan_to_diffusers.py).
SCHEDULER = {
    "num_train_timesteps": 1000,
    "solver_order": 2,
    "prediction_type": "flow_prediction",
    "predict_x0": True,
    "solver_type": "bh2",
    "lower_order_final": True,
    "disable_corrector": [],
    "final_sigmas_type": "zero",
    "timestep_spacing": "linspace",
    "use_flow_sigmas": True,
    "flow_shift": 3.0,
}
TI2V_FLOW_SHIFT = 5.0
A14B_BOUNDARY_RATIO = 0.875  # Wan2.2-T2V-A14B-Diffusers' model_index.json: the low-noise expert's share
EXPERT_NAMES = ("high_noise", "low_noise")
# What Wan 2.2's VAE shapes cannot tell (Wan-AI/Wan2.2-TI2V-5B-Diffusers' vae/config.json).
WAN22_VAE = {
    "is_residual": True,
    "scale_factor_temporal": 4,
    "latents_mean": [
        -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
        0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
        -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
        -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
    ],
    "latents_std": [
        0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
        0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
        0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
        0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
    ],
}  # fmt: skip
NESTED_VAE_BLOCK = re.compile(r"^(encoder|decoder)\.(?:down|up)samples\.(\d+)\.(?:down|up)samples\.(\d+)\.(.+)$")
VAE_RESIDUAL_NAMES = (
    ("residual.0.", "norm1."),
    ("residual.2.", "conv1."),
    ("residual.3.", "norm2."),
    ("residual.6.", "conv2."),
    ("shortcut.", "conv_shortcut."),
)
UNSUPPORTED = {"vace_blocks.": "Wan VACE", "motion_encoder.": "Wan Animate", "face_adapter.": "Wan Animate"}


def load_wan_files(path: Path, parts: ModelParts, torch_dtype: Any, allow_pickle: bool, config: Path | None) -> Any:
    """A WanPipeline from a bare transformer file and the text encoder and VAE ``parts`` name; for a
    Wan 2.1 image-to-video (or first/last-frame) file a WanImageToVideoPipeline, with the CLIP image
    encoder ``parts.image_encoder`` names (families/wan_clip.py)."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline, WanPipeline

    if config is not None:
        raise NodeError("config: not used for a bare Wan transformer file (its parts come from text_encoder and vae)")
    experts = expert_files(path)
    channels, clip = check_variant(path)
    if parts.image_encoder is not None and not clip:
        raise NodeError(
            f"image_encoder: {path.name} takes no image encoder (only Wan 2.1 image-to-video and "
            "first/last-frame models do; Wan text-to-video, Wan 2.2 TI2V and I2V models do not); clear image_encoder"
        )
    missing_parts(path, parts, channels, clip)
    transformers = [load_transformer(file, torch_dtype, allow_pickle) for file in experts]
    text_encoder, tokenizer = load_text_encoder(parts.text_encoder, torch_dtype, allow_pickle)
    vae = load_vae(parts.vae, torch_dtype, allow_pickle)
    latent_channels = transformers[0].config.out_channels
    if vae.config.z_dim != latent_channels:
        raise NodeError(
            f"vae: {parts.vae.name} makes {vae.config.z_dim}-channel latents but {path.name} works on "
            f"{latent_channels}; use {vae_file_for(transformers[0].config.in_channels)}"
        )
    ti2v = transformers[0].config.in_channels == 48
    scheduler = UniPCMultistepScheduler(**{**SCHEDULER, **({"flow_shift": TI2V_FLOW_SHIFT} if ti2v else {})})
    common = {"tokenizer": tokenizer, "text_encoder": text_encoder, "vae": vae, "scheduler": scheduler}
    if clip:
        from nodes.diffusion.families.wan_clip import load_image_encoder

        image_dim = int(transformers[0].config.image_dim)
        encoder, processor = load_image_encoder(parts.image_encoder, image_dim, path.name, torch_dtype, allow_pickle)
        return WanImageToVideoPipeline(
            **common, image_encoder=encoder, image_processor=processor, transformer=transformers[0]
        )
    return WanPipeline(
        **common,
        transformer=transformers[0],
        transformer_2=transformers[1] if len(transformers) > 1 else None,
        boundary_ratio=A14B_BOUNDARY_RATIO if len(transformers) > 1 else None,
        expand_timesteps=ti2v,
    )


def expert_files(path: Path) -> list[Path]:
    """``[path]``, or Wan 2.2 A14B's two experts ``[high noise, low noise]`` when ``path`` names one."""
    for mine, other in (EXPERT_NAMES, EXPERT_NAMES[::-1]):
        if mine in path.name:
            partner = path.with_name(path.name.replace(mine, other))
            if not partner.is_file():
                raise NodeError(
                    f"{path.name} is one of Wan 2.2 A14B's two experts; its {other.replace('_', '-')} partner "
                    f"{partner.name} was not found beside it in {path.parent}"
                )
            return [path, partner] if mine == "high_noise" else [partner, path]
    return [path]


def vae_file_for(channels: int) -> str:
    return "vae/wan2.2_vae.safetensors" if channels == 48 else "vae/wan_2.1_vae.safetensors"


def check_variant(path: Path) -> tuple[int, bool]:
    """The transformer's input channels (16 when the file's header cannot be read cheaply) and whether
    it takes CLIP image features (Wan 2.1 I2V/FLF2V: ``img_emb.*``), refusing the variants this family
    cannot sample before any weights are read."""
    if path.suffix not in (".safetensors", ".gguf"):
        return 16, False
    from studio.nodeapi.weights import WeightsFileError, weights_tensors

    try:
        shapes = {name: info.shape for name, info in weights_tensors(path).items()}
    except WeightsFileError as exc:
        raise NodeError(str(exc)) from None
    prefix = COMFY_PREFIX if COMFY_PREFIX + "patch_embedding.weight" in shapes else ""
    for marker, what in UNSUPPORTED.items():
        if any(name.startswith(prefix + marker) for name in shapes):
            raise NodeError(f"{path.name} is a {what} model, which is not supported yet; use a Wan text-to-video model")
    patch = shapes.get(prefix + "patch_embedding.weight")
    channels = patch[1] if patch is not None and len(patch) == 5 else 16
    # Wan 2.2 A14B I2V needs nothing more than text-to-video; Wan 2.1 I2V/FLF2V needs its CLIP image encoder.
    image_heads = (prefix + "img_emb.", prefix + "condition_embedder.image_embedder.")
    return channels, channels == 36 and any(name.startswith(image_heads) for name in shapes)


def missing_parts(path: Path, parts: ModelParts, channels: int, clip: bool) -> None:
    """One error naming every part a bare transformer file needs and was not given."""
    wanted = []
    if parts.text_encoder is None:
        wanted.append("text_encoder to a UMT5 file (ComfyUI: text_encoders/umt5_xxl_*.safetensors)")
    if parts.vae is None:
        wanted.append(f"vae to a Wan VAE file ({vae_file_for(channels)})")
    if clip and parts.image_encoder is None:
        wanted.append("image_encoder to its CLIP vision file (ComfyUI: clip_vision/clip_vision_h.safetensors)")
    if wanted:
        what = "Wan 2.1 image-to-video transformer" if clip else "Wan transformer"
        listed = " and ".join([", ".join(wanted[:-1]), wanted[-1]] if len(wanted) > 1 else wanted)
        raise NodeError(f"{path.name} is a bare {what}: set {listed}")


def read_weights(path: Path, allow_pickle: bool) -> dict[str, Any]:
    """Every tensor of a weights file (pickles only when allowed, read with ``weights_only``; a GGUF
    file's quantized tensors as diffusers' ``GGUFParameter``)."""
    import torch
    from safetensors.torch import load_file

    refuse_pickle(path, allow_pickle)
    if path.suffix == ".safetensors":
        return load_file(str(path))
    if path.suffix == ".gguf":
        return quantized.read_gguf(path)
    if path.suffix in PICKLE_SUFFIXES:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        while isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        return state
    raise NodeError(f"{path.name}: expected a .safetensors file")


def diffusers_transformer_state(state: dict[str, Any], name: str) -> dict[str, Any]:
    """A Wan transformer's tensors under diffusers' names, from any of the three layouts."""
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    if any(key.startswith(COMFY_PREFIX) for key in state):
        state = {key[len(COMFY_PREFIX) :]: value for key, value in state.items() if key.startswith(COMFY_PREFIX)}
    if "head.modulation" in state:  # the official layout
        if "img_emb.emb_pos" in state:  # FLF2V's image position embedding, which the converter leaves out
            state["condition_embedder.image_embedder.pos_embed"] = state.pop("img_emb.emb_pos")
        return convert_wan_transformer_to_diffusers(state)
    if "scale_shift_table" in state and "condition_embedder.time_proj.weight" in state:
        return state
    raise NodeError(f"{name} is not a Wan transformer (no head.modulation or scale_shift_table tensor)")


def transformer_config(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    """WanTransformer3DModel's config from its tensors (diffusers names; a quantized tensor's logical shape)."""

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise NodeError(f"{name}: the Wan transformer tensor {key} is missing; the file is incomplete")
        return quantized.logical_shape(state[key])

    inner, in_channels, *patch = shape("patch_embedding.weight")
    if inner % HEAD_DIM:
        raise NodeError(f"{name}: transformer width {inner} is not a multiple of Wan's head size {HEAD_DIM}")
    layers = 0
    while f"blocks.{layers}.attn1.to_q.weight" in state:
        layers += 1
    image = "condition_embedder.image_embedder."
    pos_embed = state.get(image + "pos_embed")
    return {
        "patch_size": patch,
        "num_attention_heads": inner // HEAD_DIM,
        "attention_head_dim": HEAD_DIM,
        "in_channels": in_channels,
        "out_channels": shape("proj_out.weight")[0] // (patch[0] * patch[1] * patch[2]),
        "text_dim": shape("condition_embedder.text_embedder.linear_1.weight")[1],
        "freq_dim": shape("condition_embedder.time_embedder.linear_1.weight")[1],
        "ffn_dim": shape("blocks.0.ffn.net.0.proj.weight")[0],
        "num_layers": layers,
        "cross_attn_norm": "blocks.0.norm2.weight" in state,
        "qk_norm": "rms_norm_across_heads" if "blocks.0.attn1.norm_q.weight" in state else None,
        "eps": 1e-6,
        "image_dim": shape(image + "norm1.weight")[0] if image + "norm1.weight" in state else None,
        "added_kv_proj_dim": shape("blocks.0.attn2.add_k_proj.weight")[1]
        if "blocks.0.attn2.add_k_proj.weight" in state
        else None,
        "rope_max_seq_len": ROPE_MAX_SEQ_LEN,
        "pos_embed_seq_len": None if pos_embed is None else quantized.logical_shape(pos_embed)[1],
    }


def load_transformer(path: Path, torch_dtype: Any, allow_pickle: bool) -> Any:
    from diffusers import WanTransformer3DModel

    state = diffusers_transformer_state(read_weights(path, allow_pickle), path.name)
    scales = quantized.split_scales(state, path.name)
    config = transformer_config(state, path.name)
    return build_model(WanTransformer3DModel, state, config, torch_dtype, path.name, scales)


def build_model(
    cls: Any,
    state: dict[str, Any],
    config: dict[str, Any],
    torch_dtype: Any,
    name: str,
    scales: dict[str, Any] | None = None,
) -> Any:
    """``cls`` with ``config`` from tensors already in diffusers' names, computing in ``torch_dtype``
    with the modules the class keeps in float32 kept there, as ``from_pretrained`` does.

    Plain and GGUF tensors load through ``cls.from_single_file`` with ``config`` written to a local
    folder (so diffusers reads no repository); fp8 tensors (and a scaled-fp8 file's ``scales``, by
    layer) are assigned with their fp8 Linear weights kept fp8 (nodes.diffusion.quantized). The
    tensors must be exactly the model's: from_single_file would run its converter again over any
    other set of names."""
    model = empty_model(cls, config, state, name)
    if scales or quantized.has_fp8(state):
        quantized.load_fp8(model, state, scales or {}, torch_dtype, float32=model._keep_in_fp32_modules or ())
        return model.eval()
    expected = set(model.state_dict())
    gguf = any(quantized.is_gguf(tensor) for tensor in state.values())
    if gguf:
        quantized.dequantize_outside_linears(model, state)
    options = {"quantization_config": quantized.gguf_quantization(torch_dtype)} if gguf else {}
    with tempfile.TemporaryDirectory(prefix="studio-config-") as folder:
        Path(folder, "config.json").write_text(json.dumps({"_class_name": cls.__name__, **config}))
        model = cls.from_single_file(state, config=folder, local_files_only=True, **options)  # the file's dtypes
    cast_loaded(model, torch_dtype, expected)
    return model


def empty_model(cls: Any, config: dict[str, Any], state: dict[str, Any], name: str) -> Any:
    """``cls`` with ``config`` and empty weights, once ``state`` is found to hold exactly its tensors."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = cls.from_config(config)
    detail = mismatch(set(model.state_dict()), state)
    if detail:
        raise NodeError(f"{name}: its tensors do not make the {cls.__name__} their shapes describe ({detail})")
    return model


def mismatch(expected: set[str], state: dict[str, Any]) -> str:
    """What keeps ``state`` from being exactly the ``expected`` tensors ("missing: a, b; not in the
    model: c"), or "" when it is."""
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    return "; ".join(
        f"{what}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
        for what, keys in (("missing", missing), ("not in the model", unexpected))
        if keys
    )


def cast_loaded(model: Any, torch_dtype: Any, loaded: set[str]) -> None:
    """Cast the loaded tensors to ``torch_dtype``, those of the class's ``_keep_in_fp32_modules`` to
    float32 (diffusers' rule in ``load_model_dict_into_meta``); GGUF-quantized ones stay as they are."""
    import itertools

    import torch

    keep = model._keep_in_fp32_modules or []
    for name, tensor in itertools.chain(model.named_parameters(), model.named_buffers()):
        if name in loaded and tensor.is_floating_point() and not quantized.is_gguf(tensor):
            target = torch.float32 if any(m in name.split(".") for m in keep) else torch_dtype
            if tensor.dtype != target:
                tensor.data = tensor.data.to(target)


def load_vae(part: Path, torch_dtype: Any, allow_pickle: bool) -> Any:
    """AutoencoderKLWan from a Wan 2.1 or 2.2 VAE file (original or diffusers names) or a diffusers folder."""
    from diffusers import AutoencoderKLWan

    if part.is_dir():
        folder = component_folder(part, "vae", allow_pickle)
        return AutoencoderKLWan.from_pretrained(str(folder), dtype=torch_dtype, local_files_only=True)
    if part.suffix == ".gguf":
        raise NodeError(f"vae: {part.name} is a GGUF file; use the Wan VAE's .safetensors file")
    state = diffusers_vae_state(read_weights(part, allow_pickle))
    for key in ("encoder.conv_in.weight", "post_quant_conv.weight", "decoder.conv_out.weight"):
        if key not in state:
            raise NodeError(f"vae: {part.name} is not a Wan VAE (it has no {key} in either layout)")
    base_dim, in_channels = tuple(state["encoder.conv_in.weight"].shape)[:2]
    z_dim = tuple(state["post_quant_conv.weight"].shape)[0]
    out_channels, decoder_dim = tuple(state["decoder.conv_out.weight"].shape)[:2]
    config = {"base_dim": base_dim, "z_dim": z_dim}
    if in_channels != 3:  # Wan 2.2: pixels folded into channels, patch_size² × RGB
        patch = round((in_channels // 3) ** 0.5)
        config |= {"in_channels": in_channels, "out_channels": out_channels, "patch_size": patch}
        config |= {"decoder_base_dim": decoder_dim, **WAN22_VAE, "scale_factor_spatial": 8 * patch}
    return build_model(AutoencoderKLWan, state, config, torch_dtype, f"vae: {part.name}")


def diffusers_vae_state(state: dict[str, Any]) -> dict[str, Any]:
    """A Wan VAE's tensors under diffusers' names. Wan 2.2's original layout nests each stage's
    residual blocks and resampler (``encoder.downsamples.X.downsamples.Y…``); the rest of it is named
    as Wan 2.1's, which diffusers' converter maps."""
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    if "decoder.middle.0.residual.0.gamma" not in state:
        return state  # diffusers' names already
    nested, rest = {}, {}
    for key, value in state.items():
        found = NESTED_VAE_BLOCK.match(key)
        if found is None:
            rest[key] = value
            continue
        side, stage, index, tail = found.groups()
        blocks, sampler = ("down_blocks", "downsampler") if side == "encoder" else ("up_blocks", "upsampler")
        if tail.startswith(("resample.", "time_conv.")):
            nested[f"{side}.{blocks}.{stage}.{sampler}.{tail}"] = value
        else:
            for original, renamed in VAE_RESIDUAL_NAMES:
                tail = tail.replace(original, renamed, 1) if tail.startswith(original) else tail
            nested[f"{side}.{blocks}.{stage}.resnets.{index}.{tail}"] = value
    return {**convert_wan_vae_to_diffusers(rest), **nested}


def load_text_encoder(part: Path, torch_dtype: Any, allow_pickle: bool) -> tuple[Any, Any]:
    """UMT5EncoderModel and its tokenizer from a UMT5 file or a diffusers folder."""
    if part.is_dir():
        from transformers import UMT5EncoderModel

        folder = component_folder(part, "text_encoder", allow_pickle)
        model = UMT5EncoderModel.from_pretrained(
            str(folder), dtype=torch_dtype, local_files_only=True, use_safetensors=None if allow_pickle else True
        )
        tokenizer_folder = folder.parent / "tokenizer"
        tokenizer = text_encoders.folder_tokenizer(tokenizer_folder) if tokenizer_folder.is_dir() else None
        return model.eval(), tokenizer or umt5_tokenizer(None, part.name)
    if part.suffix == ".gguf":
        raise NodeError(
            f"text_encoder: {part.name} is a GGUF text encoder, which is not supported yet; use "
            "umt5_xxl_fp8_e4m3fn_scaled.safetensors or umt5_xxl_fp16.safetensors"
        )
    state, spiece = text_encoders.encoder_state(read_weights(part, allow_pickle), f"text_encoder: {part.name}")
    tokenizer = umt5_tokenizer(spiece, part.name)
    return text_encoders.load_umt5(state, torch_dtype, f"text_encoder: {part.name}"), tokenizer


def umt5_tokenizer(spiece: bytes | None, name: str) -> Any:
    if spiece is not None:
        return text_encoders.spiece_tokenizer(spiece, f"text_encoder: {name}")
    cached = text_encoders.cached_tokenizer()
    if cached is None:
        raise NodeError(f"text_encoder: {name} carries no tokenizer. {text_encoders.TOKENIZER_HELP}")
    return cached


def component_folder(part: Path, component: str, allow_pickle: bool) -> Path:
    """A diffusers component folder (``vae/``, ``text_encoder/``), given itself or its pipeline folder;
    pickled weights refused unless allowed."""
    folder = part / component if (part / "model_index.json").is_file() else part
    if not (folder / "config.json").is_file():
        raise NodeError(f"{component}: {part} is not a diffusers {component} folder (it has no config.json)")
    files = [f for f in folder.iterdir() if f.is_file()]
    if not allow_pickle and not any(f.suffix == ".safetensors" for f in files):
        if any(f.suffix in PICKLE_SUFFIXES for f in files):
            raise NodeError(
                f"{component}: {folder} holds only pickle weights (.bin/.pt), which can run code when loaded; "
                "convert them to .safetensors or turn on 'allow pickle' in settings"
            )
    return folder
