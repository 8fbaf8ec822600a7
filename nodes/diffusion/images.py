"""Conditioning images fitted to a latent's pixel size, the way the pipelines' video processors do.

``crop`` scales the image to cover the size and keeps the centre (what Wan's and LTX's image-to-video
examples do to keep the aspect ratio), ``pad`` scales it to fit inside and letterboxes with black,
``resize`` stretches it (diffusers' ``VideoProcessor.preprocess`` default). Never stretched unless asked.
"""

from __future__ import annotations

from typing import Any

FIT_CHOICES = ("crop", "pad", "resize")


def latent_pixel_size(latent: Any) -> tuple[int, int]:
    """(width, height) in pixels of a latent ``[B, C, F, h, w]``."""
    fmt = latent.format
    return int(latent.shape[-1]) * fmt.spatial, int(latent.shape[-2]) * fmt.spatial


def fit_image(array: Any, size: tuple[int, int], fit: str) -> Any:
    """uint8 RGB ``[H, W, 3]`` → uint8 RGB of ``size`` (width, height)."""
    import cv2
    import numpy as np

    width, height = size
    h, w = array.shape[:2]
    if (w, h) == (width, height):
        return array
    if fit not in FIT_CHOICES:
        raise ValueError(f"fit must be one of {', '.join(FIT_CHOICES)}, got {fit!r}")
    if fit == "resize":
        return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if w > width else cv2.INTER_CUBIC)
    scale = max(width / w, height / h) if fit == "crop" else min(width / w, height / h)
    scaled_w, scaled_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(array, (scaled_w, scaled_h), interpolation=interpolation)
    if fit == "crop":
        top, left = (scaled_h - height) // 2, (scaled_w - width) // 2
        return np.ascontiguousarray(scaled[top : top + height, left : left + width])
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - scaled_h) // 2, (width - scaled_w) // 2
    out[top : top + scaled_h, left : left + scaled_w] = scaled
    return out
