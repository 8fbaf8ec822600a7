"""A tiny random LTX-Video model built from configs (after diffusers' own LTX tests), saved as a folder.

The VAE compresses 4× in space and time (the published one: 32× and 8×); its latent statistics are
random, so a test that forgets to normalise the latents fails. The scheduler is the published LTX
one (dynamic shifting from the sequence length), so ``calculate_shift`` is exercised.
"""

from __future__ import annotations

from pathlib import Path

from tiny_models import t5_tokenizer

LATENT_CHANNELS = 8


def ltx_components(*, text_dim: int = 32, dynamic_shifting: bool = True) -> dict:
    """The components of a tiny LTXPipeline (``dynamic_shifting`` False: the 0.9.5+ scheduler, which
    LTXConditionPipeline needs)."""
    import torch
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXVideoTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=text_dim,
    ).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=LATENT_CHANNELS,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    generator = torch.Generator().manual_seed(1)
    vae.latents_mean.copy_(torch.randn(LATENT_CHANNELS, generator=generator) * 0.5)
    vae.latents_std.copy_(torch.rand(LATENT_CHANNELS, generator=generator) + 0.5)
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=64,
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
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=1024,
        base_shift=0.95,
        max_image_seq_len=4096,
        max_shift=2.05,
        shift=1.0,
        shift_terminal=0.1,
        use_dynamic_shifting=dynamic_shifting,
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": scheduler,
        "text_encoder": text_encoder,
        "tokenizer": t5_tokenizer(),
    }


def build_ltx(folder: Path, **kwargs) -> Path:
    """Save a tiny LTXPipeline to ``folder`` and return it."""
    from diffusers import LTXPipeline

    LTXPipeline(**ltx_components(**kwargs)).save_pretrained(folder, safe_serialization=True)
    return folder
