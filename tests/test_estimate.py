"""The memory estimate: read from headers and configs (never weights), advice when over budget, the
warning before a run, ``studio run --estimate`` and the window's label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from diffusion_graphs import text_to_image_graph

from nodes.diffusion.footprint import tensor_bytes
from studio.engine import Engine
from studio.engine.estimate import MemoryBudget
from studio.graph.fileformat import load_graph
from studio.nodeapi.weights import TensorInfo

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources/models/starter"
STARTER_GRAPH = ROOT / "resources/graphs/starter.graph.json"
MB = 2**20


def _engine(registry, device="cpu", dtype=None):
    engine = Engine(device, registry=registry)
    if device == "cuda":  # no GPU here: plan for one without resolving it
        engine._device, engine._dtype = "cuda", dtype or "bfloat16"
    return engine


def _weights_in_files(folder):
    """Every value the folder's .safetensors files declare, at float32's 4 bytes."""
    from nodes.diffusion.footprint import file_tensors

    total = 0
    for path in folder.glob("*/*.safetensors"):
        for info in file_tensors(path).values():
            count = 1
            for d in info.shape:
                count *= d
            total += count * 4
    return total


@pytest.mark.ml
def test_the_starter_model_is_estimated_from_its_headers_without_loading(registry, monkeypatch):
    import diffusers.models.model_loading_utils as loading_utils

    def refuse(*args, **kwargs):
        raise AssertionError("the estimate loaded weights")

    monkeypatch.setattr(loading_utils, "load_state_dict", refuse)
    estimate = _engine(registry).estimate(load_graph(STARTER_GRAPH))
    load = estimate.nodes["model"].use
    assert load is not None and not estimate.unknown
    # float32 on the CPU: every stored value at 4 bytes, plus the CPU runtime's share
    from nodes.diffusion.estimate import CPU_RUNTIME

    assert load.held_ram - CPU_RUNTIME == _weights_in_files(STARTER)
    assert estimate.fits and estimate.peak_ram >= load.held_ram and estimate.peak_vram == 0
    assert estimate.nodes["decode"].use.held_ram == 9 * 64 * 64 * 3  # the frames, uint8
    # the starter's Upscale ×4 and Interpolate ×4 hold their larger frames for the rest of the run
    assert estimate.nodes["upscale"].use.held_ram == 9 * 256 * 256 * 3
    assert estimate.nodes["interpolate"].use.held_ram == 36 * 256 * 256 * 3
    assert estimate.nodes["audio"].use is None  # no hook: nothing counted, nothing guessed


@pytest.mark.ml
def test_a_node_without_a_hook_hands_the_model_on(registry):
    from studio.graph.model import Link, Node
    from studio.graph.spec import InputSpec, OutputSpec, node_type

    @node_type(
        "PassModel", category="Test", inputs=[InputSpec("model", "MODEL")], outputs=[OutputSpec("model", "MODEL")]
    )
    def pass_model(ctx, *, model):
        return {"model": model}

    registry.register(pass_model)
    graph = load_graph(STARTER_GRAPH)
    graph.add_node(Node("lora", "PassModel", {}))
    graph.connect(Link("model", "model", "lora", "model"))
    graph.connect(Link("lora", "model", "sampler", "model"))
    estimate = _engine(registry).estimate(graph)
    assert estimate.nodes["lora"].use is None and estimate.nodes["sampler"].use.work_ram > 0


def test_storage_precision_counts():
    assert tensor_bytes(TensorInfo("F16", (10, 10)), 4) == 400  # cast to the float32 compute dtype
    assert tensor_bytes(TensorInfo("F8_E4M3", (10, 10)), 2) == 100  # fp8 stays fp8
    assert tensor_bytes(TensorInfo("Q8_0", (64, 32)), 2) == 64 * 34  # GGUF stays quantised: 34 bytes / 32
    assert tensor_bytes(TensorInfo("I64", (3,)), 2) == 24


def test_single_file_is_split_by_key_prefix(registry, tmp_path):
    from nodes.diffusion.footprint import file_footprint
    from nodes.diffusion.values import ModelParts

    header = {
        "model.diffusion_model.input_blocks.0.0.weight": {
            "dtype": "F16",
            "shape": [320, 4, 3, 3],
            "data_offsets": [0, 0],
        },
        "first_stage_model.decoder.conv_in.weight": {"dtype": "F32", "shape": [8, 4], "data_offsets": [0, 0]},
        "cond_stage_model.transformer.x": {"dtype": "F16", "shape": [16], "data_offsets": [0, 0]},
    }
    path = tmp_path / "model.safetensors"
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    footprint = file_footprint(path, ModelParts(), 2, None)
    assert footprint.weights == {"denoiser": 320 * 4 * 9 * 2, "vae": 32 * 2, "text_encoder": 32}


@pytest.mark.ml
def test_over_budget_on_the_cpu_advises_tiling_or_a_smaller_size(registry):
    graph = load_graph(STARTER_GRAPH)
    graph.set_param("latent", "width", 512)
    graph.set_param("latent", "height", 512)
    engine = _engine(registry)
    full = engine.estimate(graph).peak_ram
    tiled = engine.estimate(graph, budget=MemoryBudget(ram=full - 1))
    assert not tiled.fits
    texts = [a.text for a in tiled.advice if a.fits]
    assert texts and all(a.peak_ram < full for a in tiled.advice)
    assert any("size" in t or "tiled" in t for t in texts)
    assert not any("offload" in t for t in texts)  # offload means nothing on the CPU
    assert "will not fit" in tiled.summary()


@pytest.mark.ml
def test_over_budget_on_cuda_advises_offload_first(registry):
    graph = load_graph(STARTER_GRAPH)
    engine = _engine(registry, "cuda")
    plain = engine.estimate(graph, budget=MemoryBudget(ram=2**40, vram=2**40))
    weights = plain.nodes["model"].use.held_vram
    assert weights > 0 and plain.nodes["model"].use.held_ram == 0  # on the GPU without offload
    tight = engine.estimate(graph, budget=MemoryBudget(ram=2**40, vram=plain.peak_vram - weights // 2))
    first = next(a for a in tight.advice if a.fits)
    assert first.changes == (("model", "offload", "model"),)
    graph.set_param("model", "offload", "group")
    grouped = engine.estimate(graph, budget=MemoryBudget(ram=2**40, vram=2**40))
    assert grouped.peak_vram < plain.peak_vram and grouped.nodes["model"].use.held_vram == 0


@pytest.mark.ml
def test_a_run_that_will_not_fit_warns_before_loading(registry, monkeypatch, tmp_path):
    import studio.engine.estimate as estimate_module

    monkeypatch.setattr(estimate_module, "available_ram", lambda: 1 * MB)
    graph = text_to_image_graph(STARTER, width=16, height=16, frames=5, steps=1)
    events = []
    report = Engine("cpu", registry=registry).run(graph, events.append, output_dir=tmp_path)
    assert report.ok  # a warning, not a refusal: the estimate may be wrong
    assert events[0].kind == "memory_warning" and "will not fit" in events[0].message
    assert events[1].kind == "node_started"


def test_cli_estimate_prints_and_exits_without_running(tmp_path, capsys, studio_home, monkeypatch):
    from studio.cli import main

    out = tmp_path / "out"
    assert main(["run", str(STARTER_GRAPH), "--estimate", "--device", "cpu", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Memory (cpu)" in text and "fits" in text and "sampler" in text
    assert not out.exists() or not any(out.iterdir())  # nothing ran

    assert main(["run", str(STARTER_GRAPH), "--estimate", "--json", "--device", "cpu"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    event = json.loads(line)
    assert event["event"] == "estimate" and event["fits"] and event["nodes"]["model"]["held_ram"] > 0

    import studio.engine.estimate as estimate_module

    monkeypatch.setattr(estimate_module, "available_ram", lambda: 1 * MB)
    assert main(["run", str(STARTER_GRAPH), "--estimate", "--device", "cpu"]) == 1
    assert "will not fit" in capsys.readouterr().out

    broken = tmp_path / "broken.graph.json"
    data = json.loads(STARTER_GRAPH.read_text())
    data["links"] = data["links"][1:]  # the prompt loses its model
    broken.write_text(json.dumps(data))
    assert main(["run", str(broken), "--estimate", "--device", "cpu"]) == 2


@pytest.mark.qt
def test_the_label_beside_run_follows_the_graph(qtbot, registry):
    from studio.ui.estimate_label import EstimateLabel

    graph = load_graph(STARTER_GRAPH)
    engine = _engine(registry)
    budget = engine.estimate(graph).peak_ram + 1
    label = EstimateLabel(lambda: graph, lambda g: engine.estimate(g, budget=MemoryBudget(ram=budget)), 10, 10)
    qtbot.addWidget(label)
    with qtbot.waitSignal(label.estimated, timeout=10_000):
        label.schedule()
    assert "fits" in label.text() and "sampler" in label.toolTip()

    graph.set_param("latent", "frames", 33)  # four times the frames: over the budget
    with qtbot.waitSignal(label.estimated, timeout=10_000):
        label.schedule()
    assert "will not fit" in label.text() and "try" in label.text()
    label.wait()


def test_a_graph_without_a_model_is_estimated_without_finding_the_device(registry, tmp_path):
    from studio.graph.model import Graph, Link, Node

    graph = Graph()
    graph.add_node(Node("video", "LoadVideo", {"path": str(tmp_path / "clip.mp4")}))
    graph.add_node(Node("upscale", "Upscale", {"scale": 2.0}))
    graph.add_node(Node("preview", "PreviewVideo", {}))
    graph.connect(Link("video", "frames", "upscale", "frames"))
    graph.connect(Link("upscale", "frames", "preview", "frames"))
    engine = Engine("auto", registry=registry)
    estimate = engine.estimate(graph)
    assert engine._device is None and estimate.fits and estimate.device == "auto"  # torch not needed


def test_missing_model_files_are_named_not_counted_as_nothing(registry, tmp_path, capsys):
    """The Wan example on a machine without Wan: both its files are missing, and nothing says it fits."""
    from studio.cli import main

    graph = load_graph(ROOT / "resources/graphs/wan-4step-lora.graph.json")
    estimate = _engine(registry).estimate(graph)
    assert [(node, path) for node, _type, path in estimate.missing] == [
        ("model", "Wan2.1-T2V-14B-Diffusers"),
        ("lora", "Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank32.safetensors"),
    ]
    assert estimate.summary() == "2 model files missing · memory not estimated"
    assert estimate.to_json()["nodes"]["lora"]["missing"] == [graph.node("lora").params["path"]]

    path = tmp_path / "wan.graph.json"
    path.write_text((ROOT / "resources/graphs/wan-4step-lora.graph.json").read_text())
    assert main(["run", str(path), "--estimate", "--device", "cpu"]) == 1  # not "fits"
    assert "2 model files missing" in capsys.readouterr().out


def test_a_lora_is_counted_and_a_node_that_cannot_tell_is_never_called_fitting(registry, tmp_path):
    from studio.graph.model import Link, Node

    graph = load_graph(STARTER_GRAPH)
    base = _engine(registry).estimate(graph)
    lora = tmp_path / "style.safetensors"
    lora.write_bytes(b"\0" * 4096)  # only its size is read
    graph.add_node(Node("lora", "LoadLoRA", {"path": str(lora)}))
    for link in [lk for lk in graph.links if lk.from_node == "model"]:  # the LoRA between the model and its users
        graph.connect(Link("lora", "model", link.to_node, link.to_port))
    graph.connect(Link("model", "model", "lora", "model"))
    with_lora = _engine(registry).estimate(graph)
    assert with_lora.nodes["lora"].use.held_ram == 4096 and with_lora.peak_ram == base.peak_ram + 4096
    assert "fits" in with_lora.summary()

    graph.set_param("lora", "path", "")  # not chosen: not missing, but not measured either
    unsure = _engine(registry).estimate(graph)
    assert not unsure.missing and unsure.unknown == ["lora"]
    assert "fits" not in unsure.summary() and "1 node not estimated" in unsure.summary()


def test_a_missing_upscaler_file_is_named_and_a_present_one_counted(registry, tmp_path):
    """Upscale with method "model" checks its file as LoadLoRA does: missing, it is named (the window
    marks the node); present, its weights count while it runs; resampling needs no file at all."""
    graph = load_graph(STARTER_GRAPH)
    graph.set_param("upscale", "method", "model")
    graph.set_param("upscale", "model_path", str(tmp_path / "4x-Ultra\x1bSharp.safetensors"))
    missing = _engine(registry).estimate(graph)
    assert missing.missing == [("upscale", "Upscale", str(tmp_path / "4x-Ultra\x1bSharp.safetensors"))]
    assert "1 model file missing" in missing.summary()

    upscaler = tmp_path / "4x.pth"
    upscaler.write_bytes(b"\0" * 8192)  # only its size is read
    graph.set_param("upscale", "model_path", str(upscaler))
    found = _engine(registry).estimate(graph)
    assert not found.missing and found.nodes["upscale"].use.work_ram == 8192 + 9 * 256 * 256 * 3
    assert "upscaler" in found.nodes["upscale"].use.note and "fits" in found.summary()

    graph.set_param("upscale", "method", "lanczos")  # the path left behind is not needed
    graph.set_param("upscale", "model_path", str(tmp_path / "gone.pth"))
    assert not _engine(registry).estimate(graph).missing
