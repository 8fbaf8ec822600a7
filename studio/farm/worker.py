"""A render worker: one long-lived Ray actor per GPU (or CPU slot), holding one engine, so the
models a job loads stay loaded for the next job on the same worker.

A job arrives as graph file text and goes through the same loader and validation as a file
opened locally (:func:`~studio.graph.loads_graph`, then :meth:`Engine.run` validates), so a
hostile graph runs no code here either. Model paths resolve in this machine's own model folders
(its settings and ``STUDIO_MODELS``). Events go to the driver through a Ray queue as they happen;
the finished files come back with the result unless the output folder is shared.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from studio.engine import CancelToken, Done, Engine, NodeFailed

PREVIEW_INTERVAL = 0.5  # seconds between step previews sent to the driver (each is a small RGB array)


class RenderWorker:
    """The actor's class; :mod:`studio.farm.driver` wraps it with ``ray.remote`` (Ray is imported lazily)."""

    def __init__(self, index: int) -> None:
        import ray

        gpus = ray.get_gpu_ids()
        self.index = index
        self.name = f"{socket.gethostname()}/{f'gpu{gpus[0]}' if gpus else 'cpu'}#{index}"
        # A worker killed mid-job leaves its scratch folder: the restarted actor clears it.
        self.scratch = Path(tempfile.gettempdir()) / "studio-farm" / f"worker-{index}"
        shutil.rmtree(self.scratch, ignore_errors=True)
        self._engine: Engine | None = None

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "pid": os.getpid(), "host": socket.gethostname()}

    def render(self, job: int, graph_text: str, events: Any, shared_dir: str | None) -> dict[str, Any]:
        """Render one job; its events go into ``events`` as ``(job, kind, payload)`` tuples.

        Returns the run report, and unless ``shared_dir`` is given the files written as
        ``(path on this worker, name relative to the output folder, bytes)``.
        """
        from studio.graph import GraphFileError, GraphInvalid, loads_graph

        events.put((job, "started", self.info()))
        output_dir = Path(shared_dir) if shared_dir else self.scratch / f"job-{job}-{time.monotonic_ns()}"
        try:
            try:
                graph = loads_graph(graph_text, source=f"job {job}")
                report = self.engine.run(
                    graph, lambda event: self._forward(job, event, events), cancel=_TaskCancel(), output_dir=output_dir
                )
            except (GraphFileError, GraphInvalid) as exc:
                return {"worker": self.name, "error": f"on {self.name}: the graph was refused: {exc}"}
            files = (
                []
                if shared_dir
                else [(str(p), p.relative_to(output_dir).as_posix(), p.read_bytes()) for p in report.files()]
            )
            for node_report in report.failed.values():
                node_report.error = f"on {self.name}: {node_report.error}"
            return {"worker": self.name, "report": report, "files": files}
        finally:
            if not shared_dir:
                shutil.rmtree(output_dir, ignore_errors=True)

    def unload_models(self) -> list[str]:
        """Drop this worker's loaded models ("Unload models" in the window); nothing before its first job."""
        return self._engine.unload_models() if self._engine is not None else []

    def cache_sizes(self) -> dict[str, int]:
        """What this worker keeps between jobs (bytes of outputs, models, disk cache)."""
        return self._engine.cache_sizes() if self._engine is not None else {"outputs": 0, "models": 0, "disk": 0}

    def clear_outputs(self) -> None:
        """Forget the node outputs this worker keeps ("Clear cache" in the window)."""
        if self._engine is not None:
            self._engine.clear_outputs()

    @property
    def engine(self) -> Engine:
        """The engine, built on the first job: this machine's settings, model folders and device."""
        if self._engine is None:
            import ray

            from studio.composition import default_registry
            from studio.local_engine import engine_from_settings
            from studio.settings import Settings

            settings = Settings.load()
            gpu = bool(ray.get_gpu_ids())
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
            self._engine = engine_from_settings(
                settings,
                default_registry(),
                output_dir=self.scratch,
                preview_interval=PREVIEW_INTERVAL,
                cpu_threads=settings.cpu_threads if gpu or not cpus else max(1, int(cpus)),
            )
        return self._engine

    def _forward(self, job: int, event: Any, events: Any) -> None:
        if isinstance(event, Done):
            return  # the driver reports the job done once its files are in place
        if isinstance(event, NodeFailed):
            event = NodeFailed(event.node_id, event.node_type, f"on {self.name}: {event.message}", event.skipped)
        events.put((job, "event", event))


class _TaskCancel(CancelToken):
    """The engine's cancel flag for a job: set when the driver calls ``ray.cancel`` on the task.

    Ray cannot interrupt a running actor task; it sets a flag the task reads with
    ``is_canceled()``, on the task's own thread, which is where the engine runs the nodes.
    """

    def __init__(self) -> None:
        import ray

        super().__init__()
        self._context = ray.get_runtime_context()
        self._thread = threading.current_thread()

    @property
    def cancelled(self) -> bool:
        if not self._event.is_set() and threading.current_thread() is self._thread and self._context.is_canceled():
            self._event.set()
        return self._event.is_set()
