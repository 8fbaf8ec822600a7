"""ClusterRunner: the window's render queue on a Ray cluster, behind the engine's interface.

The queue (:class:`studio.engine.RenderQueue`) calls :meth:`ClusterRunner.run` as it would
:meth:`Engine.run`, on a thread per job, up to :attr:`slots` at once (one per cluster worker). The
runner connects on the first job, from that thread (never the caller's: the window stays
responsive), and keeps its :class:`~studio.farm.Farm` until closed, so models stay loaded on the
workers between jobs. A job goes to an idle worker that already holds its models when there is one;
its events come back through the farm's event queue and its files into the output folder,
atomically and numbered, as :func:`studio.farm.run_on_cluster` places them.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.engine import CancelToken, RunReport
from studio.engine.events import Event, Notice, WorkerAssigned
from studio.farm.driver import CANCEL_WAIT_S, POLL_S, Farm, FarmError, _first_line, connect
from studio.farm.results import model_signature, place_file, repoint

EventHandler = Callable[[Event], None]
CALL_TIMEOUT_S = 30.0  # Unload models / Clear cache: every worker answers, or the window says it did not
RETRY_AFTER_S = 15.0  # after a failed connect, the jobs queued behind fail at once for this long (not 10 s each)


class ClusterRunner:
    """Runs jobs on the Ray cluster at ``address`` (``HOST:PORT``, or ``local`` for one on this machine)."""

    concurrent = True  # the queue runs up to ``slots`` jobs at once, each on a thread of its own

    def __init__(self, address: str, registry: Any, output_dir: Path) -> None:
        self.address = address
        self.registry = registry
        self.output_dir = Path(output_dir)
        self._connecting = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self.farm: Farm | None = None
        self._idle = threading.Condition()
        self._free: list[int] = []
        self._handlers: dict[int, Callable[[str, Any], None]] = {}
        self._relaying = threading.Lock()
        self._ids = itertools.count(1)
        self._refused: tuple[float, str] | None = None  # when connecting last failed, and why

    @property
    def slots(self) -> int:
        """Jobs that may run at once: the cluster's workers once connected, else one (the first job connects)."""
        return len(self.farm.workers) if self.farm is not None else 1

    def run(
        self,
        graph: Any,
        on_event: EventHandler | None = None,
        *,
        cancel: CancelToken | None = None,
        output_dir: Path | None = None,
    ) -> RunReport:
        """Render ``graph`` on a worker; blocks until it is done, failed or cancelled.

        Raises :class:`FarmError` when the cluster cannot be reached or the worker went away.
        """
        from studio.graph import dumps_graph

        emit = on_event or (lambda event: None)
        cancel = cancel or CancelToken()
        farm = self._connected(emit)
        signature = model_signature(graph, self.registry)
        worker = self._take_worker(signature, cancel)
        if worker is None:
            return RunReport(cancelled=True)
        job = next(self._ids)
        started = time.perf_counter()
        self._handlers[job] = _Relay(emit).handle
        try:
            ref = farm.workers[worker].render.remote(job, dumps_graph(graph, indent=None), farm.events, None)
            answer = self._wait(ref, cancel)
            if answer is None:
                return RunReport(cancelled=True, seconds=time.perf_counter() - started)
            if "error" in answer:
                raise FarmError(answer["error"])
            report = answer["report"]
            target = Path(output_dir) if output_dir else self.output_dir
            moved = {path: place_file(target, relative, data) for path, relative, data in answer["files"]}
            repoint(report, moved)
            farm.loaded[worker].add(signature)
            return report
        finally:
            self._relay()
            self._handlers.pop(job, None)
            with self._idle:
                self._free.append(worker)
                self._idle.notify_all()

    def estimate(self, graph: Any) -> Any:
        """No estimate here (the window's memory label): this machine's memory says nothing about the workers'."""
        raise FarmError(f"renders go to the render farm at {self.address}: its workers' memory is not estimated here")

    def unload_models(self) -> list[str]:
        """Every worker drops its loaded models; returns the keys dropped (none before connecting).
        Blocks for the workers' answers: call it off the GUI thread."""
        import ray

        farm = self.farm
        if farm is None:
            return []
        answers = ray.get([worker.unload_models.remote() for worker in farm.workers], timeout=CALL_TIMEOUT_S)
        for loaded in farm.loaded:
            loaded.clear()  # no worker holds a job's models now: any idle one will do
        return [key for keys in answers for key in keys]

    def clear_outputs(self) -> None:
        """Every worker forgets the node outputs it keeps. Blocks: call it off the GUI thread."""
        import ray

        farm = self.farm
        if farm is not None:
            ray.get([worker.clear_outputs.remote() for worker in farm.workers], timeout=CALL_TIMEOUT_S)

    def close(self) -> None:
        """Stop the workers and disconnect (the queue calls this on its own thread)."""
        with self._connecting:
            farm, self.farm = self.farm, None
            if farm is not None:
                farm.close()
            if self._stack is not None:
                self._stack.close()
                self._stack = None

    # ---- inside run -----------------------------------------------------------------------
    def _connected(self, emit: EventHandler) -> Farm:
        with self._connecting:
            if self.farm is not None:
                return self.farm
            if self._refused is not None and time.monotonic() - self._refused[0] < RETRY_AFTER_S:
                raise FarmError(self._refused[1])
            emit(Notice("status", f"Connecting to the render farm at {self.address}…"))
            stack = contextlib.ExitStack()
            try:
                stack.enter_context(connect(self.address))
                farm = Farm()
            except Exception as exc:  # FarmError, or Ray's own when the workers cannot start
                stack.close()
                reason = str(exc).removeprefix("--cluster ") if isinstance(exc, FarmError) else None
                reason = reason or f"{self.address}: the render workers could not start: {_first_line(exc)}"
                text = f"Render farm {reason}. Check its address in Settings (empty: render on this machine)."
                emit(Notice("error", text))
                self._refused = (time.monotonic(), text)
                raise FarmError(text) from None
            self._stack, self.farm = stack, farm
            with self._idle:
                self._free = list(range(len(farm.workers)))
            emit(Notice("status", f"Render farm {self.address}: {len(farm.workers)} workers ({', '.join(farm.names)})"))
            return farm

    def _take_worker(self, signature: frozenset[str], cancel: CancelToken) -> int | None:
        """An idle worker, one holding the job's models when there is one (None if cancelled while waiting)."""
        with self._idle:
            while not self._free:
                if cancel.cancelled:
                    return None
                self._idle.wait(POLL_S)
            loaded = self.farm.loaded if self.farm is not None else []
            chosen = next((w for w in self._free if signature in loaded[w]), self._free[0])
            self._free.remove(chosen)
            return chosen

    def _wait(self, ref: Any, cancel: CancelToken) -> dict[str, Any] | None:
        """The task's answer, or None once cancelled (``ray.cancel``: the worker's engine stops within a step)."""
        import ray
        from ray.exceptions import RayActorError, TaskCancelledError

        deadline = None
        while True:
            ready, _ = ray.wait([ref], timeout=POLL_S)
            self._relay()
            if ready:
                break
            if cancel.cancelled and deadline is None:
                ray.cancel(ref)
                deadline = time.monotonic() + CANCEL_WAIT_S
            if deadline is not None and time.monotonic() > deadline:
                return None  # a model still loading cannot stop; the worker takes the next job after it
        try:
            return ray.get(ref)
        except TaskCancelledError:
            return None
        except RayActorError as exc:
            raise FarmError(f"the worker stopped and could not be restarted: {_first_line(exc)}") from None

    def _relay(self) -> None:
        """Hand the events waiting in the farm's queue to their jobs (whichever job's thread gets here)."""
        farm = self.farm
        if farm is None:
            return
        with self._relaying:
            size = farm.events.qsize()
            for job, kind, payload in farm.events.get_nowait_batch(size) if size else ():
                handler = self._handlers.get(job)
                if handler is not None:
                    handler(kind, payload)


class _Relay:
    """One job's events from its worker: the worker's name (again, when Ray retried the job
    because its worker died), then the engine's events."""

    def __init__(self, emit: EventHandler) -> None:
        self.emit = emit
        self.worker: str | None = None

    def handle(self, kind: str, payload: Any) -> None:
        if kind != "started":
            self.emit(payload)
            return
        reason = f"{self.worker} stopped mid-job; retried" if self.worker else ""
        self.worker = payload["name"]
        self.emit(WorkerAssigned(self.worker, reason))
