"""Parameters edited on the node itself, as ComfyUI's node widgets are.

Each parameter not driven by a wire is one row on its node: numbers change by dragging the row
sideways, by its ◀ ▶ arrows or by typing after a click; a choice opens a popup; a bool flips on
a click; a one-line text is typed in place. Long text (prompts) and paths open the inspector,
which has room for them. Every edit goes through :meth:`GraphScene.edit_param`, one undo
command like an inspector edit.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QFont, QFontMetricsF, QKeyEvent, QPainter
from PySide6.QtWidgets import QGraphicsView, QLineEdit, QMenu, QToolTip, QWidget

from studio.graph import types as t
from studio.graph.spec import ParamSpec
from studio.textsafe import safe
from studio.ui import theme

COLLAPSED_KEY = "collapsed"  # a node's extra entry in the graph file: drawn as its header only
HEADER_HEIGHT = 28.0
ARROW = 14.0  # width of a number row's ◀ and ▶ zones
DRAG_START = 3.0  # pixels a press must move before it counts as a drag
PIXELS_PER_STEP = 6.0


def edits_in_inspector(spec: ParamSpec) -> bool:
    """Long text and file choices need the inspector's room (and its file picker)."""
    return spec.kind == t.PATH or (spec.kind == t.STRING and spec.multiline)


def is_number(spec: ParamSpec) -> bool:
    return spec.kind in (t.INT, t.FLOAT, t.SEED)


def step_of(spec: ParamSpec) -> float | int:
    """One arrow click or one drag step: a whole number, or a tenth for short float ranges."""
    if spec.kind != t.FLOAT:
        return 1
    span = (spec.max - spec.min) if spec.min is not None and spec.max is not None else 10.0
    return 0.1 if span <= 20 else 1.0


def stepped(spec: ParamSpec, value: Any, steps: int) -> Any:
    """``value`` moved by ``steps`` steps, kept inside the parameter's range."""
    start = value if isinstance(value, (int, float)) and not isinstance(value, bool) else spec.default
    new = start + steps * step_of(spec)
    low = spec.min if spec.min is not None else (0 if spec.kind == t.SEED else None)
    if low is not None:
        new = max(low, new)
    if spec.max is not None:
        new = min(spec.max, new)
    return round(float(new), 4) if spec.kind == t.FLOAT else int(new)


def parse_typed(spec: ParamSpec, text: str) -> Any:
    """The value a user typed, in the parameter's type where it reads as one; otherwise the text
    itself, so the spec's check says why it is refused rather than it being coerced quietly."""
    text = text.strip()
    if spec.kind in (t.INT, t.SEED):
        try:
            return int(text, 10)
        except ValueError:
            return text
    if spec.kind == t.FLOAT:
        try:
            return float(text)
        except ValueError:
            return text
    return text


def display(value: Any, width: float, font: QFont) -> str:
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, str):
        text = value.replace("\n", " ") or "—"
    else:
        text = str(value)
    return QFontMetricsF(font).elidedText(safe(text), Qt.TextElideMode.ElideMiddle, width)


def paint_row(painter: QPainter, rect: QRectF, spec: ParamSpec, value: Any, font: QFont, hover: bool) -> None:
    """One parameter as a widget on the node: a rounded field with the name and the value."""
    th = theme.current()
    field = rect.adjusted(8, 1.5, -8, -1.5)
    painter.setPen(QColor(th.accent) if hover else Qt.PenStyle.NoPen)
    painter.setBrush(QColor(th.base))
    painter.drawRoundedRect(field, field.height() / 2, field.height() / 2)
    painter.setFont(font)
    inner = field.adjusted(10, 0, -10, 0)
    if is_number(spec):
        painter.setPen(QColor(th.dim_text))
        painter.drawText(
            QRectF(field.left() + 3, field.top(), ARROW, field.height()), Qt.AlignmentFlag.AlignCenter, "◀"
        )
        painter.drawText(
            QRectF(field.right() - ARROW - 3, field.top(), ARROW, field.height()), Qt.AlignmentFlag.AlignCenter, "▶"
        )
        inner = field.adjusted(ARROW + 4, 0, -ARROW - 4, 0)
    name_width = min(QFontMetricsF(font).horizontalAdvance(spec.name) + 8, inner.width() * 0.55)
    painter.setPen(QColor(th.dim_text))
    painter.drawText(
        QRectF(inner.left(), inner.top(), name_width, inner.height()),
        Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
        QFontMetricsF(font).elidedText(spec.name, Qt.TextElideMode.ElideRight, name_width),
    )
    value_rect = QRectF(inner.left() + name_width, inner.top(), inner.width() - name_width, inner.height())
    if spec.kind == t.BOOL:
        _paint_switch(painter, value_rect, bool(value))
        return
    suffix = " ▾" if spec.kind == t.CHOICE else (" …" if edits_in_inspector(spec) else "")
    text = display(value, value_rect.width() - QFontMetricsF(font).horizontalAdvance(suffix), font) + suffix
    painter.setPen(QColor(th.node_text))
    painter.drawText(value_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text)


def _paint_switch(painter: QPainter, rect: QRectF, on: bool) -> None:
    th = theme.current()
    track = QRectF(rect.right() - 24, rect.center().y() - 5, 24, 10)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(th.accent) if on else QColor(th.border))
    painter.drawRoundedRect(track, 5, 5)
    painter.setBrush(QColor("#ffffff"))
    painter.drawEllipse(QPointF(track.right() - 5 if on else track.left() + 5, track.center().y()), 4, 4)


class InlineEditor(QLineEdit):
    """A line edit laid over a node's row: Enter commits (a refused value keeps it open with the
    reason), Escape or leaving it cancels."""

    def __init__(self, parent: QWidget, spec: ParamSpec, value: Any, commit: Any) -> None:
        super().__init__(parent)
        self.spec = spec
        self._commit = commit
        self.setObjectName("inline-editor")
        self.setText("" if value is None else str(value))
        self.selectAll()
        self.returnPressed.connect(self._accept)

    def _accept(self) -> None:
        reason = self._commit(parse_typed(self.spec, self.text()))
        if reason:
            self.setProperty("invalid", True)
            self.setStyleSheet("border: 1px solid #e5534b;")
            self.setToolTip(reason)
            QToolTip.showText(self.mapToGlobal(self.rect().bottomLeft()), reason, self)
            return
        self.close_editor()

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.PopupFocusReason:
            self.close_editor()  # the user went elsewhere: the edit is dropped, as Escape would

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.close_editor()
            return
        super().keyPressEvent(event)

    def close_editor(self) -> None:
        self.hide()
        self.deleteLater()


def choice_menu(spec: ParamSpec, current: Any, parent: QWidget | None) -> QMenu:
    """A popup listing the parameter's choices, the current one checked."""
    menu = QMenu(parent)
    for choice in spec.choices:
        action = menu.addAction(choice)
        action.setCheckable(True)
        action.setChecked(choice == current)
        action.setData(choice)
    return menu


class OnNodeEditing:
    """NodeItem's mouse handling for its parameter rows and its collapse arrow (a mixin: it uses
    the item's ``spec``, ``params``, ``collapsed``, ``param_rows`` and ``param_rect``)."""

    def init_editing(self) -> None:
        self.hover_row = ""
        self.detailed = True  # whether the last paint drew the rows (not zoomed out)
        self.inline_editor: InlineEditor | None = None
        self.choice_popup: QMenu | None = None
        self._press: list[Any] | None = None  # [row, screen x at press, value at press, dragged]

    def collapse_rect(self) -> QRectF:
        return QRectF(2, 0, 20, HEADER_HEIGHT)

    def row_spec(self, pos: QPointF) -> ParamSpec | None:
        """The editable parameter whose row is at ``pos`` (item coordinates), if any."""
        if self.spec is None or not self.detailed:
            return None
        for name, rect in self.param_rows():
            if rect.contains(pos):
                return self.spec.param(name)
        return None

    # ---- mouse -------------------------------------------------------------------------------
    def hoverMoveEvent(self, event: Any) -> None:  # noqa: N802
        spec = self.row_spec(event.pos())
        name = spec.name if spec is not None else ""
        if name != self.hover_row:
            self.hover_row = name
            if spec is None:
                self.unsetCursor()
            else:
                self.setCursor(Qt.CursorShape.SizeHorCursor if is_number(spec) else Qt.CursorShape.PointingHandCursor)
            self.update()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802
        if self.hover_row:
            self.hover_row = ""
            self.unsetCursor()
            self.update()
        super().hoverLeaveEvent(event)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.detailed:
            if self.collapse_rect().contains(event.pos()):
                self.scene().set_collapsed(self.node_id, not self.collapsed)
                event.accept()
                return
            spec = self.row_spec(event.pos())
            if spec is not None:
                self.scene().clearSelection()
                self.setSelected(True)  # the inspector shows the node being edited
                self._press = [spec.name, event.screenPos().x(), self.params.get(spec.name, spec.default), False]
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        if self._press is None:
            super().mouseMoveEvent(event)
            return
        name, start_x, value, dragged = self._press
        spec = self.spec.param(name)
        moved = event.screenPos().x() - start_x
        if is_number(spec) and (dragged or abs(moved) > DRAG_START):
            self._press[3] = True
            self.edit_param(name, stepped(spec, value, int(moved / PIXELS_PER_STEP)))
        event.accept()

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        if self._press is None:
            super().mouseReleaseEvent(event)
            return
        name, _start, _value, dragged = self._press
        self._press = None
        event.accept()
        if not dragged:
            self.click_param(name, event.pos(), event.screenPos())

    # ---- editing -----------------------------------------------------------------------------
    def click_param(self, name: str, pos: QPointF | None = None, screen_pos: Any = None) -> None:
        """What a click on parameter row ``name`` does (``pos`` in item coordinates)."""
        spec = self.spec.param(name)
        value = self.params.get(name, spec.default)
        rect = self.param_rect(name)
        x = pos.x() if pos is not None else rect.center().x()
        if spec.kind == t.BOOL:
            self.edit_param(name, not bool(value))
        elif spec.kind == t.CHOICE:
            menu = choice_menu(spec, value, self._view())
            menu.triggered.connect(lambda action: self.edit_param(name, action.data()))
            menu.popup(screen_pos if screen_pos is not None else QCursor.pos())
            self.choice_popup = menu
        elif edits_in_inspector(spec):
            self.scene().param_edit_requested.emit(self.node_id, name)
        elif is_number(spec) and x < rect.left() + 8 + ARROW + 4:
            self.edit_param(name, stepped(spec, value, -1))
        elif is_number(spec) and x > rect.right() - 8 - ARROW - 4:
            self.edit_param(name, stepped(spec, value, +1))
        else:
            self.open_inline_editor(name)

    def edit_param(self, name: str, value: Any) -> str | None:
        """Set ``name`` through the scene's undo stack; the reason when the value is refused."""
        return self.scene().edit_param(self.node_id, name, value)

    def open_inline_editor(self, name: str) -> InlineEditor | None:
        view = self._view()
        if view is None:
            return None
        spec = self.spec.param(name)
        area = self.mapToScene(self.param_rect(name).adjusted(8, 0, -8, 0))
        editor = InlineEditor(
            view.viewport(), spec, self.params.get(name, spec.default), lambda v: self.edit_param(name, v)
        )
        editor.setGeometry(view.mapFromScene(area).boundingRect())
        editor.show()
        editor.setFocus()
        self.inline_editor = editor
        return editor

    def _view(self) -> QGraphicsView | None:
        views = self.scene().views() if self.scene() is not None else []
        return views[0] if views else None
