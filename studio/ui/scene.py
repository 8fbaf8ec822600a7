"""GraphScene: the canvas mirroring a Graph through its change notifications.

The scene never edits its items directly in response to the user: it pushes an undo command,
the command calls the Graph, and the Graph's notification updates the items (Orange's way).
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QLineF, QPointF, QRectF, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QGraphicsScene, QInputDialog

from studio.graph.model import MISSING, Graph, GraphChange, Link, Node
from studio.graph.registry import NodeRegistry
from studio.graph.types import can_connect
from studio.ui import commands as cmd
from studio.ui import theme
from studio.ui.group_item import GroupItem
from studio.ui.link_drag import LinkDragging
from studio.ui.link_item import DraftLinkItem, LinkItem
from studio.ui.node_item import NodeItem
from studio.ui.node_params import COLLAPSED_KEY
from studio.ui.port_item import UNKNOWN_TYPE, PortItem
from studio.ui.promotion import promoted_params

GRID = 20


class GraphScene(LinkDragging, QGraphicsScene):
    node_selected = Signal(str)  # "" when no single node is selected
    link_dropped = Signal(object, QPointF)  # (PortItem the drag started from, scene position)
    graph_replaced = Signal()
    edit_refused = Signal(str)
    node_inputs_changed = Signal(str)  # a node's parameters were promoted to inputs, or freed again
    nodes_changed = Signal()  # a node was added or removed (the canvas hint and minimap follow)
    param_edit_requested = Signal(str, str)  # (node id, parameter): edit it in the inspector (long text, paths)

    def __init__(self, registry: NodeRegistry, undo_stack: QUndoStack, parent: Any = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.undo_stack = undo_stack
        self.graph = Graph()
        self.node_items: dict[str, NodeItem] = {}
        self.link_items: dict[tuple[str, str], LinkItem] = {}
        self.group_items: dict[str, GroupItem] = {}
        self._unsubscribe = self.graph.subscribe(self._on_change)
        self._draft: DraftLinkItem | None = None
        self._draft_detached: Link | None = None
        self._removed: list[Any] = []  # items kept alive until control returns to the event loop
        self.setSceneRect(QRectF(-5000, -5000, 10000, 10000))
        self._reroute_timer = QTimer(self, singleShot=True, interval=0, timeout=self.reroute_links)
        self.selectionChanged.connect(self._on_selection)

    # ---- mirroring the model -------------------------------------------------------------
    def set_graph(self, graph: Graph) -> None:
        """Show ``graph`` instead of the current one (the undo history is the caller's)."""
        self._unsubscribe()
        self.clearSelection()
        for item in [*self.link_items.values(), *self.node_items.values(), *self.group_items.values()]:
            self._discard(item)
        self.node_items.clear()
        self.link_items.clear()
        self.group_items.clear()
        self.graph = graph
        self._unsubscribe = graph.subscribe(self._on_change)
        for group in graph.groups:
            self._add_group_item(group.id)
        for node in graph.nodes:
            self._add_node_item(node)
        for link in graph.links:
            self._add_link_item(link)
        self.reroute_links()
        self.nodes_changed.emit()
        self.graph_replaced.emit()

    def _on_change(self, change: GraphChange) -> None:
        kind = change.kind
        if kind == "node_added":
            self._add_node_item(self.graph.node(change.node_id))
        elif kind == "node_removed":
            item = self.node_items.pop(change.node_id, None)
            if item is not None:
                self._discard(item)
                self._reroute_soon()
                self.nodes_changed.emit()
        elif kind == "link_added":
            self._add_link_item(change.link)
        elif kind == "link_removed":
            item = self.link_items.pop(change.link.target, None)
            if item is not None:
                item.detach()
                self._discard(item)
            target = self.node_items.get(change.link.to_node)
            if target is not None:
                for port in target.drop_unused_ports():  # a wired parameter that was never promoted
                    self._discard(port)
                target.update_params(target.params)  # the freed parameter returns to the summary
        elif kind == "param_changed":
            item = self.node_items.get(change.node_id)
            if item is not None:
                item.update_params(self.graph.node(change.node_id).params)
        elif kind == "node_changed":
            item = self.node_items.get(change.node_id)
            if item is not None and change.name == COLLAPSED_KEY:
                item.set_collapsed(change.value is True)
                self._reroute_soon()
            else:
                self._promotion_changed(change.node_id)
        elif kind == "node_moved":
            item = self.node_items.get(change.node_id)
            if item is not None:
                item.setPos(QPointF(*change.value))
                self._grow_to(item)
                self._reroute_soon()
        elif kind == "group_added":
            self._add_group_item(change.name)
        elif kind == "group_removed":
            item = self.group_items.pop(change.name, None)
            if item is not None:
                self._discard(item)
        elif kind == "group_changed":
            group = next((g for g in self.graph.groups if g.id == change.name), None)
            if group is not None and change.name in self.group_items:
                self.group_items[change.name].update_from(group)

    def _discard(self, item: Any) -> None:
        """Take ``item`` off the canvas. Qt may still refer to it until the current event is
        handled (selection changes, hover, the index), so its Python wrapper lives until then."""
        self.removeItem(item)
        if not self._removed:
            QTimer.singleShot(0, self._removed.clear)
        self._removed.append(item)

    def _add_node_item(self, node: Node) -> None:
        item = NodeItem(node, self.registry.get(node.type))
        self.node_items[node.id] = item
        self.addItem(item)
        self._grow_to(item)
        self._reroute_soon()
        self.nodes_changed.emit()

    def _reroute_soon(self) -> None:
        """Route the wires again once the current edit is done (one pass for many changes)."""
        if not self._reroute_timer.isActive():
            self._reroute_timer.start()

    def _grow_to(self, item: Any) -> None:
        """Keep room to pan around every item (the view cannot scroll past the scene rect)."""
        needed = item.sceneBoundingRect().adjusted(-3000, -3000, 3000, 3000)
        if not self.sceneRect().contains(needed):
            self.setSceneRect(self.sceneRect().united(needed))

    def _add_link_item(self, link: Link) -> None:
        source_node = self.node_items.get(link.from_node)
        target_node = self.node_items.get(link.to_node)
        if source_node is None or target_node is None:
            return  # a dangling link stays in the model (validation reports it), not on the canvas
        item = LinkItem(
            link, source_node.ensure_port(link.from_port, True), target_node.ensure_port(link.to_port, False)
        )
        self.link_items[link.target] = item
        self.addItem(item)
        item.source.update()
        item.target.update()
        target_node.update_params(target_node.params)  # a promoted parameter leaves the summary

    def _add_group_item(self, group_id: str) -> None:
        group = next(g for g in self.graph.groups if g.id == group_id)
        item = GroupItem(group)
        self.group_items[group_id] = item
        self.addItem(item)

    # ---- selection -------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for node_id in node_ids:
            if node_id in self.node_items:
                self.node_items[node_id].setSelected(True)

    def _on_selection(self) -> None:
        ids = self.selected_node_ids()
        self.node_selected.emit(ids[0] if len(ids) == 1 else "")

    # ---- edits (all through the undo stack) -----------------------------------------------------
    def push(self, command: QUndoCommand) -> None:
        self.undo_stack.push(command)

    def add_node(self, type_name: str, pos: QPointF, node_id: str | None = None) -> str:
        spec = self.registry[type_name]
        node_id = node_id or self.graph.unique_id(type_name)
        snapped = (round(pos.x() / GRID) * GRID, round(pos.y() / GRID) * GRID)
        self.push(cmd.AddNodeCommand(self.graph, Node(node_id, type_name, spec.default_params(), position=snapped)))
        return node_id

    def edit_param(self, node_id: str, name: str, value: Any) -> str | None:
        """Set parameter ``name`` of ``node_id`` as one undo command (consecutive edits of one
        parameter merge); returns why ``value`` is refused instead, leaving the model as it was."""
        spec = self.registry.get(self.graph.node(node_id).type)
        param = spec.param(name) if spec is not None else None
        if param is None:
            return f"{node_id} has no parameter {name!r}"
        reason = param.check(value)
        if reason:
            return f"{name} {reason}"
        old = self.graph.node(node_id).params.get(name, MISSING)
        if not (type(old) is type(value) and old == value):
            self.push(cmd.SetParamCommand(self.graph, node_id, name, value))
        return None

    def set_collapsed(self, node_id: str, collapsed: bool) -> None:
        """Show ``node_id`` as its header only (or in full again), one undo step saved with the graph."""
        if (self.graph.node(node_id).extra.get(COLLAPSED_KEY) is True) != collapsed:
            text = f"{'Collapse' if collapsed else 'Expand'} {node_id}"
            self.push(cmd.SetNodeExtraCommand(self.graph, node_id, COLLAPSED_KEY, True if collapsed else MISSING, text))

    # ---- promoted parameters --------------------------------------------------------------------
    def is_promoted(self, node_id: str, name: str) -> bool:
        """Whether parameter ``name`` shows as an input port (promoted, or a wire goes into it)."""
        node = self.graph.node(node_id)
        return name in promoted_params(node) or self.graph.link_into(node_id, name) is not None

    def promote_command(self, node_id: str, name: str, parent: cmd.Command | None = None) -> cmd.Command:
        return cmd.PromoteParamCommand(self.graph, node_id, name, True, parent)

    def promote_param(self, node_id: str, name: str) -> bool:
        """Show parameter ``name`` as an input port that a wire can drive (one undo step)."""
        spec = self.registry.get(self.graph.node(node_id).type)
        if spec is None or spec.param(name) is None:
            self.edit_refused.emit(f"{node_id} has no parameter {name!r}")
            return False
        if self.is_promoted(node_id, name):
            return False
        self.push(self.promote_command(node_id, name))
        return True

    def use_param_value(self, node_id: str, name: str) -> bool:
        """Undo a promotion: remove the wire driving ``name`` and its port, in one undo step."""
        link = self.graph.link_into(node_id, name)
        listed = name in promoted_params(self.graph.node(node_id))
        if link is None and not listed:
            return False
        macro = cmd.Command(f"Use the value of {node_id}.{name}")
        if link is not None:
            cmd.RemoveLinkCommand(self.graph, link, macro)
        if listed:
            cmd.PromoteParamCommand(self.graph, node_id, name, False, macro)
        self.push(macro)
        return True

    def _promotion_changed(self, node_id: str) -> None:
        item = self.node_items.get(node_id)
        if item is not None and node_id in self.graph:
            for port in item.set_promoted(promoted_params(self.graph.node(node_id), item.spec)):
                self._discard(port)
            item.update_params(item.params)
        self.node_inputs_changed.emit(node_id)

    def link_problem(self, out_port: PortItem, in_port: PortItem) -> str | None:
        """Why ``out_port`` cannot feed ``in_port``, or None when it can."""
        if out_port.is_output == in_port.is_output:
            return "connect an output to an input"
        return self.input_problem(out_port, in_port.node_item, in_port.name)

    def input_problem(self, out_port: PortItem, node_item: NodeItem, name: str) -> str | None:
        """Why ``out_port`` cannot feed input (or parameter) ``name`` of ``node_item``, or None."""
        if out_port.node_id == node_item.node_id:
            return "a node cannot feed itself"
        in_type = node_item.input_type(name)
        if in_type is None or out_port.type_name == UNKNOWN_TYPE:
            return "ports of a placeholder node cannot be wired"
        if not can_connect(out_port.type_name, in_type):
            return f"{name} expects {in_type}, got {out_port.type_name}"
        if self.graph.reaches(node_item.node_id, out_port.node_id):
            return "that link would make a cycle"
        return None

    def connect_ports(self, out_port: PortItem, in_port: PortItem) -> bool:
        problem = self.link_problem(out_port, in_port)
        if problem:
            self.edit_refused.emit(problem)
            return False
        self.push(cmd.AddLinkCommand(self.graph, Link(out_port.node_id, out_port.name, in_port.node_id, in_port.name)))
        return True

    def delete_selected(self) -> None:
        nodes = self.selected_node_ids()
        links = [i.link for i in self.selectedItems() if isinstance(i, LinkItem) and i.link.to_node not in nodes]
        links = [lk for lk in links if lk.from_node not in nodes]
        groups = [i.group_id for i in self.selectedItems() if isinstance(i, GroupItem)]
        if not (nodes or links or groups):
            return
        macro = cmd.Command(f"Delete {len(nodes) + len(links) + len(groups)} items")
        for link in links:
            cmd.RemoveLinkCommand(self.graph, link, macro)
        for node_id in nodes:
            cmd.RemoveNodeCommand(self.graph, node_id, macro)
        for group_id in groups:
            cmd.RemoveGroupCommand(self.graph, group_id, macro)
        self.push(macro)

    def set_link_points(self, link: Link, points: list[list[float]]) -> None:
        extra = {k: v for k, v in link.extra.items() if k != "points"}
        if points:
            extra["points"] = points
        new = Link(link.from_node, link.from_port, link.to_node, link.to_port, extra)
        self.push(cmd.ReplaceLinkCommand(self.graph, link, new))

    def commit_group_drag(self, item: GroupItem, carried: dict[str, NodeItem]) -> None:
        group = next(g for g in self.graph.groups if g.id == item.group_id)
        bounds = item.bounds()
        moves = {}
        for node_id, node_item in carried.items():
            old = self.graph.node(node_id).position
            new = (node_item.pos().x(), node_item.pos().y())
            if old != new:
                moves[node_id] = (old, new)
        if tuple(group.bounds) == bounds and not moves:
            return
        self.undo_stack.beginMacro("Move group" if moves else "Resize group")
        self.push(cmd.UpdateGroupCommand(self.graph, item.group_id, bounds=bounds))
        if moves:
            self.push(cmd.MoveNodesCommand(self.graph, moves))
        self.undo_stack.endMacro()

    def rename_group(self, group_id: str) -> None:
        group = next(g for g in self.graph.groups if g.id == group_id)
        parent = self.views()[0] if self.views() else None
        title, ok = QInputDialog.getText(parent, "Group title", "Title:", text=group.title)
        if ok and title != group.title:
            self.push(cmd.UpdateGroupCommand(self.graph, group_id, "Rename group", title=title))

    # ---- run states ------------------------------------------------------------------------
    def set_node_state(self, node_id: str, state: str, progress: float | None = None, message: str = "") -> None:
        item = self.node_items.get(node_id)
        if item is not None:
            item.set_state(state, progress, message)

    def clear_states(self) -> None:
        for item in self.node_items.values():
            if item.state:
                item.set_state("")

    def set_problems(self, problems: list[Any]) -> None:
        by_node: dict[str, list[str]] = {}
        for problem in problems:
            if problem.node_id:
                by_node.setdefault(problem.node_id, []).append(problem.message)
        for node_id, item in self.node_items.items():
            item.set_problems(by_node.get(node_id, []))

    def set_missing_files(self, estimate: Any) -> None:
        """Mark the nodes whose model files the memory estimate did not find (None: not known, kept)."""
        if estimate is None:
            return
        by_node: dict[str, list[str]] = {}
        for node_id, _type, path in estimate.missing:
            by_node.setdefault(node_id, []).append(path)
        for node_id, item in self.node_items.items():
            item.set_missing(by_node.get(node_id, []))

    def _commit_moves(self) -> None:
        moves = {}
        for node_id, item in self.node_items.items():
            old = self.graph.node(node_id).position
            new = (round(item.pos().x() / GRID) * GRID, round(item.pos().y() / GRID) * GRID)
            if (abs(item.pos().x() - old[0]) > 0.5 or abs(item.pos().y() - old[1]) > 0.5) and old != new:
                moves[node_id] = (old, (float(new[0]), float(new[1])))
            elif old != (item.pos().x(), item.pos().y()):
                item.setPos(QPointF(*old))
        if moves:
            self.push(cmd.MoveNodesCommand(self.graph, moves))

    # ---- background --------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        t = theme.current()
        painter.fillRect(rect, QColor(t.canvas))
        scale = painter.worldTransform().m11()
        if scale < 0.35:
            return
        left = math.floor(rect.left() / GRID) * GRID
        top = math.floor(rect.top() / GRID) * GRID
        minor, major = QPen(QColor(t.grid), 1), QPen(QColor(t.grid_major), 1)
        minor.setCosmetic(True)
        major.setCosmetic(True)
        x = left
        while x < rect.right():
            painter.setPen(major if x % (GRID * 5) == 0 else minor)
            painter.drawLine(QLineF(x, rect.top(), x, rect.bottom()))
            x += GRID
        y = top
        while y < rect.bottom():
            painter.setPen(major if y % (GRID * 5) == 0 else minor)
            painter.drawLine(QLineF(rect.left(), y, rect.right(), y))
            y += GRID

    def node_boxes(self, area: QRectF, skip: set[str], margin: float = 0.0) -> list[QRectF]:
        """The scene rectangles of the nodes within ``area``, except those in ``skip``."""
        # A walk over the nodes, not self.items(area): that asks every wire in the area for its
        # stroked shape, too slow to do on each run-state change of a node.
        boxes = []
        for node_id, item in self.node_items.items():
            box = item.sceneBoundingRect()
            if node_id not in skip and box.intersects(area):
                boxes.append(box.adjusted(-margin, -margin, margin, margin))
        return boxes

    def reroute_links(self) -> None:
        """Route every wire again (a node moved, appeared or changed size: wires go round it)."""
        for item in self.link_items.values():
            item.update_path()

    def items_bounding_rect(self) -> QRectF:
        rect = QRectF()
        for item in [*self.node_items.values(), *self.group_items.values()]:
            rect = rect.united(item.sceneBoundingRect())
        return rect
