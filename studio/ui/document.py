"""DocumentController: the open graph as a file: new, open, save, save as, recent files, examples,
dropped files, the unsaved state and the question before losing it.

Opening is forgiving as the format is: a graph with unknown node types opens "partially",
its unknown nodes kept as placeholders and listed in a report, nothing dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.bundled import resources_root
from studio.graph.fileformat import GraphFileError, load_graph, loads_graph, save_graph
from studio.graph.model import Graph
from studio.settings import config_dir
from studio.ui.autosave import Recovery, find_recoveries, save_failure_reason

GRAPH_FILTER = "Studio graphs (*.graph.json *.json);;All files (*)"
MEDIA_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".png", ".webp", ".avi", ".m4v"}
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
_RENDERS = " ".join(f"*{s}" for s in sorted(MEDIA_SUFFIXES))
# Opening a render restores the graph embedded in it (and shows the video), so the dialog offers both.
OPEN_FILTER = (
    f"Graphs and renders (*.graph.json *.json {_RENDERS});;Studio graphs (*.graph.json *.json);;"
    f"Rendered videos and images ({_RENDERS});;All files (*)"
)
MAX_RECENT = 10


def examples_dir() -> Path:
    return resources_root() / "graphs"


def example_graphs() -> list[Path]:
    folder = examples_dir()
    return sorted(folder.glob("*.graph.json")) if folder.is_dir() else []


def read_any_graph(path: Path) -> Graph:
    """A graph from a graph file, or from the metadata of a video or image the studio rendered."""
    if path.suffix.lower() in MEDIA_SUFFIXES:
        from studio.media.video_io import read_embedded_graph_text

        text = read_embedded_graph_text(path)
        if text is None:
            raise GraphFileError(
                ["carries no studio graph in its metadata (was it rendered by the studio?)"], str(path)
            )
        return loads_graph(text, source=str(path))  # the graph file's loader and limits
    return load_graph(path)


class DocumentController(QObject):
    document_changed = Signal()  # a new document (new, open, restore): title, recent menu, problems
    render_opened = Signal(object)  # the Path of a rendered video whose graph was just opened
    recent_changed = Signal()

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.path: Path | None = None
        self.name = "Untitled"
        self.recent: list[str] = self._load_recent()

    @property
    def scene(self) -> Any:
        return self.window.scene

    @property
    def undo_stack(self) -> Any:
        return self.window.undo_stack

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    # ---- documents -------------------------------------------------------------------------
    def set_document(self, graph: Graph, path: Path | None, name: str, *, dirty: bool = False) -> None:
        self.scene.set_graph(graph)
        self.undo_stack.clear()
        if dirty:
            self.undo_stack.resetClean()  # a restored graph is not saved anywhere yet
        self.path = path
        self.name = name
        self.document_changed.emit()
        self._report_unknown_types(graph)

    def new(self) -> bool:
        if not self.maybe_save():
            return False
        self.set_document(Graph(), None, "Untitled")
        return True

    def open_path(self, path: str | Path, *, ask: bool = True) -> bool:
        path = Path(path)
        if ask and not self.maybe_save():
            return False
        try:
            graph = read_any_graph(path)
        except GraphFileError as exc:
            lines = exc.problems[:8]
            self.window.notify(f"Cannot open {path.name}: " + "; ".join(lines), "error")
            return False
        is_graph_file = path.suffix.lower() not in MEDIA_SUFFIXES
        name = path.name.removesuffix(".graph.json") if is_graph_file else f"{path.stem} (from render)"
        self.set_document(graph, path if is_graph_file else None, name)
        if is_graph_file:
            self.add_recent(path)
        elif not self.window.problems.notes:  # a partial-open report matters more; keep it shown
            self.window.notify(f"Restored the graph embedded in {path.name}.", "info")
        if path.suffix.lower() in VIDEO_SUFFIXES:
            self.render_opened.emit(path)
        return True

    def open_dialog(self) -> bool:
        start = str(self.path.parent) if self.path else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self.window, "Open a graph or a render", start, OPEN_FILTER)
        return bool(chosen) and self.open_path(chosen)

    def open_example(self, path: Path) -> bool:
        if not self.open_path(path):
            return False
        self.path = None  # an example is a template: saving asks where, so the original stays intact
        self.name = f"{path.name.removesuffix('.graph.json')} (example)"
        self.document_changed.emit()
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            start = str(self.path or (Path.home() / f"{self.name}.graph.json"))
            chosen, _ = QFileDialog.getSaveFileName(self.window, "Save graph", start, GRAPH_FILTER)
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        if not path.name.endswith(".json"):
            path = path.with_name(path.name + ".graph.json")
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        try:
            save_graph(self.scene.graph, path)
        except Exception as exc:  # any reason (a full disk, a value JSON cannot hold): the old file stays
            self.window.notify(f"Cannot save {path}: {save_failure_reason(exc)}", "error")
            return False
        self.path = path
        self.name = path.name.removesuffix(".graph.json")
        self.undo_stack.setClean()
        self.window.autosaver.save_now()  # the document is clean now: its recovery copies go
        self.add_recent(path)
        self.document_changed.emit()
        self.window.notify(f"Saved {path}", "status")
        return True

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded, or clean)."""
        if not self.dirty:
            return True
        answer = self.ask_save()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def ask_save(self) -> QMessageBox.StandardButton:
        return QMessageBox.question(
            self.window,
            "Unsaved changes",
            f"“{self.name}” has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def _report_unknown_types(self, graph: Graph) -> None:
        unknown = [n for n in graph.nodes if n.type not in self.scene.registry]
        if not unknown:
            self.window.problems.set_notes([])
            return
        types = sorted({n.type for n in unknown})
        listing = ", ".join(f"{n.id} ({n.type})" for n in unknown[:6]) + ("…" if len(unknown) > 6 else "")
        text = (
            f"Opened partially: {len(unknown)} node(s) of unknown type {', '.join(types)} are kept as placeholders "
            f"({listing}). Install the node pack that provides them to run this graph; saving keeps them."
        )
        self.window.problems.set_notes([text])
        self.window.notify(text, "warning")

    # ---- crash recovery ----------------------------------------------------------------------
    def offer_recovery(self) -> Recovery | None:
        """After a crash, offer to restore the newest recovery file; returns it if restored."""
        found = find_recoveries()
        if not found:
            return None
        newest = found[0]
        answer = QMessageBox.question(
            self.window,
            "Restore unsaved work?",
            "The studio did not close normally last time. Restore the graph it autosaved?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return self._discard(found)
        for older in found[1:]:
            older.release()  # not restored now, not lost: offered again at the next start
        return self.restore(newest)

    def restore(self, recovery: Recovery) -> Recovery | None:
        """Open a recovery file's graph as an unsaved document. The file stays (locked by this
        window) until the document is saved or autosaved, so a second crash loses nothing."""
        try:
            graph = recovery.load()
        except GraphFileError as exc:
            recovery.release()
            self.window.notify(f"Cannot restore the autosaved graph: {exc}", "error")
            return None
        source = Path(recovery.source) if recovery.source else None
        name = (source.name.removesuffix(".graph.json") if source else "Untitled") + " (recovered)"
        self.set_document(graph, source, name, dirty=True)
        self.window.autosaver.adopt(recovery)
        self.window.notify("Restored your autosaved work. Save it to keep it.", "info")
        return recovery

    def _discard(self, found: list[Recovery]) -> None:
        for recovery in found:
            recovery.discard()
        return None

    # ---- recent files ------------------------------------------------------------------------
    def _recent_file(self) -> Path:
        return config_dir() / "recent.json"

    def _load_recent(self) -> list[str]:
        try:
            data = json.loads(self._recent_file().read_text("utf-8"))
        except (OSError, ValueError):
            return []
        return [p for p in data if isinstance(p, str)][:MAX_RECENT] if isinstance(data, list) else []

    def add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        self.recent = [text, *[p for p in self.recent if p != text]][:MAX_RECENT]
        try:
            self._recent_file().parent.mkdir(parents=True, exist_ok=True)
            self._recent_file().write_text(json.dumps(self.recent, indent=1), "utf-8")
        except OSError:
            pass  # the recent list is a convenience; failing to store it must not block saving
        self.recent_changed.emit()
