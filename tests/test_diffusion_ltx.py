"""LTX-Video text-to-video and image-to-video through our graph give diffusers' own pipelines' frames."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, load_model_handle, make_context, run_node
from tiny_ltx import LATENT_CHANNELS, build_ltx

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4
PROMPT, NEGATIVE = "a red cat runs", "a blue sky"


@pytest.fixture(scope="module")
def ltx_folder(tmp_path_factory):
    return build_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx")


@pytest.fixture(scope="module")
def model(ltx_folder):
    return load_model_handle(ltx_folder)


def _components(model):
    parts = model.pipeline.components
    scheduler = type(parts["scheduler"]).from_config(parts["scheduler"].config)
    return {**{k: parts[k] for k in ("tokenizer", "text_encoder", "transformer", "vae")}, "scheduler": scheduler}


def _graph_frames(registry, model, previews=None, **images):
    from studio.engine.context import RunSettings

    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text=NEGATIVE)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32, frames=9)["latent"]
    assert latent.shape == (1, LATENT_CHANNELS, 3, 8, 8)
    spec = registry["Sampler"]
    values = spec.default_params() | dict(steps=2, cfg=3.0, seed=42, scheduler="default", denoise=1.0)
    sampled = spec.compute(
        make_context("Sampler", settings=RunSettings(), previews=previews),
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        **values,
        **images,
    )["latent"]
    assert sampled.shape == latent.shape
    return decode_latent(model, sampled)


def test_text_to_video_matches_ltx_pipeline(registry, ltx_folder, model):
    import torch
    from diffusers import LTXPipeline

    pipe = LTXPipeline.from_pretrained(ltx_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        PROMPT,
        negative_prompt=NEGATIVE,
        height=32,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=3.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]

    assert model.family == "ltx"
    previews = []
    ours = _graph_frames(registry, model, previews)
    assert ours.shape == expected.shape == (9, 32, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE
    assert [(step, total) for _, step, total in previews] == [(1, 2), (2, 2)]
    assert previews[-1][0].shape == (3, 8, 8, 3)  # every latent frame, unpacked


def test_image_to_video_matches_ltx_image_to_video_pipeline(registry, model):
    import torch
    from diffusers import LTXImageToVideoPipeline
    from PIL import Image as PILImage

    from studio.media.types import Image

    picture = np.random.default_rng(5).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    pipe = LTXImageToVideoPipeline(**_components(model))
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        image=PILImage.fromarray(picture),
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        height=32,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=3.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]

    ours = _graph_frames(registry, model, first_frame=Image(picture))
    assert np.abs(ours - expected).max() <= TOLERANCE
    without = _graph_frames(registry, model)
    assert np.abs(ours - without).max() > 0.01  # the picture changed the clip


def test_ltx_rules_are_explained(registry, model):
    from studio.engine.context import NodeError
    from studio.media.types import Image

    with pytest.raises(NodeError, match=r"frames must be 4×k\+1 for LTX-Video .* got 10"):
        run_node(registry, "EmptyLatent", model=model, width=32, height=32, frames=10)
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32, frames=9)["latent"]
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    with pytest.raises(NodeError, match=r"denoise 0.5: LTX-Video samples from noise"):
        run_node(registry, "Sampler", model=model, positive=positive, latent=latent, steps=2, denoise=0.5)
    with pytest.raises(NodeError, match=r"context_frames 17: LTX-Video samples the whole clip at once"):
        run_node(registry, "Sampler", model=model, positive=positive, latent=latent, steps=2, context_frames=17)
    picture = Image(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(NodeError, match=r"scheduler UniPCMultistep: LTX-Video with a last_frame steps each token"):
        run_node(
            registry,
            "Sampler",
            model=model,
            positive=positive,
            latent=latent,
            last_frame=picture,
            scheduler="UniPCMultistep",
        )
    with pytest.raises(NodeError, match=r"last_frame: this LTX-Video model's scheduler shifts with the clip's"):
        run_node(registry, "Sampler", model=model, positive=positive, latent=latent, steps=2, last_frame=picture)


@pytest.mark.parametrize("first", [False, True])
def test_first_and_last_frame_match_ltx_condition_pipeline(registry, tmp_path_factory, first):
    import torch
    from diffusers import LTXConditionPipeline
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
    from PIL import Image as PILImage

    from studio.media.types import Image

    model = load_model_handle(build_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx-095", dynamic_shifting=False))
    rng = np.random.default_rng(6)
    start, end = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    given = [(start, 0), (end, 8)] if first else [(end, 8)]
    pipe = LTXConditionPipeline(**_components(model))
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        # conditions, not image=[...]: with a list of images diffusers 0.42 keeps only the first
        conditions=[LTXVideoCondition(image=PILImage.fromarray(image), frame_index=index) for image, index in given],
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        height=32,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=3.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]

    images = {"last_frame": Image(end)} | ({"first_frame": Image(start)} if first else {})
    ours = _graph_frames(registry, model, **images)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_a_bare_transformer_file_loads_with_a_config_folder(registry, ltx_folder, model, tmp_path):
    from safetensors.torch import load_file, save_file

    # The transformer in the original (ComfyUI) names, as diffusers' converter reads them.
    weights = load_file(ltx_folder / "transformer" / "diffusion_pytorch_model.safetensors")
    original = {"proj_in": "patchify_proj", "time_embed": "adaln_single", "norm_q": "q_norm", "norm_k": "k_norm"}
    renamed = {}
    for name, tensor in weights.items():
        for new, old in original.items():
            name = name.replace(new, old)
        renamed["model.diffusion_model." + name] = tensor
    path = tmp_path / "ltxv-tiny.safetensors"
    save_file(renamed, path)

    single = run_node(registry, "LoadModel", path=str(path), config=str(ltx_folder))["model"]
    assert single.family == "ltx"
    assert np.abs(_graph_frames(registry, single) - _graph_frames(registry, model)).max() == 0


@pytest.mark.parametrize(
    ("tensors", "variant"),
    [
        ({"model.diffusion_model.patchify_proj.weight": (2048, 128)}, "LTX-Video 2B"),
        ({"patchify_proj.weight": (4096, 128), "transformer_blocks.47.scale_shift_table": (6, 4096)}, "LTX-Video 13B"),
        (
            {
                "proj_in.weight": (2048, 128),
                "caption_projection.linear_1.weight": (2048, 4096),
                "time_embed.linear.weight": (12288, 2048),
            },
            "LTX-Video 2B",
        ),
        ({"model.diffusion_model.patchify_proj.weight": (4096, 128), "audio_patchify_proj.weight": (2048, 128)}, None),
        ({"proj_in.weight": (2048, 128)}, None),
    ],
)
def test_single_files_are_recognised(families, tensors, variant):
    found = families.recognise(tensors)
    assert (found and (found[0].name, found[1])) == (variant and ("ltx", variant))


def test_the_example_image_to_video_graph_runs(ltx_folder, tmp_path):
    from pathlib import Path

    from PIL import Image as PILImage

    from studio.cli import main

    graph = Path(__file__).resolve().parents[1] / "resources/graphs/ltx-image-to-video.graph.json"
    picture = tmp_path / "first-frame.png"
    PILImage.fromarray(np.random.default_rng(2).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(picture)
    values = {
        "model.path": ltx_folder,
        "image.path": picture,
        "latent.width": 32,
        "latent.height": 32,
        "latent.frames": 9,
        "sampler.steps": 2,
    }
    sets = [part for name, value in values.items() for part in ("--set", f"{name}={value}")]
    assert main(["run", str(graph), "-o", str(tmp_path / "out"), "--device", "cpu", *sets]) == 0
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1
