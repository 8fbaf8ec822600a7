"""A probe for start-up benchmarks: with STUDIO_FIRST_PAINT=1 the app prints one JSON line when the
main window first paints, then quits. The bundle and the source install run the same entry script
(studio_main.py), so packaging/smoke_test.py compares them like for like.
"""

from __future__ import annotations

import json
import sys


def install(argv: list[str]) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])  # run_app reuses it

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint and hasattr(obj, "window") and isinstance(obj.window(), QMainWindow):
                app.removeEventFilter(self)
                facts = {"painted": True, "torch": "torch" in sys.modules, "diffusers": "diffusers" in sys.modules}
                print(json.dumps(facts), flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    app._first_paint = FirstPaint()
    app.installEventFilter(app._first_paint)
