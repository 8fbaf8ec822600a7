"""HistoryStrip: thumbnails of finished outputs, newest first; click to view, double-click to restore its graph."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QMenu, QVBoxLayout, QWidget

from studio.ui.frame_view import array_to_qimage

THUMB = QSize(128, 80)


class HistoryStrip(QWidget):
    output_chosen = Signal(object)  # an OutputEntry
    graph_requested = Signal(object)  # an OutputEntry whose graph should be restored
    timeline_requested = Signal(object)  # an OutputEntry to add to the timeline as a shot
    _thumbnail_decoded = Signal(object, object)  # entry, RGB array (from a decoding thread)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(THUMB)
        self.list.setGridSize(QSize(THUMB.width() + 16, THUMB.height() + 34))
        self.list.setMovement(QListView.Movement.Static)
        self.list.setToolTip("Click to view; double-click to open the graph that made it")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.list)
        self.entries: list[OutputEntry] = []
        self._threads: list[threading.Thread] = []
        self.list.itemClicked.connect(lambda item: self.output_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self._thumbnail_decoded.connect(self._set_thumbnail, Qt.ConnectionType.QueuedConnection)
        self.list.itemDoubleClicked.connect(lambda item: self.graph_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)

    def add(self, entry: OutputEntry) -> None:
        self.entries.insert(0, entry)
        item = QListWidgetItem(entry.label)
        item.setData(Qt.ItemDataRole.UserRole, entry)
        item.setToolTip(str(entry.path or entry.label))
        self.list.insertItem(0, item)
        if entry.thumbnail is not None:
            self._set_thumbnail(entry, entry.thumbnail)
        elif entry.path is not None:
            # Decoding a frame takes tens of milliseconds: never in the GUI thread.
            thread = threading.Thread(target=self._decode, args=(entry,), name="studio-thumbnail", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

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

    def shutdown(self, timeout: float = 5.0) -> None:
        """Wait for thumbnail decoding to finish (they take milliseconds) so none outlives the window."""
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _decode(self, entry: OutputEntry) -> None:
        array = first_frame(entry.path)
        if array is not None:
            self._thumbnail_decoded.emit(entry, array)

    def _set_thumbnail(self, entry: OutputEntry, array: Any) -> None:
        entry.thumbnail = array
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) is entry:
                pixmap = QPixmap.fromImage(array_to_qimage(array)).scaled(
                    THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
                item.setIcon(QIcon(pixmap))


class OutputEntry:
    """One finished output: a video file, or in-memory frames from a PreviewVideo node."""

    def __init__(
        self, label: str, *, path: Path | None = None, frames: Any = None, fps: float = 24.0, graph: Any = None
    ) -> None:
        self.label = label
        self.path = path
        self.frames = frames
        self.fps = fps
        self.graph = graph  # the graph snapshot that produced it
        self.thumbnail = None
        if frames is not None:
            self.thumbnail = frames[len(frames) // 2] if getattr(frames, "ndim", 0) == 4 else frames


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
