"""The node registry: an object holding the node types one app or run knows about.

There is no global registry; the CLI, the app and each test build their own
(``studio.composition`` builds the usual one: the built-in nodes plus installed packs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from studio.graph.spec import NodeSpec

ENTRY_POINT_GROUP = "studio.nodes"


@dataclass
class PluginProblem:
    """A node or family pack that could not be loaded. Reported, never fatal."""

    source: str
    message: str
    kind: str = "node pack"

    def __str__(self) -> str:
        return f"{self.kind} {self.source}: {self.message}"


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

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP, *, skip: Iterable[str] = ()) -> None:
        """Register node packs installed under the ``studio.nodes`` entry-point group.

        Each entry point names a callable returning NodeSpecs, or an iterable of them.
        Installing a pack is the user's act of trust; opening a graph never imports anything.
        """
        load_plugins(group, NodeSpec, self.register, self.problems, kind="node pack", skip=skip)

    @classmethod
    def installed(cls) -> NodeRegistry:
        """Every node type installed under ``studio.nodes``: the built-in library registers there too,
        so the core finds it without importing it."""
        registry = cls()
        registry.load_entry_points()
        return registry


def load_plugins(
    group: str,
    item_type: type,
    register: Callable[[Any], None],
    problems: list[PluginProblem],
    *,
    kind: str,
    skip: Iterable[str] = (),
) -> None:
    """Load every entry point of ``group`` (a callable returning items, an item, or an iterable of
    them) and ``register`` each item; a pack that fails is added to ``problems``, never fatal."""
    from importlib import metadata  # imported here: it pulls in email and http (~50 ms), needed only for packs

    skipped = set(skip)
    for entry in metadata.entry_points(group=group):
        if entry.name in skipped:
            continue
        try:
            loaded = entry.load()
            items = loaded() if callable(loaded) and not isinstance(loaded, item_type) else loaded
            if isinstance(items, item_type):
                items = [items]
            for item in items:
                register(item)
        except Exception as exc:  # a broken pack must not take the app down
            problems.append(PluginProblem(entry.value, f"{type(exc).__name__}: {exc}", kind))
