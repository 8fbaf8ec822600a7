"""Dragging wires on the canvas: from a port, onto a compatible port or a parameter row, or
onto empty canvas (which opens the palette). Mixed into GraphScene; every change it makes is
an undo command pushed through the scene."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QLineF, QPointF, Qt
from PySide6.QtGui import QTransform

from studio.graph.model import Link
from studio.ui import commands as cmd
from studio.ui.link_item import DraftLinkItem
from studio.ui.node_item import NodeItem
from studio.ui.port_item import PortItem
from studio.ui.promotion import promoted_params


class LinkDragging:
    """Mouse handling for wires; expects the GraphScene attributes it uses (``node_items``,
    ``graph``, ``undo_stack``, ``push``, ``link_problem``, ``input_problem``, ...)."""

    def _port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(
            pos, Qt.ItemSelectionMode.IntersectsItemShape, Qt.SortOrder.DescendingOrder, QTransform()
        ):
            if isinstance(item, PortItem):
                return item
        # Forgiving hit test: the nearest port within a few pixels.
        best, best_dist = None, 12.0
        for node in self.node_items.values():
            for port in node.all_ports():
                dist = QLineF(port.scene_center(), pos).length()
                if dist < best_dist:
                    best, best_dist = port, dist
        return best

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            port = self._port_at(event.scenePos())
            if port is not None:
                self._start_link_drag(port)
                event.accept()
                return
        super().mousePressEvent(event)

    def _start_link_drag(self, port: PortItem) -> None:
        self._draft_detached = None
        if not port.is_output and port.links:
            # Picking up a connected input carries its wire away from the source.
            link_item = port.links[0]
            self._draft_detached = link_item.link
            port = link_item.source
        self._draft = DraftLinkItem(port)
        self.addItem(self._draft)
        for node in self.node_items.values():
            for other in node.all_ports():
                if other is port:
                    continue
                if other.is_output == port.is_output:
                    other.highlight = "refuse"
                else:
                    pair = (port, other) if port.is_output else (other, port)
                    other.highlight = "refuse" if self.link_problem(*pair) else "accept"
                other.update()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802
        if self._draft is not None:
            self._draft.move_to(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802
        if self._draft is not None:
            self._finish_link_drag(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self._commit_moves()

    def _finish_link_drag(self, pos: QPointF) -> None:
        start = self._draft.port
        self.removeItem(self._draft)
        self._draft = None
        for node in self.node_items.values():
            for port in node.all_ports():
                port.highlight = ""
                port.update()
        detached, self._draft_detached = self._draft_detached, None
        target = self._port_at(pos)
        if target is not None and target is not start:
            pair = (start, target) if start.is_output else (target, start)
            if detached is not None and (pair[1].node_id, pair[1].name) == detached.target:
                return  # dropped back where it was
            problem = self.link_problem(*pair)
            if problem:
                self.edit_refused.emit(problem)
                return
            self.undo_stack.beginMacro("Reconnect" if detached else "Connect")
            if detached is not None:
                self.push(cmd.RemoveLinkCommand(self.graph, detached))
            self.push(
                cmd.AddLinkCommand(self.graph, Link(pair[0].node_id, pair[0].name, pair[1].node_id, pair[1].name))
            )
            self.undo_stack.endMacro()
            return
        if target is None and start.is_output and self._drop_on_parameter(start, pos, detached):
            return
        if detached is not None:
            self.push(cmd.RemoveLinkCommand(self.graph, detached))
            return
        if target is None:
            self.link_dropped.emit(start, pos)

    def _drop_on_parameter(self, out_port: PortItem, pos: QPointF, detached: Link | None) -> bool:
        """A wire dropped on a parameter's row of a node promotes that parameter and connects to
        it, in one undo step. False when ``pos`` is not on a parameter row."""
        node_item = next((i for i in self.items(pos) if isinstance(i, NodeItem)), None)
        name = node_item.param_at(node_item.mapFromScene(pos)) if node_item is not None else None
        if node_item is None or name is None:
            return False
        problem = self.input_problem(out_port, node_item, name)
        if problem:
            self.edit_refused.emit(problem)
            return True
        if detached is not None and detached.target == (node_item.node_id, name):
            return True  # dropped back where it was
        self.undo_stack.beginMacro(f"Drive {node_item.node_id}.{name} from a wire")
        if detached is not None:
            self.push(cmd.RemoveLinkCommand(self.graph, detached))
        if name not in promoted_params(self.graph.node(node_item.node_id)):
            self.push(self.promote_command(node_item.node_id, name))
        self.push(cmd.AddLinkCommand(self.graph, Link(out_port.node_id, out_port.name, node_item.node_id, name)))
        self.undo_stack.endMacro()
        return True
