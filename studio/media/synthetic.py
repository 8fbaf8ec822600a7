"""Procedural clips with known motion: a panning textured background and textured objects
moving across it, rendered at any instant with sub-pixel accuracy.

They give interpolation a ground truth (render at double rate, keep every other frame, and
the dropped frames are the true in-betweens) and benchmarks a realistic, compressible input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MovingObject:
    radius: float
    start: tuple[float, float]  # centre (x, y) at time 0, in pixels
    velocity: tuple[float, float]  # pixels per frame
    square: bool = False


def texture(rng: Any, height: int, width: int, scales: tuple[float, ...] = (1.5, 4.0, 12.0)) -> Any:
    """A smooth, multi-scale colour texture (float32, 0..255) that bilinear sampling reproduces well."""
    import cv2
    import numpy as np

    out = np.zeros((height, width, 3), np.float32)
    for sigma in scales:
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        layer = cv2.GaussianBlur(noise, (0, 0), sigma)
        out += layer / (layer.std() + 1e-6)
    out -= out.min()
    out *= 255.0 / max(float(out.max()), 1e-6)
    return out


class SyntheticScene:
    """A scene that renders the frame at any (fractional) time ``t`` measured in frames."""

    def __init__(
        self,
        width: int = 512,
        height: int = 512,
        *,
        pan: tuple[float, float] = (4.0, 1.5),
        objects: tuple[MovingObject, ...] | None = None,
        seed: int = 0,
        length: int = 64,
    ) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.width, self.height, self.pan = width, height, pan
        span = int(abs(pan[0]) * length + 1), int(abs(pan[1]) * length + 1)
        self.margin = 8
        self.background = texture(rng, height + span[1] + 2 * self.margin, width + span[0] + 2 * self.margin)
        s = min(width, height)
        self.objects = objects or (
            MovingObject(0.13 * s, (0.30 * width, 0.35 * height), (5.0, 2.0)),
            MovingObject(0.10 * s, (0.70 * width, 0.70 * height), (-6.0, -3.0), square=True),
            MovingObject(0.08 * s, (0.55 * width, 0.25 * height), (-2.0, 6.0)),
        )
        self.textures = [texture(rng, int(2 * o.radius + 4), int(2 * o.radius + 4), (1.0, 3.0)) for o in self.objects]
        self._grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))

    def render(self, t: float) -> Any:
        """The uint8 RGB frame at time ``t`` (in frames)."""
        import cv2
        import numpy as np

        gx, gy = self._grid
        ox = self.margin + (
            self.pan[0] * t
            if self.pan[0] >= 0
            else self.background.shape[1] - self.width - 2 * self.margin + self.pan[0] * t
        )
        oy = self.margin + (
            self.pan[1] * t
            if self.pan[1] >= 0
            else self.background.shape[0] - self.height - 2 * self.margin + self.pan[1] * t
        )
        frame = cv2.remap(self.background, gx + np.float32(ox), gy + np.float32(oy), cv2.INTER_LINEAR)
        for obj, tex in zip(self.objects, self.textures, strict=True):
            cx = obj.start[0] + obj.velocity[0] * t
            cy = obj.start[1] + obj.velocity[1] * t
            dx, dy = gx - np.float32(cx), gy - np.float32(cy)
            if obj.square:
                dist = np.maximum(np.abs(dx), np.abs(dy))
            else:
                dist = np.sqrt(dx * dx + dy * dy)
            alpha = np.clip(obj.radius - dist + 0.5, 0.0, 1.0)[..., None]  # one-pixel antialiased edge
            half = tex.shape[0] / 2.0
            colour = cv2.remap(
                tex, dx + np.float32(half), dy + np.float32(half), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            frame = frame * (1.0 - alpha) + colour * alpha
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8)

    def edge_band(self, t: float, margin: float = 3.0) -> Any:
        """Boolean ``[H, W]`` mask of the pixels within half an object's per-frame motion plus
        ``margin`` of its outline at time ``t``: for an in-between at ``t`` of frames at
        ``t ± 0.5``, everything uncovered or covered up between them (where the two neighbours
        disagree) and the flow's smear across the object's edge."""
        import numpy as np

        gx, gy = self._grid
        band = np.zeros((self.height, self.width), bool)
        for obj in self.objects:
            dx = gx - np.float32(obj.start[0] + obj.velocity[0] * t)
            dy = gy - np.float32(obj.start[1] + obj.velocity[1] * t)
            dist = np.maximum(np.abs(dx), np.abs(dy)) if obj.square else np.sqrt(dx * dx + dy * dy)
            reach = 0.5 * float(np.hypot(*obj.velocity)) + margin
            band |= np.abs(dist - np.float32(obj.radius)) <= reach
        return band

    def clip(self, frames: int, step: float = 1.0) -> Any:
        """``frames`` frames at times 0, step, 2*step, ... as uint8 ``[frames, H, W, 3]``."""
        import numpy as np

        return np.stack([self.render(i * step) for i in range(frames)])
