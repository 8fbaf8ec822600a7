"""How much memory decoding may fill, and the array that decoders fill without passing it.

Every decoder (video frames, audio samples, images) counts what it produces as it goes and
stops at :func:`memory_budget`: a quarter of the machine's memory, or ``STUDIO_MEDIA_BUDGET_BYTES``
when set (tests lower it). So a small hostile file (a live-mode Matroska that declares no
duration, a PNG bomb, a FLAC resampled to 384 kHz) fails with a :class:`MediaError` that names
the file and what it would have needed, instead of taking the machine down.
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.media.errors import MediaError

BUDGET_ENV = "STUDIO_MEDIA_BUDGET_BYTES"
RAM_SHARE = 4  # decoded media may take a quarter of the machine's memory
FALLBACK_RAM = 8 * 1024**3  # where the platform does not say how much it has
MAX_PIXELS = 100_000_000  # per picture: 8K is 33 megapixels, a decompression bomb is hundreds
_CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")  # a container's share, smaller than the host's RAM


def physical_memory() -> int:
    """Bytes of memory this process can have: the RAM, or the container's limit when smaller."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        total = FALLBACK_RAM
    try:
        text = _CGROUP_LIMIT.read_text().strip()
    except OSError:
        text = "max"
    if text.isdigit() and 0 < int(text) < total:
        total = int(text)
    return total


def memory_budget() -> int:
    """Bytes one decode may produce: ``STUDIO_MEDIA_BUDGET_BYTES`` when set, else a quarter of memory."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return physical_memory() // RAM_SHARE
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise MediaError(f"{BUDGET_ENV} must be a positive whole number of bytes, got {text!r}")
    return value


def size_text(count: float) -> str:
    """``6.0 GiB``, ``12.3 MiB``, ``512 bytes``."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} bytes"


def too_big(path: Path, needed: int, limit: int, what: str, *, at_least: bool = False, hint: str = "") -> MediaError:
    """The error for a decode over ``limit``; ``at_least`` when ``needed`` is a lower bound (counting stopped there).

    ``clip.mkv: decoding needs more than 6.0 GiB (at least 412 frames of 1920×1080 so far); the limit is 6.0 GiB``
    """
    more = "more than " if at_least else ""
    text = f"{path.name}: decoding needs {more}{size_text(needed)} ({what}); the limit is {size_text(limit)}"
    return MediaError(text + (f"; {hint}" if hint else ""))


def check_picture(path: Path, width: int, height: int) -> None:
    """Refuse a picture (image or video frame) over :data:`MAX_PIXELS` before anything decodes it."""
    if width * height > MAX_PIXELS:
        raise MediaError(
            f"{path.name}: a picture of {width}×{height} is {width * height / 1e6:.0f} megapixels, "
            f"more than the {MAX_PIXELS // 1_000_000} allowed (damaged, or a decompression bomb)"
        )


class BoundedArray:
    """One array that a decoder fills in place, item by item, and never past ``limit`` bytes.

    Video frames are ``[length, H, W, 3]`` (no ``planes``); audio is ``[planes, length]``, one
    plane per channel, each a contiguous row. ``capacity`` items are reserved
    up front: a count the file gives (refused at once when over the limit), or a ``guess``
    (trimmed to the limit) when it gives none. Past it the block grows by a quarter with
    ``realloc``, which moves no bytes on Linux (the pages are remapped), so the peak stays about
    1.25x the output rather than the 2x of stacking or concatenating pieces. ``describe(n)``
    says what ``n`` items are, for the error (``"412 frames of 1920×1080"``).
    """

    GROWTH = 1.25

    def __init__(
        self,
        path: Path,
        *,
        item_shape: tuple[int, ...],
        dtype: Any,
        limit: int,
        capacity: int,
        describe: Callable[[int], str],
        planes: int | None = None,
        hint: str = "",
        guess: bool = False,
    ) -> None:
        import numpy as np

        self.path, self.item_shape = path, tuple(item_shape)
        self.planes, self.has_planes = planes or 1, planes is not None
        self.dtype = np.dtype(dtype)
        self.limit, self.describe, self.hint = limit, describe, hint
        self.item_size = math.prod(self.item_shape)  # elements of one item in one plane
        self.item_bytes = self.planes * self.item_size * self.dtype.itemsize  # bytes per unit of length
        self.max_length = limit // self.item_bytes if self.item_bytes else 0
        self.length = 0
        capacity = max(min(capacity, self.max_length) if guess else capacity, 1)
        if capacity > self.max_length:
            raise too_big(path, capacity * self.item_bytes, limit, describe(capacity), at_least=guess, hint=hint)
        self.capacity = capacity
        try:
            self._flat = np.empty(self.planes * capacity * self.item_size, self.dtype)
        except MemoryError:
            raise self._no_memory(capacity) from None

    def extend(self, values: Any) -> None:
        """Append ``values``: ``[k, *item]``, or ``[planes, k, *item]`` for an array with planes."""
        shape = values.shape if self.has_planes else (1, *values.shape)
        if shape[0] != self.planes or tuple(shape[2:]) != self.item_shape:
            raise MediaError(
                f"{self.path.name}: the picture size or channel count changes mid-stream, which is not supported"
            )
        count = shape[1]
        if self.length + count > self.capacity:
            self._grow(self.length + count)
        view = self._flat[: self.planes * self.capacity * self.item_size].reshape(
            self.planes, self.capacity, *self.item_shape
        )
        view[:, self.length : self.length + count] = values if self.has_planes else values[None]
        self.length += count

    def keep(self, count: int) -> None:
        """Forget what was appended past the first ``count`` items."""
        self.length = min(self.length, count)

    def take(self) -> Any:
        """The filled array, trimmed to what was appended."""
        self._relayout(self.length)
        flat, self._flat = self._flat, None
        shape = (self.planes, self.length, *self.item_shape) if self.has_planes else (self.length, *self.item_shape)
        return flat.reshape(shape)

    def _grow(self, needed: int) -> None:
        if needed > self.max_length:
            raise too_big(
                self.path,
                needed * self.item_bytes,
                self.limit,
                f"at least {self.describe(needed)} so far",
                at_least=True,
                hint=self.hint,
            )
        target = min(max(needed, math.ceil(self.capacity * self.GROWTH)), self.max_length)
        self._relayout(target)

    def _relayout(self, capacity: int) -> None:
        """Resize the block to ``capacity`` items per plane, moving each plane to its new start."""
        if capacity == self.capacity:
            return
        old, step = self.capacity, self.item_size * self.dtype.itemsize
        if capacity < old:
            for plane in range(1, self.planes):  # down, first plane first
                self._move(plane * old * step, plane * capacity * step, self.length * step)
        try:
            # refcheck=False: this object holds the only reference, no view outlives a call.
            self._flat.resize(self.planes * capacity * self.item_size, refcheck=False)
        except MemoryError:
            raise self._no_memory(capacity) from None
        if capacity > old:
            for plane in range(self.planes - 1, 0, -1):  # up, last plane first
                self._move(plane * old * step, plane * capacity * step, self.length * step)
        self.capacity = capacity

    def _move(self, source: int, target: int, size: int) -> None:
        base = self._flat.ctypes.data
        ctypes.memmove(base + target, base + source, size)  # the ranges may overlap

    def _no_memory(self, count: int) -> MediaError:
        return MediaError(
            f"{self.path.name}: not enough free memory to decode it ({self.describe(count)} "
            f"need {size_text(count * self.item_bytes)})"
        )
