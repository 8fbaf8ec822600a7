"""Wan from the files ComfyUI users have (a bare transformer, a UMT5 file, a Wan VAE file) renders
what diffusers' own WanPipeline renders from the equivalent diffusers folder."""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, make_context, run_node, text_to_image_graph
from wan_layouts import (
    comfy_umt5,
    original_transformer,
    original_vae,
    original_vae22,
    save,
    train_spiece,
    wan_components,
    write_comfy_tree,
)

from studio.engine.context import NodeError, RunSettings

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4  # as tests/test_diffusion_wan.py
PROMPT, NEGATIVE = "a red cat runs", "a blue sky"
COMFY_PREFIX = "model.diffusion_model."


@pytest.fixture(scope="module")
def spiece():
    return train_spiece()


@pytest.fixture(scope="module")
def components(spiece):
    return wan_components(spiece)


@pytest.fixture(scope="module")
def wan_folder(components, tmp_path_factory):
    from diffusers import WanPipeline

    folder = tmp_path_factory.mktemp("models") / "tiny-wan"
    WanPipeline(**components).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def comfy(components, spiece, tmp_path_factory):
    return write_comfy_tree(components, spiece, tmp_path_factory.mktemp("comfyui") / "models")


def _reference(pipe, steps: int = 2, size: tuple[int, int, int] = (32, 16, 9)):
    import torch

    pipe.set_progress_bar_config(disable=True)
    return pipe(
        PROMPT,
        negative_prompt=NEGATIVE,
        height=size[1],
        width=size[0],
        num_frames=size[2],
        num_inference_steps=steps,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]


@pytest.fixture(scope="module")
def expected(wan_folder):
    from diffusers import WanPipeline

    return _reference(WanPipeline.from_pretrained(wan_folder, local_files_only=True))


def _load(registry, path, *, allow_pickle: bool = False, family: str = "auto", **parts):
    values = {"path": str(path), "family": family, "dtype": "auto", "offload": "none", "config": ""}
    values |= {"text_encoder": "", "vae": "", "image_encoder": ""}
    values |= {name: str(value) for name, value in parts.items()}
    ctx = make_context("LoadModel", settings=RunSettings(allow_pickle=allow_pickle))
    return registry["LoadModel"].compute(ctx, **values)["model"]


def _render(registry, model, steps: int = 2, size: tuple[int, int, int] = (32, 16, 9)):
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text=NEGATIVE)["conditioning"]
    width, height, frames = size
    latent = run_node(registry, "EmptyLatent", model=model, width=width, height=height, frames=frames)["latent"]
    values = dict(positive=positive, negative=negative, latent=latent, steps=steps, cfg=6.0, seed=42)
    return decode_latent(model, run_node(registry, "Sampler", model=model, **values)["latent"])


def test_original_layouts_round_trip_through_diffusers_converters(components):
    import torch
    from diffusers.loaders.single_file_utils import (
        convert_wan_transformer_to_diffusers,
        convert_wan_vae_to_diffusers,
    )

    for name, to_original, to_diffusers in (
        ("transformer", original_transformer, convert_wan_transformer_to_diffusers),
        ("vae", original_vae, convert_wan_vae_to_diffusers),
    ):
        state = components[name].state_dict()
        original = to_original(state)
        assert len(original) == len(state)
        back = to_diffusers(dict(original))
        assert set(back) == set(state)
        assert all(torch.equal(back[key], state[key]) for key in state)
    assert "head.modulation" in original_transformer(components["transformer"].state_dict())


def test_comfyui_files_render_like_the_diffusers_folder(registry, comfy, expected):
    from studio.engine import Engine

    model = _load(registry, comfy["path"], text_encoder=comfy["text_encoder"], vae=comfy["vae"])
    assert model.family == "wan" and model.pipeline.transformer_2 is None
    ours = _render(registry, model)
    assert ours.shape == expected.shape == (9, 16, 32, 3)
    assert np.abs(ours - expected).max() <= TOLERANCE

    graph = text_to_image_graph(comfy["path"], prompt=PROMPT, negative=NEGATIVE, width=32, height=16, frames=9, cfg=6.0)
    graph.set_param("load", "text_encoder", str(comfy["text_encoder"]))
    graph.set_param("load", "vae", str(comfy["vae"]))
    report = Engine("cpu", registry=registry).run(graph)
    assert report.ok, report.failed
    frames = report.outputs["preview"]["frames"].array
    assert np.abs(frames.astype(int) - (expected * 255).round().astype(int)).max() <= 1


def test_comfyui_prefixed_transformer_renders_the_same(registry, components, comfy, expected, tmp_path):
    prefixed = save(
        original_transformer(components["transformer"].state_dict()), tmp_path / "wan.safetensors", COMFY_PREFIX
    )
    model = _load(registry, prefixed, text_encoder=comfy["text_encoder"], vae=comfy["vae"])
    assert np.abs(_render(registry, model) - expected).max() <= TOLERANCE


def test_parts_from_diffusers_folders(registry, comfy, wan_folder, expected):
    for text_encoder, vae in ((wan_folder / "text_encoder", wan_folder / "vae"), (wan_folder, wan_folder)):
        model = _load(registry, comfy["path"], text_encoder=text_encoder, vae=vae)
        assert np.abs(_render(registry, model) - expected).max() <= TOLERANCE


def test_tokenizer_from_the_files_spiece_model_tokenizes_as_the_folders(registry, comfy, wan_folder, spiece):
    import sentencepiece
    from transformers import AutoTokenizer

    ours = _load(registry, comfy["path"], text_encoder=comfy["text_encoder"], vae=comfy["vae"]).pipeline.tokenizer
    theirs = AutoTokenizer.from_pretrained(wan_folder / "tokenizer", local_files_only=True)
    processor = sentencepiece.SentencePieceProcessor(model_proto=spiece)
    for text in ("a red cat runs", "The big  dog runs fast!", "", "an old boat, by the river; 42"):
        settings = dict(padding="max_length", max_length=24, truncation=True, add_special_tokens=True)
        assert ours(text, **settings).input_ids == theirs(text, **settings).input_ids
        assert ours(text).input_ids == processor.encode(text) + [1]  # as ComfyUI's SPieceTokenizer reads it


def test_missing_parts_are_named(registry, comfy):
    name = comfy["path"].name
    with pytest.raises(NodeError) as error:
        _load(registry, comfy["path"])
    assert str(error.value).endswith(
        f"{name} is a bare Wan transformer: set text_encoder to a UMT5 file (ComfyUI: "
        "text_encoders/umt5_xxl_*.safetensors) and vae to a Wan VAE file (vae/wan_2.1_vae.safetensors)"
    )
    with pytest.raises(NodeError, match=r"set vae to a Wan VAE file \(vae/wan_2\.1_vae\.safetensors\)$"):
        _load(registry, comfy["path"], text_encoder=comfy["text_encoder"])
    with pytest.raises(NodeError, match=f"image_encoder: {name} takes no image encoder"):
        _load(registry, comfy["path"], text_encoder=comfy["text_encoder"], vae=comfy["vae"], image_encoder=comfy["vae"])
    with pytest.raises(NodeError, match=r"vae: umt5_xxl_fp16\.safetensors is not a Wan VAE"):
        _load(registry, comfy["path"], text_encoder=comfy["text_encoder"], vae=comfy["text_encoder"])
    with pytest.raises(NodeError, match=r"text_encoder: wan_2\.1_vae\.safetensors is not a UMT5 text encoder"):
        _load(registry, comfy["path"], text_encoder=comfy["vae"], vae=comfy["vae"])


def test_tokenizer_without_spiece_model_comes_from_the_cache_or_is_named(
    registry, components, comfy, spiece, expected, tmp_path, monkeypatch
):
    import huggingface_hub.constants

    bare = save(comfy_umt5(components["text_encoder"].state_dict(), None), tmp_path / "umt5_xxl_bf16.safetensors")
    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    with pytest.raises(NodeError) as error:
        _load(registry, comfy["path"], text_encoder=bare, vae=comfy["vae"])
    message = str(error.value)
    assert "umt5_xxl_bf16.safetensors carries no tokenizer" in message
    assert "google/umt5-xxl's tokenizer" in message and "huggingface-cli download google/umt5-xxl" in message

    # google/umt5-xxl's spiece.model in the cache, laid out as huggingface_hub keeps it.
    repo = cache / "models--google--umt5-xxl"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "spiece.model").write_bytes(spiece)
    model = _load(registry, comfy["path"], text_encoder=bare, vae=comfy["vae"])
    assert np.abs(_render(registry, model) - expected).max() <= TOLERANCE


def test_wan22_a14b_experts_load_together(registry, components, comfy, tmp_path):
    import torch
    from diffusers import WanPipeline, WanTransformer3DModel

    torch.manual_seed(1)
    low = WanTransformer3DModel.from_config(components["transformer"].config).eval()
    high_file = save(
        original_transformer(components["transformer"].state_dict()),
        tmp_path / "wan2.2_t2v_high_noise_14B_fp16.safetensors",
    )
    low_name = "wan2.2_t2v_low_noise_14B_fp16.safetensors"
    with pytest.raises(NodeError, match=f"its low-noise partner {low_name} was not found beside it"):
        _load(registry, high_file, text_encoder=comfy["text_encoder"], vae=comfy["vae"])
    low_file = save(original_transformer(low.state_dict()), tmp_path / low_name)

    reference = _reference(WanPipeline(**components, transformer_2=low, boundary_ratio=0.875), steps=3)
    for named in (high_file, low_file):
        model = _load(registry, named, text_encoder=comfy["text_encoder"], vae=comfy["vae"])
        assert model.pipeline.config.boundary_ratio == 0.875
        assert torch.equal(model.pipeline.transformer_2.patch_embedding.weight, low.patch_embedding.weight)
        assert np.abs(_render(registry, model, steps=3) - reference).max() <= TOLERANCE


def test_wan22_ti2v_5b_with_its_vae(registry, spiece, comfy, tmp_path):
    from diffusers import WanPipeline

    from nodes.diffusion.families.wan_files import diffusers_vae_state

    parts = wan_components(spiece, wan22=True)
    vae_state = parts["vae"].state_dict()
    original = original_vae22(vae_state)
    assert set(diffusers_vae_state(dict(original))) == set(vae_state)
    transformer = save(
        original_transformer(parts["transformer"].state_dict()), tmp_path / "wan2.2_ti2v_5B_fp16.safetensors"
    )
    vae = save(original, tmp_path / "wan2.2_vae.safetensors")
    with pytest.raises(NodeError, match=r"set vae to a Wan VAE file \(vae/wan2\.2_vae\.safetensors\)"):
        _load(registry, transformer, text_encoder=comfy["text_encoder"])
    with pytest.raises(NodeError, match=r"makes 16-channel latents but .* works on 48; use vae/wan2\.2_vae"):
        _load(registry, transformer, text_encoder=comfy["text_encoder"], vae=comfy["vae"])

    model = _load(registry, transformer, text_encoder=comfy["text_encoder"], vae=vae)
    assert model.pipeline.config.expand_timesteps and model.pipeline.scheduler.config.flow_shift == 5.0
    assert model.latent_format.channels == 48 and model.latent_format.spatial == 16
    expected = _reference(WanPipeline(**parts, expand_timesteps=True), size=(64, 32, 5))
    assert np.abs(_render(registry, model, size=(64, 32, 5)) - expected).max() <= TOLERANCE


def test_half_precision_keeps_what_from_pretrained_keeps_in_float32(components, comfy, wan_folder):
    import itertools

    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    from nodes.diffusion.families.wan_files import load_transformer, load_vae

    def dtypes(model):
        return {name: t.dtype for name, t in itertools.chain(model.named_parameters(), model.named_buffers())}

    for dtype in (torch.float16, torch.bfloat16):
        pairs = (
            (load_transformer(comfy["path"], dtype, False), WanTransformer3DModel, "transformer"),
            (load_vae(comfy["vae"], dtype, False), AutoencoderKLWan, "vae"),
        )
        for ours, cls, sub in pairs:
            assert dtypes(ours) == dtypes(cls.from_pretrained(wan_folder / sub, dtype=dtype, local_files_only=True))


def test_pickled_transformer_loads_only_when_allowed(registry, components, comfy, expected, tmp_path):
    import torch

    pickled = tmp_path / "wan2.1_t2v_1.3B.pt"
    torch.save(original_transformer(components["transformer"].state_dict()), pickled)
    with pytest.raises(NodeError, match="is a pickle file"):
        _load(registry, pickled, text_encoder=comfy["text_encoder"], vae=comfy["vae"])
    # The family is chosen: it is read from .safetensors headers only, never by unpickling.
    model = _load(
        registry, pickled, allow_pickle=True, family="wan", text_encoder=comfy["text_encoder"], vae=comfy["vae"]
    )
    assert np.abs(_render(registry, model) - expected).max() <= TOLERANCE
