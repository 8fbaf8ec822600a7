"""What a node receives from whoever runs it: settings, and the run context's protocol (DESIGN.md §2).

The engine implements :class:`NodeContext`; tests and other runners may implement it too.
Nodes depend on this protocol only, never on the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from studio.nodeapi.families import FamilyRegistry


# Attention kernels by diffusers' backend names (LoadModel's ``attention``, the window's default); auto: the
# fastest one installed that the device runs, else native.
ATTENTION_BACKENDS = ("auto", "native", "flash", "sage", "xformers", "flex")


@dataclass
class RunSettings:
    """Settings a run needs; a plain object so tests and the CLI build their own."""

    output_dir: Path = field(default_factory=lambda: Path("output"))
    model_folders: tuple[Path, ...] = ()
    allow_pickle: bool = False
    preview_interval: float = 0.0  # seconds between step previews; 0 sends every step
    attention: str = "auto"  # what LoadModel's attention "auto" means (ATTENTION_BACKENDS)
    compile: bool = False  # compile every model's repeated blocks, whatever LoadModel's compile says


class NodeContext(Protocol):
    """Per-node context: device, dtype, progress, previews, cancellation, seeded generators,
    the families the app knows and its bundled files."""

    node_id: str
    node_type: str
    settings: RunSettings
    graph_document: dict[str, Any] | None  # the graph being run, as saved: embedded in outputs
    logger: logging.Logger

    @property
    def output_dir(self) -> Path: ...

    @property
    def device(self) -> str: ...

    @property
    def dtype(self) -> str: ...

    @property
    def torch_dtype(self) -> Any: ...

    @property
    def families(self) -> FamilyRegistry: ...

    @property
    def cancelled(self) -> bool: ...

    def bundled(self, relative: str | Path) -> Path | None:
        """The bundled file or folder ``relative`` names (``resources/...``), or None."""
        ...

    def progress(self, done: int, total: int) -> None: ...

    def status(self, text: str) -> None:
        """Say what the node is doing now when it has no progress to show (loading, importing)."""
        ...

    def wants_preview(self, step: int | None = None, total: int | None = None) -> bool: ...

    def preview(self, image: Any, step: int | None = None, total: int | None = None) -> None: ...

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the user has cancelled the run."""
        ...

    def generator(self, seed: int, device: str | None = None) -> Any: ...
