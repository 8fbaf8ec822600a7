"""LoadLoRA on the video families: Wan 2.1/2.2 (diffusers, ComfyUI and musubi-tuner layouts; both
Wan 2.2 experts), LTX-Video, a text-to-video LoRA on an image-to-video model; the Sampler's shift
and the 4-step example graph."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_loras as tl
from diffusion_graphs import load_model_handle, run_node
from tiny_loras import apply_lora as _lora
from tiny_loras import max_difference as _close
from tiny_models import build_wan

from studio.nodeapi import NodeError

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4
PROMPT = "a red cat"


# ---- Wan 2.1 and 2.2 ----------------------------------------------------------------------------
WAN_LAYERS = tl.ATTENTION + tl.WAN_FFN


@pytest.fixture(scope="module")
def wan_folder(tmp_path_factory):
    return build_wan(tmp_path_factory.mktemp("models") / "tiny-wan")


def _wan_frames(registry, model, **sampler) -> np.ndarray:
    from diffusion_graphs import decode_latent

    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=16, height=16, frames=5)["latent"]
    values = {"steps": 2, "cfg": 1.0, "seed": 42, **sampler}
    sampled = run_node(registry, "Sampler", model=model, positive=positive, latent=latent, **values)["latent"]
    return decode_latent(model, sampled)


def _wan_reference(folder, loads: list[tuple], steps: int = 2) -> np.ndarray:
    """diffusers' WanPipeline; ``loads``: (file, weight, load_into_transformer_2) per adapter."""
    import torch
    from diffusers import WanPipeline

    pipe = WanPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    for index, (path, _, second) in enumerate(loads):
        pipe.load_lora_weights(str(path), adapter_name=f"a{index}", load_into_transformer_2=second)
    if loads:
        pipe.set_adapters([f"a{i}" for i in range(len(loads))], [weight for _, weight, _ in loads])
    generator = torch.Generator("cpu").manual_seed(42)
    return pipe(
        PROMPT,
        height=16,
        width=16,
        num_frames=5,
        num_inference_steps=steps,
        guidance_scale=1.0,
        generator=generator,
        output_type="np",
    ).frames[0]


@pytest.mark.parametrize("layout", ["diffusers", "comfyui", "musubi"])
def test_a_wan_lora_matches_diffusers(registry, wan_folder, layout):
    from diffusers import WanPipeline

    transformer = WanPipeline.from_pretrained(wan_folder, local_files_only=True).transformer
    layers = tl.lora_layers(transformer, WAN_LAYERS, seed=4, scale=0.5)
    state = {
        "diffusers": lambda: tl.diffusers_keys(layers, "transformer"),
        "comfyui": lambda: tl.comfy_wan_keys(layers),
        "musubi": lambda: tl.musubi_wan_keys(layers, alpha=2.0),
    }[layout]()
    path = tl.save(state, wan_folder.parent / "loras" / f"wan_{layout}.safetensors")
    model = load_model_handle(wan_folder)
    ours = _wan_frames(registry, _lora(registry, model, path, 0.8))
    assert _close(ours, _wan_reference(wan_folder, [(path, 0.8, False)])) <= TOLERANCE
    assert _close(ours, _wan_frames(registry, model)) > 1e-3


@pytest.fixture(scope="module")
def wan22_folder(tmp_path_factory):
    """A tiny Wan 2.2 A14B-style model: two experts switched at a boundary."""
    import torch
    from diffusers import WanPipeline, WanTransformer3DModel
    from tiny_models import wan_components

    parts = wan_components()
    torch.manual_seed(1)
    second = WanTransformer3DModel.from_config(parts["transformer"].config).eval()
    folder = tmp_path_factory.mktemp("models") / "tiny-wan22"
    WanPipeline(**parts, transformer_2=second, boundary_ratio=0.5).save_pretrained(folder, safe_serialization=True)
    return folder


def test_wan22_experts_take_the_lora_as_diffusers_loads_it(registry, wan22_folder):
    from diffusers import WanPipeline

    transformer = WanPipeline.from_pretrained(wan22_folder, local_files_only=True).transformer
    path = tl.save(
        tl.comfy_wan_keys(tl.lora_layers(transformer, WAN_LAYERS, seed=5, scale=0.5)),
        wan22_folder.parent / "loras" / "wan22.safetensors",
    )
    model = load_model_handle(wan22_folder)
    assert model.pipeline.transformer_2 is not None
    both = _wan_frames(registry, _lora(registry, model, path, 1.0), steps=4)
    expected = _wan_reference(wan22_folder, [(path, 1.0, False), (path, 1.0, True)], steps=4)
    assert _close(both, expected) <= TOLERANCE
    low = _wan_frames(registry, _lora(registry, model, path, 1.0, experts="low_noise"), steps=4)
    assert _close(low, _wan_reference(wan22_folder, [(path, 1.0, True)], steps=4)) <= TOLERANCE
    assert _close(low, both) > 1e-4


def test_sampler_shift_is_the_schedulers_own(registry, wan_folder):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

    pipe = WanPipeline.from_pretrained(wan_folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config(pipe.scheduler.config, shift=3.0)
    expected = pipe(
        PROMPT,
        height=16,
        width=16,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=1.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    model = load_model_handle(wan_folder)
    ours = _wan_frames(registry, model, scheduler="FlowMatchEulerDiscrete", shift=3.0)
    assert _close(ours, expected) <= TOLERANCE
    from nodes.diffusion.schedulers import make_scheduler

    assert make_scheduler("default", model, 0.0).config.shift == 7.0  # 0: the model's own
    assert make_scheduler("default", model, 3.0).config.shift == 3.0
    assert make_scheduler("UniPCMultistep", model, 5.0).config.flow_shift == 5.0  # flow-sigma solvers


def test_the_example_4_step_lora_graph_runs(wan_folder, tmp_path):
    from pathlib import Path

    from diffusers import WanPipeline

    from studio.cli import main

    transformer = WanPipeline.from_pretrained(wan_folder, local_files_only=True).transformer
    lora = tl.save(tl.comfy_wan_keys(tl.lora_layers(transformer, WAN_LAYERS, seed=6)), tmp_path / "distill.safetensors")
    graph = Path(__file__).resolve().parents[1] / "resources/graphs/wan-4step-lora.graph.json"
    assert main(["validate", str(graph)]) == 0
    values = {
        "model.path": wan_folder,
        "model.offload": "none",
        "lora.path": lora,
        "latent.width": 16,
        "latent.height": 16,
        "latent.frames": 5,
    }
    sets = [part for name, value in values.items() for part in ("--set", f"{name}={value}")]
    assert main(["run", str(graph), "-o", str(tmp_path / "out"), "--device", "cpu", *sets]) == 0
    assert len(list((tmp_path / "out").glob("wan-4step*.mp4"))) == 1


# ---- LTX-Video ----------------------------------------------------------------------------------
def test_an_ltx_comfyui_lora_matches_diffusers(registry, tmp_path_factory):
    import torch
    from diffusers import LTXPipeline
    from diffusion_graphs import decode_latent
    from tiny_ltx import build_ltx

    folder = build_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx")
    pipe = LTXPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    path = tl.save(
        tl.comfy_keys(tl.lora_layers(pipe.transformer, tl.ATTENTION, seed=7)), folder.parent / "ltx.safetensors"
    )
    pipe.load_lora_weights(str(path), adapter_name="ltx")
    pipe.set_adapters(["ltx"], [1.2])
    expected = pipe(
        PROMPT,
        height=32,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=1.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    model = _lora(registry, load_model_handle(folder), path, 1.2)
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32, frames=9)["latent"]
    sampled = run_node(registry, "Sampler", model=model, positive=positive, latent=latent, steps=2, cfg=1.0, seed=42)
    assert _close(decode_latent(model, sampled["latent"]), expected) <= TOLERANCE


def test_a_text_to_video_lora_on_a_wan_i2v_model_matches_diffusers(registry, tmp_path_factory, monkeypatch):
    """The common case of a T2V LoRA on an image-to-video model: diffusers adds the image layers' zero updates."""
    import torch
    from diffusers import WanImageToVideoPipeline
    from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_i2v
    from diffusion_graphs import decode_latent
    from PIL import Image as PILImage
    from tiny_models import build_wan_i2v

    from studio.media.types import Image

    monkeypatch.setattr(pipeline_wan_i2v, "basic_clean", pipeline_wan.basic_clean)  # diffusers 0.42 needs ftfy there
    folder = build_wan_i2v(tmp_path_factory.mktemp("models") / "tiny-wan-i2v")
    pipe = WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    layers = tl.lora_layers(pipe.transformer, WAN_LAYERS, seed=8, scale=0.5)
    layers = {name: value for name, value in layers.items() if "add_" not in name}  # a T2V LoRA
    path = tl.save(tl.comfy_wan_keys(layers), folder.parent / "t2v_style.safetensors")
    pipe.load_lora_weights(str(path), adapter_name="t2v")
    pipe.set_adapters(["t2v"], [1.0])
    first = np.random.default_rng(1).integers(0, 256, (16, 32, 3), dtype=np.uint8)
    expected = pipe(
        image=PILImage.fromarray(first),
        prompt=PROMPT,
        height=16,
        width=32,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=1.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    model = _lora(registry, load_model_handle(folder), path, 1.0)
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=5)["latent"]
    sampled = run_node(
        registry,
        "Sampler",
        model=model,
        positive=positive,
        latent=latent,
        steps=2,
        cfg=1.0,
        seed=42,
        first_frame=Image(first),
    )["latent"]
    assert _close(decode_latent(model, sampled), expected) <= TOLERANCE


def test_a_wan_lora_of_another_layout_or_size_is_refused_and_the_model_stays_usable(registry, wan_folder):
    import torch

    model = load_model_handle(wan_folder)
    before = _wan_frames(registry, model)
    sd_layers = {"down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q": (torch.ones(2, 8), torch.ones(8, 2))}
    kohya = tl.save(tl.kohya_keys(sd_layers, "lora_unet"), wan_folder.parent / "sd_kohya.safetensors")
    with pytest.raises(NodeError, match=r"sd_kohya.safetensors: .*not a Wan 2.1/2.2 LoRA layout diffusers reads"):
        _lora(registry, model, kohya)
    wide = {
        "diffusion_model.blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 1536),
        "diffusion_model.blocks.0.self_attn.q.lora_B.weight": torch.zeros(1536, 2),
    }
    with pytest.raises(NodeError, match=r"wide.safetensors: .*other sizes than this model's .*\[2, 1536\]"):
        _lora(registry, model, tl.save(wide, wan_folder.parent / "wide.safetensors"))
    assert not any(model.pipeline.get_list_adapters().values())
    assert _close(_wan_frames(registry, model), before) == 0.0
