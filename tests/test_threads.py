"""The CPU thread policy (issue 11): its decisions, the user's setting, and the engine applying it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio.engine import Engine, RunSettings
from studio.engine import threads as policy
from studio.engine.threads import RunThreads, busy_cores_elsewhere, choose_cpu_threads, setting_from_environment
from studio.graph import Graph, Node, NodeRegistry, OutputSpec, node_type
from studio.graph import types as t

ROOT = Path(__file__).resolve().parents[1]


# ---- the decision, a pure function ----------------------------------------------------------
@pytest.mark.parametrize(
    ("cores", "busy", "expected"),
    [
        (2, 0.0, 2),  # idle: every core, as torch would
        (2, None, 2),  # load unknown (macOS, Windows): every core
        (2, 0.25, 2),  # a neighbour that is runnable now and then leaves the core free
        (2, 0.5, 1),  # half a core taken: one thread fewer
        (2, 2.0, 1),  # a two-thread neighbour: one thread, no parallel region to wait in
        (2, 7.0, 1),  # never fewer than one
        (16, 2.0, 14),
        (16, 1.9, 14),
        (1, 0.0, 1),
        (0, 0.0, 1),
    ],
)
def test_automatic_choice_leaves_the_busy_cores_alone(cores, busy, expected):
    assert choose_cpu_threads(cores=cores, busy_elsewhere=busy) == expected


def test_the_users_count_wins_over_cores_and_load():
    assert choose_cpu_threads(cores=2, busy_elsewhere=2.0, setting=2) == 2
    assert choose_cpu_threads(cores=2, busy_elsewhere=0.0, setting=1) == 1
    assert choose_cpu_threads(cores=4, busy_elsewhere=None, setting=8) == 8  # the user may oversubscribe


def test_a_negative_count_is_refused_with_the_value():
    with pytest.raises(ValueError, match="cpu_threads must be 0 .automatic. or a number of threads, got -1"):
        choose_cpu_threads(cores=2, busy_elsewhere=0.0, setting=-1)
    with pytest.raises(ValueError, match="got -3"):
        policy.user_setting(-3)


# ---- the user's setting ----------------------------------------------------------------------
def test_studio_cpu_threads_is_read():
    assert setting_from_environment({}) == 0
    assert setting_from_environment({"STUDIO_CPU_THREADS": ""}) == 0
    assert setting_from_environment({"STUDIO_CPU_THREADS": "0"}) == 0
    assert setting_from_environment({"STUDIO_CPU_THREADS": " 3 "}) == 3


@pytest.mark.parametrize("text", ["two", "-1", "1.5"])
def test_a_bad_studio_cpu_threads_says_what_to_write(text):
    with pytest.raises(ValueError, match=f"STUDIO_CPU_THREADS must be a whole number of threads.*got '{text}'"):
        setting_from_environment({"STUDIO_CPU_THREADS": text})


def test_a_set_count_wins_over_the_environment_which_fills_in_for_automatic():
    environ = {"STUDIO_CPU_THREADS": "3"}
    assert policy.user_setting(2, environ) == 2
    assert policy.user_setting(0, environ) == 3
    assert policy.user_setting(None, environ) == 3
    assert policy.user_setting(None, {}) == 0


# ---- what the machine says -------------------------------------------------------------------
def fake_proc(tmp_path, running: int, states: dict[str, str]) -> tuple[str, str]:
    """A /proc/loadavg with ``running`` runnable tasks, and this process's threads' stat files."""
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.52 0.41 0.30 {running}/120 4242\n")
    tasks = tmp_path / "task"
    for tid, line in states.items():
        (tasks / tid).mkdir(parents=True)
        (tasks / tid / "stat").write_text(line)
    return str(loadavg), str(tasks)


def test_the_load_probe_counts_runnable_tasks_of_other_processes(tmp_path):
    loadavg, tasks = fake_proc(tmp_path, 3, {"10": "10 (python) R 1 10", "11": "11 (python) S 1 10"})
    assert busy_cores_elsewhere(samples=3, gap=0.0, path=loadavg, own_threads=tasks) == 2.0


def test_the_load_probe_leaves_out_our_own_spinning_threads(tmp_path):
    # An OpenMP thread of ours still spinning after the last run is runnable, but not load.
    states = {"10": "10 (python) R 1 10", "11": "11 (pt_omp worker) R 1 10", "12": "12 (odd) R name) S 1 10"}
    loadavg, tasks = fake_proc(tmp_path, 2, states)
    assert busy_cores_elsewhere(samples=2, gap=0.0, path=loadavg, own_threads=tasks) == 0.0


def test_the_load_probe_always_leaves_out_the_thread_reading(tmp_path):
    loadavg, _ = fake_proc(tmp_path, 1, {})
    assert busy_cores_elsewhere(samples=2, gap=0.0, path=loadavg, own_threads=str(tmp_path / "none")) == 0.0


def test_the_load_probe_says_unknown_where_there_is_no_count(tmp_path):
    assert busy_cores_elsewhere(samples=2, gap=0.0, path=str(tmp_path / "missing")) is None
    garbled = tmp_path / "loadavg"
    garbled.write_text("nothing here\n")
    assert busy_cores_elsewhere(samples=2, gap=0.0, path=str(garbled)) is None


def test_usable_cores_is_at_least_one():
    assert policy.usable_cores() >= 1


# ---- the engine applies it ---------------------------------------------------------------------
@pytest.fixture
def torch_threads():
    """torch's thread count, put back after the test (the engine sets it process-wide)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def thread_graph(asks_device: bool) -> tuple[NodeRegistry, Graph, list[int]]:
    """One output node that records torch's thread count while it computes."""
    seen: list[int] = []

    @node_type("Threads", category="Test", outputs=[OutputSpec("out", t.INT)], output=True)
    def threads_node(ctx):
        import torch

        if asks_device:
            assert ctx.device == "cpu"
        seen.append(torch.get_num_threads())
        return {"out": seen[-1]}

    registry = NodeRegistry()
    registry.register_all([threads_node])
    graph = Graph()
    graph.add_node(Node("threads", "Threads"))
    return registry, graph, seen


@pytest.mark.ml
@pytest.mark.parametrize("asks_device", [True, False])
def test_a_cpu_run_gives_torch_the_users_count(torch_threads, tmp_path, asks_device):
    registry, graph, seen = thread_graph(asks_device)
    wanted = 1 if torch_threads.get_num_threads() > 1 else 2
    engine = Engine("cpu", registry=registry, settings=RunSettings(output_dir=tmp_path), cpu_threads=wanted)
    assert engine.run(graph).ok
    assert seen == [wanted]


@pytest.mark.ml
def test_a_cpu_run_reads_studio_cpu_threads(torch_threads, tmp_path, monkeypatch):
    registry, graph, seen = thread_graph(asks_device=True)
    wanted = 1 if torch_threads.get_num_threads() > 1 else 2
    monkeypatch.setenv("STUDIO_CPU_THREADS", str(wanted))
    assert Engine("cpu", registry=registry, settings=RunSettings(output_dir=tmp_path)).run(graph).ok
    assert seen == [wanted]


@pytest.mark.ml
@pytest.mark.parametrize(("busy", "expected"), [(99.0, 1), (0.0, None)])
def test_an_automatic_cpu_run_follows_the_free_cores(torch_threads, tmp_path, monkeypatch, busy, expected):
    monkeypatch.delenv("STUDIO_CPU_THREADS", raising=False)
    monkeypatch.setattr(policy, "busy_cores_elsewhere", lambda: busy)
    registry, graph, seen = thread_graph(asks_device=True)
    assert Engine("cpu", registry=registry, settings=RunSettings(output_dir=tmp_path)).run(graph).ok
    default = policy._torch_default_threads
    assert default is not None
    assert seen == [expected or min(default, policy.usable_cores())]


@pytest.mark.ml
def test_the_policy_is_applied_once_per_run_and_never_for_a_gpu(monkeypatch):
    pytest.importorskip("torch")
    applied = []
    monkeypatch.setattr(policy, "apply_cpu_threads", applied.append)
    run = RunThreads(lambda: "cpu", 3, known="cpu")
    run.node_starting()
    run.node_starting()
    assert run.device() == "cpu"
    assert applied == [3]
    gpu = RunThreads(lambda: "cuda", 3, known="cuda")
    gpu.node_starting()
    assert gpu.device() == "cuda"
    assert applied == [3]


def test_a_run_resolves_no_device_its_nodes_do_not_ask_for(monkeypatch):
    pytest.importorskip("torch")
    applied, resolved = [], []
    monkeypatch.setattr(policy, "apply_cpu_threads", applied.append)
    run = RunThreads(lambda: resolved.append("auto") or "cpu", 2, known="auto")
    run.node_starting()
    assert (applied, resolved) == ([], [])
    assert run.device() == "cpu"  # the first node that asks resolves it, and the threads follow
    assert (applied, resolved) == ([2], ["auto"])


def test_a_bad_setting_fails_the_run_before_any_node_starts(tmp_path, monkeypatch):
    registry, graph, seen = thread_graph(asks_device=True)
    monkeypatch.setenv("STUDIO_CPU_THREADS", "many")
    engine = Engine("cpu", registry=registry, settings=RunSettings(output_dir=tmp_path))
    with pytest.raises(ValueError, match="STUDIO_CPU_THREADS must be a whole number"):
        engine.run(graph)
    assert seen == []


def test_a_run_without_torch_nodes_does_not_import_torch():
    code = (
        "import sys; from studio.engine import Engine; from tests.recording_nodes import Recorder, chain;"
        "rec = Recorder(); graph = chain(('Const', 'a'), ('Sink', 'b'));"
        "assert Engine('cpu', registry=rec.registry).run(graph).ok;"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ---- the setting in the app ------------------------------------------------------------------
def test_the_setting_is_saved_and_a_wrong_type_falls_back_to_automatic(tmp_path):
    from studio.settings import Settings

    path = tmp_path / "settings.json"
    Settings(cpu_threads=3).save(path)
    assert Settings.load(path).cpu_threads == 3
    path.write_text('{"cpu_threads": "four"}', "utf-8")
    assert Settings.load(path).cpu_threads == 0


@pytest.mark.qt
def test_the_settings_dialog_edits_the_count(qtbot):
    from studio.settings import Settings
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(cpu_threads=3))
    qtbot.addWidget(dialog)
    assert dialog.result_settings().cpu_threads == 3
    dialog.cpu_threads.setValue(0)
    assert dialog.cpu_threads.text() == "automatic"
    assert dialog.result_settings().cpu_threads == 0


@pytest.mark.qt
def test_the_window_builds_its_engine_with_the_setting(qtbot, tmp_path):
    from studio.composition import default_registry
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow

    window = MainWindow(
        Settings(output_dir=str(tmp_path), device="cpu", cpu_threads=2), default_registry(plugins=False)
    )
    qtbot.addWidget(window)
    engine = window._make_engine()  # a render process: the engine it builds there has the setting
    assert engine.factory()._cpu_threads == 2
    engine.close()
