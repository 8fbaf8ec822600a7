"""Opening a file with the app, as the desktop entry's ``Exec=studio %f`` does: a graph file opens as
the document, and a video the studio rendered opens the graph embedded in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.composition import default_registry
from studio.engine import Engine, RunSettings
from studio.graph import load_graph
from studio.graph.fileformat import graph_to_dict
from studio.ui.app import run_app
from studio.ui.document import DocumentController
from studio.ui.main_window import MainWindow

pytestmark = pytest.mark.qt

TEST_PATTERN = Path(__file__).resolve().parents[2] / "resources/graphs/test-pattern.graph.json"


def _launch(argv: list[str], monkeypatch) -> dict:
    """Run the app as the command line does; returns what the window showed once it was up."""
    monkeypatch.setattr(DocumentController, "ask_save", lambda self: QMessageBox.StandardButton.Discard)
    seen = {}

    def look():
        (window,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not window.is_built:  # the launcher fills the window in after its first paint
            window.built.connect(look)
            return
        seen.update(title=window.windowTitle(), graph=graph_to_dict(window.scene.graph), path=window.document.path)
        window.close()
        QApplication.instance().quit()

    QTimer.singleShot(0, look)
    assert run_app(argv) == 0
    # Closing the last window asks to quit too: the second request, still queued, would end every
    # later event loop of this process at once (qtbot waits returning early, timers never firing).
    QApplication.removePostedEvents(QApplication.instance(), QEvent.Type.Quit)
    return seen


def test_a_graph_file_given_on_the_command_line_opens(qtbot, studio_home, monkeypatch):
    seen = _launch([str(TEST_PATTERN)], monkeypatch)
    assert seen["path"] == TEST_PATTERN
    assert "test-pattern" in seen["title"]
    assert {n["type"] for n in seen["graph"]["nodes"]} == {"TestPattern", "SaveVideo"}


def test_a_rendered_video_given_on_the_command_line_opens_its_graph(qtbot, studio_home, tmp_path, monkeypatch):
    graph = load_graph(TEST_PATTERN)
    engine = Engine("cpu", registry=default_registry(plugins=False), settings=RunSettings(output_dir=tmp_path))
    (video,) = engine.run(graph).files()
    seen = _launch([str(video)], monkeypatch)
    assert seen["path"] is None  # saving asks where: the video is not a graph file
    assert seen["graph"]["nodes"] == graph_to_dict(graph)["nodes"]
