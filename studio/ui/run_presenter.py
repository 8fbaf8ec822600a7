"""RunPresenter: shows a run as it happens: node states on the canvas, step previews, problems,
and, when it finishes, the output in the viewer and the history strip."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.textsafe import safe
from studio.ui.history_strip import OutputEntry
from studio.ui.preview_panel import nothing_ran
from studio.ui.render_summary import graph_facts


def plain_error(error: str) -> str:
    """A job's error as a user reads it: the worker writes "Type: message", and a render process's
    type says nothing its message does not."""
    return error.removeprefix("RenderProcessError: ")


class RunPresenter(QObject):
    output_shown = Signal(object)  # the OutputEntry now in the viewer

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.graphs: dict[int, Any] = {}  # job id -> the graph snapshot it runs
        self.last_job: Any = None
        self._status_from: tuple[int, str] | None = None  # the node whose status the status bar shows
        # The job the canvas and the live preview follow: the one that started last. A render farm
        # runs several at once; the others' states would overwrite each other on the one canvas.
        self.shown_job: int | None = None
        c = window.runs
        c.job_changed.connect(self._job_changed)
        c.node_started.connect(lambda job, node: self._shown(job) and self._state(node, "running", 0.0))
        c.node_cached.connect(lambda job, node: self._shown(job) and self._state(node, "cached"))
        c.node_finished.connect(self._node_finished)
        c.node_failed.connect(self._node_failed)
        c.progress_changed.connect(self._progress)
        c.status_changed.connect(self._status)
        c.preview_arrived.connect(self._preview)
        c.run_finished.connect(self._run_finished)
        for signal in (c.job_changed, c.run_finished):
            signal.connect(self._enable_cancel)

    @property
    def scene(self) -> Any:
        return self.window.scene

    def _shown(self, job_id: int) -> bool:
        return job_id == self.shown_job

    def _in_editor(self, node_id: str) -> bool:
        return node_id in self.scene.node_items

    def _state(self, node_id: str, state: str, progress: float | None = None, message: str = "") -> None:
        if self._in_editor(node_id):
            self.scene.set_node_state(node_id, state, progress, message)

    def _enable_cancel(self, *args: Any) -> None:
        """Cancel only while a job runs or waits."""
        action = getattr(self.window, "cancel_action", None)
        if action is not None:
            action.setEnabled(self.window.runs.busy)

    def _job_changed(self, job: Any, status: str) -> None:
        if job is None or status != "running":
            return
        from studio.engine.plan import plan

        self.shown_job = job.id
        self.scene.clear_states()
        self.window.problems.clear_failures()
        try:
            planned = plan(job.graph, self.scene.registry)
        except Exception:  # planning is advisory here; the engine reports real problems itself
            planned = []
        for node_id in planned:
            self._state(node_id, "queued")
        self.window.preview.run_started(job.graph)
        self.window.statusBar().showMessage(f"Running #{job.id} {job.title or ''}…")

    def _progress(self, job_id: int, node_id: str, done: int, total: int) -> None:
        if not self._shown(job_id):
            return
        self._state(node_id, "running", done / total if total else None)
        self.window.preview.show_progress(node_id, done, total)

    def _node_finished(self, job_id: int, node_id: str, seconds: float) -> None:
        if not self._shown(job_id):
            return
        self._state(node_id, "done")
        if self._status_from == (job_id, node_id):  # what it was doing is over: don't leave it showing
            self._status_from = None
            self.window.statusBar().showMessage(f"Running #{job_id}…")

    def _status(self, job_id: int, node_id: str, text: str) -> None:
        if not self._shown(job_id):
            return
        self._status_from = (job_id, node_id)
        item = self.scene.node_items.get(node_id)
        self._state(node_id, "running", item.progress if item is not None else None, text)
        self.window.preview.show_status(node_id, text)
        self.window.statusBar().showMessage(safe(f"Run #{job_id} · {node_id}: {text}"))

    def _preview(self, job_id: int, node_id: str, image: Any, step: Any, total: Any) -> None:
        if not self._shown(job_id):
            return
        if step is not None and total:
            self._state(node_id, "running", step / total)
        self.window.preview.show_preview(node_id, image, step, total)

    def _node_failed(self, job_id: int, node_id: str, message: str, skipped: Any) -> None:
        if not self._shown(job_id):
            self.window.problems.add_failure(node_id, message)  # still listed; the canvas shows another job
            return
        short = message.split(": ", 1)[1] if ": " in message else message
        self._state(node_id, "failed", message=short)
        for other in skipped:
            self._state(other, "skipped")
        self.window.problems.add_failure(node_id, message)
        self.window.show_problems()

    def _run_finished(self, job: Any) -> None:
        self.last_job = job
        shown = self._shown(job.id)
        if shown:
            self.window.preview.run_ended(job.status, job.report)
        status = self.window.statusBar()
        if job.status == "invalid":
            self.window.notify(f"Run #{job.id} was not started: {job.error}", "error")
            return
        if job.status == "cancelled":
            for node_id, item in self.scene.node_items.items() if shown else ():
                if item.state in ("queued", "running"):
                    self._state(node_id, "")
            status.showMessage(f"Run #{job.id} cancelled", 5000)
            return
        if job.status == "failed" and job.report is None:  # the engine failed, not a node (a render process died)
            self._engine_failed(job, shown)
            return
        if job.status == "failed":
            status.showMessage(f"Run #{job.id} failed: {job.error}", 8000)
        entries = self.outputs_of(job)
        for entry in entries:
            self.window.history.add(entry)
        if entries:
            self.show_output(entries[0])
        if job.status == "done" and nothing_ran(job.report):
            status.showMessage(f"Run #{job.id}: all cached, nothing re-ran", 8000)
        elif job.status == "done":
            seconds = job.report.seconds if job.report else 0.0
            status.showMessage(f"Run #{job.id} finished in {seconds:.1f}s", 8000)

    def _engine_failed(self, job: Any, shown: bool) -> None:
        """One notice with the reason; the node that was running is marked where it stopped, and
        nothing is left "queued" or "running" (on the canvas when it shows this job)."""
        for node_id, item in self.scene.node_items.items() if shown else ():
            if item.state == "running":
                self._state(node_id, "failed", message="stopped here: the render process ended")
            elif item.state == "queued":
                self._state(node_id, "")
        self.window.notify(f"Run #{job.id} failed: {plain_error(job.error or 'the render process stopped')}", "warning")

    def outputs_of(self, job: Any) -> list[OutputEntry]:
        if job.report is None:
            return []
        entries = []
        for node_id, values in job.report.outputs.items():
            for name, value in values.items():
                path = getattr(value, "path", None)
                array = getattr(value, "array", None)
                fps = getattr(value, "fps", 24.0)
                facts = graph_facts(job.graph)
                facts.created, facts.render_seconds = time.time(), job.report.seconds
                facts.duration = getattr(value, "duration", None)
                label = f"#{job.id} {node_id}"
                if path is not None:
                    entries.append(OutputEntry(label, path=path, fps=fps, graph=job.graph, facts=facts))
                elif array is not None and getattr(array, "ndim", 0) in (3, 4):
                    entries.append(OutputEntry(f"{label}.{name}", frames=array, fps=fps, graph=job.graph, facts=facts))
        return entries

    def show_output(self, entry: OutputEntry) -> None:
        viewer = self.window.viewer
        if entry.path is not None:
            viewer.show_video(entry.path, entry.fps)
        else:
            viewer.show_frames(entry.frames, entry.fps, entry.label)
        self.window.show_output_dock()
        self.output_shown.emit(entry)
