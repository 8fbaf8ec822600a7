"""Media values that travel on the wires: FRAMES, IMAGE, AUDIO and VIDEO (DESIGN.md §3).

Frames stay uint8 between nodes (a 1080p clip is 4x smaller than float); nodes convert to
float locally when they need to. numpy is imported lazily by the helpers that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, eq=False)
class Frames:
    """uint8 RGB frames ``[frames, height, width, 3]`` at ``fps`` frames per second."""

    array: Any  # numpy.ndarray, uint8, C-contiguous
    fps: float = 24.0

    def __post_init__(self) -> None:
        a = self.array
        if getattr(a, "ndim", None) != 4 or a.shape[-1] != 3 or str(a.dtype) != "uint8":
            shape = getattr(a, "shape", None)
            raise ValueError(
                f"frames must be uint8 [frames, height, width, 3], got {getattr(a, 'dtype', type(a))} {shape}"
            )
        if not (0 < self.fps <= 1000):
            raise ValueError(f"fps must be between 0 and 1000, got {self.fps}")

    @property
    def count(self) -> int:
        return int(self.array.shape[0])

    @property
    def height(self) -> int:
        return int(self.array.shape[1])

    @property
    def width(self) -> int:
        return int(self.array.shape[2])

    @property
    def duration(self) -> float:
        return self.count / self.fps

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


@dataclass(frozen=True, eq=False)
class Image:
    """One uint8 RGB frame ``[height, width, 3]``."""

    array: Any

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


@dataclass(frozen=True, eq=False)
class Audio:
    """A float32 waveform ``[channels, samples]`` in -1..1 at ``sample_rate``."""

    waveform: Any
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.waveform.shape[0])

    @property
    def duration(self) -> float:
        return self.waveform.shape[1] / self.sample_rate

    @property
    def nbytes(self) -> int:
        return int(self.waveform.nbytes)


@dataclass(frozen=True)
class VideoFile:
    """An encoded video file and its probed facts."""

    path: Path
    duration: float
    fps: float
    width: int
    height: int
    frame_count: int
    has_audio: bool = False
    codec: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def nbytes(self) -> int:
        return 256  # a path and a few numbers; the file itself lives on disk

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "duration": self.duration,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "frame_count": self.frame_count,
            "has_audio": self.has_audio,
            "codec": self.codec,
        }
