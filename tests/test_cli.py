import json
import logging
import os
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


def test_an_os_error_inside_a_node_is_a_line_not_a_traceback(tmp_path):
    graph = small_graph(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "studio.cli", "run", str(graph), "-o", str(tmp_path / "o"), "--device", "cpu"]
        + ["--set", f"save.filename_prefix={'x' * 300}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "warning: node save (SaveVideo) failed\n" in result.stderr
    assert "FAILED  save (SaveVideo): OSError: [Errno 36] File name too long" in result.stderr


def test_log_lines_keep_a_traceback_only_for_what_may_be_a_bug():
    from studio.run_console import LogLine

    def record(error):
        try:
            raise error
        except Exception:
            return logging.LogRecord(
                "studio.engine", logging.WARNING, __file__, 1, "node %s failed", ("n\x1b",), sys.exc_info()
            )

    assert LogLine().format(record(OSError(36, "File name too long"))) == "warning: node n\\x1b failed"
    bug = LogLine().format(record(TypeError("unsupported operand")))
    assert bug.startswith("warning: node n\\x1b failed\nTraceback") and "TypeError: unsupported operand" in bug


# ---- the output folder is checked before anything runs -----------------------------------------
def test_an_output_folder_that_cannot_hold_files_exits_2_before_running(tmp_path, capsys):
    graph = str(small_graph(tmp_path))
    a_file = tmp_path / "taken.mp4"
    a_file.write_bytes(b"")
    long_name = tmp_path / ("x" * 300)
    cases = [
        (a_file, f"-o {a_file}: is a file, not a folder"),
        (a_file / "sub", f"-o {a_file / 'sub'}: cannot create this folder: {a_file} is a file"),
        (long_name, f"-o {long_name}: cannot create this folder (File name too long)"),
    ]
    for output, message in cases:
        assert main(["run", graph, "-o", str(output), "--device", "cpu", "--json"]) == 2
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [f"studio run: {message}"]
        assert captured.out == ""  # no event: nothing ran


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_output_folder_exits_2(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main(["run", str(small_graph(tmp_path)), "-o", str(locked), "--device", "cpu"]) == 2
    assert f"-o {locked}: cannot write in this folder (Permission denied)" in capsys.readouterr().err


def test_a_missing_output_folder_is_created(tmp_path, capsys):
    out = tmp_path / "new" / "deeper"
    assert main(["run", str(small_graph(tmp_path)), "-o", str(out), "--device", "cpu"]) == 0
    assert len(list(out.glob("*.mp4"))) == 1


# ---- errors outside a node are one line, not a traceback -------------------------------------------
def test_a_too_long_graph_name_is_one_line(tmp_path, capsys):
    name = str(tmp_path / ("g" * 300)) + ".graph.json"
    assert main(["validate", name]) == 2
    assert capsys.readouterr().err.splitlines() == [f"studio validate: {name}: File name too long"]


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied", "/srv/cache/x.bin"),
        FileExistsError(17, "File exists", "/srv/a", None, "/srv/b"),
        OSError(28, "No space left on device"),
    ],
)
def test_os_errors_during_a_run_are_one_line(tmp_path, capsys, monkeypatch, error):
    from studio.engine import Engine

    def run(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Engine, "run", run)
    assert main(["run", str(small_graph(tmp_path)), "-o", str(tmp_path / "o"), "--device", "cpu"]) == 1
    line = {13: "/srv/cache/x.bin: Permission denied", 17: "/srv/a -> /srv/b: File exists"}.get(
        error.errno, "No space left on device"
    )
    assert capsys.readouterr().err.splitlines() == [f"studio run: {line}"]


def test_a_folder_or_a_video_without_a_graph_says_so(tmp_path, capsys):
    import numpy as np

    from studio.media.types import Frames
    from studio.media.video_io import write_video

    video = tmp_path / "plain.mp4"
    write_video(video, Frames(np.zeros((2, 16, 16, 3), np.uint8), 8.0))
    assert main(["run", str(tmp_path)]) == 2
    assert main(["validate", str(video)]) == 2
    assert main(["validate", str(ROOT / "resources/audio/chime.wav")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"studio run: {tmp_path}: is a folder, not a graph file",
        f"studio validate: {video}: this video carries no studio graph (only files the studio rendered do)",
        f"studio validate: {ROOT / 'resources/audio/chime.wav'}: this sound file carries no studio graph"
        " (only files the studio rendered do)",
    ]


def test_a_graph_file_without_the_json_suffix_still_loads(tmp_path, capsys):
    graph = tmp_path / "pattern.graph"
    graph.write_text(small_graph(tmp_path).read_text())
    assert main(["validate", str(graph)]) == 0


def test_help_shows_the_window_form(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: studio [-h] [--version] [GRAPH]\n       studio {run,batch,validate,nodes,models} ...")
    assert "Without a command it opens the window, with GRAPH" in " ".join(out.split())
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert capsys.readouterr().out.startswith("usage: studio run [-h]")


# ---- no display ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("environ", "opens"),
    [
        ({}, False),
        ({"DISPLAY": ":0"}, True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, True),
        ({"QT_QPA_PLATFORM": "offscreen"}, True),
        ({"QT_QPA_PLATFORM": "minimal"}, True),
        ({"QT_QPA_PLATFORM": "eglfs"}, True),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"}, True),
        ({"QT_QPA_PLATFORM": "wayland-egl"}, False),
    ],
)
def test_no_display_is_detected_on_linux(environ, opens):
    from studio.cli import no_display_reason

    assert (no_display_reason(environ, "linux") is None) == opens
    assert no_display_reason({}, "darwin") is None and no_display_reason({}, "win32") is None


def test_the_window_without_a_display_exits_2_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for args in ([], [str(STARTER)]):
        result = subprocess.run(
            [sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
        )
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            "studio: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "to render without a window use `studio run GRAPH`"
        ]


# ---- text from a graph cannot steer the terminal ----------------------------------------------------
EVIL = "x\x1b[2J\x1b]0;owned\x07\nerror: forged\r\u202e"
EVIL_SHOWN = "x\\x1b[2J\\x1b]0;owned\\x07\\nerror: forged\\r\\u202e"


def test_progress_lines_escape_text_from_the_graph(tmp_path, capsys):
    graph = json.loads(small_graph(tmp_path).read_text())
    graph["nodes"][0]["id"] = "pattern" + EVIL
    graph["links"][0]["from"][0] = "pattern" + EVIL
    graph["nodes"][1]["params"]["filename_prefix"] = "clip" + EVIL
    path = tmp_path / "evil.graph.json"
    path.write_text(json.dumps(graph))
    out = tmp_path / "o"
    assert main(["run", str(path), "-o", str(out), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text and "\x07" not in text
    assert f"done    pattern{EVIL_SHOWN} (TestPattern) in " in captured.err
    [written] = out.glob("clip*.mp4")
    assert captured.out.splitlines() == [f"wrote {out}/clip{EVIL_SHOWN}_00001.mp4"]
    assert written.name == f"clip{EVIL}_00001.mp4"


def test_validate_and_usage_lines_escape_text_from_the_graph(tmp_path, capsys):
    path = tmp_path / "evil.graph.json"
    path.write_text(json.dumps({"format": "studio.graph", "version": 1, "nodes": [{"id": "n" + EVIL, "type": EVIL}]}))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: n{EVIL_SHOWN} ({EVIL_SHOWN}): unknown node type" in err
    assert "\x1b" not in err and err.count("\n") == len(err.splitlines())
    missing = tmp_path / f"missing{EVIL}.graph.json"
    assert main(["run", str(missing)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"studio run: {tmp_path}/missing{EVIL_SHOWN}.graph.json: no such file"
    ]


def test_json_events_escape_control_characters(capsys):
    from studio.engine import NodeFailed
    from studio.run_console import JsonPrinter

    JsonPrinter()(NodeFailed("n" + EVIL, "T", "message " + EVIL, ("a\x1b",)))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and all(c == "\n" or 32 <= ord(c) < 127 for c in out)
    assert json.loads(out)["message"] == "message " + EVIL


def test_a_bundled_graph_runs_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no resources/ here: the bundled copy is used
    sets = ["--set", "pattern.frames=4", "--set", "pattern.width=32", "--set", "pattern.height=32"]
    assert main(["run", "resources/graphs/test-pattern.graph.json", "-o", "out", "--device", "cpu", *sets]) == 0
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1


def test_models_lists_a_folder_given_with_models_and_says_what_it_skipped(tmp_path, capsys):
    from test_families import write_header

    write_header(tmp_path / "wan_t2v_1.3B.safetensors", {"patch_embedding.weight": (1536, 16, 1, 2, 2)})
    (tmp_path / "broken.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x0042")
    assert main(["models", "--models", str(tmp_path), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert str(tmp_path) in listing["folders"]
    found = {m["name"]: m for m in listing["models"]}
    assert found["wan_t2v_1.3B.safetensors"]["variant"] == "Wan T2V 1.3B"
    assert [s["path"] for s in listing["skipped"]] == [str(tmp_path / "broken.safetensors")]
    assert main(["models", "--models", str(tmp_path / "nowhere")]) == 2
    assert "--models" in capsys.readouterr().err


@pytest.mark.ml
def test_a_second_identical_run_reuses_the_sampled_latent_from_disk(tmp_path):
    graph = ROOT / "resources/graphs/starter.graph.json"
    quick = ["--set", "sampler.steps=2", "--set", "upscale.scale=1", "--set", "interpolate.multiplier=2"]
    env = {**os.environ, "STUDIO_HOME": str(tmp_path / "home")}
    statuses = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "studio.cli", "run", str(graph), "-o", str(tmp_path / "out"), "--json", *quick],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.splitlines()[-1])
        statuses.append({k: v["status"] for k, v in report["nodes"].items()})
    assert statuses[0]["sampler"] == "ran"
    assert statuses[1]["sampler"] == "cached" and statuses[1]["prompt"] == "cached"  # no sampling, no encoding
    assert statuses[1]["decode"] == "ran" and statuses[1]["save"] == "ran"
    assert list((tmp_path / "home" / "cache" / "outputs").glob("*/*.safetensors"))
