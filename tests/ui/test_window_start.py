"""The window as the launcher starts it: the frame, the menu titles, the toolbar and the docks' frames
paint first, and the rest (the canvas, the docks' contents, the menus, the graph given on the
command line) is built just after, ending in the same window ``MainWindow(settings)`` builds at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow

from studio.settings import Settings
from studio.ui import dock_layout
from studio.ui.main_window import MainWindow

pytestmark = pytest.mark.qt

TEST_PATTERN = Path(__file__).resolve().parents[2] / "resources/graphs/test-pattern.graph.json"

# Runs `studio GRAPH` as the command line does (studio.cli.main), looking at the window when its
# first frame is painted and again once it says it is built.
LAUNCH = """
import json, sys
import PySide6.QtCore
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

qt_namespace_loads_lazily = "Qt" not in vars(PySide6.QtCore)
shown, seen = [], {}

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            seen["first paint"] = {
                "built": shown[0].is_built,
                "modules": [m for m in ("studio.graph", "studio.ui.inspector", "studio.ui.view") if m in sys.modules],
                "qt namespace": qt_namespace_loads_lazily and "Qt" in vars(PySide6.QtCore),
            }
        return False

def built():
    window = shown[0]
    contents = {"inspector": window.inspector, "preview": window.preview, "output": window.viewer,
                "history": window.history, "queue": window.queue_panel, "problems": window.problems,
                "timeline": window.timeline.holder}
    seen["built"] = {
        "empty docks": [key for key, dock in window.docks.items() if dock.widget() is not contents[key]],
        "empty menus": [name for name, menu in window.menus.items() if not menu.actions()],
        "node types": sorted({node.type for node in window.scene.graph}),
        "title": window.windowTitle(),
        "heavy modules": [m for m in ("torch", "diffusers", "transformers") if m in sys.modules],
    }
    QApplication.instance().quit()

def show(window):
    shown.append(window)
    window.installEventFilter(watcher)
    window.built.connect(built)
    plain_show(window)

watcher = FirstPaint()
plain_show, QMainWindow.show = QMainWindow.show, show
from studio.cli import main
main(sys.argv[1:])
shown[0].shutdown()
print(json.dumps(seen))
"""


def test_the_launched_window_paints_its_frame_first_then_fills_in_with_the_graph(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(TEST_PATTERN)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    # The first frame: neither the graph model, the canvas nor a dock's contents loaded yet.
    assert seen["first paint"] == {"built": False, "modules": [], "qt namespace": False}
    # Then every dock filled, every menu, the graph from the command line open, and no torch.
    assert seen["built"]["empty docks"] == [] and seen["built"]["empty menus"] == []
    assert seen["built"]["node types"] == ["SaveVideo", "TestPattern"]
    assert "test-pattern" in seen["built"]["title"]
    assert seen["built"]["heavy modules"] == []


def test_reading_any_part_of_a_deferred_window_builds_the_rest(qtbot, studio_home, ui_registry):
    window = MainWindow(Settings(device="cpu"), ui_registry, deferred=True)
    qtbot.addWidget(window)
    assert not window.is_built and "inspector" not in vars(window)
    with qtbot.waitSignal(window.built, timeout=1000):
        inspector = window.inspector  # e.g. a shortcut used before the window had painted
    assert window.is_built and window.docks["inspector"].widget() is inspector
    assert window.docks["output"].widget() is window.viewer
    window.shutdown()


def test_a_built_window_opens_the_start_document_at_once(qtbot, studio_home, ui_registry):
    window = MainWindow(Settings(device="cpu"), ui_registry)
    qtbot.addWidget(window)
    window.open_at_start(str(TEST_PATTERN))
    assert window.document.path == TEST_PATTERN
    window.shutdown()


def test_the_dock_layout_restored_from_bytes_is_the_one_arranged_by_calls(qtbot, qapp):
    from studio.ui.theme import apply_theme

    apply_theme(qapp, "dark")  # the title bars' fonts and padding, as in the window
    places = []
    for place in (dock_layout.restore, dock_layout.arrange):
        window = QMainWindow()
        qtbot.addWidget(window)
        window.resize(*dock_layout.WINDOW_SIZE)
        docks = dock_layout.make_docks(window)
        assert place(window, docks) is not False  # restore() placed them from the bytes
        window.show()
        qtbot.waitExposed(window)
        places.append(
            {
                key: (
                    window.dockWidgetArea(dock).name,
                    sorted(other.objectName() for other in window.tabifiedDockWidgets(dock)),
                    dock.visibleRegion().isEmpty(),  # behind another tab
                    dock.geometry().getRect() if not dock.visibleRegion().isEmpty() else None,
                )
                for key, dock in docks.items()
            }
        )
    restored, arranged = places
    assert restored == arranged
    assert restored["queue"][:3] == ("BottomDockWidgetArea", ["history", "problems", "timeline"], False)
