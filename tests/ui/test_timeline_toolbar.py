"""The timeline dock's buttons fit its width (what does not fit is in a More menu; Play and Export
always show), and the film export dialog says what it will write."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QToolButton

pytestmark = pytest.mark.qt

SHOT_ACTIONS = ["Add shot…", "Extend", "Bridge", "Open graph", "Split", "Delete", "Lift", "Dissolve", "Soundtrack…"]


@pytest.fixture
def panel(qtbot, qapp, tmp_path):
    from studio.ui.theme import apply_theme
    from studio.ui.timeline_panel import TimelinePanel

    apply_theme(qapp, "dark")  # the app's own buttons, padding and font: what the window shows

    widget = TimelinePanel()
    qtbot.addWidget(widget)
    widget.show()
    for name, frames in (("a", 48), ("b", 24)):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(b"present")
        widget.edit("add", lambda tl, p=path, f=frames: tl.add_shot(p, f, settings={"width": 640, "height": 360}))
    yield widget
    widget.shutdown()


def shown_buttons(panel) -> dict[str, QToolButton]:
    bar = panel.toolbar
    return {b.text(): b for b in bar.findChildren(QToolButton) if b.isVisible() and b.geometry().right() < bar.width()}


def reachable(panel) -> set[str]:
    """Left-hand actions on a shown button or in the More menu."""
    on_buttons = {b.defaultAction().text() for b in shown_buttons(panel).values() if b.defaultAction()}
    in_menu = {a.text() for a in panel.toolbar.more_menu.actions()} if panel.toolbar.more.isVisible() else set()
    return on_buttons | in_menu


@pytest.mark.parametrize("width", [280, 450, 620, 1400])
def test_every_action_is_reachable_and_play_and_export_always_show(panel, qtbot, width):
    panel.resize(width, 240)
    qtbot.waitUntil(lambda: panel.toolbar.width() <= width)
    buttons = shown_buttons(panel)

    assert "▶ Play" in buttons and "Export ▾" in buttons
    assert set(SHOT_ACTIONS) <= reachable(panel)
    right_edges = [b.mapTo(panel.toolbar, b.rect().bottomRight()).x() for b in buttons.values()]
    assert max(right_edges) <= panel.toolbar.width()  # nothing is cut off
    overflowed = [a.text() for a in panel.toolbar.overflowed()]
    assert panel.toolbar.more.isVisible() == bool(overflowed)
    if width >= 1400:
        assert overflowed == []
    if width <= 620:  # what does not fit goes last-first
        assert overflowed and overflowed == SHOT_ACTIONS[len(SHOT_ACTIONS) - len(overflowed) :]
    if width >= 450:  # the dock's width beside the Output dock: Extend and Bridge stay on the row
        assert {"Extend", "Bridge"}.isdisjoint(overflowed)


def test_an_action_in_the_more_menu_still_works(panel, qtbot):
    panel.resize(300, 240)
    qtbot.waitUntil(lambda: panel.toolbar.more.isVisible())
    (lift,) = [a for a in panel.toolbar.more_menu.actions() if a.text() == "Lift"]
    panel.selected = 0

    lift.trigger()

    assert [s.name for s in panel.timeline.shots()] == ["b"] and panel.timeline.duration() == 72  # a gap is left


def test_export_menu_offers_film_and_cut(panel):
    export = shown_buttons(panel)["Export ▾"]
    assert [a.text() for a in export.menu().actions()] == ["Export film…", "Export cut…"]
    assert "Play cut" in shown_buttons(panel)["▶ Play"].toolTip()


def test_export_dialog_shows_size_duration_and_file_and_exports_there(panel, qtbot, tmp_path, monkeypatch):
    from studio.ui.film_export import ExportDialog

    dialog = ExportDialog(panel.timeline, tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.width_box.value() == 640 and dialog.height_box.value() == 360  # the first shot's size
    assert dialog.summary.text() == "640×360, 3.0 s (72 frames at 24 fps), h264 → film.mp4"
    assert dialog.path() == tmp_path / "film.mp4"

    dialog.width_box.setValue(320)
    dialog.codec.setCurrentText("vp9")
    assert dialog.path() == tmp_path / "film.webm" and dialog.file.text() == str(tmp_path / "film.webm")
    assert dialog.summary.text().startswith("320×360, 3.0 s") and dialog.summary.text().endswith("vp9 → film.webm")
    dialog.file.setText("")
    assert "(no file name)" in dialog.summary.text()
    assert not dialog.buttons.buttons()[0].isEnabled()

    asked = []
    monkeypatch.setattr(ExportDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(panel, "export_film", lambda path, **options: asked.append((path, options)))
    panel.export_folder = lambda: tmp_path / "out"
    panel.choose_export()
    assert asked == [
        (tmp_path / "out" / "film.mp4", {"width": 640, "height": 360, "fit": "letterbox", "codec": "h264"})
    ]


def test_the_window_gives_the_export_its_output_folder(window):
    assert Path(window.timeline.panel.export_folder()) == window.settings.output_path
