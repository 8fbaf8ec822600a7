"""The starter model's procedural training data, and the clip analysis its quality bar relies on.

The quality test blames the model for a miss only if the analysis reads a perfect clip right; these
tests render clips exactly as training draws them and check the analysis, the captions, the
held-out split and the geometry (every shape whole in frame, moving the stated way).
"""

from __future__ import annotations

import numpy as np
import pytest
from starter_scripts import script


@pytest.fixture(scope="module")
def data():
    return script("data")


@pytest.fixture(scope="module")
def evaluate():
    return script("evaluate")


@pytest.mark.parametrize("layout", ["centred", "anywhere"])
def test_analysis_reads_every_evaluation_case_right_on_a_perfect_clip(data, evaluate, layout):
    rng = np.random.default_rng(7)
    start, speed = data.LAYOUTS[layout]
    for case in evaluate.CASES:
        colour, shape, motion, background = case
        x0, y0 = start(motion, rng)
        report = evaluate.analyse_clip(data.render_clip(*case, x0, y0, speed=speed))
        assert (report.colour, report.motion) == (colour, motion), (case, report)


def test_centred_moving_shapes_cross_half_the_frame_and_still_ones_stay(data, evaluate):
    rng = np.random.default_rng(3)
    for motion, (ux, uy) in data.MOTIONS.items():
        for _ in range(20):
            x0, y0 = data.centred_start(motion, rng)
            dx, dy = evaluate.analyse_clip(data.render_clip("white", "square", motion, "black", x0, y0)).displacement
            travel = data.SPEED * (data.FRAMES - 1)
            assert dx == pytest.approx(ux * travel, abs=1.0) and dy == pytest.approx(uy * travel, abs=1.0)


def test_training_draws_keep_every_shape_whole_in_frame_and_never_a_held_out_combination(data):
    rng = np.random.default_rng(11)
    for layout in ("centred", "anywhere"):
        for _ in range(300):
            clip, text, (colour, shape, motion, background) = data.sample_clip(rng, layout=layout)
            assert (colour, shape, motion) not in data.HELD_OUT
            assert colour != background
            assert colour in text and shape in text and background in text
            # The shape's body (more than half-way from the background to its colour) is in every
            # frame and never cut off by the border: at most a pixel or two may kiss it.
            bg, fg = np.array(data.BACKGROUNDS[background]), np.array(data.COLOURS[colour])
            body = np.linalg.norm(clip - bg, axis=-1) > 0.5 * np.linalg.norm(fg - bg)
            assert body.any(axis=(1, 2)).all(), (layout, text)  # the shape is in every frame
            for edge in (body[:, 0], body[:, -1], body[:, :, 0], body[:, :, -1]):
                assert edge.sum(axis=1).max() <= 2, (layout, text)


def test_held_out_split_holds_every_held_out_combination_on_every_allowed_background(data):
    held = data.combinations("held_out")
    assert {c[:3] for c in held} == set(data.HELD_OUT)
    assert not {c[:3] for c in data.combinations("train")} & set(data.HELD_OUT)
    assert len(held) + len(data.combinations("train")) == len(data.combinations("all"))
