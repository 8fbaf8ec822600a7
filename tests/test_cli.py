import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources/graphs/test-pattern.graph.json"


def small_graph(tmp_path, **pattern):
    data = json.loads(STARTER.read_text())
    data["nodes"][0]["params"].update({"width": 32, "height": 32, "frames": 4, **pattern})
    path = tmp_path / "small.graph.json"
    path.write_text(json.dumps(data))
    return path


def test_run_renders_and_prints_the_file(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small_graph(tmp_path)), "-o", str(out), "--device", "cpu"]) == 0
    written = sorted(out.glob("starter_*.mp4"))
    assert len(written) == 1
    assert f"wrote {written[0]}" in capsys.readouterr().out


def test_json_events_stream(tmp_path, capsys):
    code = main(["run", str(small_graph(tmp_path)), "-o", str(tmp_path / "o"), "--device", "cpu", "--json"])
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "node_started" and kinds[-1] == "done"
    assert {"node_started", "progress", "node_finished", "done"} <= set(kinds)
    done = events[-1]
    assert done["ok"] is True and done["files"] and Path(done["files"][0]).is_file()
    assert set(done["nodes"]) == {"pattern", "save"} and done["nodes"]["save"]["status"] == "ran"
    assert done["nodes"]["save"]["seconds"] > 0


def test_set_overrides_a_parameter_for_the_run(tmp_path, capsys):
    from studio.media.video_io import probe_video

    code = main(
        ["run", str(small_graph(tmp_path)), "-o", str(tmp_path / "o"), "--device", "cpu", "--set", "pattern.frames=6"]
    )
    assert code == 0
    video = next((tmp_path / "o").glob("*.mp4"))
    assert probe_video(video).frame_count == 6


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("pattern.frames=many", "pattern (TestPattern): frames must be a whole number, got 'many'"),
        ("pattern.frames=0", "pattern (TestPattern): frames must be between 1 and 10000, got 0"),
        ("ghost.frames=3", "no node with id 'ghost'"),
        ("pattern.colour=3", "has no parameter 'colour'"),
        ("nodot=3", "expected NODE.PARAM=VALUE"),
    ],
)
def test_bad_set_exits_2_with_a_clear_line(tmp_path, capsys, setting, message):
    assert main(["run", str(small_graph(tmp_path)), "-o", str(tmp_path), "--device", "cpu", "--set", setting]) == 2
    assert message in capsys.readouterr().err


def test_a_failed_run_exits_1(tmp_path, capsys):
    graph = small_graph(tmp_path)
    data = json.loads(graph.read_text())
    data["nodes"][1]["params"]["filename_prefix"] = "../escape"
    graph.write_text(json.dumps(data))
    assert main(["run", str(graph), "-o", str(tmp_path / "o"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "save (SaveVideo): filename_prefix '../escape' leaves the output folder" in err
    assert not (tmp_path / "escape_00001.mp4").exists()


def test_validate_exit_codes(tmp_path, capsys):
    assert main(["validate", str(STARTER)]) == 0
    broken = tmp_path / "b.graph.json"
    broken.write_text(
        '{"format":"studio.graph","version":1,"nodes":[{"id":"mystery1","type":"Nope"},'
        '{"id":"save","type":"SaveVideo","params":{"crf":500}}]}'
    )
    assert main(["validate", str(broken)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "error: mystery1 (Nope): unknown node type 'Nope'; is a node pack missing?" in err
    assert "error: save (SaveVideo): crf must be between 0 and 63, got 500" in err
    assert "error: save (SaveVideo): required input 'frames' (FRAMES) is not connected" in err


def test_validate_unreadable_files_exit_2(tmp_path, capsys):
    (tmp_path / "x.graph.json").write_text("not json")
    assert main(["validate", str(tmp_path / "x.graph.json")]) == 2
    assert main(["validate", str(tmp_path / "missing.graph.json")]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "no such file" in err


def test_run_accepts_a_rendered_video_and_uses_its_embedded_graph(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", str(small_graph(tmp_path, frames=5)), "-o", str(out), "--device", "cpu"]) == 0
    video = next(out.glob("*.mp4"))
    again = tmp_path / "again"
    assert main(["run", str(video), "-o", str(again), "--device", "cpu"]) == 0
    from studio.media.video_io import probe_video

    assert probe_video(next(again.glob("*.mp4"))).frame_count == 5


def test_nodes_json_lists_the_catalogue(capsys):
    assert main(["nodes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    save = next(n for n in data["nodes"] if n["type"] == "SaveVideo")
    assert [p["name"] for p in save["inputs"]] == ["frames", "audio"]
    assert save["inputs"][1]["optional"] is True
    assert {p["name"] for p in save["params"]} >= {"filename_prefix", "fps", "codec", "crf"}


def test_models_lists_folders_and_diffusers_models(tmp_path, studio_home, capsys):
    folder = studio_home / "data" / "models" / "tiny-sd"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["family"], m["kind"]) for m in data["models"]] == [("tiny-sd", "sd15", "diffusers")]


def test_exit_codes_from_a_real_process(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, timeout=120)

    bad = tmp_path / "bad.graph.json"
    bad.write_text("{")
    result = run("validate", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = run("run", str(small_graph(tmp_path)), "--device", "warp-drive")
    assert result.returncode == 2
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("studio ")
