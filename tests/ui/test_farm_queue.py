"""The render queue on a render farm: jobs spread over the workers, each row naming its worker and
progress, results in history and on the timeline, cancel, and an address nothing answers on.

A fake farm stands behind the runner's interface (``concurrent``, ``slots``, ``run``, ``close``):
two named workers, each an engine in this process, so the tests are fast and need no Ray. The
real runner on a real cluster is tested in tests/test_farm.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from ui_support import GATE, small_graph

pytestmark = pytest.mark.qt

NAMES = ("node-a/cpu#0", "node-b/cpu#1")


class FakeFarm:
    """Two workers that render with engines of their own, on the queue's job threads."""

    concurrent = True

    def __init__(self, registry, output_dir: Path) -> None:
        from studio.engine import Engine, RunSettings

        self.engines = [Engine("cpu", registry=registry, settings=RunSettings(output_dir=output_dir)) for _ in NAMES]
        self.connected = False
        self.closed = False
        self.free = list(range(len(NAMES)))
        self.lock = threading.Lock()
        self.threads: set[str] = set()
        self.most_at_once = 0
        self.unloaded = 0

    @property
    def slots(self) -> int:
        return len(NAMES) if self.connected else 1

    def run(self, graph, on_event=None, *, cancel=None, output_dir=None):
        from studio.engine.events import Notice, WorkerAssigned

        self.threads.add(threading.current_thread().name)
        if not self.connected:
            on_event(Notice("status", "Render farm fake: 2 workers"))
            self.connected = True
        with self.lock:
            worker = self.free.pop(0)
            self.most_at_once = max(self.most_at_once, len(NAMES) - len(self.free))
        try:
            on_event(WorkerAssigned(NAMES[worker]))
            return self.engines[worker].run(graph, on_event, cancel=cancel, output_dir=output_dir)
        finally:
            with self.lock:
                self.free.append(worker)

    def unload_models(self):
        self.unloaded += 1
        return [key for engine in self.engines for key in engine.unload_models()]

    def clear_outputs(self):
        for engine in self.engines:
            engine.clear_outputs()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def farm_window(qtbot, ui_registry, tmp_path, studio_home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from studio.settings import Settings
    from studio.ui.document import DocumentController
    from studio.ui.main_window import MainWindow

    monkeypatch.setattr(DocumentController, "ask_save", lambda self: QMessageBox.StandardButton.Discard)
    GATE.clear()
    out = tmp_path / "out"
    farm = FakeFarm(ui_registry, out)
    win = MainWindow(Settings(output_dir=str(out), device="cpu"), ui_registry, make_engine=lambda: farm)
    qtbot.addWidget(win)
    win.autosaver.timer.stop()
    win.farm = farm
    yield win
    GATE.set()
    win.shutdown()
    assert farm.closed
    assert not any(th.name.startswith("studio-") and th.is_alive() for th in threading.enumerate())


def _finish(window, qtbot, jobs) -> None:
    qtbot.waitUntil(lambda: all(j.status in ("done", "failed", "cancelled") for j in jobs), timeout=30_000)
    qtbot.wait(50)  # the last run_finished signals are delivered


def _row(window, job) -> str:
    panel = window.queue_panel
    rows = (panel.list.item(r).text() for r in range(panel.list.count()))
    return next((text for text in rows if job.title in text), "")  # "": the row is not listed yet


def test_queue_n_spreads_over_the_workers_and_each_row_names_its_worker_and_progress(farm_window, qtbot):
    window = farm_window
    ids = small_graph(window, sampler=True, steps=3, hold=True)
    rows_at_progress: list[str] = []
    window.runs.progress_changed.connect(
        lambda job_id, node, done, total: rows_at_progress.append(
            _row(window, next(j for j in window.runs.jobs() if j.id == job_id))
        )
    )
    jobs = window.queue_batch(3, "increment")
    qtbot.waitUntil(lambda: sum(j.status == "running" for j in jobs) == 2, timeout=10_000)
    running = [j for j in jobs if j.status == "running"]
    qtbot.waitUntil(lambda: all(j.worker for j in running))
    assert {j.worker for j in running} == set(NAMES)
    assert jobs[2].status == "queued"  # two workers: the third waits for one
    for job in running:
        qtbot.waitUntil(lambda job=job: f"running on {job.worker}" in _row(window, job))
    GATE.set()
    _finish(window, qtbot, jobs)
    assert [j.status for j in jobs] == ["done"] * 3, [j.error for j in jobs]
    assert window.farm.most_at_once == 2
    assert not any(name == "MainThread" for name in window.farm.threads)  # jobs ran off the window's thread
    assert any(f"{ids['sampler']} 1/3" in row for row in rows_at_progress)
    assert f"done on {jobs[0].worker}" in _row(window, jobs[0])
    assert window.history.list.count() == 3  # results land in history as local ones do
    assert len(list(Path(window.settings.output_path).iterdir())) == 3
    assert window.preview.frames  # the step previews reached the preview panel
    assert "Render farm fake" in window.statusBar().currentMessage() or window.runs.jobs()


def test_cancel_stops_the_running_cluster_jobs_and_leaves_no_file(farm_window, qtbot):
    window = farm_window
    small_graph(window, sampler=True, steps=3, hold=True)
    jobs = window.queue_batch(3, "increment")
    qtbot.waitUntil(lambda: sum(j.status == "running" for j in jobs) == 2, timeout=10_000)
    first_two = [j for j in jobs if j.status == "running"]
    qtbot.waitUntil(window.cancel_action.isEnabled)  # as a user sees it: enabled once the queue says so
    window.cancel_action.trigger()
    qtbot.waitUntil(lambda: all(j.status == "cancelled" for j in first_two), timeout=10_000)
    window.queue_panel.list.setCurrentRow(0)
    window.runs.cancel(jobs[2].id)  # the third, running or still queued
    _finish(window, qtbot, jobs)
    assert [j.status for j in jobs] == ["cancelled"] * 3
    assert not Path(window.settings.output_path).exists() or not list(Path(window.settings.output_path).iterdir())
    assert window.history.list.count() == 0


def test_render_all_shots_spreads_the_shots_and_replaces_each_in_place(farm_window, qtbot):
    window = farm_window
    ids = small_graph(window)
    firsts = []
    for seed in (1, 2):
        window.scene.graph.set_param(ids["pattern"], "seed", seed)
        with qtbot.waitSignal(window.runs.run_finished, timeout=30_000) as finished:
            window.run()
        (video,) = finished.args[0].report.files()
        assert window.timeline.add(video)
        firsts.append(video)
    panel = window.timeline.panel
    for engine in window.farm.engines:  # else the workers' caches answer with the same files
        engine.cache.drop("outputs")
    before = len(window.runs.jobs())
    timeline_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Timeline")
    next(a for a in timeline_menu.actions() if a.text() == "Render all shots").trigger()
    jobs = window.runs.jobs()[before:]
    assert [j.title for j in jobs] == [f"Shot {i}/2 {p.stem}" for i, p in enumerate(firsts, 1)]
    _finish(window, qtbot, jobs)
    qtbot.waitUntil(lambda: all(s.path not in firsts for s in panel.timeline.shots()), timeout=10_000)
    shots = panel.timeline.shots()
    assert [s.path for s in shots] == [j.report.files()[0] for j in jobs]  # in place, in order
    assert all(s.metadata["graph"]["format"] == "studio.graph" for s in shots)
    assert all(p.exists() for p in firsts)  # the old files stay
    assert {j.worker for j in jobs} == set(NAMES)
    panel.undo_stack.undo()  # each replacement is one undoable edit
    assert sum(s.path in firsts for s in panel.timeline.shots()) == 1


def test_an_unreachable_farm_fails_the_job_with_a_banner_and_nothing_hangs(
    qtbot, ui_registry, tmp_path, studio_home, monkeypatch
):
    pytest.importorskip("ray")
    from PySide6.QtWidgets import QMessageBox

    from studio.farm import driver
    from studio.settings import Settings
    from studio.ui.document import DocumentController
    from studio.ui.main_window import MainWindow

    monkeypatch.setattr(DocumentController, "ask_save", lambda self: QMessageBox.StandardButton.Discard)
    threads = []
    check = driver._check_reachable
    monkeypatch.setattr(
        driver, "_check_reachable", lambda address: (threads.append(threading.current_thread()), check(address))
    )
    settings = Settings(output_dir=str(tmp_path / "out"), device="cpu", cluster_address="127.0.0.1:1")
    window = MainWindow(settings, ui_registry)  # the window's own engine setup: the farm's runner
    qtbot.addWidget(window)
    window.autosaver.timer.stop()
    try:
        small_graph(window)
        job, behind = window.run(), window.run()
        qtbot.waitUntil(lambda: behind.status == "failed", timeout=60_000)
        assert "127.0.0.1:1: no Ray cluster answers there" in job.error and behind.error == job.error
        qtbot.waitUntil(lambda: not window.banner.isHidden(), timeout=5_000)
        assert "Render farm 127.0.0.1:1" in window.banner.text() and "Settings" in window.banner.text()
        assert "failed" in _row(window, job)
        assert len(threads) == 1 and threads[0] is not threading.main_thread()  # once, off the window's thread
        assert window.cache_status is not None and window.runs.cache_sizes()["models"] == 0
    finally:
        window.shutdown()


def test_the_farm_address_is_a_setting_and_picks_the_runner(ui_registry, studio_home, qtbot):
    from studio.farm import ClusterRunner
    from studio.settings import Settings
    from studio.ui.engine_setup import make_engine
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(cluster_address="gpu-head:6379"))
    qtbot.addWidget(dialog)
    assert dialog.cluster.text() == "gpu-head:6379"
    dialog.cluster.setText("  ")
    assert dialog.result_settings().cluster_address == ""
    Settings(cluster_address="gpu-head:6379").save()
    assert Settings.load().cluster_address == "gpu-head:6379"
    runner = make_engine(Settings.load(), ui_registry)
    assert isinstance(runner, ClusterRunner) and runner.address == "gpu-head:6379" and runner.slots == 1
    assert not isinstance(make_engine(Settings(), ui_registry), ClusterRunner)


def test_unload_and_clear_cache_reach_the_farms_workers_without_blocking_the_window(farm_window, qtbot):
    window = farm_window
    small_graph(window, sampler=True, steps=1)
    jobs = window.queue_batch(2, "increment")
    _finish(window, qtbot, jobs)
    assert any(engine.cache_sizes()["outputs"] for engine in window.farm.engines)
    with qtbot.waitSignal(window.runs.notice, timeout=10_000) as told:
        window.unload_action.trigger()
    assert told.args == ["status", "Unloaded 0 model(s) on the render farm's workers"]
    assert window.farm.unloaded == 1
    with qtbot.waitSignal(window.runs.notice, timeout=10_000) as told:
        window.clear_cache_action.trigger()
    assert told.args == ["status", "The render farm's workers cleared their caches"]
    assert all(engine.cache_sizes()["outputs"] == 0 for engine in window.farm.engines)
