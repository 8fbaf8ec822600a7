"""A background worker that runs queued graphs one at a time (the app's render queue).

Qt-free: the app wraps ``on_event`` so events cross into the GUI thread as queued signals.
"""

from __future__ import annotations

import itertools
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


JobHandler = Callable[[Job, Event | None], None]


class RenderQueue:
    """Runs submitted graphs in submission order on one thread; reorder, remove, pause, cancel.

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
        self._current: Job | None = None
        self._next_engine: Engine | None = None
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
        """Cancel the running job (default) or a queued one."""
        with self._cond:
            job = self._current if job_id is None else self._find(job_id)
            if job is None:
                return
            job.cancel.cancel()
            if job.status == QUEUED:
                job.status = CANCELLED
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
            return self._current is not None or any(j.status == QUEUED for j in self._jobs)

    def replace_engine(self, engine: Engine) -> None:
        """Run the next job (not the running one) on ``engine``, e.g. after a settings change.

        A run in progress keeps the engine it started with; the swap happens between jobs,
        so queued jobs stay queued.
        """
        with self._cond:
            if self._current is None:
                self.engine = engine
            else:
                self._next_engine = engine

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is running or queued (used by tests and headless callers)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._current is not None or (not self._paused and any(j.status == QUEUED for j in self._jobs)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel what runs, drop what waits, and stop the thread."""
        with self._cond:
            self._stopping = True
            if self._current is not None:
                self._current.cancel.cancel()
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
            with self._cond:
                while not self._stopping and (self._paused or not any(j.status == QUEUED for j in self._jobs)):
                    self._cond.wait()
                if self._stopping:
                    return
                job = next(j for j in self._jobs if j.status == QUEUED)
                job.status = RUNNING
                self._current = job
            self._on_event(job, None)
            self._execute(job)
            with self._cond:
                self._current = None
                if self._next_engine is not None:
                    self.engine, self._next_engine = self._next_engine, None
                self._cond.notify_all()
            self._on_event(job, None)

    def _execute(self, job: Job) -> None:
        def forward(event: Event) -> None:
            self._on_event(job, event)

        try:
            job.report = self.engine.run(job.graph, forward, cancel=job.cancel, output_dir=job.output_dir)
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
