"""ProcessEngine: an :class:`Engine` in a child process, behind the engine's interface.

The window renders in a child process rather than on a thread of its own: torch's import, a
model's load and every Python-level step of a sampler then run under the child's GIL, so the
window's event loop never waits behind them (on a thread, each of them stalled the window for up
to a switch interval, and for 100 ms and more while torch's native libraries initialised). A
crash in native code (a driver fault, the system killing the process for memory) ends the
child, not the window: the job fails with the reason, the graph and earlier outputs stay, and
the next run starts a new child.

The child is started with ``spawn`` (never ``fork``: the parent runs Qt) and builds its engine by
calling ``factory`` (a picklable callable, e.g. a ``functools.partial`` of a module-level
function). It stops when told to, or when the pipe closes because the parent went away.

Messages are pickled over a private pipe between this process and the child it started (never a
file or a socket a stranger could write to). Graphs go to the child as the parent holds them;
events, reports and estimates come back as the engine made them.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.engine.context import CancelToken
from studio.engine.engine import Engine, RunReport
from studio.engine.events import Done, Event, Notice
from studio.graph.validate import GraphInvalid

EventHandler = Callable[[Event], None]
CANCEL_GRACE_S = 15.0  # after a cancel, how long a job may take to stop before its process is ended
ESTIMATE_TIMEOUT_S = 120.0  # asked on a thread of its own; the first one may wait for the engine to start
CALL_TIMEOUT_S = 10.0  # an unload or a clear, asked by the window: never hang it for long
CLOSE_WAIT_S = 5.0
POLL_S = 0.05
CHILD_NICENESS = 5  # on a machine with few cores the sampler's threads took the window's time slices
RESTART_NOTE = "the GPU cannot be used again in this render process; the next run starts a new one"
NO_SIZES = {"outputs": 0, "models": 0, "disk": 0}

log = logging.getLogger(__name__)


class RenderProcessError(RuntimeError):
    """The render process could not start, or stopped while it held a job or a call."""


class _Pending:
    """A job or a call waiting for the child's answer."""

    def __init__(self, emit: EventHandler | None = None) -> None:
        self.emit = emit
        self.finished = threading.Event()
        self.value: Any = None
        self.error: tuple[str, Any] | None = None

    def finish(self, value: Any, error: tuple[str, Any] | None) -> None:
        self.value, self.error = value, error
        self.finished.set()


class ProcessEngine:
    """Runs graphs on an engine in a child process; the same calls as :class:`Engine` that the
    window's render queue and memory estimate use (``run``, ``estimate``, ``unload_models``,
    ``clear_outputs``, ``cache_sizes``, ``close``), plus :meth:`start` to start the child ahead of
    the first run (it builds its engine and resolves its device, importing torch, right away)."""

    def __init__(self, factory: Callable[[], Engine], *, name: str = "studio-render") -> None:
        self.factory = factory
        self.name = name
        self._lock = threading.RLock()  # the child's lifetime and the pipe's sending end
        self._process: Any = None  # set while the child is up; cleared by its reader when it ends
        self._conn: Any = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()  # the child has built its engine and found its device
        self._retiring: Any = None  # a process that said it ends after its job (its GPU is unusable)
        self._jobs: dict[int, _Pending] = {}
        self._calls: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._sizes = dict(NO_SIZES)
        self._closed = False

    # ---- the engine's interface -------------------------------------------------------------
    def start(self) -> None:
        """Start the child now (idempotent); it builds its engine and resolves the device."""
        with self._lock:
            self._started()

    @property
    def running(self) -> bool:
        """Whether the child process is up (until its reader has seen it end)."""
        return self._process is not None

    @property
    def pid(self) -> int | None:
        """The child's process id while it is up."""
        process = self._process
        return process.pid if process is not None else None

    def run(
        self,
        graph: Any,
        on_event: EventHandler | None = None,
        *,
        cancel: CancelToken | None = None,
        targets: list[str] | None = None,
        output_dir: str | Path | None = None,
    ) -> RunReport:
        """Run ``graph`` in the child and block until it is done, as :meth:`Engine.run` does.

        Raises :class:`GraphInvalid` as the engine does, and :class:`RenderProcessError` when the
        child stopped during the job (it is cancelled instead when the user had cancelled it)."""
        emit = on_event or (lambda event: None)
        cancel = cancel or CancelToken()
        job = next(self._ids)
        pending = _Pending(emit)
        with self._lock:
            self._started()
            if not self._ready.is_set():  # the first run after the window opened, or after a crash
                emit(Notice("status", "Starting the render process: importing torch, finding the GPU…"))
            self._jobs[job] = pending
            # A copy crosses, never the live graph: that one holds the window's subscribers.
            self._send(("run", job, graph.copy(), targets, str(output_dir) if output_dir else None))
        try:
            self._wait_for(job, pending, cancel)
        finally:
            self._jobs.pop(job, None)
        if pending.error is not None:
            kind, detail = pending.error
            if kind == "invalid":
                raise GraphInvalid(detail)
            if kind == "stopped" and cancel.cancelled:
                return RunReport(cancelled=True)
            raise RenderProcessError(detail)
        report: RunReport = pending.value
        emit(Done(report))
        return report

    def estimate(self, graph: Any, *, budget: Any = None, targets: list[str] | None = None) -> Any:
        """The child engine's :meth:`Engine.estimate` (its device, its settings)."""
        return self._call("estimate", graph.copy(), budget=budget, targets=targets, timeout=ESTIMATE_TIMEOUT_S)

    def unload_models(self) -> list[str]:
        """Drop the child's loaded models (nothing to do when it is not running)."""
        return self._call("unload_models") if self.running else []

    def clear_outputs(self) -> None:
        """Forget the node outputs the child keeps, in memory and on disk."""
        if self.running:
            self._call("clear_outputs")

    def cache_sizes(self) -> dict[str, int]:
        """The child's cache sizes as it last reported them (after each job, unload or clear):
        answered at once, so the window never waits on a child that is busy importing torch."""
        return dict(self._sizes) if self.running else dict(NO_SIZES)

    def close(self) -> None:
        """Stop the child: running jobs are cancelled; it is ended if it does not stop in time."""
        with self._lock:
            self._closed = True
            process, reader = self._process, self._reader
            if process is None:
                return
            try:
                self._send(("close",))
            except RenderProcessError:
                pass
        # Only the reader thread waits for (reaps) the child: two threads waiting for one process
        # race, and the loser sees no exit code.
        reader.join(CLOSE_WAIT_S)
        if reader.is_alive():
            process.kill()
            reader.join(CLOSE_WAIT_S)

    # ---- the parent's side ------------------------------------------------------------------
    def _started(self) -> None:
        if self._closed:
            raise RenderProcessError("the render process was closed")
        if self._process is not None and self._retiring is self._process:
            self._reader.join(CLOSE_WAIT_S)  # it is ending by itself (a poisoned GPU): let it go first
        if self._process is not None:
            return
        context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt
        conn, child_conn = context.Pipe()
        process = context.Process(target=child_main, args=(child_conn, self.factory), name=self.name, daemon=True)
        try:
            process.start()
        except Exception as exc:
            conn.close()
            raise RenderProcessError(f"the render process could not start: {exc}") from exc
        finally:
            child_conn.close()
        self._process, self._conn, self._sizes = process, conn, dict(NO_SIZES)
        self._ready = threading.Event()
        self._reader = threading.Thread(
            target=self._read, args=(conn, process), name=f"{self.name}-reader", daemon=True
        )
        self._reader.start()

    def _send(self, message: tuple) -> None:
        with self._lock:
            try:
                self._conn.send(message)
            except (pickle.PicklingError, TypeError) as exc:  # something in the graph that cannot cross
                raise RenderProcessError(f"could not send {message[0]} to the render process: {exc}") from exc
            except (OSError, ValueError, AttributeError) as exc:
                raise RenderProcessError(f"the render process is not reachable: {exc}") from exc

    def _wait_for(self, job: int, pending: _Pending, cancel: CancelToken) -> None:
        told = None
        while not pending.finished.wait(POLL_S):
            if cancel.cancelled and told is None:
                told = time.monotonic()
                try:
                    self._send(("cancel", job))
                except RenderProcessError:
                    return
            elif told is not None and time.monotonic() - told > CANCEL_GRACE_S:
                # A model still loading cannot stop between steps: end the process (it is
                # started again for the next job) rather than keep the user waiting.
                log.warning(
                    "job %s did not stop within %.0f s of its cancel; ending the render process", job, CANCEL_GRACE_S
                )
                self._end(self._process)
                pending.finished.wait(CLOSE_WAIT_S)
                return

    def _call(self, method: str, *args: Any, timeout: float = CALL_TIMEOUT_S, **kwargs: Any) -> Any:
        call = next(self._ids)
        pending = _Pending()
        with self._lock:
            self._started()
            self._calls[call] = pending
            self._send(("call", call, method, args, kwargs))
        try:
            if not pending.finished.wait(timeout):
                raise RenderProcessError(f"the render process did not answer {method} within {timeout:.0f} s")
        finally:
            self._calls.pop(call, None)
        if pending.error is not None:
            kind, detail = pending.error
            if kind == "invalid":
                raise GraphInvalid(detail)
            raise RenderProcessError(detail)
        return pending.value

    def _end(self, process: Any) -> None:
        if process is not None:
            process.kill()  # a signal only: the reader sees the pipe close and reaps it

    def _read(self, conn: Any, process: Any) -> None:
        """The reader thread: hands each message from the child to its job or call."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # a message that does not unpickle here: drop it, keep reading
                log.warning("a message from the render process was unreadable: %s", exc)
                continue
            kind = message[0]
            if kind == "event":
                pending = self._jobs.get(message[1])
                if pending is not None and pending.emit is not None:
                    try:
                        pending.emit(message[2])
                    except Exception:  # a listener's failure must not stop the reader
                        log.exception("an event handler failed")
            elif kind in ("done", "reply"):
                pending = (self._jobs if kind == "done" else self._calls).get(message[1])
                if pending is not None:
                    pending.finish(message[2], message[3])
            elif kind == "sizes":
                self._sizes = message[1]
            elif kind == "ready":
                self._ready.set()
            elif kind == "retiring":
                self._retiring = process
        process.join(CLOSE_WAIT_S)
        if process.exitcode is None:  # the pipe closed but the process hangs on: end it
            process.kill()
            process.join(CLOSE_WAIT_S)
        reason = stopped_reason(process.exitcode)
        for pending in [*self._jobs.values(), *self._calls.values()]:
            if not pending.finished.is_set():
                pending.finish(
                    None,
                    (
                        "stopped",
                        f"The render process {reason}. The graph and earlier outputs are kept; Run starts a new one.",
                    ),
                )
        # No lock: only _started replaces a process, and only once this one is cleared (it may hold
        # the lock while it waits for this thread to end, after a poisoned GPU).
        if self._process is process:
            self._process, self._conn = None, None
        conn.close()


def stopped_reason(exitcode: int | None) -> str:
    """How a render process ended, in words a user can act on."""
    if exitcode is None:
        return "stopped answering"
    if exitcode == -signal.SIGKILL:
        return "was killed (SIGKILL: often the system running out of memory, or a cancel that could not wait)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"crashed ({name})"
    return f"exited with code {exitcode}"


# ---- the child's side ---------------------------------------------------------------------------
def child_main(conn: Any, factory: Callable[[], Engine]) -> None:
    """The child process: build the engine, then serve jobs and calls until told to stop or the
    parent goes away. Jobs run one after another on a thread of their own, so a cancel or a call
    (an estimate, an unload) is answered while one runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the parent's to handle
    if hasattr(os, "nice"):  # the window wins the CPU when both want it: renders are background work
        try:
            os.nice(CHILD_NICENESS)
        except OSError:
            pass
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            try:
                conn.send(message)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                if message[0] in ("done", "reply"):
                    conn.send((message[0], message[1], None, ("error", f"its result could not be sent back: {exc}")))
            except (OSError, ValueError):
                pass  # the parent went away; the receive loop ends too

    try:
        engine = factory()
        _ = engine.device  # resolve it now (imports torch): the first job then starts at once
    except Exception as exc:
        _serve_failure(conn, send, f"the render engine could not start: {type(exc).__name__}: {exc}")
        return
    tokens: dict[int, CancelToken] = {}
    jobs_lock = threading.Lock()  # one job at a time, in the order they came
    workers: list[threading.Thread] = []

    def run_job(job: int, graph: Any, targets: Any, output_dir: str | None) -> None:
        with jobs_lock:
            report, error = None, None
            try:
                report = engine.run(
                    graph,
                    lambda event: None if event.kind == "done" else send(("event", job, event)),
                    cancel=tokens[job],
                    targets=targets,
                    output_dir=output_dir,
                )
            except GraphInvalid as exc:
                error = ("invalid", exc.problems)
            except BaseException as exc:  # the job fails; the process serves the next one
                error = ("error", f"{type(exc).__name__}: {exc}")
            tokens.pop(job, None)
            sticky = _sticky_gpu_error(report, error)
            if sticky:
                send(("event", job, Notice("error", f"{sticky}: {RESTART_NOTE}")))
                send(("retiring",))  # before "done": the parent's next job waits for a new process
            send(("sizes", _sizes(engine)))  # before "done": the window reads them when the job ends
            send(("done", job, None if report is None else _sendable(report), error))
            if sticky:
                # The GPU context is unusable for every later job: end here (everything is sent;
                # no teardown, which may itself fault) and the next run starts a new process.
                os._exit(0)

    def answer(call: int, method: str, args: tuple, kwargs: dict) -> None:
        value, error = None, None
        try:
            if method == "estimate":
                value = engine.estimate(*args, **kwargs)
            elif method == "unload_models":
                value = engine.unload_models()
            elif method == "clear_outputs":
                value = engine.clear_outputs()
            else:
                raise ValueError(f"no call {method!r}")
        except GraphInvalid as exc:
            error = ("invalid", exc.problems)
        except Exception as exc:
            error = ("error", f"{type(exc).__name__}: {exc}")
        if method != "estimate":
            send(("sizes", _sizes(engine)))  # before the reply: the caller reads them next
        send(("reply", call, value, error))

    send(("ready", engine.device))
    send(("sizes", _sizes(engine)))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        kind = message[0]
        if kind == "run":
            tokens[message[1]] = CancelToken()
            thread = threading.Thread(target=run_job, args=message[1:], name=f"job-{message[1]}", daemon=True)
        elif kind == "call":
            thread = threading.Thread(target=answer, args=message[1:], name=f"call-{message[1]}", daemon=True)
        elif kind == "cancel":
            token = tokens.get(message[1])
            if token is not None:
                token.cancel()
            continue
        else:  # "close"
            break
        workers = [t for t in workers if t.is_alive()] + [thread]
        thread.start()
    for token in list(tokens.values()):
        token.cancel()
    deadline = time.monotonic() + CLOSE_WAIT_S
    for thread in workers:
        thread.join(max(0.0, deadline - time.monotonic()))


def _serve_failure(conn: Any, send: Callable[[tuple], None], text: str) -> None:
    """The engine could not be built: answer every job and call with why, until the parent closes."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "run":
            send(("done", message[1], None, ("error", text)))
        elif message[0] == "call":
            send(("reply", message[1], None, ("error", text)))
        elif message[0] == "close":
            return


def _sticky_gpu_error(report: RunReport | None, error: tuple[str, Any] | None) -> str | None:
    """The job's error that left the GPU unusable in this process, if any."""
    from studio.engine.device import sticky_gpu_error

    texts = [str(error[1])] if error is not None and error[0] == "error" else []
    texts += [r.error or "" for r in report.failed.values()] if report is not None else []
    return next((text for text in texts if sticky_gpu_error(text)), None)


def _sendable(report: RunReport) -> RunReport:
    """The report, less any output value that cannot cross to the parent (the files always can)."""
    try:
        pickle.dumps(report)
        return report
    except Exception:
        pass
    for values in report.outputs.values():
        for name, value in list(values.items()):
            try:
                pickle.dumps(value)
            except Exception:
                values[name] = repr(value)[:200]
    return report


def _sizes(engine: Engine) -> dict[str, int]:
    try:
        return engine.cache_sizes()
    except Exception:
        return dict(NO_SIZES)
