"""PreviewPanel: each denoising step's preview as it arrives, with step n/N, elapsed and ETA.

A video preview ([frames, H, W, 3]) loops through all its frames rather than showing the first.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from studio.textsafe import safe
from studio.ui.frame_view import FrameView, frames_of

LOOP_FPS = 12


class PreviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = FrameView("Step previews appear here while a graph runs.\nRun with Ctrl+Enter.")
        self.caption = QLabel("Idle")
        self.caption.setObjectName("dim")
        # Its text changes many times a second: keep that from re-laying out the dock each time.
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.caption)
        self.frames: list[Any] = []
        self.frame_index = 0
        self.step: int | None = None
        self.total: int | None = None
        self.node_id = ""
        self.previews_received = 0
        self._started = 0.0
        self._first_step_at: tuple[float, int] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / LOOP_FPS))
        self._timer.timeout.connect(self._next_frame)

    def clear(self) -> None:
        """Forget the last preview (a new document, or another graph starting)."""
        self._timer.stop()
        self.frames = []
        self.frame_index = 0
        self.node_id = ""
        self.step = self.total = None
        self.view.set_image(None)
        self.caption.setText("Idle")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

    def run_started(self, graph: Any = None) -> None:
        """A run begins; a graph other than the last one's clears the old preview first."""
        shape = _graph_shape(graph)
        if shape is not None and shape != getattr(self, "_graph_shape", None):
            self.clear()
        self._graph_shape = shape
        self._started = time.perf_counter()
        self._first_step_at = None
        self.step = self.total = None
        self.caption.setText("Starting…")
        self.bar.setRange(0, 0)  # busy until the first progress arrives

    def show_progress(self, node_id: str, done: int, total: int) -> None:
        """Progress of a node without previews (loading, encoding) still moves the bar."""
        if self.node_id != node_id or self.step is None:
            self.bar.setRange(0, max(total, 1))
            self.bar.setValue(done)
            self.caption.setText(f"{node_id}: {done}/{total}  ·  {self._elapsed()}")

    def show_status(self, node_id: str, text: str) -> None:
        """A node's slow step with no progress of its own (importing torch, reading a model file)."""
        if self.step is None:  # once step previews arrive, they say more
            self.caption.setText(safe(f"{node_id}: {text}  ·  {self._elapsed()}"))

    def show_preview(self, node_id: str, image: Any, step: int | None, total: int | None) -> None:
        now = time.perf_counter()
        if node_id != self.node_id or (step is not None and self.step is not None and step < self.step):
            self._first_step_at = None  # a new sampler (or a new run) starts timing afresh
        self.node_id, self.step, self.total = node_id, step, total
        if step is not None and self._first_step_at is None:
            self._first_step_at = (now, step)
        self.previews_received += 1
        self.frames = frames_of(image)
        self.frame_index = min(self.frame_index, max(len(self.frames) - 1, 0))
        self.view.set_image(self.frames[self.frame_index] if self.frames else None)
        if len(self.frames) > 1 and not self._timer.isActive():
            self._timer.start()
        elif len(self.frames) <= 1:
            self._timer.stop()
        if step is not None and total:
            self.bar.setRange(0, total)
            self.bar.setValue(step)
        self.caption.setText(self.status_text(now))

    def status_text(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        parts = [self.node_id]
        if self.step is not None and self.total:
            parts.append(f"step {self.step}/{self.total}")
        parts.append(f"elapsed {self._elapsed(now)}")
        eta = self._eta(now)
        if eta is not None:
            parts.append(f"ETA {_clock(eta)}")
        if len(self.frames) > 1:
            parts.append(f"{len(self.frames)} frames")
        return "  ·  ".join(p for p in parts if p)

    def _elapsed(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        return _clock(now - self._started) if self._started else "0:00"

    def _eta(self, now: float) -> float | None:
        if self._first_step_at is None or self.step is None or not self.total:
            return None
        t0, s0 = self._first_step_at
        if self.step <= s0:
            return None
        per_step = (now - t0) / (self.step - s0)
        return per_step * (self.total - self.step)

    def run_ended(self, status: str, report: Any = None) -> None:
        """A run is over; ``report`` (its RunReport, if any) tells a run that only reused the cache."""
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if status == "done" else 0)
        if status == "done" and nothing_ran(report):
            self.caption.setText("Done: all cached, nothing re-ran")
        else:
            self.caption.setText(f"{status.capitalize()} after {self._elapsed()}")

    def _next_frame(self) -> None:
        if len(self.frames) <= 1:
            self._timer.stop()
            return
        self.frame_index = (self.frame_index + 1) % len(self.frames)
        self.view.set_image(self.frames[self.frame_index])


def nothing_ran(report: Any) -> bool:
    """Whether a finished run took every result from the cache (no node ran)."""
    nodes = getattr(report, "nodes", None) or {}
    return bool(nodes) and all(r.status == "cached" for r in nodes.values())


def _graph_shape(graph: Any) -> Any:
    """What makes a graph "another graph" for the preview: its nodes and their types."""
    nodes = getattr(graph, "nodes", None)
    return None if nodes is None else tuple(sorted((n.id, n.type) for n in nodes))


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"
