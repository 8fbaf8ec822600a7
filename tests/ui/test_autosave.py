"""Crash recovery across processes: a lock beside each recovery file tells a running studio from
a dead one (QLockFile locks are per process, so the other studio is a real child process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QLockFile
from PySide6.QtWidgets import QMessageBox
from ui_support import small_graph

from studio.graph.fileformat import graph_to_dict, loads_graph
from studio.ui.autosave import find_recoveries, recovery_dir
from studio.ui.commands import SetParamCommand

pytestmark = [pytest.mark.qt, pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]

ROOT = Path(__file__).resolve().parents[2]
GRAPH = '{"format": "studio.graph", "version": 1, "nodes": [{"id": "only", "type": "Const", "params": {"v": 1}}]}'

# Another studio: it autosaves its edited graph, or restores the recovery file it finds, then
# waits to be killed (a crash: nothing in it gets to clean up).
STUDIO = """
import sys, time
from PySide6.QtCore import QCoreApplication, QObject
from studio.graph.fileformat import loads_graph
from studio.ui.autosave import Autosaver, find_recoveries

app = QCoreApplication([])
graph = loads_graph(sys.argv[2])
owner = QObject()
saver = Autosaver(lambda: graph, lambda: True, lambda: "", owner)
if sys.argv[1] == "restore":
    (found,) = find_recoveries()
    saver.adopt(found)
else:
    saver.save_now()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def studio(studio_home, qapp):
    """Start another studio process (``"autosave"`` or ``"restore"``); returns it once it is ready."""
    children = []

    def start(mode: str) -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, "-c", STUDIO, mode, GRAPH], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        children.append(child)
        assert child.stdout.readline().strip() == "ready"
        return child

    yield start
    for child in children:
        crash(child)
        child.stdout.close()


def crash(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()


def recovery_files() -> list[str]:
    return sorted(p.name for p in recovery_dir().glob("*.graph.json"))


def test_a_running_studios_recovery_file_is_not_offered_until_it_dies(studio):
    other = studio("autosave")
    assert recovery_files() == [f"recovery-{other.pid}-1.graph.json"]
    assert find_recoveries() == []  # its studio runs and holds the lock
    crash(other)
    (found,) = find_recoveries()  # the lock of a dead process can be taken
    assert found.load() == loads_graph(GRAPH)
    found.release()


def test_a_restored_recovery_file_survives_a_second_crash(studio):
    first = studio("autosave")
    crash(first)
    second = studio("restore")  # restores the first one's work, then crashes before autosaving
    assert find_recoveries() == []  # held by the studio that restored it
    crash(second)
    (found,) = find_recoveries()
    assert found.graph_path.name == f"recovery-{first.pid}-1.graph.json"
    assert found.load() == loads_graph(GRAPH)
    found.release()


def test_a_stale_lock_whose_pid_now_runs_another_program_is_offered(studio):
    first = studio("autosave")
    crash(first)
    lock_path = recovery_dir() / f"recovery-{first.pid}-1.lock"
    # The dead studio's pid reused by a live process of the same program (this Python).
    lines = lock_path.read_text().splitlines()
    lock_path.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
    by_pid = QLockFile(str(lock_path))
    by_pid.setStaleLockTime(0)
    assert not by_pid.tryLock(0)  # judged by its pid alone, the file would never be offered
    (found,) = find_recoveries()
    assert found.graph_path.name == f"recovery-{first.pid}-1.graph.json"
    found.release()


def test_a_restored_file_stays_until_the_window_autosaves_then_its_autosave_replaces_it(window, studio, monkeypatch):
    other = studio("autosave")
    crash(other)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    restored = window.offer_recovery()
    assert restored is not None and restored.graph_path.exists()
    assert graph_to_dict(window.scene.graph) == graph_to_dict(loads_graph(GRAPH))
    assert find_recoveries() == []  # this window holds it now
    assert window.autosaver.save_now() == window.autosaver.path
    assert recovery_files() == [window.autosaver.path.name]  # the newer autosave replaced it


def test_saving_a_restored_document_removes_its_recovery_file(window, studio, monkeypatch, tmp_path):
    other = studio("autosave")
    crash(other)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    restored = window.offer_recovery()
    assert window.document.save_as(tmp_path / "kept.graph.json")
    assert not restored.graph_path.exists() and recovery_files() == []


def test_an_autosave_that_cannot_serialise_says_why_and_keeps_the_last_recovery_file(window, qtbot):
    ids = small_graph(window)
    path = window.autosaver.save_now()
    before = path.read_bytes()
    window.scene.push(SetParamCommand(window.scene.graph, ids["save"], "filename_prefix", "take\udcff"))
    with qtbot.waitSignal(window.autosaver.save_failed) as failed:
        assert window.autosaver.save_now() is None
    assert "lone surrogate" in failed.args[0] and ids["save"] in failed.args[0]
    assert "Autosave failed" in window.statusBar().currentMessage()
    assert path.read_bytes() == before
