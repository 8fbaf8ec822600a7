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


def _load(registry, path, **settings):
    spec = registry["LoadModel"]
    ctx = make_context("LoadModel", settings=RunSettings(**settings))
    return spec.compute(ctx, path=str(path), family="auto", dtype="auto", offload="none")["model"]


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
    with pytest.raises(NodeError, match=r"FluxPipeline; supported families: sd15, wan"):
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


def test_models_listing_shows_family_and_size(sd_folder):
    from studio.models import find_models

    found = {m.name: m for m in find_models([sd_folder.parent])}
    assert found["tiny-sd"].family == "sd15" and found["tiny-sd"].size_bytes > 10_000


def test_preview_factors_come_from_the_resource_file(registry, sd_folder):
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
