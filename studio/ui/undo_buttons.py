"""Toolbar Undo and Redo buttons that keep their size: what they would undo is in the tooltip.

QUndoGroup's own actions put the command in their text ("Undo Set prompt.text"), right for a
menu but not for a toolbar, where the button would grow and shift the buttons after it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QUndoGroup


def steady_undo_actions(group: QUndoGroup, parent: QObject) -> tuple[QAction, QAction]:
    """(undo, redo) actions for a toolbar, following ``group``'s active stack."""
    undo, redo = QAction("Undo", parent), QAction("Redo", parent)
    undo.triggered.connect(group.undo)
    redo.triggered.connect(group.redo)
    for action, can, text, name, key in (
        (undo, group.canUndoChanged, group.undoTextChanged, "Undo", "Ctrl+Z"),
        (redo, group.canRedoChanged, group.redoTextChanged, "Redo", "Ctrl+Shift+Z"),
    ):
        can.connect(action.setEnabled)
        text.connect(lambda what, a=action, n=name, k=key: a.setToolTip(f"{n} {what} ({k})" if what else f"{n} ({k})"))
    undo.setEnabled(group.canUndo())
    redo.setEnabled(group.canRedo())
    undo.setToolTip(f"Undo {group.undoText()} (Ctrl+Z)" if group.undoText() else "Undo (Ctrl+Z)")
    redo.setToolTip(f"Redo {group.redoText()} (Ctrl+Shift+Z)" if group.redoText() else "Redo (Ctrl+Shift+Z)")
    return undo, redo
