"""Tiny Wan models written the way ComfyUI users have them: a bare transformer in the official
key layout, a Wan VAE in its original layout, and a UMT5 text encoder in Hugging Face T5 names
carrying its sentencepiece model as a ``spiece_model`` tensor (as ComfyUI's own export does).

The weights are a tiny diffusers WanPipeline's; the original names are made by inverting the
renames diffusers' single-file converters apply (``convert_wan_transformer_to_diffusers``,
``convert_wan_vae_to_diffusers``), so diffusers' own converters map them back. Shapes follow the
real models where loading infers from them: 128-wide attention heads, the Wan 2.1 VAE's block
structure (4 stages of 2+1 residual blocks), UMT5's per-layer relative attention bias.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

# Text for the test's own sentencepiece model (nothing is fetched).
SPIECE_LINES = [
    "a red cat runs on the green grass",
    "a blue sky over a big house",
    "the small dog sits under the tree",
    "fast cars drive in the city at night",
    "slow boats float on the river",
    "an old man reads a book by the window",
]

# The scheduler Wan's diffusers repositories ship (scheduler/scheduler_config.json), so the
# diffusers folder samples exactly as the files assembled by LoadModel do.
WAN_SCHEDULER = {
    "prediction_type": "flow_prediction",
    "use_flow_sigmas": True,
    "num_train_timesteps": 1000,
    "flow_shift": 3.0,
}


def wan22_vae_config() -> dict:
    """A tiny Wan 2.2 VAE with the published one's structure and the latent statistics LoadModel ships."""
    from nodes.diffusion.families.wan_files import WAN22_VAE

    return {
        **WAN22_VAE,
        "base_dim": 8,
        "decoder_base_dim": 12,
        "z_dim": 48,
        "in_channels": 12,
        "out_channels": 12,
        "patch_size": 2,
        "scale_factor_spatial": 16,
    }


def train_spiece(lines: list[str] = SPIECE_LINES, vocab_size: int = 60) -> bytes:
    """A sentencepiece unigram model with T5's special pieces (<pad>=0, </s>=1, <unk>=2), as bytes.

    Identity normalisation, so a tokenizers-backed Unigram over the same pieces (what the diffusers
    folder's tokenizer.json holds) tokenizes exactly as sentencepiece does.
    """
    import sentencepiece

    out = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 4),
        model_writer=out,
        vocab_size=vocab_size,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        hard_vocab_limit=False,
        normalization_rule_name="identity",
        minloglevel=2,
    )
    return out.getvalue()


def folder_tokenizer(spiece: bytes):
    """The diffusers folder's tokenizer: a T5Tokenizer (Unigram, tokenizers backend) over the pieces."""
    import sentencepiece
    from transformers import T5Tokenizer

    sp = sentencepiece.SentencePieceProcessor(model_proto=spiece)
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)


def wan_components(spiece: bytes, *, wan22: bool = False, text_dim: int = 32) -> dict:
    """A tiny Wan 2.1 text-to-video pipeline's components, shaped as the real files are; ``wan22``:
    Wan 2.2 TI2V 5B's instead (48 latent channels, the Wan 2.2 VAE)."""
    import sentencepiece
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    vocab = sentencepiece.SentencePieceProcessor(model_proto=spiece).get_piece_size()
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=128,  # the real models' head size, which loading assumes
        in_channels=48 if wan22 else 16,
        out_channels=48 if wan22 else 16,
        text_dim=text_dim,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
    ).eval()
    torch.manual_seed(0)
    # The real VAE's structure (dim_mult, residual blocks, temporal downsampling) at a tiny width.
    vae = AutoencoderKLWan(**(wan22_vae_config() if wan22 else {"base_dim": 8, "z_dim": 16})).eval()
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=vocab + 4,  # the real embedding is padded past the tokenizer's vocabulary too
            d_model=text_dim,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    ).eval()
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": folder_tokenizer(spiece),
        "scheduler": UniPCMultistepScheduler(**{**WAN_SCHEDULER, **({"flow_shift": 5.0} if wan22 else {})}),
    }


# diffusers name → original name, applied in order (the inverse of the converter's renames).
_TRANSFORMER_RENAMES = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("condition_embedder.image_embedder.norm1", "img_emb.proj.0"),
    ("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1"),
    ("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3"),
    ("condition_embedder.image_embedder.norm2", "img_emb.proj.4"),
    ("condition_embedder.image_embedder.pos_embed", "img_emb.emb_pos"),  # FLF2V
    ("attn2", "cross_attn"),
    ("attn1", "self_attn"),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    (".add_k_proj.", ".k_img."),
    (".add_v_proj.", ".v_img."),
    (".norm_added_k.", ".norm_k_img."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("proj_out", "head.head"),
]


def original_transformer(state: dict) -> dict:
    """A diffusers WanTransformer3DModel state dict in the official Wan key layout."""
    out = {}
    for key, value in state.items():
        new = key
        for diffusers_name, original in _TRANSFORMER_RENAMES:
            new = new.replace(diffusers_name, original)
        if new == "scale_shift_table":
            new = "head.modulation"
        new = re.sub(r"^(blocks\.\d+)\.scale_shift_table$", r"\1.modulation", new)
        # The original orders its norms norm1, norm3 (cross-attention), norm2 (feed-forward).
        new = re.sub(r"\.norm([23])\.", lambda m: ".norm" + ("3" if m.group(1) == "2" else "2") + ".", new)
        out[new] = value
    return out


_VAE_RESIDUAL = {"norm1.gamma": "residual.0.gamma", "conv1": "residual.2", "norm2.gamma": "residual.3.gamma"}
_VAE_RESIDUAL.update({"conv2": "residual.6", "conv_shortcut": "shortcut"})
_VAE_FIXED = {
    "quant_conv": "conv1",
    "post_quant_conv": "conv2",
    "encoder.conv_in": "encoder.conv1",
    "decoder.conv_in": "decoder.conv1",
    "encoder.norm_out.gamma": "encoder.head.0.gamma",
    "encoder.conv_out": "encoder.head.2",
    "decoder.norm_out.gamma": "decoder.head.0.gamma",
    "decoder.conv_out": "decoder.head.2",
}


def _vae_residual(part: str) -> str:
    for diffusers_name, original in _VAE_RESIDUAL.items():
        if part == diffusers_name or part.startswith(diffusers_name + "."):
            return original + part[len(diffusers_name) :]
    return part


def _original_vae_key(key: str) -> str:
    for diffusers_name, original in _VAE_FIXED.items():
        if key == diffusers_name or key.startswith(diffusers_name + "."):
            return original + key[len(diffusers_name) :]
    if m := re.match(r"^(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.+)$", key):
        side, kind, index, rest = m.groups()
        if kind == "attentions":
            return f"{side}.middle.1.{rest}"
        return f"{side}.middle.{2 * int(index)}.{_vae_residual(rest)}"
    if m := re.match(r"^encoder\.down_blocks\.(\d+)\.(.+)$", key):
        return f"encoder.downsamples.{m.group(1)}.{_vae_residual(m.group(2))}"
    if m := re.match(r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$", key):
        block, resnet, rest = m.groups()
        return f"decoder.upsamples.{4 * int(block) + int(resnet)}.{_vae_residual(rest)}"
    if m := re.match(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)$", key):
        return f"decoder.upsamples.{4 * int(m.group(1)) + 3}.{m.group(2)}"
    raise ValueError(f"no original name for VAE key {key}")


def original_vae(state: dict) -> dict:
    """A diffusers AutoencoderKLWan (Wan 2.1 structure) state dict in the original Wan VAE layout."""
    return {_original_vae_key(key): value for key, value in state.items()}


def original_vae22(state: dict) -> dict:
    """A diffusers AutoencoderKLWan (Wan 2.2 structure) state dict in the original Wan 2.2 VAE layout:
    each stage's residual blocks and resampler nested under ``…downsamples.X.downsamples.Y``."""
    out = {}
    for key, value in state.items():
        if m := re.match(
            r"^(encoder|decoder)\.(down|up)_blocks\.(\d+)\.(resnets\.(\d+)|downsampler|upsampler)\.(.+)$", key
        ):
            side, kind, stage, part, resnet, rest = m.groups()
            samples = f"{side}.{kind}samples.{stage}.{kind}samples"
            if resnet is None:  # the resampler follows the stage's residual blocks
                count = 1 + max(
                    int(k.split(".")[4]) for k in state if k.startswith(f"{side}.{kind}_blocks.{stage}.resnets.")
                )
                out[f"{samples}.{count}.{rest}"] = value
            else:
                out[f"{samples}.{resnet}.{_vae_residual(rest)}"] = value
        else:
            out[_original_vae_key(key)] = value
    return out


def comfy_umt5(state: dict, spiece: bytes | None) -> dict:
    """A UMT5EncoderModel state dict as ComfyUI's text-encoder files hold it: Hugging Face T5 names,
    the embedding once (``shared.weight``), and the sentencepiece model as a uint8 tensor."""
    import torch

    out = {k: v for k, v in state.items() if k != "encoder.embed_tokens.weight"}
    if spiece is not None:
        out["spiece_model"] = torch.frombuffer(bytearray(spiece), dtype=torch.uint8)
    return out


def save(state: dict, path: Path, prefix: str = "") -> Path:
    """Write a state dict as .safetensors (contiguous copies, as real files hold them)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({prefix + k: v.detach().contiguous().clone() for k, v in state.items()}, str(path))
    return path


def write_comfy_tree(components: dict, spiece: bytes, models: Path, *, prefix: str = "") -> dict[str, Path]:
    """ComfyUI's models/ folders holding one tiny Wan 2.1 T2V: returns the three files."""
    return {
        "path": save(
            original_transformer(components["transformer"].state_dict()),
            models / "diffusion_models" / "wan2.1_t2v_1.3B_bf16.safetensors",
            prefix,
        ),
        "text_encoder": save(
            comfy_umt5(components["text_encoder"].state_dict(), spiece),
            models / "text_encoders" / "umt5_xxl_fp16.safetensors",
        ),
        "vae": save(original_vae(components["vae"].state_dict()), models / "vae" / "wan_2.1_vae.safetensors"),
    }


# ---- Wan 2.1 image-to-video ----------------------------------------------------------------------
def wan21_i2v_transformer(components: dict, image_dim: int, *, last_frame: bool = False, image_tokens: int = 0):
    """A tiny Wan 2.1 image-to-video transformer shaped as the real ones are (128-wide heads, 36 input
    channels, ``k_img``/``v_img`` projections as wide as the model); ``last_frame``: FLF2V's, with
    an image position embedding over both images' ``image_tokens``."""
    import torch
    from diffusers import WanTransformer3DModel

    config = {k: v for k, v in components["transformer"].config.items() if not k.startswith("_")}
    config |= {"in_channels": 36, "image_dim": image_dim, "added_kv_proj_dim": 2 * 128}
    config |= {"pos_embed_seq_len": 2 * image_tokens if last_frame else None}
    torch.manual_seed(2 if last_frame else 1)
    return WanTransformer3DModel.from_config(config).eval()


def clip_vision_config(hidden: int = 32, image_size: int = 16, patch: int = 4):
    """A tiny CLIP vision tower with ViT-H/14's activation and its 16 heads (what loading assumes)."""
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=hidden,
        intermediate_size=37,
        projection_dim=8,
        num_hidden_layers=2,
        num_attention_heads=16,
        image_size=image_size,
        patch_size=patch,
        hidden_act="gelu",
    )


def clip_vision(config):
    """CLIPVisionModelWithProjection from ``config``, seeded: ComfyUI's clip_vision files hold its
    tensors (``vision_model.*`` and ``visual_projection.weight``)."""
    import torch
    from transformers import CLIPVisionModelWithProjection

    torch.manual_seed(3)
    return CLIPVisionModelWithProjection(config).eval()


def open_clip_vision(state: dict) -> dict:
    """A transformers CLIP vision state dict in OpenCLIP's names (``visual.*``), the layout ComfyUI's
    clip_vision loader converts from: q, k and v fused into ``in_proj``, the projection transposed."""
    import torch

    top = {
        "embeddings.class_embedding": "class_embedding",
        "embeddings.patch_embedding.weight": "conv1.weight",
        "embeddings.position_embedding.weight": "positional_embedding",
        "pre_layrnorm": "ln_pre",
        "post_layernorm": "ln_post",
    }
    block = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    block["self_attn.out_proj"] = "attn.out_proj"
    out = {}
    for key, value in state.items():
        if key == "visual_projection.weight":
            out["visual.proj"] = value.t()
            continue
        rest = key.removeprefix("vision_model.")
        if m := re.match(r"^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", rest):
            index, module, kind = m.groups()
            if module in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                if module.endswith("q_proj"):
                    parts = [state[f"vision_model.encoder.layers.{index}.self_attn.{p}_proj.{kind}"] for p in "qkv"]
                    out[f"visual.transformer.resblocks.{index}.attn.in_proj_{kind}"] = torch.cat(parts)
                continue
            out[f"visual.transformer.resblocks.{index}.{block[module]}.{kind}"] = value
            continue
        for name, original in top.items():
            if rest == name or rest.startswith(name + "."):
                out["visual." + original + rest[len(name) :]] = value
                break
        else:
            raise ValueError(f"no OpenCLIP name for {key}")
    return out


# ---- Quantized files -----------------------------------------------------------------------------
GGUF_F32_PARAMS = 1024  # ComfyUI-GGUF's convert.py keeps tensors this small in F32 (QUANTIZATION_THRESHOLD)


def save_gguf(state: dict, path: Path, quant: str = "Q8_0") -> Path:
    """Write an original-layout state dict as city96's ComfyUI-GGUF tools do for Wan (arch "wan"):
    1-D tensors, tensors of at most 1024 values, ``*.modulation`` and the 5-D patch embedding in F32,
    every other tensor quantized to ``quant`` with the ``gguf`` package."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path=None, arch="wan")
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, value in state.items():
        data = value.detach().float().numpy()
        keep = data.ndim == 1 or data.size <= GGUF_F32_PARAMS or ".modulation" in key or data.ndim > 4
        kind = gguf.GGMLQuantizationType.F32 if keep else gguf.GGMLQuantizationType[quant]
        writer.add_tensor(key, gguf.quants.quantize(data, kind), raw_dtype=kind)
    writer.write_header_to_file(path=path)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def linear_weights(model) -> set[str]:
    """The state-dict names of a model's Linear weights."""
    import torch

    return {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def to_fp8(state: dict, linears: set[str], *, scaled: bool, dtype_name: str = "float8_e4m3fn") -> dict:
    """A state dict as ComfyUI's fp8 files hold it, the rest in bf16 as the published files are.

    Plain (``…_fp8_e4m3fn``): every weight of two or more dimensions in fp8 (embeddings and convolutions
    too). Scaled (``…_fp8_e4m3fn_scaled``): each Linear weight divided by its scale (its largest magnitude
    over the format's largest value) in fp8, with ``<layer>.scale_weight``, a ``scale_input`` of 1 on the
    attention query layers, and the ``scaled_fp8`` marker, whose dtype names the format."""
    import torch

    fp8 = getattr(torch, dtype_name)
    out = {}
    for key, value in state.items():
        layer = key[: -len(".weight")]
        if scaled and key in linears:
            scale = (value.abs().max().float() / torch.finfo(fp8).max).clamp(min=1e-12)
            out[key] = (value.float() / scale).to(fp8)
            out[layer + ".scale_weight"] = scale.reshape(())
            if layer.endswith(("to_q", ".q")):
                out[layer + ".scale_input"] = torch.ones(())
        elif not scaled and key.endswith(".weight") and value.dim() >= 2:
            out[key] = value.to(fp8)
        else:
            out[key] = value.to(torch.bfloat16) if value.is_floating_point() else value
    if scaled:
        out["scaled_fp8"] = torch.empty(0, dtype=fp8)
    return out


def dequantized(state: dict) -> dict:
    """An fp8 state dict (``to_fp8``) as float32 weights: W8 × scale, the scales and marker dropped."""
    out = {}
    for key, value in state.items():
        if key == "scaled_fp8" or key.endswith((".scale_weight", ".scale_input")):
            continue
        scale = state.get(key[: -len(".weight")] + ".scale_weight") if key.endswith(".weight") else None
        value = value.float() if value.is_floating_point() else value
        out[key] = value * scale if scale is not None else value
    return out
