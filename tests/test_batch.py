"""``studio batch`` in this process: variations, validation before anything runs, events, cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.graph import load_graph
from studio.variations import VariationError, build_jobs, parse_variations

ROOT = Path(__file__).resolve().parents[1]
PATTERN = ROOT / "resources/graphs/test-pattern.graph.json"


def jobs(registry, *vary: str) -> list:
    graph = load_graph(PATTERN)
    return build_jobs(graph, registry, parse_variations(graph, registry, list(vary)))


def test_every_combination_is_a_job_with_the_last_variation_varying_fastest(registry, tmp_path, monkeypatch):
    (tmp_path / "prefixes.txt").write_text("clips/a, b\n\n  \nc\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # @FILE is relative to the current folder
    found = jobs(registry, "pattern.seed=1..2,9", "save.filename_prefix=@prefixes.txt")
    assert [job.values for job in found[:3]] == [
        {"pattern.seed": 1, "save.filename_prefix": "clips/a, b"},
        {"pattern.seed": 1, "save.filename_prefix": "c"},
        {"pattern.seed": 2, "save.filename_prefix": "clips/a, b"},
    ]
    assert [job.index for job in found] == list(range(1, 7))
    assert found[-1].graph.node("pattern").params["seed"] == 9
    assert found[0].graph.node("pattern").params["seed"] == 1  # each job has a graph of its own


def test_every_problem_is_listed_naming_its_jobs_node_and_parameter(registry):
    with pytest.raises(VariationError) as caught:
        jobs(registry, "pattern.seed=1,x", "save.crf=18,900", "nope.x=1", "save.zz=1", "pattern.frames=@missing.txt")
    assert caught.value.lines == [
        "--vary nope.x=1: no node with id 'nope'",
        "--vary save.zz=1: save (SaveVideo) has no parameter 'zz' (filename_prefix, fps, codec, crf)",
        "--vary pattern.frames=@missing.txt: @missing.txt: no such file",
        "jobs 3, 4: pattern (TestPattern): seed must be a whole number, got 'x'",
        "jobs 2, 4: save (SaveVideo): crf must be between 0 and 63, got 900",
    ]


def test_ranges_and_job_counts_are_bounded(registry):
    with pytest.raises(VariationError) as caught:
        jobs(registry, "pattern.seed=5..4")
    assert caught.value.lines == ["--vary pattern.seed=5..4: the range 5..4 runs backwards; write 4..5"]
    with pytest.raises(VariationError) as caught:
        jobs(registry, "pattern.seed=1..20000", "save.crf=1..2")
    assert "more than the 10000" in caught.value.lines[0]


def test_a_values_file_is_size_limited_and_named_escaped(registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "big.txt").write_bytes(b"a\n" * (1 << 20))
    with pytest.raises(VariationError, match="larger than"):
        jobs(registry, "save.filename_prefix=@big.txt")
    code = main(["batch", str(PATTERN), "--vary", "save.filename_prefix=@no\x1b[31m.txt", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "\x1b" not in err and "no such file" in err


def test_an_invalid_variation_exits_2_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(PATTERN), "--vary", "pattern.seed=1,2", "--vary", "pattern.width=8", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.splitlines() == [
        "studio batch: jobs 1, 2: pattern (TestPattern): width must be between 16 and 4096, got 8"
    ]
    assert not out.exists() or list(out.iterdir()) == []


def test_a_batch_prints_runs_events_tagged_with_their_job_then_a_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["batch", str(PATTERN), "--vary", "pattern.seed=3,4", "--vary", "pattern.frames=4", "-o", str(out), "--json"]
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [e["event"] for e in events if e["event"] in ("job_started", "done", "batch_done")] == [
        "job_started",
        "done",
        "job_started",
        "done",
        "batch_done",
    ]
    assert all(e["job"] in (1, 2) for e in events[:-1])
    summary = events[-1]
    assert summary["ok"] and summary["counts"] == {"ok": 2, "failed": 0, "cancelled": 0, "skipped": 0}
    assert [j["vary"] for j in summary["jobs"]] == [
        {"pattern.seed": 3, "pattern.frames": 4},
        {"pattern.seed": 4, "pattern.frames": 4},
    ]
    files = [Path(f) for j in summary["jobs"] for f in j["files"]]
    assert sorted(files) == sorted(out.iterdir()) and len(files) == 2


def test_the_second_job_reuses_what_the_first_loaded(tmp_path, capsys):
    code = main(
        ["batch", str(PATTERN), "--vary", "save.crf=18,30", "--vary", "pattern.frames=4", "-o", str(tmp_path), "--json"]
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [e["job"] for e in events if e["event"] == "node_cached" and e["node_id"] == "pattern"] == [2]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_the_running_job_skips_the_rest_and_leaves_no_file(tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "batch", str(PATTERN), "-o", str(out), "--json"]
        + ["--vary", "pattern.frames=3000", "--vary", "pattern.seed=1..3"],
        cwd=ROOT,
        env={**os.environ, "STUDIO_HOME": str(tmp_path / "home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events = []
    for line in process.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "progress" and events[-1]["done"] > 1:
            process.send_signal(signal.SIGINT)
            break
    rest, err = process.communicate(timeout=60)
    events += [json.loads(line) for line in rest.splitlines()]
    assert process.returncode == 1, err
    assert "Traceback" not in err
    done = [e for e in events if e["event"] == "done"]
    assert len(done) == 1 and done[0]["job"] == 1 and done[0]["cancelled"]
    summary = events[-1]
    assert summary["event"] == "batch_done" and summary["counts"]["cancelled"] == 3
    assert not out.exists() or list(out.iterdir()) == []


def test_a_free_worker_takes_a_job_whose_model_it_holds(registry):
    from types import SimpleNamespace

    from studio.farm.driver import _BatchRun
    from studio.farm.results import model_signature

    graph = load_graph(ROOT / "resources/graphs/starter.graph.json")
    vary = ["model.path=a.safetensors,b.safetensors,c.safetensors", "sampler.seed=1,2"]
    found = build_jobs(graph, registry, parse_variations(graph, registry, vary))
    holds = [{model_signature(found[0].graph, registry)}, {model_signature(found[2].graph, registry)}, set()]
    farm = SimpleNamespace(workers=[None, None, None], loaded=holds)
    batch = _BatchRun(farm, found, registry, Path("."), None, None, shared=False)
    assert batch._choose(1).values["model.path"] == "b.safetensors"  # the model worker 1 holds
    assert batch._choose(2).values["model.path"] == "c.safetensors"  # one no worker holds
    assert batch._choose(0).values["model.path"] == "a.safetensors"
    assert [job.index for job in batch.pending] == [2, 4, 6]


def test_cluster_only_and_local_only_options_are_refused_in_the_wrong_place(tmp_path, capsys):
    assert main(["batch", str(PATTERN), "--vary", "pattern.seed=1", "--shared", "-o", str(tmp_path)]) == 2
    assert main(["batch", str(PATTERN), "--vary", "pattern.seed=1", "--cluster", "local", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("studio batch: --shared: only with --cluster")
    assert err[1].startswith("studio batch: --device: not with --cluster")
    assert list(tmp_path.iterdir()) == []
