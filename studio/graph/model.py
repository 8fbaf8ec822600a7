"""Graph, Node, Link and Group: the editable model of a node graph.

Every edit goes through a method here that an undo command can call and undo, and every
edit notifies subscribers (the editor's scene mirrors the model through them). The model
knows nothing of node types: checking an edit against node specs is validation's job.
Links are indexed by target port and by node, so lookups and walks never scan every link.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from studio.graph import walk

_MISSING = object()


class GraphEditError(ValueError):
    """An edit that the model cannot carry out (unknown node id, duplicate id, ...)."""


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    type_version: int = 1
    position: tuple[float, float] = (0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept on save


@dataclass(frozen=True)
class Link:
    """A wire from an output port to an input port (or a promoted parameter)."""

    from_node: str
    from_port: str
    to_node: str
    to_port: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def target(self) -> tuple[str, str]:
        return (self.to_node, self.to_port)

    def __str__(self) -> str:
        return f"{self.from_node}.{self.from_port} -> {self.to_node}.{self.to_port}"


@dataclass
class Group:
    """A titled, coloured frame around part of the graph."""

    id: str
    title: str = ""
    color: str = "#3a4a5a"
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 400.0, 300.0)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphChange:
    """A change notification. ``kind`` is one of: node_added, node_removed, link_added,
    link_removed, param_changed, node_changed (an extra entry), node_moved, group_added,
    group_removed, group_changed, meta_changed."""

    kind: str
    node_id: str | None = None
    link: Link | None = None
    name: str | None = None
    value: Any = None
    old: Any = None


Listener = Callable[[GraphChange], None]


class LinkList(list):
    """What ``Graph.links`` gives: the links in the order they were added, read-only.

    Editing this list would bypass the graph's link index and its notifications, so it
    refuses; edit with ``Graph.connect``/``disconnect``, or assign a whole list to ``links``.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("graph.links is read-only; edit links with Graph.connect() and Graph.disconnect()")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse  # type: ignore[assignment]
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple:
        return (LinkList, (list(self),))  # copy and pickle build a new one through list.__init__


class Graph:
    def __init__(self, meta: dict[str, Any] | None = None) -> None:
        self._nodes: list[Node] = []
        self._by_id: dict[str, Node] = {}
        # Each link gets a serial number: the dicts below keep the links' order, and removing
        # one is a dict deletion. A malformed file may hold equal links twice; both are kept.
        self._links: dict[int, Link] = {}
        self._next_serial = 0
        self._into: dict[tuple[str, str], dict[int, Link]] = {}
        self._incoming: dict[str, dict[int, Link]] = {}
        self._outgoing: dict[str, dict[int, Link]] = {}
        self._links_view: LinkList | None = None
        self.groups: list[Group] = []
        self.meta: dict[str, Any] = {"title": "", "app_version": ""}
        if meta:
            self.meta.update(meta)
        self.extra: dict[str, Any] = {}  # unknown top-level keys, kept on save
        self._listeners: list[Listener] = []

    # ---- reading -------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes)

    def node(self, node_id: str) -> Node:
        try:
            return self._by_id[node_id]
        except KeyError:
            raise GraphEditError(f"no node with id {node_id!r}") from None

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._by_id

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes))

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def links(self) -> LinkList:
        """Every link, in the order added (read-only; assigning a list replaces them all)."""
        if self._links_view is None:
            self._links_view = LinkList(self._links.values())
        return self._links_view

    @links.setter
    def links(self, links: Iterable[Link]) -> None:
        links = list(links)  # it may be a view of the links about to be cleared
        for index in (self._links, self._into, self._incoming, self._outgoing):
            index.clear()
        for link in links:
            self._add_link(link)
        self._links_view = None

    def link_into(self, node_id: str, port: str) -> Link | None:
        entries = self._into.get((node_id, port))
        return next(iter(entries.values())) if entries else None

    def links_of(self, node_id: str) -> list[Link]:
        """The links into and out of ``node_id``, in the order of ``links``."""
        return [self._links[serial] for serial in self._serials_of(node_id)]

    def reaches(self, start: str, goal: str) -> bool:
        """Whether following links downstream from ``start`` arrives at ``goal`` (a link from
        ``goal`` to ``start`` would then close a cycle)."""
        return walk.reaches(start, goal, self._children_of)

    def upstream(self, node_ids: Iterable[str]) -> set[str]:
        """The ids of every node that feeds one of ``node_ids``, directly or through others."""
        return walk.reachable(node_ids, self._parents_of)

    def downstream(self, node_ids: Iterable[str]) -> set[str]:
        """The ids of every node fed by one of ``node_ids``, directly or through others."""
        return walk.reachable(node_ids, self._children_of)

    def unique_id(self, prefix: str) -> str:
        """A node id not used yet, derived from ``prefix`` (``sampler``, ``sampler2``, ...)."""
        base = re.sub(r"[^0-9A-Za-z_]+", "_", prefix).strip("_").lower() or "node"
        base = re.sub(r"\d+$", "", base) or base
        if base not in self._by_id and not any(g.id == base for g in self.groups):
            return base
        n = 2
        while f"{base}{n}" in self._by_id or any(g.id == f"{base}{n}" for g in self.groups):
            n += 1
        return f"{base}{n}"

    # ---- notifications ---------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, change: GraphChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    # ---- editing ---------------------------------------------------------------------
    def add_node(self, node: Node, index: int | None = None) -> Node:
        if not isinstance(node.id, str) or not node.id:
            raise GraphEditError("a node id must be a non-empty string")
        if node.id in self._by_id:
            raise GraphEditError(f"a node with id {node.id!r} already exists")
        if index is None:
            self._nodes.append(node)
        else:
            self._nodes.insert(index, node)
        self._by_id[node.id] = node
        self._emit(GraphChange("node_added", node_id=node.id))
        return node

    def remove_node(self, node_id: str) -> tuple[Node, int, list[Link]]:
        """Remove a node and its links; returns what undo needs: node, index, links."""
        node = self.node(node_id)
        removed: list[Link] = []
        for serial in self._serials_of(node_id):
            if serial in self._links:  # a listener may have removed it already
                link = self._drop_link(serial)
                removed.append(link)
                self._emit(GraphChange("link_removed", node_id=link.to_node, link=link))
        index = self._nodes.index(node)
        del self._nodes[index]
        del self._by_id[node_id]
        self._emit(GraphChange("node_removed", node_id=node_id))
        return node, index, removed

    def connect(self, link: Link) -> Link | None:
        """Add ``link``; an input takes one wire, so a link already there is replaced and returned."""
        self.node(link.from_node)
        self.node(link.to_node)
        if link.from_node == link.to_node:
            raise GraphEditError(f"{link.to_node}: a node cannot feed itself")
        replaced = self.link_into(link.to_node, link.to_port)
        if replaced is not None:
            self.disconnect(link.to_node, link.to_port)
        self._add_link(link)
        self._emit(GraphChange("link_added", node_id=link.to_node, link=link))
        return replaced

    def disconnect(self, node_id: str, port: str) -> Link | None:
        entries = self._into.get((node_id, port))
        if not entries:
            return None
        link = self._drop_link(next(iter(entries)))
        self._emit(GraphChange("link_removed", node_id=node_id, link=link))
        return link

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set a parameter; returns the previous value (or the internal MISSING marker)."""
        node = self.node(node_id)
        old = node.params.get(name, _MISSING)
        if old is not _MISSING and type(old) is type(value) and old == value:
            return old
        if value is _MISSING:
            node.params.pop(name, None)
        else:
            node.params[name] = value
        self._emit(GraphChange("param_changed", node_id=node_id, name=name, value=value, old=old))
        return old

    def set_node_extra(self, node_id: str, key: str, value: Any) -> Any:
        """Set a node's extra (file-only) entry, e.g. which parameters show as inputs.

        ``MISSING`` removes the entry. Returns the previous value or ``MISSING``.
        """
        node = self.node(node_id)
        old = node.extra.get(key, _MISSING)
        if value is _MISSING:
            node.extra.pop(key, None)
        else:
            node.extra[key] = value
        self._emit(GraphChange("node_changed", node_id=node_id, name=key, value=value, old=old))
        return old

    def move_node(self, node_id: str, position: tuple[float, float]) -> tuple[float, float]:
        node = self.node(node_id)
        old = node.position
        node.position = (float(position[0]), float(position[1]))
        self._emit(GraphChange("node_moved", node_id=node_id, value=node.position, old=old))
        return old

    def add_group(self, group: Group, index: int | None = None) -> Group:
        if any(g.id == group.id for g in self.groups):
            raise GraphEditError(f"a group with id {group.id!r} already exists")
        self.groups.insert(len(self.groups) if index is None else index, group)
        self._emit(GraphChange("group_added", name=group.id))
        return group

    def remove_group(self, group_id: str) -> tuple[Group, int]:
        for index, group in enumerate(self.groups):
            if group.id == group_id:
                del self.groups[index]
                self._emit(GraphChange("group_removed", name=group_id))
                return group, index
        raise GraphEditError(f"no group with id {group_id!r}")

    def update_group(self, group_id: str, **changes: Any) -> dict[str, Any]:
        for group in self.groups:
            if group.id == group_id:
                old = {k: getattr(group, k) for k in changes}
                for key, value in changes.items():
                    setattr(group, key, value)
                self._emit(GraphChange("group_changed", name=group_id, value=changes, old=old))
                return old
        raise GraphEditError(f"no group with id {group_id!r}")

    def set_meta(self, key: str, value: Any) -> Any:
        """Set a meta entry (``MISSING`` removes it); returns the previous value or ``MISSING``."""
        old = self.meta.get(key, _MISSING)
        if value is _MISSING:
            self.meta.pop(key, None)
        else:
            self.meta[key] = value
        self._emit(GraphChange("meta_changed", name=key, value=value, old=old))
        return old

    # ---- copying ---------------------------------------------------------------------
    def copy(self) -> "Graph":
        """A deep copy without subscribers (what a queued run keeps)."""
        clone = Graph()
        clone._nodes = copy.deepcopy(self._nodes)
        clone._by_id = {n.id: n for n in clone._nodes}
        clone.links = self.links
        clone.groups = copy.deepcopy(self.groups)
        clone.meta = copy.deepcopy(self.meta)
        clone.extra = copy.deepcopy(self.extra)
        return clone

    def _append_loaded(self, node: Node) -> None:
        """Loader only: keep a node even when its id repeats, so validation can report it."""
        self._nodes.append(node)
        self._by_id.setdefault(node.id, node)

    def _append_loaded_link(self, link: Link) -> None:
        """Loader only: keep a link as the file has it (to a missing node, a repeat, ...), so
        validation can report it."""
        self._add_link(link)

    # ---- the link index --------------------------------------------------------------
    def _add_link(self, link: Link) -> None:
        serial = self._next_serial
        self._next_serial += 1
        self._links[serial] = link
        self._into.setdefault(link.target, {})[serial] = link
        self._incoming.setdefault(link.to_node, {})[serial] = link
        self._outgoing.setdefault(link.from_node, {})[serial] = link
        self._links_view = None

    def _drop_link(self, serial: int) -> Link:
        link = self._links.pop(serial)
        for index, key in ((self._into, link.target), (self._incoming, link.to_node), (self._outgoing, link.from_node)):
            entries = index[key]
            del entries[serial]
            if not entries:
                del index[key]
        self._links_view = None
        return link

    def _serials_of(self, node_id: str) -> list[int]:
        return sorted(self._incoming.get(node_id, {}).keys() | self._outgoing.get(node_id, {}).keys())

    def _children_of(self, node_id: str) -> Iterator[str]:
        return (link.to_node for link in self._outgoing.get(node_id, {}).values())

    def _parents_of(self, node_id: str) -> Iterator[str]:
        return (link.from_node for link in self._incoming.get(node_id, {}).values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            self._nodes == other._nodes
            and sorted(self.links, key=str) == sorted(other.links, key=str)
            and [lk.extra for lk in sorted(self.links, key=str)] == [lk.extra for lk in sorted(other.links, key=str)]
            and self.groups == other.groups
            and self.meta == other.meta
            and self.extra == other.extra
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Graph({len(self._nodes)} nodes, {len(self.links)} links)"


MISSING = _MISSING
