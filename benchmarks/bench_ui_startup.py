"""Time to first paint of the studio window, as a ratio to an empty PySide6 window started the same way.

Each window is started in a fresh interpreter (offscreen unless $DISPLAY is set); the clock
runs from process start until the window's first paint event. Also checks that torch and
diffusers were not imported by then. Both windows run with compiled bytecode, as an installed
app does: a private bytecode cache (filled by the warm-up runs) stands in for an environment
that sets PYTHONDONTWRITEBYTECODE, which would otherwise recompile every studio module each run.

    python benchmarks/bench_ui_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time, json
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(json.dumps({"painted": True, "torch": "torch" in sys.modules, "diffusers": "diffusers" in sys.modules}), flush=True)
            QTimer.singleShot(0, app.quit)
            obj.removeEventFilter(self)
        return False

app = QApplication([])
if MODE == "studio":
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme
    settings = Settings.load()
    apply_theme(app, settings.theme)
    window = MainWindow(settings)
    target = window.view.viewport()
else:
    window = QWidget()
    window.resize(1600, 1000)
    target = window
watcher = FirstPaint()
target.installEventFilter(watcher)
window.show()
app.exec()
if MODE == "studio":
    window.shutdown()
"""


def first_paint(mode: str, env: dict[str, str]) -> tuple[float, dict]:
    code = f"MODE = {mode!r}\n" + CHILD
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait(30)
    return elapsed, json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    env["STUDIO_HOME"] = tempfile.mkdtemp(prefix="bench-ui-")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-ui-pyc-")
    first_paint("empty", env)  # warm the file cache for both
    first_paint("studio", env)
    empty, studio, facts = [], [], {}
    for _ in range(args.runs):
        empty.append(first_paint("empty", env)[0])
        seconds, facts = first_paint("studio", env)
        studio.append(seconds)
    e, s = statistics.median(empty), statistics.median(studio)
    print(f"platform           {env.get('QT_QPA_PLATFORM', 'xcb')}")
    print(f"empty window       {e * 1000:7.0f} ms  (median of {args.runs})")
    print(f"studio window      {s * 1000:7.0f} ms  (median of {args.runs})")
    print(f"ratio              {s / e:7.2f}x")
    print(f"torch imported     {facts.get('torch')}")
    print(f"diffusers imported {facts.get('diffusers')}")


if __name__ == "__main__":
    main()
