"""RunController: the bridge from the engine's RenderQueue (a worker thread) to Qt signals.

The queue calls ``on_event(job, event)`` on its own thread; the controller forwards each call
through one queued signal, so every signal below is emitted in the GUI thread, in order.
Step previews are coalesced: if the GUI is behind, only the newest preview is delivered.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

SWITCH_INTERVAL = 0.001  # seconds
TERMINAL = ("done", "failed", "cancelled", "invalid")
_PREVIEW = object()  # marker: "the newest preview of this job is waiting"


class RunController(QObject):
    job_changed = Signal(object, str)  # job, its status when it changed
    node_started = Signal(int, str)
    node_cached = Signal(int, str)
    progress_changed = Signal(int, str, int, int)  # job id, node id, done, total
    status_changed = Signal(int, str, str)  # job id, node id, what the node is doing ("Importing torch…")
    preview_arrived = Signal(int, str, object, object, object)  # job id, node id, image, step, total
    node_finished = Signal(int, str, float)
    node_failed = Signal(int, str, str, object)  # job id, node id, message, skipped node ids
    run_finished = Signal(object)  # the job, in a final state (done, failed, cancelled, invalid)
    cache_changed = Signal()  # models unloaded or the cache cleared
    memory_warned = Signal(int, str)  # job id, the estimate's warning: the run will not fit, and what would
    notice = Signal(str, str)  # level ("status" | "error"), text: where jobs run (a render farm unreachable)
    _relayed = Signal(object, object, object)
    _farm_answered = Signal(str, str)  # from the thread that asked a render farm's workers

    def __init__(self, make_engine: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make_engine = make_engine
        self._queue: Any = None
        self._lock = threading.Lock()
        self._starting = threading.Lock()
        self._closed = False
        self._latest_preview: dict[int, Any] = {}
        self._finished: set[int] = set()
        self._relayed.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._farm_answered.connect(self._farm_answer, Qt.ConnectionType.QueuedConnection)

    @property
    def queue(self) -> Any:
        """The render queue, started on first use so the window opens without a worker thread."""
        with self._starting:  # the memory estimate's thread may get here first
            if self._closed:
                raise RuntimeError("the render queue was shut down with its window")
            if self._queue is None:
                from studio.engine.worker import RenderQueue

                # An engine on a thread here competes with the GUI thread for the GIL (a render
                # process does not); a shorter switch interval (default 5 ms) lets the event loop
                # in sooner, keeping stalls short.
                sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
                self._queue = RenderQueue(self._make_engine(), self._on_worker_event)
        return self._queue

    @property
    def started(self) -> bool:
        return self._queue is not None

    # ---- commands (GUI thread) --------------------------------------------------------------
    def submit(self, graph: Any, *, title: str = "", output_dir: Any = None) -> Any:
        return self.queue.submit(graph, title=title, output_dir=output_dir)

    def cancel(self, job_id: int | None = None) -> None:
        if self._queue is not None:
            self._queue.cancel(job_id)

    def remove(self, job_id: int) -> None:
        self.queue.remove(job_id)
        self.job_changed.emit(None, "removed")

    def move(self, job_id: int, index: int) -> None:
        self.queue.move(job_id, index)
        self.job_changed.emit(None, "moved")

    def pause(self) -> None:
        self.queue.pause()
        self.job_changed.emit(None, "paused")

    def resume(self) -> None:
        self.queue.resume()
        self.job_changed.emit(None, "resumed")

    @property
    def paused(self) -> bool:
        return self._queue is not None and self._queue.paused

    @property
    def busy(self) -> bool:
        return self._queue is not None and self._queue.busy

    def jobs(self) -> list[Any]:
        return self._queue.jobs() if self._queue is not None else []

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._starting:
            self._closed = True  # a late timer or estimate starts no new queue
        if self._queue is not None:
            self._queue.shutdown(timeout)

    # ---- the engine's caches ----------------------------------------------------------------
    @property
    def engine(self) -> Any:
        """The engine runs go to (None until the first run starts the queue, or when a render
        farm runs them: its workers hold their own caches)."""
        engine = self._queue.engine if self._queue is not None else None
        return None if getattr(engine, "concurrent", False) else engine

    def cache_sizes(self) -> dict[str, int]:
        """Bytes held: ``outputs`` and ``models`` in memory, ``disk`` in the on-disk cache."""
        engine = self.engine
        return engine.cache_sizes() if engine is not None else {"outputs": 0, "models": 0, "disk": 0}

    def unload_models(self) -> int | None:
        """Release every loaded model (a run in progress keeps those it holds); returns how many, or
        None for a render farm: its workers answer over the network, off this thread, in a notice."""
        engine = self._queue.engine if self._queue is not None else None
        if getattr(engine, "concurrent", False):
            self._on_farm(engine.unload_models, "Unloaded {} model(s) on the render farm's workers")
            return None
        count = len(engine.unload_models()) if engine is not None else 0
        self.cache_changed.emit()
        return count

    def clear_cache(self) -> bool:
        """Forget every node output, in memory and on disk; loaded models stay. False for a render
        farm: its workers clear theirs off this thread and a notice says when they did."""
        engine = self._queue.engine if self._queue is not None else None
        if getattr(engine, "concurrent", False):
            self._on_farm(engine.clear_outputs, "The render farm's workers cleared their caches")
            return False
        if engine is not None:
            engine.clear_outputs()
        self.cache_changed.emit()
        return True

    def _on_farm(self, call: Callable[[], Any], done: str) -> None:
        def work() -> None:
            try:
                result = call()
            except Exception as exc:  # unreachable workers, a timeout: say so, the window goes on
                self._farm_answered.emit("error", f"The render farm did not answer: {type(exc).__name__}: {exc}")
                return
            self._farm_answered.emit("status", done.format(len(result) if isinstance(result, list) else ""))

        threading.Thread(target=work, name="farm-call", daemon=True).start()

    def _farm_answer(self, level: str, text: str) -> None:  # in the GUI thread (a queued connection)
        self.notice.emit(level, text)
        self.cache_changed.emit()

    def warm_up(self) -> None:
        """Start the queue and its engine before the first run: a render process starts and
        imports torch while the user reads the graph (an engine without ``start`` has nothing to do)."""
        if self._closed:
            return
        start = getattr(self.queue.engine, "start", None)
        if start is not None:
            start()

    def estimate(self, graph: Any) -> Any:
        """The memory estimate of the engine runs use (started when needed: one engine, not a second)."""
        return self.queue.engine.estimate(graph)

    def reconfigure(self) -> None:
        """After a settings change: the next run gets a fresh engine; a run in progress finishes
        on the engine it started with, and queued runs stay queued."""
        if self._queue is not None:
            self._queue.replace_engine(self._make_engine())

    # ---- the worker thread ------------------------------------------------------------------
    def _on_worker_event(self, job: Any, event: Any) -> None:
        if event is None:
            self._relayed.emit(job, None, job.status)  # the status now, not when the GUI gets to it
            return
        if event.kind == "preview":
            with self._lock:
                waiting = job.id in self._latest_preview
                self._latest_preview[job.id] = event
            if waiting:
                return
            self._relayed.emit(job, _PREVIEW, None)
            return
        self._relayed.emit(job, event, None)

    # ---- back in the GUI thread -------------------------------------------------------------
    def _dispatch(self, job: Any, event: Any, status: str | None) -> None:
        if event is None:
            self.job_changed.emit(job, status)
            if status in TERMINAL and job.id not in self._finished:
                self._finished.add(job.id)
                with self._lock:
                    self._latest_preview.pop(job.id, None)
                self.run_finished.emit(job)
            return
        if event is _PREVIEW:
            with self._lock:
                event = self._latest_preview.pop(job.id, None)
            if event is not None:
                self.preview_arrived.emit(job.id, event.node_id, event.image, event.step, event.total)
            return
        kind = event.kind  # the engine's event names; matching them needs no engine import here
        if kind == "node_started":
            self.node_started.emit(job.id, event.node_id)
        elif kind == "node_cached":
            self.node_cached.emit(job.id, event.node_id)
        elif kind == "progress":
            self.progress_changed.emit(job.id, event.node_id, event.done, event.total)
        elif kind == "status":
            self.status_changed.emit(job.id, event.node_id, event.text)
        elif kind == "node_finished":
            self.node_finished.emit(job.id, event.node_id, event.seconds)
        elif kind == "node_failed":
            self.node_failed.emit(job.id, event.node_id, event.message, tuple(event.skipped))
        elif kind == "memory_warning":
            advice = f"; would fit with {event.advice[0]}" if event.advice else ""
            self.memory_warned.emit(job.id, f"Job #{job.id}: {event.message.split(';')[0]}{advice}")
        elif kind == "worker_assigned":  # job.worker is set: the queue shows it
            self.job_changed.emit(job, job.status)
            if event.reason:
                self.notice.emit("status", f"Run #{job.id}: {event.reason} on {event.worker}")
        elif kind == "notice":
            self.notice.emit(event.level, event.text)
        # "done" needs nothing: the job's final status follows and carries the report
