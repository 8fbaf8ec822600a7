"""NodeItem: how one graph node looks on the canvas, with its run state drawn live."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from studio.graph.model import Node
from studio.graph.spec import NodeSpec
from studio.textsafe import safe
from studio.ui import theme
from studio.ui.node_overview import PROBLEM, WARNING, missing_text, paint_overview
from studio.ui.node_params import COLLAPSED_KEY, HEADER_HEIGHT, OnNodeEditing, paint_row
from studio.ui.port_item import UNKNOWN_TYPE, PortItem
from studio.ui.promotion import promoted_params

WIDTH = 210.0
HEADER = HEADER_HEIGHT
ROW = 22.0
PARAM_ROW = 22.0
# Below this zoom the node's small text would be under about 8 px on screen: draw the title
# alone, large, instead (level of detail, node_overview.py), with the node's state (or type) under it.
DETAIL_ZOOM = 0.75


class NodeItem(OnNodeEditing, QGraphicsObject):
    """One node: category-coloured header, typed ports, every parameter as an editable row
    (unless collapsed to its header) and its run state."""

    def __init__(self, node: Node, spec: NodeSpec | None) -> None:
        super().__init__()
        self.node_id = node.id
        self.node_type = node.type
        self.spec = spec
        self.params: dict[str, Any] = {}
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.promoted: list[str] = []  # parameters shown as input ports even without a wire
        self.state = ""  # "" | queued | running | cached | done | failed | skipped
        self.progress: float | None = None
        self.message = ""
        self.problems: list[str] = []
        self.missing: list[str] = []  # model files the memory estimate did not find, as the params name them
        self.overview: tuple[Any, ...] = ()  # the zoomed-out text, laid out once per zoom and text
        self.collapsed = node.extra.get(COLLAPSED_KEY) is True
        self._height = HEADER + ROW
        self.init_editing()
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(10)
        # Painted into a pixmap once per change: a neighbour's progress tick during a render repaints
        # that neighbour, and this node is copied, not drawn again (text and all).
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        if spec is not None:
            for port in spec.inputs:
                self.inputs[port.name] = PortItem(self, port.name, port.type, False, port.optional)
            for out in spec.outputs:
                self.outputs[out.name] = PortItem(self, out.name, out.type, True)
            self.setToolTip(f"<b>{spec.type}</b> · {spec.category}<br>{spec.description}")
        else:
            import html  # here: the window starts faster without it

            self.setToolTip(
                f"<p>Unknown node type {html.escape(safe(repr(node.type)))}: kept as a placeholder so nothing is lost.</p>"
            )
        self.setPos(QPointF(*node.position))
        self.set_promoted(promoted_params(node, spec))
        self.update_params(node.params)

    # ---- ports -------------------------------------------------------------------------
    def ensure_port(self, name: str, is_output: bool) -> PortItem:
        """The port ``name``, created for a placeholder or a promoted parameter if needed."""
        ports = self.outputs if is_output else self.inputs
        if name not in ports:
            type_name, parameter = UNKNOWN_TYPE, False
            if self.spec is not None and not is_output:
                type_name = self.spec.input_type(name) or UNKNOWN_TYPE
                parameter = self.spec.param(name) is not None
            ports[name] = PortItem(self, name, type_name, is_output, optional=True, parameter=parameter)
            self._order_inputs()
            self._layout()
        return ports[name]

    def set_promoted(self, names: list[str]) -> list[PortItem]:
        """Show ports for the promoted parameters ``names``; returns the parameter ports taken
        away (neither promoted nor wired any more) for the scene to discard."""
        self.promoted = list(names)
        for name in self.promoted:
            self.ensure_port(name, False)
        return self.drop_unused_ports()

    def drop_unused_ports(self) -> list[PortItem]:
        """Take away parameter ports that are neither promoted nor wired; returns them."""
        dropped = [p for p in self.inputs.values() if p.parameter and not p.links and p.name not in self.promoted]
        for port in dropped:
            del self.inputs[port.name]
        if dropped:
            self._layout()
        return dropped

    def _order_inputs(self) -> None:
        """Declared inputs first, then promoted parameters in the spec's order."""
        if self.spec is None:
            return
        names = [p.name for p in self.spec.inputs] + [p.name for p in self.spec.params]
        rank = {name: i for i, name in enumerate(names)}
        ordered = sorted(self.inputs.items(), key=lambda item: rank.get(item[0], len(rank)))
        self.inputs.clear()
        self.inputs.update(ordered)

    def param_at(self, pos: QPointF) -> str | None:
        """The parameter whose port row or widget row is at ``pos`` (item coordinates), if any."""
        if self.spec is None or self.collapsed:
            return None
        for port in self.inputs.values():
            if port.parameter and abs(pos.y() - port.pos().y()) <= ROW / 2 and pos.x() < WIDTH / 2:
                return port.name
        for name, rect in self.param_rows():
            if rect.top() <= pos.y() < rect.bottom():
                return name if self.spec.param(name) is not None else None
        return None

    def param_rows(self) -> list[tuple[str, QRectF]]:
        """Each parameter row on the node (not driven by a wire) with its rectangle."""
        if self.collapsed:
            return []
        top = self._ports_bottom() + 2
        return [
            (name, QRectF(0, top + i * PARAM_ROW, WIDTH, PARAM_ROW)) for i, (name, _) in enumerate(self._param_lines())
        ]

    def _ports_bottom(self) -> float:
        return HEADER + max(len(self.inputs), len(self.outputs), 1) * ROW

    def _rows_bottom(self) -> float:
        return self._ports_bottom() + 2 + len(self._param_lines()) * PARAM_ROW

    def param_rect(self, name: str) -> QRectF:
        return next(rect for row, rect in self.param_rows() if row == name)

    def input_type(self, name: str) -> str | None:
        if self.spec is None:
            return None
        return self.spec.input_type(name)

    def all_ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *self.outputs.values()]

    # ---- state -------------------------------------------------------------------------
    def update_params(self, params: dict[str, Any]) -> None:
        self.params = dict(params)
        self.missing = [path for path in self.missing if path in self.params.values()]  # a new path: unknown yet
        self._layout()

    def set_state(self, state: str, progress: float | None = None, message: str = "") -> None:
        same_shape = state == self.state and message == self.message
        self.state = state
        self.progress = progress
        self.message = message
        if same_shape:
            self.update()  # progress ticks only repaint; no geometry change, no link updates
        else:
            self._layout()

    def set_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self._layout()

    def set_missing(self, paths: list[str]) -> None:
        """Mark the model files ``paths`` (parameter values) as not found; a warning, not a problem."""
        if list(paths) != self.missing:
            self.missing = list(paths)
            self._layout()

    def set_collapsed(self, collapsed: bool) -> None:
        if collapsed != self.collapsed:
            self.collapsed = collapsed
            self._layout()

    def _param_lines(self) -> list[tuple[str, str]]:
        """Every parameter not driven by a wire, with its value as text."""
        if self.spec is None:
            return [(k, _short(v)) for k, v in self.params.items()]
        return [
            (p.name, _short(self.params.get(p.name, p.default))) for p in self.spec.params if p.name not in self.inputs
        ]

    def _footer_text(self) -> str:
        return self._footer()[0]

    def _footer(self) -> tuple[str, str]:
        """The text under the node's rows and its colour."""
        if self.state in ("failed", "running") and self.message:
            return self.message, "#ff8a80"  # why it failed, or what it is doing before its progress starts
        if self.problems:
            return self.problems[0], "#ff8a80"
        if self.missing:
            return missing_text(self.missing), WARNING
        return "", ""

    def _layout(self) -> None:
        self.prepareGeometryChange()
        moved = False
        for x, ports in ((0.0, self.inputs), (WIDTH, self.outputs)):
            for i, port in enumerate(ports.values()):
                pos = QPointF(x, HEADER / 2 if self.collapsed else HEADER + (i + 0.5) * ROW)
                if port.pos() != pos:
                    port.setPos(pos)
                    moved = True
        height = HEADER if self.collapsed else self._rows_bottom() + 6
        if self.state == "running":
            height += 10
        footer = self._footer_text()
        if footer:
            height += self._footer_rect(footer, height).height() + 6
        self._height = height
        if moved:  # a node's own wires go round other nodes, never its own box: only its ports matter
            for port in self.all_ports():
                for link in port.links:
                    link.update_path()
        self.update()

    def _footer_rect(self, text: str, top: float) -> QRectF:
        metrics = QFontMetricsF(_font(8))
        bounds = metrics.boundingRect(QRectF(0, 0, WIDTH - 16, 200), Qt.TextFlag.TextWordWrap, text)
        return QRectF(8, top, WIDTH - 16, min(bounds.height(), 4 * metrics.height()))

    # ---- painting ----------------------------------------------------------------------
    @property
    def body_height(self) -> float:
        return self._height

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-4, -4, WIDTH + 8, self._height + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, WIDTH, self._height), 8, 8)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        t = theme.current()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, WIDTH, self._height)
        placeholder = self.spec is None
        header_color = theme.category_color(self.spec.category) if self.spec else QColor("#5a5a5a")

        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        detailed = zoom >= DETAIL_ZOOM

        # Shadow, body and header (zoomed out, the whole node takes the header's colour).
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 70))
        painter.drawRoundedRect(rect.translated(2, 3), 8, 8)
        painter.setBrush(QColor(t.node_body) if detailed else header_color.darker(115))
        painter.drawRoundedRect(rect, 8, 8)
        if detailed:
            painter.save()
            painter.setClipRect(QRectF(0, 0, WIDTH, HEADER))  # the body's top corners, square below
            painter.setBrush(header_color)
            painter.drawRoundedRect(rect, 8, 8)
            painter.restore()

        # Outline: selection, run state or problems.
        state_color = QColor(theme.STATE_COLORS.get(self.state, t.border))
        if self.isSelected():
            pen = QPen(QColor(t.accent), 2.4)
        elif self.state:
            pen = QPen(state_color, 2.2)
        elif self.problems or self.missing or placeholder:
            color = PROBLEM if self.problems else WARNING if self.missing else "#999999"
            pen = QPen(QColor(color), 1.8, Qt.PenStyle.DashLine)
        else:
            pen = QPen(QColor(t.border), 1)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 8, 8)

        self.detailed = detailed
        if not detailed:
            paint_overview(self, painter, zoom, state_color)
            return

        # Title, type and the collapse arrow.
        painter.setPen(QColor(255, 255, 255, 200))
        painter.setFont(_font(8))
        painter.drawText(self.collapse_rect(), Qt.AlignmentFlag.AlignCenter, "▸" if self.collapsed else "▾")
        painter.setPen(QColor("#ffffff"))
        painter.setFont(_font(9.5, bold=True))
        title_rect = QRectF(22, 0, WIDTH - 30, HEADER)
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, safe(self.node_id))
        painter.setFont(_font(8))
        painter.setPen(QColor(255, 255, 255, 180))
        type_text = safe(f"{self.node_type} ?" if placeholder else self.node_type)
        if self.node_type != self.node_id:
            painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, type_text)
        self._paint_badge(painter, state_color)

        y = HEADER + 4
        if not self.collapsed:
            self._paint_ports(painter)
            self._paint_params(painter)
            y = self._rows_bottom() + 4

        # Progress bar while running.
        if self.state == "running":
            bar = QRectF(10, y, WIDTH - 20, 5)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(t.border))
            painter.drawRoundedRect(bar, 2.5, 2.5)
            if self.progress is not None:
                painter.setBrush(state_color)
                painter.drawRoundedRect(QRectF(bar.x(), bar.y(), bar.width() * self.progress, 5), 2.5, 2.5)
            y += 10

        footer, color = self._footer()
        if footer:
            painter.setFont(_font(8))
            painter.setPen(QColor(color))
            painter.drawText(self._footer_rect(footer, y), Qt.TextFlag.TextWordWrap, safe(footer))

    def _paint_ports(self, painter: QPainter) -> None:
        t = theme.current()
        painter.setFont(_font(8.5))
        for port in self.inputs.values():
            y = port.pos().y()
            painter.setPen(QColor(t.node_text))
            label = QRectF(12, y - ROW / 2, WIDTH / 2, ROW)
            painter.drawText(label, Qt.AlignmentFlag.AlignVCenter, port.name)
            if port.parameter and not port.links and self.spec is not None:
                # Unconnected, the parameter's own value is what runs: show it beside the name.
                param = self.spec.param(port.name)
                value = _short(self.params.get(port.name, param.default if param else ""))
                indent = QFontMetricsF(painter.font()).horizontalAdvance(port.name + "  ")
                painter.setPen(QColor(t.dim_text))
                painter.drawText(label.adjusted(indent, 0, -12, 0), Qt.AlignmentFlag.AlignVCenter, value)
        painter.setPen(QColor(t.node_text))
        for port in self.outputs.values():
            y = port.pos().y()
            painter.drawText(
                QRectF(WIDTH / 2 - 12, y - ROW / 2, WIDTH / 2, ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                port.name,
            )

    def _paint_params(self, painter: QPainter) -> None:
        t = theme.current()
        font = _font(8.5)
        for name, rect in self.param_rows():
            param = self.spec.param(name) if self.spec is not None else None
            if param is None:  # a placeholder's saved values: shown, not editable
                painter.setFont(font)
                painter.setPen(QColor(t.dim_text))
                painter.drawText(rect.adjusted(12, 0, -12, 0), Qt.AlignmentFlag.AlignVCenter, name)
                painter.setPen(QColor(t.node_text))
                painter.drawText(
                    rect.adjusted(12, 0, -12, 0),
                    Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                    _short(self.params.get(name)),
                )
                continue
            paint_row(painter, rect, param, self.params.get(name, param.default), font, name == self.hover_row)

    def _paint_badge(self, painter: QPainter, color: QColor) -> None:
        label = {"queued": "queued", "running": "", "cached": "cached", "done": "✓", "failed": "failed"}.get(self.state)
        if self.state == "running" and self.progress is not None:
            label = f"{int(self.progress * 100)}%"
        elif self.state == "running":
            label = "running"
        if (self.problems or self.missing) and not self.state:
            label, color = "!", QColor(PROBLEM if self.problems else WARNING)
        if not label:
            return
        painter.setFont(_font(7.5, bold=True))
        width = QFontMetricsF(painter.font()).horizontalAdvance(label) + 10
        badge = QRectF(WIDTH - width - 4, -9, width, 16)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(badge, 8, 8)
        painter.setPen(QColor("#10131a"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)

    # ---- moving ------------------------------------------------------------------------
    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemScenePositionHasChanged:
            for port in self.all_ports():
                for link in port.links:
                    link.update_path()
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(11 if value else 10)
        return super().itemChange(change, value)


_fonts: dict[tuple[float, bool], QFont] = {}


def _font(size: float, bold: bool = False) -> QFont:
    key = (size, bold)
    if key not in _fonts:
        font = QFont()
        font.setPointSizeF(size)
        font.setBold(bold)
        _fonts[key] = font
    return _fonts[key]


def _short(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, str):
        text = value.replace("\n", " ") or "—"
    else:
        text = str(value)
    return text if len(text) <= 18 else text[:17] + "…"
