"""The starter model's components: real Wan classes at a tiny size, plus a word-level tokenizer.

WanPipeline loads the saved folder like any Wan checkpoint: AutoencoderKLWan (Wan 2.2-style
residual VAE, 16 latent channels, 8× spatial and 4× temporal compression: 64×64×9 pixels ↔
8×8×3 latents), WanTransformer3DModel (patch 1×2×2, so 48 tokens per clip), UMT5EncoderModel,
a UniPC flow-matching scheduler, and a ``tokenizers`` WordLevel tokenizer with an unknown-word
token, so any free text is accepted. Nothing here downloads anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"  # T5's special tokens, ids 0, 1, 2

# Wan 2.2-style VAE (residual blocks with parameter-free average-pool / duplicate shortcuts, 2×2
# patchify) at a tiny width: the shortcuts start it near a pooling autoencoder, so it learns fast,
# and the patchify halves every convolution's resolution. 2×2 patch × 2 downsamples = 8× spatial.
VAE_CONFIG: dict[str, Any] = {
    "base_dim": 16,
    "decoder_base_dim": 16,
    "z_dim": 16,
    "dim_mult": [1, 2, 2],
    "num_res_blocks": 1,
    "attn_scales": [],
    "temperal_downsample": [True, True],
    "dropout": 0.0,
    "is_residual": True,
    "patch_size": 2,
    "in_channels": 12,
    "out_channels": 12,
    "scale_factor_spatial": 8,
    "scale_factor_temporal": 4,
}
TEXT_CONFIG: dict[str, Any] = {
    "d_model": 64,
    "d_kv": 16,
    "d_ff": 128,
    "num_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 16,
    "relative_attention_max_distance": 32,
    "dropout_rate": 0.0,
    "feed_forward_proj": "gated-gelu",
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}
TRANSFORMER_CONFIG: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 4,
    "attention_head_dim": 32,
    "in_channels": VAE_CONFIG["z_dim"],
    "out_channels": VAE_CONFIG["z_dim"],
    "text_dim": TEXT_CONFIG["d_model"],
    "freq_dim": 64,
    "ffn_dim": 384,
    "num_layers": 6,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 64,
}
SCHEDULER_CONFIG: dict[str, Any] = {
    "prediction_type": "flow_prediction",
    "use_flow_sigmas": True,
    "num_train_timesteps": 1000,
    "flow_shift": 2.0,
}
MAX_SEQUENCE_LENGTH = 512  # WanPipeline's default: embeddings are zero-padded to this length


def build_tokenizer(words: list[str]) -> Any:
    """A lower-casing WordLevel tokenizer over ``words``; unknown words become ``<unk>``."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {PAD: 0, EOS: 1, UNK: 2}
    for word in words:
        vocab.setdefault(word.lower(), len(vocab))
    tokenizer = Tokenizer(WordLevel(vocab, unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, 1)])
    return tokenizer


def save_tokenizer(tokenizer: Any, folder: Path) -> None:
    """tokenizer.json + tokenizer_config.json, loadable offline with ``AutoTokenizer``."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQUENCE_LENGTH,
        "pad_token": PAD,
        "eos_token": EOS,
        "unk_token": UNK,
        "padding_side": "right",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def build_models(vocab_size: int, seed: int) -> dict[str, Any]:
    """Freshly initialised VAE, text encoder and transformer (seeded)."""
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    z = VAE_CONFIG["z_dim"]
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(**VAE_CONFIG, latents_mean=[0.0] * z, latents_std=[1.0] * z)
    torch.manual_seed(seed + 1)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=vocab_size, **TEXT_CONFIG))
    torch.manual_seed(seed + 2)
    transformer = WanTransformer3DModel(**TRANSFORMER_CONFIG)
    return {"vae": vae, "text_encoder": text_encoder, "transformer": transformer}


def build_scheduler() -> Any:
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(**SCHEDULER_CONFIG)


def encode_text(tokenizer: Any, text_encoder: Any, prompts: list[str]) -> Any:
    """Prompt embeddings exactly as ``WanPipeline.encode_prompt`` makes them.

    The encoder runs on the prompts' own length (the attention mask makes padding irrelevant
    to real tokens) and the result is zero-padded to ``MAX_SEQUENCE_LENGTH`` as the pipeline does.
    """
    import torch

    batch = tokenizer(prompts, padding="longest", return_tensors="pt", add_special_tokens=True)
    ids, mask = batch.input_ids, batch.attention_mask
    hidden = text_encoder(ids, mask).last_hidden_state
    hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)  # zero past each prompt's end
    pad = torch.zeros(hidden.shape[0], MAX_SEQUENCE_LENGTH - hidden.shape[1], hidden.shape[2], dtype=hidden.dtype)
    return torch.cat([hidden, pad], dim=1)


def save_pipeline(folder: Path, tokenizer: Any, vae: Any, text_encoder: Any, transformer: Any) -> None:
    """Write an ordinary diffusers folder (safetensors) that ``WanPipeline.from_pretrained`` loads."""
    from diffusers import WanPipeline
    from transformers import PreTrainedTokenizerFast

    tokenizer_dir = folder / "tokenizer"
    save_tokenizer(tokenizer, tokenizer_dir)
    fast = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    pipe = WanPipeline(
        tokenizer=fast,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=build_scheduler(),
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    save_tokenizer(tokenizer, tokenizer_dir)  # keep our minimal, explicit tokenizer files
