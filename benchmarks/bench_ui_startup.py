"""Time to first paint of the studio window, as a ratio to an empty PySide6 window started the same way.

Each window is started in a fresh interpreter (offscreen unless $DISPLAY is set); the clock
runs from process start until the window's first frame is painted (the event-loop turn after
its first paint event). The studio window is started the way the ``studio`` command starts it
(``studio.cli.main``, with GRAPH when --graph is given); the benchmark only wraps
``QMainWindow.show`` to watch the window. It also prints the time until the window is fully
built (every dock filled, the graph open: ``MainWindow.built``) and checks that torch and
diffusers were not imported by then.
Both windows run with compiled bytecode, as an installed app does: a private bytecode cache
(filled by the warm-up runs) stands in for an environment that sets PYTHONDONTWRITEBYTECODE,
which would otherwise recompile every studio module each run.

    python benchmarks/bench_ui_startup.py [--runs 5] [--graph FILE]
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

# Both children watch their window the same way: the frame counts once the event loop turns after
# its first paint event (the whole frame painted and flushed).
WATCH = r"""
class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, painted)  # runs once the whole frame is painted and flushed
        return False
"""

EMPTY = (
    r"""
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

def report(event):
    print(json.dumps({"event": event, "cpu": time.process_time()}), flush=True)

"""
    + WATCH
    + r"""
def painted():
    report("painted")
    report("built")
    app.quit()

app = QApplication([])
window = QWidget()
window.resize(1600, 1000)
watcher = FirstPaint()
window.installEventFilter(watcher)
window.show()
app.exec()
"""
)

STUDIO = (
    r"""
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

shown = []

def report(event):
    facts = {"event": event, "cpu": time.process_time(), "torch": "torch" in sys.modules}
    facts["diffusers"] = "diffusers" in sys.modules
    print(json.dumps(facts), flush=True)

"""
    + WATCH
    + r"""
def painted():
    report("painted")
    window = shown[0]
    if getattr(window, "is_built", True):  # a window built in one go has no such flag
        finished()
    else:
        window.built.connect(finished)

def finished():
    report("built")
    QTimer.singleShot(0, QApplication.instance().quit)

def show(window):
    shown.append(window)
    window.installEventFilter(watcher)
    plain_show(window)

watcher = FirstPaint()
plain_show, QMainWindow.show = QMainWindow.show, show
from studio.cli import main
main(ARGV)
shown[0].shutdown()
"""
)


def start(mode: str, argv: list[str], env: dict[str, str]) -> dict[str, dict]:
    """For the "painted" and "built" events: the seconds from process start ("wall"), the child's
    CPU seconds by then ("cpu", which other processes on a busy machine do not inflate) and the
    modules it had imported."""
    code = f"import sys, json, time\nARGV = {argv!r}\n" + (STUDIO if mode == "studio" else EMPTY)
    begin = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    events = {}
    for line in proc.stdout:
        facts = json.loads(line)
        events[facts["event"]] = {**facts, "wall": time.perf_counter() - begin}
        if facts["event"] == "built":
            break
    proc.wait(30)
    if "built" not in events:
        raise SystemExit(f"the {mode} window did not start (exit code {proc.returncode})")
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--graph", help="a graph file to open, as `studio GRAPH` does")
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    env["STUDIO_HOME"] = tempfile.mkdtemp(prefix="bench-ui-")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-ui-pyc-")
    argv = [os.path.abspath(args.graph)] if args.graph else []
    start("empty", [], env)  # warm the file and bytecode caches for both
    start("studio", argv, env)
    empty, studio = [], []
    for _ in range(args.runs):
        empty.append(start("empty", [], env))
        studio.append(start("studio", argv, env))
    print(f"platform {env.get('QT_QPA_PLATFORM', 'xcb')}, graph {args.graph or '(none)'}, {args.runs} runs each")
    print(f"load average         {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for clock in ("wall", "cpu"):
        base = _median(empty, "painted", clock)
        print(f"-- {clock} clock" + (" (the child's CPU time)" if clock == "cpu" else ""))
        print(f"empty window         {base:7.0f} ms  ({_list(empty, 'painted', clock)})")
        for event, name in (("painted", "studio first paint"), ("built", "studio fully built")):
            ms = _median(studio, event, clock)
            print(f"{name:20} {ms:7.0f} ms  ({_list(studio, event, clock)})  ratio {ms / base:5.2f}x")
    facts = studio[-1]["built"]
    print(f"torch imported       {facts['torch']}")
    print(f"diffusers imported   {facts['diffusers']}")


def _median(runs: list[dict], event: str, clock: str) -> float:
    return statistics.median(run[event][clock] for run in runs) * 1000


def _list(runs: list[dict], event: str, clock: str) -> str:
    return " ".join(f"{run[event][clock] * 1000:.0f}" for run in runs)


if __name__ == "__main__":
    main()
