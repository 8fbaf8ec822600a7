"""EstimateLabel: the memory a run of the edited graph would need, beside the Run button.

Refreshed a moment after the graph stops changing (debounced), on a thread of its own: the estimate
reads model headers and may resolve the device (importing torch), which must not stall the canvas.
Nothing loads. A result that arrives after a newer edit is dropped.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel

from studio.graph.fileformat import graph_from_dict, graph_to_dict
from studio.textsafe import safe

DEBOUNCE_MS = 400
WARNING_STYLE = "QLabel#memory-estimate { color: #ffb347; }"  # the label only: not its tooltip
WIDTH_SAMPLE = "Memory (cpu): 999.9 MB RAM of 99.9 GB · fits"
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
        # Room for a usual summary from the start: the buttons after it stay put as the text changes.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(WIDTH_SAMPLE))

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
            self.setStyleSheet("")
            self.setToolTip(_tooltip([error]) if error else "")
        elif estimate.missing:  # nothing they hold was counted: no total, no "fits"
            count = len(estimate.missing)
            self.setText(f"⚠ {count} model file{'s' if count != 1 else ''} missing")
            self.setStyleSheet(WARNING_STYLE)
            self.setToolTip(_missing_tooltip(estimate.missing))
        else:
            sure = estimate.fits and not estimate.unknown
            self.setText(safe(estimate.summary().replace("Memory", "Memory" if sure else "⚠ Memory", 1)))
            self.setStyleSheet("" if sure else WARNING_STYLE)
            self.setToolTip(_tooltip(estimate.lines(), table=True))
        self.estimated.emit(estimate)


def _tooltip(lines: list[str], table: bool = False) -> str:
    """Rich text that shows ``lines`` as they are: escaped for the terminal's sake (textsafe) and
    for Qt's (a file named "<b>" stays text), one line each; a table keeps its columns in a fixed-width font."""
    body = "\n".join(html.escape(safe(line)) for line in lines)
    return f"<pre>{body}</pre>" if table else '<p style="white-space:pre">' + body + "</p>"


def _missing_tooltip(missing: list[tuple[str, str, str]]) -> str:
    lines = ["Not found in the model folders, so the memory a run needs is not known:"]
    lines += [f"• {node_id} ({node_type}): {path}" for node_id, node_type, path in missing]
    lines.append("Add the folder that holds them (File → Settings… → Model folders),")
    lines.append("or choose other files on the nodes.")
    return _tooltip(lines)
