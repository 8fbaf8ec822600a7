"""Running: previews and outputs arrive as queued signals, node states, cancel, queue order, failures."""

from __future__ import annotations

import pytest
from ui_support import GATE, small_graph

pytestmark = pytest.mark.qt


def test_a_run_sends_previews_node_states_and_its_output(window, qtbot):
    ids = small_graph(window, sampler=True, steps=3)
    previews = []
    window.runs.preview_arrived.connect(lambda job, node, image, step, total: previews.append((node, step, total)))
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    job = finished.args[0]
    assert job.status == "done", job.error
    assert previews and previews[-1] == (ids["sampler"], 3, 3)  # the last step always arrives
    assert window.preview.previews_received >= 1
    assert len(window.preview.frames) == 4  # a video preview: every frame, looped
    assert {n: i.state for n, i in window.scene.node_items.items()} == {nid: "done" for nid in ids.values()}
    assert window.viewer.source is not None and window.viewer.source.suffix == ".mp4"
    assert window.history.list.count() == 1
    # Unchanged graph: the second run comes from the cache.
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert window.scene.node_items[ids["pattern"]].state == "cached"


def test_an_invalid_graph_is_not_queued_and_its_problems_are_shown(window):
    from PySide6.QtCore import QPointF

    window.scene.add_node("SaveVideo", QPointF(0, 0))
    assert window.run() is None
    assert window.runs.jobs() == []
    assert window.scene.node_items["savevideo"].problems
    assert "required input 'frames'" in window.problems.list.item(0).text()


def test_cancel_stops_the_running_job(window, qtbot):
    small_graph(window, sampler=True, hold=True, steps=5)
    with qtbot.waitSignal(window.runs.node_started, timeout=20_000, check_params_cb=lambda j, n: n == "fakesampler"):
        window.run()
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.cancel_action.trigger()
    assert finished.args[0].status == "cancelled"
    assert window.scene.node_items["fakesampler"].state == ""


def test_queue_runs_jobs_in_the_order_the_user_sets(window, qtbot):
    ids = small_graph(window, sampler=True, hold=True, steps=1)
    runs = window.runs
    with qtbot.waitSignal(runs.node_started, timeout=20_000, check_params_cb=lambda j, n: n == ids["sampler"]):
        first = window.run()  # holds the worker on the gate
    from studio.ui.commands import SetParamCommand

    window.scene.push(SetParamCommand(window.scene.graph, ids["sampler"], "hold", False))
    second = window.run()
    third = window.run()
    window.queue_panel.refresh()
    assert [j.status for j in runs.jobs()] == ["running", "queued", "queued"]
    runs.move(third.id, 0)
    order = []
    runs.run_finished.connect(lambda job: order.append(job.id))
    GATE.set()
    qtbot.waitUntil(lambda: len(order) == 3, timeout=20_000)
    assert order == [first.id, third.id, second.id]


def test_pause_holds_the_queue_and_remove_drops_a_job(window, qtbot):
    small_graph(window)
    runs = window.runs
    runs.pause()
    first = window.run()
    second = window.run()
    runs.remove(second.id)
    assert [j.id for j in runs.jobs()] == [first.id] and first.status == "queued"
    with qtbot.waitSignal(runs.run_finished, timeout=20_000):
        window.queue_panel.pause.setChecked(False)  # resume from the panel
    assert first.status == "done"


def test_a_failing_node_is_marked_and_listed(window, qtbot):
    ids = small_graph(window, sampler=True, fail=True)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    assert finished.args[0].status == "failed"
    item = window.scene.node_items[ids["sampler"]]
    assert item.state == "failed" and "steps must be between 1 and 200" in item.message
    assert window.scene.node_items[ids["save"]].state == "skipped"
    assert any("run failed" in window.problems.list.item(i).text() for i in range(window.problems.list.count()))


def test_ctrl_enter_runs_and_escape_cancels(window, qtbot):
    from PySide6.QtCore import Qt

    small_graph(window, sampler=True, hold=True, steps=5)
    window.show()
    with qtbot.waitActive(window):  # window shortcuts fire only in the active window
        window.activateWindow()
    window.view.setFocus()
    with qtbot.waitSignal(window.runs.node_started, timeout=20_000, check_params_cb=lambda j, n: n == "fakesampler"):
        qtbot.keyClick(window.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert finished.args[0].status == "cancelled"


def test_a_settings_change_during_a_run_applies_when_the_run_ends(window, qtbot):
    from dataclasses import replace

    made = []
    make = window.runs._make_engine
    window.runs._make_engine = lambda: made.append(make()) or made[-1]
    small_graph(window, sampler=True, hold=True, steps=3)
    with qtbot.waitSignal(window.runs.node_started, timeout=20_000, check_params_cb=lambda j, n: n == "fakesampler"):
        window.run()
    window.apply_settings(replace(window.settings, allow_pickle=True))
    assert window.runs.queue.engine is made[0]  # the running job keeps its engine
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        GATE.set()
    assert finished.args[0].status == "done"
    assert len(made) == 2 and window.runs.queue.engine is made[1]  # the next run gets the new settings


def test_the_status_bar_shows_the_cache_and_the_run_menu_frees_it(window, qtbot):
    small_graph(window, sampler=True, steps=2)
    assert window.cache_status.text().startswith("Cache: 0 B outputs")
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert window.cache_status.sizes["outputs"] > 0
    window.clear_cache_action.trigger()
    assert window.cache_status.sizes["outputs"] == 0 and "0 B outputs" in window.cache_status.text()
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()  # nothing cached any more: every node runs again
    assert {item.state for item in window.scene.node_items.values()} == {"done"}
    window.unload_action.trigger()
    assert window.cache_status.sizes["models"] == 0


def test_the_empty_queue_says_what_appears_there_until_a_job_is_queued(window, qtbot):
    panel = window.queue_panel
    assert panel.empty.isVisibleTo(panel) and not panel.list.isVisibleTo(panel)
    assert "Queued renders appear here" in panel.empty.text() and "Queue N" in panel.empty.text()
    small_graph(window)
    window.runs.pause()
    job = window.run()
    qtbot.waitUntil(lambda: panel.list.isVisibleTo(panel), timeout=10_000)  # the queue tells the panel
    assert not panel.empty.isVisibleTo(panel) and panel.list.count() == 1
    window.runs.remove(job.id)
    assert panel.empty.isVisibleTo(panel) and not panel.list.isVisibleTo(panel)


def test_with_jobs_running_at_once_the_canvas_follows_the_one_started_last(window):
    """A render farm runs several jobs at once: the canvas and the live preview show one of them,
    not both jobs' node states overwriting each other."""
    from types import SimpleNamespace

    node = small_graph(window, sampler=True)["sampler"]
    runs = window.runs
    first = SimpleNamespace(id=1, graph=window.scene.graph.copy(), title="a")
    second = SimpleNamespace(id=2, graph=window.scene.graph.copy(), title="b")
    runs.job_changed.emit(first, "running")
    runs.job_changed.emit(second, "running")
    item = window.scene.node_items[node]
    assert item.state == "queued"
    runs.node_started.emit(1, node)
    runs.progress_changed.emit(1, node, 2, 3)
    assert item.state == "queued"  # the first job's progress does not land on the canvas
    runs.node_started.emit(2, node)
    runs.progress_changed.emit(2, node, 1, 3)
    assert item.state == "running" and item.progress == pytest.approx(1 / 3)
    runs.node_failed.emit(1, node, "FakeSampler: it broke", ())
    assert item.state == "running"  # listed under Problems, not drawn over the shown job
    listed = [window.problems.list.item(row).text() for row in range(window.problems.list.count())]
    assert any("it broke" in text for text in listed)


def test_restart_render_process_gives_the_next_run_a_fresh_engine(window, qtbot):
    small_graph(window, sampler=True, steps=1)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    before = window.runs.engine
    window.restart_action.trigger()
    assert window.runs.engine is not before  # models and GPU memory go with the old one
    told = window.statusBar().currentMessage()
    assert told == "The render process restarts for the next run; models load again when needed"
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    assert finished.args[0].status == "done"
