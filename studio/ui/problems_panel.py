"""ProblemsPanel: validation problems and run failures, each naming its node; click one to select it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from studio.textsafe import safe

COLORS = {"error": "#ff8a80", "warning": "#f0c060", "failure": "#ff8a80", "info": "#9aa3b5"}


class ProblemsPanel(QWidget):
    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.list)
        self.list.itemClicked.connect(self._clicked)
        self.problems: list[Any] = []
        self.failures: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self._render()

    def set_problems(self, problems: list[Any]) -> None:
        self.problems = list(problems)
        self._render()

    def add_failure(self, node_id: str, message: str) -> None:
        self.failures.append((node_id, message))
        self._render()

    def clear_failures(self) -> None:
        self.failures.clear()
        self._render()

    def set_notes(self, notes: list[str]) -> None:
        """Notes about the open document, e.g. the report of a partially loaded graph."""
        self.notes = list(notes)
        self._render()

    def count(self) -> int:
        return len(self.problems) + len(self.failures) + len(self.notes)

    def _render(self) -> None:
        self.list.clear()
        for node_id, message in self.failures:
            self._add(f"✖  run failed: {message}", node_id, "failure")
        for problem in self.problems:
            icon = "⚠" if problem.severity == "warning" else "●"
            self._add(f"{icon}  {problem}", problem.node_id or "", problem.severity)
        for note in self.notes:
            self._add(f"ℹ  {note}", "", "info")
        if not self.count():
            self._add("No problems: the graph is ready to run.", "", "info")

    def _add(self, text: str, node_id: str, severity: str) -> None:
        item = QListWidgetItem(safe(text))  # ids and messages come from files: no forged lines or reordering
        item.setData(Qt.ItemDataRole.UserRole, node_id)
        item.setForeground(QColor(COLORS.get(severity, "#ff8a80")))
        self.list.addItem(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.node_clicked.emit(node_id)
