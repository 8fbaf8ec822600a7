"""Interpolate: flow in-betweens beat a cross-fade on known motion, and never morph across a cut."""

from __future__ import annotations

import numpy as np
import pytest
from media_support import make_ctx

from nodes.interpolate import interpolate
from studio.engine.context import NodeError
from studio.media.interpolate import blend, interpolate_frames, is_scene_cut
from studio.media.synthetic import SyntheticScene
from studio.media.types import Frames


def psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2))


@pytest.fixture(scope="module")
def scene_clip():
    scene = SyntheticScene(160, 128, length=8, seed=2)
    full = scene.clip(9, step=0.5)  # double rate: odd frames are the true in-betweens
    return full[0::2], full[1::2]


@pytest.mark.parametrize("multiplier", [2, 3, 4])
def test_output_keeps_originals_and_duration(scene_clip, multiplier, tmp_path):
    clip, _ = scene_clip
    out = interpolate.compute(make_ctx(tmp_path), frames=Frames(clip, 10.0), multiplier=multiplier, method="flow")[
        "frames"
    ]
    assert out.count == len(clip) * multiplier and out.fps == 10.0 * multiplier
    assert out.duration == pytest.approx(len(clip) / 10.0)
    assert np.array_equal(out.array[::multiplier], clip)  # input frames pass through untouched
    assert np.array_equal(out.array[-1], clip[-1])


def test_flow_beats_blend_on_known_motion(scene_clip):
    clip, truth = scene_clip
    scores = {}
    for method in ("flow", "blend"):
        middles = interpolate_frames(clip, 2, method)[1:-1:2]
        scores[method] = np.mean([psnr(m, t) for m, t in zip(middles, truth, strict=True)])
    assert scores["flow"] >= scores["blend"] + 4.5, scores
    assert scores["flow"] > 30, scores


def test_moving_objects_leave_no_ghost_at_their_edges():
    # Near an object's outline the background is covered or uncovered between the frames:
    # plain warping blends in whatever is in front there (a ghost); occlusion handling takes
    # each pixel from the frame where it is visible.
    scene = SyntheticScene(256, 192, length=8, seed=2)
    full = scene.clip(9, step=0.5)
    clip, truth = full[0::2], full[1::2]
    bands = [scene.edge_band(i + 0.5) for i in range(len(truth))]
    scores = {}
    for method in ("flow", "warp"):
        middles = interpolate_frames(clip, 2, method)[1:-1:2]
        edge = np.mean([psnr(m[b], t[b]) for m, t, b in zip(middles, truth, bands, strict=True)])
        scores[method] = (edge, np.mean([psnr(m, t) for m, t in zip(middles, truth, strict=True)]))
    assert scores["flow"][0] >= scores["warp"][0] + 1.5, scores  # measured +3.0 dB
    assert scores["flow"][1] >= scores["warp"][1] + 1.0, scores


def test_blend_is_the_cross_fade(scene_clip):
    clip, _ = scene_clip
    out = interpolate_frames(clip[:2], 4, "blend")
    expected = clip[0] * 0.75 + clip[1] * 0.25
    assert np.abs(out[1].astype(float) - expected).max() <= 1


def test_scene_cut_duplicates_instead_of_morphing():
    a = SyntheticScene(128, 96, seed=1, length=4).clip(3)
    b = SyntheticScene(128, 96, seed=5, pan=(-3.0, 2.0), length=4).clip(3)
    clip = np.concatenate([a, b])  # cut between frame 2 and 3
    out = interpolate_frames(clip, 4, "flow")
    across = out[2 * 4 + 1 : 3 * 4]  # the three slots between frames 2 and 3
    assert np.array_equal(across[0], clip[2]) and np.array_equal(across[2], clip[3])
    within = out[1:4]
    assert not any(np.array_equal(f, clip[0]) or np.array_equal(f, clip[1]) for f in within)


def test_fast_motion_is_not_taken_for_a_cut():
    import cv2

    scene = SyntheticScene(256, 192, pan=(12.0, -5.0), seed=4, length=3)
    g0, g1 = (cv2.cvtColor(scene.render(t), cv2.COLOR_RGB2GRAY) for t in (0, 1))
    assert not is_scene_cut(g0, g1)
    other = cv2.cvtColor(SyntheticScene(256, 192, seed=9).render(0), cv2.COLOR_RGB2GRAY)
    assert is_scene_cut(g0, other)


def test_single_frame_and_fps_limit(tmp_path):
    one = Frames(np.zeros((1, 8, 8, 3), np.uint8), 24.0)
    out = interpolate.compute(make_ctx(tmp_path), frames=one, multiplier=3, method="flow")["frames"]
    assert out.count == 3
    with pytest.raises(NodeError, match="multiplier"):
        interpolate.compute(make_ctx(tmp_path), frames=Frames(one.array, 400.0), multiplier=3, method="flow")
    assert blend(one.array[0], one.array[0], 0.5).shape == (8, 8, 3)


def test_tiny_frames_are_blended_instead_of_crashing():
    import numpy as np

    from studio.media.interpolate import interpolate_frames

    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    out = interpolate_frames(clip, 2, "flow")
    assert out.shape == (6, 8, 10, 3)
    assert np.array_equal(out[0], clip[0]) and np.array_equal(out[2], clip[1])
