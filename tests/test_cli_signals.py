"""Ctrl+C and SIGTERM on a real ``studio run --json`` process: it cancels, says ``done``, leaves no file."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources/graphs/starter.graph.json"
PATTERN = ROOT / "resources/graphs/test-pattern.graph.json"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class Run:
    """A ``studio run --json`` process whose events are read as they come."""

    def __init__(self, graph: Path, out: Path) -> None:
        home = out.parent / "home"  # a fresh one: no latent cached on disk by an earlier run lets sampling be skipped
        self.process = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "run", str(graph), "-o", str(out), "--device", "cpu", "--json"],
            cwd=ROOT,
            env={**os.environ, "STUDIO_HOME": str(home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []
        self.done_at = 0.0
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if '"event": "done"' in line:
                self.done_at = time.monotonic()
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, wanted, timeout: float = 60.0) -> dict:
        """The first event for which ``wanted(event)`` is true."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, f"the run ended first: {self.events[-1:]} {self.process.stderr.read()[-2000:]}"
            event = json.loads(line)
            self.events.append(event)
            if wanted(event):
                return event

    def signal(self, *signums: int, gap: float = 0.2) -> None:
        self.signalled_at = time.monotonic()
        for i, signum in enumerate(signums):
            if i:
                time.sleep(gap)
            self.process.send_signal(signum)

    def finish(self, timeout: float = 60.0) -> tuple[int, str, float]:
        """Exit code, stderr and seconds from the first signal to the ``done`` event."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        while (line := self._lines.get()) is not None:
            self.events.append(json.loads(line))
        return code, self.process.stderr.read(), self.done_at - self.signalled_at


def assert_cancelled_cleanly(run: Run, code: int, err: str, out: Path) -> dict:
    assert code == 1, err
    assert "Traceback" not in err and "terminate called" not in err, err
    done = run.events[-1]
    assert done["event"] == "done" and done["cancelled"] is True and done["ok"] is False
    assert done["files"] == []
    left = [os.path.join(folder, name) for folder, _, names in os.walk(out) for name in names]
    assert left == []  # no video, no .partial temporary file
    return done


def is_started(node_id):
    return lambda e: e["event"] == "node_started" and e["node_id"] == node_id


@pytest.mark.ml
def test_sigint_during_sampling_cancels_within_a_step(tmp_path):
    out = tmp_path / "out"
    run = Run(STARTER, out)
    run.wait_for(lambda e: e["event"] == "progress" and e["node_id"] == "sampler" and e["done"] >= 2)
    run.signal(signal.SIGINT)
    code, err, seconds = run.finish()
    done = assert_cancelled_cleanly(run, code, err, out)
    assert seconds < 3, f"done {seconds:.1f}s after Ctrl+C"
    assert done["nodes"]["model"]["status"] == "ran"
    assert {done["nodes"][n]["status"] for n in ("sampler", "decode", "save")} == {"skipped"}
    assert "cancelling: the run stops at its next step" in err


@pytest.mark.ml
def test_a_second_sigint_during_a_model_load_quits_without_waiting(tmp_path):
    out = tmp_path / "out"
    run = Run(STARTER, out)
    run.wait_for(is_started("model"))
    run.signal(signal.SIGINT, signal.SIGINT, gap=0.5)
    code, err, seconds = run.finish()
    done = assert_cancelled_cleanly(run, code, err, out)
    assert seconds < 5, f"done {seconds:.1f}s after the first Ctrl+C"
    if "quit without waiting for model (LoadModel)" in err:
        assert done["nodes"] == {"model": {"status": "skipped", "seconds": 0.0, "error": "cancelled"}}
    else:  # a fast machine loaded the model within the grace period: the run ended by itself
        assert done["nodes"]["model"]["status"] == "ran" and done["nodes"]["sampler"]["status"] == "skipped"


def test_a_second_signal_quits_a_step_that_does_not_stop(monkeypatch, capsys):
    from studio.engine import CancelToken, NodeFinished, NodeStarted
    from studio.run_console import JsonPrinter, RunInterrupts, RunWatch

    class Quit(Exception):
        pass

    def exit_(code):
        raise Quit(code)

    monkeypatch.setattr(os, "_exit", exit_)
    monkeypatch.setattr("studio.run_console.FORCE_GRACE", 0.2)
    watch = RunWatch(JsonPrinter())
    interrupts = RunInterrupts(CancelToken(), watch)
    release = threading.Event()

    def stuck() -> None:  # a step like a model load: it never looks at the cancel token
        watch(NodeStarted("text", "TextEncode"))
        watch(NodeFinished("text", "TextEncode", 0.5))
        watch(NodeStarted("model", "LoadModel"))
        os.kill(os.getpid(), signal.SIGINT)
        while interrupts.count < 1:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)
        release.wait(30)

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(Quit) as quit_, interrupts.installed():
            interrupts.wait_for(stuck)
    finally:
        release.set()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert quit_.value.args == (1,)
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "cancelling: the run stops at its next step (Ctrl+C again quits without waiting)",
        "quit without waiting for model (LoadModel)",
    ]
    done = json.loads(captured.out.splitlines()[-1])
    assert done["event"] == "done" and done["cancelled"] is True and done["ok"] is False
    assert done["nodes"] == {
        "text": {"status": "ran", "seconds": 0.5},
        "model": {"status": "skipped", "seconds": 0.0, "error": "cancelled"},
    }


@pytest.mark.parametrize("signums", [(signal.SIGTERM,), (signal.SIGINT, signal.SIGINT)])
def test_signals_during_save_leave_no_partial_file(tmp_path, signums):
    graph = tmp_path / "big.graph.json"
    data = json.loads(PATTERN.read_text())
    data["nodes"][0]["params"].update({"width": 640, "height": 480, "frames": 240})
    graph.write_text(json.dumps(data))
    out = tmp_path / "out"
    run = Run(graph, out)
    run.wait_for(lambda e: e["event"] == "progress" and e["node_id"] == "save")
    run.signal(*signums, gap=0.05)
    code, err, seconds = run.finish()
    done = assert_cancelled_cleanly(run, code, err, out)
    assert done["nodes"]["save"]["status"] == "skipped" and done["nodes"]["pattern"]["status"] == "ran"
    assert seconds < 3
    assert "quit without waiting" not in err  # the save stopped within a frame: the second signal waited for it
