"""Small things a user noticed: toolbar buttons that keep still, inspector rows that line up."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QToolBar

from studio.ui.param_widgets import NumberEditor

pytestmark = pytest.mark.qt


def test_the_undo_button_keeps_its_text_and_tells_the_detail_in_its_tooltip(window, qtbot):
    window.show()
    bar = window.findChild(QToolBar, "main-toolbar")
    undo = next(a for a in bar.actions() if a.text() == "Undo")
    button = bar.widgetForAction(undo)
    width = button.sizeHint().width()
    assert not undo.isEnabled()
    node_id = window.scene.add_node("FakeSampler", QPointF(0, 0))
    window.scene.edit_param(node_id, "prompt", "a long prompt about a cat")
    assert undo.isEnabled() and undo.text() == "Undo"
    assert button.sizeHint().width() == width
    assert f"Set {node_id}.prompt" in undo.toolTip()
    undo.trigger()
    assert window.scene.graph.node(node_id).params["prompt"] == "a cat"


def test_number_rows_in_the_inspector_have_sliders_of_one_length(window, qtbot):
    window.show()
    node_id = window.scene.add_node("TestPattern", QPointF(0, 0))
    window.scene.select_nodes([node_id])
    numbers = [e for e in window.inspector.editors.values() if isinstance(e, NumberEditor) and e.slider is not None]
    assert len(numbers) >= 2
    qtbot.waitUntil(lambda: all(e.slider.width() > 20 for e in numbers))
    assert len({e.slider.width() for e in numbers}) == 1
    assert all(e.spin.lineEdit().width() > 40 for e in numbers)  # the value is readable, not squashed


def test_the_starter_prompt_marks_words_the_model_ignores_and_completes_known_ones(window, qtbot):
    from PySide6.QtCore import Qt

    from studio.bundled import find_bundled
    from studio.graph.fileformat import load_graph

    window.show()
    window.scene.set_graph(load_graph(find_bundled("resources/graphs/starter.graph.json")))
    window.scene.select_nodes(["prompt"])
    box = window.inspector.editors["text"].box
    window.scene.edit_param("prompt", "text", "a cat walking on the beach")
    assert box.ignored_words() == ["cat", "walking", "beach"]
    assert "ignores: cat, walking, beach" in box.note.text() and not box.note.isHidden()
    window.scene.edit_param("prompt", "text", "a red circle moving right")
    assert box.ignored_words() == [] and "knows" in box.note.text()

    box.setFocus()
    box.moveCursor(box.textCursor().MoveOperation.End)
    qtbot.keyClicks(box, " on a bl")
    popup = box.completer.popup()
    assert popup.isVisible()
    shown = [box.completer.completionModel().index(i, 0).data() for i in range(box.completer.completionCount())]
    assert shown == ["black", "blue"]
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert window.scene.graph.node("prompt").params["text"] == "a red circle moving right on a blue"


def test_a_prompt_without_a_closed_vocabulary_is_a_plain_box(window):
    node_id = window.scene.add_node("FakeSampler", QPointF(0, 0))
    window.scene.select_nodes([node_id])
    box = window.inspector.editors["prompt"].box
    assert box.vocabulary is None and box.note.isHidden() and box.ignored_words() == []
