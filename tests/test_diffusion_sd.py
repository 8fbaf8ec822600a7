"""Stable Diffusion 1.x through our graph gives diffusers' own pipeline output (tiny random model)."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import run_node, text_to_image_graph
from tiny_models import build_sd

from studio.engine import CancelToken, Engine
from studio.engine.events import Preview, Progress

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return build_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="module")
def reference(sd_folder):
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(sd_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    default = pipe.scheduler

    def run(prompt="a red cat", *, seed=42, steps=2, cfg=7.5, negative=None, scheduler=None):
        import diffusers

        pipe.scheduler = default
        if scheduler is not None:
            pipe.scheduler = getattr(diffusers, scheduler + "Scheduler").from_config(default.config)
        generator = torch.Generator("cpu").manual_seed(seed)
        return pipe(
            prompt,
            negative_prompt=negative,
            height=32,
            width=32,
            num_inference_steps=steps,
            guidance_scale=cfg,
            generator=generator,
            output_type="np",
        ).images

    run.pipe = pipe
    return run


def _graph_float(
    registry, folder, *, prompt="a red cat", negative=None, seed=42, steps=2, cfg=7.5, scheduler="default"
):
    """Run the node chain directly and return the decoded float frames (before uint8 rounding)."""
    import torch

    model = run_node(registry, "LoadModel", path=str(folder))["model"]
    positive = run_node(registry, "TextEncode", model=model, text=prompt)["conditioning"]
    neg = None if negative is None else run_node(registry, "TextEncode", model=model, text=negative)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32)["latent"]
    sampled = run_node(
        registry,
        "Sampler",
        model=model,
        positive=positive,
        negative=neg,
        latent=latent,
        steps=steps,
        cfg=cfg,
        seed=seed,
        scheduler=scheduler,
    )["latent"]
    with torch.no_grad():
        return model.adapter.decode(model, sampled, False, lambda: None)


def test_text_to_image_matches_pipeline(registry, sd_folder, reference):
    expected = reference()
    ours = _graph_float(registry, sd_folder)
    assert ours.shape == expected.shape == (1, 32, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE

    report = Engine("cpu", registry=registry).run(text_to_image_graph(sd_folder))
    assert report.ok, report.failed
    frames = report.outputs["preview"]["frames"].array
    assert frames.dtype == np.uint8 and frames.shape == (1, 32, 32, 3)
    assert np.abs(frames.astype(int) - (expected * 255).round().astype(int)).max() <= 1


@pytest.mark.parametrize("scheduler", ["EulerDiscrete", "DPMSolverMultistep"])
def test_negative_prompt_and_scheduler_match_pipeline(registry, sd_folder, reference, scheduler):
    expected = reference("a blue dog", negative="a green tree", seed=7, steps=3, cfg=5.0, scheduler=scheduler)
    ours = _graph_float(
        registry, sd_folder, prompt="a blue dog", negative="a green tree", seed=7, steps=3, cfg=5.0, scheduler=scheduler
    )
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_image_to_image_matches_img2img_pipeline(registry, sd_folder, reference):
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline
    from PIL import Image

    from studio.media.types import Frames

    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    reference()  # puts the model's own scheduler back
    img2img = StableDiffusionImg2ImgPipeline(**reference.pipe.components, requires_safety_checker=False)
    img2img.set_progress_bar_config(disable=True)
    expected = img2img(
        "a red cat",
        image=Image.fromarray(picture),
        strength=0.6,
        num_inference_steps=4,
        guidance_scale=7.5,
        generator=torch.Generator("cpu").manual_seed(5),
        output_type="np",
    ).images

    model = run_node(registry, "LoadModel", path=str(sd_folder))["model"]
    positive = run_node(registry, "TextEncode", model=model, text="a red cat")["conditioning"]
    latent = run_node(registry, "VAEEncode", model=model, frames=Frames(picture[None], 8.0))["latent"]
    sampled = run_node(
        registry, "Sampler", model=model, positive=positive, latent=latent, steps=4, cfg=7.5, seed=5, denoise=0.6
    )["latent"]
    with torch.no_grad():
        ours = model.adapter.decode(model, sampled, False, lambda: None)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_changing_the_seed_reruns_only_the_sampler_and_what_follows(registry, sd_folder):
    engine = Engine("cpu", registry=registry)
    graph = text_to_image_graph(sd_folder)
    first = engine.run(graph)
    assert first.ok and all(r.status == "ran" for r in first.nodes.values())
    graph.set_param("sampler", "seed", 43)
    second = engine.run(graph)
    status = {k: r.status for k, r in second.nodes.items()}
    assert status == {
        "load": "cached",
        "encode": "cached",
        "empty": "cached",
        "sampler": "ran",
        "decode": "ran",
        "preview": "ran",
    }
    a = first.outputs["preview"]["frames"].array
    b = second.outputs["preview"]["frames"].array
    assert not np.array_equal(a, b)


def test_sampler_previews_every_step_and_reports_progress(registry, sd_folder):
    events = []
    report = Engine("cpu", registry=registry).run(text_to_image_graph(sd_folder, steps=3), on_event=events.append)
    assert report.ok
    previews = [e for e in events if isinstance(e, Preview) and e.node_id == "sampler"]
    assert [(p.step, p.total) for p in previews] == [(1, 3), (2, 3), (3, 3)]
    image = previews[-1].image
    assert image.dtype == np.uint8 and image.shape == (1, 16, 16, 3)  # all frames, latent resolution
    assert any(isinstance(e, Progress) and e.node_id == "sampler" and e.done == 3 for e in events)


def test_cancel_takes_effect_within_one_step(registry, sd_folder):
    token = CancelToken()
    steps_seen = []

    def on_event(event):
        if isinstance(event, Progress) and event.node_id == "sampler":
            steps_seen.append(event.done)
            token.cancel()

    report = Engine("cpu", registry=registry).run(text_to_image_graph(sd_folder, steps=5), on_event, cancel=token)
    assert report.cancelled
    assert steps_seen == [1]
    assert report.nodes["sampler"].status == "skipped"


def test_bad_size_names_the_parameter(registry, sd_folder):
    report = Engine("cpu", registry=registry).run(text_to_image_graph(sd_folder, width=33))
    assert report.nodes["empty"].status == "failed"
    assert "width must be divisible by 2" in report.nodes["empty"].error
    assert "got 33" in report.nodes["empty"].error
