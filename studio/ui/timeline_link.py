"""TimelineLink: ties the timeline dock to the rest of the window.

- The timeline is the studio's cut, kept apart from whichever graph is open (a shot's graph
  can be opened, changed and re-rendered without losing the cut). It is saved after every
  edit to ``<data dir>/timeline.otio`` (atomically, so a crash loses nothing) and reopened at
  start; File > Timeline saves or opens other ``.otio`` files.
- Shots come from the output viewer, the history strip, finished runs and dropped files.
- "Open graph" on a shot loads the graph that rendered it; the next successful render of
  that graph replaces the shot in place (the old file stays on disk).
- "Extend" and "Bridge" open a graph made from a shot's own (starting from its last frame, and
  for a bridge ending on the next shot's first); its next successful render is placed after
  the shot, or between the two.
- The panel (and OpenTimelineIO, a third of building the window) is built when it is first
  needed: its dock shown, a shot added, a timeline opened, a menu entry used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMenu, QVBoxLayout, QWidget


def timeline_path() -> Path:
    from studio.settings import data_dir

    return data_dir() / "timeline.otio"


class TimelineLink(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.rerender_shot: int | None = None  # the shot whose graph is open for a re-render
        self.generating: tuple[str, int] | None = None  # ("extend" | "bridge", shot) awaiting its render
        self.holder = QWidget()  # the dock's widget; the panel goes in it when first needed
        QVBoxLayout(self.holder).setContentsMargins(0, 0, 0, 0)
        self._panel: Any = None
        self.shot_renders: Any = None  # "Render all shots", made with the panel
        window.runs.run_finished.connect(self._run_finished)

    def watch(self, dock: Any) -> None:
        """Build the panel when ``dock`` is first shown (its tab raised, or floated)."""
        dock.visibilityChanged.connect(lambda visible: visible and self.panel)

    @property
    def built(self) -> bool:
        return self._panel is not None

    @property
    def panel(self) -> Any:
        if self._panel is None:
            self._panel = self._build_panel()
        return self._panel

    def _build_panel(self) -> Any:
        from studio.ui.timeline_panel import TimelinePanel

        window = self.window
        panel = TimelinePanel(own_shortcuts=False)
        self._panel = panel  # before restoring: a warning from it may ask for the panel again
        panel.export_folder = lambda: window.settings.output_path  # read when exporting: settings change
        self._restore_saved()
        panel.changed.connect(self.autosave)
        panel.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
        panel.film_exported.connect(lambda video: window.viewer.show_video(video.path, video.fps))
        panel.open_graph_requested.connect(self.open_shot_graph)
        panel.generate_requested.connect(self.open_generating_graph)
        from studio.ui.shot_renders import ShotRenders

        self.shot_renders = ShotRenders(window.runs, panel, lambda: window.settings.output_path, self)
        self.holder.layout().addWidget(panel)
        window.undo_group.addStack(panel.undo_stack)
        return panel

    def fill_menu(self, menu: QMenu) -> None:
        menu.addAction("Add current output to timeline", self.add_current_output)
        menu.addAction("Add shot from file…", lambda: self.panel.choose_shots())
        render_all = menu.addAction("Render all shots", lambda: self.panel and self.shot_renders.render_all())
        render_all.setToolTip("Queue every shot's graph (spread over the render farm when one is set)")
        menu.addSeparator()
        menu.addAction("Open timeline…", self.open_dialog)
        menu.addAction("Save timeline as…", self.save_dialog)
        menu.addAction("Export film…", lambda: self.panel.choose_export())
        menu.addAction("Export cut (OTIO, EDL, FCP7)…", lambda: self.panel.choose_interchange())
        menu.addSeparator()
        menu.addAction("New timeline", lambda: self.panel.edit("New timeline", _clear))

    # ---- adding shots ----------------------------------------------------------------------
    def add_current_output(self) -> bool:
        source = self.window.viewer.source
        if source is None:
            self.window.notify("Nothing to add: the output viewer shows no video file", "warning")
            return False
        return self.add(source)

    def add(self, path: str | Path, graph: dict[str, Any] | None = None) -> bool:
        added = self.panel.add_video(path, graph=graph)
        if added:
            self.window.docks["timeline"].raise_()
        return added

    # ---- re-rendering a shot in place ------------------------------------------------------
    def open_shot_graph(self, graph_document: dict[str, Any]) -> None:
        from studio.graph import GraphFileError, graph_from_dict

        index = self.panel.selected
        try:
            graph = graph_from_dict(graph_document, source="timeline shot")
        except GraphFileError as exc:
            self.window.notify(f"The shot's graph cannot be opened: {exc}", "error")
            return
        if not self.window.document.maybe_save():
            return
        shot = self.panel.timeline.shots()[index]
        self.window.document.set_document(graph, None, f"{shot.name} (timeline shot)", dirty=True)
        self.rerender_shot, self.generating = index, None
        self.panel.set_pending(f"the open graph's next render replaces shot {index + 1}")
        self.window.notify(
            f"Editing the graph of shot {index + 1} ({shot.name}): the next successful render replaces it "
            "in the timeline; the old file is kept."
        )

    # ---- Extend and Bridge --------------------------------------------------------------------
    def open_generating_graph(self, graph: Any, kind: str, index: int) -> None:
        """Open an Extend/Bridge graph for the prompt change; its next render is placed on the cut."""
        if not self.window.document.maybe_save():
            return
        shot = self.panel.timeline.shots()[index]
        title = f"{kind.capitalize()} {shot.name} (timeline)"
        self.window.document.set_document(graph, None, title, dirty=True)
        self.rerender_shot, self.generating = None, (kind, index)
        where = "after it" if kind == "extend" else "between it and the next shot"
        self.panel.set_pending(f"{kind} of shot {index + 1}: the open graph's next render goes {where}")
        self.window.notify(f"Shot {index + 1} ({shot.name}): change the prompt and render; the clip is placed {where}.")

    def forget_target(self) -> None:
        """Another graph was opened: its renders are not the shot's re-render, extension or bridge.
        (The graph opened for a shot sets its target right after this.)"""
        if self.rerender_shot is not None or self.generating is not None:
            self.rerender_shot = self.generating = None
            self.panel.set_pending("")

    def _run_finished(self, job: Any) -> None:
        if job.status != "done" or job.report is None:
            return
        videos = [p for p in job.report.files() if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm")]
        if not videos:
            return
        if self.generating is not None:
            (kind, index), self.generating = self.generating, None
            self.panel.set_pending("")
            if self.panel.place_generated(kind, index, videos[0], job.graph):
                self.window.notify(f"{videos[0].name} is shot {index + 2} of the timeline")
            return
        if self.rerender_shot is None:
            return
        from studio.graph import graph_to_dict

        index, self.rerender_shot = self.rerender_shot, None
        self.panel.set_pending("")
        if self.panel.replace_shot(index, videos[0], graph=graph_to_dict(job.graph)):
            self.window.notify(f"Shot {index + 1} now uses {videos[0].name}")

    # ---- persistence -----------------------------------------------------------------------
    def autosave(self) -> None:
        from studio.timeline import save_timeline

        try:
            save_timeline(self.panel.timeline, timeline_path())
        except OSError as exc:
            self.window.notify(f"The timeline could not be saved: {exc}", "warning")

    def _restore_saved(self) -> None:
        from studio.timeline import TimelineError, load_timeline

        path = timeline_path()
        if not path.is_file():
            return
        try:
            self.panel.set_timeline(load_timeline(path))
        except TimelineError as exc:
            self.window.notify(f"The saved timeline could not be read ({exc}); starting an empty one", "warning")

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open timeline", "", "OpenTimelineIO (*.otio)")
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        from studio.timeline import TimelineError, load_timeline

        try:
            timeline = load_timeline(path)
        except TimelineError as exc:
            self.window.notify(str(exc), "error")
            return False
        self.panel.edit(f"Open {Path(path).name}", lambda tl: _replace(tl, timeline))
        offline = timeline.offline_shots()
        if offline:
            self.window.notify(f"{len(offline)} shot(s) are offline (file missing); they are kept", "warning")
        return True

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save timeline", "cut.otio", "OpenTimelineIO (*.otio)")
        if path:
            from studio.timeline import save_timeline

            save_timeline(self.panel.timeline, path)
            self.window.statusBar().showMessage(f"Saved {path}", 5000)

    def shutdown(self) -> None:
        if self._panel is not None:
            self._panel.shutdown()


def _clear(timeline: Any) -> None:
    from studio.timeline import Timeline

    _replace(timeline, Timeline(rate=timeline.rate))


def _replace(timeline: Any, other: Any) -> None:
    timeline.otio = other.otio
