"""LoadModel: model folders, family detection, pickle refusal, and errors that name the file."""

from __future__ import annotations

import json
import shutil

import pytest
from diffusion_graphs import make_context
from tiny_models import build_sd

from studio.engine.context import NodeError, RunSettings

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return build_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


def _load(registry, path, config="", parts=None, **settings):
    spec = registry["LoadModel"]
    ctx = make_context("LoadModel", settings=RunSettings(**settings))
    values = dict(path=str(path), family="auto", dtype="auto", offload="none", config=config) | (parts or {})
    return spec.compute(ctx, **values)["model"]


def _ldm_checkpoint(path, keys, shapes=None):
    """A .safetensors file with tensor names in the original (LDM) single-file layout."""
    import torch
    from safetensors.torch import save_file

    shapes = shapes or {}
    save_file({key: torch.zeros(shapes.get(key, (2, 2))) for key in keys}, str(path))
    return path


SD15_KEYS = (
    "model.diffusion_model.input_blocks.0.0.weight",
    "model.diffusion_model.output_blocks.11.0.skip_connection.weight",
    "first_stage_model.encoder.conv_in.weight",
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
)


def test_relative_path_is_found_in_a_model_folder(registry, sd_folder):
    model = _load(registry, sd_folder.name, model_folders=(sd_folder.parent,))
    assert model.family == "sd15" and model.latent_format.channels == 4
    assert model.cache_nbytes() > 10_000


def test_missing_path_lists_the_folders_searched(registry, tmp_path):
    with pytest.raises(NodeError, match="'nowhere' was not found in the model folders"):
        _load(registry, "nowhere", model_folders=(tmp_path,))


def test_unsupported_pipeline_names_what_was_found(registry, tmp_path):
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(
        NodeError, match=r"'FluxPipeline'; supported families: animatediff, cogvideox, ltx, sd15, sdxl, wan"
    ):
        _load(registry, folder)


def test_missing_component_names_the_folder(registry, sd_folder, tmp_path):
    broken = shutil.copytree(sd_folder, tmp_path / "broken")
    shutil.rmtree(broken / "unet")
    with pytest.raises(NodeError, match=r"component 'unet' named in model_index.json has no folder"):
        _load(registry, broken)


def test_corrupt_weights_name_the_file(registry, sd_folder, tmp_path):
    broken = shutil.copytree(sd_folder, tmp_path / "corrupt")
    weights = next((broken / "vae").glob("*.safetensors"))
    weights.write_bytes(b"\x00" * 4)
    with pytest.raises(NodeError, match=str(weights.name)):
        _load(registry, broken)


def test_pickle_files_are_refused_unless_allowed(registry, tmp_path):
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"not even a pickle")
    with pytest.raises(NodeError, match=r"pickle file \(.ckpt\).*allow pickle"):
        _load(registry, checkpoint, model_folders=(tmp_path,))


def test_pickled_component_folder_is_refused(registry, sd_folder, tmp_path):
    import torch
    from safetensors.torch import load_file

    pickled = shutil.copytree(sd_folder, tmp_path / "pickled")
    weights = next((pickled / "vae").glob("*.safetensors"))
    torch.save(load_file(weights), pickled / "vae" / "diffusion_pytorch_model.bin")
    weights.unlink()
    with pytest.raises(NodeError, match=r"only pickle weights.*allow pickle"):
        _load(registry, pickled)
    model = _load(registry, pickled, allow_pickle=True)  # then loaded with weights_only=True
    assert model.family == "sd15"


def test_pickles_inside_a_nested_pipeline_component_are_refused_too(registry, sd_folder, tmp_path):
    folder = shutil.copytree(sd_folder, tmp_path / "nested")
    index = json.loads((folder / "model_index.json").read_text())
    index["transformer_2"] = ["diffusers", "WanPipeline"]  # a component that is a pipeline folder itself
    (folder / "model_index.json").write_text(json.dumps(index))
    inner = folder / "transformer_2"
    (inner / "transformer").mkdir(parents=True)
    (inner / "model_index.json").write_text(
        json.dumps({"_class_name": "WanPipeline", "transformer": ["diffusers", "X"]})
    )
    (inner / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"a payload")
    with pytest.raises(NodeError, match=r"transformer_2/transformer holds only pickle weights"):
        _load(registry, folder)


@pytest.mark.parametrize("name", ["..", "../escape", "/etc"])
def test_a_component_name_that_leaves_the_model_folder_is_refused(registry, sd_folder, tmp_path, name):
    folder = shutil.copytree(sd_folder, tmp_path / "escape")
    index = json.loads((folder / "model_index.json").read_text())
    index[name] = ["diffusers", "AutoencoderKL"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(NodeError, match="is not a folder name"):
        _load(registry, folder)


def test_models_listing_shows_family_and_size(sd_folder):
    from studio.composition import default_families
    from studio.models import find_models

    found = {m.name: m for m in find_models([sd_folder.parent], default_families())}
    assert found["tiny-sd"].family == "sd15" and found["tiny-sd"].size_bytes > 10_000


def test_preview_factors_come_from_the_family_declaration(registry, sd_folder):
    model = _load(registry, sd_folder)
    assert len(model.latent_format.rgb_factors) == 4 and model.latent_format.rgb_factors[0] == (0.3512, 0.2297, 0.3227)


def test_the_catalogue_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from nodes.diffusion import nodes; from nodes import builtin_node_types; builtin_node_types(); "
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_family_choices_list_every_supported_family(registry):
    family = next(p for p in registry["LoadModel"].params if p.name == "family")
    assert family.choices == ("auto", "animatediff", "cogvideox", "ltx", "sd15", "sdxl", "wan")


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("StableDiffusionXLPipeline", "sdxl"),
        ("AnimateDiffPipeline", "animatediff"),
        ("AnimateDiffVideoToVideoPipeline", "animatediff"),
        ("WanPipeline", "wan"),
        ("CogVideoXPipeline", "cogvideox"),
        ("CogVideoXImageToVideoPipeline", "cogvideox"),
    ],
)
def test_family_is_told_from_model_index(tmp_path, families, name, family):
    from nodes.diffusion.loading import detect_family

    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": name}))
    assert detect_family(tmp_path, families).name == family


def test_a_checkpoint_that_is_not_what_it_claims_fails_fast_naming_the_file(registry, tmp_path, monkeypatch):
    """Without a config folder an SD checkpoint is described by the shipped configs and its shapes;
    placeholder weights are refused by name at once, and nothing is looked up or downloaded."""
    import time

    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    checkpoint = _ldm_checkpoint(tmp_path / "dreamy.safetensors", SD15_KEYS)
    started = time.monotonic()
    with pytest.raises(NodeError, match=r"dreamy\.safetensors is not a text-to-image checkpoint: its UNet takes 2"):
        _load(registry, checkpoint)
    assert time.monotonic() - started < 20


def test_single_file_takes_its_config_from_a_local_diffusers_folder(registry, sd_folder, tmp_path, monkeypatch):
    """With config set (or a folder named after the file beside it) diffusers gets that folder and
    local_files_only; it never looks elsewhere. (These placeholder weights then fail to convert.)"""
    import diffusers

    seen = []

    def fake_from_single_file(cls, path, **kwargs):
        seen.append((path, kwargs))
        return cls.from_pretrained(kwargs["config"], local_files_only=True)

    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "from_single_file", classmethod(fake_from_single_file))
    checkpoint = _ldm_checkpoint(tmp_path / "dreamy.safetensors", SD15_KEYS)
    model = _load(registry, checkpoint, config=str(sd_folder))
    assert model.family == "sd15"
    assert seen[-1][0] == str(checkpoint)
    assert seen[-1][1]["config"] == str(sd_folder) and seen[-1][1]["local_files_only"] is True

    shutil.copytree(sd_folder, tmp_path / "dreamy")  # the sidecar folder
    _load(registry, checkpoint)
    assert seen[-1][1]["config"] == str(tmp_path / "dreamy")


def test_single_file_with_config_reaches_diffusers_and_reports_its_error(registry, sd_folder, tmp_path):
    checkpoint = _ldm_checkpoint(tmp_path / "broken.safetensors", SD15_KEYS)
    with pytest.raises(NodeError, match=r"could not load .*broken.safetensors"):
        _load(registry, checkpoint, config=str(sd_folder))


def test_bad_config_folder_is_named(registry, tmp_path, sd_folder):
    checkpoint = _ldm_checkpoint(tmp_path / "dreamy.safetensors", SD15_KEYS)
    with pytest.raises(NodeError, match=r"config .* is not a diffusers model folder"):
        _load(registry, checkpoint, config=str(tmp_path))
    with pytest.raises(NodeError, match=r"config is only for single .safetensors files"):
        _load(registry, sd_folder, config=str(sd_folder))


def test_a_bare_diffusion_model_file_says_which_parts_it_needs(registry, tmp_path):
    checkpoint = _ldm_checkpoint(
        tmp_path / "wan-transformer.safetensors",
        ("patch_embedding.weight",),
        {"patch_embedding.weight": (1536, 16, 1, 2, 2)},  # Wan 2.1 T2V 1.3B
    )
    with pytest.raises(
        NodeError, match=r"wan-transformer.safetensors is a bare Wan transformer: set text_encoder .* and vae"
    ):
        _load(registry, checkpoint)


def test_separate_parts_are_refused_where_the_model_already_has_them(registry, sd_folder, tmp_path):
    vae = tmp_path / "vae.safetensors"
    vae.write_bytes(b"")
    with pytest.raises(NodeError, match=r"vae: only for a single diffusion-model file, but path .* is a folder"):
        _load(registry, sd_folder, parts={"vae": str(vae)})
    with pytest.raises(NodeError, match=r"text_encoder: path '.*nowhere.safetensors' does not exist"):
        _load(registry, sd_folder, parts={"text_encoder": str(tmp_path / "nowhere.safetensors")})
    pickled = tmp_path / "te.bin"
    pickled.write_bytes(b"x")
    with pytest.raises(NodeError, match=r"te\.bin is a pickle file"):
        _load(registry, sd_folder, parts={"text_encoder": str(pickled)})


def test_loading_draws_no_progress_bars_of_its_own(registry, sd_folder, capfd):
    _load(registry, sd_folder)
    err = capfd.readouterr().err
    assert "Loading pipeline components" not in err and "Loading weights" not in err


def test_a_second_run_with_a_changed_prompt_loads_nothing(registry, families, tmp_path):
    from diffusion_graphs import text_to_image_graph

    from studio.bundled import find_bundled
    from studio.engine import Engine

    engine = Engine("cpu", registry=registry, families=families, settings=RunSettings(output_dir=tmp_path))
    graph = text_to_image_graph(find_bundled("resources/models/starter"), width=64, height=64, frames=5, steps=1)
    assert engine.run(graph).nodes["load"].status == "ran"
    graph.set_param("encode", "text", "a blue circle moving left on a red background")
    report = engine.run(graph)
    assert report.ok and report.nodes["load"].status == "cached" and report.nodes["encode"].status == "ran"
