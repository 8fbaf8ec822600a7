"""Model families: one declaration each, recognised in folders and single files, extended by packs."""

import json
import os
import struct
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from studio.composition import default_families
from studio.models import find_models
from studio.nodeapi import FamilyRegistry, FamilySpec
from studio.nodeapi.weights import WeightsFileError, safetensors_header


def write_header(path, tensors: dict[str, tuple[int, ...]], dtype: str = "BF16") -> str:
    """A .safetensors header naming ``tensors`` (data left out: recognition reads only the header)."""
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return str(path)


WAN_BLOCK = {"blocks.0.self_attn.q.weight": (1536, 1536), "text_embedding.0.weight": (1536, 4096)}


@pytest.mark.parametrize(
    ("tensors", "family", "variant"),
    [
        ({"patch_embedding.weight": (1536, 16, 1, 2, 2), **WAN_BLOCK}, "wan", "Wan T2V 1.3B"),
        ({"model.diffusion_model.patch_embedding.weight": (5120, 16, 1, 2, 2)}, "wan", "Wan T2V 14B"),
        (
            {"patch_embedding.weight": (5120, 36, 1, 2, 2), "img_emb.proj.1.weight": (5120, 1280)},
            "wan",
            "Wan 2.1 I2V 14B",
        ),
        ({"patch_embedding.weight": (5120, 36, 1, 2, 2)}, "wan", "Wan 2.2 I2V 14B"),
        ({"patch_embedding.weight": (3072, 48, 1, 2, 2)}, "wan", "Wan 2.2 TI2V 5B"),
        (
            {
                "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
                "conditioner.embedders.1.model.ln_final.weight": (1280,),
            },
            "sdxl",
            "SDXL",
        ),
        ({"model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3)}, "sd15", "SD 1.x"),
        (
            {
                "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
                "cond_stage_model.model.ln_final.weight": (1024,),
            },
            "sd15",
            "SD 2.x",
        ),
        ({"down_blocks.0.motion_modules.0.proj_in.weight": (320, 320)}, "animatediff", "AnimateDiff motion module"),
    ],
)
def test_single_files_are_recognised_by_tensor_names_and_shapes(tmp_path, families, tensors, family, variant):
    path = write_header(tmp_path / "model.safetensors", tensors)
    spec, found = families.of_file(path)
    assert (spec.name, found) == (family, variant)


def test_a_file_no_family_knows_is_not_guessed(tmp_path, families):
    assert families.of_file(write_header(tmp_path / "lora.safetensors", {"lora_unet_x.alpha": ()})) is None


def test_folders_are_recognised_by_their_pipeline_class(tmp_path, families):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanVideoToVideoPipeline"}))
    assert families.of_folder(tmp_path).name == "wan"
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    assert families.of_folder(tmp_path) is None


def test_every_builtin_family_declares_an_adapter_built_from_its_declaration(families):
    assert families.names == ["animatediff", "cogvideox", "ltx", "sd15", "sdxl", "wan"]
    for spec in families:
        adapter = families.adapter(spec.name)
        assert adapter.spec is spec and adapter.name == spec.name
        assert families.adapter(spec.name) is adapter  # built once per registry
        assert families.of_pipeline(spec.pipelines[0]) is spec


def test_family_packs_register_through_entry_points_and_a_broken_one_is_reported(monkeypatch, tmp_path):
    points = [
        EntryPoint("builtin", "nodes.diffusion.families:builtin_families", "studio.families"),
        EntryPoint("toy", "tests.family_pack:toy_families", "studio.families"),
        EntryPoint("broken", "tests.family_pack:broken_families", "studio.families"),
    ]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: points)
    families = default_families()  # built-ins imported directly, packs from entry points
    assert "toy" in families and "wan" in families
    assert [str(p) for p in families.problems] == [
        "model family pack tests.family_pack:broken_families: RuntimeError: this pack is broken"
    ]
    # The pack's family is recognised in files and listed by the model scanner like a built-in one.
    write_header(tmp_path / "toy.safetensors", {"toy.proj.weight": (7, 3)})
    [entry] = find_models([tmp_path], families)
    assert (entry.family, entry.variant) == ("toy", "Toy 7")
    assert FamilyRegistry.installed  # the core's own lookup uses the same entry points


def test_a_family_is_declared_once(families):
    with pytest.raises(ValueError, match="already registered"):
        families.register(families["wan"])
    with pytest.raises(ValueError, match="rows of 3"):
        FamilySpec(name="bad", label="Bad", pipelines=("X",), preview_factors=((1.0, 2.0),))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (struct.pack("<Q", 2) + b"42", "not a table of tensors"),
        (struct.pack("<Q", 200_002) + b"[" * 100_001 + b"]" * 100_001, "not valid JSON"),
        (struct.pack("<Q", 1 << 60), "implausible header"),
        (struct.pack("<Q", 100) + b"{}", "truncated"),
        (b"abc", "too short"),
        (struct.pack("<Q", 29) + b'{"a": {"shape": "x", "d": 1}}', "no valid dtype and shape"),
    ],
)
def test_hostile_weights_headers_are_refused_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match=reason):
        safetensors_header(path)


@pytest.mark.timeout(20)
def test_a_fifo_named_like_weights_never_blocks_the_reader(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(WeightsFileError, match="not a regular file"):
        safetensors_header(fifo)


@pytest.mark.timeout(30)
def test_a_model_scan_skips_what_it_cannot_read_says_why_and_never_blocks(tmp_path, families):
    from studio.models import scan_models

    good = write_header(tmp_path / "wan.safetensors", {"patch_embedding.weight": (1536, 16, 1, 2, 2)})
    (tmp_path / "number.safetensors").write_bytes(struct.pack("<Q", 2) + b"42")
    (tmp_path / "dangling.safetensors").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo.safetensors")
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "model_index.json").write_text("[" * 100_000 + "]" * 100_000)
    scan = scan_models([tmp_path], families)
    assert [(m.path, m.family, m.variant) for m in scan.models] == [(Path(good), "wan", "Wan T2V 1.3B")]
    reasons = {s.path.name: s.reason for s in scan.skipped}
    assert reasons["number.safetensors"] == "the header is not a table of tensors"
    assert reasons["fifo.safetensors"] == "not a regular file"
    assert "No such file" in reasons["dangling.safetensors"]
    assert "not valid JSON" in reasons["deep"]
