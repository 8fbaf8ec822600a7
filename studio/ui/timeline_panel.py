"""TimelinePanel: the shot timeline dock — add, trim, split, reorder, dissolve, soundtrack, export.

Every edit is an undoable command. A command records the timeline's OTIO JSON before and
after the edit (timelines are small, so snapshots are simpler and safer than inverse
operations). Edits are tried on a copy first, so a refused edit changes nothing and its reason
is shown instead. The button row is :mod:`studio.ui.timeline_toolbar`; the film export's dialog
and worker live in :mod:`studio.ui.film_export`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.timeline import Timeline, TimelineError
from studio.timeline.limits import check_saved_size
from studio.ui.film_export import ExportControls, ExportDialog, preview_size
from studio.ui.timeline_toolbar import TimelineToolbar
from studio.ui.timeline_view import TimelineView

VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.m4v)"
AUDIO_FILTER = "Audio (*.wav *.mp3 *.flac *.ogg *.opus *.m4a *.aac)"


class TimelineEdit(QUndoCommand):
    def __init__(self, panel: TimelinePanel, text: str, before: str, after: str, edited: Timeline) -> None:
        super().__init__(text)
        self.panel, self.before, self.after = panel, before, after
        self._edited: Timeline | None = edited  # shown by the first redo, which need not re-read ``after``

    def redo(self) -> None:
        if self._edited is not None:
            self.panel._show(self._edited)
            self._edited = None
        else:
            self.panel._restore(self.after)

    def undo(self) -> None:
        self.panel._restore(self.before)


class TimelinePanel(QWidget):
    changed = Signal()
    message = Signal(str)
    film_exported = Signal(object)  # VideoFile
    open_graph_requested = Signal(object)  # the graph dict a shot was rendered from
    generate_requested = Signal(object, str, int)  # a Graph to edit and render, "extend"/"bridge", the shot

    def __init__(self, parent: QWidget | None = None, *, own_shortcuts: bool = True) -> None:
        """``own_shortcuts=False`` when a window routes Ctrl+Z to this panel's stack itself."""
        super().__init__(parent)
        self.timeline = Timeline()
        self.undo_stack = QUndoStack(self)
        self.view = TimelineView()
        self.view.show_timeline(self.timeline)
        self.selected: int | None = None
        self.pending = ""  # what the open graph's next render will do to the cut, when anything
        self.view.shot_selected.connect(self._select)
        self.view.move_requested.connect(lambda i, to: self.edit("Move shot", lambda tl: tl.move(i, to)))
        self.view.trim_requested.connect(
            lambda i, start, frames: self.edit("Trim shot", lambda tl: tl.trim(i, start, frames))
        )
        self.setAcceptDrops(True)

        # Where Export film proposes its file; the window gives its output folder.
        self.export_folder: Callable[[], str | Path] = Path.cwd
        self.export = ExportControls()
        self.export.exported.connect(self.film_exported)
        self.export.said.connect(self._say)
        self.dissolve_frames = QSpinBox()
        self.dissolve_frames.setRange(2, 240)
        self.dissolve_frames.setValue(12)
        self.dissolve_frames.setSuffix(" f")
        self.dissolve_frames.setToolTip("Dissolve length in frames")
        self.toolbar = self._build_toolbar()
        if own_shortcuts:
            undo = self.undo_stack.createUndoAction(self, "Undo")
            undo.setShortcut(QKeySequence.StandardKey.Undo)
            undo.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            redo = self.undo_stack.createRedoAction(self, "Redo")
            redo.setShortcut(QKeySequence.StandardKey.Redo)
            redo.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addActions([undo, redo])

        self.status = QLabel("Drop rendered videos here, or use Add shot.")
        self.status.setObjectName("dim")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.export)

    def _build_toolbar(self) -> TimelineToolbar:
        bar = TimelineToolbar(self)
        bar.add_action("Add shot…", self.choose_shots, "Add rendered videos as shots")
        bar.add_action("Extend", self.extend_selected, "Open a graph that continues the shot from its last frame")
        bar.add_action(
            "Bridge", self.bridge_selected, "Open a graph leading from the shot's last frame to the next one's first"
        )
        bar.add_action("Open graph", self.open_selected_graph, "Open the graph that rendered the selected shot")
        bar.add_separator()
        bar.add_action("Split", self.split_at_playhead, "Split the selected shot at the playhead")
        self.addAction(
            bar.add_action(
                "Delete", lambda: self.delete_selected(ripple=True), "Delete the shot; later shots move up", "Del"
            )
        )
        bar.add_action("Lift", lambda: self.delete_selected(ripple=False), "Delete the shot, leaving a gap")
        bar.add_action(
            "Dissolve",
            self.dissolve_selected,
            "Cross-dissolve from the selected shot into the next",
            extra=self.dissolve_frames,
        )
        bar.add_action("Soundtrack…", self.choose_soundtrack, "Put music under the film")
        bar.pin_action(
            "Play cut",
            self.play_cut,
            "render a quick preview of the cut and play it in the viewer",
            "▶ Play",
        )
        bar.pin_menu(
            "Export",
            "Write the cut as a film, or hand it to another editor",
            [
                ("Export film…", self.choose_export, "Render the cut to one video file"),
                ("Export cut…", self.choose_interchange, "Save as .otio, EDL or FCP7 XML for other editors"),
            ],
        )
        return bar

    # ---- editing -------------------------------------------------------------------------
    def edit(self, text: str, change: Callable[[Timeline], Any]) -> bool:
        """Apply ``change`` as one undoable step; a refused change is reported and undone."""
        trial = self.timeline.copy()
        try:
            change(trial)
            after = trial.to_json()
            check_saved_size(after)  # else the autosave, and this step's redo, could not be opened
        except TimelineError as exc:
            self._say(str(exc))
            return False
        self.undo_stack.push(TimelineEdit(self, text, self.timeline.to_json(), after, trial))
        return True

    def _restore(self, text: str) -> None:
        self._show(Timeline.from_json(text))

    def _show(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.view.show_timeline(self.timeline)
        self._show_status()
        self.changed.emit()

    def set_timeline(self, timeline: Timeline) -> None:
        """Show another timeline (opening a project); this clears undo history."""
        self.undo_stack.clear()
        self.timeline = timeline
        self.view.show_timeline(timeline)
        self._show_status()

    def add_video(self, path: str | Path, graph: dict[str, Any] | None = None, seed: int | None = None) -> bool:
        """Add a rendered video as a shot; its embedded graph travels with it."""
        from studio.graph import GraphFileError, graph_to_dict, loads_graph
        from studio.media.errors import MediaError
        from studio.media.video_io import probe_video, read_embedded_graph_text

        try:
            facts = probe_video(path)
        except MediaError as exc:
            self._say(f"cannot add {Path(path).name}: {exc}")
            return False
        frames = max(1, int(round(facts.duration * self.timeline.rate)))
        text = read_embedded_graph_text(path) if graph is None else None
        if text is not None:
            try:  # the graph file's loader and limits, then the plain dict a shot keeps
                graph = graph_to_dict(loads_graph(text, source=str(path)))
            except GraphFileError as exc:
                self._say(f"{Path(path).name}: its embedded graph is not kept ({exc.problems[0]})")
        settings = {"fps": facts.fps, "width": facts.width, "height": facts.height}
        return self.edit(
            f"Add {Path(path).name}",
            lambda tl: tl.add_shot(path, frames, graph=graph, seed=seed, settings=settings),
        )

    def split_at_playhead(self) -> None:
        shot = self._selected_shot()
        if shot is None:
            return
        self.edit("Split shot", lambda tl: tl.split(shot.index, self.view.playhead - shot.start))

    def delete_selected(self, ripple: bool) -> None:
        shot = self._selected_shot()
        if shot is not None and self.edit(
            "Delete shot" if ripple else "Lift shot", lambda tl: tl.delete(shot.index, ripple)
        ):
            self.selected = None

    def dissolve_selected(self) -> None:
        shot = self._selected_shot()
        if shot is not None:
            frames = self.dissolve_frames.value()
            self.edit(f"Dissolve {frames} frames", lambda tl: tl.add_dissolve(shot.index, frames))

    def set_soundtrack(
        self, path: str | Path, gain_db: float = 0.0, fade_in: float = 0.0, fade_out: float = 1.0
    ) -> bool:
        from studio.media.audio_io import read_audio
        from studio.media.errors import MediaError

        try:
            seconds = read_audio(path).duration
        except MediaError as exc:
            self._say(f"cannot use {Path(path).name} as the soundtrack: {exc}")
            return False
        return self.edit(
            "Set soundtrack",
            lambda tl: tl.set_soundtrack(path, seconds, gain_db=gain_db, fade_in=fade_in, fade_out=fade_out),
        )

    def replace_shot(self, index: int, path: str | Path, **metadata: Any) -> bool:
        """Swap in a successful re-render of shot ``index`` (the old file stays on disk)."""
        from studio.media.video_io import probe_video

        facts = probe_video(path)
        frames = max(1, int(round(facts.duration * self.timeline.rate)))
        return self.edit("Re-render shot", lambda tl: tl.replace_media(index, path, frames, **metadata))

    def open_selected_graph(self) -> None:
        shot = self._selected_shot()
        if shot is None:
            return
        graph = shot.metadata.get("graph")
        if not graph:
            self._say(f"{shot.name} carries no graph (it was not rendered by the studio)")
            return
        self.open_graph_requested.emit(graph)

    def extend_selected(self) -> None:
        """Ask for the selected shot's graph switched to start from the shot's last frame."""
        from studio.timeline.generate import extend_shot_graph

        self._request_generation("extend", extend_shot_graph)

    def bridge_selected(self) -> None:
        """Ask for a graph leading from the selected shot's last frame to the next shot's first."""
        from studio.timeline.generate import bridge_shots_graph

        self._request_generation("bridge", bridge_shots_graph)

    def place_generated(self, kind: str, index: int, path: str | Path, graph: Any = None) -> bool:
        """Put a rendered extension after shot ``index``, or a bridge between it and the next."""
        from studio.media.errors import MediaError
        from studio.timeline.generate import place_after, place_between

        place = place_after if kind == "extend" else place_between
        try:
            return self.edit(f"{kind.capitalize()} shot", lambda tl: place(tl, index, path, graph))
        except MediaError as exc:
            self._say(f"cannot place {Path(path).name}: {exc}")
            return False

    def _request_generation(self, kind: str, make: Callable[[Timeline, int], Any]) -> None:
        shot = self._selected_shot()
        if shot is None:
            return
        try:
            graph = make(self.timeline, shot.index)
        except TimelineError as exc:
            self._say(str(exc))
            return
        self.generate_requested.emit(graph, kind, shot.index)

    # ---- files and export ----------------------------------------------------------------
    def choose_shots(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add shots", "", VIDEO_FILTER)
        for path in paths:
            self.add_video(path)

    def choose_soundtrack(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Soundtrack", "", AUDIO_FILTER)
        if path:
            self.set_soundtrack(path)

    def choose_interchange(self) -> None:
        from studio.timeline import available_formats, export_timeline
        from studio.timeline.interchange import EXPORT_FORMATS

        filters = {f"{fmt.upper()} (*{EXPORT_FORMATS[fmt][1]})": fmt for fmt in available_formats()}
        path, chosen = QFileDialog.getSaveFileName(self, "Export cut", "cut.otio", ";;".join(filters))
        if path:
            try:
                export_timeline(self.timeline, path, filters.get(chosen, "otio"))
                self._say(f"wrote {path}")
            except TimelineError as exc:
                self._say(str(exc))

    def choose_export(self) -> None:
        dialog = ExportDialog(self.timeline, self.export_folder(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.export_film(dialog.path(), **dialog.options())

    def play_cut(self) -> None:
        """Render a small preview of the whole cut (with sound) for the viewer to play."""
        from studio.settings import data_dir

        shots = self.timeline.shots()
        if not shots:
            self._say("the timeline has no shots to play")
            return
        size = preview_size(shots[0].metadata.get("settings", {}))
        self.export_film(data_dir() / "previews" / "cut-preview.mp4", crf=28, **size)

    def export_film(self, path: str | Path, **options: Any) -> None:
        """Render the cut in the background; ``film_exported`` fires when it is written."""
        self.export.export(self.timeline, path, options)

    def cancel_export(self) -> None:
        self.export.cancel()

    def shutdown(self) -> None:
        self.export.stop()

    # ---- project persistence -------------------------------------------------------------
    def to_document(self) -> dict[str, Any] | None:
        """The timeline as plain JSON for the project file (None when empty)."""
        if not len(self.timeline) and self.timeline.soundtrack() is None:
            return None
        return json.loads(self.timeline.to_json())

    def load_document(self, data: Any) -> None:
        if not data:
            self.set_timeline(Timeline())
            return
        try:
            self.set_timeline(Timeline.from_document(data, source="the project's timeline"))
        except TimelineError as exc:
            self._say(f"the project's timeline could not be read: {exc}")

    # ---- drops and helpers ---------------------------------------------------------------
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.add_video(url.toLocalFile())
        event.acceptProposedAction()

    def _select(self, index: int) -> None:
        self.selected = index

    def _selected_shot(self) -> Any:
        shots = self.timeline.shots()
        if self.selected is None or self.selected >= len(shots):
            self._say("select a shot first")
            return None
        return shots[self.selected]

    def _show_status(self) -> None:
        shots, frames = len(self.timeline), self.timeline.duration()
        offline = len(self.timeline.offline_shots())
        text = f"{shots} shot(s), {frames / self.timeline.rate:.1f} s"
        if offline:
            text += f" — {offline} offline (file missing; kept, not dropped)"
        if self.pending:
            text += f" — {self.pending}"
        self.status.setText(text)

    def set_pending(self, text: str) -> None:
        """Say in the status line what the next render will do to the cut ("" when nothing)."""
        self.pending = text
        self._show_status()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)
