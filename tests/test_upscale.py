"""Upscale: OpenCV resampling, and a tiny ESRGAN built with random weights standing in for a user's model."""

from __future__ import annotations

import numpy as np
import pytest
from media_support import make_ctx

from nodes.upscale import upscale
from studio.engine.context import NodeError
from studio.media import upscale as up
from studio.media.synthetic import texture
from studio.media.types import Frames

pytestmark = pytest.mark.ml


def smooth_frames(count=2, height=24, width=40):
    rng = np.random.default_rng(1)
    return Frames(np.stack([texture(rng, height, width, (2.0, 5.0)).astype(np.uint8) for _ in range(count)]), 12.0)


def run(tmp_path, frames, **params):
    values = dict(method="lanczos", scale=2.0, model_path="") | params
    return upscale.compute(make_ctx(tmp_path), frames=frames, **values)["frames"]


@pytest.fixture
def tiny_esrgan(tmp_path):
    """A 2x ESRGAN (RRDBNet) with 8 filters and one block: spandrel recognises it like a real one."""
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    net = ESRGAN(num_filters=8, num_blocks=1, scale=2).eval()
    path = tmp_path / "tiny_x2.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return net, path


@pytest.mark.parametrize("method", ["lanczos", "bicubic"])
def test_resampling_sizes_and_content(tmp_path, method):
    frames = smooth_frames()
    out = run(tmp_path, frames, method=method, scale=1.5)
    assert out.array.shape == (2, 36, 60, 3) and out.fps == 12.0
    back = up.resize_frames(out.array, 1.0, method, size=(40, 24))
    assert np.abs(back.astype(int) - frames.array).mean() < 3  # a smooth image survives the round trip


def test_model_output_matches_running_it_whole(tmp_path, tiny_esrgan):
    import torch

    net, path = tiny_esrgan
    frames = smooth_frames(count=1, height=40, width=56)
    out = run(tmp_path, frames, method="model", model_path=str(path))
    assert out.array.shape == (1, 80, 112, 3)
    with torch.no_grad():
        whole = net(torch.from_numpy(frames.array[0]).permute(2, 0, 1)[None].float() / 255)
    expected = (whole[0].clamp(0, 1) * 255).round().permute(1, 2, 0).numpy()
    assert np.abs(out.array[0].astype(float) - expected).max() <= 1  # the default tile covers the frame


def test_tiles_with_overlap_blend_without_seams(tmp_path, tiny_esrgan):
    _, path = tiny_esrgan
    model = up.load_upscale_model(path)
    frames = smooth_frames(count=1, height=72, width=90)
    whole = up.upscale_with_model(frames.array, model, 2.0, tile=512)
    tiled = up.upscale_with_model(frames.array, model, 2.0, tile=32, overlap=8)
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 24  # the tiny net sees ~20 px: overlap hides the seams


def test_out_of_memory_halves_the_tile(tmp_path, tiny_esrgan, monkeypatch):
    import torch

    _, path = tiny_esrgan
    model = up.load_upscale_model(path)
    real = up._run_model
    seen = []

    def limited(model, piece):
        seen.append(piece.shape[-1])
        if piece.shape[-1] > 40:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(model, piece)

    monkeypatch.setattr(up, "_run_model", limited)
    out = up.upscale_with_model(smooth_frames(count=1, height=48, width=80).array, model, 2.0, tile=128)
    assert out.shape == (1, 96, 160, 3) and max(seen) == 80 and seen[-1] <= 40


def test_model_scale_differing_from_requested_is_resampled(tmp_path, tiny_esrgan):
    _, path = tiny_esrgan
    assert run(tmp_path, smooth_frames(), method="model", scale=3.0, model_path=str(path)).array.shape == (
        2,
        72,
        120,
        3,
    )


def test_pth_loads_weights_only_and_refuses_pickled_code(tmp_path, tiny_esrgan):
    import torch

    net, _ = tiny_esrgan
    torch.save({"params_ema": net.state_dict()}, tmp_path / "w.pth")
    assert run(tmp_path, smooth_frames(), method="model", model_path=str(tmp_path / "w.pth")).array.shape[1] == 48
    torch.save({"weights": net.state_dict(), "hook": Exploit()}, tmp_path / "evil.pth")
    with pytest.raises(NodeError, match=r"model_path: cannot load evil\.pth"):
        run(tmp_path, smooth_frames(), method="model", model_path=str(tmp_path / "evil.pth"))


class Exploit:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_bad_model_files_get_clear_errors(tmp_path):
    import torch
    from safetensors.torch import save_file

    with pytest.raises(NodeError, match="model_path: method 'model' needs"):
        run(tmp_path, smooth_frames(), method="model")
    with pytest.raises(NodeError, match="not found"):
        run(tmp_path, smooth_frames(), method="model", model_path=str(tmp_path / "none.safetensors"))
    save_file({"foo.weight": torch.zeros(3, 3)}, str(tmp_path / "odd.safetensors"))
    with pytest.raises(NodeError, match="not a model architecture spandrel knows"):
        run(tmp_path, smooth_frames(), method="model", model_path=str(tmp_path / "odd.safetensors"))
    (tmp_path / "m.bin").write_bytes(b"x")
    with pytest.raises(NodeError, match="must be .safetensors"):
        run(tmp_path, smooth_frames(), method="model", model_path=str(tmp_path / "m.bin"))
