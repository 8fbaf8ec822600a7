"""While a model loads (tens of seconds the first time) the run says what it is doing: importing torch,
reading which file, moving it to which device; the app shows it and `studio run` prints it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from diffusion_graphs import text_to_image_graph

from studio.bundled import find_bundled
from studio.engine.context import RunSettings
from studio.graph.fileformat import save_graph

pytestmark = pytest.mark.ml


def test_loading_a_model_reports_each_slow_step(registry, families, tmp_path):
    from studio.engine import Engine

    engine = Engine("cpu", registry=registry, families=families, settings=RunSettings(output_dir=tmp_path))
    graph = text_to_image_graph(find_bundled("resources/models/starter"), width=64, height=64, frames=5, steps=1)
    said = []
    report = engine.run(graph, on_event=lambda e: e.kind == "status" and said.append((e.node_id, e.text)))
    assert report.ok
    texts = [text for node, text in said if node == "load"]
    assert any(t.startswith("Reading starter (Wan") for t in texts), texts
    assert texts[-1] == "Moving the model to cpu…"
    from studio.engine import Status

    assert Status("load", "Reading x…").to_json() == {"event": "status", "node_id": "load", "text": "Reading x…"}


def test_studio_run_prints_what_the_first_load_is_doing(tmp_path):
    graph = text_to_image_graph(find_bundled("resources/models/starter"), width=64, height=64, frames=5, steps=1)
    path = tmp_path / "t.graph.json"
    save_graph(graph, path)
    done = subprocess.run(
        [sys.executable, "-m", "studio.cli", "run", str(path), "-o", str(tmp_path / "out"), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "load: Importing torch" in done.stderr  # a fresh process: torch is not imported yet
    assert "load: Reading starter" in done.stderr
    assert done.stderr.index("Importing torch") < done.stderr.index("Moving the model to cpu")
