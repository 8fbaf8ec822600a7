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


def normalised(windows, length):
    """Each frame's share of each window's prediction, as predict_in_windows blends them."""
    shares = [dict() for _ in range(length)]
    for index, frames in enumerate(windows):
        for offset, weight in enumerate(blend_weights(windows, index)):
            assert weight > 0
            shares[frames.start + offset][index] = weight
    return [{k: v / sum(share.values()) for k, v in share.items()} for share in shares]


def test_two_windows_sharing_a_few_frames_cross_fade_linearly():
    windows = window_schedule(20, 8, 2)  # 0-8, 6-14, 12-20: each frame in at most two windows
    shares = normalised(windows, 20)
    assert all(sum(share.values()) == pytest.approx(1.0) for share in shares)
    assert shares[:6] == [{0: 1.0}] * 6  # the clip's own start is not faded
    assert shares[6] == pytest.approx({0: 2 / 3, 1: 1 / 3}) and shares[7] == pytest.approx({0: 1 / 3, 1: 2 / 3})
    assert shares[8:12] == [{1: 1.0}] * 4 and shares[-6:] == [{2: 1.0}] * 6


@pytest.mark.parametrize(("length", "window", "overlap"), [(20, 8, 2), (21, 6, 3), (17, 5, 2), (100, 16, 4)])
def test_windows_move_from_step_to_step_and_keep_their_length_and_overlap(length, window, overlap):
    from nodes.diffusion.context_windows import shift_fraction, shifted_schedule

    assert [shift_fraction(step) for step in range(8)] == [0, 1 / 2, 1 / 4, 3 / 4, 1 / 8, 5 / 8, 3 / 8, 7 / 8]
    assert shifted_schedule(length, window, overlap, 0) == window_schedule(length, window, overlap)
    handovers, handovers_by_step = set(), []
    for step in range(6):
        windows = shifted_schedule(length, window, overlap, step)
        assert windows[0].start == 0 and windows[-1].stop == length
        assert all(w.stop - w.start <= window for w in windows)
        assert all(w.stop - w.start == window for w in windows[1:-1])  # only the end ones are cut short
        assert {f for w in windows for f in range(w.start, w.stop)} == set(range(length))
        assert all(
            a.start < b.start and a.stop - b.start >= overlap for a, b in zip(windows, windows[1:], strict=False)
        )
        shares = normalised(windows, length)
        assert all(sum(share.values()) == pytest.approx(1.0) for share in shares)
        handovers |= {w.start for w in windows[1:]}
        handovers_by_step.append({w.start for w in windows[1:]} | {w.stop for w in windows[:-1]})
    # The windows start and end somewhere else on later steps: no place is a handover at every step.
    assert len(handovers) > len(window_schedule(length, window, overlap)) - 1
    assert not set.intersection(*handovers_by_step)


def test_a_clip_that_fits_one_window_never_shifts():
    from nodes.diffusion.context_windows import shifted_schedule

    assert [shifted_schedule(8, 8, 2, step) for step in range(4)] == [[slice(0, 8)]] * 4
    assert clip_windows(21, 0, 8, 4, step=3) == [slice(0, 21)]


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
    # Windows of 3 latent frames overlapping by 1: 0-3, 2-5, 4-7 on the first step, then shifted by
    # half the stride: 0-2, 1-4, 3-6, 5-7; cond and uncond each.
    assert seen == [3] * 6 + [2, 2, 3, 3, 3, 3, 2, 2]
    assert not torch.equal(samples, _sample(registry, wan, 25, cfg=5.0))

    # Under a step cache (which reuses each call position's result from the step before) they stay put.
    seen.clear()
    handle = wan.pipeline.transformer.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(_input(args, kwargs).shape[2]), with_kwargs=True
    )
    try:
        _sample(registry, wan, 25, cfg=5.0, context_frames=9, context_overlap=4, speedup="first_block")
    finally:
        handle.remove()
    assert seen == [3] * 12


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
    assert seen == [6, 6, 4, 6, 4]  # 0-6, 4-10 on the first step; 0-4, 2-8, 6-10 then
    assert windowed.shape == plain.shape and torch.isfinite(windowed).all()


@pytest.mark.ml
def test_wan_image_inputs_reach_the_windows_that_hold_their_frames(registry, tmp_path, monkeypatch):
    """First/last-frame conditioning over a clip of 7 latent frames in windows of 3: the window holding
    the first frame sees it as known (the mask channels), the one holding the last frame sees that,
    and the windows between see no known frame. (The starter's training-free mode replaces the known
    frames in the whole clip's latents before each step, so its windows take them the same way.)"""
    import numpy as np
    import torch
    from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_i2v
    from diffusion_graphs import load_model_handle
    from tiny_models import build_wan_i2v

    from studio.media.types import Image

    monkeypatch.setattr(pipeline_wan_i2v, "basic_clean", pipeline_wan.basic_clean)  # as test_wan_i2v
    model = load_model_handle(build_wan_i2v(tmp_path / "tiny-wan-flf2v", last_frame=True))
    known = []  # per transformer call: which of its window's frames are marked known (mask channels 16-19)
    handle = model.pipeline.transformer.register_forward_pre_hook(
        lambda _m, args, kwargs: known.append(kwargs["hidden_states"][0, 16:20, :, 0, 0].amax(0).tolist()),
        with_kwargs=True,
    )
    picture = np.full((16, 32, 3), 128, np.uint8)
    try:
        samples = _sample(
            registry,
            model,
            25,
            width=32,
            height=16,
            cfg=1.0,
            context_frames=9,
            context_overlap=4,
            first_frame=Image(picture),
            last_frame=Image(picture),
        )
    finally:
        handle.remove()
    assert samples.shape[2] == 7 and torch.isfinite(samples).all()
    # Step 0: windows 0-3, 2-5, 4-7; step 1 (shifted): 0-2, 1-4, 3-6, 5-7.
    assert known == [[1, 0, 0], [0, 0, 0], [0, 0, 1], [1, 0], [0, 0, 0], [0, 0, 0], [0, 1]]
