"""Tiny random diffusion models built from configs, for tests and benchmarks (nothing is fetched).

Each builder seeds torch before constructing each component, puts it in eval mode, and saves
a complete diffusers folder with ``save_pretrained``. Tokenizers come from vocabularies
written here: a byte-level CLIP BPE vocabulary, and a word-level T5-style vocabulary.
"""

from __future__ import annotations

from pathlib import Path

WORDS = "a an the cat dog red blue green sky tree house car runs sits on in under over big small fast slow".split()


def _bytes_to_unicode() -> dict[int, str]:
    # The byte→character table CLIP and GPT-2 use, so every byte has a printable symbol.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def clip_tokenizer(max_length: int = 16):
    """A CLIPTokenizer over single bytes plus a few whole words (vocabulary < 1000)."""
    from transformers import CLIPTokenizer

    symbols = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for s in symbols + [s + "</w>" for s in symbols]:
        vocab.setdefault(s, len(vocab))
    merges = []
    for word in WORDS:
        # Merge left to right so each listed word becomes one token.
        current = word[0]
        for i, ch in enumerate(word[1:], start=1):
            tail = ch + "</w>" if i == len(word) - 1 else ch
            merges.append(f"{current} {tail}")
            current = current + tail
            vocab.setdefault(current, len(vocab))
    vocab.setdefault("<|startoftext|>", len(vocab))
    vocab.setdefault("<|endoftext|>", len(vocab))
    pairs = [tuple(m.split(" ")) for m in dict.fromkeys(merges)]
    return CLIPTokenizer(vocab=vocab, merges=pairs, model_max_length=max_length)


def clip_special_ids(tokenizer) -> dict[str, int]:
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def t5_tokenizer(max_length: int = 512):
    """A fast word-level tokenizer with T5's special tokens (<pad>=0, </s>=1, <unk>=2)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=max_length
    )


def _clip_text_encoder(tokenizer, hidden: int = 32, max_length: int = 16, projection: bool = False, seed: int = 0):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        **clip_special_ids(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=1000,
        max_position_embeddings=max_length,
        projection_dim=hidden,
    )
    torch.manual_seed(seed)
    model = CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)
    return model.eval()


def sd_components(*, channels: tuple[int, int] = (4, 8), sample_size: int = 16, cross_dim: int = 32):
    """The components of a tiny Stable Diffusion 1.x model."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

    groups = 2 if channels[0] < 32 else 32
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=channels,
        layers_per_block=1,
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_dim,
        norm_num_groups=groups,
    ).eval()
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=list(channels),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=groups,
        sample_size=sample_size * 2,
    ).eval()
    tokenizer = clip_tokenizer()
    return {
        "unet": unet,
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": _clip_text_encoder(tokenizer, cross_dim),
        "tokenizer": tokenizer,
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }


def build_sd(folder: Path, **kwargs) -> Path:
    """Save a tiny StableDiffusionPipeline to ``folder`` and return it."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(**sd_components(**kwargs), requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def wan_components(*, text_dim: int = 32):
    """The components of a tiny Wan 2.1 text-to-video model (configs after diffusers' own tests)."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    ).eval()
    torch.manual_seed(0)
    tokenizer = t5_tokenizer()
    text_encoder = UMT5EncoderModel(
        UMT5Config(
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
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=text_dim,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
    }


def build_wan(folder: Path) -> Path:
    """Save a tiny WanPipeline to ``folder`` and return it."""
    from diffusers import WanPipeline

    WanPipeline(**wan_components()).save_pretrained(folder, safe_serialization=True)
    return folder


def build_animatediff(folder: Path) -> Path:
    """Save a tiny AnimateDiffPipeline (the tiny SD 1.x UNet plus a tiny MotionAdapter) to ``folder``."""
    import torch
    from diffusers import AnimateDiffPipeline, MotionAdapter

    parts = sd_components()
    torch.manual_seed(0)
    adapter = MotionAdapter(
        block_out_channels=(4, 8),
        motion_layers_per_block=1,
        motion_norm_num_groups=2,
        motion_num_attention_heads=2,
        motion_max_seq_length=16,
    ).eval()
    keep = ("unet", "scheduler", "vae", "text_encoder", "tokenizer", "feature_extractor", "image_encoder")
    pipe = AnimateDiffPipeline(**{k: parts[k] for k in keep}, motion_adapter=adapter)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def sdxl_components(*, channels: tuple[int, int] = (4, 8), sample_size: int = 16, hidden: int = 16):
    """The components of a tiny Stable Diffusion XL base model (two CLIP encoders, pooled + time ids)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

    time_dim = 8
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=channels,
        layers_per_block=1,
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * time_dim + hidden,
        cross_attention_dim=2 * hidden,
        norm_num_groups=2,
    ).eval()
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=list(channels),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
        sample_size=sample_size * 2,
        scaling_factor=0.13025,
    ).eval()
    tokenizer = clip_tokenizer()
    tokenizer_2 = clip_tokenizer()
    return {
        "unet": unet,
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": _clip_text_encoder(tokenizer, hidden, seed=0),
        "text_encoder_2": _clip_text_encoder(tokenizer_2, hidden, projection=True, seed=1),
        "tokenizer": tokenizer,
        "tokenizer_2": tokenizer_2,
        "image_encoder": None,
        "feature_extractor": None,
    }


def build_sdxl(folder: Path, **kwargs) -> Path:
    """Save a tiny StableDiffusionXLPipeline to ``folder`` and return it."""
    from diffusers import StableDiffusionXLPipeline

    StableDiffusionXLPipeline(**sdxl_components(**kwargs)).save_pretrained(folder, safe_serialization=True)
    return folder


WAN_IMAGE_SIZE = 16  # the tiny CLIP's input size; patch 4 → 16 patches + the class token
WAN_IMAGE_TOKENS = (WAN_IMAGE_SIZE // 4) ** 2 + 1


def wan_i2v_components(*, last_frame: bool = False):
    """A tiny Wan 2.1 image-to-video model: transformer in_channels 36 (16 latent + 4 mask + 16 encoded
    frames), a tiny CLIP vision encoder and its image processor. ``last_frame``: the first/last-frame
    variant (FLF2V: an image position embedding over both images' tokens)."""
    import torch
    from diffusers import WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    parts = wan_components()
    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=WAN_IMAGE_SIZE,
            intermediate_size=16,
            patch_size=4,
        )
    ).eval()
    image_processor = CLIPImageProcessor(crop_size=WAN_IMAGE_SIZE, size=WAN_IMAGE_SIZE)
    torch.manual_seed(0)
    parts["transformer"] = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        image_dim=4,
        rope_max_seq_len=32,
        pos_embed_seq_len=2 * WAN_IMAGE_TOKENS if last_frame else None,
    ).eval()
    return {**parts, "image_encoder": image_encoder, "image_processor": image_processor}


def build_wan_i2v(folder: Path, *, last_frame: bool = False) -> Path:
    """Save a tiny WanImageToVideoPipeline to ``folder`` and return it."""
    from diffusers import WanImageToVideoPipeline

    pipe = WanImageToVideoPipeline(**wan_i2v_components(last_frame=last_frame))
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
