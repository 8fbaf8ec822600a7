"""Sliding context windows: sample a clip longer than the model was trained for, one window at a time.

Each step, the model predicts the noise of overlapping windows of latent frames, one window after the
other, and the predictions are blended into the whole clip's: frames inside one window take its
prediction, frames where windows overlap take a weighted mean whose weights fall off towards each
window's inner edges (AnimateDiff-Evolved's "pyramid" fuse method; for two windows sharing a few
frames, a linear cross-fade). The model's activations are one window's, whatever the clip's length.

Where the windows sit changes from step to step (as AnimateDiff-Evolved's "uniform" schedules shift
theirs): step 0 uses the static schedule (the first window starts at frame 0, each next one
``window - overlap`` frames later, the last one moved back to end on the clip's last frame); later
steps shift the windows by a fraction of the stride (1/2, 1/4, 3/4, …), with a shorter window at
each end of the clip, so the places where one window's prediction hands over to the next move from
step to step and no fixed seam forms. No window is longer than asked, each frame is in at least one,
and neighbours share exactly ``overlap`` frames on shifted steps.
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


def shifted_schedule(length: int, window: int, overlap: int, step: int) -> list[slice]:
    """The windows for denoising step ``step``: :func:`window_schedule` at step 0; later steps move the
    windows by ``shift_fraction(step)`` of the stride, the first and last ones cut short at the clip's ends."""
    static = window_schedule(length, window, overlap)
    stride = window - overlap
    shift = round(stride * shift_fraction(step)) % stride
    if step > 0 and shift == 0 and stride > 1:  # every later step moves, however short the stride
        shift = 1
    if len(static) == 1 or shift == 0:
        return static
    # Shorter windows at the clip's ends, so that no window edge stays in one place on every step.
    windows = [slice(0, shift + overlap)]
    windows += [slice(start, start + window) for start in range(shift, length - window + 1, stride)]
    if windows[-1].stop < length:
        windows.append(slice(windows[-1].stop - overlap, length))
    return windows


def shift_fraction(step: int) -> float:
    """0, 1/2, 1/4, 3/4, 1/8, 5/8, 3/8, 7/8, …: the bit-reversed step, as AnimateDiff-Evolved's
    ``ordered_halving`` spreads its shifts evenly whatever the number of steps."""
    bits = f"{step:064b}"
    return int(bits[::-1], 2) / 2**64


def blend_weights(windows: list[slice], index: int) -> list[float]:
    """The weight of each frame of ``windows[index]`` in the blend: a pyramid, rising from each of
    the window's edges that lies inside the clip (frame k from that edge: k + 1) and flat towards the
    clip's own ends. Where two windows share a few frames at their edges, their normalised weights
    cross-fade linearly; the blend divides by the sum, so a frame in one window takes its prediction."""
    current = windows[index]
    size = current.stop - current.start
    first = min(w.start for w in windows)
    last = max(w.stop for w in windows)
    weights = []
    for i in range(size):
        left = i + 1 if current.start > first else size
        right = size - i if current.stop < last else size
        weights.append(float(min(left, right)))
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


def clip_windows(length: int, context_frames: int, context_overlap: int, temporal: int, step: int = 0) -> list[slice]:
    """The Sampler's context windows for denoising step ``step`` over a latent of ``length`` frames
    (context_frames 0, or a window as long as the clip: one window, the whole clip)."""
    if context_frames <= 0:
        return [slice(0, length)]
    window, overlap = latent_window(context_frames, context_overlap, temporal)
    return shifted_schedule(length, window, min(overlap, window - 1), step)
