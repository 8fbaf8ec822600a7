"""What ``studio run`` shows and how it is interrupted: the progress and JSON printers, log lines,
and Ctrl+C/SIGTERM handling while the run works on a thread of its own.

Text that comes from a graph, an event or the file system is printed through :func:`safe`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from studio.textsafe import safe

CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)
FORCE_GRACE = 2.0  # seconds from the first interrupt that a second one still waits for the run to stop
FORCED_EXIT = 1  # the exit code of a run that failed or was cancelled (studio.cli's EXIT_FAILED)


class RunInterrupts:
    """Ctrl+C and SIGTERM during ``studio run``: the first cancels the run, which stops within one
    step and still reports ``done``; a second one quits without waiting for a step that cannot stop
    (a model load), though not before ``FORCE_GRACE`` seconds after the first.

    The run works on a thread of its own so that this (main) thread stays free to handle signals.
    """

    def __init__(self, token: Any, watch: RunWatch) -> None:
        self.token = token
        self.watch = watch
        self.count = 0
        self.first_at = 0.0
        self.started = time.perf_counter()
        self.running = False  # whether the worker has started; before that this thread is loading the graph
        self.finished = threading.Event()

    @contextlib.contextmanager
    def installed(self) -> Iterator[RunInterrupts]:
        if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
            yield self
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in CANCEL_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                # Once interrupted, the command is on its way out: one more Ctrl+C in the instant
                # the run stops must not turn a clean exit into a death by SIGINT.
                restored = signal.SIG_IGN if self.count else handler if handler is not None else signal.SIG_DFL
                signal.signal(sig, restored)

    def wait_for(self, run: Callable[[], Any]) -> Any:
        """Call ``run()`` on a worker thread and return its result once it has ended.

        The worker is never left running: interpreter shutdown while a thread is inside torch
        aborts the process. It is awaited on an Event, not with ``Thread.join(timeout)``, which on
        Python 3.11 can mark a thread that is still running as finished when a signal interrupts it.
        """
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["value"] = run()
            except BaseException as exc:  # re-raised on the main thread, which owns the exit code
                outcome["error"] = exc
            finally:
                self.finished.set()

        worker = threading.Thread(target=work, name="studio-run")
        self.running = True
        worker.start()
        while not self.finished.wait(0.1):  # a timeout: a signal that lands on another thread runs its handler here
            pass
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1:
            self.first_at = time.perf_counter()
            self.token.cancel()
            _note("cancelling: the run stops at its next step (Ctrl+C again quits without waiting)")
        elif not self.running:  # this very thread is still loading the graph: waiting would hold it up
            self._quit_now()
        elif not self.finished.wait(max(0.0, self.first_at + FORCE_GRACE - time.perf_counter())):
            self._quit_now()

    def _quit_now(self) -> None:
        """Leave while the worker is still inside a step that cannot be interrupted (a model load).

        ``os._exit`` skips interpreter shutdown, the part that aborts the process ("terminate called
        without an active exception") when a thread is still inside torch. Nodes that write files
        check for cancelling every frame, so within the grace period they have stopped and removed
        their temporary file.
        """
        current = self.watch.current
        _note(f"quit without waiting for {safe(f'{current[0]} ({current[1]})') if current else 'the run'}")
        self.watch.abandon(time.perf_counter() - self.started)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(FORCED_EXIT)


def _note(text: str) -> None:
    sys.stderr.write(("\n" if sys.stderr.isatty() else "") + text + "\n")
    sys.stderr.flush()


class RunWatch:
    """Passes a run's events to a printer, one at a time, keeping what a report of an abandoned run needs."""

    def __init__(self, printer: JsonPrinter | ProgressPrinter) -> None:
        self.printer = printer
        self.current: tuple[str, str] | None = None
        self.nodes: dict[str, tuple[str, float, str | None]] = {}  # id -> (status, seconds, error)
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            kind = event.kind
            if kind == "node_started":
                self.current = (event.node_id, event.node_type)
            elif kind in ("node_finished", "node_cached", "node_failed"):
                self.current = None
                status = {"node_finished": "ran", "node_cached": "cached", "node_failed": "failed"}[kind]
                self.nodes[event.node_id] = (status, getattr(event, "seconds", 0.0), getattr(event, "message", None))
            self.printer(event)

    def abandon(self, seconds: float) -> None:
        """Report the run as cancelled without the engine: the nodes so far, the one running skipped."""
        from studio.engine import Done, NodeReport, RunReport

        report = RunReport(cancelled=True, seconds=seconds)
        report.nodes = {node_id: NodeReport(*entry) for node_id, entry in self.nodes.items()}
        if self.current is not None:
            report.nodes[self.current[0]] = NodeReport("skipped", error="cancelled")
        # Not if the worker is stuck writing an event (a reader that stopped reading): no torn line.
        if self._lock.acquire(timeout=1.0):
            with contextlib.suppress(OSError):  # a closed stdout must not stop the exit
                self.printer(Done(report))
                self.printer.finish(report)


class JsonPrinter:
    """One JSON object per line on stdout, flushed, for tools that drive the studio.

    ``json.dumps`` escapes control characters (and all non-ASCII), so no text in an event can
    steer a terminal or forge a line.
    """

    def __call__(self, event: Any) -> None:
        sys.stdout.write(json.dumps(event.to_json(), default=str) + "\n")
        sys.stdout.flush()

    def finish(self, report: Any) -> None:
        """Nothing to add: the ``done`` event was the last line."""


class ProgressPrinter:
    """A one-line progress bar on a terminal; plain lines when output is a file or pipe."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.perf_counter()
        self.current = ""

    def __call__(self, event: Any) -> None:
        kind = event.kind
        if kind == "node_started":
            self.current = f"{event.node_id} ({event.node_type})"
            self._line(f"running {self.current}")
        elif kind == "node_cached":
            self._line(f"cached  {event.node_id} ({event.node_type})", final=True)
        elif kind == "status":
            self._line(f"        {event.node_id}: {event.text}", final=True)
        elif kind == "progress" and self.tty:
            width = 24
            filled = int(width * event.done / max(event.total, 1))
            self._line(f"running {self.current} [{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total}")
        elif kind == "node_finished":
            self._line(f"done    {event.node_id} ({event.node_type}) in {event.seconds:.2f}s", final=True)
        elif kind == "memory_warning":
            self._line(f"warning: {event.message}", final=True)
            for advice in event.advice:
                self._line(f"  would fit with {advice}", final=True)
        elif kind == "node_failed":
            self._line(f"FAILED  {event.message}", final=True)
            if event.skipped:
                self._line(f"skipped {', '.join(event.skipped)}", final=True)

    def _line(self, text: str, final: bool = False) -> None:
        text = safe(text)  # node ids, types and messages come from the graph file
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + text[:200] + ("\n" if final else ""))
        elif final or text.startswith("running"):
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def finish(self, report: Any) -> None:
        elapsed = time.perf_counter() - self.started
        if report.cancelled:
            print(f"cancelled after {elapsed:.1f}s", file=sys.stderr)
        elif not report.ok:
            reasons = "; ".join(r.error or "" for r in report.failed.values())
            print(f"run failed after {elapsed:.1f}s: {safe(reasons)}", file=sys.stderr)
        for path in report.files():
            print(f"wrote {safe(str(path))}")


def log_to_stderr() -> None:
    """Log records as lines on stderr (see :class:`LogLine`), unless the caller set up logging already."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(LogLine())
        root.addHandler(handler)


class LogLine(logging.Formatter):
    """A log record as one escaped line. A traceback follows only for what may be a bug in our code:
    an OSError (a name too long, a full disk, a permission) is the user's to fix, and the node's
    failure line already names it."""

    def format(self, record: logging.LogRecord) -> str:
        line = safe(f"{record.levelname.lower()}: {record.getMessage()}")
        error = record.exc_info[1] if record.exc_info else None
        if error is None or isinstance(error, OSError):
            return line
        return line + "\n" + self.formatException(record.exc_info)
