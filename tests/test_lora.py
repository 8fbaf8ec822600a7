"""LoadLoRA: each file layout users have changes the output exactly as diffusers' own
``load_lora_weights`` + ``set_adapters`` does; strengths and chains change without reloading
(SD 1.x, SDXL, AnimateDiff here; the video families in test_lora_video.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_loras as tl
from diffusion_graphs import load_model_handle, run_node, text_to_image_graph
from tiny_loras import apply_lora as _lora
from tiny_loras import max_difference as _close
from tiny_models import build_sd, build_sdxl

from studio.graph.model import Link, Node
from studio.nodeapi import NodeError

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4
PROMPT = "a red cat"


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


def test_the_same_file_twice_in_a_stack_adds_its_strengths(registry, sd_model, sd_loras):
    twice = _lora(registry, _lora(registry, sd_model, sd_loras["other"], 0.25), sd_loras["other"], 0.5)
    [(name, path, strength)] = twice.loras
    assert strength == 0.75 and path == str(sd_loras["other"]) and name.startswith("lora_")


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
    # One thread count throughout: automatic counts follow the machine's load, and a LoRA'd run on
    # 1 and on 2 threads can differ by 1 in a value or two (see studio/engine/threads.py).
    shared = Engine(device="cpu", cpu_threads=2)
    together = {name: _frames(shared.run(graph)) for name, graph in graphs.items()}
    alone = {name: _frames(Engine(device="cpu", cpu_threads=2).run(graph)) for name, graph in graphs.items()}
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


# ---- SDXL (Kohya: the UNet's original block names, both text encoders) -------------------------
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
