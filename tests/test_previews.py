"""Step previews: factors fitted for a model folder, tiny preview decoders (TAESD) from vae_approx/."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from nodes.diffusion.previews import (
    FACTORS_FILE,
    find_tiny_decoder,
    load_tiny_decoder,
    model_previewer,
    with_folder_factors,
)
from nodes.diffusion.values import LatentFormat

FMT = LatentFormat("wan", 2, 1.0, 0.0, 8, 4, rgb_factors=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))
log = logging.getLogger("test")


def _write(folder, record):
    (folder / FACTORS_FILE).write_text(json.dumps(record))


def test_a_model_folder_s_fitted_factors_replace_the_family_s(tmp_path):
    _write(tmp_path, {"rgb_factors": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], "rgb_bias": [0.0, -0.1, 0.2]})
    fmt = with_folder_factors(FMT, tmp_path, log)
    assert fmt.rgb_factors == ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6)) and fmt.rgb_bias == (0.0, -0.1, 0.2)
    assert with_folder_factors(FMT, tmp_path / "nothing-here", log) is FMT
    assert with_folder_factors(FMT, tmp_path / FACTORS_FILE, log) is FMT  # a single file is not a folder


@pytest.mark.parametrize(
    "record",
    [
        {"rgb_factors": [[0.1, 0.2, 0.3]], "rgb_bias": [0, 0, 0]},  # one row for two channels
        {"rgb_factors": [[0.1, 0.2, 0.3], [0.1, 0.2]], "rgb_bias": [0, 0, 0]},
        {"rgb_factors": [[0.1, 0.2, 0.3], [0.1, 0.2, "x"]], "rgb_bias": [0, 0, 0]},
        {"rgb_factors": [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], "rgb_bias": [0, 0]},
        {"rgb_factors": [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], "rgb_bias": "red"},
        [1, 2, 3],
    ],
)
def test_bad_factor_files_are_ignored_with_a_warning(tmp_path, record, caplog):
    _write(tmp_path, record)
    with caplog.at_level(logging.WARNING):
        assert with_folder_factors(FMT, tmp_path, log) is FMT
    assert "ignoring" in caplog.text


def test_nan_and_huge_factor_files_are_ignored(tmp_path, caplog):
    (tmp_path / FACTORS_FILE).write_text('{"rgb_factors": [[NaN, 0, 0], [0, 0, 0]], "rgb_bias": [0, 0, 0]}')
    assert with_folder_factors(FMT, tmp_path, log) is FMT
    (tmp_path / FACTORS_FILE).write_text(" " * 100_000)
    assert with_folder_factors(FMT, tmp_path, log) is FMT


def test_the_bundled_starter_carries_its_own_fitted_factors():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "resources" / "models" / "starter"
    record = json.loads((folder / FACTORS_FILE).read_text())
    starter = LatentFormat("wan", 16, 1.0, 0.0, 16, 4)
    fmt = with_folder_factors(starter, folder, log)
    assert len(fmt.rgb_factors) == 16 and fmt.rgb_factors[0] == tuple(record["rgb_factors"][0])
    assert record["fit"]["held_out_psnr_db"] > 12


# ---- tiny decoders -------------------------------------------------------------------------------
def _taesd():
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    return AutoencoderTiny().eval()


def _original_layout(model):
    """The decoder's tensors named as madebyollin's taesd_decoder.safetensors (ComfyUI's vae_approx/) names them."""
    out = {}
    for key, value in model.decoder.state_dict().items():
        _, index, rest = key.split(".", 2)  # layers.N.rest
        out[f"{int(index) + 1}.{rest}"] = value.contiguous()
    return out


@pytest.mark.ml
def test_a_taesd_decoder_in_vae_approx_decodes_the_previews(tmp_path):
    import torch
    from safetensors.torch import save_file

    reference = _taesd()
    approx = tmp_path / "models" / "vae_approx"
    approx.mkdir(parents=True)
    save_file(_original_layout(reference), str(approx / "taesd_decoder.safetensors"))
    (approx / "taesdxl_decoder.pth").write_bytes(b"a pickle is never looked for")
    assert find_tiny_decoder("sd15", [tmp_path]) == approx / "taesd_decoder.safetensors"
    assert find_tiny_decoder("sdxl", [tmp_path]) is None
    assert find_tiny_decoder("wan", [tmp_path]) is None  # no TAEHV class in diffusers: factors

    torch.manual_seed(1)
    latents = torch.randn(1, 4, 2, 8, 8)
    loaded = load_tiny_decoder(approx / "taesd_decoder.safetensors")
    model = SimpleNamespace(family="sd15", memo={}, device="cpu", offload="none")
    fmt = LatentFormat("sd15", 4, 0.18215, 0.0, 8, 1, rgb_factors=((1.0, 0.0, 0.0),) * 4)
    frames = model_previewer(model, fmt, [tmp_path], log)(latents)
    assert frames.shape == (2, 64, 64, 3)  # full resolution, every frame
    with torch.no_grad():
        expected = reference.decode(latents[0].permute(1, 0, 2, 3)).sample
    expected = ((expected + 1) * 127.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert abs(frames.astype(int) - expected.astype(int)).max() <= 1
    assert model.memo["tiny_decoder"] is not None  # loaded once, kept with the model
    assert sum(p.numel() for p in loaded.decoder.parameters()) == sum(p.numel() for p in reference.decoder.parameters())


@pytest.mark.ml
def test_a_diffusers_taesd_folder_works_and_a_broken_file_falls_back_to_factors(tmp_path, caplog):
    import torch

    approx = tmp_path / "vae_approx"
    _taesd().save_pretrained(approx / "taesdxl")
    assert find_tiny_decoder("sdxl", [tmp_path]) == approx / "taesdxl"
    assert load_tiny_decoder(approx / "taesdxl").config.latent_channels == 4

    (approx / "taesd_decoder.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    model = SimpleNamespace(family="sd15", memo={}, device="cpu", offload="none")
    fmt = LatentFormat("sd15", 4, 0.18215, 0.0, 8, 1, rgb_factors=((0.5, 0.5, 0.5),) * 4)
    with caplog.at_level(logging.WARNING):
        frames = model_previewer(model, fmt, [tmp_path], log)(torch.zeros(1, 4, 1, 8, 8))
    assert "cannot use" in caplog.text
    assert frames.shape == (1, 8, 8, 3)  # the latent factors, at latent size
