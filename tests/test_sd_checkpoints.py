"""Full SD 1.x/2.x and SDXL checkpoints in the original layout load offline, with or without a config folder.

Tiny random models are written as diffusers folders and, with the same weights, as original-layout
single files (tests/ldm_layouts.py). With a config folder, LoadModel gives what diffusers' own
``from_single_file`` gives. Without one, the app's shipped configs and CLIP vocabulary describe the
file; for that the tiny models are built from the shipped configs with small sizes (head widths as
the real models have them) and the real CLIP vocabulary, so loading the checkpoint must give back
exactly the diffusers folder's pipeline.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from diffusion_graphs import make_context, run_node
from ldm_layouts import pipeline_to_ldm, save_checkpoint
from tiny_models import build_sd, build_sdxl

from studio.bundled import find_bundled
from studio.engine.context import NodeError

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4
VOCABULARY = "resources/configs/clip/bpe_simple_vocab_16e6.txt.gz"
TEXT_SIZES = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
TEXT_SIZES += ("max_position_embeddings", "hidden_act", "projection_dim", "eos_token_id")


def _shipped(relative: str) -> dict:
    data = json.loads(find_bundled(f"resources/configs/{relative}").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _tokenizer(pad_token=None):
    from nodes.diffusion.families.sd_files import clip_tokenizer, clip_vocabulary

    return clip_tokenizer(clip_vocabulary(find_bundled(VOCABULARY)), 77, pad_token)


def _seeded(make, seed=0):
    import torch

    torch.manual_seed(seed)
    return make().eval()


TWO_LEVELS = {  # attention in the first level and in the last output blocks, as in SD 1.x/2.x
    "layers_per_block": 1,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
}
SMALL_VAE = {
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
}


def real_vocab_sd(folder, configs="sd15", *, v_spread=0.0):
    """A tiny SD 1.x (``sd15``) or SD 2.x (``sd2/512-base``, ``sd2/768-v``) pipeline built from the shipped
    configs: real vocabulary, 64-wide heads where the real model has them, 8 heads in SD 1.x.
    ``v_spread``: the std given to the last output block's first norm bias (what tells SD 2.x 768-v)."""
    import diffusers
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    sd2 = configs.startswith("sd2")
    unet_config = _shipped(f"{configs}/unet/config.json") | TWO_LEVELS
    unet_config |= {"block_out_channels": [64, 128], "cross_attention_dim": 64}
    if sd2:
        unet_config["attention_head_dim"] = [1, 2]
    unet = _seeded(lambda: UNet2DConditionModel(**unet_config))
    if v_spread:
        norm = unet.up_blocks[-1].attentions[-1].transformer_blocks[0].norm1.bias
        with torch.no_grad():
            norm.copy_(torch.randn(norm.shape, generator=torch.Generator().manual_seed(1)) * v_spread)
    vae = _seeded(lambda: AutoencoderKL(**(_shipped(f"{configs}/vae/config.json") | SMALL_VAE)))
    text = _shipped(f"{configs}/text_encoder/config.json")
    text |= {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 1, "num_hidden_layers": 2}
    encoder = _seeded(lambda: CLIPTextModel(CLIPTextConfig(**text)))
    scheduler_file = find_bundled(f"resources/configs/{configs}/scheduler/scheduler_config.json")
    scheduler_class = getattr(diffusers, json.loads(scheduler_file.read_text())["_class_name"])
    scheduler = scheduler_class.from_config(_shipped(f"{configs}/scheduler/scheduler_config.json"))
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=encoder,
        tokenizer=_tokenizer("!" if sd2 else None),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return pipe


def real_vocab_sdxl(folder):
    """A tiny SDXL base pipeline from the shipped configs (real vocabulary, 64-wide heads)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    text = _shipped("sdxl/text_encoder/config.json")
    text |= {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 1, "num_hidden_layers": 2}
    text_2 = _shipped("sdxl/text_encoder_2/config.json")
    text_2 |= {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 2, "num_hidden_layers": 2}
    text_2 |= {"projection_dim": 96}
    unet_config = _shipped("sdxl/unet/config.json") | {
        "block_out_channels": [64, 128],
        "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
        "attention_head_dim": [1, 2],
        "transformer_layers_per_block": [1, 2],
        "cross_attention_dim": 64 + 128,
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 6 * 8 + 96,
    }
    pipe = StableDiffusionXLPipeline(
        unet=_seeded(lambda: UNet2DConditionModel(**unet_config)),
        vae=_seeded(lambda: AutoencoderKL(**(_shipped("sdxl/vae/config.json") | SMALL_VAE))),
        text_encoder=_seeded(lambda: CLIPTextModel(CLIPTextConfig(**text))),
        text_encoder_2=_seeded(lambda: CLIPTextModelWithProjection(CLIPTextConfig(**text_2)), seed=1),
        tokenizer=_tokenizer(),
        tokenizer_2=_tokenizer("!"),
        scheduler=EulerDiscreteScheduler.from_config(_shipped("sdxl/scheduler/scheduler_config.json")),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return pipe


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Name → (diffusers folder, checkpoint file, pipeline class name)."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    root, files = tmp_path_factory.mktemp("folders"), tmp_path_factory.mktemp("files")  # no sidecar folders

    found = {}
    for name, build, cls in (
        ("tiny-sd", build_sd, StableDiffusionPipeline),
        ("tiny-sdxl", build_sdxl, StableDiffusionXLPipeline),
    ):
        folder = build(root / name)
        pipe = cls.from_pretrained(folder, local_files_only=True)
        found[name] = (folder, save_checkpoint(pipe, files / f"{name}.safetensors"), cls.__name__)
    for name, build in (("sd15", lambda f: real_vocab_sd(f)), ("sdxl", real_vocab_sdxl)):
        pipe = build(root / name)
        found[name] = (root / name, save_checkpoint(pipe, files / f"{name}.safetensors"), type(pipe).__name__)
    return found


def _pipeline_class(name):
    import diffusers

    return getattr(diffusers, name)


def _handle(pipe, family, families, path):
    from nodes.diffusion.values import ModelHandle

    adapter = families.adapter(family)
    pipe.set_progress_bar_config(disable=True)
    return ModelHandle(family, pipe, adapter, path, "cpu", "float32", "none", adapter.latent_format(pipe))


def _render(registry, model, *, prompt="a red cat", negative="a blue dog", seed=42):
    """Our node chain on ``model``: the decoded float frames."""
    import torch

    positive = run_node(registry, "TextEncode", model=model, text=prompt)["conditioning"]
    neg = run_node(registry, "TextEncode", model=model, text=negative)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=32)["latent"]
    sampled = run_node(
        registry, "Sampler", model=model, positive=positive, negative=neg, latent=latent, steps=2, cfg=7.5, seed=seed
    )["latent"]
    with torch.no_grad():
        return model.adapter.decode(model, sampled, False, lambda: None)


def _load_shipped(families, family, path):
    import torch

    from nodes.diffusion.loading import sidecar_config
    from nodes.diffusion.values import ModelParts

    assert sidecar_config(path) is None  # else the file would be read with that folder's configs
    adapter = families.adapter(family)
    return adapter.load_file(path, ModelParts(), torch.float32, False, None, bundled=find_bundled)


def _public(config):
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}


def _same_weights(ours, theirs):
    """The largest difference between two pipelines' weights; their names must match."""
    worst = 0.0
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if getattr(theirs, name, None) is None:
            continue
        a, b = getattr(ours, name).state_dict(), getattr(theirs, name).state_dict()
        assert a.keys() == b.keys(), f"{name}: {sorted(set(a) ^ set(b))[:5]}"
        worst = max(worst, *((a[k].float() - b[k].float()).abs().max().item() for k in a))
    return worst


# ---- the test layout itself ----


@pytest.mark.parametrize("name", ["tiny-sd", "tiny-sdxl", "sd15", "sdxl"])
def test_the_original_layout_converts_back_to_the_same_weights(models, name):
    """tests/ldm_layouts.py is the exact reverse of diffusers' own converters."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
        convert_open_clip_checkpoint,
    )

    folder, _, cls = models[name]
    pipe = _pipeline_class(cls).from_pretrained(folder, local_files_only=True)
    checkpoint = pipeline_to_ldm(pipe)

    def same(converted, model):
        expected = model.state_dict()
        if not any(k.startswith("text_model.") for k in expected):  # transformers' flattened CLIPTextModel
            converted = {k.removeprefix("text_model."): v for k, v in converted.items()}
        assert expected.keys() == converted.keys()
        assert all(np.array_equal(converted[k].numpy(), expected[k].numpy()) for k in expected)

    same(convert_ldm_unet_checkpoint(checkpoint, dict(pipe.unet.config)), pipe.unet)
    same(convert_ldm_vae_checkpoint(checkpoint, dict(pipe.vae.config)), pipe.vae)
    same(convert_ldm_clip_checkpoint(checkpoint), pipe.text_encoder)
    if "sdxl" in name:
        prefix = "conditioner.embedders.1.model."
        same(convert_open_clip_checkpoint(pipe.text_encoder_2, checkpoint, prefix), pipe.text_encoder_2)


def test_sd2_layout_carries_the_openclip_layer_diffusers_leaves_out(tmp_path):
    from diffusers.loaders.single_file_utils import convert_open_clip_checkpoint

    pipe = real_vocab_sd(tmp_path / "sd2", "sd2/512-base")
    checkpoint = pipeline_to_ldm(pipe)
    assert "cond_stage_model.model.transformer.resblocks.2.attn.in_proj_weight" in checkpoint  # 2 kept + 1
    converted = convert_open_clip_checkpoint(pipe.text_encoder, checkpoint)
    expected = pipe.text_encoder.state_dict()
    for key, value in expected.items():
        assert np.array_equal(converted["text_model." + key].numpy(), value.numpy())


# ---- with a config folder: as diffusers' from_single_file ----


# diffusers tells SDXL's two text encoders apart by width, so tiny_models' SDXL (both 16 wide) cannot be
# read from one file by from_single_file; the SDXL case uses the tiny model built from the shipped configs.
@pytest.mark.parametrize("name", ["tiny-sd", "sdxl"])
def test_checkpoint_with_config_folder_renders_as_diffusers_from_single_file(registry, families, models, name):
    folder, checkpoint, cls = models[name]
    spec = registry["LoadModel"]
    values = dict(path=str(checkpoint), family="auto", dtype="auto", offload="none", config=str(folder))
    ours = spec.compute(make_context("LoadModel"), **values)["model"]
    family = ours.family
    theirs = _pipeline_class(cls).from_single_file(str(checkpoint), config=str(folder), local_files_only=True)
    folder_pipe = _pipeline_class(cls).from_pretrained(folder, local_files_only=True)
    assert _same_weights(ours.pipeline, theirs) == 0.0
    assert _same_weights(ours.pipeline, folder_pipe) == 0.0
    expected = _render(registry, _handle(theirs, family, families, checkpoint))
    rendered = _render(registry, ours)
    assert rendered.shape == expected.shape == (1, 32, 32, 3)
    assert np.abs(rendered - expected).max() <= TOLERANCE


# ---- without a config folder: the shipped configs ----


@pytest.mark.parametrize(("name", "family"), [("sd15", "sd15"), ("sdxl", "sdxl")])
def test_checkpoint_without_config_loads_offline_and_renders_as_its_diffusers_folder(
    registry, families, models, name, family
):
    folder, checkpoint, cls = models[name]
    started = time.perf_counter()
    pipe = _load_shipped(families, family, checkpoint)
    loaded_in = time.perf_counter() - started
    reference = _pipeline_class(cls).from_pretrained(folder, local_files_only=True)
    assert type(pipe).__name__ == cls
    assert _same_weights(pipe, reference) == 0.0
    for part in ("unet", "vae", "scheduler"):  # the configs the shapes told match the folder's
        assert _public(getattr(pipe, part).config) == _public(getattr(reference, part).config)
    for part in ("text_encoder", "text_encoder_2"):
        if getattr(reference, part, None) is not None:
            ours, theirs = getattr(pipe, part).config.to_dict(), getattr(reference, part).config.to_dict()
            assert {k: ours.get(k) for k in TEXT_SIZES} == {k: theirs.get(k) for k in TEXT_SIZES}
    assert pipe.tokenizer("a photo of a cat").input_ids == reference.tokenizer("a photo of a cat").input_ids
    rendered = _render(registry, _handle(pipe, family, families, checkpoint))
    expected = _render(registry, _handle(reference, family, families, folder))
    assert rendered.shape == (1, 32, 32, 3) and np.isfinite(rendered).all()
    assert np.abs(rendered - expected).max() <= TOLERANCE
    assert loaded_in < 60


def test_the_loader_never_reaches_the_network(families, models, monkeypatch):
    """HF_HUB_OFFLINE and local_files_only while diffusers reads the file; any connection attempt fails the test."""
    import os
    import socket

    import diffusers

    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen = []
    original = diffusers.StableDiffusionPipeline.from_single_file.__func__

    def spy(cls, path, **kwargs):
        seen.append((os.environ.get("HF_HUB_OFFLINE"), kwargs.get("local_files_only"), kwargs.get("config")))
        return original(cls, path, **kwargs)

    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "from_single_file", classmethod(spy))
    _load_shipped(families, "sd15", models["sd15"][1])
    assert seen and seen[-1][:2] == ("1", True) and seen[-1][2] is not None
    assert "HF_HUB_OFFLINE" not in os.environ  # restored afterwards


@pytest.mark.parametrize(
    ("configs", "spread", "prediction", "sample_size"),
    [("sd2/512-base", 0.0, "epsilon", 64), ("sd2/768-v", 0.2, "v_prediction", 96)],
    ids=["512-base", "768-v"],
)
def test_sd2_prediction_type_is_told_from_the_checkpoint(
    registry, families, tmp_path, configs, spread, prediction, sample_size
):
    reference = real_vocab_sd(tmp_path / "sd2", configs, v_spread=spread)
    checkpoint = save_checkpoint(reference, tmp_path / "sd2-file.safetensors")
    pipe = _load_shipped(families, "sd15", checkpoint)
    assert pipe.scheduler.config.prediction_type == prediction
    assert pipe.unet.config.sample_size == sample_size
    assert pipe.text_encoder.config.num_hidden_layers == 2  # the file holds 3 OpenCLIP layers
    assert pipe.tokenizer.pad_token == "!"
    assert _same_weights(pipe, reference) == 0.0
    rendered = _render(registry, _handle(pipe, "sd15", families, checkpoint))
    expected = _render(registry, _handle(reference, "sd15", families, tmp_path / "sd2"))
    assert np.abs(rendered - expected).max() <= TOLERANCE


def test_a_v_pred_marker_makes_an_sdxl_checkpoint_v_prediction(families, models, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(models["sdxl"][1])) | {"v_pred": torch.tensor([]), "ztsnr": torch.tensor([])}
    marked = tmp_path / "vpred-xl.safetensors"
    save_file(tensors, str(marked))
    config = _load_shipped(families, "sdxl", marked).scheduler.config
    assert config.prediction_type == "v_prediction" and config.rescale_betas_zero_snr is True


# ---- the shipped CLIP vocabulary ----


def test_shipped_vocabulary_gives_clip_token_ids():
    """Ids as OpenAI CLIP ViT-L/14 gives them (published in several tokenizer test suites), and the two
    padding conventions: SD 1.x's ``<|endoftext|>`` and OpenCLIP's ``!`` (diffusers issue 4153)."""
    clip = _tokenizer()
    assert clip("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert clip("Hello, world!").input_ids == [49406, 3306, 267, 1002, 256, 49407]
    assert clip("A PHOTO of  a Cat!").input_ids == [49406, 320, 1125, 539, 320, 2368, 256, 49407]
    assert [clip(w).input_ids[1] for w in ("cat", "dog", "car", "beach", "sunset")] == [2368, 1929, 1615, 2117, 3424]
    assert clip("! !! !!!", padding="max_length", max_length=8).input_ids == [49406, 256, 748, 995] + [49407] * 4
    open_clip = _tokenizer("!")
    assert open_clip("! !! !!!", padding="max_length", max_length=10).input_ids == [49406] + [0] * 6 + [49407, 0, 0]
    assert len(clip) == 49408 and clip.model_max_length == 77


# ---- what is refused, and how ----


def _placeholder(path, shapes):
    import torch
    from safetensors.torch import save_file

    save_file({name: torch.zeros(shape) for name, shape in shapes.items()}, str(path))
    return path


UNET_KEYS = {"model.diffusion_model.input_blocks.0.0.weight": (8, 4, 3, 3)}


@pytest.mark.parametrize(
    ("shapes", "family", "message"),
    [
        (UNET_KEYS, "sd15", r"holds a UNet but no text encoder"),
        (UNET_KEYS | {"conditioner.embedders.0.model.text_projection": (4, 4)}, "sdxl", r"SDXL refiner"),
        ({"first_stage_model.encoder.conv_in.weight": (4, 3, 3, 3)}, "sd15", r"holds no Stable Diffusion UNet"),
        (UNET_KEYS | {"edm_mean": (4,), "conditioner.embedders.1.model.x": (1,)}, "sdxl", r"Playground v2.5"),
        (
            {"model.diffusion_model.input_blocks.0.0.weight": (8, 9, 3, 3), "cond_stage_model.transformer.x": (1,)},
            "sd15",
            r"is an inpainting checkpoint: its UNet takes 9 input channels",
        ),
        (UNET_KEYS | {"cond_stage_model.transformer.x": (1,)}, "sdxl", r"is an SD 1.x checkpoint; set family to sd15"),
    ],
    ids=["bare-unet", "refiner", "no-unet", "playground", "inpainting", "wrong-family"],
)
def test_checkpoints_the_families_cannot_run_are_refused_by_name(families, tmp_path, shapes, family, message):
    checkpoint = _placeholder(tmp_path / "odd.safetensors", shapes)
    with pytest.raises(NodeError, match=message):
        _load_shipped(families, family, checkpoint)


def test_a_pickled_checkpoint_loads_only_when_allowed(families, models, tmp_path):
    import torch
    from safetensors.torch import load_file

    from nodes.diffusion.values import ModelParts

    folder, checkpoint, cls = models["sd15"]
    pickled = tmp_path / "sd15.ckpt"
    torch.save({"state_dict": load_file(str(checkpoint))}, pickled)
    adapter = families.adapter("sd15")
    with pytest.raises(NodeError, match=r"pickle file \(.ckpt\)"):
        adapter.load_file(pickled, ModelParts(), torch.float32, False, None, bundled=find_bundled)
    pipe = adapter.load_file(pickled, ModelParts(), torch.float32, True, None, bundled=find_bundled)
    assert _same_weights(pipe, _pipeline_class(cls).from_pretrained(folder, local_files_only=True)) == 0.0


def test_a_config_folder_still_overrides_the_shipped_configs(families, models, monkeypatch):
    import diffusers
    import torch

    from nodes.diffusion.values import ModelParts

    seen = []
    monkeypatch.setattr(
        diffusers.StableDiffusionPipeline,
        "from_single_file",
        classmethod(lambda cls, path, **kwargs: seen.append(kwargs["config"]) or "loaded"),
    )
    folder, checkpoint, _ = models["sd15"]
    adapter = families.adapter("sd15")
    assert adapter.load_file(checkpoint, ModelParts(), torch.float32, False, folder, bundled=find_bundled) == "loaded"
    assert seen == [str(folder)]


def test_load_model_reads_a_bare_checkpoint_with_the_shipped_configs(registry, models):
    """The whole graph, once LoadModel hands its run context's bundled-file lookup to the family."""
    import inspect

    from diffusion_graphs import text_to_image_graph

    from nodes.diffusion.loading import load_model
    from studio.engine import Engine

    if "bundled" not in inspect.signature(load_model).parameters:
        pytest.skip("LoadModel does not pass ctx.bundled to the family's load_file yet")
    folder, checkpoint, _ = models["sd15"]
    frames = {}
    for name, path in (("file", checkpoint), ("folder", folder)):
        engine = Engine("cpu", registry=registry, cpu_threads=2)  # the same threads for both: the load is compared
        report = engine.run(text_to_image_graph(path, prompt="a photo of a cat"))
        assert report.ok, report.failed
        frames[name] = report.outputs["preview"]["frames"].array
    assert frames["file"].shape == (1, 32, 32, 3)
    assert np.array_equal(frames["file"], frames["folder"])


# ---- real sizes, from shapes alone ----


def _real_size_checkpoint(configs, spread):
    """The tensor shapes of a real-size checkpoint of the shipped configs (models built on the meta
    device, nothing allocated), and the models they came from."""
    from pathlib import Path
    from types import SimpleNamespace

    import diffusers
    import torch
    import transformers

    from nodes.diffusion.families.sd_files import Checkpoint

    index = _shipped(f"{configs}/model_index.json")
    parts = {}
    with torch.device("meta"):
        for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
            if name not in index:
                continue
            config = _shipped(f"{configs}/{name}/config.json")
            if name.startswith("text_encoder"):
                parts[name] = getattr(transformers, index[name][1])(transformers.CLIPTextConfig(**config))
            else:
                parts[name] = getattr(diffusers, index[name][1]).from_config(config)
    shapes = {k: tuple(v.shape) for k, v in pipeline_to_ldm(SimpleNamespace(**parts)).items()}

    def read(name):
        return torch.randn(shapes[name], generator=torch.Generator().manual_seed(0)) * spread

    return Checkpoint(Path(f"real-{configs.replace('/', '-')}.safetensors"), shapes, read), parts


@pytest.mark.parametrize(
    ("configs", "spread", "label"),
    [
        ("sd15", 0.0, "SD 1.x"),
        ("sd2/512-base", 0.02, "SD 2.x 512-base"),
        ("sd2/768-v", 0.2, "SD 2.x 768-v"),
        ("sdxl", 0.0, "SDXL"),
    ],
)
def test_real_size_shapes_give_back_the_published_configs(tmp_path, configs, spread, label):
    """What the shapes of a real SD 1.5, 2.1-base, 2.1 or SDXL base checkpoint tell is what the published
    diffusers configs say (the variant, and every size: levels, heads, depths, widths, time ids)."""
    from nodes.diffusion.families.sd_files import tell_variant, write_configs

    checkpoint, parts = _real_size_checkpoint(configs, spread)
    variant = tell_variant(checkpoint)
    assert (variant.label, variant.configs) == (label, configs)
    lengths = write_configs(checkpoint, variant, find_bundled(f"resources/configs/{configs}"), tmp_path)
    assert set(lengths.values()) == {77}
    for name, model in parts.items():
        written = json.loads((tmp_path / name / "config.json").read_text())
        published = model.config.to_dict() if name.startswith("text_encoder") else dict(model.config)
        published = json.loads(json.dumps(published))
        assert {k: v for k, v in _public(written).items() if published.get(k) != v} == {}, name
