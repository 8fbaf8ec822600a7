"""Memory estimates of the frame nodes (Upscale, Interpolate): the frames they hand on, planned.

``PlannedFrames`` is what travels on a FRAMES wire in an estimate (studio.nodeapi.memory). A frame
node holds its output as uint8 for the rest of the run and works on about one float copy of it
(resampling and flow warping convert frames to float one at a time, then stack the results).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.nodeapi import MissingFiles
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


def upscale(
    ctx: EstimateContext,
    *,
    frames: PlannedFrames | None,
    scale: float,
    method: str = "",
    model_path: str = "",
    **params,
) -> Estimated:
    """The frames it hands on; with method "model", the upscaler's file must be there (named when it
    is not, as LoadLoRA's is) and its weights are held while it runs (the file's size)."""
    weights = 0
    if method == "model" and isinstance(model_path, str) and model_path.strip():
        path = Path(model_path)  # as the node opens it (studio.media.upscale.load_upscale_model)
        if not path.is_file():
            raise MissingFiles(f"model_path {model_path!r} does not exist", [model_path])
        weights = path.stat().st_size
    if frames is None or not isinstance(scale, (int, float)):
        return Estimated()
    out = PlannedFrames(frames.count, round(frames.width * scale), round(frames.height * scale))
    handed_on = _handed_on(out)
    if not weights:
        return handed_on
    note = f"upscaler, {weights / 1e6:.1f} MB"  # on the run's device while it computes
    upscaler = MemoryUse(work_vram=weights, note=note) if ctx.on_gpu else MemoryUse(work_ram=weights, note=note)
    return Estimated(handed_on.outputs, handed_on.use + upscaler)


def interpolate(ctx: EstimateContext, *, frames: PlannedFrames | None, multiplier: int, **params) -> Estimated:
    if frames is None or not isinstance(multiplier, int):
        return Estimated()
    return _handed_on(PlannedFrames(frames.count * multiplier, frames.width, frames.height))  # F × multiplier
