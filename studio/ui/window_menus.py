"""The window's menus: File, Edit, View, Timeline, Run and Help, filled once its parts exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu


def redo_keys() -> list[QKeySequence]:
    """Ctrl+Shift+Z and Ctrl+Y, then whatever else the desktop binds to Redo, each once: a key listed
    twice is an "ambiguous shortcut" that Qt ignores (GNOME's Redo is Ctrl+Shift+Z already)."""
    keys = [
        QKeySequence("Ctrl+Shift+Z"),
        QKeySequence("Ctrl+Y"),
        *QKeySequence.keyBindings(QKeySequence.StandardKey.Redo),
    ]
    unique: dict[str, QKeySequence] = {}
    for key in keys:
        unique.setdefault(key.toString(), key)
    return list(unique.values())


def fill_menus(window: Any) -> None:
    """The File, Edit, View, Timeline, Run and Help menus' actions, once the window's parts exist."""
    from PySide6.QtCore import Qt

    from studio.ui import clipboard
    from studio.ui.document import example_graphs

    file_menu = window.menus["&File"]
    make_action(window, file_menu, "New", QKeySequence.StandardKey.New, window.document.new)
    make_action(window, file_menu, "Open…", QKeySequence.StandardKey.Open, window.document.open_dialog)
    window.recent_menu = file_menu.addMenu("Open recent")
    window.examples_menu = file_menu.addMenu("Examples")
    examples = example_graphs()
    for path in examples:
        title = path.name.removesuffix(".graph.json").replace("_", " ").capitalize()
        window.examples_menu.addAction(title, lambda p=path: window.document.open_example(p))
    window.examples_menu.setEnabled(bool(examples))
    file_menu.addSeparator()
    make_action(window, file_menu, "Save", QKeySequence.StandardKey.Save, window.document.save)
    make_action(window, file_menu, "Save as…", QKeySequence("Ctrl+Shift+S"), lambda: window.document.save_as())
    file_menu.addSeparator()
    make_action(window, file_menu, "Settings…", QKeySequence("Ctrl+,"), window.open_settings)
    make_action(window, file_menu, "Quit", QKeySequence.StandardKey.Quit, window.close)
    fill_recent_menu(window)

    edit = window.menus["&Edit"]
    undo = window.undo_group.createUndoAction(window, "Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = window.undo_group.createRedoAction(window, "Redo")
    redo.setShortcuts(redo_keys())
    edit.addActions([undo, redo])
    edit.addSeparator()
    canvas = Qt.ShortcutContext.WidgetWithChildrenShortcut
    make_action(window, edit, "Add node…", QKeySequence("Shift+A"), lambda: window.adding.open_palette(), canvas)
    make_action(
        window, edit, "Copy", QKeySequence.StandardKey.Copy, lambda: clipboard.copy_selection(window.scene), canvas
    )
    make_action(window, edit, "Paste", QKeySequence.StandardKey.Paste, window.adding.paste, canvas)
    make_action(window, edit, "Duplicate", QKeySequence("Ctrl+D"), lambda: clipboard.duplicate(window.scene), canvas)
    make_action(
        window,
        edit,
        "Delete",
        [QKeySequence.StandardKey.Delete, QKeySequence("Backspace")],
        window.scene.delete_selected,
        canvas,
    )
    make_action(window, edit, "Select all", QKeySequence.StandardKey.SelectAll, window.adding.select_all, canvas)
    make_action(
        window, edit, "Group selection", QKeySequence("Ctrl+G"), lambda: clipboard.group_selection(window.scene), canvas
    )

    view = window.menus["&View"]
    make_action(window, view, "Fit all", QKeySequence("F"), window.view.fit_all, canvas)
    make_action(window, view, "Zoom in", QKeySequence.StandardKey.ZoomIn, lambda: window.view.zoom_by(1.25))
    make_action(window, view, "Zoom out", QKeySequence.StandardKey.ZoomOut, lambda: window.view.zoom_by(0.8))
    view.addSeparator()
    for dock in window.docks.values():
        view.addAction(dock.toggleViewAction())

    window.timeline.fill_menu(window.menus["&Timeline"])

    run = window.menus["&Run"]
    run.addActions([window.run_action, window.cancel_action, window.batch_action])
    run.addSeparator()
    window.unload_action = make_action(window, run, "Unload models", [], window._unload_models)
    window.clear_cache_action = make_action(window, run, "Clear cache", [], window._clear_cache)
    window.restart_action = make_action(window, run, "Restart render process", [], window.restart_renderer)
    window.restart_action.setToolTip("Start renders afresh: all GPU memory back, models load again on the next run")
    make_action(window, window.menus["&Help"], "About Studio", [], window._about)


def make_action(window: Any, menu: QMenu | None, text: str, keys: Any, slot: Callable, context: Any = None) -> QAction:
    """An action with its shortcuts (in ``context`` on the canvas when given), in ``menu`` when given."""
    action = QAction(text, window)
    action.setShortcuts(keys if isinstance(keys, list) else [keys])
    if context is not None:
        action.setShortcutContext(context)
        window.view.addAction(action)
    action.triggered.connect(lambda checked=False: slot())
    if menu is not None:
        menu.addAction(action)
    return action


def fill_recent_menu(window: Any) -> None:
    window.recent_menu.clear()
    for path in window.document.recent:
        window.recent_menu.addAction(path, lambda p=path: window.document.open_path(p))
    window.recent_menu.setEnabled(bool(window.document.recent))
