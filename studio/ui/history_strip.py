"""HistoryStrip: thumbnails of finished outputs, newest first, labelled with prompt, seed, length and
time; click to view, double-click to restore its graph.

It outlives the session: at start it lists the output folder's videos and reads their embedded
graphs, thumbnails and lengths in one background thread, newest first, so the window never waits.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListView, QListWidget, QListWidgetItem, QMenu, QStackedLayout, QWidget

from studio.ui.frame_view import array_to_qimage
from studio.ui.render_summary import RenderFacts, graph_facts, rendered_videos

THUMB = QSize(128, 80)
EMPTY_TEXT = (
    "Finished renders appear here, newest first, with their prompt, seed, length and time.\n"
    "Click one to watch it; double-click to open the graph that made it.\n"
    "Videos already in the output folder are listed too."
)


class HistoryStrip(QWidget):
    output_chosen = Signal(object)  # an OutputEntry
    graph_requested = Signal(object)  # an OutputEntry whose graph should be restored
    timeline_requested = Signal(object)  # an OutputEntry to add to the timeline as a shot
    entry_read = Signal(object)  # an OutputEntry whose file was read (thumbnail, length, graph)
    _file_read = Signal(object, object, object, object)  # entry, RGB array, duration, graph (from the reader)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(THUMB)
        self.list.setGridSize(QSize(THUMB.width() + 56, THUMB.height() + 48))
        self.list.setWordWrap(False)  # two lines at most: the prompt (elided), then seed · length · time
        self.list.setMovement(QListView.Movement.Static)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("dim")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.list)
        self.entries: list[OutputEntry] = []
        self._pending: queue.SimpleQueue[OutputEntry | None] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()
        self._closed = False
        self.list.itemClicked.connect(lambda item: self.output_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.itemDoubleClicked.connect(lambda item: self.graph_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self._file_read.connect(self._apply_read, Qt.ConnectionType.QueuedConnection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)

    def add(self, entry: OutputEntry, *, newest: bool = True) -> None:
        """Show ``entry`` first (a render just finished) or last (an older file found on disk)."""
        if entry.path is not None and any(e.path == entry.path for e in self.entries):
            return
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, entry)
        if newest:
            self.entries.insert(0, entry)
            self.list.insertItem(0, item)
        else:
            self.entries.append(entry)
            self.list.addItem(item)
        self._relabel(entry)
        self._stack.setCurrentWidget(self.list)
        if entry.thumbnail is not None:
            self._set_thumbnail(entry, entry.thumbnail)
        elif entry.path is not None:
            self._read_later(entry)

    def load_folder(self, folder: Path) -> int:
        """List the videos already in ``folder`` (earlier sessions' renders) after those shown; returns
        how many were added. Their graphs and thumbnails arrive later, from the background reader."""
        before = len(self.entries)
        self._read_later(_WARM_UP)  # the reader's imports (PyAV) now, at idle, not as a render ends
        for path in rendered_videos(Path(folder)):
            facts = RenderFacts(created=_mtime(path))
            self.add(OutputEntry(path.name, path=path, facts=facts, graph=None, from_disk=True), newest=False)
        return len(self.entries) - before

    def item_of(self, entry: OutputEntry) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) is entry:
                return item
        return None

    def _relabel(self, entry: OutputEntry) -> None:
        item = self.item_of(entry)
        if item is not None:
            item.setText(entry.facts.label(entry.label))
            item.setToolTip(entry.facts.tooltip(str(entry.path or entry.label)))

    def _context_menu(self, point: Any) -> None:
        item = self.list.itemAt(point)
        if item is None:
            return
        entry = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("View", lambda: self.output_chosen.emit(entry))
        menu.addAction("Open its graph", lambda: self.graph_requested.emit(entry))
        add = menu.addAction("Add to timeline", lambda: self.timeline_requested.emit(entry))
        add.setEnabled(entry.path is not None)
        menu.exec(self.list.viewport().mapToGlobal(point))

    # ---- the background reader ---------------------------------------------------------------
    def _read_later(self, entry: OutputEntry) -> None:
        # Decoding a frame and parsing a graph take tens of milliseconds each: never in the GUI thread.
        if self._closed:
            return  # shut down with the window: a late timer starts no thread
        self._pending.put(entry)
        if self._reader is None or not self._reader.is_alive():
            self._stopping.clear()
            self._reader = threading.Thread(target=self._read_files, name="studio-history", daemon=True)
            self._reader.start()

    def _read_files(self) -> None:
        while not self._stopping.is_set():
            entry = self._pending.get()
            if entry is None:
                return
            if entry is _WARM_UP:
                import av  # noqa: F401  (its native init holds the GIL: better before a render than during one)

                import studio.graph.fileformat
                import studio.media.video_io  # noqa: F401

                continue
            array, duration, graph = read_render(entry.path, want_graph=entry.graph is None)
            if not self._stopping.is_set():
                self._file_read.emit(entry, array, duration, graph)

    def _apply_read(self, entry: OutputEntry, array: Any, duration: Any, graph: Any) -> None:
        if graph is not None and entry.graph is None:
            entry.graph = graph
            known = graph_facts(graph)
            entry.facts.prompt, entry.facts.seed = known.prompt, known.seed
        if duration is not None and not entry.facts.duration:
            entry.facts.duration = duration
        entry.read = True
        self._relabel(entry)
        if array is not None:
            self._set_thumbnail(entry, array)
        self.entry_read.emit(entry)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the reader (each file takes milliseconds) so it does not outlive the window."""
        self._closed = True
        self._stopping.set()
        self._pending.put(None)
        if self._reader is not None:
            self._reader.join(timeout)
        self._reader = None
        self._pending = queue.SimpleQueue()

    def _set_thumbnail(self, entry: OutputEntry, array: Any) -> None:
        entry.thumbnail = array
        item = self.item_of(entry)
        if item is not None:
            pixmap = QPixmap.fromImage(array_to_qimage(array)).scaled(
                THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            item.setIcon(QIcon(pixmap))


_WARM_UP = object()  # a marker for the reader: import what reading needs


class OutputEntry:
    """One finished output: a video file, or in-memory frames from a PreviewVideo node."""

    def __init__(
        self,
        label: str,
        *,
        path: Path | None = None,
        frames: Any = None,
        fps: float = 24.0,
        graph: Any = None,
        facts: RenderFacts | None = None,
        from_disk: bool = False,
    ) -> None:
        self.label = label  # shown when nothing better is known (the file name)
        self.path = path
        self.frames = frames
        self.fps = fps
        self.graph = graph  # the graph snapshot that produced it (read later for a file from disk)
        self.facts = facts or RenderFacts()
        self.from_disk = from_disk
        self.read = False
        self.thumbnail = None
        if frames is not None:
            self.thumbnail = frames[len(frames) // 2] if getattr(frames, "ndim", 0) == 4 else frames
            if getattr(frames, "ndim", 0) == 4 and fps:
                self.facts.duration = self.facts.duration or len(frames) / fps


def read_render(path: Path, *, want_graph: bool = True) -> tuple[Any, float | None, Any]:
    """A rendered video's first frame, length in seconds and embedded graph; None for what cannot be
    read. The graph goes through the graph file's own loader and limits: a stranger's file is data."""
    from studio.graph.fileformat import GraphFileError, loads_graph
    from studio.media.video_io import probe_video, read_embedded_graph_text

    array = first_frame(path)
    try:
        duration = probe_video(path).duration
    except Exception:  # a length is a nicety; a file PyAV cannot read just shows none
        duration = None
    graph = None
    if want_graph:
        text = read_embedded_graph_text(path)
        if text is not None:
            try:
                graph = loads_graph(text, source=str(path))
            except GraphFileError:
                graph = None  # restoring it later reports the problem; the item still shows the video
    return array, duration, graph


def first_frame(path: Path) -> Any:
    """The first frame of a video as an RGB array, or None when it cannot be decoded."""
    try:
        import av

        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="rgb24")
    except Exception:  # a thumbnail is a nicety; a file PyAV cannot read just gets none
        return None
    return None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
