"""PortItem: a node's input or output on the canvas; links start and end at its centre."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from studio.ui import theme

if TYPE_CHECKING:
    from studio.ui.link_item import LinkItem
    from studio.ui.node_item import NodeItem

PORT_RADIUS = 5.5
UNKNOWN_TYPE = "?"


class PortItem(QGraphicsItem):
    """A port: a coloured dot on the node's edge; links start and end at its centre.

    A promoted parameter's port (``parameter``) is a diamond: unconnected, the parameter's own
    value is used; connected, the wire's value replaces it.
    """

    def __init__(
        self,
        node_item: NodeItem,
        name: str,
        type_name: str,
        is_output: bool,
        optional: bool = False,
        parameter: bool = False,
    ):
        super().__init__(node_item)
        self.node_item = node_item
        self.name = name
        self.type_name = type_name
        self.is_output = is_output
        self.optional = optional
        self.parameter = parameter
        self.links: list[LinkItem] = []
        self.highlight: str = ""  # "" | "accept" | "refuse"
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        kind = "output" if is_output else ("optional input" if optional else "input")
        if parameter:
            kind = "parameter driven by a wire; unconnected, its own value is used; right-click for options"
        self.setToolTip(f"{name}: {type_name} ({kind})")

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = PORT_RADIUS + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def scene_center(self) -> QPointF:
        return self.scenePos()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        color = theme.port_color(self.type_name)
        if self.highlight == "refuse":
            color = QColor(color)
            color.setAlpha(60)
        radius = PORT_RADIUS + (2 if self._hover or self.highlight == "accept" else 0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(theme.current().node_body), 2))
        connected = bool(self.links) or self.is_output
        painter.setBrush(QBrush(color) if connected or self.highlight == "accept" else QBrush(color.darker(250)))
        shape = _diamond if self.parameter else _circle
        painter.drawPath(shape(radius + (1 if self.parameter else 0)))
        if not connected:
            painter.setPen(QPen(color, 1.6))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(shape(radius - (0.6 if self.parameter else 1.2)))

    def hoverEnterEvent(self, event: Any) -> None:  # noqa: N802
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802
        self._hover = False
        self.update()


def _circle(radius: float) -> QPainterPath:
    path = QPainterPath()
    path.addEllipse(QPointF(0, 0), radius, radius)
    return path


def _diamond(radius: float) -> QPainterPath:
    path = QPainterPath(QPointF(0, -radius))
    for x, y in ((radius, 0), (0, radius), (-radius, 0)):
        path.lineTo(x, y)
    path.closeSubpath()
    return path
