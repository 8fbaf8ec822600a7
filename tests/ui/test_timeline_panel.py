"""The timeline dock: adding shots, reorder and trim by dragging in the view, undo, export."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from studio.media.types import Frames
from studio.media.video_io import write_video

pytestmark = pytest.mark.qt


def clip(path, colour, frames=24):
    array = np.empty((frames, 32, 48, 3), np.uint8)
    array[:] = colour
    write_video(path, Frames(array, 24.0), crf=20)
    return path


@pytest.fixture
def panel(qtbot, tmp_path):
    from studio.ui.timeline_panel import TimelinePanel

    widget = TimelinePanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 260)
    widget.show()
    for name, colour in (("red", (200, 0, 0)), ("green", (0, 200, 0)), ("blue", (0, 0, 200))):
        assert widget.add_video(clip(tmp_path / f"{name}.mp4", colour))
    yield widget
    widget.shutdown()


def drag(view, start: QPointF, end: QPointF) -> None:
    viewport = view.viewport()
    a, b = view.mapFromScene(start), view.mapFromScene(end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for step in range(1, 6):
        QTest.mouseMove(viewport, a + (b - a) * step / 5)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def names(panel):
    return [s.name for s in panel.timeline.shots()]


def test_shots_are_added_in_order_with_their_length(panel):
    assert names(panel) == ["red", "green", "blue"]
    assert panel.timeline.duration() == 72
    assert len(panel.view.clips) == 3


def test_dragging_a_clip_reorders_and_undo_restores(panel, qtbot):
    view = panel.view
    first = view.clips[0]
    middle = QPointF(first.pos().x() + first.width / 2, first.pos().y() + 20)
    drag(view, middle, middle + QPointF(view.clips[2].pos().x() + 10 - first.pos().x(), 0))
    qtbot.waitUntil(lambda: names(panel) == ["green", "blue", "red"])
    panel.undo_stack.undo()
    assert names(panel) == ["red", "green", "blue"]
    panel.undo_stack.redo()
    assert names(panel) == ["green", "blue", "red"]


def test_dragging_a_right_edge_trims_the_shot(panel, qtbot):
    view = panel.view
    ppf = view.px_per_frame
    first = view.clips[0]
    edge = QPointF(first.pos().x() + first.width - 2, first.pos().y() + 20)
    drag(view, edge, edge - QPointF(10 * ppf, 0))
    qtbot.waitUntil(lambda: panel.timeline.shots()[0].duration != 24)
    shot = panel.timeline.shots()[0]
    assert shot.duration == 14 and shot.source_in == 0
    assert panel.timeline.duration() == 62
    panel.undo_stack.undo()
    assert panel.timeline.shots()[0].duration == 24


def test_dragging_a_left_edge_trims_the_start(panel, qtbot):
    view = panel.view
    ppf = view.px_per_frame
    second = view.clips[1]
    edge = QPointF(second.pos().x() + 2, second.pos().y() + 20)
    drag(view, edge, edge + QPointF(6 * ppf, 0))
    qtbot.waitUntil(lambda: panel.timeline.shots()[1].source_in != 0)
    shot = panel.timeline.shots()[1]
    assert (shot.source_in, shot.duration) == (6, 18)


def test_refused_edit_changes_nothing_and_says_why(panel):
    panel.selected = 2
    panel.dissolve_selected()  # no shot after the last one
    assert "no shot after 2" in panel.status.text()
    assert panel.undo_stack.count() == 3  # only the three additions


def test_dissolve_split_and_delete_are_undoable(panel):
    panel.selected = 0
    panel.dissolve_frames.setValue(8)
    panel.dissolve_selected()
    assert panel.timeline.duration() == 64
    panel.view.set_playhead(30)
    panel.selected = 1
    panel.split_at_playhead()
    assert len(panel.timeline) == 4
    panel.selected = 0
    panel.delete_selected(ripple=True)
    assert names(panel)[0] == "green"
    for _ in range(3):
        panel.undo_stack.undo()
    assert names(panel) == ["red", "green", "blue"] and panel.timeline.duration() == 72


def test_export_runs_in_the_background_and_reports_the_film(panel, qtbot, tmp_path):
    with qtbot.waitSignal(panel.film_exported, timeout=60_000) as blocker:
        panel.export_film(tmp_path / "film.mp4", width=48, height=32)
    assert blocker.args[0].frame_count == 72
    assert (tmp_path / "film.mp4").is_file()


def test_timeline_round_trips_through_the_project_document(panel, tmp_path):
    from studio.ui.timeline_panel import TimelinePanel

    document = panel.to_document()
    other = TimelinePanel()
    other.load_document(document)
    assert [s.name for s in other.timeline.shots()] == ["red", "green", "blue"]
    (tmp_path / "green.mp4").unlink()
    other.load_document(document)
    assert "1 offline" in other.status.text() and len(other.timeline) == 3


def test_play_cut_renders_a_preview_of_the_whole_cut(panel, qtbot, studio_home):
    with qtbot.waitSignal(panel.film_exported, timeout=60_000) as blocker:
        panel.play_cut()
    video = blocker.args[0]
    assert video.frame_count == 72 and (video.width, video.height) == (48, 32)
    assert str(studio_home) in str(video.path)


def test_a_hostile_project_timeline_is_reported_and_edits_never_store_nan(panel):
    document = panel.to_document()
    document["tracks"]["children"][0]["children"][0]["source_range"]["duration"]["value"] = 1e15
    panel.load_document(document)
    assert "the project's timeline could not be read" in panel.status.text()
    assert "1e+15 frames" in panel.status.text()
    assert names(panel) == ["red", "green", "blue"]  # the shown timeline is kept
    assert not panel.edit("Trim shot", lambda tl: tl.trim(0, float("nan"), 5))
    assert "whole number" in panel.status.text()
    assert panel.undo_stack.count() == 3


def test_undo_and_redo_after_the_first_redo_read_the_snapshots_back(panel):
    panel.selected = 0
    panel.delete_selected(ripple=True)
    assert names(panel) == ["green", "blue"]
    panel.undo_stack.undo()
    panel.undo_stack.redo()
    assert names(panel) == ["green", "blue"]
    panel.undo_stack.undo()
    assert names(panel) == ["red", "green", "blue"]


def test_an_edit_that_would_save_too_big_to_open_again_is_refused(panel, monkeypatch, tmp_path):
    import studio.timeline.limits as limits

    monkeypatch.setattr(limits, "MAX_OTIO_BYTES", len(panel.timeline.to_json()) + 100)
    assert not panel.edit("Add", lambda tl: tl.add_shot(tmp_path / "red.mp4", 5, graph={"prompt": "x" * 500}))
    assert "a timeline file may be at most" in panel.status.text()
    assert len(panel.timeline) == 3 and panel.undo_stack.count() == 3
