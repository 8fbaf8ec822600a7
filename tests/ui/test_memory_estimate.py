"""The memory estimate in the window: the label beside Run, and a run's warning that it will not fit."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.qt


def test_the_estimate_sits_beside_the_run_button(window):
    from PySide6.QtWidgets import QToolBar

    bar = window.findChild(QToolBar, "main-toolbar")
    names = [w.objectName() for w in (bar.widgetForAction(a) for a in bar.actions()) if w is not None]
    assert names.index("run-button") < names.index("memory-estimate") <= names.index("run-button") + 3


def test_a_run_that_will_not_fit_is_told_in_the_window(window):
    job = SimpleNamespace(id=7)
    event = SimpleNamespace(
        kind="memory_warning",
        message="Memory (cpu): 9.0 GB RAM of 4.0 GB · will not fit; try decode: tiled decoding",
        advice=("decode: tiled decoding",),
    )
    window.runs._dispatch(job, event, None)
    level, text = window.last_notice
    assert level == "warning" and "will not fit" in text and "tiled decoding" in text and "#7" in text


def test_edits_refresh_the_estimate(window, qtbot):
    from studio.graph.model import Node

    label = window.memory_estimate
    label._timer.setInterval(10)
    with qtbot.waitSignal(label.estimated, timeout=10_000):
        window.scene.graph.add_node(Node("pattern", "TestPattern", {}))
    label.wait()


def test_estimates_come_from_the_engine_runs_use_and_a_settings_change_gives_a_new_one(qtbot):
    from studio.ui.run_controller import RunController

    settings = {"device": "cpu"}
    made: list[str] = []

    def make_engine():
        device = settings["device"]
        made.append(device)
        return SimpleNamespace(estimate=lambda graph: f"{graph} on {device}", run=None)

    runs = RunController(make_engine)
    try:
        assert runs.estimate("g") == "g on cpu" and runs.estimate("g") == "g on cpu"
        assert runs.engine is runs.queue.engine  # before the first run: the engine that will run it
        settings["device"] = "cuda"  # the settings dialog picked the GPU
        runs.reconfigure()
        assert runs.estimate("g") == "g on cuda"
        assert made == ["cpu", "cuda"]  # one engine per setting: never a second one for estimates
    finally:
        runs.shutdown()


def test_a_graph_whose_model_files_are_missing_says_so_instead_of_fitting(window, qtbot):
    """The Wan example on a machine without Wan: the label names the missing files, never "0 B … fits"."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    label = window.memory_estimate
    label._timer.setInterval(10)
    with qtbot.waitSignal(label.estimated, timeout=20_000):
        assert window.open_graph(str(root / "resources/graphs/wan-4step-lora.graph.json"))
    assert label.text() == "⚠ 2 model files missing" and "#ffb347" in label.styleSheet()
    tip = label.toolTip()
    assert "model (LoadModel): Wan2.1-T2V-14B-Diffusers" in tip
    assert "lora (LoadLoRA): Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank32.safetensors" in tip
    assert "Model folders" in tip

    # A file name from a stranger's graph is shown as text: no terminal escapes, no markup.
    with qtbot.waitSignal(label.estimated, timeout=20_000):
        window.scene.graph.set_param("lora", "path", "evil\x1b[2J<b>bold</b>.safetensors")
    tip = label.toolTip()
    assert "evil\\x1b[2J&lt;b&gt;bold&lt;/b&gt;.safetensors" in tip and "\x1b" not in tip and "<b>" not in tip

    # The model found (the bundled starter), the LoRA still missing: the count follows.
    with qtbot.waitSignal(label.estimated, timeout=20_000):
        window.scene.graph.set_param("model", "path", str(root / "resources/models/starter"))
    assert label.text() == "⚠ 1 model file missing" and "fits" not in label.text()
    label.wait()


def test_the_buttons_after_the_estimate_stay_put_as_its_text_changes(window, qtbot):
    from PySide6.QtWidgets import QToolBar

    bar = window.findChild(QToolBar, "main-toolbar")
    window.show()
    qtbot.waitExposed(window)
    label = window.memory_estimate
    undo = bar.widgetForAction(next(a for a in bar.actions() if a.text() == "Undo"))
    places = []
    for text in ("", "⚠ 2 model files missing", "Memory (cpu): 171.9 MB RAM of 22.5 GB · fits"):
        label.setText(text)
        qtbot.wait(1)  # the toolbar lays out again
        places.append(undo.x())
    assert len(set(places)) == 1, places
