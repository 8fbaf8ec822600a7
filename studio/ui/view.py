"""GraphView: the canvas viewport. Zoom to the cursor, pan, fit all, and a minimap in the corner."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from studio.ui import theme

MIN_ZOOM, MAX_ZOOM = 0.15, 3.0


class GraphView(QGraphicsView):
    palette_requested = Signal(QPointF)  # scene position where a new node should go
    first_painted = Signal()  # the canvas is on screen: deferred start-up work may begin

    def __init__(self, scene: Any, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        # A viewport made here, not by Qt: handed one Qt made, PySide looks through every widget
        # class for its type, creating their Python enums (milliseconds).
        self.setViewport(QWidget())
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        # The grid is drawn once per pan or zoom, not on every node's progress tick during a render.
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window takes dropped files
        self._pan_from: QPointF | None = None
        self.minimap = Minimap(self)
        scene.nodes_changed.connect(self._nodes_changed)
        scene.changed.connect(lambda _regions: self.minimap.refresh())  # nodes moved or grew

    def shows_hint(self) -> bool:
        """Whether the empty-canvas hint is drawn (only while the graph has no node)."""
        return not self.scene().node_items

    def _nodes_changed(self) -> None:
        # The hint is drawn over the whole viewport, outside any item's area: repaint all of it,
        # or the hint stays painted over the first node until something repaints everything.
        self.viewport().update()
        self.minimap.refresh()

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the scene point under ``anchor`` (viewport coordinates) in place."""
        factor = max(MIN_ZOOM / self.zoom(), min(MAX_ZOOM / self.zoom(), factor))
        anchor = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.scale(factor, factor)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self.minimap.refresh()

    def fit_all(self) -> None:
        rect = self.scene().items_bounding_rect()
        if rect.isNull():
            rect = QRectF(-400, -300, 800, 600)
        rect = rect.adjusted(-60, -60, 60, 60)
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.2:
            self.resetTransform()
            self.scale(1.2, 1.2)
            self.centerOn(rect.center())
        self.minimap.refresh()

    def center_scene_pos(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.15**steps, event.position())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.AltModifier
        ):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            delta = (event.position() - self._pan_from) / self.zoom()
            self._pan_from = event.position()
            self.translate(delta.x(), delta.y())
            self.minimap.refresh()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self.minimap.refresh()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        item = self.itemAt(event.position().toPoint())
        if item is None:
            self.palette_requested.emit(self.mapToScene(event.position().toPoint()))
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Tab:
            cursor = self.mapFromGlobal(self.cursor().pos())
            pos = cursor if self.viewport().rect().contains(cursor) else self.viewport().rect().center()
            self.palette_requested.emit(self.mapToScene(pos))
            return
        super().keyPressEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802
        return False  # Tab opens the palette instead of moving focus

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        super().paintEvent(event)
        if not getattr(self, "_painted", False):
            self._painted = True
            QTimer.singleShot(0, self.first_painted.emit)  # once this paint has reached the screen

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        """On an empty canvas, say how to start."""
        if not self.shows_hint():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(theme.current().dim_text))
        font = painter.font()
        font.setPointSizeF(12)
        painter.setFont(font)
        painter.drawText(
            self.viewport().rect(),
            Qt.AlignmentFlag.AlignCenter,
            "Double-click or press Tab to add a node\nRight-click for nodes by category · File ▸ Examples to start from a graph",
        )
        painter.restore()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.minimap.place()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        self.minimap.refresh()


class Minimap(QWidget):
    """An overview of the whole graph with the visible area outlined; click or drag to jump."""

    SIZE = (180, 120)

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.view = view
        self.resize(*self.SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Minimap: click to move the view")
        self.hide()  # until part of the graph is out of view

    def refresh(self) -> None:
        """Shown only while part of the graph is out of view (when all of it shows, a map adds
        nothing and would only cover nodes); repainted to follow the view."""
        scene = self.view.scene()
        if scene is None:
            return  # the window is closing
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        wanted = bool(scene.node_items) and not visible.contains(scene.items_bounding_rect())
        if wanted != self.isVisible():
            self.setVisible(wanted)
        if wanted:
            self.update()

    def covers_nodes(self) -> bool:
        """Whether a node lies under the minimap (it is then drawn faint unless pointed at)."""
        area = self.view.mapToScene(self.geometry()).boundingRect()
        return any(item.sceneBoundingRect().intersects(area) for item in self.view.scene().node_items.values())

    def enterEvent(self, event: Any) -> None:  # noqa: N802
        self.update()

    def leaveEvent(self, event: Any) -> None:  # noqa: N802
        self.update()

    def place(self) -> None:
        parent = self.view.viewport().geometry()
        self.move(parent.right() - self.width() - 12, parent.bottom() - self.height() - 12)

    def _world(self) -> QRectF:
        rect = self.view.scene().items_bounding_rect()
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return (rect if not rect.isNull() else visible).united(visible).adjusted(-40, -40, 40, 40)

    def _mapping(self) -> tuple[QRectF, float, QPointF]:
        world = self._world()
        scale = min((self.width() - 8) / world.width(), (self.height() - 8) / world.height())
        offset = QPointF(
            (self.width() - world.width() * scale) / 2 - world.left() * scale,
            (self.height() - world.height() * scale) / 2 - world.top() * scale,
        )
        return world, scale, offset

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        if not self.view.scene().node_items:
            return  # nothing to map yet
        t = theme.current()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.underMouse() and self.covers_nodes():
            painter.setOpacity(0.3)  # the nodes beneath show through; pointing at it brings it back
        painter.setPen(QPen(QColor(t.border)))
        background = QColor(t.panel)
        background.setAlpha(220)
        painter.setBrush(background)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        _, scale, offset = self._mapping()

        def to_map(r: QRectF) -> QRectF:
            return QRectF(
                r.left() * scale + offset.x(), r.top() * scale + offset.y(), r.width() * scale, r.height() * scale
            )

        scene = self.view.scene()
        for group in scene.group_items.values():
            color = QColor(group.color)
            color.setAlpha(90)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRect(to_map(group.sceneBoundingRect()))
        for node in scene.node_items.values():
            color = theme.category_color(node.spec.category) if node.spec else QColor("#777")
            painter.setBrush(color)
            painter.drawRoundedRect(to_map(node.sceneBoundingRect()), 1.5, 1.5)
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        painter.setPen(QPen(QColor(t.accent), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(to_map(visible))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._jump(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._jump(event.position())

    def _jump(self, pos: QPointF) -> None:
        _, scale, offset = self._mapping()
        target = QPointF((pos.x() - offset.x()) / scale, (pos.y() - offset.y()) / scale)
        current = self.view.center_scene_pos()
        delta = current - target
        self.view.translate(delta.x(), delta.y())
        self.update()
