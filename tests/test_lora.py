"""LoadLoRA: each file layout users have changes the output exactly as diffusers' own
``load_lora_weights`` + ``set_adapters`` does; strengths and chains change without reloading."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_loras as tl
from diffusion_graphs import load_model_handle, run_node, text_to_image_graph
from tiny_models import build_sd, build_sdxl, build_wan

from studio.graph.model import Link, Node
from studio.nodeapi import NodeError

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4
PROMPT = "a red cat"


def _close(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


# ---- Stable Diffusion 1.x -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return build_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="module")
def sd_loras(sd_folder):
    """Two LoRAs for the tiny SD model: ``style`` in diffusers and Kohya layouts, ``other`` in diffusers'."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(sd_folder, local_files_only=True)
    unet, te = tl.lora_layers(pipe.unet, tl.ATTENTION, seed=1), tl.lora_layers(pipe.text_encoder, tl.CLIP, seed=2)
    other = tl.lora_layers(pipe.unet, tl.ATTENTION, seed=3)
    loras = sd_folder.parent / "loras"
    return {
        "diffusers": tl.save(
            {**tl.diffusers_keys(unet, "unet"), **tl.diffusers_keys(te, "text_encoder")}, loras / "style.safetensors"
        ),
        # alpha 1 on rank 2 halves the update: diffusers reads Kohya's alphas.
        "kohya": tl.save(
            {**tl.kohya_keys(unet, "lora_unet", 1.0), **tl.kohya_keys(te, "lora_te", 1.0)},
            loras / "style_kohya.safetensors",
        ),
        "other": tl.save(tl.diffusers_keys(other, "unet"), loras / "other.safetensors"),
        "old": tl.save(tl.old_diffusers_keys(other), loras / "other_old_layout.safetensors"),
    }


@pytest.fixture(scope="module")
def sd_reference(sd_folder):
    """diffusers' StableDiffusionPipeline with the given LoRAs loaded and weighted its own way."""
    import torch
    from diffusers import StableDiffusionPipeline

    def run(*loras: tuple) -> np.ndarray:
        pipe = StableDiffusionPipeline.from_pretrained(sd_folder, local_files_only=True)
        pipe.set_progress_bar_config(disable=True)
        for index, (path, _) in enumerate(loras):
            pipe.load_lora_weights(str(path), adapter_name=f"a{index}")
        if loras:
            pipe.set_adapters([f"a{i}" for i in range(len(loras))], [weight for _, weight in loras])
        generator = torch.Generator("cpu").manual_seed(42)
        return pipe(PROMPT, height=32, width=32, num_inference_steps=2, generator=generator, output_type="np").images[0]

    return run


@pytest.fixture(scope="module")
def sd_model(sd_folder):
    return load_model_handle(sd_folder)


def _sd_frames(registry, model) -> np.ndarray:
    import torch

    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32)["latent"]
    sampled = run_node(registry, "Sampler", model=model, positive=positive, latent=latent, steps=2, cfg=7.5, seed=42)
    with torch.no_grad():
        return model.adapter.decode(model, sampled["latent"], False, lambda: None)[0]


def _lora(registry, model, path, strength=1.0, **extra):
    return run_node(registry, "LoadLoRA", model=model, path=str(path), strength=strength, **extra)["model"]


@pytest.mark.parametrize(("layout", "strength"), [("diffusers", 0.7), ("kohya", 1.0), ("old", 1.0)])
def test_an_sd_lora_matches_diffusers(registry, sd_model, sd_loras, sd_reference, layout, strength):
    ours = _sd_frames(registry, _lora(registry, sd_model, sd_loras[layout], strength))
    assert _close(ours, sd_reference((sd_loras[layout], strength))) <= TOLERANCE
    assert _close(ours, sd_reference()) > 0.01  # the LoRA changed the picture


def test_strength_zero_and_the_base_model_give_the_plain_output(registry, sd_model, sd_loras, sd_reference):
    plain = sd_reference()
    _sd_frames(registry, _lora(registry, sd_model, sd_loras["diffusers"], 1.0))  # adapters now loaded and on
    assert _close(_sd_frames(registry, _lora(registry, sd_model, sd_loras["diffusers"], 0.0)), plain) == 0.0
    assert _close(_sd_frames(registry, sd_model), plain) <= TOLERANCE  # the base handle: LoRA layers off


def test_two_stacked_loras_match_diffusers(registry, sd_model, sd_loras, sd_reference):
    stacked = _lora(registry, _lora(registry, sd_model, sd_loras["diffusers"], 0.8), sd_loras["other"], 0.5)
    assert [strength for _, _, strength in stacked.loras] == [0.8, 0.5]
    expected = sd_reference((sd_loras["diffusers"], 0.8), (sd_loras["other"], 0.5))
    assert _close(_sd_frames(registry, stacked), expected) <= TOLERANCE


def test_a_lora_view_shares_the_pipeline_and_counts_only_its_adapter(registry, sd_model, sd_loras):
    view = _lora(registry, sd_model, sd_loras["other"], 1.0)
    assert view.pipeline is sd_model.pipeline and sd_model.loras == ()
    adapter_bytes = sum(
        p.numel() * p.element_size() for n, p in sd_model.pipeline.unet.named_parameters() if view.loras[0][0] in n
    )
    assert view.cache_nbytes() == adapter_bytes < sd_model.cache_nbytes() / 10


def test_an_adapter_no_handle_uses_leaves_the_model(registry, sd_model, sd_loras, sd_reference):
    import gc

    view = _lora(registry, sd_model, sd_loras["other"], 1.0)
    name, pipeline = view.loras[0][0], sd_model.pipeline
    assert name in pipeline.get_list_adapters()["unet"]
    del view
    gc.collect()
    assert _close(_sd_frames(registry, sd_model), sd_reference()) <= TOLERANCE  # using the model sweeps
    assert all(name not in names for names in pipeline.get_list_adapters().values())
    again = _lora(registry, sd_model, sd_loras["other"], 0.6)  # loads again, as before
    assert _close(_sd_frames(registry, again), sd_reference((sd_loras["other"], 0.6))) <= TOLERANCE


def _lora_graph(model_path, lora_path, strength=1.0):
    """The text-to-image graph with LoadLoRA between LoadModel and everything that takes the model."""
    graph = text_to_image_graph(model_path)
    graph.add_node(Node("lora", "LoadLoRA", {"path": str(lora_path), "strength": strength}))
    for link in [link for link in graph.links if (link.from_node, link.from_port) == ("load", "model")]:
        graph.disconnect(*link.target)
        graph.connect(Link("lora", "model", *link.target))
    graph.connect(Link("load", "model", "lora", "model"))
    return graph


def _frames(report):
    return report.outputs["preview"]["frames"].array


def test_changing_strength_reruns_without_reloading_the_model(sd_folder, sd_loras, sd_reference):
    from studio.engine import Engine

    engine = Engine(device="cpu")
    graph = _lora_graph(sd_folder, sd_loras["diffusers"], 1.0)
    first = engine.run(graph)
    graph.set_param("lora", "strength", 0.4)
    second = engine.run(graph)
    assert second.nodes["load"].status == "cached"
    assert second.nodes["lora"].status == second.nodes["sampler"].status == "ran"  # the chain is in the key
    assert _frames(first).tolist() != _frames(second).tolist()
    expected = np.round(sd_reference((sd_loras["diffusers"], 0.4)) * 255).astype(np.uint8)
    assert np.abs(_frames(second)[0].astype(int) - expected).max() <= 1
    graph.set_param("lora", "strength", 1.0)
    assert engine.run(graph).nodes["sampler"].status == "cached"
    # LoadModel's entry counts the pipeline (measured before the LoRA was loaded), each LoRA view
    # (strengths 1.0 and 0.4) only the adapter's weights: the pipeline is never counted twice.
    models = [v for outputs, _, _ in engine.cache._entries.values() for v in outputs.values() if hasattr(v, "loras")]
    assert len(models) == 3 and len({id(m.pipeline) for m in models}) == 1
    parts = [c for c in models[0].pipeline.components.values() if hasattr(c, "named_parameters")]
    weights = [(n, p.numel() * p.element_size()) for c in parts for n, p in c.named_parameters()]
    adapter = sum(size for name, size in weights if "lora_" in name)
    assert adapter > 0
    assert engine.cache.pool_nbytes("models") == sum(size for _, size in weights) - adapter + 2 * adapter


def test_graphs_sharing_a_base_model_keep_their_own_loras(sd_folder, sd_loras):
    from studio.engine import Engine

    graphs = {
        "style": _lora_graph(sd_folder, sd_loras["diffusers"]),
        "other": _lora_graph(sd_folder, sd_loras["other"]),
        "none": text_to_image_graph(sd_folder),
    }
    shared = Engine(device="cpu")
    together = {name: _frames(shared.run(graph)) for name, graph in graphs.items()}
    alone = {name: _frames(Engine(device="cpu").run(graph)) for name, graph in graphs.items()}
    for name in graphs:
        assert np.array_equal(together[name], alone[name]), name
    assert not np.array_equal(together["style"], together["other"])
    assert not np.array_equal(together["none"], together["other"])


def test_bad_files_are_named_with_what_is_wrong(registry, sd_model, sd_folder, tmp_path):
    import torch

    model_file = tl.save(
        {"down_blocks.0.resnets.0.conv1.weight": torch.zeros(4, 4, 3, 3)}, tmp_path / "unet.safetensors"
    )
    with pytest.raises(NodeError, match=r"unet.safetensors is not a LoRA: .*LoadModel"):
        _lora(registry, sd_model, model_file)
    wan = tl.save(
        {"diffusion_model.blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 24)}, tmp_path / "w.safetensors"
    )
    with pytest.raises(
        NodeError, match=r"w.safetensors is a LoRA for Wan 2.1/2.2 \(Wan LoRA width 24\), but model is Stable Diffusion"
    ):
        _lora(registry, sd_model, wan)
    nothing = tl.save({"unet.nowhere.to_q.lora_A.weight": torch.zeros(2, 8)}, tmp_path / "n.safetensors")
    with pytest.raises(NodeError, match=r"n.safetensors: "):
        _lora(registry, sd_model, nothing)
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(NodeError, match=r"broken.safetensors is not a readable .safetensors file"):
        _lora(registry, sd_model, tmp_path / "broken.safetensors")
    with pytest.raises(NodeError, match=r"experts: high_noise is for Wan 2.2 A14B"):
        _lora(registry, sd_model, model_file, experts="high_noise")
    assert _close(_sd_frames(registry, sd_model), _sd_frames(registry, sd_model)) == 0.0  # still usable


def test_the_lora_picker_lists_lora_files(registry):
    [path] = [p for p in registry["LoadLoRA"].params if p.name == "path"]
    assert path.model_kinds == ("lora",) and path.file_types == (".safetensors",)


# ---- SDXL (Kohya: the UNet's original block names, both text encoders) -----------------------------------------------------------
def test_an_sdxl_kohya_lora_matches_diffusers(registry, tmp_path_factory):
    import torch
    from diffusers import StableDiffusionXLPipeline

    folder = build_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")
    pipe = StableDiffusionXLPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    state = {
        **tl.sgm_kohya_keys(tl.lora_layers(pipe.unet, tl.ATTENTION, seed=1), pipe.unet.config.layers_per_block, 2.0),
        **tl.kohya_keys(tl.lora_layers(pipe.text_encoder, tl.CLIP, seed=2), "lora_te1", 2.0),
        **tl.kohya_keys(tl.lora_layers(pipe.text_encoder_2, tl.CLIP, seed=3), "lora_te2", 2.0),
    }
    path = tl.save(state, folder.parent / "xl.safetensors")
    pipe.load_lora_weights(str(path), adapter_name="xl")
    pipe.set_adapters(["xl"], [0.9])
    expected = pipe(
        PROMPT,
        height=32,
        width=32,
        num_inference_steps=2,
        guidance_scale=7.5,
        generator=torch.Generator().manual_seed(42),
        output_type="np",
    ).images[0]
    model = _lora(registry, load_model_handle(folder), path, 0.9)
    adapters = model.pipeline.get_list_adapters()
    assert all(model.loras[0][0] in adapters[part] for part in ("unet", "text_encoder", "text_encoder_2"))
    assert _close(_sd_frames(registry, model), expected) <= TOLERANCE


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


def test_shift_on_a_noise_prediction_model_is_refused(registry, sd_model):
    with pytest.raises(NodeError, match="shift is for flow-matching models"):
        run_node(
            registry,
            "Sampler",
            model=sd_model,
            positive=run_node(registry, "TextEncode", model=sd_model, text=PROMPT)["conditioning"],
            latent=run_node(registry, "EmptyLatent", model=sd_model, width=32, height=32)["latent"],
            shift=3.0,
        )


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


def test_an_sd_lora_on_animatediff_matches_diffusers(registry, sd_loras, tmp_path_factory):
    """AnimateDiff runs an SD 1.x UNet, so SD 1.x LoRAs apply to it."""
    import torch
    from diffusers import AnimateDiffPipeline
    from diffusion_graphs import decode_latent
    from tiny_models import build_animatediff

    folder = build_animatediff(tmp_path_factory.mktemp("models") / "tiny-animatediff")
    pipe = AnimateDiffPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(str(sd_loras["kohya"]), adapter_name="sd")
    pipe.set_adapters(["sd"], [0.9])
    expected = pipe(
        PROMPT,
        num_frames=4,
        height=32,
        width=32,
        num_inference_steps=2,
        guidance_scale=7.5,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]
    model = _lora(registry, load_model_handle(folder), sd_loras["kohya"], 0.9)
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32, frames=4)["latent"]
    sampled = run_node(registry, "Sampler", model=model, positive=positive, latent=latent, steps=2, cfg=7.5, seed=42)
    assert _close(decode_latent(model, sampled["latent"]), expected) <= TOLERANCE


def test_a_wan_lora_of_another_layout_or_size_is_refused_and_the_model_stays_usable(registry, wan_folder, sd_loras):
    import torch

    model = load_model_handle(wan_folder)
    before = _wan_frames(registry, model)
    with pytest.raises(NodeError, match=r"style_kohya.safetensors: .*not a Wan 2.1/2.2 LoRA layout diffusers reads"):
        _lora(registry, model, sd_loras["kohya"])
    wide = {
        "diffusion_model.blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 1536),
        "diffusion_model.blocks.0.self_attn.q.lora_B.weight": torch.zeros(1536, 2),
    }
    with pytest.raises(NodeError, match=r"wide.safetensors: .*other sizes than this model's .*\[2, 1536\]"):
        _lora(registry, model, tl.save(wide, wan_folder.parent / "wide.safetensors"))
    assert not any(model.pipeline.get_list_adapters().values())
    assert _close(_wan_frames(registry, model), before) == 0.0
