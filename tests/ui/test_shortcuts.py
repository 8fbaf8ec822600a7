"""Keyboard shortcuts pressed on a real window: each key does one thing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.qt


@pytest.mark.parametrize("keys", ["Ctrl+Shift+Z", "Ctrl+Y"])
def test_redo_keys_redo_the_last_undone_edit(window, qtbot, keys):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QKeySequence

    window.show()
    with qtbot.waitActive(window):  # window shortcuts fire only in the active window
        window.activateWindow()
    window.view.setFocus()
    window.scene.add_node("TestPattern", QPointF(0, 0))
    window.undo_stack.undo()
    assert len(window.scene.graph) == 0
    qtbot.keyClick(window.view, QKeySequence(keys)[0].key(), QKeySequence(keys)[0].keyboardModifiers())
    assert len(window.scene.graph) == 1


def test_no_window_wide_key_is_bound_twice(window):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction

    seen: dict[str, str] = {}
    for action in window.findChildren(QAction):
        keys = [k.toString() for k in action.shortcuts()]
        assert len(set(keys)) == len(keys), f"{action.text()} lists a key twice: {keys}"
        if action.shortcutContext() != Qt.ShortcutContext.WindowShortcut:
            continue  # scoped to one widget (canvas, timeline): may reuse a key elsewhere
        for text in keys:
            assert text not in seen, f"{text}: {seen.get(text)} and {action.text()}"
            seen[text] = action.text()


def test_redo_has_both_common_keys_whatever_the_desktop_binds():
    from PySide6.QtGui import QKeySequence

    from studio.ui.window_menus import redo_keys

    # GNOME's and KDE's themes bind Redo to Ctrl+Shift+Z only; Windows to Ctrl+Y first.
    assert [k.toString() for k in redo_keys()][:2] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert len({k.toString() for k in redo_keys()}) == len(redo_keys())
    assert all(isinstance(k, QKeySequence) for k in redo_keys())
