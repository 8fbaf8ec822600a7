"""QueuePanel: the render queue: queued, running and finished runs, with reorder, remove, pause, cancel;
for each running one, where it runs (a render farm's worker) and how far it is."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from studio.ui import theme
from studio.ui.run_controller import RunController
from studio.ui.run_presenter import plain_error

EMPTY_TEXT = (
    "Queued renders appear here: Run (Ctrl+Enter), or Queue N… to render a graph several times "
    "with its seed fixed, incremented or random.\n"
    "The running one shows its progress; reorder, remove or pause the rest with the buttons below."
)


class QueuePanel(QWidget):
    def __init__(self, controller: RunController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("dim")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.up = QPushButton("▲")
        self.down = QPushButton("▼")
        self.remove = QPushButton("Remove")
        self.pause = QPushButton("Pause queue")
        self.pause.setCheckable(True)
        self.cancel = QPushButton("Cancel run")
        self.up.setToolTip("Run this queued job earlier")
        self.down.setToolTip("Run this queued job later")
        self.pause.setToolTip("Finish the running job, then start no new one")
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.pause)
        buttons.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._stack = QStackedLayout()  # the hint while nothing is queued, else the list
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.list)
        layout.addLayout(self._stack, 1)
        layout.addLayout(buttons)
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.remove.clicked.connect(self._remove)
        self.pause.toggled.connect(self._pause)
        self.cancel.clicked.connect(lambda: self.controller.cancel())
        controller.job_changed.connect(self.refresh)
        controller.progress_changed.connect(self._progress_changed)
        self._progress: dict[int, str] = {}  # job id -> "node done/total" of its running node
        self.list.currentRowChanged.connect(self._update_buttons)
        self.refresh()

    def selected_job(self) -> Any:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def refresh(self, *args: Any) -> None:
        current = self.selected_job()
        current_id = current.id if current is not None else None
        self.list.clear()
        jobs = self.controller.jobs()
        # Newest finished last; running first, then queued in run order.
        order = {"running": 0, "queued": 1}
        jobs = sorted(jobs, key=lambda j: (order.get(j.status, 2), 0 if j.status in order else -j.submitted))
        for job in jobs:
            item = QListWidgetItem(self._line(job))
            item.setData(Qt.ItemDataRole.UserRole, job)
            item.setForeground(QColor(theme.STATE_COLORS.get(job.status, theme.current().text)))
            self.list.addItem(item)
            if job.id == current_id:
                self.list.setCurrentItem(item)
        self._stack.setCurrentWidget(self.list if jobs else self.empty)
        self.pause.blockSignals(True)
        self.pause.setChecked(self.controller.paused)
        self.pause.blockSignals(False)
        self._update_buttons()

    def _line(self, job: Any) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(job.submitted))
        line = f"#{job.id}  {job.title or 'Untitled'}  —  {job.status}"
        if job.worker:
            line += f" on {job.worker}"
        if job.status == "running" and job.id in self._progress:
            line += f"  ·  {self._progress[job.id]}"
        line += f"  ·  {when}"
        if job.report is not None and job.status != "running":
            line += f"  ·  {job.report.seconds:.1f}s"
        if job.error:
            line += f"\n     {plain_error(job.error).splitlines()[0][:120]}"
        return line

    def _progress_changed(self, job_id: int, node_id: str, done: int, total: int) -> None:
        self._progress[job_id] = f"{node_id} {done}/{total}"
        for row in range(self.list.count()):
            item = self.list.item(row)
            job = item.data(Qt.ItemDataRole.UserRole)
            if job.id == job_id:
                item.setText(self._line(job))
                return

    def _update_buttons(self, *args: Any) -> None:
        job = self.selected_job()
        queued = job is not None and job.status == "queued"
        self.up.setEnabled(queued)
        self.down.setEnabled(queued)
        self.remove.setEnabled(job is not None)
        self.cancel.setEnabled(any(j.status == "running" for j in self.controller.jobs()))

    def _move(self, delta: int) -> None:
        job = self.selected_job()
        if job is None or job.status != "queued":
            return
        queued = [j for j in self.controller.jobs() if j.status == "queued"]
        index = next(i for i, j in enumerate(queued) if j.id == job.id)
        self.controller.move(job.id, max(0, index + delta))

    def _remove(self) -> None:
        job = self.selected_job()
        if job is not None:
            self.controller.remove(job.id)

    def _pause(self, on: bool) -> None:
        if on:
            self.controller.pause()
        else:
            self.controller.resume()
