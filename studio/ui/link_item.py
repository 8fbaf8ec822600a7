"""LinkItem: a wire between two ports, coloured by its type, with draggable reroute points.

Reroute points live in the link's ``extra["points"]`` (kept in the graph file); moving one
is an undo command that swaps the link for one with the new points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from studio.graph.model import Link
from studio.textsafe import safe
from studio.ui import theme

if TYPE_CHECKING:
    from studio.ui.port_item import PortItem


def wire_path(start: QPointF, end: QPointF, via: list[QPointF] = ()) -> QPainterPath:  # type: ignore[assignment]
    """A smooth S-curve from an output (leaving right) to an input (entering from the left)."""
    path = QPainterPath(start)
    for _a, c1, c2, b in _segments(start, end, via):
        path.cubicTo(QPointF(*c1), QPointF(*c2), QPointF(*b))
    return path


Point = tuple[float, float]


def _segments(start: QPointF, end: QPointF, via: list[QPointF] = ()) -> list[tuple[Point, Point, Point, Point]]:  # type: ignore[assignment]
    """The wire's cubic segments: (from, control 1, control 2, to) for each leg."""
    points = [(p.x(), p.y()) for p in (start, *via, end)]
    segments = []
    for a, b in zip(points, points[1:], strict=False):
        dx = max(abs(b[0] - a[0]) * 0.5, 40.0)
        segments.append((a, (a[0] + dx, a[1]), (b[0] - dx, b[1]), b))
    return segments


def detour(start: QPointF, end: QPointF, boxes: list[QRectF]) -> list[QPointF]:
    """Via points taking the wire from ``start`` to ``end`` around the node boxes in its way.

    A wire hidden behind a node reads as a connection to that node, and one drawn over it hides
    the node's values; going round keeps both readable (as hand-tidied graphs do). The wire
    passes above or below the boxes it would cross, whichever side is nearer its ends.
    """
    if end.x() - start.x() < 60 or not boxes:
        return []  # backward or very short wires keep their plain curve
    blocking = _crossed(start, end, [], boxes)
    if not blocking:
        return []
    area = QRectF(blocking[0])
    for _ in range(4):  # a detour may meet other boxes: go round them too
        for box in blocking:
            area = area.united(box)
        middle = (start.y() + end.y()) / 2
        y = (
            area.top() - DETOUR_GAP
            if abs(area.top() - middle) <= abs(area.bottom() - middle)
            else area.bottom() + DETOUR_GAP
        )
        left = max(area.left() - DETOUR_GAP, start.x() + 20)
        right = min(area.right() + DETOUR_GAP, end.x() - 20)
        via = [QPointF(left, y), QPointF(right, y)] if right > left else [QPointF((left + right) / 2, y)]
        blocking = [box for box in _crossed(start, end, via, boxes) if not area.contains(box)]
        if not blocking:
            break
    return via


DETOUR_GAP = 16.0


def _crossed(start: QPointF, end: QPointF, via: list[QPointF], boxes: list[QRectF], samples: int = 24) -> list[QRectF]:
    """The boxes that the wire through ``via`` runs through, sampled along each leg's curve.

    Evaluated here in plain arithmetic: ``QPainterPath.pointAtPercent`` measures the whole path
    on every call, and this runs for each wire whenever a node moves."""
    points = []
    for (ax, ay), (bx, by), (cx, cy), (dx, dy) in _segments(start, end, via):
        for i in range(1, samples):
            t = i / samples
            u = 1 - t
            w0, w1, w2, w3 = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
            points.append((w0 * ax + w1 * bx + w2 * cx + w3 * dx, w0 * ay + w1 * by + w2 * cy + w3 * dy))
    crossed = []
    for box in boxes:
        left, top, right, bottom = box.left(), box.top(), box.right(), box.bottom()
        if any(left <= x <= right and top <= y <= bottom for x, y in points):
            crossed.append(box)
    return crossed


class RerouteHandle(QGraphicsItem):
    """A reroute point on a link; drag it to shape the wire, double-click to remove it."""

    def __init__(self, link_item: LinkItem, index: int, pos: QPointF) -> None:
        super().__init__(link_item)
        self.link_item = link_item
        self.index = index
        self.setPos(pos)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges
        )
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setToolTip("Reroute point: drag to move, double-click to remove")

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-7, -7, 14, 14)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(theme.current().node_body), 2))
        painter.setBrush(self.link_item.color)
        painter.drawEllipse(QPointF(0, 0), 5.5, 5.5)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemScenePositionHasChanged:
            self.link_item.update_path()
        return super().itemChange(change, value)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        super().mouseReleaseEvent(event)
        self.link_item.commit_points()

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        self.link_item.remove_point(self.index)


class LinkItem(QGraphicsPathItem):
    def __init__(self, link: Link, source: PortItem, target: PortItem) -> None:
        super().__init__()
        self.link = link
        self.source = source
        self.target = target
        self.color = theme.port_color(source.type_name if source.type_name != "?" else target.type_name)
        self.handles: list[RerouteHandle] = []
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(5)
        import html  # here: the window's first paint needs no link

        self.setToolTip(  # ids come from files: escaped, so they show as text, never as markup
            f"<p>{html.escape(safe(str(link)))}<br>Double-click to add a reroute point; select and press Delete to remove.</p>"
        )
        source.links.append(self)
        target.links.append(self)
        self.set_points(link.extra.get("points") or [])

    def set_points(self, points: list[list[float]]) -> None:
        for handle in self.handles:
            handle.hide()  # a child: it goes with the link; hidden now, reused never
        self._old_handles = getattr(self, "_old_handles", []) + self.handles
        self.handles = [RerouteHandle(self, i, QPointF(float(x), float(y))) for i, (x, y) in enumerate(points)]
        self.update_path()

    def detach(self) -> None:
        for port in (self.source, self.target):
            if self in port.links:
                port.links.remove(self)
            port.update()

    def update_path(self) -> None:
        start, end = self.source.scene_center(), self.target.scene_center()
        via = [h.scenePos() for h in self.handles]
        scene = self.scene()
        if not via and scene is not None and hasattr(scene, "node_boxes"):
            # The user's own reroute points win; otherwise go round the nodes in the way.
            area = QRectF(start, end).normalized().adjusted(-20, -400, 20, 400)
            skip = {self.source.node_id, self.target.node_id}
            via = detour(start, end, scene.node_boxes(area, skip, margin=6))
        self.setPath(wire_path(start, end, via))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        return stroker.createStroke(self.path())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = 3.6 if self.isSelected() else 2.4
        if self.isSelected():
            painter.setPen(
                QPen(QColor(theme.current().accent), width + 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            )
            painter.drawPath(self.path())
        painter.setPen(QPen(self.color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawPath(self.path())

    # ---- reroute points ------------------------------------------------------------------
    def points(self) -> list[list[float]]:
        return [[round(h.scenePos().x(), 1), round(h.scenePos().y(), 1)] for h in self.handles]

    def commit_points(self, points: list[list[float]] | None = None) -> None:
        points = self.points() if points is None else points
        scene = self.scene()
        if scene is not None and points != (self.link.extra.get("points") or []):
            scene.set_link_points(self.link, points)

    def remove_point(self, index: int) -> None:
        points = self.points()
        del points[index]
        self.commit_points(points)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802
        """Insert a reroute point where the wire was double-clicked, in path order."""
        pos = event.scenePos()
        points = self.points()
        anchors = [self.source.scene_center(), *[QPointF(x, y) for x, y in points], self.target.scene_center()]
        best, best_dist = 0, float("inf")
        for i, (a, b) in enumerate(zip(anchors, anchors[1:], strict=False)):
            mid = (a + b) / 2
            dist = (mid - pos).manhattanLength()
            if dist < best_dist:
                best, best_dist = i, dist
        points.insert(best, [round(pos.x(), 1), round(pos.y(), 1)])
        self.commit_points(points)


class DraftLinkItem(QGraphicsPathItem):
    """The wire that follows the cursor while a link is dragged from a port."""

    def __init__(self, port: PortItem) -> None:
        super().__init__()
        self.port = port
        color = theme.port_color(port.type_name)
        self.setPen(QPen(color, 2.4, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap))
        self.setZValue(20)
        self.move_to(port.scene_center())

    def move_to(self, pos: QPointF) -> None:
        start = self.port.scene_center()
        self.setPath(wire_path(start, pos) if self.port.is_output else wire_path(pos, start))
