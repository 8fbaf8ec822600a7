"""What a node says about its memory before a run: the contract of a node type's ``estimate`` hook.

``estimate(ctx, **values)`` is called like ``compute`` but on a plan, never on data: its inputs are
what the upstream hooks planned for their outputs (None where the upstream node has no hook or could
not tell), its parameters are the node's own. It reads only file headers and configs (never weights)
and returns :class:`Estimated`: the planned outputs, the bytes it holds and needs, and the parameter
changes that would lower them. The engine adds the nodes up into a run's peak
(``Engine.estimate``) and tries the changes when the peak does not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.nodeapi.context import RunSettings

if TYPE_CHECKING:
    from studio.nodeapi.families import FamilyRegistry

MB = 1024 * 1024


@dataclass(frozen=True)
class MemoryUse:
    """Bytes a node holds from when it runs to the end of the run (``held_*``: loaded weights, frames)
    and bytes it needs only while it runs (``work_*``: activations, decode buffers). ``vram`` is the
    GPU's own memory; on the CPU and on Apple's shared memory everything is ``ram``."""

    held_ram: int = 0
    held_vram: int = 0
    work_ram: int = 0
    work_vram: int = 0
    note: str = ""  # how the figures were reached, shown beside them

    def __add__(self, other: MemoryUse) -> MemoryUse:
        notes = "; ".join(n for n in (self.note, other.note) if n)
        return MemoryUse(
            self.held_ram + other.held_ram,
            self.held_vram + other.held_vram,
            self.work_ram + other.work_ram,
            self.work_vram + other.work_vram,
            notes,
        )


@dataclass(frozen=True)
class Tweak:
    """A change of this node's parameters that needs less memory, e.g. ``{"offload": "group"}``;
    ``text`` says it to a person ("offload group"). Hooks list them mildest first."""

    changes: dict[str, Any]
    text: str
    rank: int = 0  # 0: the same output (offload); 1: nearly (tiling); 2: a different one (size, frames)


@dataclass(frozen=True)
class Estimated:
    """A hook's answer: planned values on its output ports, its memory, and the tweaks it offers."""

    outputs: dict[str, Any] = field(default_factory=dict)
    use: MemoryUse = field(default_factory=MemoryUse)
    tweaks: tuple[Tweak, ...] = ()


@dataclass(frozen=True)
class EstimateContext:
    """What a hook may know: the node, the device a run would use and its default precision, the run
    settings (model folders), the model families and the bundled files. No progress, no generators:
    nothing runs. The device is found when a hook first asks (it may import torch), so a graph
    whose hooks never ask (frames only) is estimated without it."""

    node_id: str
    node_type: str
    resolve_device: Callable[[], str]
    resolve_dtype: Callable[[], str]
    settings: RunSettings
    families: FamilyRegistry
    bundled: Callable[[str], Path | None] = lambda relative: None

    @property
    def device(self) -> str:
        return self.resolve_device()

    @property
    def dtype(self) -> str:
        return self.resolve_dtype()

    @property
    def on_gpu(self) -> bool:
        """Whether the device has memory of its own (CUDA); Apple's GPUs share the machine's RAM."""
        return self.device == "cuda"


EstimateHook = Callable[..., Estimated]
