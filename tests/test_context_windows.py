"""Sliding context windows: the schedule, the blend, and Wan/AnimateDiff runs that use them."""

from __future__ import annotations

import pytest

from nodes.diffusion.context_windows import (
    blend_weights,
    check_window,
    clip_windows,
    latent_window,
    predict_in_windows,
    window_schedule,
)
from studio.nodeapi import NodeError


@pytest.mark.parametrize(
    ("length", "window", "overlap"), [(20, 8, 2), (21, 6, 3), (9, 4, 0), (100, 16, 4), (17, 16, 8)]
)
def test_schedule_covers_every_frame_with_the_overlap_asked_and_ends_on_the_last_frame(length, window, overlap):
    windows = window_schedule(length, window, overlap)
    assert windows[0].start == 0 and windows[-1].stop == length
    assert all(w.stop - w.start == window for w in windows)
    covered = {frame for w in windows for frame in range(w.start, w.stop)}
    assert covered == set(range(length))
    for before, after in zip(windows, windows[1:], strict=False):
        assert before.start < after.start
        assert before.stop - after.start >= overlap  # the last window may overlap more, never less
    assert all(before.stop - after.start == overlap for before, after in zip(windows[:-2], windows[1:-1], strict=True))


def test_one_window_when_the_clip_fits_or_windows_are_off():
    assert window_schedule(8, 8, 2) == [slice(0, 8)]
    assert window_schedule(5, 8, 2) == [slice(0, 5)]
    assert window_schedule(30, 0, 0) == [slice(0, 30)]
    assert clip_windows(21, 0, 8, 4) == [slice(0, 21)]
    assert clip_windows(21, 81, 8, 4) == [slice(0, 21)]


def test_pixel_frames_become_latent_frames_rounding_up():
    assert latent_window(81, 8, 4) == (21, 2)
    assert latent_window(33, 5, 4) == (9, 2)
    assert latent_window(16, 4, 1) == (16, 4)
    assert clip_windows(11, 33, 8, 4) == [slice(0, 9), slice(2, 11)]  # 41 frames: 11 latent frames


def test_window_parameters_that_cannot_work_are_explained():
    check_window(0, 8)  # off: the overlap is not used
    check_window(81, 16)
    with pytest.raises(NodeError, match=r"context_overlap must be smaller than context_frames, got 16 ≥ 16"):
        check_window(16, 16)


def test_overlapping_weights_cross_fade_to_one():
    windows = window_schedule(20, 8, 2)  # 0-8, 6-14, 12-20: each frame in at most two windows
    total = [0.0] * 20
    for index, frames in enumerate(windows):
        for offset, weight in enumerate(blend_weights(windows, index)):
            assert 0 < weight <= 1
            total[frames.start + offset] += weight
    assert total == pytest.approx([1.0] * 20)
    assert blend_weights(windows, 0)[:5] == [1.0] * 5  # the clip's own edges are not faded


def test_a_constant_prediction_stays_constant_and_a_consistent_one_is_unchanged():
    import torch

    latents = torch.randn(2, 3, 19, 4, 5)
    windows = window_schedule(19, 6, 2)
    seen = []

    def constant(frames):
        seen.append(frames)
        return torch.full_like(latents[:, :, frames], 0.25)

    assert torch.allclose(predict_in_windows(constant, 19, windows), torch.full_like(latents, 0.25))
    assert seen == windows
    blended = predict_in_windows(lambda frames: latents[:, :, frames] * 2, 19, windows)
    assert torch.allclose(blended, latents * 2, atol=1e-6)
    assert blended.dtype == latents.dtype


def test_windows_off_is_one_whole_clip_call():
    import torch

    result = torch.randn(1, 4, 7, 2, 2)
    calls = []

    def predict(frames):
        calls.append(frames)
        return result

    assert predict_in_windows(predict, 7, [slice(0, 7)]) is result
    assert calls == [slice(0, 7)]


# ---- the families ----------------------------------------------------------------------------------


def _frames_seen(module):
    """Record the frame count of every input ``module`` (a transformer or UNet) receives."""
    seen = []
    handle = module.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(_input(args, kwargs).shape[2]), with_kwargs=True
    )
    return seen, handle


def _input(args, kwargs):
    return args[0] if args else kwargs.get("hidden_states", kwargs.get("sample"))


@pytest.fixture(scope="module")
def wan(tmp_path_factory):
    from diffusion_graphs import load_model_handle
    from tiny_models import build_wan

    return load_model_handle(build_wan(tmp_path_factory.mktemp("models") / "tiny-wan"))


def _sample(registry, model, frames, width=16, height=16, **params):
    from diffusion_graphs import run_node

    positive = run_node(registry, "TextEncode", model=model, text="a red cat runs")["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text="a blue sky")["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=width, height=height, frames=frames)["latent"]
    return run_node(
        registry, "Sampler", model=model, positive=positive, negative=negative, latent=latent, steps=2, seed=5, **params
    )["latent"].samples


@pytest.mark.ml
def test_wan_windows_as_large_as_the_clip_equal_no_windows(registry, wan):
    import torch

    plain = _sample(registry, wan, 9, cfg=5.0)
    whole = _sample(registry, wan, 9, cfg=5.0, context_frames=9, context_overlap=4)
    assert torch.equal(plain, whole)


@pytest.mark.ml
def test_wan_long_clip_runs_window_by_window(registry, wan):
    import torch

    seen, handle = _frames_seen(wan.pipeline.transformer)
    try:
        samples = _sample(registry, wan, 25, cfg=5.0, context_frames=9, context_overlap=4)  # 7 latent frames
    finally:
        handle.remove()
    assert samples.shape[2] == 7 and torch.isfinite(samples).all()
    # Windows of 3 latent frames overlapping by 1: starts 0, 2, 4; cond and uncond each.
    assert seen == [3] * 12
    assert not torch.equal(samples, _sample(registry, wan, 25, cfg=5.0))


@pytest.mark.ml
def test_animatediff_windows(registry, tmp_path_factory):
    import torch
    from diffusion_graphs import load_model_handle
    from tiny_models import build_animatediff

    model = load_model_handle(build_animatediff(tmp_path_factory.mktemp("models") / "tiny-animatediff"))
    plain = _sample(registry, model, 10, width=32, height=32, cfg=7.0)
    assert torch.equal(plain, _sample(registry, model, 10, width=32, height=32, cfg=7.0, context_frames=10))
    seen, handle = _frames_seen(model.pipeline.unet)
    try:
        windowed = _sample(registry, model, 10, width=32, height=32, cfg=7.0, context_frames=6, context_overlap=2)
    finally:
        handle.remove()
    assert seen == [6, 6] * 2 and windowed.shape == plain.shape and torch.isfinite(windowed).all()
