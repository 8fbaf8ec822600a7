"""Node editor: palette, typed links, link-drop palette, undo/redo of every edit kind, copy/paste."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication
from ui_support import connect, small_graph

from studio.graph.fileformat import graph_to_dict
from studio.ui import clipboard
from studio.ui.commands import SetParamCommand
from studio.ui.palette import fuzzy_score

pytestmark = pytest.mark.qt


def snapshot(window) -> dict:
    return graph_to_dict(window.scene.graph)


def check_undo_redo(window, edit) -> None:
    """Apply ``edit``; undo must give back the model before it, redo the model after it."""
    before = snapshot(window)
    edit()
    after = snapshot(window)
    assert after != before
    window.undo_stack.undo()
    assert snapshot(window) == before
    window.undo_stack.redo()
    assert snapshot(window) == after
    # The canvas mirrors the model after all that.
    assert set(window.scene.node_items) == {n.id for n in window.scene.graph.nodes}
    assert set(window.scene.link_items) == {lk.target for lk in window.scene.graph.links}


def test_palette_adds_a_node_found_by_fuzzy_search(window, qtbot):
    window.show()
    window.adding.open_palette(QPointF(100, 100))
    qtbot.keyClicks(window.palette.search, "tstpat")
    assert window.palette.list.item(0).data(Qt.ItemDataRole.UserRole) == "TestPattern"
    qtbot.keyClick(window.palette.search, Qt.Key.Key_Return)
    (node,) = window.scene.graph.nodes
    assert node.type == "TestPattern" and node.position == (100.0, 100.0)
    assert window.scene.selected_node_ids() == [node.id]


def test_palette_matches_category_and_description(window):
    window.palette.open_at(QPoint(0, 0))
    found = window.palette.matching("output")
    assert {"PreviewVideo", "SaveVideo"} <= {s.type for s in found}
    assert found[0].category == "Output"  # a category match ranks above a description match
    assert "SolidColor" in [s.type for s in window.palette.matching("one colour")]
    assert fuzzy_score("xyz", "TestPattern") == 0
    window.palette.hide()


def test_double_click_on_empty_canvas_asks_for_the_palette(window, qtbot):
    window.show()
    with qtbot.waitSignal(window.view.palette_requested):
        qtbot.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(50, 50))


def test_links_only_join_compatible_ports(window):
    ids = small_graph(window)
    scene = window.scene
    sampler = scene.add_node("FakeSampler", QPointF(0, 200))
    # FRAMES into FRAMES: fine.
    assert connect(scene, (ids["pattern"], "frames"), (sampler, "frames"))
    # VIDEO into FRAMES: refused, with the reason.
    refused = []
    scene.edit_refused.connect(refused.append)
    assert not connect(scene, (ids["save"], "video"), (sampler, "frames"))
    assert "expects FRAMES, got VIDEO" in refused[0]
    # A cycle is refused too.
    second = scene.add_node("FakeSampler", QPointF(300, 200))
    assert connect(scene, (sampler, "frames"), (second, "frames"))
    assert not connect(scene, (second, "frames"), (sampler, "frames"))
    assert refused[-1] == "that link would make a cycle"
    assert scene.graph.link_into(sampler, "frames").from_node == ids["pattern"]


def test_dragging_a_link_with_the_mouse_connects_ports(window, qtbot):
    window.show()
    scene = window.scene
    pattern = scene.add_node("TestPattern", QPointF(0, 0))
    save = scene.add_node("SaveVideo", QPointF(400, 0))
    window.view.resetTransform()
    window.view.centerOn(QPointF(300, 60))
    start = window.view.mapFromScene(scene.node_items[pattern].outputs["frames"].scenePos())
    end = window.view.mapFromScene(scene.node_items[save].inputs["frames"].scenePos())
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert scene.graph.link_into(save, "frames") is not None


def test_dropping_a_link_on_empty_canvas_offers_compatible_nodes_and_connects(window):
    scene = window.scene
    pattern = scene.add_node("TestPattern", QPointF(0, 0))
    port = scene.node_items[pattern].outputs["frames"]
    scene.link_dropped.emit(port, QPointF(400, 0))
    offered = window.palette.matching("")
    assert {"FakeSampler", "SaveVideo", "PreviewVideo"} <= {s.type for s in offered}
    assert all(any(p.type == "FRAMES" for p in s.inputs) for s in offered)  # nothing else is offered
    before = snapshot(window)
    window.palette.search.setText("save")
    window.palette.choose_current()
    (link,) = scene.graph.links
    assert (link.from_node, link.to_port) == (pattern, "frames")
    assert scene.graph.node(link.to_node).type == "SaveVideo"
    window.undo_stack.undo()  # adding and connecting is one step
    assert snapshot(window) == before


def test_undo_redo_of_every_edit_kind(window):
    scene = window.scene
    ids = small_graph(window, sampler=True)
    graph = scene.graph
    check_undo_redo(window, lambda: scene.add_node("SolidColor", QPointF(0, 300)))
    check_undo_redo(window, lambda: scene.push(SetParamCommand(graph, ids["pattern"], "width", 128)))
    link = graph.link_into(ids["save"], "frames")

    def disconnect():
        scene.node_items[ids["save"]].setSelected(False)
        scene.clearSelection()
        scene.link_items[link.target].setSelected(True)
        scene.delete_selected()

    check_undo_redo(window, disconnect)

    def remove_sampler():  # a composite: its links go first
        scene.select_nodes([ids["sampler"]])
        scene.delete_selected()

    check_undo_redo(window, remove_sampler)
    window.undo_stack.undo()  # bring the sampler back for the edits below

    def move():
        scene.node_items[ids["pattern"]].setPos(QPointF(100, 160))
        scene._commit_moves()

    check_undo_redo(window, move)

    def group():
        scene.select_nodes([ids["pattern"]])
        clipboard.group_selection(scene, "Sources")

    check_undo_redo(window, group)
    group_id = graph.groups[0].id

    def move_group():
        item = scene.group_items[group_id]
        item.setPos(item.pos() + QPointF(0, 40))
        scene.node_items[ids["pattern"]].setPos(scene.node_items[ids["pattern"]].pos() + QPointF(0, 40))
        scene.commit_group_drag(item, {ids["pattern"]: scene.node_items[ids["pattern"]]})

    check_undo_redo(window, move_group)

    def reroute():
        scene.set_link_points(graph.link_into(ids["sampler"], "frames"), [[150.0, 200.0]])

    check_undo_redo(window, reroute)
    assert scene.link_items[(ids["sampler"], "frames")].handles  # the reroute point is drawn
    scene.select_nodes(list(ids.values()))
    check_undo_redo(window, lambda: clipboard.duplicate(scene))


def test_copy_puts_graph_json_on_the_clipboard_and_paste_adds_renamed_nodes(window):
    ids = small_graph(window)
    scene = window.scene
    scene.select_nodes([ids["pattern"], ids["save"]])
    text = clipboard.copy_selection(scene)
    data = json.loads(QGuiApplication.clipboard().text())
    assert data == json.loads(text) and data["format"] == "studio.graph" and len(data["links"]) == 1
    before = snapshot(window)
    new_ids = clipboard.paste(scene, QPointF(0, 400))
    assert len(new_ids) == 2 and not set(new_ids) & set(ids.values())
    assert len(scene.graph.links) == 2  # the link between the copies came along
    assert set(scene.selected_node_ids()) == set(new_ids)
    window.undo_stack.undo()
    assert snapshot(window) == before


def test_paste_ignores_text_that_is_not_a_graph(window):
    assert clipboard.paste(window.scene, text="hello") == []
    assert clipboard.paste(window.scene, text='{"format": "other"}') == []


def test_group_colour_title_and_removal_are_undoable(window):
    ids = small_graph(window)
    scene = window.scene
    scene.select_nodes([ids["pattern"]])
    group_id = clipboard.group_selection(scene, "Sources")
    check_undo_redo(window, lambda: window.adding.set_group_colour(group_id, "#a0513a"))
    assert scene.group_items[group_id].color.name() == "#a0513a"
    check_undo_redo(window, lambda: window.adding.remove_group(group_id))
    assert len(scene.graph) == 2  # the nodes stay


def test_zoom_keeps_the_point_under_the_cursor_and_fit_shows_everything(window, qtbot):
    window.show()
    small_graph(window, sampler=True)
    view = window.view
    anchor = QPointF(200, 150)
    before = view.mapToScene(anchor.toPoint())
    view.zoom_by(1.5, anchor)
    after = view.mapToScene(anchor.toPoint())
    assert abs(before.x() - after.x()) < 2 and abs(before.y() - after.y()) < 2
    view.zoom_by(100)
    assert view.zoom() <= 3.0
    view.fit_all()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.items_bounding_rect())


def test_dragging_a_wire_off_an_input_disconnects_it(window, qtbot):
    window.show()
    ids = small_graph(window)
    scene = window.scene
    window.view.resetTransform()
    window.view.centerOn(QPointF(300, 60))
    before = snapshot(window)
    start = window.view.mapFromScene(scene.node_items[ids["save"]].inputs["frames"].scenePos())
    end = start + QPoint(60, 200)  # empty canvas
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert scene.graph.link_into(ids["save"], "frames") is None
    window.undo_stack.undo()
    assert snapshot(window) == before


def test_text_from_a_graph_file_is_shown_escaped_never_as_markup_or_forged_lines(window):
    from studio.graph.validate import Problem

    hostile = "evil\x1b[2J\nwrote /etc/passwd\u202e<img src=x>"
    window.problems.set_problems([Problem("unknown node type", hostile, "Nope")])
    shown = window.problems.list.item(0).text()
    assert "\n" not in shown and "\x1b" not in shown and "\u202e" not in shown
    assert "\\x1b[2J\\nwrote /etc/passwd\\u202e" in shown
    window.notify(f"could not open {hostile}", "error")
    assert window.banner.textFormat() == Qt.TextFormat.PlainText and "\n" not in window.banner.text()
