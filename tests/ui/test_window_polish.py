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
