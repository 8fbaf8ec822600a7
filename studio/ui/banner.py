"""Banner: a notice over the canvas."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


class Banner(QLabel):
    """A notice over the canvas; a click dismisses it."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("banner")
        self.setTextFormat(Qt.TextFormat.PlainText)  # messages quote graph files: never render them as HTML
        self.setToolTip("Click to dismiss")
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        self.hide()
