"""Planning: which nodes a run needs, in which order, and each node's cache key."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from typing import Any

from studio.graph.model import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec
from studio.graph.walk import topological_order


def plan(graph: Graph, registry: NodeRegistry, targets: list[str] | None = None) -> list[str]:
    """Ids of the nodes that feed the output nodes (or ``targets``), in topological order.

    Ties keep the graph's own node order, so runs are reproducible. Assumes a validated,
    acyclic graph.
    """
    if targets is None:
        targets = [n.id for n in graph.nodes if (s := registry.get(n.type)) is not None and s.output]
    needed = graph.upstream(targets).union(targets)
    nodes = [n.id for n in graph.nodes if n.id in needed]
    return topological_order(nodes, ((lk.from_node, lk.to_node) for lk in graph.links))


def cache_key(
    spec: NodeSpec,
    params: dict[str, Any],
    input_keys: dict[str, str],
    salt: str = "",
    locate: Callable[[str], str | None] | None = None,
) -> str:
    """A node's key: its type, type version, parameters and the keys of what feeds it.

    For PATH parameters the file's size and modification time count too, so editing a
    loaded file re-runs the node that reads it; ``locate`` finds a relative path the way the
    nodes do (in the model folders, among the bundled files). Value types are part of the key,
    so 1, 1.0 and True never share an entry.
    """
    files = tuple(
        (name, _file_stamp(locate(params[name]) if locate else params[name]))
        for name in spec.path_params
        if params.get(name)
    )
    snapshot = (
        spec.type,
        spec.version,
        tuple((k, type(v).__name__, v) for k, v in sorted(params.items())),
        tuple(sorted(input_keys.items())),
        files,
        salt,
    )
    try:
        return _digest(snapshot)
    except TypeError:  # an unhashable value (a list or dict in an unknown parameter)
        return _digest.__wrapped__(snapshot)


@functools.lru_cache(maxsize=65536)
def _digest(snapshot: tuple) -> str:
    # repr of plain values is deterministic; the memo spares cached reruns the repr and the hash.
    return hashlib.blake2b(repr(snapshot).encode("utf-8"), digest_size=16).hexdigest()


def _file_stamp(path: Any) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    return (st.st_size, st.st_mtime_ns)
