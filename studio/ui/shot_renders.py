"""ShotRenders: the timeline's "Render all shots": every shot's own graph queued at once (on a render
farm they spread over its workers), each finished render replacing its shot in place (the old file
stays on disk), as a re-render of one shot does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from studio.ui.run_controller import RunController
from studio.ui.timeline_panel import TimelinePanel


class ShotRenders(QObject):
    def __init__(
        self,
        runs: RunController,
        panel: TimelinePanel,
        output_folder: Callable[[], Path],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runs = runs
        self.panel = panel
        self.output_folder = output_folder
        self.waiting: dict[int, Path] = {}  # job id -> the file of the shots it re-renders
        runs.run_finished.connect(self._finished)

    def render_all(self) -> list[Any]:
        """Queue the graph of every shot that carries one (once for the parts of a split shot);
        returns the jobs."""
        from studio.graph import GraphFileError, graph_from_dict

        jobs, skipped = [], []
        shots = self.panel.timeline.shots()
        for shot in shots:
            if shot.path in self.waiting.values():
                continue
            document = shot.metadata.get("graph")
            try:
                graph = graph_from_dict(document, source=f"shot {shot.index + 1}") if document else None
            except GraphFileError:
                graph = None
            if graph is None:
                skipped.append(shot.name)
                continue
            title = f"Shot {shot.index + 1}/{len(shots)} {shot.name}"
            job = self.runs.submit(graph, title=title, output_dir=self.output_folder())
            self.waiting[job.id] = shot.path
            jobs.append(job)
        said = f"Rendering {len(jobs)} shot(s); each replaces its shot when done"
        if skipped:
            said += f"; {len(skipped)} carry no graph ({', '.join(skipped[:3])})"
        self.panel.message.emit(said)
        return jobs

    def _finished(self, job: Any) -> None:
        source = self.waiting.pop(job.id, None)
        if source is None or job.status != "done" or job.report is None:
            return
        from studio.graph import graph_to_dict

        videos = [p for p in job.report.files() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm")]
        for shot in self.panel.timeline.shots() if videos else ():
            if shot.path == source:
                self.panel.replace_shot(shot.index, videos[0], graph=graph_to_dict(job.graph))
