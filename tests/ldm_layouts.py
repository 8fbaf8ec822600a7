"""Diffusers weights written back in the original (LDM) single-file layout, for tests.

The reverse of diffusers' ``single_file_utils`` conversions, after diffusers' own
``scripts/convert_diffusers_to_original_stable_diffusion.py`` and ``…_sdxl.py``, but for any
number of levels and blocks per level (those scripts hard-code the real models' four and two),
so tiny models can be written as the checkpoints users have: ``model.diffusion_model.*``,
``first_stage_model.*``, ``cond_stage_model.*`` (SD 1.x/2.x) or ``conditioner.embedders.0/1.*``
(SDXL). ``tests/test_sd_checkpoints.py`` checks that diffusers' converters give back exactly the
weights that went in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RESNET_PARTS = {  # diffusers → LDM, inside a UNet resnet
    "norm1.": "in_layers.0.",
    "conv1.": "in_layers.2.",
    "norm2.": "out_layers.0.",
    "conv2.": "out_layers.3.",
    "time_emb_proj.": "emb_layers.1.",
    "conv_shortcut.": "skip_connection.",
}


def _unet_prefixes(config: Any) -> dict[str, str]:
    """Diffusers module prefix → LDM prefix for a UNet2DConditionModel of this config."""
    levels = len(config["block_out_channels"])
    n = config["layers_per_block"]
    prefixes = {
        "conv_in.": "input_blocks.0.0.",
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "add_embedding.linear_1.": "label_emb.0.0.",
        "add_embedding.linear_2.": "label_emb.0.2.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
        "mid_block.resnets.0.": "middle_block.0.",
        "mid_block.attentions.0.": "middle_block.1.",
        "mid_block.resnets.1.": "middle_block.2.",
    }
    for i in range(levels):
        for j in range(n):  # input_blocks: conv_in, then per level n resnets (+ attention) and a downsampler
            prefixes[f"down_blocks.{i}.resnets.{j}."] = f"input_blocks.{1 + i * (n + 1) + j}.0."
            prefixes[f"down_blocks.{i}.attentions.{j}."] = f"input_blocks.{1 + i * (n + 1) + j}.1."
        prefixes[f"down_blocks.{i}.downsamplers.0.conv."] = f"input_blocks.{(i + 1) * (n + 1)}.0.op."
        for j in range(n + 1):  # output_blocks: per level n + 1 resnets (+ attention), the last with the upsampler
            prefixes[f"up_blocks.{i}.resnets.{j}."] = f"output_blocks.{i * (n + 1) + j}.0."
            prefixes[f"up_blocks.{i}.attentions.{j}."] = f"output_blocks.{i * (n + 1) + j}.1."
        slot = 2 if "CrossAttn" in config["up_block_types"][i] else 1
        prefixes[f"up_blocks.{i}.upsamplers.0."] = f"output_blocks.{i * (n + 1) + n}.{slot}."
    return prefixes


def _renamed(key: str, prefixes: dict[str, str], what: str) -> tuple[str, str]:
    matches = [p for p in prefixes if key.startswith(p)]
    if len(matches) != 1:
        raise KeyError(f"{what} weight {key!r} matches {len(matches)} known prefixes")
    return matches[0], key[len(matches[0]) :]


def unet_to_ldm(state: dict, config: Any) -> dict:
    prefixes = _unet_prefixes(config)
    out = {}
    for key, value in state.items():
        prefix, rest = _renamed(key, prefixes, "UNet")
        if ".resnets." in prefix:
            rest = next((ldm + rest[len(hf) :] for hf, ldm in RESNET_PARTS.items() if rest.startswith(hf)), rest)
        out["model.diffusion_model." + prefixes[prefix] + rest] = value
    return out


VAE_ATTENTION = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}


def vae_to_ldm(state: dict, config: Any) -> dict:
    levels = len(config["block_out_channels"])
    prefixes = {"mid_block.attentions.0.": "mid.attn_1."}
    for side in ("encoder", "decoder"):
        for name in ("conv_in.", "conv_out."):
            prefixes[f"{side}.{name}"] = f"{side}.{name}"
        prefixes[f"{side}.conv_norm_out."] = f"{side}.norm_out."
        for k in range(2):
            prefixes[f"{side}.mid_block.resnets.{k}."] = f"{side}.mid.block_{k + 1}."
        prefixes[f"{side}.mid_block.attentions.0."] = f"{side}.mid.attn_1."
    for name in ("quant_conv.", "post_quant_conv."):
        prefixes[name] = name
    for i in range(levels):
        for j in range(config["layers_per_block"]):
            prefixes[f"encoder.down_blocks.{i}.resnets.{j}."] = f"encoder.down.{i}.block.{j}."
        prefixes[f"encoder.down_blocks.{i}.downsamplers.0."] = f"encoder.down.{i}.downsample."
        for j in range(config["layers_per_block"] + 1):  # the decoder is numbered from the bottom
            prefixes[f"decoder.up_blocks.{i}.resnets.{j}."] = f"decoder.up.{levels - 1 - i}.block.{j}."
        prefixes[f"decoder.up_blocks.{i}.upsamplers.0."] = f"decoder.up.{levels - 1 - i}.upsample."
    out = {}
    for key, value in state.items():
        prefix, rest = _renamed(key, prefixes, "VAE")
        rest = rest.replace("conv_shortcut.", "nin_shortcut.")
        if prefix.endswith("attn_1.") or ".attentions." in prefix:
            hf = next(hf for hf in VAE_ATTENTION if rest.startswith(hf))
            rest = VAE_ATTENTION[hf] + rest[len(hf) :]
            if rest.endswith("weight") and not rest.startswith("norm.") and value.ndim == 2:
                value = value.reshape(*value.shape, 1, 1)  # LDM's attention projections are 1x1 convolutions
        out["first_stage_model." + prefixes[prefix] + rest] = value
    return out


def clip_to_ldm(state: dict, prefix: str) -> dict:
    """A transformers CLIPTextModel (OpenAI CLIP, SD 1.x and SDXL's first encoder): the same names under ``prefix``."""
    return {prefix + (key if key.startswith("text_model.") else "text_model." + key): v for key, v in state.items()}


OPEN_CLIP_NAMES = [  # transformers → OpenCLIP, in the order they must be applied
    ("text_model.encoder.layers.", "transformer.resblocks."),
    ("layer_norm1", "ln_1"),
    ("layer_norm2", "ln_2"),
    (".mlp.fc1.", ".mlp.c_fc."),
    (".mlp.fc2.", ".mlp.c_proj."),
    (".self_attn.", ".attn."),
    ("text_model.final_layer_norm.", "ln_final."),
    ("text_model.embeddings.token_embedding.weight", "token_embedding.weight"),
    ("text_model.embeddings.position_embedding.weight", "positional_embedding"),
]


def open_clip_to_ldm(state: dict, prefix: str, extra_layer: Any | None = None) -> dict:
    """A transformers CLIP text model written as OpenCLIP (SD 2.x, SDXL's second encoder) under ``prefix``:
    q/k/v fused into ``in_proj``, ``text_projection`` transposed. ``extra_layer``: a layer's tensors
    (transformers names after ``layers.N.``) appended as the last resblock, as SD 2.x checkpoints
    carry the OpenCLIP layer diffusers leaves out."""
    import torch

    state = {
        (k if k.startswith("text_model.") or k == "text_projection.weight" else "text_model." + k): v
        for k, v in state.items()
    }
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("text_model.encoder.layers."))
    if extra_layer is not None:
        state |= {f"text_model.encoder.layers.{layers}.{k}": v for k, v in extra_layer.items()}
    out, fused = {}, {}
    for key, value in state.items():
        if key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
            continue
        for hf, ldm in OPEN_CLIP_NAMES:
            key = key.replace(hf, ldm)
        for part in ("q", "k", "v"):
            for kind in ("weight", "bias"):
                if key.endswith(f".attn.{part}_proj.{kind}"):
                    stem = key[: -len(f"{part}_proj.{kind}")]
                    fused.setdefault((stem, kind), {})[part] = value
                    break
            else:
                continue
            break
        else:
            out[prefix + key] = value
    for (stem, kind), parts in fused.items():
        out[f"{prefix}{stem}in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def _state(model: Any) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def pipeline_to_ldm(pipe: Any, *, sd2_extra_layer: bool = True) -> dict:
    """Every weight of a StableDiffusionPipeline or StableDiffusionXLPipeline in the original layout."""
    out = unet_to_ldm(_state(pipe.unet), pipe.unet.config) | vae_to_ldm(_state(pipe.vae), pipe.vae.config)
    if getattr(pipe, "text_encoder_2", None) is not None:  # SDXL: OpenAI CLIP-L, then OpenCLIP bigG
        out |= clip_to_ldm(_state(pipe.text_encoder), "conditioner.embedders.0.transformer.")
        return out | open_clip_to_ldm(_state(pipe.text_encoder_2), "conditioner.embedders.1.model.")
    encoder = pipe.text_encoder
    if encoder.config.hidden_act == "gelu":  # SD 2.x: OpenCLIP, one layer more than diffusers keeps
        last = encoder.config.num_hidden_layers - 1
        text_state = _state(encoder)
        extra = None
        if sd2_extra_layer:
            head = f"encoder.layers.{last}."
            extra = {k.split(head, 1)[1]: v.clone() + 0.5 for k, v in text_state.items() if head in k}
        return out | open_clip_to_ldm(text_state, "cond_stage_model.model.", extra)
    return out | clip_to_ldm(_state(encoder), "cond_stage_model.transformer.")


def save_checkpoint(pipe: Any, path: Path, **kwargs: Any) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in pipeline_to_ldm(pipe, **kwargs).items()}, str(path))
    return path
