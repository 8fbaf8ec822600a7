"""The timeline inside the window: shots from finished runs, persistence, re-render in place."""

from __future__ import annotations

import pytest
from ui_support import small_graph

pytestmark = pytest.mark.qt


def render(window, qtbot):
    with qtbot.waitSignal(window.runs.run_finished, timeout=30_000) as finished:
        window.run()
    job = finished.args[0]
    assert job.status == "done"
    return job


def test_a_finished_render_goes_onto_the_timeline_with_its_graph(window, qtbot):
    small_graph(window)
    render(window, qtbot)
    qtbot.waitUntil(lambda: window.viewer.source is not None)
    assert window.timeline.add_current_output()
    shots = window.timeline.panel.timeline.shots()
    assert len(shots) == 1 and shots[0].path == window.viewer.source
    assert shots[0].metadata["graph"]["format"] == "studio.graph"


def test_the_timeline_is_saved_after_every_edit_and_reopened(window, qtbot, tmp_path):
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow
    from studio.ui.timeline_link import timeline_path

    small_graph(window)
    render(window, qtbot)
    qtbot.waitUntil(lambda: window.viewer.source is not None)
    window.timeline.add_current_output()
    assert timeline_path().is_file()
    other = MainWindow(Settings(output_dir=str(tmp_path / "o2"), device="cpu"), window.registry)
    qtbot.addWidget(other)
    try:
        other.show()
        other.docks["timeline"].raise_()  # the panel is built when its tab is first shown
        qtbot.waitUntil(lambda: other.timeline.built)
        panel = other.docks["timeline"].widget().findChild(type(window.timeline.panel))
        assert panel is not None and len(panel.timeline) == 1
    finally:
        other.shutdown()


def test_rerendering_a_shot_replaces_only_that_clip_and_keeps_the_old_file(window, qtbot):
    from studio.ui.commands import SetParamCommand

    ids = small_graph(window)
    render(window, qtbot)
    qtbot.waitUntil(lambda: window.viewer.source is not None)
    first = window.viewer.source
    window.timeline.add(first)
    window.timeline.add(first)
    panel = window.timeline.panel
    panel.selected = 1
    panel.open_selected_graph()
    assert window.timeline.rerender_shot == 1
    scene = window.scene
    scene.push(SetParamCommand(scene.graph, ids["pattern"], "seed", 99))
    render(window, qtbot)
    qtbot.waitUntil(lambda: panel.timeline.shots()[1].path != first)
    shots = panel.timeline.shots()
    assert shots[0].path == first and first.is_file()
    assert shots[1].metadata["graph"]["nodes"][0]["params"]["seed"] == 99
    assert window.timeline.rerender_shot is None


def test_undo_follows_focus_between_canvas_and_timeline(window, qtbot):
    small_graph(window)
    render(window, qtbot)
    qtbot.waitUntil(lambda: window.viewer.source is not None)
    window.timeline.add_current_output()
    panel = window.timeline.panel
    window._focus_changed(None, panel.view)
    assert window.undo_group.activeStack() is panel.undo_stack
    window.undo_group.undo()
    assert len(panel.timeline) == 0
    window._focus_changed(None, window.view)
    assert window.undo_group.activeStack() is window.undo_stack
