"""``studio batch``: every combination of ``--vary`` values rendered, in this process or on a Ray cluster.

In this process the jobs run one after another on one :class:`~studio.engine.Engine`, so models
and encoded prompts stay loaded between them. The events are ``studio run``'s, each tagged with
its job, plus ``job_started`` (which worker), ``job_retried`` (a worker died mid-job) and a final
``batch_done`` summary. Exit codes as ``run``: 0 every job rendered, 1 one failed or the batch was
cancelled, 2 an invalid graph or variation (before anything runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.run_console import JsonPrinter, ProgressPrinter, RunInterrupts, RunWatch
from studio.textsafe import safe

LOCAL_WORKER = "this process"


@dataclass
class JobResult:
    """How one job of a batch ended."""

    job: int
    values: dict[str, Any]
    status: str = "skipped"  # "ok" | "failed" | "cancelled" | "skipped"
    files: list[Path] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    worker: str | None = None
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        data = {
            "job": self.job,
            "vary": self.values,
            "status": self.status,
            "files": [str(p) for p in self.files],
            "seconds": round(self.seconds, 4),
            "worker": self.worker,
            "retries": self.retries,
        }
        return {**data, "error": self.error} if self.error else data


@dataclass
class BatchSummary:
    results: list[JobResult]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)

    @property
    def cancelled(self) -> bool:
        return any(r.status == "cancelled" for r in self.results)

    def to_json(self) -> dict[str, Any]:
        counts = {s: sum(r.status == s for r in self.results) for s in ("ok", "failed", "cancelled", "skipped")}
        return {
            "event": "batch_done",
            "ok": self.ok,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 4),
            "counts": counts,
            "jobs": [r.to_json() for r in self.results],
        }


def record(result: JobResult, report: Any) -> None:
    """Fill ``result`` from a job's run report."""
    result.seconds = report.seconds
    result.files = list(report.files())
    if report.ok:
        result.status = "ok"
    elif report.cancelled:
        result.status = "cancelled"
    else:
        result.status = "failed"
        result.error = "; ".join(r.error or "" for r in report.failed.values()) or "a node did not run"


class BatchPrinter:
    """What a batch prints: ``studio run``'s printers for each job's events (tagged with the job in
    JSON, introduced by a ``job N/M`` line otherwise), then a summary."""

    def __init__(self, as_json: bool, total: int) -> None:
        self.as_json = as_json
        self.total = total
        self._lock = threading.Lock()
        self._printers: dict[int, JobPrinter] = {}

    def for_job(self, job: int) -> JobPrinter:
        if job not in self._printers:
            self._printers[job] = JobPrinter(self, job)
        return self._printers[job]

    def job_started(self, job: Any, worker: str) -> None:
        self.line(
            {"event": "job_started", "job": job.index, "vary": job.values, "worker": worker},
            f"job {job.index}/{self.total} ({job.label}) on {worker}",
        )

    def job_retried(self, job: Any, worker: str, reason: str) -> None:
        self.line(
            {"event": "job_retried", "job": job.index, "worker": worker, "reason": reason},
            f"job {job.index}/{self.total}: {reason}; retrying on {worker}",
        )

    def line(self, data: dict[str, Any], text: str) -> None:
        with self._lock:
            if self.as_json:
                sys.stdout.write(json.dumps(data, default=str) + "\n")
                sys.stdout.flush()
            else:
                print(safe(text), file=sys.stderr, flush=True)

    def finish(self, summary: BatchSummary) -> None:
        if self.as_json:
            self.line(summary.to_json(), "")
            return
        data = summary.to_json()
        counts = ", ".join(f"{n} {status}" for status, n in data["counts"].items() if n)
        self.line({}, f"batch: {len(summary.results)} jobs ({counts}) in {summary.seconds:.1f}s")
        for result in summary.results:
            if result.status == "failed":
                self.line({}, f"  job {result.job} failed: {result.error}")


class JobPrinter:
    """``studio run``'s printer for one job's events."""

    def __init__(self, batch: BatchPrinter, job: int) -> None:
        self.batch = batch
        self.job = job
        self.inner = JsonPrinter() if batch.as_json else ProgressPrinter()

    def __call__(self, event: Any) -> None:
        with self.batch._lock:
            if self.batch.as_json:
                data = event.to_json()
                data = {"event": data.pop("event"), "job": self.job, **data}
                sys.stdout.write(json.dumps(data, default=str) + "\n")
                sys.stdout.flush()
            else:
                self.inner(event)

    def finish(self, report: Any) -> None:
        with self.batch._lock:
            self.inner.finish(report)


def run_local(jobs: list, engine: Any, printer: BatchPrinter, token: Any, interrupts: RunInterrupts) -> BatchSummary:
    """Run ``jobs`` one after another on ``engine``; a cancel stops the running job within a step
    and skips the rest."""
    started = time.perf_counter()
    results = [JobResult(job.index, job.values) for job in jobs]
    for job, result in zip(jobs, results, strict=True):
        if token.cancelled:
            result.status = "cancelled"
            continue
        printer.job_started(job, LOCAL_WORKER)
        result.worker = LOCAL_WORKER
        watch = RunWatch(printer.for_job(job.index))
        interrupts.watch = watch  # a forced quit reports the job in progress
        report = engine.run(job.graph, watch, cancel=token)
        watch.printer.finish(report)
        record(result, report)
    return BatchSummary(results, time.perf_counter() - started)


def cmd_batch(args: argparse.Namespace) -> int:
    from studio.cli import EXIT_FAILED, EXIT_OK, UsageError, _load, _output_folder
    from studio.composition import default_registry
    from studio.engine import CancelToken
    from studio.settings import Settings
    from studio.variations import VariationError, build_jobs, parse_variations

    token = CancelToken()
    placeholder = RunWatch(JsonPrinter() if args.json else ProgressPrinter())
    with RunInterrupts(token, placeholder).installed() as interrupts:
        settings = Settings.load()
        registry = default_registry()
        for problem in registry.problems:
            print(f"warning: {safe(str(problem))}", file=sys.stderr)
        if args.shared and not args.cluster:
            raise UsageError(["--shared: only with --cluster (it says the workers share the output folder)"])
        if args.cluster and (args.models or args.device):
            option = "--models" if args.models else "--device"
            raise UsageError([f"{option}: not with --cluster (workers use their own settings and model folders)"])
        graph = _load(args.graph)
        try:
            jobs = build_jobs(graph, registry, parse_variations(graph, registry, args.vary))
        except VariationError as exc:
            raise UsageError(exc.lines) from None
        output_dir = _output_folder(args.output, settings.output_path)
        printer = BatchPrinter(args.json, len(jobs))
        if args.cluster:
            from studio.farm import FarmError, run_on_cluster

            try:
                summary = interrupts.wait_for(
                    lambda: run_on_cluster(args.cluster, jobs, registry, output_dir, printer, token, shared=args.shared)
                )
            except FarmError as exc:
                raise UsageError([str(exc)]) from None
        else:
            engine = _local_engine(args, settings, registry, output_dir)
            summary = interrupts.wait_for(lambda: run_local(jobs, engine, printer, token, interrupts))
    printer.finish(summary)
    return EXIT_OK if summary.ok else EXIT_FAILED


def _local_engine(args: argparse.Namespace, settings: Any, registry: Any, output_dir: Path) -> Any:
    """The engine ``studio run`` would build, shared by every job of the batch."""
    from studio.cli import command_engine

    return command_engine(args, settings, registry, output_dir)


def add_parser(sub: Any, models_help: str) -> None:
    """The ``batch`` command's arguments (called by :func:`studio.cli.build_parser`)."""
    batch = sub.add_parser("batch", help="render every combination of parameter values")
    batch.add_argument("graph", help="a .graph.json file, or a video/image rendered by the studio")
    batch.add_argument(
        "--vary",
        action="append",
        default=[],
        required=True,
        metavar="NODE.PARAM=V1,V2,…",
        help="values a parameter takes in turn (repeatable: every combination renders); "
        "=@FILE reads one value a line, =A..B an integer range",
    )
    batch.add_argument(
        "--cluster",
        metavar="ADDRESS|local",
        help="render on a Ray cluster (HOST:PORT of its head, or 'local' to start one here); "
        "workers find models in their own model folders",
    )
    batch.add_argument(
        "--shared",
        action="store_true",
        help="with --cluster: the output folder is shared with the workers (same path), so they write there directly",
    )
    batch.add_argument("-o", "--output", help="output folder (default: the app's output folder)")
    batch.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None, help="without --cluster")
    batch.add_argument("--json", action="store_true", help="print one JSON event per line, tagged with its job")
    batch.add_argument("--models", action="append", default=[], metavar="DIR", help=models_help + "; without --cluster")
