"""Wan 2.1 image-to-video from the files ComfyUI users have: a bare I2V (or FLF2V) transformer, a UMT5
file, the Wan VAE file and ``clip_vision_h.safetensors``, loaded by LoadModel, render what diffusers'
WanImageToVideoPipeline renders from the same weights; wrong files are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, make_context, run_node
from wan_layouts import (
    clip_vision,
    clip_vision_config,
    dequantized,
    linear_weights,
    open_clip_vision,
    original_transformer,
    save,
    to_fp8,
    train_spiece,
    wan21_i2v_transformer,
    wan_components,
    write_comfy_tree,
)

from studio.engine.context import NodeError, RunSettings
from studio.media.types import Image

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4  # as tests/test_wan_i2v.py
IMAGE_TOKENS = (16 // 4) ** 2 + 1  # the tiny CLIP: 16-pixel input, 4-pixel patches, + the class token
PROMPT, NEGATIVE = "a red cat runs", "a blue sky"


@pytest.fixture(scope="module")
def spiece():
    return train_spiece()


@pytest.fixture(scope="module")
def parts(spiece):
    return wan_components(spiece)


@pytest.fixture(scope="module")
def clip():
    return clip_vision(clip_vision_config())


@pytest.fixture(scope="module")
def files(parts, spiece, clip, tmp_path_factory):
    """ComfyUI's models/ folders: I2V and FLF2V transformers, UMT5, the Wan VAE and clip_vision_h."""
    models = tmp_path_factory.mktemp("comfyui") / "models"
    tree = write_comfy_tree(parts, spiece, models)
    image_dim = clip.config.hidden_size
    i2v = wan21_i2v_transformer(parts, image_dim)
    flf2v = wan21_i2v_transformer(parts, image_dim, last_frame=True, image_tokens=IMAGE_TOKENS)
    diffusion = models / "diffusion_models"
    return {
        **tree,
        "i2v_model": i2v,
        "flf2v_model": flf2v,
        "i2v": save(original_transformer(i2v.state_dict()), diffusion / "wan2.1_i2v_480p_14B_fp16.safetensors"),
        "flf2v": save(
            original_transformer(flf2v.state_dict()),
            diffusion / "wan2.1_flf2v_720p_14B_fp16.safetensors",
            "model.diffusion_model.",  # ComfyUI's own prefix, as its saved models carry
        ),
        "clip": save(clip.state_dict(), models / "clip_vision" / "clip_vision_h.safetensors"),
    }


@pytest.fixture
def ftfy_free(monkeypatch):
    # diffusers 0.42's image-to-video module calls ftfy even when it is not installed (tests/test_wan_i2v.py).
    from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_i2v

    monkeypatch.setattr(pipeline_wan_i2v, "basic_clean", pipeline_wan.basic_clean)


def picture(seed: int) -> np.ndarray:
    import cv2

    small = np.random.default_rng(seed).integers(0, 256, (4, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (32, 16), interpolation=cv2.INTER_CUBIC)


def reference_pipeline(parts: dict, transformer, clip):
    """diffusers' WanImageToVideoPipeline from the same weights, its image encoder a CLIPVisionModel
    (as Wan-AI's diffusers folders hold) and CLIP's processor at the tiny model's size."""
    from diffusers import WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionModel

    encoder = CLIPVisionModel(clip.config).eval()
    encoder.load_state_dict(clip.vision_model.state_dict())
    size = clip.config.image_size
    return WanImageToVideoPipeline(
        **{name: parts[name] for name in ("tokenizer", "text_encoder", "vae", "scheduler")},
        image_encoder=encoder,
        image_processor=CLIPImageProcessor(crop_size=size, size=size),
        transformer=transformer,
    )


def i2v_folder(pipe, tmp_path):
    folder = tmp_path / "tiny-wan-i2v"
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def pipeline_frames(pipe, first: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
    import torch
    from PIL import Image as PILImage

    pipe.set_progress_bar_config(disable=True)
    return pipe(
        image=PILImage.fromarray(first),
        last_image=None if last is None else PILImage.fromarray(last),
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]


def load(registry, path, *, allow_pickle: bool = False, **given):
    values = {"path": str(path), "family": "auto", "dtype": "auto", "offload": "none", "config": ""}
    values |= {"text_encoder": "", "vae": "", "image_encoder": ""}
    values |= {name: str(value) for name, value in given.items()}
    ctx = make_context("LoadModel", settings=RunSettings(allow_pickle=allow_pickle))
    return registry["LoadModel"].compute(ctx, **values)["model"]


def graph_frames(registry, model, first: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text=NEGATIVE)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=9)["latent"]
    images = {"first_frame": Image(first)} | ({} if last is None else {"last_frame": Image(last)})
    values = dict(positive=positive, negative=negative, latent=latent, steps=2, cfg=6.0, seed=42)
    return decode_latent(model, run_node(registry, "Sampler", model=model, **values, **images)["latent"])


def test_clip_vision_config_is_read_from_either_layout(clip, files):
    from safetensors.torch import load_file

    from nodes.diffusion.families.wan_clip import vision_config, vision_state

    comfy = vision_state(load_file(str(files["clip"])), "clip_vision_h.safetensors")
    assert set(comfy) == {"vision_model." + key for key in clip.vision_model.state_dict()}
    open_clip = vision_state(open_clip_vision(clip.state_dict()), "open_clip.safetensors")
    top_level = vision_state(clip.vision_model.state_dict(), "model.safetensors")  # transformers 5's own files
    for other in (open_clip, top_level):
        assert set(other) == set(comfy)
        assert all(np.array_equal(other[k].numpy(), comfy[k].numpy()) for k in comfy)
    config = vision_config(comfy, "clip_vision_h.safetensors")
    wanted = {"hidden_size": 32, "num_hidden_layers": 2, "intermediate_size": 37, "image_size": 16, "patch_size": 4}
    assert {key: config[key] for key in wanted} == wanted


def test_i2v_files_render_like_wan_i2v_pipeline(registry, parts, clip, files, ftfy_free, tmp_path):
    first = picture(1)
    pipe = reference_pipeline(parts, files["i2v_model"], clip)
    expected = pipeline_frames(pipe, first)
    common = {"text_encoder": files["text_encoder"], "vae": files["vae"]}
    model = load(registry, files["i2v"], image_encoder=files["clip"], **common)
    assert type(model.pipeline).__name__ == "WanImageToVideoPipeline" and model.family == "wan"
    assert type(model.pipeline.image_encoder).__name__ == "CLIPVisionModel"
    ours = graph_frames(registry, model, first)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    print(f"Wan 2.1 I2V files: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE

    # The image encoder from OpenCLIP's layout, from a diffusers folder, or from its image_encoder folder.
    folder = i2v_folder(pipe, tmp_path)
    open_clip = save(open_clip_vision(clip.state_dict()), tmp_path / "open_clip_vit_h.safetensors")
    for encoder in (open_clip, folder, folder / "image_encoder"):
        model = load(registry, files["i2v"], image_encoder=encoder, **common)
        assert np.abs(graph_frames(registry, model, first) - expected).max() <= TOLERANCE, encoder
    with pytest.raises(NodeError, match=r"image_encoder: .*vae is not a CLIP vision model folder"):
        load(registry, files["i2v"], image_encoder=folder / "vae", **common)


def test_flf2v_file_renders_first_and_last_frame(registry, parts, clip, files, ftfy_free):
    first, last = picture(2), picture(3)
    expected = pipeline_frames(reference_pipeline(parts, files["flf2v_model"], clip), first, last)
    model = load(
        registry, files["flf2v"], text_encoder=files["text_encoder"], vae=files["vae"], image_encoder=files["clip"]
    )
    assert model.pipeline.transformer.config.pos_embed_seq_len == 2 * IMAGE_TOKENS
    ours = graph_frames(registry, model, first, last)
    print(f"Wan 2.1 FLF2V files: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE
    with pytest.raises(NodeError, match="last_frame: .* needs last_frame too"):
        graph_frames(registry, model, first)


def test_fp8_i2v_file_renders_like_its_dequantized_weights(registry, parts, clip, files, ftfy_free, tmp_path):
    """ComfyUI's ``wan2.1_i2v_480p_14B_fp8_e4m3fn``: every weight of 2+ dimensions (the image
    projection and ``k_img``/``v_img`` too) stored in fp8, computed in float32 here."""
    from diffusers import WanTransformer3DModel

    transformer = files["i2v_model"]
    q_state = to_fp8(transformer.state_dict(), linear_weights(transformer), scaled=False)
    fp8_file = save(original_transformer(q_state), tmp_path / "wan2.1_i2v_480p_14B_fp8_e4m3fn.safetensors")
    reference = WanTransformer3DModel.from_config(transformer.config).eval()
    reference.load_state_dict(dequantized(q_state))
    first = picture(4)
    expected = pipeline_frames(reference_pipeline(parts, reference, clip), first)
    model = load(registry, fp8_file, text_encoder=files["text_encoder"], vae=files["vae"], image_encoder=files["clip"])
    assert str(model.pipeline.transformer.blocks[0].attn2.add_k_proj.weight.dtype) == "torch.float8_e4m3fn"
    ours = graph_frames(registry, model, first)
    print(f"Wan 2.1 I2V fp8 file: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_wrong_files_are_refused_by_name(registry, files, tmp_path):
    import torch

    common = {"text_encoder": files["text_encoder"], "vae": files["vae"]}
    name = files["i2v"].name
    with pytest.raises(NodeError) as error:
        load(registry, files["i2v"], **common)
    assert str(error.value).endswith(
        f"{name} is a bare Wan 2.1 image-to-video transformer: set image_encoder to its CLIP vision file "
        "(ComfyUI: clip_vision/clip_vision_h.safetensors)"
    )
    with pytest.raises(NodeError, match=r"image_encoder: wan_2\.1_vae\.safetensors is not a CLIP vision model"):
        load(registry, files["i2v"], image_encoder=files["vae"], **common)
    other = save(clip_vision(clip_vision_config(hidden=48)).state_dict(), tmp_path / "clip_vision_g.safetensors")
    wide = rf"image_encoder: clip_vision_g\.safetensors is a CLIP vision model 48 wide, but {name} takes 32-wide"
    with pytest.raises(NodeError, match=wide + r" image features; use ComfyUI's clip_vision/clip_vision_h"):
        load(registry, files["i2v"], image_encoder=other, **common)
    with pytest.raises(NodeError, match=r"image_encoder: .*takes no image encoder"):
        load(registry, files["path"], image_encoder=files["clip"], **common)
    # Damaged files: a patch embedding of the wrong rank, then (that mended) one layer's MLP of another width.
    damaged = dict(clip_vision(clip_vision_config()).state_dict())
    damaged["vision_model.embeddings.patch_embedding.weight"] = torch.zeros(32, 3, 4)
    damaged["vision_model.encoder.layers.1.mlp.fc1.weight"] = torch.zeros(5, 32)
    for match in (r"patch_embedding\.weight is shaped \[32, 3, 4\]", "size mismatch"):
        bad = save(damaged, tmp_path / "clip_vision_damaged.safetensors")
        with pytest.raises(NodeError, match=r"image_encoder: clip_vision_damaged\.safetensors.*" + match):
            load(registry, files["i2v"], image_encoder=bad, **common)
        damaged["vision_model.embeddings.patch_embedding.weight"] = torch.zeros(32, 3, 4, 4)
    pickled = tmp_path / "clip_vision_h.bin"
    torch.save(dict(clip_vision(clip_vision_config()).state_dict()), pickled)
    with pytest.raises(NodeError, match=r"image_encoder: clip_vision_h\.bin is a pickle file"):
        load(registry, files["i2v"], image_encoder=pickled, **common)
    assert load(registry, files["i2v"], allow_pickle=True, image_encoder=pickled, **common).pipeline.image_encoder


def test_memory_estimate_counts_the_image_encoder(parts, clip, files, tmp_path):
    from nodes.diffusion.footprint import file_footprint
    from nodes.diffusion.values import ModelParts

    clip_bytes = 4 * sum(t.numel() for t in clip.state_dict().values())
    given = {"text_encoder": files["text_encoder"], "vae": files["vae"]}
    footprint = file_footprint(files["i2v"], ModelParts(**given, image_encoder=files["clip"]), 4, None)
    assert footprint.weights["image_encoder"] == clip_bytes
    assert set(footprint.weights) == {"denoiser", "text_encoder", "vae", "image_encoder"}
    # From a diffusers folder, only its image encoder counts (no projection: a CLIPVisionModel).
    folder = i2v_folder(reference_pipeline(parts, files["i2v_model"], clip), tmp_path)
    footprint = file_footprint(files["i2v"], ModelParts(**given, image_encoder=folder), 4, None)
    assert footprint.weights["image_encoder"] == clip_bytes - 4 * clip.visual_projection.weight.numel()
