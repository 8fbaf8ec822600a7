"""UMT5 text encoders from the files ComfyUI users have, and the tokenizer that goes with them.

ComfyUI's ``text_encoders/umt5_xxl_*.safetensors`` hold the encoder in Hugging Face T5 names
(``shared.weight``, ``encoder.block.N.layer...``) and, in ComfyUI's own export, the sentencepiece
model as a uint8 tensor named ``spiece_model`` (read by ComfyUI's Wan text encoder). The encoder's
configuration is read from the tensor shapes; the tokenizer is that sentencepiece model, or else
google/umt5-xxl's tokenizer from a diffusers folder or the Hugging Face cache. Nothing is fetched.
fp8 files (``umt5_xxl_fp8_e4m3fn_scaled.safetensors``) keep their Linear weights in fp8
(nodes.diffusion.quantized).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodes.diffusion import quantized
from studio.nodeapi import NodeError

SPIECE_KEY = "spiece_model"
TIED_EMBEDDING = "encoder.embed_tokens.weight"  # UMT5EncoderModel ties it to shared.weight
UMT5_REPO = "google/umt5-xxl"
# Cached repositories whose tokenizer is google/umt5-xxl's (first: the tokenizer's own repository).
CACHED_TOKENIZERS = (
    (UMT5_REPO, ""),
    ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "tokenizer/"),
    ("Wan-AI/Wan2.1-T2V-14B-Diffusers", "tokenizer/"),
    ("Wan-AI/Wan2.2-TI2V-5B-Diffusers", "tokenizer/"),
    ("Wan-AI/Wan2.2-T2V-A14B-Diffusers", "tokenizer/"),
)
TOKENIZER_HELP = (
    f"Wan needs {UMT5_REPO}'s tokenizer: use ComfyUI's umt5_xxl_fp16.safetensors (it carries its tokenizer), "
    "set text_encoder to the text_encoder/ folder of a diffusers Wan model (with tokenizer/ beside it), or put "
    f"the tokenizer in the Hugging Face cache: huggingface-cli download {UMT5_REPO} spiece.model tokenizer.json "
    "tokenizer_config.json special_tokens_map.json"
)


def encoder_state(state: Mapping[str, Any], name: str) -> tuple[dict[str, Any], bytes | None]:
    """The encoder's tensors (decoder, LM head and ``spiece_model`` dropped, the embedding under
    ``shared.weight``, a scaled-fp8 file's scales kept) and the sentencepiece model the file carries, if any."""
    spiece = state.get(SPIECE_KEY)
    weights = {k: v for k, v in state.items() if k.startswith(("encoder.", "shared."))}
    if "shared.weight" not in weights and "encoder.embed_tokens.weight" in weights:
        weights["shared.weight"] = weights["encoder.embed_tokens.weight"]
    weights.pop(TIED_EMBEDDING, None)
    if "shared.weight" not in weights or "encoder.block.0.layer.0.SelfAttention.q.weight" not in weights:
        raise NodeError(
            f"{name} is not a UMT5 text encoder in Hugging Face T5 names (no shared.weight and "
            "encoder.block.0.layer.0.SelfAttention.q.weight); use ComfyUI's text_encoders/umt5_xxl_*.safetensors"
        )
    return weights, None if spiece is None else spiece.numpy().tobytes()


def umt5_config(state: Mapping[str, Any], name: str) -> Any:
    """The UMT5Config the tensor shapes describe; the rest as google/umt5-xxl's config has it."""
    from transformers import UMT5Config

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise NodeError(f"{name}: the UMT5 tensor {key} is missing; the file is incomplete or not a UMT5 encoder")
        return tuple(state[key].shape)

    vocab_size, d_model = shape("shared.weight")
    attention = "encoder.block.0.layer.0.SelfAttention."
    buckets, heads = shape(attention + "relative_attention_bias.weight")
    inner = shape(attention + "q.weight")[0]
    layers = 0
    while f"encoder.block.{layers}.layer.0.SelfAttention.q.weight" in state:
        layers += 1
    return UMT5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=inner // heads,
        d_ff=shape("encoder.block.0.layer.1.DenseReluDense.wi_0.weight")[0],
        num_layers=layers,
        num_heads=heads,
        relative_attention_num_buckets=buckets,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )


def load_umt5(state: dict[str, Any], torch_dtype: Any, name: str) -> Any:
    """A UMT5EncoderModel from encoder tensors (``encoder_state``), through transformers' own loader
    (so fp16 keeps the feed-forward output layers in fp32, as from_pretrained does); fp8 tensors
    through ``load_fp8_umt5``."""
    from transformers import UMT5EncoderModel

    scales = quantized.split_scales(state, name)
    config = umt5_config(state, name)
    if scales or quantized.has_fp8(state):
        return load_fp8_umt5(state, scales, config, torch_dtype, name)
    model, info = UMT5EncoderModel.from_pretrained(
        None, config=config, state_dict=state, dtype=torch_dtype, output_loading_info=True
    )
    problems = sorted(info["missing_keys"]) + sorted(info["mismatched_keys"]) + sorted(info["unexpected_keys"])
    if problems:
        shown = ", ".join(str(p) for p in problems[:3])
        raise NodeError(f"{name}: its tensors do not match a UMT5 encoder of the shape it declares ({shown})")
    return model.eval()


def load_fp8_umt5(state: dict[str, Any], scales: dict[str, Any], config: Any, torch_dtype: Any, name: str) -> Any:
    """A UMT5EncoderModel whose fp8 Linear weights stay fp8, the rest in ``torch_dtype`` with the modules
    transformers keeps in float32 there (its ``_get_dtype_plan`` rule: ``_keep_in_fp32_modules`` for
    float16, ``_keep_in_fp32_modules_strict`` for float16 and bfloat16)."""
    import torch
    from accelerate import init_empty_weights
    from transformers import UMT5EncoderModel

    with init_empty_weights():
        model = UMT5EncoderModel(config)
    expected = set(model.state_dict()) - {TIED_EMBEDDING}
    problems = sorted(expected - set(state)) + sorted(set(state) - expected)
    if problems:
        shown = ", ".join(problems[:3])
        raise NodeError(f"{name}: its tensors do not match a UMT5 encoder of the shape it declares ({shown})")
    keep = set(model._keep_in_fp32_modules or ())
    strict = set(model._keep_in_fp32_modules_strict or ())
    float32 = (keep if torch_dtype == torch.float16 else set()) | (
        strict if torch_dtype in (torch.float16, torch.bfloat16) else set()
    )
    # UMT5's feed-forward casts its input to wo's weight dtype: wo never stays fp8.
    quantized.load_fp8(model, state, scales, torch_dtype, float32=float32, dequantized=keep | strict)
    model.encoder.embed_tokens.weight = model.shared.weight
    return model.eval()


def spiece_tokenizer(model: bytes, name: str) -> Any:
    """A transformers tokenizer over a T5 sentencepiece model (<pad>=0, </s>=1, <unk>=2): tokenizes
    exactly as sentencepiece does, with </s> appended, as google/umt5-xxl's tokenizer does.

    Its sentinel tokens (<extra_id_N>) are not added: a prompt naming one is read as text, as in ComfyUI.
    """
    from transformers import SentencePieceBackend

    with tempfile.TemporaryDirectory(prefix="studio-spiece-") as folder:
        file = Path(folder) / "spiece.model"
        file.write_bytes(model)
        try:
            tokenizer = SentencePieceBackend(
                vocab_file=str(file),
                eos_token="</s>",
                unk_token="<unk>",
                pad_token="<pad>",
                special_tokens_pattern="eos",
                model_max_length=512,
            )
        except (RuntimeError, OSError) as exc:
            raise NodeError(f"{name}: its {SPIECE_KEY} tensor is not a sentencepiece model ({exc})") from None
    special = [tokenizer.convert_ids_to_tokens(i) for i in range(3)]
    if special != ["<pad>", "</s>", "<unk>"]:
        raise NodeError(f"{name}: its sentencepiece model is not a T5 one (ids 0-2 are {special})")
    return tokenizer


def folder_tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def cached_tokenizer() -> Any | None:
    """google/umt5-xxl's tokenizer from the Hugging Face cache (offline), or None."""
    from huggingface_hub import try_to_load_from_cache

    for repo, sub in CACHED_TOKENIZERS:
        for file in ("tokenizer.json", "spiece.model"):
            found = try_to_load_from_cache(repo, sub + file)
            if isinstance(found, str):
                if file == "spiece.model":
                    return spiece_tokenizer(Path(found).read_bytes(), f"{repo} in the Hugging Face cache")
                return folder_tokenizer(Path(found).parent)
    return None
