"""CogVideoX text-, image- and video-to-video through our graph give diffusers' own pipelines' frames."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, load_model_handle, make_context, run_node
from tiny_cogvideox import TEXT_LENGTH, build_cogvideox

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def t2v_folder(tmp_path_factory):
    return build_cogvideox(tmp_path_factory.mktemp("models") / "tiny-cogvideox")


@pytest.fixture(scope="module")
def t2v(t2v_folder):
    return load_model_handle(t2v_folder)


def sample(registry, model, latent, *, prompt, negative, steps, cfg, seed, first_frame=None, previews=None):
    from studio.engine.context import RunSettings

    positive = run_node(registry, "TextEncode", model=model, text=prompt)["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text=negative)["conditioning"]
    return registry["Sampler"].compute(
        make_context("Sampler", settings=RunSettings(), previews=previews),
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        steps=steps,
        cfg=cfg,
        seed=seed,
        scheduler="default",
        denoise=1.0,
        first_frame=first_frame,
    )["latent"]


@pytest.mark.parametrize("dynamic_cfg", [False, True])
def test_text_to_video_matches_cogvideox_pipeline(registry, t2v_folder, t2v, monkeypatch, dynamic_cfg):
    import torch
    from diffusers import CogVideoXPipeline

    pipe = CogVideoXPipeline.from_pretrained(t2v_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        "a red cat runs",
        negative_prompt="a blue sky",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        use_dynamic_cfg=dynamic_cfg,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
        max_sequence_length=TEXT_LENGTH,
    ).frames[0]

    assert t2v.family == "cogvideox"
    monkeypatch.setattr(t2v.adapter, "use_dynamic_cfg", dynamic_cfg)
    latent = run_node(registry, "EmptyLatent", model=t2v, width=32, height=16, frames=9)["latent"]
    assert latent.shape == (1, 4, 3, 2, 4)
    previews = []
    sampled = sample(
        registry,
        t2v,
        latent,
        prompt="a red cat runs",
        negative="a blue sky",
        steps=2,
        cfg=6.0,
        seed=42,
        previews=previews,
    )
    assert sampled.shape == (1, 4, 3, 2, 4)
    ours = decode_latent(t2v, sampled)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE
    assert [(step, total) for _, step, total in previews] == [(1, 2), (2, 2)]
    assert previews[-1][0].shape == (3, 2, 4, 3)


def test_whole_graph_renders_the_pipelines_clip(registry, t2v_folder):
    import torch
    from diffusers import CogVideoXPipeline
    from diffusion_graphs import text_to_image_graph

    from studio.engine import Engine

    pipe = CogVideoXPipeline.from_pretrained(t2v_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        "a big dog",
        negative_prompt="a tree",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
        max_sequence_length=TEXT_LENGTH,
    ).frames[0]

    graph = text_to_image_graph(
        t2v_folder, prompt="a big dog", negative="a tree", width=32, height=16, frames=9, steps=2, cfg=6.0, seed=42
    )
    report = Engine("cpu", registry=registry).run(graph)
    assert report.ok, report.failed
    frames = report.outputs["preview"]["frames"]
    assert frames.array.shape == (9, 16, 32, 3) and frames.fps == 8.0
    # uint8 frames: the pipeline's floats rounded as to_uint8 rounds them (a value on a rounding edge may flip).
    rounded = (expected * 255).round().astype(np.int16)
    assert np.abs(frames.array.astype(np.int16) - rounded).max() <= 1


def test_cogvideox_1_5_text_to_video_pads_latent_frames_as_the_pipeline_does(registry, tmp_path):
    import torch
    from diffusers import CogVideoXPipeline

    folder = build_cogvideox(tmp_path / "tiny-cogvideox-1.5", scheduler="DPM", version="1.5")
    pipe = CogVideoXPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        "a small house",
        negative_prompt="a car",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=3,
        guidance_scale=4.0,
        generator=torch.Generator("cpu").manual_seed(11),
        output_type="np",
        max_sequence_length=TEXT_LENGTH,
    ).frames[0]

    model = load_model_handle(folder)
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=9)["latent"]
    sampled = sample(registry, model, latent, prompt="a small house", negative="a car", steps=3, cfg=4.0, seed=11)
    assert sampled.shape == (1, 4, 3, 2, 4)  # sampled with 4 latent frames, the first (padding) dropped
    ours = decode_latent(model, sampled)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE


@pytest.mark.parametrize("version", ["1.0", "1.5"])
def test_image_to_video_matches_cogvideox_image_to_video_pipeline(registry, tmp_path, version):
    import torch
    from diffusers import CogVideoXImageToVideoPipeline
    from PIL import Image

    from studio.media.types import Image as ImageValue

    i2v_folder = build_cogvideox(tmp_path / "tiny-cogvideox-i2v", image_to_video=True, scheduler="DPM", version=version)
    image = np.random.default_rng(5).integers(0, 256, (16, 32, 3), dtype=np.uint8)
    pipe = CogVideoXImageToVideoPipeline.from_pretrained(i2v_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        image=Image.fromarray(image),
        prompt="a dog sits on a car",
        negative_prompt="a green tree",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=3,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(7),
        output_type="np",
        max_sequence_length=TEXT_LENGTH,
    ).frames[0]

    model = load_model_handle(i2v_folder)
    assert model.family == "cogvideox" and model.latent_format.channels == 4
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=9)["latent"]
    sampled = sample(
        registry,
        model,
        latent,
        prompt="a dog sits on a car",
        negative="a green tree",
        steps=3,
        cfg=5.0,
        seed=7,
        first_frame=ImageValue(image),
    )
    ours = decode_latent(model, sampled)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE

    from studio.engine.context import NodeError

    with pytest.raises(NodeError, match=r"first_frame: this CogVideoX model is image-to-video; connect an image"):
        sample(registry, model, latent, prompt="a dog", negative="", steps=1, cfg=1.0, seed=0)


def test_video_to_video_matches_cogvideox_video2video_pipeline(registry, t2v):
    import torch
    from diffusers import CogVideoXVideoToVideoPipeline
    from PIL import Image

    from studio.media.types import Frames

    clip = np.random.default_rng(1).integers(0, 256, (9, 16, 32, 3), dtype=np.uint8)
    parts = t2v.pipeline.components
    shared = {k: parts[k] for k in ("tokenizer", "text_encoder", "transformer", "vae")}
    pipe = CogVideoXVideoToVideoPipeline(
        **shared, scheduler=type(parts["scheduler"]).from_config(parts["scheduler"].config)
    )
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        video=[Image.fromarray(frame) for frame in clip],
        prompt="a green tree",
        height=16,
        width=32,
        num_inference_steps=4,
        strength=0.7,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(3),
        output_type="np",
        max_sequence_length=TEXT_LENGTH,
    ).frames[0]

    positive = run_node(registry, "TextEncode", model=t2v, text="a green tree")["conditioning"]
    latent = run_node(registry, "VAEEncode", model=t2v, frames=Frames(clip, 8.0))["latent"]
    assert latent.shape == (1, 4, 3, 2, 4)
    sampled = run_node(
        registry, "Sampler", model=t2v, positive=positive, latent=latent, steps=4, cfg=5.0, seed=3, denoise=0.7
    )["latent"]
    ours = decode_latent(t2v, sampled)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_frame_count_rule_is_explained(registry, t2v):
    from studio.engine.context import NodeError

    with pytest.raises(NodeError, match=r"frames must be 4×k\+1 .* got 10"):
        run_node(registry, "EmptyLatent", model=t2v, width=32, height=32, frames=10)


def test_a_text_to_video_model_refuses_a_first_frame(registry, t2v):
    from studio.engine.context import NodeError
    from studio.media.types import Image as ImageValue

    latent = run_node(registry, "EmptyLatent", model=t2v, width=32, height=16, frames=9)["latent"]
    image = ImageValue(np.zeros((16, 32, 3), dtype=np.uint8))
    with pytest.raises(NodeError, match=r"first_frame: this CogVideoX model is text-to-video"):
        sample(registry, t2v, latent, prompt="a cat", negative="", steps=1, cfg=1.0, seed=0, first_frame=image)


def test_context_windows_are_refused_by_name(registry, t2v):
    from studio.engine.context import NodeError

    positive = run_node(registry, "TextEncode", model=t2v, text="a cat")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=t2v, width=32, height=16, frames=9)["latent"]
    with pytest.raises(NodeError, match=r"context_frames 5: CogVideoX samples the whole clip at once"):
        run_node(
            registry,
            "Sampler",
            model=t2v,
            positive=positive,
            latent=latent,
            steps=1,
            context_frames=5,
            context_overlap=0,
        )
