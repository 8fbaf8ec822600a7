"""What the engine hands each node while it computes: its implementation of the node API's
:class:`~studio.nodeapi.context.NodeContext` (DESIGN.md §2)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.bundled import find_bundled
from studio.nodeapi.context import RunSettings
from studio.nodeapi.errors import Cancelled, NodeError
from studio.nodeapi.families import FamilyRegistry

PROGRESS_INTERVAL = 0.05  # seconds

__all__ = ["Cancelled", "CancelToken", "NodeError", "RunContext", "RunSettings"]


class CancelToken:
    """A thread-safe flag: the UI (or Ctrl+C) sets it, nodes poll it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class RunContext:
    """Per-node context: device, dtype, progress, previews, cancellation, seeded generators."""

    def __init__(
        self,
        *,
        node_id: str,
        node_type: str,
        device: str | Callable[[], str],
        dtype: str | Callable[[], str],
        settings: RunSettings,
        cancel: CancelToken,
        emit_progress: Callable[[int, int], None],
        emit_preview: Callable[[Any, int | None, int | None], None],
        graph_document: dict[str, Any] | None = None,
        logger: logging.Logger | None = None,
        families: FamilyRegistry | Callable[[], FamilyRegistry] | None = None,
        emit_status: Callable[[str], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self.node_type = node_type
        # Resolved on first use: choosing "auto" imports torch, which nodes without torch never need.
        self._device = device
        self._dtype = dtype
        self.settings = settings
        self.graph_document = graph_document  # the graph being run, as saved: embedded in outputs
        self.logger = logger or logging.getLogger(f"studio.node.{node_type}")
        self._cancel = cancel
        self._emit_progress = emit_progress
        self._emit_preview = emit_preview
        self._emit_status = emit_status
        self._last_preview = 0.0
        self._last_progress = 0.0
        self._families = families

    @property
    def output_dir(self) -> Path:
        return self.settings.output_dir

    @property
    def families(self) -> FamilyRegistry:
        if self._families is None:
            self._families = FamilyRegistry.installed()
        elif callable(self._families):
            self._families = self._families()
        return self._families

    def bundled(self, relative: str | Path) -> Path | None:
        """The bundled file or folder ``relative`` names (``resources/...``), or None."""
        return find_bundled(relative)

    @property
    def device(self) -> str:
        if callable(self._device):
            self._device = self._device()
        return self._device

    @property
    def dtype(self) -> str:
        if callable(self._dtype):
            self._dtype = self._dtype()
        return self._dtype

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def progress(self, done: int, total: int) -> None:
        """Report progress; throttled to ~20 events a second, the first and last always sent."""
        now = time.perf_counter()
        if done <= 1 or done >= total or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self._emit_progress(done, total)

    def status(self, text: str) -> None:
        """Say what the node is doing now, for a step with no progress of its own ("Importing torch…")."""
        self.logger.info("%s", text)
        if self._emit_status is not None:
            self._emit_status(text)

    def wants_preview(self, step: int | None = None, total: int | None = None) -> bool:
        """Whether a preview now would be shown; lets a sampler skip building one when throttled."""
        if step is not None and total is not None and step >= total:
            return True  # always show the last step
        return time.perf_counter() - self._last_preview >= self.settings.preview_interval

    def preview(self, image: Any, step: int | None = None, total: int | None = None) -> None:
        """Send a preview (uint8 RGB array, or a zero-argument callable making one) unless throttled."""
        if not self.wants_preview(step, total):
            return
        self._last_preview = time.perf_counter()
        self._emit_preview(image() if callable(image) else image, step, total)

    def check_cancelled(self) -> None:
        if self._cancel.cancelled:
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancel.cancelled

    def generator(self, seed: int, device: str | None = None) -> Any:
        """A ``torch.Generator`` seeded with ``seed`` (on the CPU by default, for reproducibility)."""
        import torch

        gen = torch.Generator(device=device or "cpu")
        gen.manual_seed(int(seed) % (2**64))
        return gen
