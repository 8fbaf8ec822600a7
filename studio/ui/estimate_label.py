"""EstimateLabel: the memory a run of the edited graph would need, beside the Run button.

Refreshed a moment after the graph stops changing (debounced), on a thread of its own: the estimate
reads model headers and may resolve the device (importing torch), which must not stall the canvas.
Nothing loads. A result that arrives after a newer edit is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel

from studio.graph.fileformat import graph_from_dict, graph_to_dict
from studio.textsafe import safe

DEBOUNCE_MS = 400
FIRST_DELAY_MS = 3000  # the first estimate may import torch to find the GPU: not while the window opens


class EstimateLabel(QLabel):
    """Shows ``estimator(graph)``'s summary (a ``MemoryEstimate``) for the graph ``graph()`` returns;
    ``schedule()`` after every edit. ``estimated`` carries each shown estimate (None: nothing to
    estimate, or the graph has errors)."""

    estimated = Signal(object)
    _arrived = Signal(int, object, str)  # generation, estimate, error: from the worker thread

    def __init__(
        self,
        graph: Callable[[], Any],
        estimator: Callable[[Any], Any],
        delay_ms: int = DEBOUNCE_MS,
        first_delay_ms: int = FIRST_DELAY_MS,
    ) -> None:
        super().__init__()
        self.setObjectName("memory-estimate")
        self._graph = graph
        self._estimator = estimator
        self._generation = 0
        self._worker: threading.Thread | None = None
        self._pending = False
        self.estimate: Any = None
        self._delay_ms = delay_ms
        self._timer = QTimer(self, singleShot=True, interval=first_delay_ms, timeout=self._start)
        self._arrived.connect(self._show)
        self.setText("")

    def schedule(self) -> None:
        """Estimate again once the edits pause."""
        self._generation += 1
        self._timer.start()

    def wait(self, timeout: float = 10.0) -> None:
        """Let an estimate in progress finish (closing the window, tests)."""
        self._timer.stop()
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _start(self) -> None:
        self._timer.setInterval(self._delay_ms)
        if self._worker is not None and self._worker.is_alive():
            self._pending = True  # one at a time: the newest graph goes next
            return
        graph = self._graph()
        if graph is None or not len(graph):
            self._show(self._generation, None, "")
            return
        snapshot = graph_from_dict(graph_to_dict(graph))  # the canvas goes on editing its own
        generation = self._generation
        self._worker = threading.Thread(target=self._work, args=(snapshot, generation), daemon=True)
        self._worker.start()

    def _work(self, graph: Any, generation: int) -> None:
        try:
            estimate, error = self._estimator(graph), ""
        except Exception as exc:  # a graph with errors, an unusable device: nothing to show, never a crash
            estimate, error = None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self._arrived.emit(generation, estimate, error)

    def _show(self, generation: int, estimate: Any, error: str) -> None:
        if self._pending:
            self._pending = False
            self._timer.start()
        if generation != self._generation:
            return  # the graph changed since: a newer estimate is on its way
        self.estimate = estimate
        if estimate is None:
            self.setText("")
            self.setToolTip(safe(error) if error else "")
        else:
            fits = estimate.fits
            self.setText(safe(estimate.summary().replace("Memory", "Memory" if fits else "⚠ Memory", 1)))
            self.setStyleSheet("" if fits else "color: #ffb347;")
            self.setToolTip(safe("\n".join(estimate.lines())))
        self.estimated.emit(estimate)
