"""History: items say what was rendered (prompt, seed, length, time), survive a restart by reading the
output folder's videos, show a video on click and restore its graph on double-click."""

from __future__ import annotations

import pytest
from ui_support import small_graph

from studio.graph.fileformat import graph_to_dict

pytestmark = pytest.mark.qt


def _click(qtbot, history, row, double=False):
    from PySide6.QtCore import Qt

    item = history.list.item(row)
    rect = history.list.visualItemRect(item)
    click = qtbot.mouseDClick if double else qtbot.mouseClick
    if double:
        qtbot.mouseClick(history.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    click(history.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_an_empty_history_says_what_will_appear_there(window):
    assert window.history.list.count() == 0
    assert window.history._stack.currentWidget() is window.history.empty
    assert "Finished renders appear here" in window.history.empty.text()


def test_a_finished_render_is_labelled_with_prompt_seed_length_and_time(window, qtbot):
    import time

    small_graph(window, sampler=True, steps=1)
    window.scene.graph.set_param("fakesampler", "prompt", "a red fox in the snow")
    window.scene.graph.set_param("fakesampler", "seed", 1234)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000):
        window.run()
    text = window.history.list.item(0).text()
    assert text.splitlines()[0] == "a red fox in the snow"
    assert "seed 1234" in text and " s" in text and time.strftime("%H:") in text
    assert "#1" not in text
    assert "rendered in" in window.history.list.item(0).toolTip()
    assert window.history._stack.currentWidget() is window.history.list


def test_history_is_rebuilt_from_the_output_folder_in_a_new_session(window, qtbot, tmp_path):
    from studio.ui.history_strip import HistoryStrip

    small_graph(window, sampler=True, steps=1)
    window.scene.graph.set_param("fakesampler", "prompt", "waves at dusk")
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    video = finished.args[0].report.files()[0]
    expected = graph_to_dict(finished.args[0].graph)["nodes"]
    (window.settings.output_path / "broken.mp4").write_bytes(b"not a video at all")

    window.history.shutdown()
    fresh = HistoryStrip()
    qtbot.addWidget(fresh)
    window.history = fresh  # as a restarted window would have it
    fresh.output_chosen.connect(window.presenter.show_output)
    fresh.graph_requested.connect(window._restore_output_graph)
    try:
        with qtbot.waitSignals([fresh.entry_read, fresh.entry_read], timeout=20_000):
            assert fresh.load_folder(window.settings.output_path) == 2
        entry = next(e for e in fresh.entries if e.path == video)
        row = fresh.entries.index(entry)
        assert fresh.list.item(row).text().startswith("waves at dusk")
        assert entry.thumbnail is not None and entry.graph is not None

        window.viewer.stop()
        window.document.new()
        fresh.list.show()
        _click(qtbot, fresh, row)
        assert window.viewer.source == video
        _click(qtbot, fresh, row, double=True)
        assert graph_to_dict(window.scene.graph)["nodes"] == expected

        broken = next(e for e in fresh.entries if e.path.name == "broken.mp4")
        assert broken.graph is None and broken.thumbnail is None  # listed, not crashed
        window._restore_output_graph(broken)
        assert "Cannot open broken.mp4" in window.last_notice[1]
    finally:
        fresh.shutdown()


def test_the_open_dialog_offers_renders_and_opening_one_shows_it(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    small_graph(window)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    video = finished.args[0].report.files()[0]
    expected = graph_to_dict(finished.args[0].graph)["nodes"]
    window.document.new()
    window.viewer.stop()
    window.viewer.source = None
    offered = []

    def choose(parent, caption, start, filters):
        offered.append(filters)
        return str(video), filters.split(";;")[0]

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose)
    assert window.document.open_dialog()
    first = offered[0].split(";;")[0]
    assert "*.graph.json" in first and "*.mp4" in first and "*.webm" in first
    assert graph_to_dict(window.scene.graph)["nodes"] == expected
    assert window.viewer.source == video
