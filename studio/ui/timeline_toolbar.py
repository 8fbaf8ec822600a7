"""TimelineToolbar: the timeline dock's row of buttons, made to fit any dock width.

The shot actions sit on the left in order of use; the ones that do not fit move into a "More"
menu at the right (Qt's own toolbar extension button is drawn invisibly by the dark theme, so
the row manages its overflow itself). Play and Export are pinned at the right and never hide:
they are what a cut is made for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QMenu, QSizePolicy, QToolButton, QWidget

_SPACING = 4


class TimelineToolbar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineToolbar")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._items: list[tuple[QAction | None, list[QWidget]]] = []  # an action and the widgets that show it
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(2, 2, 2, 2)
        self._row.setSpacing(_SPACING)
        self._pinned = QHBoxLayout()
        self._pinned.setSpacing(_SPACING)
        self._row.addStretch(1)
        self._row.addLayout(self._pinned)
        self.more_menu = QMenu(self)
        self.more = self._menu_button("More", "Actions that do not fit at this width", self.more_menu)
        self.more.hide()
        self._pinned.addWidget(self.more)

    # ---- building ----------------------------------------------------------------------------
    def add_action(
        self, text: str, slot: Callable, tip: str, shortcut: str | None = None, extra: QWidget | None = None
    ) -> QAction:
        """A left-hand action (with an optional widget beside it, such as a spin box); it moves into
        the More menu when the row is too narrow for it."""
        action = QAction(text, self)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        button = QToolButton(self)
        button.setDefaultAction(action)
        widgets: list[QWidget] = [button] + ([extra] if extra is not None else [])
        for widget in widgets:
            self._row.insertWidget(self._row.count() - 2, widget)  # before the stretch
        self._items.append((action, widgets))
        return action

    def add_separator(self) -> None:
        line = QWidget(self)
        line.setFixedSize(1, 18)
        line.setObjectName("separator")
        line.setStyleSheet("background: palette(mid);")
        self._row.insertWidget(self._row.count() - 2, line)
        self._items.append((None, [line]))

    def pin_action(self, text: str, slot: Callable, tip: str, short: str = "") -> QAction:
        """A right-hand action that always shows, as ``short`` (a glyph and a word) when given; the
        tooltip names it in full."""
        action = QAction(text, self)
        action.setToolTip(f"{text}: {tip}")
        action.triggered.connect(slot)
        button = QToolButton(self)
        button.setDefaultAction(action)
        if short:
            action.setIconText(short)
        self._pinned.addWidget(button)
        return action

    def pin_menu(self, text: str, tip: str, entries: list[tuple[str, Callable, str]]) -> QMenu:
        """A right-hand button that opens a menu of ``(text, slot, tip)`` entries."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for label, slot, entry_tip in entries:
            action = menu.addAction(label, slot)
            action.setToolTip(entry_tip)
        self._pinned.addWidget(self._menu_button(text, tip, menu))
        return menu

    def _menu_button(self, text: str, tip: str, menu: QMenu) -> QToolButton:
        button = QToolButton(self)
        button.setText(f"{text} ▾")
        button.setToolTip(tip)
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")  # the text has its ▾
        return button

    # ---- fitting ---------------------------------------------------------------------------
    def overflowed(self) -> list[QAction]:
        """The left-hand actions now in the More menu."""
        return [action for action, widgets in self._items if action is not None and widgets[0].isHidden()]

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit()

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self.fit()

    def fit(self) -> None:
        """Show the left-hand items that fit, in order; the rest go into the More menu."""
        margins = self._row.contentsMargins()
        room = self.width() - margins.left() - margins.right() - self._pinned_width(with_more=False)
        widths = [sum(w.sizeHint().width() + _SPACING for w in widgets) for _, widgets in self._items]
        if sum(widths) > room:  # something overflows: the More button needs its place too
            room -= self.more.sizeHint().width() + _SPACING
        used, fits, last_shown = 0, True, None
        self.more_menu.clear()
        for (action, widgets), width in zip(self._items, widths, strict=True):
            fits = fits and used + width <= room
            used += width
            for widget in widgets:
                widget.setVisible(fits)
            if fits:
                last_shown = action, widgets
            elif action is not None:
                self.more_menu.addAction(action)
        if last_shown is not None and last_shown[0] is None:  # no separator at the row's end
            last_shown[1][0].hide()
        self.more.setVisible(not self.more_menu.isEmpty())

    def _pinned_width(self, with_more: bool) -> int:
        width = 0
        for index in range(self._pinned.count()):
            widget = self._pinned.itemAt(index).widget()
            if widget is not None and (with_more or widget is not self.more):
                width += widget.sizeHint().width() + _SPACING
        return width
