"""Queue N: one batch of runs whose seeds move as chosen; the preview panel forgets other graphs and
says what a node is doing before its first step."""

from __future__ import annotations

import pytest
from ui_support import small_graph

pytestmark = pytest.mark.qt


def _run_all(window, qtbot, jobs):
    finished = set()
    window.runs.run_finished.connect(lambda job: finished.add(job.id))
    qtbot.waitUntil(lambda: {job.id for job in jobs} <= finished, timeout=30_000)
    assert all(job.status == "done" for job in jobs), [job.error for job in jobs]


def test_queue_n_increments_the_seed_run_by_run_and_leaves_the_next(window, qtbot):
    ids = small_graph(window, sampler=True, steps=1)
    window.scene.graph.set_param(ids["sampler"], "seed", 7)
    jobs = window.queue_batch(3, "increment")
    assert [j.graph.node(ids["sampler"]).params["seed"] for j in jobs] == [7, 8, 9]
    assert [j.title.rsplit(" · ", 1)[1] for j in jobs] == ["1/3", "2/3", "3/3"]
    assert window.scene.graph.node(ids["sampler"]).params["seed"] == 10
    window.undo_stack.undo()  # one undo step for the whole batch
    assert window.scene.graph.node(ids["sampler"]).params["seed"] == 7
    _run_all(window, qtbot, jobs)
    assert window.history.list.count() == 3


def test_queue_n_randomize_and_fixed(window, qtbot):
    ids = small_graph(window, sampler=True, steps=1)
    random_jobs = window.queue_batch(3, "randomize")
    seeds = [j.graph.node(ids["sampler"]).params["seed"] for j in random_jobs]
    assert seeds[0] == 0 and len(set(seeds)) == 3
    fixed_jobs = window.queue_batch(2, "fixed")
    assert {j.graph.node(ids["sampler"]).params["seed"] for j in fixed_jobs} == {
        window.scene.graph.node(ids["sampler"]).params["seed"]
    }
    _run_all(window, qtbot, random_jobs + fixed_jobs)


def test_queue_n_as_set_follows_each_seeds_own_mode(window, qtbot):
    ids = small_graph(window, sampler=True, steps=1)
    window.scene.graph.set_meta("seed_modes", {f"{ids['sampler']}.seed": "increment"})
    window.scene.graph.set_param(ids["pattern"], "seed", 5)  # fixed: no mode set
    jobs = window.queue_batch(2, "as set")
    assert [j.graph.node(ids["sampler"]).params["seed"] for j in jobs] == [0, 1]
    assert [j.graph.node(ids["pattern"]).params["seed"] for j in jobs] == [5, 5]
    _run_all(window, qtbot, jobs)


def test_queue_n_asks_and_an_invalid_graph_queues_nothing(window, monkeypatch):
    from PySide6.QtCore import QPointF

    from studio.ui.batch import QueueBatchDialog

    window.scene.add_node("SaveVideo", QPointF(0, 0))
    assert window.queue_batch(3, "increment") == []
    assert window.runs.jobs() == []
    window.document.new()
    small_graph(window, sampler=True, steps=1)
    monkeypatch.setattr(QueueBatchDialog, "exec", lambda self: False)
    assert window.queue_batch() == []  # cancelled in the dialog


def test_the_preview_clears_on_new_and_when_another_graph_runs(window, qtbot):
    small_graph(window, sampler=True, steps=2)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert window.preview.frames
    window.document.new()
    assert window.preview.frames == [] and window.preview.caption.text() == "Idle"

    small_graph(window, sampler=True, steps=3)  # not the cached run: its sampler previews again
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert window.preview.frames
    window.preview.run_started(window.scene.graph)  # the same graph again: the last preview stays
    assert window.preview.frames
    from studio.graph.model import Graph

    window.preview.run_started(Graph())  # another graph: it goes
    assert window.preview.frames == []


def test_what_a_node_is_doing_shows_before_its_first_step(window, qtbot):
    from ui_support import GATE

    ids = small_graph(window, sampler=True, hold=True, steps=2)
    with qtbot.waitSignal(window.runs.status_changed, timeout=20_000) as said:
        window.run()
    assert said.args[1:] == [ids["sampler"], "Warming up the fake sampler…"]
    assert "Warming up the fake sampler…" in window.preview.caption.text()
    assert "Warming up the fake sampler…" in window.statusBar().currentMessage()
    assert window.scene.node_items[ids["sampler"]]._footer_text() == "Warming up the fake sampler…"
    with qtbot.waitSignal(window.runs.node_finished, timeout=20_000):
        GATE.set()
    assert "Warming up" not in window.statusBar().currentMessage()  # the node is done: its status goes
    qtbot.waitUntil(lambda: all(j.status not in ("queued", "running") for j in window.runs.jobs()), timeout=20_000)
