"""Wan image-to-video through our graph nodes gives WanImageToVideoPipeline's frames (first frame, and
first + last frame), and a text-to-video Wan model starts from a given first frame by the approximation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from diffusion_graphs import decode_latent, load_model_handle, run_node
from tiny_models import build_wan_i2v

from studio.media.types import Image
from studio.nodeapi import NodeError

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4
ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources" / "models" / "starter"


@pytest.fixture(scope="module")
def i2v_folder(tmp_path_factory):
    return build_wan_i2v(tmp_path_factory.mktemp("models") / "tiny-wan-i2v")


@pytest.fixture(scope="module")
def flf2v_folder(tmp_path_factory):
    return build_wan_i2v(tmp_path_factory.mktemp("models") / "tiny-wan-flf2v", last_frame=True)


@pytest.fixture
def ftfy_free(monkeypatch):
    # diffusers 0.42's image-to-video module calls ftfy even when it is not installed; the
    # text-to-video module (whose prompt encoding TextEncode uses) checks first.
    from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_i2v

    monkeypatch.setattr(pipeline_wan_i2v, "basic_clean", pipeline_wan.basic_clean)


def picture(seed: int, height: int = 16, width: int = 32) -> np.ndarray:
    """A smooth random picture (a VAE reconstructs it better than noise)."""
    import cv2

    small = np.random.default_rng(seed).integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def pipeline_frames(folder: Path, first: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image as PILImage

    pipe = WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)
    assert type(pipe.image_encoder).__name__ == "CLIPVisionModel"
    pipe.set_progress_bar_config(disable=True)
    return pipe(
        image=PILImage.fromarray(first),
        last_image=None if last is None else PILImage.fromarray(last),
        prompt="a red cat runs",
        negative_prompt="a blue sky",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]


def graph_frames(registry, model, first: np.ndarray | None, last: np.ndarray | None, **extra) -> np.ndarray:
    positive = run_node(registry, "TextEncode", model=model, text="a red cat runs")["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text="a blue sky")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=9)["latent"]
    images = {port: Image(array) for port, array in (("first_frame", first), ("last_frame", last)) if array is not None}
    sampled = run_node(
        registry,
        "Sampler",
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        steps=extra.pop("steps", 2),
        cfg=extra.pop("cfg", 6.0),
        seed=42,
        **images,
        **extra,
    )["latent"]
    return decode_latent(model, sampled)


def test_image_to_video_matches_wan_i2v_pipeline(registry, i2v_folder, ftfy_free):
    first = picture(1)
    expected = pipeline_frames(i2v_folder, first, None)
    model = load_model_handle(i2v_folder)
    assert model.family == "wan" and model.latent_format.channels == 16
    ours = graph_frames(registry, model, first, None)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    print(f"Wan I2V: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_first_last_frame_matches_wan_i2v_pipeline(registry, flf2v_folder, ftfy_free):
    first, last = picture(2), picture(3)
    expected = pipeline_frames(flf2v_folder, first, last)
    model = load_model_handle(flf2v_folder)
    ours = graph_frames(registry, model, first, last)
    print(f"Wan FLF2V: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_image_to_video_model_asks_for_its_images(registry, i2v_folder, flf2v_folder):
    model = load_model_handle(i2v_folder)
    with pytest.raises(NodeError, match="first_frame: .* needs first_frame"):
        graph_frames(registry, model, None, None)
    with pytest.raises(NodeError, match="last_frame: .* not trained with a last frame"):
        graph_frames(registry, model, picture(1), picture(2))
    with pytest.raises(NodeError, match="last_frame: .* needs last_frame too"):
        graph_frames(registry, load_model_handle(flf2v_folder), picture(1), None)


def test_text_to_video_model_starts_from_the_first_frame(registry):
    """The starter (no image conditioning) keeps the encoded first frame: its first decoded frame is
    as close to the image as the VAE reconstructs it, far closer than a run without it. A last frame
    pulls the clip's end towards its image (less: its latent stands for the last 4 frames)."""
    model = load_model_handle(STARTER)
    first, last = ball(16), ball(48)
    positive = run_node(registry, "TextEncode", model=model, text="a red ball")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=64, height=64, frames=9)["latent"]
    runs = {}
    for name, images in (
        ("first", {"first_frame": Image(first)}),
        ("both", {"first_frame": Image(first), "last_frame": Image(last)}),
        ("none", {}),
    ):
        sampled = run_node(
            registry, "Sampler", model=model, positive=positive, latent=latent, steps=4, cfg=1.0, seed=5, **images
        )["latent"]
        runs[name] = decode_latent(model, sampled)

    def distance(name: str, index: int, image: np.ndarray) -> float:
        return float(np.abs(runs[name][index] - image.astype(np.float32) / 255.0).mean())

    near, far = distance("first", 0, first), distance("none", 0, first)
    end_near, end_far = distance("both", -1, last), distance("none", -1, last)
    print(f"starter first frame: mean abs difference {near:.4f} with first_frame, {far:.4f} without")
    print(f"starter last frame: mean abs difference {end_near:.4f} with last_frame, {end_far:.4f} without")
    assert near < 0.12 and near < 0.5 * far
    assert distance("both", 0, first) < 0.12 and end_near < end_far


def ball(x: int) -> np.ndarray:
    """A red ball on blue, as the starter was trained on."""
    import cv2

    image = np.zeros((64, 64, 3), np.uint8)
    image[:] = (30, 60, 200)
    cv2.circle(image, (x, 32), 10, (220, 30, 30), -1)
    return image


def build_ti2v(folder: Path) -> Path:
    """A tiny Wan 2.2 TI2V 5B: a WanPipeline folder with expanded timesteps and the 48-channel VAE."""
    import torch
    from diffusers import AutoencoderKLWan, WanPipeline, WanTransformer3DModel
    from tiny_models import wan_components
    from wan_layouts import wan22_vae_config

    parts = wan_components()
    torch.manual_seed(0)
    parts["vae"] = AutoencoderKLWan(**wan22_vae_config()).eval()
    torch.manual_seed(0)
    parts["transformer"] = WanTransformer3DModel.from_config(
        {**parts["transformer"].config, "in_channels": 48, "out_channels": 48}
    ).eval()
    WanPipeline(**parts, expand_timesteps=True).save_pretrained(folder, safe_serialization=True)
    return folder


def test_ti2v_first_frame_matches_wan_i2v_pipeline(registry, tmp_path, ftfy_free):
    """Wan 2.2 TI2V's image mode, as diffusers runs it: its WanPipeline folder loaded as WanImageToVideoPipeline."""
    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image as PILImage

    folder = build_ti2v(tmp_path / "tiny-wan-ti2v")
    first = picture(5, 32, 64)
    pipe = WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        image=PILImage.fromarray(first),
        prompt="a red cat runs",
        negative_prompt="a blue sky",
        height=32,
        width=64,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    model = load_model_handle(folder)
    positive = run_node(registry, "TextEncode", model=model, text="a red cat runs")["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text="a blue sky")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=64, height=32, frames=5)["latent"]
    sampled = run_node(
        registry,
        "Sampler",
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        steps=2,
        cfg=6.0,
        seed=42,
        first_frame=Image(first),
    )["latent"]
    ours = decode_latent(model, sampled)
    print(f"Wan 2.2 TI2V: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE
    with pytest.raises(NodeError, match="last_frame: .* TI2V models take a first frame only"):
        run_node(registry, "Sampler", model=model, positive=positive, latent=latent, last_frame=Image(first))


def test_a14b_image_to_video_experts_match_wan_i2v_pipeline(registry, tmp_path, ftfy_free):
    """Wan 2.2 A14B I2V: two experts, no image encoder, first and last frame through the mask channels."""
    import torch
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel
    from tiny_models import wan_i2v_components

    parts = wan_i2v_components()
    config = {**parts["transformer"].config, "image_dim": None}
    experts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        experts.append(WanTransformer3DModel.from_config(config).eval())
    del parts["image_encoder"], parts["image_processor"]
    folder = tmp_path / "tiny-wan-a14b-i2v"
    WanImageToVideoPipeline(
        **parts | {"transformer": experts[0]}, transformer_2=experts[1], boundary_ratio=0.875
    ).save_pretrained(folder, safe_serialization=True)
    first, last = picture(6), picture(7)
    from PIL import Image as PILImage

    pipe = WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        image=PILImage.fromarray(first),
        last_image=PILImage.fromarray(last),
        prompt="a red cat runs",
        negative_prompt="a blue sky",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=3,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    model = load_model_handle(folder)
    ours = graph_frames(registry, model, first, last, steps=3)
    print(f"Wan 2.2 A14B I2V: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_the_example_image_to_video_graph_runs(i2v_folder, tmp_path):
    from PIL import Image as PILImage

    from studio.cli import main

    graph = ROOT / "resources/graphs/wan-image-to-video.graph.json"
    picture_file = tmp_path / "first-frame.png"
    PILImage.fromarray(picture(8, 40, 48)).save(picture_file)
    values = {
        "model.path": i2v_folder,
        "model.offload": "none",
        "image.path": picture_file,
        "latent.width": 32,
        "latent.height": 16,
        "latent.frames": 9,
        "sampler.steps": 2,
    }
    sets = [part for name, value in values.items() for part in ("--set", f"{name}={value}")]
    assert main(["run", str(graph), "-o", str(tmp_path / "out"), "--device", "cpu", *sets]) == 0


def test_a14b_image_to_video_files_load_as_a_pair(registry, tmp_path, ftfy_free):
    """ComfyUI's Wan 2.2 I2V expert files (with a UMT5 file and the Wan 2.1 VAE file) render what
    WanImageToVideoPipeline renders from the same weights."""
    import torch
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel
    from PIL import Image as PILImage
    from wan_layouts import original_transformer, save, train_spiece, wan_components, write_comfy_tree

    spiece = train_spiece()
    parts = wan_components(spiece)
    config = {**parts["transformer"].config, "in_channels": 36}
    experts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        experts.append(WanTransformer3DModel.from_config(config).eval())
    comfy = write_comfy_tree(parts, spiece, tmp_path / "models")
    names = ("wan2.2_i2v_high_noise_14B_fp16.safetensors", "wan2.2_i2v_low_noise_14B_fp16.safetensors")
    files = [
        save(original_transformer(e.state_dict()), tmp_path / "models" / n) for e, n in zip(experts, names, strict=True)
    ]
    values = {"path": str(files[1]), "text_encoder": str(comfy["text_encoder"]), "vae": str(comfy["vae"])}
    model = run_node(registry, "LoadModel", **values)["model"]
    assert model.pipeline.transformer_2 is not None and model.latent_format.channels == 16

    first = picture(9)
    pipe = WanImageToVideoPipeline(
        **{k: model.pipeline.components[k] for k in ("tokenizer", "text_encoder", "vae")},
        scheduler=type(model.pipeline.scheduler).from_config(model.pipeline.scheduler.config),
        transformer=experts[0],
        transformer_2=experts[1],
        boundary_ratio=0.875,
    )
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(
        image=PILImage.fromarray(first),
        prompt="a red cat runs",
        negative_prompt="a blue sky",
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=3,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    ours = graph_frames(registry, model, first, None, steps=3)
    print(f"Wan 2.2 A14B I2V files: max abs difference {np.abs(ours - expected).max():.2e}")
    assert np.abs(ours - expected).max() <= TOLERANCE
