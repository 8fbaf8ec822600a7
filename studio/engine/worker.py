"""A background worker that runs queued graphs (the app's render queue): one at a time on an
:class:`Engine`, or several at once on a runner with ``concurrent = True`` and ``slots`` (a render
farm: :class:`studio.farm.ClusterRunner`), each on a thread of its own.

Qt-free: the app wraps ``on_event`` so events cross into the GUI thread as queued signals.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from studio.engine.context import CancelToken
from studio.engine.engine import Engine, RunReport
from studio.engine.events import Event
from studio.graph.model import Graph
from studio.graph.validate import GraphInvalid

POLL_S = 0.2  # how often a queue on a concurrent runner looks whether it has more slots (it connects lazily)
QUEUED, RUNNING, DONE, FAILED, CANCELLED, INVALID = "queued", "running", "done", "failed", "cancelled", "invalid"


@dataclass
class Job:
    id: int
    graph: Graph  # a snapshot: editing the window's graph after queueing does not change the job
    title: str = ""
    output_dir: Path | None = None
    status: str = QUEUED
    report: RunReport | None = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    cancel: CancelToken = field(default_factory=CancelToken)
    worker: str | None = None  # where it runs: None in this process, else a farm worker's name


JobHandler = Callable[[Job, Event | None], None]


class RenderQueue:
    """Runs submitted graphs in submission order; reorder, remove, pause, cancel.

    ``engine`` is what runs a job: anything with :meth:`Engine.run`'s signature. One job runs at
    a time, on the queue's thread, unless it says ``concurrent = True``: then up to its ``slots``
    run at once. An engine with ``close()`` is closed on the queue's thread when replaced or at
    shutdown.

    ``on_event(job, event)`` is called from the worker thread for every engine event, and with
    ``event=None`` whenever a job's status changes.
    """

    def __init__(self, engine: Engine, on_event: JobHandler | None = None) -> None:
        self.engine = engine
        self._on_event = on_event or (lambda job, event: None)
        self._jobs: list[Job] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._running: list[Job] = []
        self._next_engine: Engine | None = None
        self._retired: list[Engine] = []  # replaced engines, closed on the queue's thread
        self._job_threads: list[threading.Thread] = []  # a concurrent runner's jobs
        self._thread = threading.Thread(target=self._loop, name="studio-render", daemon=True)
        self._thread.start()

    # ---- queue editing (any thread) ----------------------------------------------------
    def submit(self, graph: Graph, *, title: str = "", output_dir: str | Path | None = None) -> Job:
        job = Job(
            next(self._ids),
            graph.copy(),
            title or graph.meta.get("title") or "",
            Path(output_dir) if output_dir else None,
        )
        with self._cond:
            self._jobs.append(job)
            self._cond.notify_all()
        self._on_event(job, None)
        return job

    def jobs(self) -> list[Job]:
        with self._cond:
            return list(self._jobs)

    def pending(self) -> list[Job]:
        with self._cond:
            return [j for j in self._jobs if j.status == QUEUED]

    def move(self, job_id: int, index: int) -> None:
        """Move a queued job to ``index`` among the queued jobs."""
        with self._cond:
            job = self._find(job_id)
            if job.status != QUEUED:
                raise ValueError(f"job {job_id} is {job.status}; only queued jobs can be reordered")
            queued = [j for j in self._jobs if j.status == QUEUED and j is not job]
            queued.insert(max(0, min(index, len(queued))), job)
            others = [j for j in self._jobs if j.status != QUEUED]
            self._jobs = others + queued

    def remove(self, job_id: int) -> None:
        """Remove a job; a running one is cancelled first."""
        with self._cond:
            job = self._find(job_id)
            if job.status == RUNNING:
                job.cancel.cancel()
            self._jobs.remove(job)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel the running jobs (default) or one job, running or queued."""
        with self._cond:
            targets = list(self._running) if job_id is None else [self._find(job_id)]
            for job in targets:
                job.cancel.cancel()
                if job.status == QUEUED:
                    job.status = CANCELLED
        for job in targets:
            if job.status == CANCELLED:
                self._on_event(job, None)

    def pause(self) -> None:
        """Finish the running job, then start no new one until :meth:`resume`."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def busy(self) -> bool:
        with self._cond:
            return bool(self._running) or any(j.status == QUEUED for j in self._jobs)

    def replace_engine(self, engine: Engine) -> None:
        """Run the next job (not the running one) on ``engine``, e.g. after a settings change.

        A run in progress keeps the engine it started with; the swap happens between jobs,
        so queued jobs stay queued.
        """
        with self._cond:
            if self._running:
                self._next_engine = engine
            else:
                self._retired.append(self.engine)
                self.engine = engine
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is running or queued (used by tests and headless callers)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._running or (not self._paused and any(j.status == QUEUED for j in self._jobs)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel what runs, drop what waits, and stop the thread."""
        with self._cond:
            self._stopping = True
            for job in self._running:
                job.cancel.cancel()
            self._cond.notify_all()
        self._thread.join(timeout)

    def _find(self, job_id: int) -> Job:
        for job in self._jobs:
            if job.id == job_id:
                return job
        raise KeyError(f"no job {job_id}")

    # ---- the worker thread -------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            job = None
            with self._cond:
                while not self._stopping and not self._can_start() and not self._retired:
                    self._cond.wait(POLL_S if getattr(self.engine, "concurrent", False) else None)
                retired, self._retired = self._retired, []
                if not self._stopping and self._can_start():
                    job = next(j for j in self._jobs if j.status == QUEUED)
                    job.status = RUNNING
                    self._running.append(job)
                    engine = self.engine
            _close(retired)  # outside the lock: a farm runner takes seconds to disconnect
            if self._stopping:
                break
            if job is None:
                continue
            self._on_event(job, None)
            if getattr(engine, "concurrent", False):
                thread = threading.Thread(
                    target=self._run, args=(job, engine), name=f"studio-job-{job.id}", daemon=True
                )
                self._job_threads = [t for t in self._job_threads if t.is_alive()] + [thread]
                thread.start()
            else:
                self._run(job, engine)
        deadline = time.monotonic() + 8.0  # stopping: give the running jobs time to see their cancel
        for thread in self._job_threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            retired, self._retired = [*self._retired, self.engine], []
        _close(retired)

    def _can_start(self) -> bool:
        """A queued job may start: not paused, a slot free, and no engine swap waiting."""
        if self._paused or not any(j.status == QUEUED for j in self._jobs):
            return False
        if self._next_engine is not None:
            return False  # the swap comes first, when the running jobs end
        slots = max(1, int(getattr(self.engine, "slots", 1))) if getattr(self.engine, "concurrent", False) else 1
        return len(self._running) < slots

    def _run(self, job: Job, engine: Engine) -> None:
        self._execute(job, engine)
        with self._cond:
            self._running.remove(job)
            if self._next_engine is not None and not self._running:
                self._retired.append(self.engine)
                self.engine, self._next_engine = self._next_engine, None
            self._cond.notify_all()
        self._on_event(job, None)

    def _execute(self, job: Job, engine: Engine) -> None:
        def forward(event: Event) -> None:
            if event.kind == "worker_assigned":
                job.worker = event.worker
            self._on_event(job, event)

        try:
            job.report = engine.run(job.graph, forward, cancel=job.cancel, output_dir=job.output_dir)
        except GraphInvalid as exc:
            job.status, job.error = INVALID, str(exc)
            return
        except Exception as exc:  # the worker must survive anything a run throws
            job.status, job.error = FAILED, f"{type(exc).__name__}: {exc}"
            return
        report = job.report
        if report.cancelled:
            job.status = CANCELLED
        elif report.ok:
            job.status = DONE
        else:
            job.status = FAILED
            job.error = "; ".join(f"{k}: {r.error}" for k, r in report.failed.items())


def _close(engines: list) -> None:
    """Close replaced engines that can be closed (a farm runner disconnects from its cluster)."""
    for engine in engines:
        close = getattr(engine, "close", None)
        if close is None:
            continue
        try:
            close()
        except Exception as exc:  # a farm that will not close must not stop the queue
            logging.getLogger(__name__).warning("could not close %s: %s", type(engine).__name__, exc)
