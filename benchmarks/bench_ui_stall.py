"""The longest event-loop stall while the window renders the default graph (target < 50 ms).

A QTimer heartbeat ticks every 5 ms in the GUI thread; the longest gap between ticks, minus
the interval, is the worst stall a user would feel while the render runs. The first run is
"cold" (right after the window opened: the engine starts, imports torch and loads the model),
the next ones are warm with a new seed each time so nothing is cached.

Each mode runs in a fresh interpreter: the window's render process (the default), and as the
baseline the same window rendering on a thread of its own process (STUDIO_RENDER_IN_PROCESS=1,
as before the render process). The summary gives the worst stall of all runs of each mode, and
whether the window's own process imported torch.

    python benchmarks/bench_ui_stall.py [--device auto|cpu] [--runs 5] [--mode both|process|thread]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEARTBEAT_MS = 5
TARGET_MS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--graph", default=str(ROOT / "resources/graphs/starter.graph.json"))
    parser.add_argument("--mode", default="both", choices=["both", "process", "thread"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args)
        return
    summary = {}
    for mode in ("process", "thread") if args.mode == "both" else (args.mode,):
        env = dict(os.environ, STUDIO_RENDER_IN_PROCESS="1" if mode == "thread" else "0")
        command = [sys.executable, __file__, "--child", "--device", args.device, "--runs", str(args.runs)]
        proc = subprocess.run([*command, "--graph", args.graph], env=env, capture_output=True, text=True)
        lines = proc.stdout.splitlines()
        print(f"== renders in {'a render process' if mode == 'process' else 'a thread of the window (baseline)'}")
        print("\n".join(line for line in lines if not line.startswith("{")))
        facts = next((json.loads(line) for line in lines if line.startswith("{")), None)
        if facts is None:
            print(proc.stderr[-2000:])
            continue
        summary[mode] = facts
    for mode, facts in summary.items():
        print(
            f"{mode:8s} worst stall {facts['worst']:6.1f} ms over {facts['runs']} runs  "
            f"(target {TARGET_MS} ms: {facts['worst'] / TARGET_MS:4.2f}x)   "
            f"torch in the window's process: {facts['torch']}"
        )
    if len(summary) == 2:
        print(f"worst stall, render process / thread: {summary['process']['worst'] / summary['thread']['worst']:.2f}x")


def measure(args: argparse.Namespace) -> None:
    if not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="bench-ui-"))

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.settings import Settings
    from studio.ui.commands import SetParamCommand
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme

    app = QApplication(sys.argv[:1])
    apply_theme(app, "dark")
    window = MainWindow(Settings(device=args.device))
    window.show()
    window.open_graph(args.graph)
    idle_until = time.perf_counter() + 1.5  # the window's idle-time warm-ups happen first, as for a user
    while time.perf_counter() < idle_until:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    seed_node = next((n for n in window.scene.graph.nodes if "seed" in n.params), None)

    results = []
    for run in range(args.runs):
        if seed_node is not None and run:
            window.scene.push(SetParamCommand(window.scene.graph, seed_node.id, "seed", 1000 + run))
        finished: list = []
        window.runs.run_finished.connect(finished.append)
        gaps.clear()
        last[0] = time.perf_counter()
        heartbeat.start()
        started = time.perf_counter()
        window.run()
        while not finished:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        heartbeat.stop()
        window.runs.run_finished.disconnect(finished.append)
        seconds = time.perf_counter() - started
        stall = max(gaps) * 1000 - HEARTBEAT_MS if gaps else 0.0
        p99 = sorted(gaps)[int(len(gaps) * 0.99)] * 1000 - HEARTBEAT_MS if gaps else 0.0
        results.append((("cold" if run == 0 else "warm"), finished[0].status, seconds, stall, p99, len(gaps)))

    print(f"graph {Path(args.graph).name}, device {args.device}, heartbeat {HEARTBEAT_MS} ms")
    for kind, status, seconds, stall, p99, beats in results:
        print(
            f"{kind:5s} run {status:9s} {seconds:6.2f} s   longest stall {stall:6.1f} ms   "
            f"p99 {p99:5.1f} ms   ({beats} beats)   stall/target {stall / TARGET_MS:4.2f}"
        )
    worst = max(stall for _, _, _, stall, _, _ in results)
    print(json.dumps({"worst": worst, "runs": len(results), "torch": "torch" in sys.modules}))
    window.undo_stack.setClean()
    window.shutdown()


if __name__ == "__main__":
    main()
