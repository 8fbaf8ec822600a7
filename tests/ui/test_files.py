"""Files: save/load round trip, unsaved state, closing, autosave recovery, drops, partial opens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox
from ui_support import small_graph

from studio.graph.fileformat import graph_to_dict, load_graph
from studio.ui.autosave import find_recoveries
from studio.ui.commands import SetParamCommand
from studio.ui.document import DocumentController

pytestmark = pytest.mark.qt

ROOT = Path(__file__).resolve().parents[2]


def drop(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)


def test_save_and_open_round_trip_and_title_shows_unsaved_state(window, tmp_path):
    ids = small_graph(window, sampler=True)
    assert window.isWindowModified()
    path = tmp_path / "mine.graph.json"
    assert window.document.save_as(path)
    assert not window.isWindowModified() and window.windowTitle().startswith("mine")
    saved = graph_to_dict(window.scene.graph)
    assert graph_to_dict(load_graph(path)) == saved
    assert window.document.new()
    assert len(window.scene.graph) == 0
    assert window.document.open_path(path)
    assert graph_to_dict(window.scene.graph) == saved
    assert set(window.scene.node_items) == set(ids.values())
    assert window.document.recent[0] == str(path.resolve())


def test_closing_with_unsaved_work_asks_and_cancel_keeps_the_window(window, monkeypatch):
    small_graph(window)
    asked = []

    def cancel(self):
        asked.append(self.name)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(DocumentController, "ask_save", cancel)
    window.show()
    assert not window.close()
    assert asked and window.isVisible()
    monkeypatch.setattr(DocumentController, "ask_save", lambda self: QMessageBox.StandardButton.Discard)


def test_autosave_writes_a_recovery_file_that_a_new_window_restores(window, qtbot, monkeypatch):
    small_graph(window)
    recovery_path = window.autosaver.save_now()
    assert recovery_path is not None and recovery_path.exists()
    expected = graph_to_dict(window.scene.graph)
    # Pretend the recovery file was left by another (crashed) process.
    crashed = recovery_path.with_name("recovery-1-1.graph.json")
    recovery_path.rename(crashed)
    recovery_path.with_name(recovery_path.name.replace(".graph.json", ".info.json")).rename(
        crashed.with_name("recovery-1-1.info.json")
    )
    (found,) = find_recoveries()
    found.release()  # listing takes each file's lock; the restore below takes it again
    window.undo_stack.setClean()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    restored = window.offer_recovery()
    assert restored is not None
    assert graph_to_dict(window.scene.graph) == expected
    assert window.document.dirty and "recovered" in window.windowTitle()
    assert find_recoveries() == []  # kept on disk until saved or autosaved, but held by this window
    assert crashed.exists()


@pytest.mark.parametrize("value", ["take\udcff", float("nan")])
def test_a_save_that_cannot_serialise_shows_why_and_keeps_the_old_file(window, tmp_path, value):
    ids = small_graph(window)
    path = tmp_path / "mine.graph.json"
    assert window.document.save_as(path)
    before = path.read_bytes()
    window.scene.push(SetParamCommand(window.scene.graph, ids["save"], "filename_prefix", value))
    assert not window.document.save()  # no exception escapes to the event loop
    level, text = window.last_notice
    assert level == "error" and f"Cannot save {path}" in text and ids["save"] in text
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert window.document.dirty


def test_a_save_the_disk_refuses_shows_why(window, tmp_path, monkeypatch):
    from studio.graph import fileformat

    small_graph(window)

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileformat, "atomic_write_bytes", full_disk)
    assert not window.document.save_as(tmp_path / "mine.graph.json")
    assert window.last_notice == ("error", f"Cannot save {tmp_path / 'mine.graph.json'}: No space left on device")


def test_a_clean_close_leaves_no_recovery_file(window):
    small_graph(window)
    path = window.autosaver.save_now()
    window.undo_stack.setClean()
    window.shutdown()
    assert not path.exists()


def test_dropping_a_rendered_video_restores_its_graph(window, qtbot):
    ids = small_graph(window)
    with qtbot.waitSignal(window.runs.run_finished, timeout=20_000) as finished:
        window.run()
    video = finished.args[0].report.files()[0]
    expected = graph_to_dict(finished.args[0].graph)
    window.document.new()
    assert len(window.scene.graph) == 0
    drop(window, video)
    assert graph_to_dict(window.scene.graph)["nodes"] == expected["nodes"]
    assert set(window.scene.node_items) == set(ids.values())
    assert window.document.path is None  # saving asks where: the video is not a graph file


def test_dropping_a_graph_file_opens_it(window, tmp_path):
    drop(window, ROOT / "resources/graphs/test-pattern.graph.json")
    assert {n.type for n in window.scene.graph.nodes} == {"TestPattern", "SaveVideo"}


def test_a_broken_file_is_reported_without_a_dialog(window, tmp_path):
    bad = tmp_path / "bad.graph.json"
    bad.write_text("{not json")
    assert not window.document.open_path(bad)
    assert window.last_notice[0] == "error" and "not valid JSON" in window.last_notice[1]


def test_unknown_node_types_open_partially_as_placeholders(window, tmp_path):
    data = json.loads((ROOT / "resources/graphs/test-pattern.graph.json").read_text())
    data["nodes"].append({"id": "magic", "type": "MagicUpscaler", "params": {"scale": 4}, "position": [300, 300]})
    data["links"].append({"from": ["pattern", "frames"], "to": ["magic", "frames"]})
    path = tmp_path / "partial.graph.json"
    path.write_text(json.dumps(data))
    assert window.document.open_path(path)
    item = window.scene.node_items["magic"]
    assert item.spec is None and "frames" in item.inputs  # its wire is kept and drawn
    assert "Opened partially" in window.last_notice[1] and "magic (MagicUpscaler)" in window.last_notice[1]
    assert window.document.save()
    assert json.loads(path.read_text())["nodes"][-1]["params"] == {"scale": 4}  # nothing dropped


def test_examples_menu_lists_the_bundled_graphs(window):
    titles = [a.text() for a in window.examples_menu.actions()]
    assert {"Starter", "Test-pattern"} <= set(titles)
    window.examples_menu.actions()[titles.index("Test-pattern")].trigger()
    assert len(window.scene.graph) == 2 and window.document.path is None


def test_settings_apply_theme_and_persist(window, qtbot):
    from studio.settings import Settings
    from studio.ui import theme
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    assert not dialog.allow_pickle.isChecked()  # off by default
    dialog.theme.setCurrentText("light")
    dialog.device.setCurrentText("cpu")
    window.apply_settings(dialog.result_settings())
    assert theme.current().name == "light"
    assert Settings.load().theme == "light" and Settings.load().device == "cpu"
    window.apply_settings(Settings(output_dir=window.settings.output_dir, device="cpu", theme="dark"))
    assert theme.current().name == "dark"


def test_the_output_cache_share_is_a_setting_the_next_engine_uses(window, qtbot):
    from dataclasses import replace

    from studio.engine.cache import physical_memory
    from studio.ui.engine_setup import make_engine
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.cache_percent.setValue(5)
    settings = dialog.result_settings()
    assert settings.cache_percent == 5
    engine = make_engine(settings, window.registry)
    assert engine.cache.byte_budget == physical_memory() * 5 // 100
    assert make_engine(replace(settings, cache_percent=0), window.registry).cache.byte_budget == int(
        physical_memory() * 0.10
    )
