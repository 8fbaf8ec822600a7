"""Copy, paste, duplicate and group: edits on the selection, with graph JSON on the clipboard.

The clipboard holds a complete graph document, so a copied piece pastes into another
window, or into a text editor as readable JSON.
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import QPointF
from PySide6.QtGui import QGuiApplication

from studio.graph.fileformat import GraphFileError, dumps_graph, graph_from_dict
from studio.graph.model import Graph, Group
from studio.ui import commands as cmd

PASTE_OFFSET = 40.0
log = logging.getLogger("studio.ui.clipboard")


def selection_graph(scene) -> Graph:
    """The selected nodes, the links between them and the groups around them, as a new Graph."""
    ids = set(scene.selected_node_ids())
    piece = Graph()
    for node in scene.graph.nodes:
        if node.id in ids:
            piece._append_loaded(node)
    piece.links = [lk for lk in scene.graph.links if lk.from_node in ids and lk.to_node in ids]
    selected_groups = {i.group_id for i in scene.selectedItems() if hasattr(i, "group_id")}
    piece.groups = [g for g in scene.graph.groups if g.id in selected_groups]
    return piece.copy()


def copy_selection(scene) -> str:
    """Put the selection on the clipboard as graph JSON; returns it ("" if it cannot be written as JSON)."""
    try:
        text = dumps_graph(selection_graph(scene))
    except GraphFileError as exc:  # a value no graph file may hold; the clipboard is left as it was
        log.warning("could not copy the selection: %s", exc)
        return ""
    QGuiApplication.clipboard().setText(text)
    return text


def parse_clipboard(text: str) -> Graph | None:
    try:
        return graph_from_dict(json.loads(text))
    except (ValueError, GraphFileError, RecursionError):
        return None


def paste(scene, at: QPointF | None = None, text: str | None = None) -> list[str]:
    """Paste graph JSON (the clipboard's by default); returns the new node ids, selected."""
    text = QGuiApplication.clipboard().text() if text is None else text
    piece = parse_clipboard(text)
    if piece is None or not (piece.nodes or piece.groups):
        return []
    offset = (PASTE_OFFSET, PASTE_OFFSET)
    if at is not None and piece.nodes:
        left = min(n.position[0] for n in piece.nodes)
        top = min(n.position[1] for n in piece.nodes)
        offset = (at.x() - left, at.y() - top)
    command = cmd.insert_graph_command(scene.graph, piece, offset, "Paste")
    scene.push(command)
    scene.select_nodes(command.new_ids)
    return command.new_ids


def duplicate(scene) -> list[str]:
    piece = selection_graph(scene)
    if not piece.nodes:
        return []
    command = cmd.insert_graph_command(scene.graph, piece, (PASTE_OFFSET, PASTE_OFFSET), "Duplicate")
    scene.push(command)
    scene.select_nodes(command.new_ids)
    return command.new_ids


def group_selection(scene, title: str = "Group", color: str = "#3a5a7a") -> str | None:
    """Frame the selected nodes in a new group; returns its id."""
    items = [scene.node_items[n] for n in scene.selected_node_ids()]
    if not items:
        return None
    rect = items[0].sceneBoundingRect()
    for item in items[1:]:
        rect = rect.united(item.sceneBoundingRect())
    rect = rect.adjusted(-24, -48, 24, 24)
    group_id = scene.graph.unique_id("group")
    group = Group(group_id, title, color, (rect.x(), rect.y(), rect.width(), rect.height()))
    scene.push(cmd.AddGroupCommand(scene.graph, group))
    return group_id
