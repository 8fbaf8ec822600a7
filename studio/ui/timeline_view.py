"""TimelineView: the shot timeline drawn as tracks of clips, with a playhead, zoom and snapping.

The view shows a :class:`studio.timeline.Timeline` and reports what the user asked for
(select, move, trim, seek) as signals; the panel turns those into undoable edits, so the
view never edits the model itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsScene, QGraphicsView

RULER = 22.0
VIDEO_Y = RULER + 6
VIDEO_H = 64.0
AUDIO_Y = VIDEO_Y + VIDEO_H + 10
AUDIO_H = 30.0
EDGE = 6.0  # pixels from a clip's edge that grab a trim instead of a move
SNAP = 8.0  # pixels within which a dragged edge snaps to another edge or the playhead


class ClipItem(QGraphicsObject):
    """One shot: thumbnail, name and length; drag to reorder, drag an edge to trim."""

    def __init__(self, view: TimelineView, shot: Any, thumbnail: QPixmap | None) -> None:
        super().__init__()
        self.view = view
        self.shot = shot
        self.thumbnail = thumbnail
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setPos(shot.start * view.px_per_frame, VIDEO_Y)
        self._mode: str | None = None
        self._press_x = 0.0
        self._delta = 0.0
        self.setToolTip(
            f"{shot.name}\n{shot.path}\n{shot.duration} frames" + ("\nOFFLINE: file missing" if shot.offline else "")
        )

    @property
    def width(self) -> float:
        return max(2.0, self.shot.duration * self.view.px_per_frame)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-1, -1, self.width + 2, VIDEO_H + 2)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        rect = QRectF(0, 0, self.width, VIDEO_H)
        if self._mode == "trim-left":
            rect.setLeft(min(self._delta, rect.width() - 2))
        elif self._mode == "trim-right":
            rect.setRight(max(2.0, rect.width() + self._delta))
        base = QColor("#7a2f2f") if self.shot.offline else QColor("#2f4f6f")
        painter.setPen(QPen(QColor("#f0a030") if self.isSelected() else QColor("#1b2330"), 2))
        painter.setBrush(base)
        painter.drawRoundedRect(rect, 4, 4)
        if self.thumbnail is not None and not self.shot.offline:
            thumb = self.thumbnail.scaledToHeight(int(VIDEO_H - 20), Qt.TransformationMode.SmoothTransformation)
            x = rect.left() + 3
            painter.save()
            painter.setClipRect(rect.adjusted(2, 2, -2, -2))
            while x < rect.right() - 2:
                painter.drawPixmap(int(x), 3, thumb)
                x += thumb.width() + 2
            painter.restore()
        painter.setPen(QColor("#f2f4f8"))
        font = QFont(painter.font())
        font.setPointSizeF(8.5)
        painter.setFont(font)
        label = f"{self.shot.name}  ·  {self.shot.duration}f" + ("  · OFFLINE" if self.shot.offline else "")
        painter.drawText(rect.adjusted(5, VIDEO_H - 18, -4, 0), Qt.AlignmentFlag.AlignLeft, label)

    def hoverMoveEvent(self, event: Any) -> None:  # noqa: N802
        near_edge = event.pos().x() < EDGE or event.pos().x() > self.width - EDGE
        self.setCursor(Qt.CursorShape.SizeHorCursor if near_edge else Qt.CursorShape.OpenHandCursor)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        x = event.pos().x()
        self._mode = "trim-left" if x < EDGE else "trim-right" if x > self.width - EDGE else "move"
        self._press_x = event.scenePos().x()
        self._delta = 0.0
        self.view.shot_selected.emit(self.shot.index)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        if self._mode is None:
            return
        delta = event.scenePos().x() - self._press_x
        if self._mode == "move":
            self.setPos(self.shot.start * self.view.px_per_frame + delta, VIDEO_Y - 4)
            self.setZValue(10)
        else:
            edge = self.pos().x() + (0 if self._mode == "trim-left" else self.width) + delta
            delta += self.view.snap(edge, exclude=self) - edge
            self.prepareGeometryChange()
            self._delta = delta
            self.update()

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        mode, delta = self._mode, event.scenePos().x() - self._press_x
        self._mode = None
        self.setZValue(0)
        frames = round((self._delta if mode and mode.startswith("trim") else delta) / self.view.px_per_frame)
        self._delta = 0.0
        request: Callable[[], None] = self.view.refresh
        index, shot = self.shot.index, self.shot
        if mode == "move" and abs(delta) >= 4:
            to = self.view.index_at(self.pos().x() + self.width / 2)
            request = lambda: self.view.move_requested.emit(index, to)  # noqa: E731
        elif mode == "trim-left" and frames:
            request = lambda: self.view.trim_requested.emit(index, shot.source_in + frames, shot.duration - frames)  # noqa: E731
        elif mode == "trim-right" and frames:
            request = lambda: self.view.trim_requested.emit(index, shot.source_in, shot.duration + frames)  # noqa: E731
        super().mouseReleaseEvent(event)
        # The edit rebuilds the scene, deleting this item: let Qt finish delivering the event first.
        QTimer.singleShot(0, self.view, request)


class TimelineView(QGraphicsView):
    shot_selected = Signal(int)
    move_requested = Signal(int, int)  # shot index, new index
    trim_requested = Signal(int, int, int)  # shot index, first frame of the file, frames
    playhead_moved = Signal(int)  # film frame

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setMinimumHeight(int(AUDIO_Y + AUDIO_H + 24))
        self.setBackgroundBrush(QColor("#161b22"))
        self.px_per_frame = 4.0
        self.playhead = 0
        self.timeline: Any = None
        self.clips: list[ClipItem] = []
        self._thumbs: dict[Path, QPixmap | None] = {}

    # ---- showing the model ---------------------------------------------------------------
    def show_timeline(self, timeline: Any) -> None:
        self.timeline = timeline
        self.refresh()

    def refresh(self) -> None:
        scene = self.scene()
        selected = next((c.shot.index for c in self.clips if c.isSelected()), None)
        scene.clear()
        self.clips = []
        if self.timeline is None:
            return
        ppf = self.px_per_frame
        length = max(self.timeline.duration(), 1)
        width = length * ppf + 200
        scene.setSceneRect(0, 0, width, AUDIO_Y + AUDIO_H + 8)
        for shot in self.timeline.shots():
            item = ClipItem(self, shot, self._thumbnail(shot.path))
            scene.addItem(item)
            item.setSelected(shot.index == selected)
            self.clips.append(item)
        starts = {s.index: s.start for s in self.timeline.shots()}
        for before, in_off, out_off in self.timeline.transitions():
            cut = starts.get(before + 1)
            if cut is None:
                continue
            x0, x1 = (cut - in_off) * ppf, (cut + out_off) * ppf
            path = QPainterPath(QPointF(x0, VIDEO_Y))
            path.lineTo(x1, VIDEO_Y + VIDEO_H)
            path.moveTo(x0, VIDEO_Y + VIDEO_H)
            path.lineTo(x1, VIDEO_Y)
            marker = scene.addPath(path, QPen(QColor("#f0c060"), 2))
            marker.setZValue(5)
            marker.setToolTip(f"Dissolve, {in_off + out_off} frames")
        track = self.timeline.soundtrack()
        if track is not None:
            seconds = self.timeline.audio[0].source_range.duration.to_seconds()
            rect = scene.addRect(
                QRectF(0, AUDIO_Y, seconds * self.timeline.rate * ppf, AUDIO_H), QPen(QColor("#1b2330"))
            )
            rect.setBrush(QBrush(QColor("#2f6f3f")))
            label = scene.addText(f"♪ {track['path'].name}  {track.get('gain_db', 0):+.1f} dB")
            label.setDefaultTextColor(QColor("#e8f0e8"))
            label.setPos(4, AUDIO_Y + 3)
        line = scene.addLine(self.playhead * ppf, 0, self.playhead * ppf, AUDIO_Y + AUDIO_H, QPen(QColor("#e5534b"), 2))
        line.setZValue(20)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        """The ruler: a tick every second, labelled in seconds."""
        if self.timeline is None:
            return
        rate, ppf = self.timeline.rate, self.px_per_frame
        painter.fillRect(QRectF(rect.left(), 0, rect.width(), RULER), QColor("#10141a"))
        painter.setPen(QColor("#8a93a6"))
        step = max(1, int(round(60 / (rate * ppf))))  # keep labels about 60 px apart
        second = int(rect.left() / (rate * ppf))
        while second * rate * ppf < rect.right():
            x = second * rate * ppf
            painter.drawLine(QPointF(x, RULER - 6), QPointF(x, RULER))
            painter.drawText(QPointF(x + 3, RULER - 8), f"{second}s")
            second += step

    def _thumbnail(self, path: Path) -> QPixmap | None:
        if path not in self._thumbs:
            self._thumbs[path] = _first_frame(path)
        return self._thumbs[path]

    # ---- geometry helpers for the items --------------------------------------------------
    def index_at(self, x: float) -> int:
        """The shot index a clip dropped with its centre at ``x`` should take."""
        others = [c for c in self.clips if c.zValue() == 0]
        return sum(1 for c in others if c.pos().x() + c.width / 2 < x)

    def snap(self, x: float, exclude: Any = None) -> float:
        """``x`` pulled onto a nearby clip edge or the playhead."""
        edges = [self.playhead * self.px_per_frame]
        for clip in self.clips:
            if clip is not exclude:
                edges += [clip.pos().x(), clip.pos().x() + clip.width]
        best = min(edges, key=lambda e: abs(e - x), default=x)
        return best if abs(best - x) <= SNAP else x

    def set_playhead(self, frame: int) -> None:
        total = self.timeline.duration() if self.timeline is not None else 0
        self.playhead = max(0, min(int(frame), total))
        self.refresh()
        self.playhead_moved.emit(self.playhead)

    # ---- interaction ---------------------------------------------------------------------
    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        point = self.mapToScene(event.position().toPoint())
        if point.y() < RULER:
            self.set_playhead(round(point.x() / self.px_per_frame))
            return
        super().mousePressEvent(event)

    def wheelEvent(self, event: Any) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)
            return
        super().wheelEvent(event)

    def zoom(self, factor: float) -> None:
        self.px_per_frame = min(40.0, max(0.25, self.px_per_frame * factor))
        self.refresh()


def _first_frame(path: Path) -> QPixmap | None:
    """A small thumbnail from the first frame of a shot (None if it cannot be read).

    Decoded once per file and cached by the view, so only adding a shot pays for it.
    """
    from studio.ui.frame_view import array_to_qimage
    from studio.ui.history_strip import first_frame

    image = first_frame(path)
    return None if image is None else QPixmap.fromImage(array_to_qimage(image)).scaledToHeight(48)
