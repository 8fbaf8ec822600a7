"""Wan 2.1 text-to-video and video-to-video through our graph give diffusers' own pipelines' frames."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, load_model_handle, run_node
from tiny_models import build_wan

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def wan_folder(tmp_path_factory):
    return build_wan(tmp_path_factory.mktemp("models") / "tiny-wan")


@pytest.fixture(scope="module")
def model(wan_folder):
    return load_model_handle(wan_folder)


def test_text_to_video_matches_wan_pipeline(registry, wan_folder, model):
    import torch
    from diffusers import WanPipeline

    pipe = WanPipeline.from_pretrained(wan_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        "a red cat runs",
        negative_prompt="a blue sky",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]

    assert model.family == "wan"
    positive = run_node(registry, "TextEncode", model=model, text="a red cat runs")["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text="a blue sky")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=9)["latent"]
    assert latent.shape == (1, 16, 3, 2, 4)
    previews = []
    from diffusion_graphs import make_context

    from studio.engine.context import RunSettings

    spec = registry["Sampler"]
    sampled = spec.compute(
        make_context("Sampler", settings=RunSettings(), previews=previews),
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        steps=2,
        cfg=6.0,
        seed=42,
        scheduler="default",
        denoise=1.0,
    )["latent"]
    ours = decode_latent(model, sampled)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE
    # Video previews hold every latent frame.
    assert [(step, total) for _, step, total in previews] == [(1, 2), (2, 2)]
    assert previews[-1][0].shape == (3, 2, 4, 3)


def test_video_to_video_matches_wan_video2video_pipeline(registry, model, monkeypatch):
    import torch
    from diffusers import WanVideoToVideoPipeline
    from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_video2video

    # diffusers 0.42's video-to-video module calls ftfy even when it is not installed;
    # the text-to-video module (whose encode_prompt TextEncode uses) checks first.
    monkeypatch.setattr(pipeline_wan_video2video, "basic_clean", pipeline_wan.basic_clean)
    from PIL import Image

    from studio.media.types import Frames

    rng = np.random.default_rng(1)
    clip = rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8)
    parts = model.pipeline.components
    shared = {k: parts[k] for k in ("tokenizer", "text_encoder", "transformer", "vae")}
    pipe = WanVideoToVideoPipeline(**shared, scheduler=type(parts["scheduler"]).from_config(parts["scheduler"].config))
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        video=[Image.fromarray(frame) for frame in clip],
        prompt="a green tree",
        height=16,
        width=16,
        num_inference_steps=4,
        strength=0.7,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(3),
        output_type="np",
    ).frames[0]

    positive = run_node(registry, "TextEncode", model=model, text="a green tree")["conditioning"]
    latent = run_node(registry, "VAEEncode", model=model, frames=Frames(clip, 16.0))["latent"]
    sampled = run_node(
        registry, "Sampler", model=model, positive=positive, latent=latent, steps=4, cfg=5.0, seed=3, denoise=0.7
    )["latent"]
    ours = decode_latent(model, sampled)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_wan_frame_count_rule_is_explained(registry, model):
    from studio.engine.context import NodeError

    with pytest.raises(NodeError, match=r"frames must be 4×k\+1 .* got 10"):
        run_node(registry, "EmptyLatent", model=model, width=16, height=16, frames=10)
