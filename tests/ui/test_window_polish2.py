"""What the window shows, polished from real use: missing model files marked on their nodes, Cancel
enabled only while something runs, a run that only reused the cache saying so, and nodes that read
well at the zoom that fits the whole graph."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import small_graph

from studio.ui.node_overview import WARNING, overview_lines

pytestmark = pytest.mark.qt
ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_model_file_is_marked_on_its_node_until_it_is_found(window, qtbot, tmp_path):
    label = window.memory_estimate
    label._timer.setInterval(10)
    with qtbot.waitSignal(label.estimated, timeout=20_000):
        assert window.open_graph(str(ROOT / "resources/graphs/wan-4step-lora.graph.json"))
    items = window.scene.node_items
    assert items["model"].missing == ["Wan2.1-T2V-14B-Diffusers"]
    lora = items["lora"]
    assert lora.missing == [window.scene.graph.node("lora").params["path"]]
    footer = lora._footer_text()
    assert footer.startswith("Model file not found: Wan21_T2V_14B_li…rank32.safetensors (add its folder")
    assert overview_lines(lora) == ("lora", "model file missing", WARNING)  # zoomed out too
    assert not lora.problems and not items["sampler"].missing  # a warning on the node, not a problem
    assert window._ready_to_run() and lora.missing  # Run is not stopped by it; validating keeps the mark

    # A stranger's file name is shown escaped; another path drops the mark at once, before an estimate.
    with qtbot.waitSignal(label.estimated, timeout=20_000):
        window.scene.graph.set_param("lora", "path", "evil\x1b[2J\u202e.safetensors")
    assert "evil\\x1b[2J\\u202e.safetensors" in lora._footer_text() and "\x1b" not in lora._footer_text()
    found = tmp_path / "style.safetensors"
    found.write_bytes(b"\0" * 64)
    window.scene.graph.set_param("lora", "path", str(found))
    assert lora.missing == [] and lora._footer_text() == ""
    with qtbot.waitSignal(label.estimated, timeout=20_000):
        window.scene.graph.set_param("model", "path", str(ROOT / "resources/models/starter"))
    assert items["model"].missing == [] and lora.missing == []
    label.wait()


def test_cancel_is_enabled_only_while_a_job_runs_or_waits(window, qtbot):
    from ui_support import GATE

    cancel = window.cancel_action
    assert not cancel.isEnabled()
    small_graph(window, sampler=True, hold=True)
    window.run()
    qtbot.waitUntil(cancel.isEnabled, timeout=10_000)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        cancel.trigger()
    assert finished.args[0].status == "cancelled"
    qtbot.waitUntil(lambda: not cancel.isEnabled(), timeout=5_000)

    GATE.set()
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert not cancel.isEnabled()


def test_a_run_that_only_reused_the_cache_says_so_in_the_live_preview(window, qtbot):
    ids = small_graph(window, sampler=True, steps=1)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert window.preview.caption.text().startswith("Done after ")
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    assert {r.status for r in finished.args[0].report.nodes.values()} == {"cached"}
    assert window.preview.caption.text() == "Done: all cached, nothing re-ran"
    assert "all cached" in window.statusBar().currentMessage()
    window.scene.graph.set_param(ids["sampler"], "seed", 3)  # something changed: it runs, and says how long
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    assert window.preview.caption.text().startswith("Done after ")


def test_at_the_fitted_zoom_nodes_show_a_large_title_and_their_state(window, qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor

    from studio.graph.fileformat import load_graph
    from studio.ui import theme
    from studio.ui.node_item import DETAIL_ZOOM

    window.resize(1400, 900)
    window.show()
    window.scene.set_graph(load_graph(ROOT / "resources/graphs/starter.graph.json"))
    window.view.fit_all()
    zoom = window.view.zoom()
    assert zoom < DETAIL_ZOOM
    sampler = window.scene.node_items["sampler"]
    sampler.set_state("running", 0.5)
    image = window.view.viewport().grab().toImage()
    assert not sampler.detailed
    assert overview_lines(sampler) == ("sampler", "running 50%", theme.STATE_COLORS["running"])
    assert overview_lines(window.scene.node_items["model"])[1] == "LoadModel"  # its type, when idle
    title_font = sampler.overview[5][0]
    assert title_font.pixelSize() * zoom >= 14  # readable: the old title-only drawing was ~7 px

    # The state's colour along the bottom, filled as far as the progress.
    height = sampler.body_height

    def pixel(x_fraction):
        point = window.view.mapFromScene(sampler.mapToScene(QPointF(210 * x_fraction, height - 5.5 / zoom)))
        return QColor(image.pixel(point * image.devicePixelRatio()))

    running = QColor(theme.STATE_COLORS["running"])
    assert _near(pixel(0.25), running) and not _near(pixel(0.75), running)


def _near(a, b, tolerance=40):
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) <= tolerance
