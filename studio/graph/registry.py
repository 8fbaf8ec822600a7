"""The node registry: an object holding the node types one app or run knows about.

There is no global registry; the CLI, the app and each test build their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata

from studio.graph.spec import NodeSpec

ENTRY_POINT_GROUP = "studio.nodes"


@dataclass
class PluginProblem:
    """A node pack that could not be loaded. Reported, never fatal."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"node pack {self.source}: {self.message}"


@dataclass
class NodeRegistry:
    _specs: dict[str, NodeSpec] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)

    def register(self, spec: NodeSpec, *, replace: bool = False) -> None:
        if not isinstance(spec, NodeSpec):
            raise TypeError(f"expected a NodeSpec, got {type(spec).__name__}")
        if spec.type in self._specs and not replace:
            raise ValueError(f"node type {spec.type!r} is already registered")
        self._specs[spec.type] = spec

    def register_all(self, specs: Iterable[NodeSpec]) -> None:
        for spec in specs:
            self.register(spec)

    def get(self, type_name: str) -> NodeSpec | None:
        return self._specs.get(type_name)

    def __getitem__(self, type_name: str) -> NodeSpec:
        return self._specs[type_name]

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.category, s.type)))

    def __len__(self) -> int:
        return len(self._specs)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register node packs installed under the ``studio.nodes`` entry-point group.

        Each entry point names a callable returning NodeSpecs, or an iterable of them.
        Installing a pack is the user's act of trust; opening a graph never imports anything.
        """
        for entry in metadata.entry_points(group=group):
            try:
                loaded = entry.load()
                specs = loaded() if callable(loaded) and not isinstance(loaded, NodeSpec) else loaded
                if isinstance(specs, NodeSpec):
                    specs = [specs]
                for spec in specs:
                    self.register(spec)
            except Exception as exc:  # a broken pack must not take the app down
                self.problems.append(PluginProblem(entry.value, f"{type(exc).__name__}: {exc}"))


def default_registry(*, plugins: bool = True) -> NodeRegistry:
    """A fresh registry with the built-in nodes and, optionally, installed node packs."""
    from nodes import builtin_node_types

    registry = NodeRegistry()
    registry.register_all(builtin_node_types())
    if plugins:
        registry.load_entry_points()
    return registry
