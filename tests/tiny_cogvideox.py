"""Tiny CogVideoX pipelines (text- and image-to-video) built from configs with fixed seeds.

Configs after diffusers' own CogVideoX tests; the tokenizer is the tests' tiny T5 tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from tiny_models import t5_tokenizer

TEXT_LENGTH = 16  # the transformer's max_text_seq_length; the adapter encodes prompts to it


def cogvideox_components(*, image_to_video: bool = False, scheduler: str = "DDIM", version: str = "1.0") -> dict:
    """The components of a tiny CogVideoX model: 4 latent channels (8 into an image-to-video transformer).

    ``version="1.5"`` patchifies pairs of latent frames (the pipelines pad the latent frames to an even
    count), and its image-to-video transformer takes the ofs embedding and its VAE inverts the scaling.
    """
    v15 = version == "1.5"
    import diffusers
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,  # rotary embeddings split it 4/6/6 over frames, height, width
        in_channels=8 if image_to_video else 4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=4,
        sample_height=4,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=TEXT_LENGTH,
        use_rotary_positional_embeddings=True,
        patch_size_t=2 if v15 else None,
        patch_bias=not v15,
        ofs_embed_dim=2 if v15 and image_to_video else None,  # as wide as the time embedding it is added to
    ).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
        invert_scale_latents=v15 and image_to_video,
    ).eval()
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=64,
            d_model=32,
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
    # CogVideoX-2b ships CogVideoXDDIMScheduler, the 5B models CogVideoXDPMScheduler.
    scheduler_class = getattr(diffusers, f"CogVideoX{scheduler}Scheduler")
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": scheduler_class(
            beta_schedule="scaled_linear",
            beta_start=0.00085,
            beta_end=0.012,
            clip_sample=False,
            prediction_type="v_prediction",
            rescale_betas_zero_snr=True,
            set_alpha_to_one=True,
            snr_shift_scale=3.0,
            timestep_spacing="trailing",
        ),
        "text_encoder": text_encoder,
        "tokenizer": t5_tokenizer(),
    }


def build_cogvideox(
    folder: Path, *, image_to_video: bool = False, scheduler: str = "DDIM", version: str = "1.0"
) -> Path:
    """Save a tiny CogVideoXPipeline (or CogVideoXImageToVideoPipeline) to ``folder`` and return it."""
    from diffusers import CogVideoXImageToVideoPipeline, CogVideoXPipeline

    pipeline = CogVideoXImageToVideoPipeline if image_to_video else CogVideoXPipeline
    components = cogvideox_components(image_to_video=image_to_video, scheduler=scheduler, version=version)
    pipeline(**components).save_pretrained(folder, safe_serialization=True)
    return folder
