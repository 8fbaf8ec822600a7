"""Undo commands: every edit in the editor is one of these, calling the Graph's public API.

As in Orange's canvas, a composite edit is built from child commands: removing a node first
removes its links (children run in order on redo, in reverse on undo), then the node.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtGui import QUndoCommand

from studio.graph.model import MISSING, Graph, Group, Link, Node
from studio.ui.promotion import PROMOTED_KEY

SET_PARAM_ID = 1001


class Command(QUndoCommand):
    """Base of our commands; also a plain composite (children redo in order, undo in reverse).

    Children are kept in a Python list rather than as Qt child commands: PySide does not keep
    a Qt child's Python object alive, and a stack dropping its redo history would then free
    the children twice.
    """

    def __init__(self, text: str = "", parent: Command | None = None) -> None:
        super().__init__(text)
        self.children: list[Command] = []
        if parent is not None:
            parent.children.append(self)

    def redo(self) -> None:
        for child in self.children:
            child.redo()

    def undo(self) -> None:
        for child in reversed(self.children):
            child.undo()


class AddNodeCommand(Command):
    def __init__(self, graph: Graph, node: Node, parent: Command | None = None) -> None:
        super().__init__(f"Add {node.type}", parent)
        self.graph = graph
        self.node = node

    def redo(self) -> None:
        self.graph.add_node(copy.deepcopy(self.node))

    def undo(self) -> None:
        self.graph.remove_node(self.node.id)


class AddLinkCommand(Command):
    """Connect a link; an input takes one wire, so undo restores the wire it replaced."""

    def __init__(self, graph: Graph, link: Link, parent: Command | None = None) -> None:
        super().__init__(f"Connect {link.from_node} to {link.to_node}", parent)
        self.graph = graph
        self.link = link
        self.replaced: Link | None = None

    def redo(self) -> None:
        self.replaced = self.graph.connect(self.link)

    def undo(self) -> None:
        self.graph.disconnect(self.link.to_node, self.link.to_port)
        if self.replaced is not None:
            self.graph.connect(self.replaced)


class RemoveLinkCommand(Command):
    def __init__(self, graph: Graph, link: Link, parent: Command | None = None) -> None:
        super().__init__(f"Disconnect {link.to_node}.{link.to_port}", parent)
        self.graph = graph
        self.link = link

    def redo(self) -> None:
        self.graph.disconnect(self.link.to_node, self.link.to_port)

    def undo(self) -> None:
        self.graph.connect(self.link)


class ReplaceLinkCommand(Command):
    """Swap a link for an equal one with other extras (its reroute points)."""

    def __init__(self, graph: Graph, old: Link, new: Link, text: str = "Edit reroute points") -> None:
        super().__init__(text)
        self.graph, self.old, self.new = graph, old, new

    def redo(self) -> None:
        self.graph.connect(self.new)

    def undo(self) -> None:
        self.graph.connect(self.old)


class RemoveNodeCommand(Command):
    """Remove a node: its links first (child commands), then the node at its index."""

    def __init__(self, graph: Graph, node_id: str, parent: Command | None = None) -> None:
        node = graph.node(node_id)
        super().__init__(f"Remove {node.type}", parent)
        self.graph = graph
        self.node_id = node_id
        self.node = copy.deepcopy(node)
        self.index = graph.nodes.index(node)
        for link in graph.links_of(node_id):
            RemoveLinkCommand(graph, link, self)

    def redo(self) -> None:
        super().redo()  # the links
        self.graph.remove_node(self.node_id)

    def undo(self) -> None:
        self.graph.add_node(copy.deepcopy(self.node), self.index)
        super().undo()


class SetParamCommand(Command):
    """Set one parameter. Consecutive edits of the same parameter (a slider drag, typing) merge."""

    def __init__(self, graph: Graph, node_id: str, name: str, value: Any, parent: Command | None = None) -> None:
        super().__init__(f"Set {node_id}.{name}", parent)
        self.graph = graph
        self.node_id = node_id
        self.name = name
        self.value = value
        self.old = graph.node(node_id).params.get(name, MISSING)

    def id(self) -> int:
        return SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, SetParamCommand) or (other.node_id, other.name) != (self.node_id, self.name):
            return False
        self.value = other.value
        return True

    def redo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.value)

    def undo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.old)


class PromoteParamCommand(Command):
    """Show parameter ``name`` as an input port (``promoted``) or take that port away again.

    The state lives in the node's ``extra["inputs"]``, set through ``Graph.set_node_extra`` so
    the canvas hears of it like any other edit.
    """

    def __init__(self, graph: Graph, node_id: str, name: str, promoted: bool, parent: Command | None = None) -> None:
        text = f"Drive {node_id}.{name} from a wire" if promoted else f"Use the value of {node_id}.{name}"
        super().__init__(text, parent)
        self.graph, self.node_id = graph, node_id
        extra = graph.node(node_id).extra
        self.old = copy.deepcopy(extra[PROMOTED_KEY]) if PROMOTED_KEY in extra else MISSING
        # Odd entries a file may hold stay as they are; only ``name`` is added or taken out.
        listed = extra.get(PROMOTED_KEY)
        names = [n for n in listed if n != name] if isinstance(listed, list) else []
        self.new = names + [name] if promoted else names

    def _store(self, value: Any) -> None:
        self.graph.set_node_extra(self.node_id, PROMOTED_KEY, value if value is MISSING else copy.deepcopy(value))

    def redo(self) -> None:
        self._store(self.new or MISSING)  # no empty list left behind in the file

    def undo(self) -> None:
        self._store(self.old)


class SetNodeExtraCommand(Command):
    """Set (or with MISSING remove) one of a node's file-only entries, e.g. ``collapsed``."""

    def __init__(self, graph: Graph, node_id: str, key: str, value: Any, text: str = "") -> None:
        super().__init__(text or f"Set {node_id}.{key}")
        self.graph, self.node_id, self.key, self.value = graph, node_id, key, value
        extra = graph.node(node_id).extra
        self.old = copy.deepcopy(extra[key]) if key in extra else MISSING

    def redo(self) -> None:
        self.graph.set_node_extra(self.node_id, self.key, self.value)

    def undo(self) -> None:
        self.graph.set_node_extra(self.node_id, self.key, self.old)


class MoveNodesCommand(Command):
    def __init__(self, graph: Graph, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]]) -> None:
        super().__init__("Move" if len(moves) > 1 else f"Move {next(iter(moves))}")
        self.graph = graph
        self.moves = moves  # node id -> (old, new)

    def redo(self) -> None:
        for node_id, (_old, new) in self.moves.items():
            self.graph.move_node(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _new) in self.moves.items():
            self.graph.move_node(node_id, old)


class SetMetaCommand(Command):
    def __init__(self, graph: Graph, key: str, value: Any, text: str = "") -> None:
        super().__init__(text or f"Set {key}")
        self.graph, self.key, self.value = graph, key, copy.deepcopy(value)
        # MISSING must stay the same object (deepcopy would make a new one), so copy only real values.
        self.old = copy.deepcopy(graph.meta[key]) if key in graph.meta else MISSING

    def redo(self) -> None:
        self.graph.set_meta(self.key, copy.deepcopy(self.value))

    def undo(self) -> None:
        self.graph.set_meta(self.key, MISSING if self.old is MISSING else copy.deepcopy(self.old))


class AddGroupCommand(Command):
    def __init__(self, graph: Graph, group: Group) -> None:
        super().__init__(f"Add group {group.title or group.id}")
        self.graph, self.group = graph, group

    def redo(self) -> None:
        self.graph.add_group(copy.deepcopy(self.group))

    def undo(self) -> None:
        self.graph.remove_group(self.group.id)


class RemoveGroupCommand(Command):
    def __init__(self, graph: Graph, group_id: str, parent: Command | None = None) -> None:
        super().__init__(f"Remove group {group_id}", parent)
        self.graph = graph
        self.group_id = group_id
        found = next(g for g in graph.groups if g.id == group_id)
        self.group = copy.deepcopy(found)
        self.index = graph.groups.index(found)

    def redo(self) -> None:
        self.graph.remove_group(self.group_id)

    def undo(self) -> None:
        self.graph.add_group(copy.deepcopy(self.group), self.index)


class UpdateGroupCommand(Command):
    def __init__(self, graph: Graph, group_id: str, text: str = "Edit group", **changes: Any) -> None:
        super().__init__(text)
        self.graph, self.group_id, self.changes = graph, group_id, changes
        group = next(g for g in graph.groups if g.id == group_id)
        self.old = {k: getattr(group, k) for k in changes}

    def redo(self) -> None:
        self.graph.update_group(self.group_id, **self.changes)

    def undo(self) -> None:
        self.graph.update_group(self.group_id, **self.old)


def insert_graph_command(target: Graph, piece: Graph, offset: tuple[float, float], text: str) -> Command:
    """One command adding every node, link and group of ``piece`` with fresh ids (paste, duplicate).

    Ids are renamed so nothing collides with ``target``; links inside the piece follow the renames.
    The command's ``new_ids`` lists the added node ids, for selecting them afterwards.
    """
    macro = Command(text)
    renamed: dict[str, str] = {}
    taken = Graph()
    for node in target.nodes:
        taken._append_loaded(Node(node.id, node.type))
    for group in target.groups:
        taken.groups.append(Group(group.id))
    for node in piece.nodes:
        new_id = taken.unique_id(node.id)
        renamed[node.id] = new_id
        taken._append_loaded(Node(new_id, node.type))
        clone = copy.deepcopy(node)
        clone.id = new_id
        clone.position = (node.position[0] + offset[0], node.position[1] + offset[1])
        AddNodeCommand(target, clone, macro)
    for link in piece.links:
        if link.from_node in renamed and link.to_node in renamed:
            extra = copy.deepcopy(link.extra)
            if "points" in extra:
                extra["points"] = [[x + offset[0], y + offset[1]] for x, y in extra["points"]]
            moved = Link(renamed[link.from_node], link.from_port, renamed[link.to_node], link.to_port, extra)
            AddLinkCommand(target, moved, macro)
    for group in piece.groups:
        gid = taken.unique_id(group.id or "group")
        taken.groups.append(Group(gid))
        x, y, w, h = group.bounds
        clone = Group(gid, group.title, group.color, (x + offset[0], y + offset[1], w, h), dict(group.extra))
        _AddGroupChild(target, clone, macro)
    macro.new_ids = list(renamed.values())  # type: ignore[attr-defined]
    return macro


class _AddGroupChild(Command):
    def __init__(self, graph: Graph, group: Group, parent: Command) -> None:
        super().__init__("Add group", parent)
        self.graph, self.group = graph, group

    def redo(self) -> None:
        self.graph.add_group(copy.deepcopy(self.group))

    def undo(self) -> None:
        self.graph.remove_group(self.group.id)


def next_seeds_command(graph: Graph, registry: Any, modes: Any) -> Command | None:
    """One command moving every seed whose after-run mode is randomize or increment (or None).

    ``modes`` maps ``"node.param"`` to ``fixed``, ``randomize`` or ``increment``.
    """
    from studio.ui.param_widgets import next_seed

    macro = Command("Next seeds after run")
    for key, mode in modes.items() if isinstance(modes, dict) else ():
        node_id, _, name = key.rpartition(".")
        if node_id not in graph or mode == "fixed" or graph.link_into(node_id, name) is not None:
            continue  # a seed driven by a wire ignores its own value: moving it would only add noise
        node = graph.node(node_id)
        spec = registry.get(node.type)
        param = spec.param(name) if spec else None
        if param is not None:
            current = node.params.get(name, param.default)
            SetParamCommand(graph, node_id, name, next_seed(current if isinstance(current, int) else 0, mode), macro)
    return macro if macro.children else None
