"""Procedural training data for the starter model: captioned clips of simple moving shapes.

Every clip is drawn from five attributes (shape colour, shape, motion, background colour and a
random position), so the data set is infinite and needs no download. Some colour × shape ×
motion combinations are held out of training on purpose; the evaluation renders them to see
whether the model composes attributes it has only seen apart.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

SIZE = 64  # clip width and height in pixels
FRAMES = 9  # 4×k+1 frames, as the Wan VAE's temporal compression expects
RADIUS = 9.0  # half the shape's size, in pixels
# Two layouts. "centred" clips train the denoiser: a moving shape travels SPEED pixels a frame
# (half the frame over the clip) through the middle of the frame, its start jittered by up to
# JITTER_ALONG pixels along the motion and JITTER_ACROSS across it; a still shape sits within
# STILL_JITTER of the centre. Each latent frame then shows the shape a whole transformer patch
# further on, a large, consistent signal for the motion word. "anywhere" clips train the VAE:
# shapes anywhere in the frame at VAE_SPEED, the widest variety of positions to reconstruct.
SPEED = 4.0
VAE_SPEED = 3.0
JITTER_ALONG = 4.0
JITTER_ACROSS = 10.0
STILL_JITTER = 12.0

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 210, 60),
    "blue": (50, 90, 240),
    "yellow": (245, 225, 40),
    "white": (250, 250, 250),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "blue": (25, 35, 130),
    "red": (130, 25, 25),
    "green": (25, 110, 35),
}
SHAPES = ("circle", "square", "triangle")
MOTIONS: dict[str, tuple[float, float]] = {  # unit displacement per frame (x right, y down)
    "right": (1.0, 0.0),
    "left": (-1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "still": (0.0, 0.0),
}

# Colour × shape × motion combinations never shown in training (on any background).
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("red", "triangle", "up"),
        ("green", "circle", "left"),
        ("blue", "square", "right"),
        ("yellow", "triangle", "down"),
        ("white", "circle", "still"),
        ("red", "square", "left"),
        ("blue", "circle", "up"),
        ("yellow", "square", "still"),
    }
)

# How captions word each motion; the first phrase is the canonical one used in evaluation.
MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "right": ("moving right", "moving to the right", "moves right", "going right", "sliding to the right"),
    "left": ("moving left", "moving to the left", "moves left", "going left", "sliding to the left"),
    "up": ("moving up", "moving upward", "moves up", "going up", "rising"),
    "down": ("moving down", "moving downward", "moves down", "going down", "falling"),
    "still": ("staying still", "standing still", "not moving", "resting", "staying in place"),
}
TEMPLATES = (
    "a {colour} {shape} {motion} on a {background} background",
    "a {colour} {shape} {motion} over a {background} background",
    "{colour} {shape} {motion}, {background} background",
    "a {colour} {shape} {motion} against a {background} backdrop",
    "on a {background} background, a {colour} {shape} {motion}",
    "a {background} background with a {colour} {shape} {motion}",
)
EXTRA_WORDS = ("the", "an", "of", "and", "video", "clip", "shape", "slowly", "quickly", "frame", "across")


def vocabulary() -> list[str]:
    """Every word a caption can contain (plus a few common ones), in a fixed order."""
    words: dict[str, None] = {}
    texts = list(TEMPLATES) + [p for phrases in MOTION_PHRASES.values() for p in phrases]
    texts += list(COLOURS) + list(BACKGROUNDS) + list(SHAPES) + list(EXTRA_WORDS)
    for text in texts:
        for word in text.replace(",", " , ").split():
            if not word.startswith("{"):
                words[word] = None
    return list(words)


def combinations(split: str) -> list[tuple[str, str, str, str]]:
    """(colour, shape, motion, background) tuples of a split: "train", "held_out" or "all".

    A shape never has its background's colour name (a blue square on blue is ambiguous).
    """
    out = []
    for colour, shape, motion, background in itertools.product(COLOURS, SHAPES, MOTIONS, BACKGROUNDS):
        if colour == background:
            continue
        held = (colour, shape, motion) in HELD_OUT
        if split == "all" or (split == "held_out") == held:
            out.append((colour, shape, motion, background))
    return out


def caption(colour: str, shape: str, motion: str, background: str, rng: np.random.Generator | None = None) -> str:
    """A free-text caption; canonical wording without ``rng``, a random wording with it."""
    if rng is None:
        template, phrase = TEMPLATES[0], MOTION_PHRASES[motion][0]
    else:
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        phrase = MOTION_PHRASES[motion][rng.integers(len(MOTION_PHRASES[motion]))]
    return template.format(colour=colour, shape=shape, motion=phrase, background=background)


def _polygon(shape: str, cx: float, cy: float, r: float) -> np.ndarray | None:
    if shape == "square":
        s = r * 0.9
        pts = [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    elif shape == "triangle":
        pts = [(cx, cy - r), (cx + r * 1.05, cy + r * 0.8), (cx - r * 1.05, cy + r * 0.8)]
    else:
        return None
    return np.round(np.array(pts) * 16).astype(np.int32)  # 4 fractional bits for cv2's shift


def render_clip(
    colour: str,
    shape: str,
    motion: str,
    background: str,
    x0: float,
    y0: float,
    radius: float = RADIUS,
    speed: float = SPEED,
) -> np.ndarray:
    """uint8 RGB frames [FRAMES, SIZE, SIZE, 3] of one shape starting at (x0, y0)."""
    dx, dy = MOTIONS[motion]
    frames = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
    for i in range(FRAMES):
        frame = np.empty((SIZE, SIZE, 3), np.uint8)
        frame[:] = BACKGROUNDS[background]
        cx, cy = x0 + dx * speed * i, y0 + dy * speed * i
        poly = _polygon(shape, cx, cy, radius)
        if poly is None:
            center = (int(round(cx * 16)), int(round(cy * 16)))
            cv2.circle(frame, center, int(round(radius * 16)), COLOURS[colour], -1, cv2.LINE_AA, 4)
        else:
            cv2.fillPoly(frame, [poly], COLOURS[colour], cv2.LINE_AA, 4)
        frames[i] = frame
    return frames


def centred_start(motion: str, rng: np.random.Generator, radius: float = RADIUS) -> tuple[float, float]:
    """A "centred" start: the path runs through the middle of the frame, jittered, shape in frame."""
    dx, dy = MOTIONS[motion]
    travel = SPEED * (FRAMES - 1)
    margin = radius + 1.5
    centre = SIZE / 2

    def axis(d: float) -> float:
        if d == 0:
            jitter = STILL_JITTER if (dx, dy) == (0.0, 0.0) else JITTER_ACROSS
            return float(rng.uniform(centre - jitter, centre + jitter))
        start = centre - d * travel / 2 + float(rng.uniform(-JITTER_ALONG, JITTER_ALONG))
        end = start + d * travel
        lo, hi = sorted((start, end))
        return start + max(0.0, margin - lo) - max(0.0, hi - (SIZE - margin))  # keep it all in frame

    return axis(dx), axis(dy)


def anywhere_start(motion: str, rng: np.random.Generator, radius: float = RADIUS) -> tuple[float, float]:
    """An "anywhere" start: uniform over the positions that keep the shape in frame at VAE_SPEED."""
    dx, dy = MOTIONS[motion]
    travel = VAE_SPEED * (FRAMES - 1)
    margin = radius + 1.5

    def axis(d: float) -> float:
        lo, hi = margin, SIZE - margin
        if d > 0:
            hi -= travel
        elif d < 0:
            lo += travel
        return float(rng.uniform(lo, hi))

    return axis(dx), axis(dy)


def sample_clip(
    rng: np.random.Generator, split: str = "train", layout: str = "centred"
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """One random clip of a split in a layout ("centred" or "anywhere"), its random caption and attributes."""
    combos = _COMBOS[split]
    colour, shape, motion, background = combos[rng.integers(len(combos))]
    radius = RADIUS * float(rng.uniform(0.85, 1.15))
    start, speed = LAYOUTS[layout]
    x0, y0 = start(motion, rng, radius)
    clip = render_clip(colour, shape, motion, background, x0, y0, radius, speed)
    return clip, caption(colour, shape, motion, background, rng), (colour, shape, motion, background)


# layout name -> (start position function, pixels per frame)
LAYOUTS = {"centred": (centred_start, SPEED), "anywhere": (anywhere_start, VAE_SPEED)}


def to_tensor_range(clips: np.ndarray) -> np.ndarray:
    """uint8 [B, F, H, W, 3] → float32 [B, 3, F, H, W] in -1..1 (the VAE's input range)."""
    return (clips.astype(np.float32) / 127.5 - 1.0).transpose(0, 4, 1, 2, 3)


_COMBOS = {split: combinations(split) for split in ("train", "held_out", "all")}
