"""A probe for the bundle's smoke test: with STUDIO_RENDER_CHECK=1 the app renders GRAPH into
OUTPUT_DIR the way its window does, in a render process (multiprocessing's spawn re-runs the
frozen app itself, which freeze_support in studio_main.py turns into the child), prints one JSON
line and exits.
"""

from __future__ import annotations

import functools
import json
import os


def main(argv: list[str]) -> int:
    from pathlib import Path

    from studio.bundled import find_bundled
    from studio.engine.process import ProcessEngine
    from studio.graph import load_graph
    from studio.local_engine import render_process_engine
    from studio.settings import Settings

    graph, output_dir = argv[0], argv[1]
    if not Path(graph).exists():  # resources/graphs/… names the bundled file from any folder, as `studio run` has it
        graph = str(find_bundled(graph) or graph)
    engine = ProcessEngine(functools.partial(render_process_engine, Settings.load()))
    pids = []
    try:
        report = engine.run(load_graph(graph), output_dir=output_dir)
        pids.append(engine.pid)
    finally:
        engine.close()
    facts = {
        "ok": report.ok,
        "files": [str(p) for p in report.files()],
        "window_pid": os.getpid(),
        "child_pid": pids[0],
    }
    print(json.dumps(facts), flush=True)
    return 0 if report.ok else 1
