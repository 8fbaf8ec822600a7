"""Runs a batch's jobs on a Ray cluster: one :class:`RenderWorker` actor per GPU (or CPU slot),
jobs handed to idle workers, preferring one that holds the job's models already.

Ray does the placement, transport, restarts and retries (``max_restarts``/``max_task_retries``: a
worker killed mid-job is restarted and its job run again, which the driver reports); cancelling
is ``ray.cancel`` on the running tasks, whose engines see it within one step. The driver's own
part is choosing which pending job an idle worker takes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from studio.batch import BatchPrinter, BatchSummary, JobResult, record
from studio.engine import Done, NodeReport, RunReport
from studio.farm.results import model_signature, place_file, repoint
from studio.farm.worker import RenderWorker
from studio.run_console import RunWatch

RESTARTS = 3  # a worker process that dies is restarted (and its job retried) up to this many times
POLL_S = 0.1
CONNECT_TIMEOUT_S = 10.0
CANCEL_WAIT_S = 60.0  # how long a cancelled batch waits for its running jobs to stop (a model load cannot)


class FarmError(Exception):
    """The cluster cannot be used: Ray missing, or the address unreachable."""


@contextlib.contextmanager
def connect(address: str, num_cpus: int | None = None) -> Iterator[None]:
    """Connect to the Ray cluster at ``address`` (``HOST:PORT``), or start one on this machine's
    loopback for ``local``; disconnect (and stop a local one) on leaving. A process already
    connected (a test's cluster, the app's) keeps its connection."""
    try:
        import ray
    except ImportError:
        raise FarmError("--cluster needs Ray: pip install 'studio[cluster]'") from None
    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves this machine
        options.update(include_dashboard=False, _node_ip_address="127.0.0.1", num_cpus=num_cpus)
    else:
        _check_reachable(address)
    try:
        ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        hint = "" if address == "local" else "; a cluster with token authentication needs RAY_AUTH_MODE=token here too"
        raise FarmError(
            f"--cluster {address}: cannot connect to a Ray cluster there ({_first_line(exc)}){hint}"
        ) from None
    try:
        yield
    finally:
        ray.shutdown()


class Farm:
    """The workers of one cluster, kept while the farm lives (models stay loaded between batches)."""

    def __init__(self, max_workers: int | None = None) -> None:
        import ray
        from ray.util.queue import Queue

        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        count = gpus or max(1, int(resources.get("CPU", 1)))
        count = min(count, max_workers) if max_workers else count
        remote = ray.remote(RenderWorker).options(
            num_gpus=1 if gpus else 0,
            num_cpus=0 if gpus else 1,
            max_restarts=RESTARTS,
            max_task_retries=RESTARTS,
        )
        self.events = Queue(actor_options={"num_cpus": 0})
        self.workers = [remote.remote(index) for index in range(count)]
        self.names = [info["name"] for info in ray.get([w.info.remote() for w in self.workers])]
        self.loaded: list[set[frozenset[str]]] = [set() for _ in self.workers]  # model signatures per worker

    def worker_pids(self) -> list[int]:
        """The workers' process ids now (tests kill one)."""
        import ray

        return [info["pid"] for info in ray.get([w.info.remote() for w in self.workers])]

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker, no_restart=True)
        ray.kill(self.events.actor, no_restart=True)

    def run(
        self, jobs: list, registry: Any, output_dir: Path, printer: BatchPrinter, token: Any, shared: bool = False
    ) -> BatchSummary:
        return _BatchRun(self, jobs, registry, output_dir, printer, token, shared).run()


class _BatchRun:
    """One batch on a farm: hand out jobs, relay events, collect results."""

    def __init__(
        self, farm: Farm, jobs: list, registry: Any, output_dir: Path, printer: BatchPrinter, token: Any, shared: bool
    ) -> None:
        self.farm = farm
        self.output_dir = output_dir
        self.printer = printer
        self.token = token
        self.shared = shared
        self.pending = deque(jobs)
        self.signatures = {job.index: model_signature(job.graph, registry) for job in jobs}
        self.results = {job.index: JobResult(job.index, job.values) for job in jobs}
        self.jobs = {job.index: job for job in jobs}
        self.watches: dict[int, RunWatch] = {}
        self.started: dict[int, float] = {}
        self.running: dict[Any, tuple[int, int]] = {}  # task ref -> (job, worker)

    def run(self) -> BatchSummary:
        import ray

        began = time.perf_counter()
        idle = list(range(len(self.farm.workers)))
        cancel_deadline = None
        while self.pending or self.running:
            if self.token.cancelled and cancel_deadline is None:
                cancel_deadline = time.monotonic() + CANCEL_WAIT_S
                for ref in self.running:
                    ray.cancel(ref)
                while self.pending:
                    self.results[self.pending.popleft().index].status = "cancelled"
            while idle and self.pending and cancel_deadline is None:
                worker = idle.pop(0)
                job = self._choose(worker)
                text = job.graph_text()
                ref = self.farm.workers[worker].render.remote(
                    job.index, text, self.farm.events, str(self.output_dir) if self.shared else None
                )
                self.running[ref] = (job.index, worker)
                self.started[job.index] = time.perf_counter()
            ready, _ = ray.wait(list(self.running), num_returns=1, timeout=POLL_S)
            self._relay_events()
            for ref in ready:
                job, worker = self.running.pop(ref)
                self._finish(job, worker, ref)
                idle.append(worker)
            if cancel_deadline is not None and time.monotonic() > cancel_deadline:
                for job, _worker in self.running.values():
                    self._end_without_report(job, "cancelled", None)
                break
        self._relay_events()
        return BatchSummary([self.results[i] for i in sorted(self.results)], time.perf_counter() - began)

    def _choose(self, worker: int) -> Any:
        """The pending job for ``worker``: one whose models it holds, else one whose models no
        worker holds, else the first."""
        held_elsewhere = set().union(*(s for i, s in enumerate(self.farm.loaded) if i != worker))
        fallback = None
        for job in self.pending:
            signature = self.signatures[job.index]
            if signature in self.farm.loaded[worker]:
                fallback = job
                break
            if fallback is None and signature not in held_elsewhere:
                fallback = job
        chosen = fallback or self.pending[0]
        self.pending.remove(chosen)
        return chosen

    def _relay_events(self) -> None:
        queue = self.farm.events
        size = queue.qsize()
        for job, kind, payload in queue.get_nowait_batch(size) if size else ():
            if kind == "started":
                self._started(job, payload)
            elif job in self.watches:
                self.watches[job](payload)

    def _started(self, job: int, info: dict[str, Any]) -> None:
        result = self.results[job]
        if result.worker is None:
            self.printer.job_started(self.jobs[job], info["name"])
        else:  # Ray ran the task again: its worker died mid-job
            result.retries += 1
            reason = f"{result.worker} stopped mid-job (worker process ended)"
            self.printer.job_retried(self.jobs[job], info["name"], reason)
        result.worker = info["name"]
        self.watches[job] = RunWatch(self.printer.for_job(job))

    def _finish(self, job: int, worker: int, ref: Any) -> None:
        import ray
        from ray.exceptions import RayActorError, TaskCancelledError

        try:
            answer = ray.get(ref)
        except TaskCancelledError:
            self._end_without_report(job, "cancelled", None)
            return
        except RayActorError as exc:
            self._end_without_report(
                job, "failed", f"{self.farm.names[worker]} stopped and could not be restarted: {_first_line(exc)}"
            )
            return
        except Exception as exc:  # a bug on the worker: the job fails, the batch goes on
            self._end_without_report(job, "failed", f"on {self.farm.names[worker]}: {_first_line(exc)}")
            return
        if "error" in answer:
            self._end_without_report(job, "failed", answer["error"])
            return
        report = answer["report"]
        try:
            moved = {
                worker_path: place_file(self.output_dir, relative, data)
                for worker_path, relative, data in answer["files"]
            }
        except (OSError, ValueError) as exc:
            self._end_without_report(job, "failed", f"cannot place the result in {self.output_dir}: {exc}")
            return
        repoint(report, moved)
        self.farm.loaded[worker].add(self.signatures[job])
        watch = self._watch(job)
        watch(Done(report))
        watch.printer.finish(report)
        record(self.results[job], report)

    def _end_without_report(self, job: int, status: str, error: str | None) -> None:
        """A job that returned no report (cancelled, or its worker gone): a ``done`` event built from
        the events seen, as ``studio run`` reports a run it abandons."""
        watch = self._watch(job)
        report = RunReport(
            cancelled=status == "cancelled", seconds=time.perf_counter() - self.started.get(job, time.perf_counter())
        )
        report.nodes = {node_id: NodeReport(*entry) for node_id, entry in watch.nodes.items()}
        if watch.current is not None or error:
            node_id = watch.current[0] if watch.current else "job"
            report.nodes[node_id] = NodeReport("failed" if error else "skipped", error=error or "cancelled")
        watch(Done(report))
        watch.printer.finish(report)
        record(self.results[job], report)

    def _watch(self, job: int) -> RunWatch:
        if job not in self.watches:
            self.watches[job] = RunWatch(self.printer.for_job(job))
        return self.watches[job]


def run_on_cluster(
    address: str, jobs: list, registry: Any, output_dir: Path, printer: BatchPrinter, token: Any, shared: bool = False
) -> BatchSummary:
    """Run ``jobs`` on the cluster at ``address`` (or ``local``) with workers for this batch only."""
    import ray.exceptions

    with connect(address):
        try:
            farm = Farm(max_workers=len(jobs))
        except ray.exceptions.RayError as exc:  # a worker could not start (studio missing on a node?)
            raise FarmError(f"--cluster {address}: the render workers could not start: {_first_line(exc)}") from None
        try:
            return farm.run(jobs, registry, output_dir, printer, token, shared=shared)
        finally:
            farm.close()


def _check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` that nothing answers on: ``ray.init`` would retry it without end."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", a ray:// client address: Ray's own rules
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise FarmError(f"--cluster {address}: no Ray cluster answers there ({exc.strerror or exc})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
