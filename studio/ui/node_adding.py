"""NodeAdding: the ways a node joins the graph: the palette (double-click, Tab, a link dropped on
empty canvas), the categorized context menu and paste. A node added from a dropped link is
connected to it in the same undo step (promoting the parameter it drives, if that is where the
wire goes). Right-clicking a node also offers to drive its parameters from wires."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QPointF
from PySide6.QtWidgets import QMenu

from studio.graph.model import Link
from studio.ui import clipboard, commands
from studio.ui.group_item import GroupItem
from studio.ui.node_item import NodeItem
from studio.ui.palette import compatible_port
from studio.ui.port_item import PortItem
from studio.ui.promotion import add_promotion_actions

GROUP_COLOURS = {
    "Slate": "#3a5a7a",
    "Forest": "#3f6d5a",
    "Plum": "#6a4f9a",
    "Rust": "#a0513a",
    "Ochre": "#9a7b2f",
    "Rose": "#8a4b5c",
}


class NodeAdding(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self._palette_target: tuple[QPointF, Any] = (QPointF(), None)  # the window's palette calls palette_chosen

    @property
    def scene(self) -> Any:
        return self.window.scene

    def open_palette(self, scene_pos: QPointF | None = None, from_port: Any = None) -> None:
        scene_pos = scene_pos if scene_pos is not None else self.window.view.center_scene_pos()
        self._palette_target = (scene_pos, from_port)
        only, heading = None, "Add node"
        if from_port is not None:
            wire, needs_input = from_port.type_name, from_port.is_output
            only = lambda spec: compatible_port(spec, wire, needs_input) is not None  # noqa: E731
            heading = f"Add a node that {'takes' if needs_input else 'gives'} {wire}"
        global_pos = self.window.view.viewport().mapToGlobal(self.window.view.mapFromScene(scene_pos))
        self.window.palette.open_at(global_pos, only=only, heading=heading)

    def palette_chosen(self, type_name: str) -> None:
        pos, port = self._palette_target
        self._palette_target = (QPointF(), None)
        self.add_node_at(type_name, pos, port)

    def add_node_at(self, type_name: str, pos: QPointF, from_port: Any = None) -> str:
        """Add a node; when it came from a dropped link, connect it in the same undo step."""
        if from_port is None:
            node_id = self.scene.add_node(type_name, pos)
            self.scene.select_nodes([node_id])
            return node_id
        spec = self.window.registry[type_name]
        port_name = compatible_port(spec, from_port.type_name, from_port.is_output, prefer=from_port.name)
        self.window.undo_stack.beginMacro(f"Add {type_name} and connect")
        node_id = self.scene.add_node(type_name, pos if from_port.is_output else pos - QPointF(210, 0))
        if port_name is not None:
            if from_port.is_output:
                if spec.input(port_name) is None:  # a parameter: promote it, so its port outlives the wire
                    self.scene.push(self.scene.promote_command(node_id, port_name))
                link = Link(from_port.node_id, from_port.name, node_id, port_name)
            else:
                link = Link(node_id, port_name, from_port.node_id, from_port.name)
            self.scene.push(commands.AddLinkCommand(self.scene.graph, link))
        self.window.undo_stack.endMacro()
        self.scene.select_nodes([node_id])
        return node_id

    def context_menu(self, point: Any) -> None:
        scene_pos = self.window.view.mapToScene(point)
        menu = QMenu(self.window)
        node_item, param = self.node_and_param_at(scene_pos)
        if node_item is not None:
            add_promotion_actions(menu, self.scene, node_item.node_id, param)
            node_id, collapsed = node_item.node_id, node_item.collapsed
            menu.addAction(
                "Expand" if collapsed else "Collapse", lambda: self.scene.set_collapsed(node_id, not collapsed)
            )
            menu.addSeparator()
        add = menu.addMenu("Add node")
        by_category: dict[str, list[str]] = {}
        for spec in self.window.registry:
            by_category.setdefault(spec.category, []).append(spec.type)
        for category, types in sorted(by_category.items()):
            sub = add.addMenu(category)
            for type_name in types:
                sub.addAction(type_name, lambda t=type_name: self.add_node_at(t, scene_pos))
        menu.addAction("Search nodes…", lambda: self.open_palette(scene_pos))
        menu.addSeparator()
        has_selection = bool(self.scene.selectedItems())
        for text, slot in (
            ("Copy", lambda: clipboard.copy_selection(self.scene)),
            ("Duplicate", lambda: clipboard.duplicate(self.scene)),
            ("Group selection", lambda: clipboard.group_selection(self.scene)),
            ("Delete", self.scene.delete_selected),
        ):
            menu.addAction(text, slot).setEnabled(has_selection)
        menu.addAction("Paste", lambda: clipboard.paste(self.scene, scene_pos))
        group = self.window.view.itemAt(point)
        if isinstance(group, GroupItem):
            menu.addSeparator()
            menu.addAction("Rename group…", lambda: self.scene.rename_group(group.group_id))
            colours = menu.addMenu("Group colour")
            for name, colour in GROUP_COLOURS.items():
                colours.addAction(name, lambda c=colour: self.set_group_colour(group.group_id, c))
            menu.addAction("Remove group (keep nodes)", lambda: self.remove_group(group.group_id))
        menu.addSeparator()
        menu.addAction("Fit all", self.window.view.fit_all)
        menu.popup(self.window.view.viewport().mapToGlobal(point))

    def node_and_param_at(self, scene_pos: QPointF) -> tuple[NodeItem | None, str | None]:
        """The node under ``scene_pos`` and the parameter row (or promoted port) there, if any."""
        for item in self.scene.items(scene_pos):
            if isinstance(item, PortItem):
                return item.node_item, item.name if item.parameter else None
            if isinstance(item, NodeItem):
                return item, item.param_at(item.mapFromScene(scene_pos))
        return None, None

    def set_group_colour(self, group_id: str, colour: str) -> None:
        self.scene.push(commands.UpdateGroupCommand(self.scene.graph, group_id, "Group colour", color=colour))

    def remove_group(self, group_id: str) -> None:
        self.scene.push(commands.RemoveGroupCommand(self.scene.graph, group_id))

    def paste(self) -> list[str]:
        cursor = self.window.view.mapFromGlobal(self.window.view.cursor().pos())
        at = self.window.view.mapToScene(cursor) if self.window.view.viewport().rect().contains(cursor) else None
        return clipboard.paste(self.scene, at)

    def select_all(self) -> None:
        for item in self.scene.node_items.values():
            item.setSelected(True)
