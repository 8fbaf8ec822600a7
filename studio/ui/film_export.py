"""Film export from the timeline dock: the options dialog and the render job that runs on a worker thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

from studio.timeline import Timeline


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


class ExportDialog(QDialog):
    """Film size, fit and codec for an export."""

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export film")
        shots = timeline.shots()
        first = shots[0].metadata.get("settings", {}) if shots else {}
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, value in ((self.width_box, first.get("width", 1280)), (self.height_box, first.get("height", 720))):
            box.setRange(16, 8192)
            box.setSingleStep(2)
            box.setValue(int(value))
        self.fit = QComboBox()
        self.fit.addItems(["letterbox", "scale"])
        self.codec = QComboBox()
        self.codec.addItems(["h264", "h265", "vp9", "av1", "prores"])
        form = QFormLayout(self)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        form.addRow("Fit", self.fit)
        form.addRow("Codec", self.codec)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> dict[str, Any]:
        return {
            "width": self.width_box.value(),
            "height": self.height_box.value(),
            "fit": self.fit.currentText(),
            "codec": self.codec.currentText(),
        }
