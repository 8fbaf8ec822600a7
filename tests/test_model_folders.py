"""Where models come from: ComfyUI installs (with extra_model_paths.yaml), Hugging Face caches,
plain folders and STUDIO_MODELS; each file's kind, family, variant and precision from its header."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from studio.models import scan_models
from studio.nodeapi.kinds import kind_of_tensors, precision_of
from studio.nodeapi.weights import TensorInfo, WeightsFileError, gguf_tensors

BF16, F16, F32, FP8 = "BF16", "F16", "F32", "F8_E4M3"
WAN_1_3B = {"patch_embedding.weight": ((1536, 16, 1, 2, 2), BF16), "head.modulation": ((1, 2, 1536), F32)}


def write_header(path: Path, tensors: dict[str, tuple[tuple[int, ...], str]]) -> Path:
    """A .safetensors file's header naming ``tensors`` (name → (shape, dtype)); the scan reads no data."""
    sizes = {F32: 4, BF16: 2, F16: 2, FP8: 1, "F8_E5M2": 1, "U8": 1}
    header, offset = {}, 0
    for name, (shape, dtype) in tensors.items():
        size = sizes[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


def write_fp8_wan(path: Path) -> Path:
    """A real (tiny-valued, real-shaped) fp8 e4m3fn Wan 1.3B file written by safetensors itself."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "patch_embedding.weight": torch.zeros(1536, 16, 1, 2, 2).to(torch.float8_e4m3fn),
            "head.modulation": torch.zeros(1, 2, 1536, dtype=torch.bfloat16),
        },
        str(path),
    )
    return path


def write_gguf(path: Path, qtype: str = "Q8_0") -> Path:
    """A Wan 1.3B transformer as ComfyUI-GGUF writes it: quantised, the 5-d patch embedding
    flattened with its real shape in ``comfy.gguf.orig_shape.*``."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    kind = GGMLQuantizationType[qtype]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(path), arch="wan")
    patch = np.zeros((1536, 16, 1, 2, 2), np.float32)
    writer.add_array("comfy.gguf.orig_shape.patch_embedding.weight", list(patch.shape))
    writer.add_tensor("patch_embedding.weight", quantize(patch.reshape(-1, 256), kind), raw_dtype=kind)
    writer.add_tensor("blocks.0.ffn.0.weight", quantize(np.zeros((64, 256), np.float32), kind), raw_dtype=kind)
    writer.add_tensor("head.modulation", np.zeros((1, 2, 1536), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


SDXL_CHECKPOINT = {
    "model.diffusion_model.input_blocks.0.0.weight": ((320, 4, 3, 3), F16),
    "conditioner.embedders.1.model.ln_final.weight": ((1280,), F16),
    "first_stage_model.decoder.conv_in.weight": ((512, 4, 3, 3), F16),
}
SD15_CHECKPOINT = {
    "model.diffusion_model.input_blocks.0.0.weight": ((320, 4, 3, 3), F32),
    "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": ((77, 768), F32),
    "first_stage_model.decoder.conv_in.weight": ((512, 4, 3, 3), F32),
}
UMT5_FP8_SCALED = {
    "shared.weight": ((256384, 16), FP8),
    "encoder.block.0.layer.0.SelfAttention.q.weight": ((4096, 4096), FP8),
    "encoder.block.0.layer.0.SelfAttention.q.scale_weight": ((1,), F32),
    "scaled_fp8": ((0,), FP8),
    "spiece_model": ((4096,), "U8"),
}
WAN_VAE = {
    "decoder.middle.0.residual.0.gamma": ((384, 1, 1, 1), BF16),
    "decoder.head.0.gamma": ((96, 1, 1, 1), BF16),
    "encoder.conv1.weight": ((96, 3, 3, 3, 3), BF16),
    "conv1.weight": ((32, 32, 1, 1, 1), BF16),
}
CLIP_L = {"text_model.encoder.layers.0.mlp.fc1.weight": ((3072, 768), F16)}
CLIP_VISION_H = {"vision_model.embeddings.patch_embedding.weight": ((1280, 3, 14, 14), F16)}
WAN_LORA = {
    "diffusion_model.blocks.0.self_attn.q.lora_A.weight": ((32, 1536), BF16),
    "diffusion_model.blocks.0.self_attn.q.lora_B.weight": ((1536, 32), BF16),
}
SD_LORA = {
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": ((4, 320, 1, 1), F16),
    # the cross-attention's width (768) says SD 1.x
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": ((4, 768), F16),
}
ESRGAN = {"conv_first.weight": ((64, 3, 3, 3), F32), "body.0.rdb1.conv1.weight": ((32, 64, 3, 3), F32)}


@pytest.fixture
def comfyui(tmp_path) -> Path:
    """A ComfyUI install with the files its users have, and a second tree its extra_model_paths.yaml names."""
    root = tmp_path / "ComfyUI"
    models = root / "models"
    (root / "main.py").parent.mkdir(parents=True)
    (root / "main.py").write_text("# ComfyUI\n")
    write_header(models / "checkpoints" / "sd_xl_base_1.0.safetensors", SDXL_CHECKPOINT)
    (models / "checkpoints" / "v1-5-pruned.ckpt").write_bytes(b"\x80\x02}q\x00.")  # a pickle: listed, never read
    write_header(models / "diffusion_models" / "wan2.1_t2v_1.3B_bf16.safetensors", WAN_1_3B)
    write_fp8_wan(models / "diffusion_models" / "wan2.1_t2v_1.3B_fp8_e4m3fn.safetensors")
    write_header(
        models / "diffusion_models" / "wan2.1_i2v_480p_14B_fp8_scaled.safetensors",
        {
            "patch_embedding.weight": ((5120, 36, 1, 2, 2), FP8),
            "img_emb.proj.1.weight": ((5120, 1280), FP8),
            "blocks.0.self_attn.q.scale_weight": ((1,), F32),
            "scaled_fp8": ((0,), FP8),
        },
    )
    write_header(
        models / "diffusion_models" / "wan2.2_ti2v_5B_fp16.safetensors",
        {"model.diffusion_model.patch_embedding.weight": ((3072, 48, 1, 2, 2), F16)},
    )
    write_gguf(models / "diffusion_models" / "wan2.1-t2v-1.3b-Q8_0.gguf")
    (models / "diffusion_models" / "damaged.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 5, 2) + b"\x01" * 9)
    write_header(models / "unet" / "sd15_unet.safetensors", {k: v for k, v in SD15_CHECKPOINT.items() if "diff" in k})
    write_header(models / "text_encoders" / "umt5_xxl_fp8_e4m3fn_scaled.safetensors", UMT5_FP8_SCALED)
    write_header(models / "clip" / "clip_l.safetensors", CLIP_L)
    write_header(models / "vae" / "wan_2.1_vae.safetensors", WAN_VAE)
    write_header(models / "clip_vision" / "clip_vision_h.safetensors", CLIP_VISION_H)
    write_header(models / "loras" / "wan" / "style_lora.safetensors", WAN_LORA)
    write_header(models / "upscale_models" / "RealESRGAN_x4.safetensors", ESRGAN)
    (models / "upscale_models" / "4x-UltraSharp.pth").write_bytes(b"\x80\x02}q\x00.")
    write_header(models / "controlnet" / "control_canny.safetensors", SD15_CHECKPOINT)  # not a studio kind
    (models / "diffusers" / "tiny-sd").mkdir(parents=True)
    (models / "diffusers" / "tiny-sd" / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    # A second tree, the way people share models with an A1111 install.
    shared = tmp_path / "shared"
    write_header(shared / "models" / "Stable-diffusion" / "dreamshaper_8.safetensors", SD15_CHECKPOINT)
    write_header(shared / "models" / "Lora" / "detail.safetensors", SD_LORA)
    write_header(shared / "models" / "LyCORIS" / "other.safetensors", SD_LORA)
    (root / "extra_model_paths.yaml").write_text(
        "a111:\n"
        "    base_path: ../shared/\n"
        "    is_default: true\n"
        "    checkpoints: models/Stable-diffusion\n"
        "    configs: models/Stable-diffusion\n"
        "    loras: |\n"
        "         models/Lora\n"
        "         models/LyCORIS\n"
        "    controlnet: models/ControlNet\n"
        "missing:\n"
        "    base_path: /nowhere/at/all\n"
        "    vae: vae\n"
        "broken:\n"
        "    checkpoints: [a, b]\n"
        "empty:\n"
    )
    return root


def classify(scan, base: Path) -> dict[str, tuple[str, str, str, str]]:
    return {str(m.path.relative_to(base)): (m.kind, m.family, m.variant, m.precision) for m in scan.models}


def test_a_comfyui_install_is_read_as_it_is(comfyui, families):
    scan = scan_models([comfyui], families)
    found = classify(scan, comfyui.parent)
    models = "ComfyUI/models/"
    assert found == {
        models + "checkpoints/sd_xl_base_1.0.safetensors": ("checkpoint", "sdxl", "SDXL", "fp16"),
        models + "checkpoints/v1-5-pruned.ckpt": ("checkpoint", "unknown", "", ""),
        models + "clip/clip_l.safetensors": ("text_encoder", "unknown", "", "fp16"),
        models + "clip_vision/clip_vision_h.safetensors": ("image_encoder", "unknown", "CLIP ViT-H/14", "fp16"),
        models + "diffusers/tiny-sd": ("diffusers", "sd15", "Stable Diffusion 1.x/2.x", ""),
        models + "diffusion_models/wan2.1-t2v-1.3b-Q8_0.gguf": ("diffusion_model", "wan", "Wan T2V 1.3B", "GGUF Q8_0"),
        models + "diffusion_models/wan2.1_i2v_480p_14B_fp8_scaled.safetensors": (
            "diffusion_model",
            "wan",
            "Wan 2.1 I2V 14B",
            "fp8 scaled",
        ),
        models + "diffusion_models/wan2.1_t2v_1.3B_bf16.safetensors": (
            "diffusion_model",
            "wan",
            "Wan T2V 1.3B",
            "bf16",
        ),
        models + "diffusion_models/wan2.1_t2v_1.3B_fp8_e4m3fn.safetensors": (
            "diffusion_model",
            "wan",
            "Wan T2V 1.3B",
            "fp8 e4m3fn",
        ),
        models + "diffusion_models/wan2.2_ti2v_5B_fp16.safetensors": (
            "diffusion_model",
            "wan",
            "Wan 2.2 TI2V 5B",
            "fp16",
        ),
        models + "loras/wan/style_lora.safetensors": ("lora", "wan", "Wan LoRA 1.3B", "bf16"),
        models + "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors": ("text_encoder", "unknown", "", "fp8 scaled"),
        models + "unet/sd15_unet.safetensors": ("diffusion_model", "sd15", "SD 1.x", "fp32"),
        models + "upscale_models/4x-UltraSharp.pth": ("upscaler", "unknown", "", ""),
        models + "upscale_models/RealESRGAN_x4.safetensors": ("upscaler", "unknown", "", "fp32"),
        models + "vae/wan_2.1_vae.safetensors": ("vae", "unknown", "", "bf16"),
        # named by extra_model_paths.yaml: the kind its key says
        "shared/models/Stable-diffusion/dreamshaper_8.safetensors": ("checkpoint", "sd15", "SD 1.x", "fp32"),
        "shared/models/Lora/detail.safetensors": ("lora", "sd15", "SD 1.x LoRA", "fp16"),
        "shared/models/LyCORIS/other.safetensors": ("lora", "sd15", "SD 1.x LoRA", "fp16"),
    }
    pickles = {m.path.name for m in scan.models if m.needs_pickle}
    assert pickles == {"v1-5-pruned.ckpt", "4x-UltraSharp.pth"}
    reasons = {(s.path.name, s.reason) for s in scan.skipped}
    assert ("damaged.gguf", "damaged GGUF header (it ends too early)") in reasons
    broken = "section 'broken': checkpoints must be a folder path, or several, one per line; found a list"
    assert ("extra_model_paths.yaml", broken) in reasons
    assert ("vae", "not a folder (extra_model_paths.yaml section 'missing', vae names it)") in reasons
    assert len(scan.skipped) == 3


@pytest.mark.parametrize("given", ["ComfyUI", "ComfyUI/models", "."])
def test_the_root_the_models_folder_or_a_portable_bundle_all_work(comfyui, families, given):
    if given == ".":
        # ComfyUI_windows_portable holds the install in ComfyUI/
        scan = scan_models([comfyui.parent], families)
    else:
        scan = scan_models([comfyui.parent / given], families)
    names = {m.path.name for m in scan.models}
    assert "wan2.1-t2v-1.3b-Q8_0.gguf" in names and "dreamshaper_8.safetensors" in names
    assert "control_canny.safetensors" not in names  # ComfyUI's other folders hold no studio models


def test_kind_folders_work_in_any_model_folder_and_tensor_names_tell_the_rest(tmp_path, families):
    write_header(tmp_path / "vae" / "renamed.safetensors", WAN_LORA)  # the folder decides
    loose = tmp_path / "loose"
    write_header(loose / "a.safetensors", WAN_VAE)
    write_header(loose / "b.safetensors", UMT5_FP8_SCALED)
    write_header(loose / "c.safetensors", CLIP_VISION_H)
    write_header(loose / "d.safetensors", ESRGAN)
    write_header(loose / "e.safetensors", SD_LORA)
    write_header(loose / "f.safetensors", SDXL_CHECKPOINT)
    write_header(loose / "g.safetensors", WAN_1_3B)
    write_header(loose / "h.sft", CLIP_L)
    write_header(loose / "i.safetensors", {"something.else": ((3,), F32)})
    write_gguf(loose / "j.gguf", "Q4_0")
    found = {m.path.name: (m.kind, m.precision) for m in scan_models([tmp_path], families).models}
    assert found == {
        "renamed.safetensors": ("vae", "bf16"),
        "a.safetensors": ("vae", "bf16"),
        "b.safetensors": ("text_encoder", "fp8 scaled"),
        "c.safetensors": ("image_encoder", "fp16"),
        "d.safetensors": ("upscaler", "fp32"),
        "e.safetensors": ("lora", "fp16"),
        "f.safetensors": ("checkpoint", "fp16"),
        "g.safetensors": ("diffusion_model", "bf16"),
        "h.sft": ("text_encoder", "fp16"),
        "i.safetensors": ("unknown", "fp32"),
        "j.gguf": ("diffusion_model", "GGUF Q4_0"),
    }


def test_a_hugging_face_cache_lists_its_current_snapshot_by_repository_name(tmp_path, families):
    repo = tmp_path / "hub" / "models--Wan-AI--Wan2.1-T2V-1.3B-Diffusers"
    for snapshot in ("old0000", "cafe1234"):
        (repo / "snapshots" / snapshot).mkdir(parents=True)
        (repo / "snapshots" / snapshot / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
    write_header(repo / "snapshots" / "cafe1234" / "transformer" / "diffusion_pytorch_model.safetensors", WAN_1_3B)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("cafe1234")
    single = tmp_path / "hub" / "models--Comfy-Org--Wan_2.1_ComfyUI_repackaged" / "snapshots" / "beef"
    write_header(single / "split_files" / "vae" / "wan_2.1_vae.safetensors", WAN_VAE)
    [vae, folder] = scan_models([tmp_path / "hub"], families).models
    assert (folder.name, folder.path.name, folder.kind, folder.family, folder.precision) == (
        "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        "cafe1234",
        "diffusers",
        "wan",
        "bf16",
    )
    assert (vae.kind, vae.path.name) == ("vae", "wan_2.1_vae.safetensors")


def test_gguf_headers_are_read_without_the_tensors(tmp_path):
    tensors = gguf_tensors(write_gguf(tmp_path / "m.gguf"))
    assert tensors["patch_embedding.weight"] == TensorInfo("Q8_0", (1536, 16, 1, 2, 2))  # orig_shape applied
    assert tensors["blocks.0.ffn.0.weight"] == TensorInfo("Q8_0", (64, 256))  # ggml's order reversed
    assert tensors["head.modulation"] == TensorInfo("F32", (1, 2, 1536))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"GGU", "too short"),
        (b"GGML" + bytes(20), "not a GGUF file"),
        (b"GGUF" + struct.pack("<IQQ", 9, 0, 0), "version 9 is not supported"),
        (b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0), "implausible"),
        (b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + b"\xff" * 16, "damaged GGUF header"),
    ],
)
def test_damaged_gguf_files_are_refused_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match=reason):
        gguf_tensors(path)


@pytest.mark.timeout(20)
def test_a_fifo_named_gguf_or_yaml_never_blocks(tmp_path, families):
    (tmp_path / "plain").mkdir()
    os.mkfifo(tmp_path / "plain" / "model.gguf")
    root = tmp_path / "ComfyUI"
    (root / "models").mkdir(parents=True)
    os.mkfifo(root / "extra_model_paths.yaml")
    scan = scan_models([tmp_path / "plain" / "model.gguf", tmp_path / "plain", root], families)
    assert {(s.path.name, s.reason) for s in scan.skipped} == {
        ("model.gguf", "not a regular file"),
        ("extra_model_paths.yaml", "not a regular file"),
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- a\n- b\n", "expected sections of model folders, found a list"),
        ("a: [\n", "not valid YAML (line 2)"),
        ("a:\n  base_path: 3\n  vae: v\n", "section 'a': base_path must be a folder path, found int"),
        ("a:\n  is_default: maybe\n  vae: v\n", "section 'a': is_default must be true or false"),
        ("a: just text\n", "section 'a': expected a table of folder names and paths, found text"),
        ("x: &a [*a]\n", "section 'x': expected a table"),  # an alias loop is data, not a crash
        ("a: b\n" + "#" * 300_000, "larger than 256 KB"),
    ],
)
def test_a_malformed_extra_model_paths_yaml_is_refused_and_says_why(tmp_path, families, text, reason):
    root = tmp_path / "ComfyUI"
    write_header(root / "models" / "vae" / "v.safetensors", WAN_VAE)
    (root / "extra_model_paths.yaml").write_text(text)
    scan = scan_models([root], families)
    assert [m.path.name for m in scan.models] == ["v.safetensors"]  # the install itself still lists
    [skipped] = scan.skipped
    assert skipped.path.name == "extra_model_paths.yaml"
    assert skipped.reason.startswith(reason) or reason in skipped.reason


def test_kinds_and_precisions_from_names_alone():
    def info(dtype, *shape):
        return TensorInfo(dtype, shape)

    assert kind_of_tensors({"model.diffusion_model.x": 1}) == "diffusion_model"
    assert kind_of_tensors({"x": 1}, denoiser=True) == "diffusion_model"  # a family recognised it
    assert kind_of_tensors({"first_stage_model.decoder.conv_in.weight": 1}) == "vae"
    # weights count by their numbers: a few wide norms do not hide an fp8 model
    mixed = {"w": info(FP8, 4096, 4096), "norm": info(F32, 4096), "bias": info(BF16, 4096)}
    assert precision_of(mixed) == "fp8 e4m3fn"
    assert precision_of({"w": info("F8_E5M2", 8, 8)}) == "fp8 e5m2"
    assert precision_of({}) == ""


def test_studio_models_folders_come_from_settings_the_environment_and_the_command_line(
    comfyui, tmp_path, studio_home, monkeypatch, capsys
):
    from studio.cli import main
    from studio.settings import Settings

    env_folder = tmp_path / "from-env"
    write_header(env_folder / "vae" / "sdxl_vae.safetensors", {"decoder.conv_in.weight": ((512, 4, 3, 3), F16)})
    monkeypatch.setenv("STUDIO_MODELS", os.pathsep.join([str(env_folder), "", str(tmp_path / "gone")]))
    assert Settings().model_paths()[1:] == [env_folder, tmp_path / "gone"]
    assert main(["models", "--models", str(comfyui), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {m["name"]: m for m in data["models"]}
    assert by_name["sdxl_vae.safetensors"]["kind"] == "vae"
    gguf = by_name["wan2.1-t2v-1.3b-Q8_0.gguf"]
    assert (gguf["kind"], gguf["family"], gguf["variant"], gguf["precision"]) == (
        "diffusion_model",
        "wan",
        "Wan T2V 1.3B",
        "GGUF Q8_0",
    )
    assert {"name", "path", "family", "variant", "kind", "precision", "size_bytes"} <= set(gguf)
    assert by_name["4x-UltraSharp.pth"]["needs_pickle"] is True
    assert [m["ref"] for m in data["bundled"]] == ["resources/models/starter"]
    assert any(s["path"].endswith("damaged.gguf") for s in data["skipped"])
    # the app's own folder was made on first use, saying what goes where
    readme = (studio_home / "data" / "models" / "README.txt").read_text()
    assert "diffusion_models/" in readme and "STUDIO_MODELS" in readme
    assert main(["models", "--models", str(comfyui)]) == 0
    text = capsys.readouterr().out
    assert "diffusion models" in text and "GGUF Q8_0" in text and "(needs allow pickle)" in text
    assert "starter (bundled)" in text


def test_a_relative_path_in_a_graph_is_found_in_comfyuis_kind_folders_and_extra_paths(comfyui, tmp_path):
    from studio.model_folders import search_folders

    folders = search_folders([comfyui])
    models = comfyui / "models"
    assert folders[:3] == [models, models / "checkpoints", models / "diffusion_models"]
    assert models / "vae" in folders and models / "loras" in folders
    assert (tmp_path / "shared" / "models" / "Lora").resolve() in [f.resolve() for f in folders]  # extra paths
    # What LoadModel's lookup does with them: the ComfyUI-style bare name resolves.
    found = [
        f / "wan2.1_t2v_1.3B_bf16.safetensors" for f in folders if (f / "wan2.1_t2v_1.3B_bf16.safetensors").exists()
    ]
    assert found == [models / "diffusion_models" / "wan2.1_t2v_1.3B_bf16.safetensors"]
