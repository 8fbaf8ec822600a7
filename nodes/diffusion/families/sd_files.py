"""Full SD 1.x, SD 2.x and SDXL checkpoints, loaded with no config folder and no network.

A checkpoint in the original (LDM) layout (``model.diffusion_model.*``, ``first_stage_model.*``,
``cond_stage_model.*`` or SDXL's ``conditioner.embedders.0/1.*``) holds weights only. The rest
comes from three places, as ComfyUI's checkpoint loader does it:

- the tensor shapes, read from the file's header: the UNet's channels per level, blocks per
  level, transformer depths, attention layout, cross-attention width and input channels; the
  VAE's channels and depth; each text encoder's width, depth, vocabulary and context length;
- the configs shipped as ``resources/configs/<variant>/`` (written from the published diffusers
  repositories) for what shapes cannot tell: scheduler, sample size, activations, norm groups,
  the VAE's scaling factor, and the head width that turns a channel count into a head count;
- CLIP's BPE merges, ``resources/configs/clip/bpe_simple_vocab_16e6.txt.gz``, built into
  tokenizers as OpenAI's ``SimpleTokenizer`` builds its table.

The configs go to a temporary diffusers config folder and diffusers' own ``from_single_file``
converts the weights with it, with ``local_files_only`` and ``HF_HUB_OFFLINE`` set.

The variant is told as diffusers' ``infer_diffusers_model_type`` tells it, from the text encoders
(OpenAI CLIP: SD 1.x; OpenCLIP: SD 2.x; both under ``conditioner``: SDXL base), which for real
checkpoints is its test of the cross-attention width (768, 1024, 2048). SD 2.x comes as 512-base
(epsilon) and 768-v (v-prediction) with the same shapes; diffusers can only guess (a
``global_step`` of 875000, which .safetensors files do not carry), so the spread of the last
output block's first norm bias decides, as ComfyUI's ``SD20.model_type`` does (above 0.09:
v-prediction). A ``v_pred`` tensor, as v-prediction SD 2.x and SDXL fine-tunes carry for ComfyUI,
says so outright (with ``ztsnr``: zero terminal SNR).
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.nodeapi import NodeError
from studio.nodeapi.weights import WeightsFileError, safetensors_header

CHECKPOINT_PIPELINES = ("StableDiffusionPipeline", "StableDiffusionXLPipeline")  # the pipelines described here
CONFIGS = "resources/configs"
VOCABULARY = f"{CONFIGS}/clip/bpe_simple_vocab_16e6.txt.gz"
UNET = "model.diffusion_model."
VAE = "first_stage_model."
SD1_CLIP = "cond_stage_model.transformer."
SD2_CLIP = "cond_stage_model.model."
XL_CLIP = "conditioner.embedders.0.transformer."
XL_CLIP_2 = "conditioner.embedders.1.model."
V_PREDICTION_SPREAD = 0.09  # ComfyUI's threshold on the std of the last output block's norm1 bias


@dataclass(frozen=True)
class Variant:
    """What a checkpoint is: its family, its shipped config folder, and the scheduler's prediction."""

    family: str
    label: str
    configs: str  # under resources/configs/
    prediction: str | None = None  # overrides the shipped scheduler's prediction_type
    zero_snr: bool = False


class Checkpoint:
    """A checkpoint's tensor names and shapes, and a way to read one tensor."""

    def __init__(self, path: Path, shapes: dict[str, tuple[int, ...]], read: Callable[[str], Any]) -> None:
        self.path = path
        self.shapes = shapes
        self.read = read

    @classmethod
    def open(cls, path: Path) -> Checkpoint:
        """Header only for .safetensors; a pickled checkpoint (allowed by the caller) is loaded with
        ``weights_only`` as diffusers loads it."""
        if path.suffix == ".safetensors":
            try:
                shapes = {name: info.shape for name, info in safetensors_header(path).items()}
            except WeightsFileError as exc:
                raise NodeError(f"{path} is not a readable .safetensors file: {exc}") from None

            def read(name: str) -> Any:
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as handle:
                    return handle.get_tensor(name)

            return cls(path, shapes, read)
        from diffusers.loaders.single_file_utils import load_single_file_checkpoint

        state = load_single_file_checkpoint(str(path), local_files_only=True)
        tensors = {k: v for k, v in state.items() if hasattr(v, "shape")}
        return cls(path, {k: tuple(v.shape) for k, v in tensors.items()}, tensors.__getitem__)

    def has(self, prefix: str) -> bool:
        return any(name.startswith(prefix) for name in self.shapes)

    def indices(self, prefix: str) -> list[int]:
        """The numbers that follow ``prefix`` in tensor names (blocks, layers), sorted."""
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        return sorted({int(m.group(1)) for name in self.shapes if (m := pattern.match(name))})

    def shape(self, name: str) -> tuple[int, ...]:
        try:
            return self.shapes[name]
        except KeyError:
            raise NodeError(f"{self.path.name}: tensor {name!r} is missing; the checkpoint is incomplete") from None


def tell_variant(checkpoint: Checkpoint) -> Variant:
    """SD 1.x, SD 2.x 512-base or 768-v, or SDXL base; anything else is a NodeError naming what it is."""
    name = checkpoint.path.name
    if not checkpoint.has(UNET + "input_blocks."):
        raise NodeError(f"{name} holds no Stable Diffusion UNet (no {UNET}input_blocks.* tensors)")
    if "edm_mean" in checkpoint.shapes:
        raise NodeError(f"{name} is a Playground v2.5 (EDM) checkpoint, which the SDXL family does not run")
    marked_v = "v_pred" in checkpoint.shapes
    zero_snr = "ztsnr" in checkpoint.shapes
    if checkpoint.has("conditioner.embedders."):
        if not (checkpoint.has(XL_CLIP) and checkpoint.has(XL_CLIP_2)):
            raise NodeError(f"{name} is an SDXL refiner or an SDXL variant with other text encoders; not supported")
        return Variant("sdxl", "SDXL", "sdxl", "v_prediction" if marked_v else None, zero_snr)
    if checkpoint.has(SD2_CLIP):
        in_channels = checkpoint.shape(UNET + "input_blocks.0.0.weight")[1]
        if marked_v or (in_channels == 4 and _norm_spread(checkpoint) > V_PREDICTION_SPREAD):
            return Variant("sd15", "SD 2.x 768-v", "sd2/768-v", "v_prediction", zero_snr)
        return Variant("sd15", "SD 2.x 512-base", "sd2/512-base")
    if checkpoint.has(SD1_CLIP):
        return Variant("sd15", "SD 1.x", "sd15")
    raise NodeError(
        f"{name} holds a UNet but no text encoder (it is a bare diffusion model); "
        "use a full checkpoint, or a diffusers folder"
    )


def _norm_spread(checkpoint: Checkpoint) -> float:
    """The std of the first norm bias in the last output block's transformer (``output_blocks.11`` in SD 2.x)."""
    blocks = [b for b in checkpoint.indices(UNET + "output_blocks.") if checkpoint.has(f"{UNET}output_blocks.{b}.1.")]
    if not blocks:
        return 0.0
    name = f"{UNET}output_blocks.{blocks[-1]}.1.transformer_blocks.0.norm1.bias"
    if name not in checkpoint.shapes:
        return 0.0
    return float(checkpoint.read(name).float().std(unbiased=False))


def _head_count(channels: int, width: int, what: str) -> int:
    """Heads of a layer ``channels`` wide whose heads are ``width`` wide."""
    if channels % width:
        raise NodeError(f"{what} is {channels} wide, not a whole number of {width}-wide attention heads")
    return channels // width


def unet_config(checkpoint: Checkpoint, shipped: dict, pooled: int | None = None) -> dict:
    """The UNet2DConditionModel config: ``shipped`` with every size the tensors tell written over it.
    ``pooled``: SDXL's pooled text width, to split the added conditioning into it and six time ids."""
    levels: list[list[int]] = [[]]  # per level, the transformer depth of each resnet
    channels: list[int] = []
    for block in checkpoint.indices(UNET + "input_blocks.")[1:]:
        stem = f"{UNET}input_blocks.{block}."
        if stem + "0.op.weight" in checkpoint.shapes:  # a downsampler closes the level
            levels.append([])
            continue
        if not levels[-1]:
            channels.append(checkpoint.shape(stem + "0.out_layers.3.weight")[0])
        levels[-1].append(len(checkpoint.indices(stem + "1.transformer_blocks.")))
    if len({len(level) for level in levels}) != 1 or len(channels) != len(levels):
        raise NodeError(f"{checkpoint.path.name}: the UNet's input blocks do not form levels of equal size")
    depths = [level[0] for level in levels]
    attention = [
        checkpoint.shapes[k] for k in checkpoint.shapes if k.startswith(UNET) and k.endswith("attn2.to_k.weight")
    ]
    proj_in = [checkpoint.shapes[k] for k in checkpoint.shapes if k.startswith(UNET) and k.endswith(".proj_in.weight")]
    if not attention or not proj_in:
        raise NodeError(f"{checkpoint.path.name}: the UNet has no cross-attention layers")
    conv_in = checkpoint.shape(UNET + "input_blocks.0.0.weight")
    config = dict(shipped)
    heads = shipped["attention_head_dim"]  # diffusers' name for the number of heads
    if isinstance(heads, list):  # SD 2.x, SDXL: heads of a fixed width (64), as many as the channels hold
        width = shipped["block_out_channels"][-1] // heads[-1]
        heads = [
            _head_count(c, width, f"UNet level {i}") if depth else max(1, c // width)
            for i, (c, depth) in enumerate(zip(channels, depths, strict=True))
        ]
    config.update(
        in_channels=conv_in[1],
        out_channels=checkpoint.shape(UNET + "out.2.weight")[0],
        block_out_channels=channels,
        layers_per_block=len(levels[0]),
        down_block_types=["CrossAttnDownBlock2D" if d else "DownBlock2D" for d in depths],
        up_block_types=["CrossAttnUpBlock2D" if d else "UpBlock2D" for d in reversed(depths)],
        cross_attention_dim=attention[0][1],
        use_linear_projection=len(proj_in[0]) == 2,
        attention_head_dim=heads,
    )
    layers = [max(d, 1) for d in depths]
    config["transformer_layers_per_block"] = layers if len(set(layers)) > 1 else layers[0]
    if pooled is not None:
        added = checkpoint.shape(UNET + "label_emb.0.0.weight")[1]
        if (added - pooled) % 6 or added <= pooled:
            raise NodeError(f"{checkpoint.path.name}: added conditioning of {added} does not fit {pooled} + 6 time ids")
        config.update(projection_class_embeddings_input_dim=added, addition_time_embed_dim=(added - pooled) // 6)
    return config


def vae_config(checkpoint: Checkpoint, shipped: dict) -> dict:
    levels = checkpoint.indices(VAE + "encoder.down.")
    if not levels:
        raise NodeError(f"{checkpoint.path.name} holds no VAE ({VAE}* tensors); it is not a full checkpoint")
    config = dict(shipped)
    config.update(
        in_channels=checkpoint.shape(VAE + "encoder.conv_in.weight")[1],
        out_channels=checkpoint.shape(VAE + "decoder.conv_out.weight")[0],
        latent_channels=checkpoint.shape(VAE + "post_quant_conv.weight")[0],
        block_out_channels=[checkpoint.shape(f"{VAE}encoder.down.{i}.block.0.conv2.weight")[0] for i in levels],
        layers_per_block=len(checkpoint.indices(VAE + "encoder.down.0.block.")),
        down_block_types=["DownEncoderBlock2D"] * len(levels),
        up_block_types=["UpDecoderBlock2D"] * len(levels),
    )
    return config


def clip_config(checkpoint: Checkpoint, prefix: str, shipped: dict) -> dict:
    """An OpenAI CLIP text encoder stored with transformers' names under ``prefix``."""
    stem = prefix + "text_model."
    vocab, hidden = checkpoint.shape(stem + "embeddings.token_embedding.weight")
    return _text_config(
        shipped,
        hidden=hidden,
        vocab=vocab,
        positions=checkpoint.shape(stem + "embeddings.position_embedding.weight")[0],
        layers=len(checkpoint.indices(stem + "encoder.layers.")),
        intermediate=checkpoint.shape(stem + "encoder.layers.0.mlp.fc1.weight")[0],
    )


def open_clip_config(checkpoint: Checkpoint, prefix: str, shipped: dict, *, drop_last: bool) -> dict:
    """An OpenCLIP text encoder; ``drop_last``: SD 2.x, whose diffusers encoder stops one layer short
    (the model was trained on the penultimate layer)."""
    vocab, hidden = checkpoint.shape(prefix + "token_embedding.weight")
    layers = len(checkpoint.indices(prefix + "transformer.resblocks."))
    config = _text_config(
        shipped,
        hidden=hidden,
        vocab=vocab,
        positions=checkpoint.shape(prefix + "positional_embedding")[0],
        layers=layers - 1 if drop_last else layers,
        intermediate=checkpoint.shape(prefix + "transformer.resblocks.0.mlp.c_fc.weight")[0],
    )
    if not drop_last:
        config["projection_dim"] = checkpoint.shape(prefix + "text_projection")[1]
    return config


def _text_config(shipped: dict, *, hidden: int, vocab: int, positions: int, layers: int, intermediate: int) -> dict:
    width = shipped["hidden_size"] // shipped["num_attention_heads"]  # 64 in every CLIP text encoder here
    heads = _head_count(hidden, width, "the text encoder")
    return dict(
        shipped,
        hidden_size=hidden,
        vocab_size=vocab,
        max_position_embeddings=positions,
        num_hidden_layers=layers,
        intermediate_size=intermediate,
        num_attention_heads=heads,
    )


def clip_vocabulary(bpe_gz: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary and merges from its BPE file, as OpenAI's ``SimpleTokenizer`` builds them:
    the 256 byte symbols, the same with ``</w>``, one token per merge, then the two special tokens."""
    lines = gzip.decompress(bpe_gz.read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, merges  # type: ignore[return-value]


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's byte → printable character table (GPT-2's), so every byte has a symbol."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    codes = printable + [256 + n for n in range(len(extra))]
    return dict(zip(printable + extra, map(chr, codes), strict=True))


def clip_tokenizer(vocabulary: tuple[dict[str, int], list], max_length: int, pad_token: str | None) -> Any:
    """A CLIPTokenizer as the published repositories configure it: ``pad_token`` None pads with
    ``<|endoftext|>`` (OpenAI CLIP: SD 1.x, SDXL's first); ``"!"`` pads with id 0 (OpenCLIP: SD 2.x,
    SDXL's second)."""
    from transformers import CLIPTokenizer

    vocab, merges = vocabulary
    extra = {} if pad_token is None else {"pad_token": pad_token}
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=max_length, **extra)


def write_configs(checkpoint: Checkpoint, variant: Variant, shipped: Path, folder: Path) -> dict[str, int]:
    """The diffusers config folder for ``checkpoint`` in ``folder``; returns each text encoder's context length."""

    def read(name: str) -> dict:
        return json.loads((shipped / name).read_text(encoding="utf-8"))

    def write(name: str, data: dict) -> None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(data, indent=2), encoding="utf-8")

    write("model_index.json", read("model_index.json"))
    scheduler = read("scheduler/scheduler_config.json")
    if variant.prediction:
        scheduler["prediction_type"] = variant.prediction
    if variant.zero_snr:
        scheduler["rescale_betas_zero_snr"] = True
    write("scheduler/scheduler_config.json", scheduler)
    write("vae/config.json", vae_config(checkpoint, read("vae/config.json")))
    if variant.family == "sdxl":
        text = clip_config(checkpoint, XL_CLIP, read("text_encoder/config.json"))
        text_2 = open_clip_config(checkpoint, XL_CLIP_2, read("text_encoder_2/config.json"), drop_last=False)
        write("text_encoder_2/config.json", text_2)
        unet = unet_config(checkpoint, read("unet/config.json"), pooled=text_2["projection_dim"])
        lengths = {"tokenizer": text["max_position_embeddings"], "tokenizer_2": text_2["max_position_embeddings"]}
    else:
        if checkpoint.has(SD2_CLIP):
            text = open_clip_config(checkpoint, SD2_CLIP, read("text_encoder/config.json"), drop_last=True)
        else:
            text = clip_config(checkpoint, SD1_CLIP, read("text_encoder/config.json"))
        unet = unet_config(checkpoint, read("unet/config.json"))
        lengths = {"tokenizer": text["max_position_embeddings"]}
    write("text_encoder/config.json", text)
    write("unet/config.json", unet)
    return lengths


def load_checkpoint(
    cls: Any, path: Path, *, family: str, torch_dtype: Any, bundled: Callable[[str], Path | None]
) -> Any:
    """The pipeline of a full SD 1.x/2.x or SDXL checkpoint, from the shipped configs and vocabulary
    (``bundled``: the run context's lookup of the app's files). The caller has refused pickles
    that are not allowed."""
    from nodes.diffusion.loading import offline

    checkpoint = Checkpoint.open(path)
    variant = tell_variant(checkpoint)
    if variant.family != family:
        raise NodeError(f"{path.name} is an {variant.label} checkpoint; set family to {variant.family} or auto")
    shipped, bpe = bundled(f"{CONFIGS}/{variant.configs}"), bundled(VOCABULARY)
    if shipped is None or bpe is None:
        missing = f"{CONFIGS}/{variant.configs}" if shipped is None else VOCABULARY
        raise NodeError(f"the app's bundled {missing} is missing; reinstall the studio")
    in_channels = checkpoint.shape(UNET + "input_blocks.0.0.weight")[1]
    if in_channels != 4:
        what = "an inpainting checkpoint" if in_channels == 9 else "not a text-to-image checkpoint"
        raise NodeError(
            f"{path.name} is {what}: its UNet takes {in_channels} input channels, and only text-to-image "
            "checkpoints (4 latent channels) are supported"
        )
    vocabulary = clip_vocabulary(bpe)
    with tempfile.TemporaryDirectory(prefix="studio-config-") as folder:
        lengths = write_configs(checkpoint, variant, shipped, Path(folder))
        pads = {"tokenizer": "!" if checkpoint.has(SD2_CLIP) else None, "tokenizer_2": "!"}
        tokenizers = {name: clip_tokenizer(vocabulary, length, pads[name]) for name, length in lengths.items()}
        with offline():
            return cls.from_single_file(
                str(path), config=folder, dtype=torch_dtype, local_files_only=True, **tokenizers
            )
