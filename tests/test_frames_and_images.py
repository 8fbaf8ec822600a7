"""FrameAt and fitting conditioning images to a latent's size."""

import numpy as np
import pytest

from nodes.diffusion.images import fit_image
from studio.media.types import Frames
from studio.nodeapi import NodeError


def clip(count=5, h=4, w=6):
    array = np.zeros((count, h, w, 3), np.uint8)
    for i in range(count):
        array[i] = i * 10
    return Frames(array, fps=8.0)


@pytest.mark.parametrize(("index", "value"), [(0, 0), (2, 20), (-1, 40), (-5, 0)])
def test_frame_at_takes_one_frame_counting_from_either_end(registry, index, value):
    from diffusion_graphs import make_context

    image = registry["FrameAt"].compute(make_context("FrameAt"), frames=clip(), index=index)["image"]
    assert image.array.shape == (4, 6, 3) and int(image.array[0, 0, 0]) == value


def test_frame_at_names_the_clip_length_when_out_of_range(registry):
    from diffusion_graphs import make_context

    with pytest.raises(NodeError, match=r"index 5 is outside the clip's 5 frames"):
        registry["FrameAt"].compute(make_context("FrameAt"), frames=clip(), index=5)


def test_images_are_fitted_never_silently_stretched():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 50:150] = 255  # a white centre band on a 2:1 image
    cropped = fit_image(image, (64, 64), "crop")  # covers 64×64, keeps the centre: all white
    assert cropped.shape == (64, 64, 3) and cropped.min() == 255
    padded = fit_image(image, (64, 64), "pad")  # fits inside: black bars above and below
    assert padded.shape == (64, 64, 3) and padded[0].max() == 0 and padded[32, 32, 0] == 255
    stretched = fit_image(image, (64, 64), "resize")
    assert stretched.shape == (64, 64, 3) and stretched[32, 0, 0] == 0
    assert fit_image(image, (200, 100), "crop") is image


@pytest.mark.ml
def test_a_family_that_cannot_use_an_image_input_says_so_by_name(registry, tmp_path):
    from diffusion_graphs import load_model_handle, make_context
    from tiny_models import build_sd

    from studio.media.types import Image

    model = load_model_handle(build_sd(tmp_path / "sd"))
    positive = registry["TextEncode"].compute(make_context("TextEncode"), model=model, text="a cat")["conditioning"]
    latent = registry["EmptyLatent"].compute(
        make_context("EmptyLatent"), model=model, width=32, height=32, frames=1, batch=1
    )["latent"]
    values = dict(model=model, positive=positive, negative=None, latent=latent, steps=1, cfg=1.0, seed=0)
    values |= dict(scheduler="default", denoise=1.0, first_frame=Image(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(NodeError, match=r"first_frame: Stable Diffusion 1.x/2.x models cannot use it"):
        registry["Sampler"].compute(make_context("Sampler"), **values)
