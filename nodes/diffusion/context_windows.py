"""Sliding context windows: sample a clip longer than the model was trained for, one window at a time.

Each step, the model predicts the noise of overlapping windows of latent frames, one window after the
other, and the predictions are blended into the whole clip's: frames inside one window take its
prediction, frames where two windows overlap cross-fade linearly from one to the next (as
AnimateDiff-Evolved's context options and WanVideoWrapper's context windows do). The model's
activations are one window's, whatever the clip's length.

The windows are static: the first starts at frame 0, each next one ``window - overlap`` frames later,
and the last is moved back so that it ends on the clip's last frame (it may overlap its neighbour by
more than asked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.nodeapi import NodeError


def latent_window(frames: int, overlap: int, temporal: int) -> tuple[int, int]:
    """A window of ``frames`` pixel frames and an overlap of ``overlap`` pixel frames, in latent frames.

    A video VAE that compresses time by ``temporal`` keeps the first pixel frame alone and packs each
    next ``temporal`` frames into one latent frame; both lengths round up, so a window holds at
    least the frames asked for (Wan: 81 frames → 21 latent frames, an overlap of 8 → 2).
    """
    if temporal <= 1:
        return frames, overlap
    return -(-(frames - 1) // temporal) + 1, -(-overlap // temporal)


def check_window(frames: int, overlap: int) -> None:
    """The Sampler's context_frames / context_overlap, with the reason when they cannot work."""
    if frames < 0 or overlap < 0:
        raise NodeError(f"context_frames and context_overlap must be 0 or more, got {frames} and {overlap}")
    if frames and overlap >= frames:
        raise NodeError(
            f"context_overlap must be smaller than context_frames, got {overlap} ≥ {frames}; "
            "lower context_overlap (a quarter of the window is usual)"
        )


def window_schedule(length: int, window: int, overlap: int) -> list[slice]:
    """The windows over ``length`` latent frames: ``window`` frames each (0 or ≥ length: one window,
    the whole clip), consecutive ones sharing ``overlap`` frames, the last one ending on the clip's end."""
    if window <= 0 or window >= length:
        return [slice(0, length)]
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be between 0 and window - 1 ({window - 1}), got {overlap}")
    stride = window - overlap
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return [slice(start, start + window) for start in dict.fromkeys(starts)]


def blend_weights(windows: list[slice], index: int) -> list[float]:
    """The weight of each frame of ``windows[index]`` in the blend: 1, except where it overlaps a
    neighbouring window, where it ramps linearly (up from the previous window, down to the next one)
    so that the two weights of a frame shared by two windows add up to 1."""
    current = windows[index]
    size = current.stop - current.start
    weights = [1.0] * size
    if index > 0:
        shared = windows[index - 1].stop - current.start
        for i in range(max(shared, 0)):
            weights[i] = min(weights[i], (i + 1) / (shared + 1))
    if index + 1 < len(windows):
        shared = current.stop - windows[index + 1].start
        for i in range(max(shared, 0)):
            weights[size - 1 - i] = min(weights[size - 1 - i], (i + 1) / (shared + 1))
    return weights


def predict_in_windows(predict: Callable[[slice], Any], length: int, windows: list[slice], dim: int = 2) -> Any:
    """The whole clip's prediction from ``predict(frames)``, which predicts the frames ``frames`` (a
    slice along dimension ``dim``) of the clip. One window covering the clip: exactly ``predict``'s
    result. Otherwise the windows' predictions are blended (float32) and returned in their dtype."""
    import torch

    if len(windows) == 1 and windows[0] == slice(0, length):
        return predict(windows[0])
    total = weight_sum = None
    dtype = None
    for index, frames in enumerate(windows):
        pred = predict(frames)
        dtype = pred.dtype
        if total is None:
            shape = list(pred.shape)
            shape[dim] = length
            total = torch.zeros(shape, dtype=torch.float32, device=pred.device)
            weight_sum = torch.zeros(length, dtype=torch.float32, device=pred.device)
        weights = torch.tensor(blend_weights(windows, index), dtype=torch.float32, device=pred.device)
        view = [1] * pred.ndim
        view[dim] = -1
        total.narrow(dim, frames.start, frames.stop - frames.start).add_(pred.float() * weights.view(view))
        weight_sum[frames] += weights
        del pred  # let the window's activations go before the next window runs
    view = [1] * total.ndim
    view[dim] = -1
    return (total / weight_sum.view(view)).to(dtype)


def clip_windows(length: int, context_frames: int, context_overlap: int, temporal: int) -> list[slice]:
    """The Sampler's context windows over a latent of ``length`` frames (context_frames 0: one window)."""
    if context_frames <= 0:
        return [slice(0, length)]
    window, overlap = latent_window(context_frames, context_overlap, temporal)
    return window_schedule(length, window, min(overlap, window - 1))
