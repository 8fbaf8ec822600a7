"""Inspector: widgets from specs, undoable edits, refused values with their reason, seed modes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QPlainTextEdit
from ui_support import small_graph

from studio.ui.param_widgets import ChoiceEditor, NumberEditor, PathEditor, SeedEditor, TextEditor

pytestmark = pytest.mark.qt


def test_widgets_are_generated_from_the_spec(window):
    ids = small_graph(window, sampler=True)
    window.scene.select_nodes([ids["sampler"]])
    editors = window.inspector.editors
    assert isinstance(editors["steps"], NumberEditor) and editors["steps"].slider is not None
    assert isinstance(editors["seed"], SeedEditor)
    assert isinstance(editors["prompt"], TextEditor) and isinstance(editors["prompt"].box, QPlainTextEdit)
    assert "frames" not in editors  # an input port, not a parameter
    window.scene.select_nodes([ids["save"]])
    assert isinstance(window.inspector.editors["codec"], ChoiceEditor)
    assert window.inspector.title.text().startswith(ids["save"])


def test_an_edit_is_undoable_and_mirrors_back_into_the_widget(window):
    ids = small_graph(window)
    graph = window.scene.graph
    window.scene.select_nodes([ids["pattern"]])
    spin = window.inspector.editors["width"].spin
    spin.setValue(200)
    assert graph.node(ids["pattern"]).params["width"] == 200
    window.undo_stack.undo()
    assert graph.node(ids["pattern"]).params["width"] == 64
    assert spin.value() == 64  # the widget follows the model


def test_slider_drags_merge_into_one_undo_step(window):
    ids = small_graph(window)
    window.scene.select_nodes([ids["pattern"]])
    slider = window.inspector.editors["width"].slider
    count = window.undo_stack.count()
    for position in (100, 200, 300):
        slider.setValue(position)
    assert window.undo_stack.count() == count + 1
    window.undo_stack.undo()
    assert window.scene.graph.node(ids["pattern"]).params["width"] == 64


def test_an_invalid_value_is_refused_with_the_reason(window):
    ids = small_graph(window)
    window.scene.select_nodes([ids["pattern"]])
    count = window.undo_stack.count()
    window.inspector.editors["width"].spin.setValue(5)
    assert window.scene.graph.node(ids["pattern"]).params["width"] == 64
    assert window.inspector.error_text("width") == "width must be between 16 and 4096, got 5"
    assert window.undo_stack.count() == count
    seed = window.inspector.editors["seed"]
    seed.box.setText("-3")
    seed.box.editingFinished.emit()
    assert "seed must be between 0 and" in window.inspector.error_text("seed")


def test_path_pickers_filter_by_file_type_and_start_in_a_model_folder(window, tmp_path):
    from studio.graph import types as t
    from studio.graph.spec import ParamSpec

    folder = tmp_path / "models"
    folder.mkdir()
    editor = PathEditor(ParamSpec("path", t.PATH, "", file_types=(".safetensors", ".ckpt")), [folder])
    assert editor.file_filter().startswith("path (*.safetensors *.ckpt)")
    assert editor.start_folder() == str(folder)


def test_seed_increments_after_a_run_when_asked(window, qtbot):
    ids = small_graph(window, sampler=True, steps=1)
    window.scene.select_nodes([ids["sampler"]])
    window.inspector.editors["seed"].mode.setCurrentText("increment")
    assert window.scene.graph.meta["seed_modes"] == {f"{ids['sampler']}.seed": "increment"}
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        job = window.run()
    assert job.graph.node(ids["sampler"]).params["seed"] == 0  # the run used the seed shown
    assert finished.args[0].status == "done"
    assert window.scene.graph.node(ids["sampler"]).params["seed"] == 1
    window.undo_stack.undo()
    assert window.scene.graph.node(ids["sampler"]).params["seed"] == 0


def test_unknown_node_shows_its_saved_parameters(window):
    from studio.graph.model import Node
    from studio.ui.commands import AddNodeCommand

    window.scene.push(AddNodeCommand(window.scene.graph, Node("x", "FromAMissingPack", {"a": 1}, position=(0, 0))))
    window.scene.select_nodes(["x"])
    assert "node pack is missing" in window.inspector.subtitle.text()
    assert window.scene.node_items["x"].spec is None
    window.scene.add_node("TestPattern", QPointF(0, 300))


def test_undoing_the_first_seed_mode_leaves_no_meta_key_behind(window):
    ids = small_graph(window, sampler=True, steps=1)
    window.scene.select_nodes([ids["sampler"]])
    window.inspector.editors["seed"].mode.setCurrentText("increment")
    window.undo_stack.undo()
    assert "seed_modes" not in window.scene.graph.meta
    from studio.graph import dumps_graph

    dumps_graph(window.scene.graph)  # still plain JSON
