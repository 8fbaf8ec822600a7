"""Graph walks over plain node ids: reachability, topological order, cycles, dependents.

Every walk here is iterative (a 100,000-node ring does not touch the recursion limit) and
linear in nodes plus edges, or n log n where ties are put in order. The functions know
nothing of ``Graph``: they take node ids, ``(from, to)`` edges and neighbour lookups, so
the model, validation, the planner and the engine share one implementation.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence

Edge = tuple[str, str]
Neighbours = Callable[[str], Iterable[str]]


def adjacency(edges: Iterable[Edge]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``(children, parents)``: each node's targets and sources, in edge order (repeats kept)."""
    children: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    for source, target in edges:
        children.setdefault(source, []).append(target)
        parents.setdefault(target, []).append(source)
    return children, parents


def lookup(mapping: dict[str, list[str]]) -> Neighbours:
    """A neighbour function over an adjacency dict (nodes without an entry have none)."""
    empty: tuple[str, ...] = ()
    return lambda node: mapping.get(node, empty)


def reachable(starts: Iterable[str], neighbours: Neighbours) -> set[str]:
    """Every node reached from ``starts`` by following ``neighbours`` one or more times.

    A start is in the result only when a path leads back to it (or from another start).
    """
    found: set[str] = set()
    stack = [n for start in starts for n in neighbours(start)]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(neighbours(current))
    return found


def reaches(start: str, goal: str, neighbours: Neighbours) -> bool:
    """Whether following ``neighbours`` from ``start`` (one or more times) arrives at ``goal``;
    stops as soon as it does."""
    seen: set[str] = set()
    stack = list(neighbours(start))
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(neighbours(current))
    return False


def topological_order(nodes: Sequence[str], edges: Iterable[Edge]) -> list[str]:
    """``nodes`` so that every edge's source comes before its target.

    Among the nodes ready at a time, the one earliest in ``nodes`` goes first, so the order
    is fully determined by the input. Edges touching a node outside ``nodes`` are ignored;
    nodes on a cycle, or downstream of one, are left out.
    """
    position = {node: i for i, node in enumerate(nodes)}
    indegree = dict.fromkeys(position, 0)
    children: dict[str, list[str]] = {node: [] for node in position}
    for source, target in edges:
        if source in position and target in position:
            indegree[target] += 1
            children[source].append(target)
    ready = [(position[n], n) for n, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, current = heapq.heappop(ready)
        order.append(current)
        for child in children[current]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (position[child], child))
    return order


def strongly_connected(nodes: Sequence[str], children: Neighbours) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively; each component's nodes in the
    order they were finished, components in reverse topological order.

    ``children`` must only name nodes in ``nodes``.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(children(root)))]
        while work:
            node, pending = work[-1]
            for child in pending:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(children(child))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:  # every child seen: close the node
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def cycles(nodes: Sequence[str], edges: Iterable[Edge]) -> list[list[str]]:
    """The nodes that lie on a cycle, one list per separate cycle (strongly connected group).

    Nodes merely downstream or upstream of a cycle are not included, nor are edges from a
    node to itself (or touching nodes outside ``nodes``). Each list starts at the group's
    earliest node in ``nodes`` and follows edges from there (``a -> b -> c`` for a ring);
    the lists are ordered by their first node.
    """
    present = dict.fromkeys(nodes)
    children: dict[str, list[str]] = {}
    for source, target in edges:
        if source != target and source in present and target in present:
            children.setdefault(source, []).append(target)
    neighbours = lookup(children)
    position = {node: i for i, node in enumerate(present)}  # a repeated id counts where it first appears
    found: list[list[str]] = []
    for component in strongly_connected(list(present), neighbours):
        if len(component) > 1:
            first = min(component, key=position.__getitem__)
            found.append(_walk_within(first, set(component), neighbours))
    found.sort(key=lambda cycle: position[cycle[0]])
    return found


def _walk_within(first: str, members: set[str], children: Neighbours) -> list[str]:
    """``members`` in depth-first preorder from ``first``, following edges inside the group."""
    order: list[str] = []
    seen: set[str] = set()
    stack = [first]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed([c for c in children(node) if c in members and c not in seen]))
    return order


class Dependents:
    """The nodes downstream of a node, listed in a fixed ``order`` (a run's plan).

    The children map and the positions are built once, on the first question, so asking
    about every node of a large run costs time in proportion to the answers, not to the
    graph each time, and a run where nothing fails builds nothing (``edges`` is read then).
    """

    def __init__(self, order: Sequence[str], edges: Iterable[Edge]) -> None:
        self._order = order
        self._edges: Iterable[Edge] | None = edges
        self._position: dict[str, int] = {}
        self._children: Neighbours = lookup({})

    def __call__(self, node: str) -> tuple[str, ...]:
        if self._edges is not None:
            self._position = {n: i for i, n in enumerate(self._order)}
            self._children = lookup(adjacency(self._edges)[0])
            self._edges = None
        position = self._position
        found = reachable([node], self._children)
        return tuple(sorted((n for n in found if n in position), key=position.__getitem__))
