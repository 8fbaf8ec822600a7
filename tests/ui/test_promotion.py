"""Promoted parameters in the editor: a parameter shown as an input port, driven by a wire."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QMenu
from ui_support import connect

from studio.graph.fileformat import graph_to_dict
from studio.graph.model import Graph, Link, Node
from studio.ui.commands import SetParamCommand
from studio.ui.promotion import add_promotion_actions

pytestmark = pytest.mark.qt

SMALL = {"width": 64, "height": 48, "frames": 4}


def snapshot(window) -> dict:
    return graph_to_dict(window.scene.graph)


def check_undo_redo(window, edit) -> None:
    """Apply ``edit``; undo gives back the model before it, redo the model after it, and the
    canvas's ports and wires mirror the model each time."""
    before = snapshot(window)
    edit()
    after = snapshot(window)
    assert after != before
    window.undo_stack.undo()
    assert snapshot(window) == before
    check_ports_mirror_model(window)
    window.undo_stack.redo()
    assert snapshot(window) == after
    check_ports_mirror_model(window)


def check_ports_mirror_model(window) -> None:
    scene = window.scene
    assert set(scene.link_items) == {lk.target for lk in scene.graph.links}
    for node_id, item in scene.node_items.items():
        node = scene.graph.node(node_id)
        shown = {name for name, port in item.inputs.items() if port.parameter}
        wired = {lk.to_port for lk in scene.graph.links if lk.to_node == node_id and item.spec.param(lk.to_port)}
        assert shown == set(node.extra.get("inputs", [])) | wired, node_id


def pattern_graph(window) -> dict[str, str]:
    """seed -> pattern (seed promoted, not yet wired) -> preview, built through the window's commands."""
    scene = window.scene
    pattern = scene.add_node("TestPattern", QPointF(0, 0))
    for name, value in SMALL.items():
        scene.push(SetParamCommand(scene.graph, pattern, name, value))
    preview = scene.add_node("PreviewVideo", QPointF(300, 0))
    connect(scene, (pattern, "frames"), (preview, "frames"))
    seed = scene.add_node("Seed", QPointF(-300, 0))
    return {"pattern": pattern, "preview": preview, "seed": seed}


def reference_frames(ui_registry, tmp_path, seed: int) -> np.ndarray:
    from studio.engine import Engine, RunSettings

    graph = Graph()
    graph.add_node(Node("p", "TestPattern", dict(SMALL, seed=seed)))
    graph.add_node(Node("show", "PreviewVideo"))
    graph.connect(Link("p", "frames", "show", "frames"))
    engine = Engine("cpu", registry=ui_registry, settings=RunSettings(output_dir=tmp_path / "ref"))
    return engine.run(graph).outputs["show"]["frames"].array


def run(window, qtbot):
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        assert window.run() is not None
    job = finished.args[0]
    assert job.status == "done", job.error
    return job


def test_promoting_shows_a_typed_port_that_a_seed_node_drives_in_a_run(window, qtbot, ui_registry, tmp_path):
    ids = pattern_graph(window)
    scene = window.scene
    item = scene.node_items[ids["pattern"]]
    assert "seed" not in item.inputs
    assert scene.promote_param(ids["pattern"], "seed")
    port = item.inputs["seed"]
    assert (port.type_name, port.parameter, port.links) == ("INT", True, [])
    assert scene.graph.node(ids["pattern"]).extra == {"inputs": ["seed"]}
    assert "seed" not in [name for name, _ in item._param_lines()]  # the port row shows it instead

    scene.push(SetParamCommand(scene.graph, ids["seed"], "seed", 5))
    scene.push(SetParamCommand(scene.graph, ids["pattern"], "seed", 999))
    assert connect(scene, (ids["seed"], "seed"), (ids["pattern"], "seed"))
    scene.select_nodes([ids["pattern"]])
    assert window.inspector.driven_text("seed") == "driven by seed.seed"
    assert "seed" not in window.inspector.editors  # read-only while driven

    job = run(window, qtbot)
    frames = job.report.outputs[ids["preview"]]["frames"].array
    assert np.array_equal(frames, reference_frames(ui_registry, tmp_path, 5))  # the wire's 5, not 999

    # The driven parameter's own value no longer matters; the Seed node's does.
    scene.push(SetParamCommand(scene.graph, ids["pattern"], "seed", 1))
    run(window, qtbot)
    assert item.state == "cached"
    scene.push(SetParamCommand(scene.graph, ids["seed"], "seed", 6))
    run(window, qtbot)
    assert item.state == "done"


def test_promote_connect_and_use_the_value_again_are_undoable(window):
    ids = pattern_graph(window)
    scene = window.scene
    pattern = ids["pattern"]
    check_undo_redo(window, lambda: scene.promote_param(pattern, "seed"))
    check_undo_redo(window, lambda: connect(scene, (ids["seed"], "seed"), (pattern, "seed")))
    check_undo_redo(window, lambda: scene.use_param_value(pattern, "seed"))  # wire and port, one step
    assert "seed" not in scene.node_items[pattern].inputs
    assert "inputs" not in scene.graph.node(pattern).extra  # no empty list left in the file
    assert not scene.use_param_value(pattern, "seed")  # nothing to undo: no command pushed


def test_removing_the_wire_keeps_the_port_and_gives_the_widget_back(window):
    ids = pattern_graph(window)
    scene = window.scene
    pattern = ids["pattern"]
    scene.promote_param(pattern, "seed")
    connect(scene, (ids["seed"], "seed"), (pattern, "seed"))
    scene.select_nodes([pattern])
    assert "seed" not in window.inspector.editors

    scene.clearSelection()
    scene.link_items[(pattern, "seed")].setSelected(True)
    scene.delete_selected()
    assert scene.node_items[pattern].inputs["seed"].links == []  # promoted: the port stays
    scene.select_nodes([pattern])
    assert "seed" in window.inspector.editors
    window.inspector.editors["seed"].set_value(3)
    window.inspector.editors["seed"]._parse()  # unconnected, the value is editable and used
    assert scene.graph.node(pattern).params["seed"] == 3


def test_a_wire_into_a_parameter_that_was_never_promoted_leaves_no_port_behind(window):
    ids = pattern_graph(window)
    scene = window.scene
    pattern = ids["pattern"]
    # Files from elsewhere may wire a parameter without listing it in "inputs".
    scene.graph.connect(Link(ids["seed"], "seed", pattern, "seed"))
    assert scene.node_items[pattern].inputs["seed"].links
    scene.graph.disconnect(pattern, "seed")
    assert "seed" not in scene.node_items[pattern].inputs


def test_the_inspector_button_uses_the_value_again(window, qtbot):
    ids = pattern_graph(window)
    scene = window.scene
    pattern = ids["pattern"]
    scene.promote_param(pattern, "seed")
    connect(scene, (ids["seed"], "seed"), (pattern, "seed"))
    scene.select_nodes([pattern])
    window.show()
    row = window.inspector.driven["seed"].parentWidget()
    button = next(b for b in row.children() if getattr(b, "text", lambda: "")() == "Use the value again")
    with qtbot.waitSignal(scene.node_inputs_changed):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert scene.graph.link_into(pattern, "seed") is None
    assert "seed" not in scene.node_items[pattern].inputs
    assert "seed" in window.inspector.editors


def test_a_string_wire_cannot_drive_an_int_parameter(window):
    ids = pattern_graph(window)
    scene = window.scene
    text = scene.add_node("Text", QPointF(-300, 200))
    scene.promote_param(ids["pattern"], "seed")
    refused = []
    scene.edit_refused.connect(refused.append)
    assert not connect(scene, (text, "text"), (ids["pattern"], "seed"))
    assert refused == ["seed expects INT, got STRING"]
    assert scene.graph.link_into(ids["pattern"], "seed") is None


def test_dragging_a_wire_onto_a_promoted_port_connects_it(window, qtbot):
    window.show()
    ids = pattern_graph(window)
    scene = window.scene
    scene.promote_param(ids["pattern"], "seed")
    window.view.resetTransform()
    window.view.centerOn(QPointF(0, 60))
    start = window.view.mapFromScene(scene.node_items[ids["seed"]].outputs["seed"].scenePos())
    end = window.view.mapFromScene(scene.node_items[ids["pattern"]].inputs["seed"].scenePos())
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    link = scene.graph.link_into(ids["pattern"], "seed")
    assert (link.from_node, link.from_port) == (ids["seed"], "seed")


def test_dropping_an_int_wire_offers_nodes_with_int_parameters_and_promotes_one(window):
    scene = window.scene
    seed = scene.add_node("Seed", QPointF(0, 0))
    scene.link_dropped.emit(scene.node_items[seed].outputs["seed"], QPointF(400, 0))
    offered = {s.type for s in window.palette.matching("")}
    assert {"TestPattern", "SolidColor", "Sampler", "EmptyLatent"} <= offered
    assert "PreviewVideo" not in offered and "LoadImage" not in offered  # nothing an INT can drive
    before = snapshot(window)
    window.palette.search.setText("testpattern")
    window.palette.choose_current()
    (link,) = scene.graph.links
    pattern = link.to_node
    assert (link.from_node, link.from_port, link.to_port) == (seed, "seed", "seed")  # same name preferred
    assert scene.graph.node(pattern).extra == {"inputs": ["seed"]}
    window.undo_stack.undo()  # add, promote and connect: one step
    assert snapshot(window) == before


def test_the_node_menu_promotes_the_parameter_under_the_cursor(window):
    ids = pattern_graph(window)
    scene = window.scene
    item = scene.node_items[ids["pattern"]]
    rows_top = item.mapToScene(item.param_rect("height").center())
    node_item, param = window.adding.node_and_param_at(rows_top)
    assert (node_item, param) == (item, "height")
    menu = QMenu()
    add_promotion_actions(menu, scene, ids["pattern"], param)
    direct = menu.actions()[0]
    assert direct.text() == "Drive height from a wire"
    direct.trigger()
    assert "height" in item.inputs
    # Every parameter is listed, checked when promoted; unchecking frees it again.
    listed = {a.text().split()[0]: a for a in menu.actions()[1].menu().actions()}
    assert set(listed) == {"width", "height", "frames", "fps", "seed"}
    menu = QMenu()
    add_promotion_actions(menu, scene, ids["pattern"])
    (sub,) = [a for a in menu.actions() if a.menu()]
    height = next(a for a in sub.menu().actions() if a.text().startswith("height"))
    assert height.isChecked()
    height.trigger()
    assert "height" not in item.inputs


def test_save_and_open_keep_promoted_parameters_wired_or_not(window, tmp_path):
    ids = pattern_graph(window)
    scene = window.scene
    pattern = ids["pattern"]
    scene.promote_param(pattern, "seed")
    scene.promote_param(pattern, "fps")
    connect(scene, (ids["seed"], "seed"), (pattern, "seed"))
    path = tmp_path / "promoted.graph.json"
    assert window.document.save_as(path)
    saved = snapshot(window)
    assert window.document.open_path(path, ask=False)
    assert snapshot(window) == saved
    item = window.scene.node_items[pattern]
    assert [n for n, p in item.inputs.items() if p.parameter] == ["fps", "seed"]  # the spec's order
    assert item.inputs["seed"].links and not item.inputs["fps"].links
    assert window.scene.graph.node(pattern).extra == {"inputs": ["seed", "fps"]}


def test_odd_inputs_lists_in_a_file_are_kept_but_show_no_ports(window):
    graph = Graph()
    graph.add_node(Node("p", "TestPattern", dict(SMALL), extra={"inputs": ["nope", 3, "frames"]}))
    window.document.set_document(graph, None, "odd")
    item = window.scene.node_items["p"]
    assert [n for n, p in item.inputs.items() if p.parameter] == ["frames"]
    assert window.scene.graph.node("p").extra == {"inputs": ["nope", 3, "frames"]}
    assert window.scene.promote_param("p", "width")
    assert window.scene.graph.node("p").extra == {"inputs": ["nope", 3, "frames", "width"]}


def test_right_clicking_a_node_opens_a_menu_with_the_promotion_actions(window, qtbot, monkeypatch):
    ids = pattern_graph(window)
    window.show()
    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda menu, pos, at=None: shown.append(menu))
    item = window.scene.node_items[ids["pattern"]]
    window.view.centerOn(item)
    point = window.view.mapFromScene(item.mapToScene(QPointF(20, 28 + 22 + 8)))  # the first summary row
    window.adding.context_menu(QPoint(point))
    texts = [a.text() for a in shown[0].actions()]
    assert texts[0] == "Drive width from a wire" and "Parameters as inputs" in texts


def test_dropping_a_wire_on_a_parameter_row_promotes_and_connects_it(window, qtbot):
    window.show()
    ids = pattern_graph(window)
    scene = window.scene
    item = scene.node_items[ids["pattern"]]
    window.view.resetTransform()
    window.view.centerOn(QPointF(0, 60))
    before = snapshot(window)
    width_row = item.mapToScene(QPointF(60, 28 + 22 + 8))  # the first summary row: width
    start = window.view.mapFromScene(scene.node_items[ids["seed"]].outputs["seed"].scenePos())
    end = window.view.mapFromScene(width_row)
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert scene.graph.link_into(ids["pattern"], "width").from_node == ids["seed"]
    assert scene.graph.node(ids["pattern"]).extra == {"inputs": ["width"]}
    window.undo_stack.undo()  # promote and connect: one step
    assert snapshot(window) == before
    check_ports_mirror_model(window)


def test_a_seed_driven_by_a_wire_is_not_moved_after_a_run(window, qtbot):
    ids = pattern_graph(window)
    scene = window.scene
    scene.promote_param(ids["pattern"], "seed")
    connect(scene, (ids["seed"], "seed"), (ids["pattern"], "seed"))
    scene.select_nodes([ids["seed"]])
    window.inspector.set_seed_mode("seed", "increment")  # the Seed node's own seed moves
    scene.select_nodes([ids["pattern"]])
    window.inspector.set_seed_mode("seed", "increment")  # the driven one does not
    run(window, qtbot)
    assert scene.graph.node(ids["seed"]).params["seed"] == 1
    assert scene.graph.node(ids["pattern"]).params["seed"] == 0
