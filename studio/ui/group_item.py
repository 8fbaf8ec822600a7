"""GroupItem: a titled, coloured frame behind part of the graph.

Dragging its title moves the frame and the nodes inside it; the corner grip resizes it.
Both become one undo command when the mouse is released.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from studio.graph.model import Group

TITLE = 30.0
GRIP = 14.0


class GroupItem(QGraphicsObject):
    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group_id = group.id
        self.title = group.title
        self.color = QColor(group.color)
        self._rect = QRectF(0, 0, group.bounds[2], group.bounds[3])
        self.setPos(group.bounds[0], group.bounds[1])
        self.setZValue(-10)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setToolTip("Group: drag the title to move it with its nodes; drag the corner to resize")
        self._drag: str | None = None
        self._press = QPointF()
        self._start_rect = QRectF()
        self._start_pos = QPointF()
        self._carried: dict[str, QPointF] = {}

    def update_from(self, group: Group) -> None:
        self.prepareGeometryChange()
        self.title = group.title
        self.color = QColor(group.color)
        self._rect = QRectF(0, 0, group.bounds[2], group.bounds[3])
        self.setPos(group.bounds[0], group.bounds[1])
        self.update()

    def bounds(self) -> tuple[float, float, float, float]:
        return (
            round(self.pos().x(), 1),
            round(self.pos().y(), 1),
            round(self._rect.width(), 1),
            round(self._rect.height(), 1),
        )

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(self.color)
        fill.setAlpha(55)
        edge = QColor(self.color).lighter(140)
        painter.setPen(QPen(edge, 2 if self.isSelected() else 1.2))
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 10, 10)
        title_fill = QColor(self.color)
        title_fill.setAlpha(170)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(title_fill)
        painter.save()
        painter.setClipRect(QRectF(0, 0, self._rect.width(), TITLE))
        painter.drawRoundedRect(self._rect, 10, 10)
        painter.restore()
        font = QFont()
        font.setPointSizeF(11)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(
            QRectF(12, 0, self._rect.width() - 24, TITLE), Qt.AlignmentFlag.AlignVCenter, self.title or "Group"
        )
        painter.setPen(QPen(edge, 1.5))
        r = self._rect
        for d in (4, 8, 12):
            painter.drawLine(QPointF(r.right() - d, r.bottom() - 2), QPointF(r.right() - 2, r.bottom() - d))

    def _grip(self) -> QRectF:
        return QRectF(self._rect.right() - GRIP, self._rect.bottom() - GRIP, GRIP, GRIP)

    def contains_scene_rect(self, rect: QRectF) -> bool:
        return self.sceneBoundingRect().contains(rect)

    # ---- dragging ----------------------------------------------------------------------
    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        pos = event.pos()
        if self._grip().contains(pos):
            self._drag = "resize"
        elif pos.y() <= TITLE:
            self._drag = "move"
            scene = self.scene()
            inside = [n for n in scene.node_items.values() if self.contains_scene_rect(n.sceneBoundingRect())]
            self._carried = {n.node_id: n.pos() for n in inside}
        else:
            event.ignore()  # the body lets rubber-band selection start on the canvas
            return
        self._press = event.scenePos()
        self._start_rect = QRectF(self._rect)
        self._start_pos = self.pos()
        self.setSelected(True)
        event.accept()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        delta = event.scenePos() - self._press
        if self._drag == "resize":
            self.prepareGeometryChange()
            self._rect.setWidth(max(160.0, self._start_rect.width() + delta.x()))
            self._rect.setHeight(max(80.0, self._start_rect.height() + delta.y()))
            self.update()
        elif self._drag == "move":
            self.setPos(self._start_pos + delta)
            scene = self.scene()
            for node_id, start in self._carried.items():
                item = scene.node_items.get(node_id)
                if item is not None:
                    item.setPos(start + delta)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        drag, self._drag = self._drag, None
        if drag is None:
            return
        scene = self.scene()
        moved = {nid: scene.node_items[nid] for nid in self._carried if nid in scene.node_items}
        self._carried = {}
        scene.commit_group_drag(self, moved)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        if event.pos().y() <= TITLE:
            self.scene().rename_group(self.group_id)
