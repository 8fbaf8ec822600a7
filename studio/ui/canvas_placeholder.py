"""CanvasPlaceholder: the canvas's place in the window while it starts, filled with the canvas's
colour; the graph view takes its place once built (just after the window's first paint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from studio.ui import theme


class CanvasPlaceholder(QWidget):
    """``painted`` is called once, in the event-loop turn after the placeholder's first paint.

    Qt fills it (a palette colour): painting in Python, even a QPen or QBrush made from a QColor,
    makes PySide create the Python enums of the whole Qt namespace (~18 ms) to choose an overload,
    and nothing else before the window's first paint needs them."""

    def __init__(self, painted: Callable[[], Any] | None) -> None:
        super().__init__()
        self._painted = painted
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(theme.current().canvas))
        self.setPalette(palette)
        self.setAutoFillBackground(True)

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        if self._painted is not None:
            QTimer.singleShot(0, self._painted)  # once this paint has reached the screen
            self._painted = None
