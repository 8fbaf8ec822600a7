"""AnimateDiff through our graph gives AnimateDiffPipeline's and AnimateDiffVideoToVideoPipeline's frames."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, load_model_handle, make_context, run_node
from tiny_models import build_animatediff

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def animatediff_folder(tmp_path_factory):
    return build_animatediff(tmp_path_factory.mktemp("models") / "tiny-animatediff")


@pytest.fixture(scope="module")
def model(animatediff_folder):
    return load_model_handle(animatediff_folder)


def test_text_to_video_matches_animatediff_pipeline(registry, animatediff_folder, model):
    import torch
    from diffusers import AnimateDiffPipeline

    from studio.engine.context import RunSettings

    pipe = AnimateDiffPipeline.from_pretrained(animatediff_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        "a red cat runs",
        negative_prompt="a blue sky",
        num_frames=6,
        height=32,
        width=24,
        num_inference_steps=2,
        guidance_scale=7.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]

    assert model.family == "animatediff" and type(model.pipeline.unet).__name__ == "UNetMotionModel"
    positive = run_node(registry, "TextEncode", model=model, text="a red cat runs")["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text="a blue sky")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=24, height=32, frames=6)["latent"]
    assert latent.shape == (1, 4, 6, 16, 12) and latent.fps == 8.0
    previews = []
    sampled = registry["Sampler"].compute(
        make_context("Sampler", settings=RunSettings(), previews=previews),
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        steps=2,
        cfg=7.0,
        seed=42,
        scheduler="default",
        denoise=1.0,
    )["latent"]
    ours = decode_latent(model, sampled)
    assert ours.shape == expected.shape == (6, 32, 24, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE
    # Video previews hold every frame, at latent resolution.
    assert [(step, total) for _, step, total in previews] == [(1, 2), (2, 2)]
    assert previews[-1][0].shape == (6, 16, 12, 3) and previews[-1][0].dtype == np.uint8


def test_video_to_video_matches_animatediff_video2video_pipeline(registry, model):
    import torch
    from diffusers import AnimateDiffVideoToVideoPipeline, EulerDiscreteScheduler
    from PIL import Image

    from studio.media.types import Frames

    clip = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    parts = dict(model.pipeline.components)
    parts["scheduler"] = EulerDiscreteScheduler.from_config(parts["scheduler"].config)
    pipe = AnimateDiffVideoToVideoPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        video=[Image.fromarray(frame) for frame in clip],
        prompt="a green tree",
        height=32,
        width=32,
        num_inference_steps=4,
        strength=0.7,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(3),
        output_type="np",
    ).frames[0]

    positive = run_node(registry, "TextEncode", model=model, text="a green tree")["conditioning"]
    latent = run_node(registry, "VAEEncode", model=model, frames=Frames(clip, 8.0))["latent"]
    assert latent.shape == (1, 4, 5, 16, 16)
    sampled = run_node(
        registry,
        "Sampler",
        model=model,
        positive=positive,
        latent=latent,
        steps=4,
        cfg=5.0,
        seed=3,
        denoise=0.7,
        scheduler="EulerDiscrete",
    )["latent"]
    ours = decode_latent(model, sampled)
    assert ours.shape == expected.shape == (5, 32, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_a_clip_longer_than_the_motion_modules_samples_in_context_windows(registry, model):
    from studio.engine.context import NodeError

    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32, frames=20)["latent"]
    positive = run_node(registry, "TextEncode", model=model, text="a cat")["conditioning"]
    values = dict(model=model, positive=positive, negative=None, latent=latent, steps=1, cfg=1.0, seed=0)
    values |= dict(scheduler="default", denoise=1.0)
    with pytest.raises(NodeError, match=r"the clip has 20 frames, more than .* set the Sampler's context_frames"):
        run_node(registry, "Sampler", **values)
    sampled = run_node(registry, "Sampler", **values, context_frames=16, context_overlap=4)["latent"]
    assert sampled.shape[2] == 20


def test_models_listing_shows_animatediff_family_and_size(animatediff_folder):
    from studio.composition import default_families
    from studio.models import find_models

    found = {m.name: m for m in find_models([animatediff_folder.parent], default_families())}
    assert found["tiny-animatediff"].family == "animatediff" and found["tiny-animatediff"].size_bytes > 10_000


def test_whole_graph_renders_a_clip(registry, animatediff_folder):
    from diffusion_graphs import text_to_image_graph

    from studio.engine import Engine

    report = Engine("cpu", registry=registry).run(text_to_image_graph(animatediff_folder, frames=4, steps=2))
    assert report.ok, report.failed
    frames = report.outputs["preview"]["frames"]
    assert frames.array.dtype == np.uint8 and frames.array.shape == (4, 32, 32, 3) and frames.fps == 8.0
