"""Memory estimates of the frame nodes (Upscale, Interpolate): the frames they hand on, planned.

``PlannedFrames`` is what travels on a FRAMES wire in an estimate (studio.nodeapi.memory). A frame
node holds its output as uint8 for the rest of the run and works on about one float copy of it
(resampling and flow warping convert frames to float one at a time, then stack the results).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.nodeapi.memory import EstimateContext, Estimated, MemoryUse


@dataclass(frozen=True)
class PlannedFrames:
    count: int
    width: int
    height: int

    @property
    def nbytes(self) -> int:
        return self.count * self.width * self.height * 3


def _handed_on(frames: PlannedFrames) -> Estimated:
    return Estimated({"frames": frames}, MemoryUse(held_ram=frames.nbytes, work_ram=frames.nbytes))


def upscale(ctx: EstimateContext, *, frames: PlannedFrames | None, scale: float, **params) -> Estimated:
    if frames is None or not isinstance(scale, (int, float)):
        return Estimated()
    out = PlannedFrames(frames.count, round(frames.width * scale), round(frames.height * scale))
    return _handed_on(out)


def interpolate(ctx: EstimateContext, *, frames: PlannedFrames | None, multiplier: int, **params) -> Estimated:
    if frames is None or not isinstance(multiplier, int):
        return Estimated()
    return _handed_on(PlannedFrames(frames.count * multiplier, frames.width, frames.height))  # F × multiplier
