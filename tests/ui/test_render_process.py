"""The window renders in a process of its own: the starter graph renders there and its video
reaches the window; a crash there fails the job with the reason, and the window, its graph and
its history go on."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from studio.engine.process import ProcessEngine
from tests.process_nodes import nodes_engine, nodes_registry
from tests.recording_nodes import chain

pytestmark = pytest.mark.qt
ROOT = Path(__file__).resolve().parents[2]


def test_the_window_renders_the_starter_graph_in_its_render_process(qtbot, tmp_path, studio_home, monkeypatch):
    from studio.settings import Settings
    from studio.ui.engine_setup import IN_PROCESS_ENV
    from studio.ui.main_window import MainWindow

    monkeypatch.delenv(IN_PROCESS_ENV, raising=False)
    window = MainWindow(Settings(output_dir=str(tmp_path / "out"), device="cpu"))
    qtbot.addWidget(window)
    try:
        assert window.open_graph(str(ROOT / "resources/graphs/starter.graph.json"))
        window.scene.graph.set_param("sampler", "steps", 2)
        with qtbot.waitSignal(window.runs.run_finished, timeout=180_000) as finished:
            window.run()
        job = finished.args[0]
        assert job.status == "done", job.error
        assert isinstance(window.runs.engine, ProcessEngine) and window.runs.engine.running
        video = job.report.files()[0]
        assert video.is_file() and video.parent == tmp_path / "out"
        assert window.history.entries and window.history.entries[0].path == video
        assert "Memory (cpu)" in window.runs.estimate(window.scene.graph).summary()  # estimated there too
    finally:
        window.undo_stack.setClean()
        window.shutdown()


def test_a_crash_in_the_render_process_fails_the_job_and_the_window_goes_on(qtbot, tmp_path, studio_home):
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow

    make = functools.partial(ProcessEngine, functools.partial(nodes_engine, str(tmp_path / "out")))
    window = MainWindow(Settings(output_dir=str(tmp_path / "out"), device="cpu"), nodes_registry(), make_engine=make)
    qtbot.addWidget(window)
    try:
        window.scene.set_graph(chain(("Crash", "crash"), ("Sink", "sink")))
        with qtbot.waitSignal(window.runs.run_finished, timeout=60_000) as finished:
            window.run()
        failed = finished.args[0]
        assert failed.status == "failed" and "was killed" in failed.error
        assert "Run starts a new one" in failed.error
        assert [n.id for n in window.scene.graph.nodes] == ["crash", "sink"]  # the graph is kept
        # One calm notice with the reason; the node it stopped in says so, nothing is left running.
        reason = failed.error.removeprefix("RenderProcessError: ")
        assert not window.banner.isHidden() and window.banner.text() == f"Run #{failed.id} failed: {reason}"
        assert reason.startswith("The render process was killed")
        states = {node_id: item.state for node_id, item in window.scene.node_items.items()}
        assert states == {"crash": "failed", "sink": ""}
        assert "render process" in window.scene.node_items["crash"].message
        assert window.preview.caption.text().startswith("Failed after")
        assert window.queue_panel.list.item(0).text().split("\n")[1].strip().startswith("The render process was killed")

        window.scene.set_graph(chain(("Pid", "pid"), ("Sink", "sink")))
        with qtbot.waitSignal(window.runs.run_finished, timeout=60_000) as finished:
            window.run()
        job = finished.args[0]
        assert job.status == "done" and job.report.outputs["sink"]["result"] != os.getpid()
    finally:
        window.undo_stack.setClean()
        window.shutdown()
