"""Stable Diffusion XL through our graph gives diffusers' own pipelines' images (tiny random model)."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, load_model_handle, run_node
from tiny_models import build_sdxl

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def sdxl_folder(tmp_path_factory):
    return build_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="module")
def pipe(sdxl_folder):
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(sdxl_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def model(sdxl_folder):
    return load_model_handle(sdxl_folder)


def _sample(registry, model, latent, *, prompt, negative=None, **params):
    positive = run_node(registry, "TextEncode", model=model, text=prompt)["conditioning"]
    neg = None if negative is None else run_node(registry, "TextEncode", model=model, text=negative)["conditioning"]
    return run_node(registry, "Sampler", model=model, positive=positive, negative=neg, latent=latent, **params)[
        "latent"
    ]


@pytest.mark.parametrize(
    ("negative", "scheduler"),
    [(None, "default"), ("a green tree", "DPMSolverMultistep")],
    ids=["zeros-negative-euler", "negative-dpm"],
)
def test_text_to_image_matches_sdxl_pipeline(registry, pipe, model, negative, scheduler):
    import diffusers
    import torch

    assert model.family == "sdxl"
    default = pipe.scheduler
    if scheduler != "default":
        pipe.scheduler = getattr(diffusers, scheduler + "Scheduler").from_config(default.config)
    try:
        expected = pipe(
            "a red cat",
            negative_prompt=negative,
            height=32,
            width=48,
            num_inference_steps=2,
            guidance_scale=6.0,
            generator=torch.Generator("cpu").manual_seed(42),
            output_type="np",
        ).images
    finally:
        pipe.scheduler = default

    latent = run_node(registry, "EmptyLatent", model=model, width=48, height=32)["latent"]
    sampled = _sample(
        registry, model, latent, prompt="a red cat", negative=negative, steps=2, cfg=6.0, seed=42, scheduler=scheduler
    )
    ours = decode_latent(model, sampled)
    assert ours.shape == expected.shape == (1, 32, 48, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_image_to_image_matches_sdxl_img2img_pipeline(registry, pipe, model):
    import torch
    from diffusers import StableDiffusionXLImg2ImgPipeline
    from PIL import Image

    from studio.media.types import Frames

    picture = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    img2img = StableDiffusionXLImg2ImgPipeline(**pipe.components, requires_aesthetics_score=False)
    img2img.set_progress_bar_config(disable=True)
    expected = img2img(
        "a blue dog",
        negative_prompt="a red car",
        image=Image.fromarray(picture),
        strength=0.6,
        num_inference_steps=4,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(5),
        output_type="np",
    ).images

    latent = run_node(registry, "VAEEncode", model=model, frames=Frames(picture[None], 8.0))["latent"]
    sampled = _sample(
        registry, model, latent, prompt="a blue dog", negative="a red car", steps=4, cfg=5.0, seed=5, denoise=0.6
    )
    ours = decode_latent(model, sampled)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_sdxl_conditioning_carries_pooled_embeddings(registry, model):
    conditioning = run_node(registry, "TextEncode", model=model, text="a cat")["conditioning"]
    assert set(conditioning.tensors) == {"prompt_embeds", "pooled_prompt_embeds"}
    assert conditioning.tensors["prompt_embeds"].shape[-1] == 32  # both encoders' hidden states, concatenated


def test_models_listing_shows_sdxl_family_and_size(sdxl_folder):
    from studio.composition import default_families
    from studio.models import find_models

    found = {m.name: m for m in find_models([sdxl_folder.parent], default_families())}
    assert found["tiny-sdxl"].family == "sdxl" and found["tiny-sdxl"].size_bytes > 10_000
