"""NodePalette: a searchable popup listing node types, fuzzy-matched on name, category and description.

It can be limited to the node types that accept (or produce) a given wire type, which is how
dropping a link on empty canvas offers only nodes it can connect to (a scalar wire counts
parameters it could drive once promoted).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec
from studio.graph.types import can_connect, wire_type_for_param
from studio.ui import theme


def fuzzy_score(query: str, text: str) -> float:
    """How well ``query`` matches ``text`` (0 = no match). Substrings beat scattered letters,
    word starts beat letters inside words."""
    query, text = query.lower().strip(), text.lower()
    if not query:
        return 1.0
    if query in text:
        start = text.index(query)
        at_word = start == 0 or not text[start - 1].isalnum()
        return 100.0 + (30 if at_word else 0) - start * 0.1
    score, position, streak = 0.0, 0, 0
    for char in query:
        found = text.find(char, position)
        if found < 0:
            return 0.0
        streak = streak + 1 if found == position else 0
        word_start = found == 0 or not text[found - 1].isalnum()
        score += 1 + streak * 2 + (3 if word_start else 0)
        position = found + 1
    return score


def spec_score(query: str, spec: NodeSpec) -> float:
    """A spec's match: the type name counts most, then the category, then the description."""
    terms = query.split()
    if not terms:
        return 1.0
    total = 0.0
    for term in terms:
        best = max(
            fuzzy_score(term, spec.type) * 3, fuzzy_score(term, spec.category) * 2, fuzzy_score(term, spec.description)
        )
        if best == 0:
            return 0.0
        total += best
    return total


def compatible_port(spec: NodeSpec, wire_type: str, needs_input: bool, prefer: str = "") -> str | None:
    """The port of ``spec`` a wire of ``wire_type`` can attach to: an input fed by it, else a
    parameter it can drive once promoted (``needs_input``); or an output that can feed it.
    Among several, the one named ``prefer`` wins (a Seed node's ``seed`` drives ``seed``)."""
    if needs_input:
        names = [p.name for p in spec.inputs if can_connect(wire_type, p.type)]
        if not names:
            names = [p.name for p in spec.params if can_connect(wire_type, wire_type_for_param(p.kind))]
    else:
        names = [o.name for o in spec.outputs if can_connect(o.type, wire_type)]
    if prefer in names:
        return prefer
    return names[0] if names else None


class NodePalette(QFrame):
    """Type to filter, Up/Down to choose, Enter to add, Escape to close."""

    node_chosen = Signal(str)

    def __init__(self, registry: NodeRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("palette")
        self.registry = registry
        self._filter: Callable[[NodeSpec], bool] = lambda spec: True
        self.resize(340, 380)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        self.heading = QLabel("Add node")
        self.heading.setObjectName("dim")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search nodes: name, category or description…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        layout.addWidget(self.heading)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.search.textChanged.connect(self.refresh)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._choose)
        self.list.itemClicked.connect(self._choose)

    def open_at(
        self, global_pos: QPoint, *, only: Callable[[NodeSpec], bool] | None = None, heading: str = "Add node"
    ) -> None:
        self._filter = only or (lambda spec: True)
        self.heading.setText(heading)
        self.search.clear()
        self.refresh()
        self.move(global_pos)
        self.show()
        self.search.setFocus()

    def matching(self, query: str) -> list[NodeSpec]:
        scored = [(spec_score(query, s), s) for s in self.registry if self._filter(s)]
        scored = [(score, s) for score, s in scored if score > 0]
        if query.strip():
            scored.sort(key=lambda pair: (-pair[0], pair[1].type))
        return [s for _, s in scored]

    def refresh(self) -> None:
        self.list.clear()
        for spec in self.matching(self.search.text()):
            item = QListWidgetItem(f"{spec.type}    ·  {spec.category}")
            item.setData(Qt.ItemDataRole.UserRole, spec.type)
            item.setToolTip(spec.description)
            item.setForeground(QColor(theme.current().text))
            swatch = theme.category_color(spec.category)
            item.setData(Qt.ItemDataRole.DecorationRole, swatch)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            empty = QListWidgetItem("No node matches")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(empty)

    def choose_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._choose(item)

    def _choose(self, item: QListWidgetItem) -> None:
        type_name = item.data(Qt.ItemDataRole.UserRole)
        if type_name:
            self.hide()
            self.node_chosen.emit(type_name)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                row = self.list.currentRow() + (1 if key == Qt.Key.Key_Down else -1)
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, row)))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.choose_current()
                return True
        return super().eventFilter(watched, event)
