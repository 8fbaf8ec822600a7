"""Editing parameters on the node itself, collapsing nodes, the canvas hint and wire routing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from studio.graph.fileformat import graph_to_dict, load_graph
from studio.ui.link_item import detour, wire_path
from studio.ui.node_item import HEADER

pytestmark = pytest.mark.qt


def sampler_at_full_size(window, qtbot):
    """A FakeSampler shown at zoom 1, where its rows are drawn (and clickable)."""
    window.show()
    qtbot.waitExposed(window)
    node_id = window.scene.add_node("FakeSampler", QPointF(0, 0))
    item = window.scene.node_items[node_id]
    window.view.resetTransform()
    window.view.centerOn(item)
    window.view.viewport().repaint()
    return node_id, item


def row_point(window, item, name: str, x: str = "middle") -> QPoint:
    rect = item.param_rect(name)
    at = {"left": rect.left() + 14, "middle": rect.center().x(), "right": rect.right() - 14}[x]
    return window.view.mapFromScene(item.mapToScene(QPointF(at, rect.center().y())))


def click(window, qtbot, point: QPoint) -> None:
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def param(window, node_id: str, name: str):
    return window.scene.graph.node(node_id).params[name]


def test_every_parameter_is_a_row_on_the_node(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    assert [name for name, _ in item.param_rows()] == ["steps", "seed", "prompt", "hold", "fail"]
    assert not any(name == "…" for name, _ in item._param_lines())


def test_a_click_flips_a_bool_and_undo_flips_it_back(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    click(window, qtbot, row_point(window, item, "hold"))
    assert param(window, node_id, "hold") is True
    assert window.scene.selected_node_ids() == [node_id]  # the inspector shows the node edited
    assert window.inspector.editors["hold"].check.isChecked()
    window.undo_stack.undo()
    assert param(window, node_id, "hold") is False


def test_number_arrows_step_within_the_range(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    click(window, qtbot, row_point(window, item, "steps", "right"))
    assert param(window, node_id, "steps") == 5
    click(window, qtbot, row_point(window, item, "steps", "left"))
    click(window, qtbot, row_point(window, item, "steps", "left"))
    assert param(window, node_id, "steps") == 3
    window.scene.edit_param(node_id, "steps", 1)
    click(window, qtbot, row_point(window, item, "steps", "left"))
    assert param(window, node_id, "steps") == 1  # the minimum holds


def test_dragging_a_number_sideways_changes_it_in_one_undo_step(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    viewport = window.view.viewport()
    start = row_point(window, item, "steps")
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for dx in (10, 30, 60):
        point = QPointF(start.x() + dx, start.y())
        move = QMouseEvent(
            QMouseEvent.Type.MouseMove,
            point,
            viewport.mapToGlobal(point),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, move)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(start.x() + 60, start.y()))
    assert param(window, node_id, "steps") == 14  # 4 + 60 px / 6 px per step
    assert item.pos() == QPointF(0, 0)  # the drag edited the value; the node stayed put
    window.undo_stack.undo()
    assert param(window, node_id, "steps") == 4


def test_typing_a_number_in_place_commits_or_explains_the_refusal(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    click(window, qtbot, row_point(window, item, "steps"))
    editor = item.inline_editor
    assert editor is not None and editor.isVisible() and editor.text() == "4"
    editor.clear()
    qtbot.keyClicks(editor, "500")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert param(window, node_id, "steps") == 4  # refused: out of range
    assert editor.isVisible() and "between 1 and 50" in editor.toolTip()
    editor.clear()
    qtbot.keyClicks(editor, "12")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert param(window, node_id, "steps") == 12
    assert not editor.isVisible()
    window.undo_stack.undo()
    assert param(window, node_id, "steps") == 4


def test_a_choice_row_offers_its_choices(window, qtbot):
    window.show()
    node_id = window.scene.add_node("SaveVideo", QPointF(0, 0))
    item = window.scene.node_items[node_id]
    window.view.resetTransform()
    window.view.centerOn(item)
    click(window, qtbot, row_point(window, item, "codec"))
    menu = item.choice_popup
    assert menu is not None
    choices = {action.text(): action for action in menu.actions()}
    assert {"h264", "vp9"} <= set(choices) and choices["h264"].isChecked()
    choices["vp9"].trigger()
    menu.close()
    assert param(window, node_id, "codec") == "vp9"
    window.undo_stack.undo()
    assert param(window, node_id, "codec") == "h264"


def test_a_prompt_row_opens_the_inspector_editor(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    click(window, qtbot, row_point(window, item, "prompt"))
    assert window.inspector.node_id == node_id
    assert window.focusWidget() is window.inspector.editors["prompt"].box
    assert item.inline_editor is None


def test_a_node_collapses_to_its_header_and_saves_so(window, qtbot):
    node_id, item = sampler_at_full_size(window, qtbot)
    arrow = window.view.mapFromScene(item.mapToScene(item.collapse_rect().center()))
    click(window, qtbot, arrow)
    assert item.collapsed and item.boundingRect().height() == HEADER + 8
    assert item.param_rows() == []
    assert {p.pos().y() for p in item.all_ports()} == {HEADER / 2}  # wires still end on the header
    saved = next(n for n in graph_to_dict(window.scene.graph)["nodes"] if n["id"] == node_id)
    assert saved["collapsed"] is True
    window.undo_stack.undo()
    assert not item.collapsed and "collapsed" not in window.scene.graph.node(node_id).extra
    window.undo_stack.redo()
    assert item.collapsed


def test_the_empty_canvas_hint_goes_when_a_node_is_added(window, qtbot):
    window.show()
    assert window.view.shows_hint()
    window.scene.add_node("FakeSampler", QPointF(0, 0))
    assert not window.view.shows_hint()
    window.undo_stack.undo()
    assert window.view.shows_hint()


def test_wires_of_the_starter_graph_go_round_the_nodes(window, qtbot, ui_registry):
    from studio.bundled import find_bundled

    graph = load_graph(find_bundled("resources/graphs/starter.graph.json"))
    window.scene.set_graph(graph)
    boxes = {
        node_id: item.sceneBoundingRect().adjusted(4, 4, -4, -4) for node_id, item in window.scene.node_items.items()
    }
    for (to_node, _port), link in window.scene.link_items.items():
        path = link.path()
        points = [path.pointAtPercent(i / 80) for i in range(1, 80)]
        for node_id, box in boxes.items():
            if node_id not in (link.link.from_node, to_node):
                assert not any(box.contains(p) for p in points), f"{link.link} runs behind {node_id}"


def test_detour_goes_above_or_below_a_box_in_the_way():
    rect = QRectF(QPointF(100, -20), QPointF(200, 20))
    via = detour(QPointF(0, 0), QPointF(300, 10), [rect])
    assert via and all(not rect.contains(p) for p in via)
    path = wire_path(QPointF(0, 0), QPointF(300, 10), via)
    assert not any(rect.contains(path.pointAtPercent(i / 50)) for i in range(1, 50))
    assert detour(QPointF(0, 0), QPointF(300, 100), [QRectF(100, 300, 50, 50)]) == []  # nothing in the way


def test_the_node_menu_collapses_and_expands_it(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMenu

    node_id, item = sampler_at_full_size(window, qtbot)
    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda menu, pos, at=None: shown.append(menu))
    point = window.view.mapFromScene(item.mapToScene(QPointF(100, 10)))
    window.adding.context_menu(QPoint(point))
    next(a for a in shown[-1].actions() if a.text() == "Collapse").trigger()
    assert item.collapsed
    window.adding.context_menu(QPoint(point))
    next(a for a in shown[-1].actions() if a.text() == "Expand").trigger()
    assert not item.collapsed
