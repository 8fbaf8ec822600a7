"""Film export from the timeline dock: the options dialog (which shows the film it will write), the
render job, and the exporter that runs one job at a time on a worker thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from studio.timeline import Timeline

CODEC_NAMES = ("h264", "h265", "vp9", "av1", "prores")


class FilmExport(QObject):
    """Renders the film on a worker thread; progress and the result come back as signals."""

    progressed = Signal(int, int)
    finished = Signal(object)  # VideoFile
    failed = Signal(str)

    def __init__(self, timeline: Timeline, path: Path, options: dict[str, Any]) -> None:
        super().__init__()
        self.timeline, self.path, self.options = timeline, path, options
        self.cancelled = False

    def run(self) -> None:
        from studio.engine.context import Cancelled
        from studio.timeline.render import render_film

        def check() -> None:
            if self.cancelled:
                raise Cancelled()

        try:
            result = render_film(
                self.timeline, self.path, progress=self.progressed.emit, check_cancelled=check, **self.options
            )
        except Cancelled:
            self.failed.emit("export cancelled; nothing was written")
        except Exception as exc:  # reported in the panel; the app stays up
            self.failed.emit(f"export failed: {exc}")
        else:
            self.finished.emit(result)


class FilmExporter(QObject):
    """Runs one :class:`FilmExport` at a time on its own thread, relaying its signals."""

    progressed = Signal(int, int)
    finished = Signal(object)  # VideoFile
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: tuple[QThread, FilmExport] | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None

    def start(self, timeline: Timeline, path: Path, options: dict[str, Any]) -> None:
        thread, job = QThread(self), FilmExport(timeline, path, options)
        job.moveToThread(thread)
        thread.started.connect(job.run)
        queued = Qt.ConnectionType.QueuedConnection
        job.progressed.connect(self.progressed, queued)
        job.finished.connect(self._finished, queued)
        job.failed.connect(self._failed, queued)
        self._running = (thread, job)
        thread.start()

    def cancel(self) -> None:
        if self._running is not None:
            self._running[1].cancelled = True

    def stop(self) -> None:
        """Cancel a running export and wait for its thread (closing the app)."""
        self.cancel()
        self._join()

    def _finished(self, video: Any) -> None:
        self._join()
        self.finished.emit(video)

    def _failed(self, reason: str) -> None:
        self._join()
        self.failed.emit(reason)

    def _join(self) -> None:
        if self._running is not None:
            thread, _job = self._running
            thread.quit()
            thread.wait()
            self._running = None


class ExportControls(QWidget):
    """The dock's export progress bar and Cancel button (shown only while a film is written) over a
    :class:`FilmExporter`; ``exported`` carries the written film, ``said`` what to tell the user."""

    exported = Signal(object)  # VideoFile
    said = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.exporter = FilmExporter(self)
        self.exporter.progressed.connect(self._progressed)
        self.exporter.finished.connect(self._done)
        self.exporter.failed.connect(self._failed)
        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.clicked.connect(self.exporter.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        self.hide()

    def export(self, timeline: Timeline, path: str | Path, options: dict[str, Any]) -> None:
        """Render ``timeline`` (a copy: later edits do not reach this export) in the background."""
        if self.exporter.busy:
            self.said.emit("an export is already running")
            return
        options.setdefault("width", 1280)
        options.setdefault("height", 720)
        self.progress.setValue(0)
        self.show()
        self.exporter.start(timeline.copy(), Path(path), options)

    def cancel(self) -> None:
        self.exporter.cancel()

    def stop(self) -> None:
        self.exporter.stop()
        self.hide()

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _done(self, video: Any) -> None:
        self.hide()
        self.said.emit(f"film written: {video.path} ({video.duration:.1f} s)")
        self.exported.emit(video)

    def _failed(self, reason: str) -> None:
        self.hide()
        self.said.emit(reason)


def preview_size(settings: dict[str, Any], longest: int = 640) -> dict[str, int]:
    """A quick preview's even width and height: a shot's size scaled down to at most ``longest`` wide."""
    width, height = int(settings.get("width", 640)), int(settings.get("height", 360))
    scale = min(1.0, longest / max(width, 1))
    return {"width": max(16, int(width * scale) // 2 * 2), "height": max(16, int(height * scale) // 2 * 2)}


class ExportDialog(QDialog):
    """Film size, fit, codec and file; a line below says what will be written (size, length, file)."""

    def __init__(self, timeline: Timeline, folder: str | Path = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export film")
        self.timeline = timeline
        shots = timeline.shots()
        first = shots[0].metadata.get("settings", {}) if shots else {}
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, value in ((self.width_box, first.get("width", 1280)), (self.height_box, first.get("height", 720))):
            box.setRange(16, 8192)
            box.setSingleStep(2)
            box.setValue(int(value))
            box.valueChanged.connect(self._update)
        self.fit = QComboBox()
        self.fit.addItems(["letterbox", "scale"])
        self.codec = QComboBox()
        self.codec.addItems(list(CODEC_NAMES))
        self.codec.currentTextChanged.connect(self._codec_changed)
        self.file = QLineEdit(str(Path(folder) / f"film{_suffix('h264')}"))
        self.file.textChanged.connect(self._update)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file, 1)
        file_row.addWidget(browse)
        self.summary = QLabel()
        self.summary.setObjectName("dim")
        self.summary.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        form.addRow("Fit", self.fit)
        form.addRow("Codec", self.codec)
        form.addRow("File", file_row)
        form.addRow(self.summary)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._update()

    def options(self) -> dict[str, Any]:
        return {
            "width": self.width_box.value(),
            "height": self.height_box.value(),
            "fit": self.fit.currentText(),
            "codec": self.codec.currentText(),
        }

    def path(self) -> Path:
        """The file to write; its suffix follows the codec's container."""
        return Path(self.file.text().strip()).with_suffix(_suffix(self.codec.currentText()))

    def summary_text(self) -> str:
        frames, rate = self.timeline.duration(), self.timeline.rate
        name = self.path().name if self.file.text().strip() else "(no file name)"
        return (
            f"{self.width_box.value()}×{self.height_box.value()}, {frames / rate:.1f} s "
            f"({frames} frames at {rate:g} fps), {self.codec.currentText()} → {name}"
        )

    def _update(self) -> None:
        self.summary.setText(self.summary_text())
        named = bool(self.file.text().strip()) and bool(self.path().stem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(named and self.timeline.duration() > 0)

    def _codec_changed(self, codec: str) -> None:
        text = self.file.text().strip()
        if text:
            self.file.setText(str(Path(text).with_suffix(_suffix(codec))))
        self._update()

    def _browse(self) -> None:
        suffix = _suffix(self.codec.currentText())
        path, _ = QFileDialog.getSaveFileName(self, "Export film", str(self.path()), f"Video (*{suffix})")
        if path:
            self.file.setText(str(Path(path).with_suffix(suffix)))


def _suffix(codec: str) -> str:
    from studio.media.video_io import CODECS

    return CODECS[codec].suffix
