"""Start-up stays light: building the window imports neither torch nor diffusers (nor OpenTimelineIO:
the timeline panel is built when its dock is first shown)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.qt

SCRIPT = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from studio.ui.main_window import MainWindow
from studio.settings import Settings
window = MainWindow(Settings())
window.show()
app.processEvents()
heavy = [m for m in ("torch", "diffusers", "transformers", "cv2", "av", "opentimelineio") if m in sys.modules]
window.shutdown()
print("heavy modules:", ",".join(heavy) or "none")
"""


def test_the_window_opens_without_importing_torch(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "heavy modules: none" in result.stdout, result.stdout


def test_the_installed_qt_binding_does_not_drop_references():
    from studio.ui.qt_compat import check_binding

    assert check_binding() is None
