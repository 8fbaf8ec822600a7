"""Composition: the registries the CLI, the app and tests use, built in one place.

The built-in node library and families are imported here (and only here, besides their
entry points), so the core layers never import them. Installed packs are added from the
``studio.nodes`` and ``studio.families`` entry-point groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec
from studio.nodeapi.families import FamilyRegistry

# The entry points under which this distribution registers its own built-ins (see pyproject.toml);
# skipped when loading packs here because the built-ins are imported directly.
BUILTIN_ENTRY_POINT = "builtin"


def default_registry(*, plugins: bool = True) -> NodeRegistry:
    """A fresh node registry with the built-in nodes and, optionally, installed node packs."""
    from nodes import builtin_node_types

    registry = NodeRegistry()
    registry.register_all(builtin_node_types())
    if plugins:
        registry.load_entry_points(skip=[BUILTIN_ENTRY_POINT])
    return registry


@dataclass
class PacksLaterRegistry(NodeRegistry):
    """The built-in nodes and installed node packs, each loaded on first need: the built-ins when a
    node type is first asked for, the packs when the built-ins lack a type, on a listing of every
    type, or on :meth:`load_packs` (the window calls it once it has painted; it loads both).

    Importing the built-in node modules (~70 ms) and reading every installed distribution's
    metadata for the packs are a large share of the window's start-up; an empty canvas needs
    neither before its first paint.
    """

    builtin_source: Callable[[], Iterable[NodeSpec]] | None = None
    packs_pending: bool = True

    @property
    def builtins_pending(self) -> bool:
        return self.builtin_source is not None

    def load_builtins(self) -> None:
        if self.builtin_source is not None:
            specs = list(self.builtin_source())  # an import error surfaces here, and again next time
            self.builtin_source = None
            super().register_all(specs)

    def load_packs(self) -> None:
        self.load_builtins()
        if self.packs_pending:
            self.packs_pending = False
            self.load_entry_points(skip=[BUILTIN_ENTRY_POINT])

    def register(self, spec: NodeSpec, *, replace: bool = False) -> None:
        self.load_builtins()  # a type registered now clashes with a built-in as it would have at start
        super().register(spec, replace=replace)

    def get(self, type_name: str) -> NodeSpec | None:
        self.load_builtins()
        if type_name not in self._specs:
            self.load_packs()
        return super().get(type_name)

    def __getitem__(self, type_name: str) -> NodeSpec:
        self.load_builtins()
        if type_name not in self._specs:
            self.load_packs()
        return super().__getitem__(type_name)

    def __contains__(self, type_name: object) -> bool:
        self.load_builtins()
        if type_name not in self._specs:
            self.load_packs()
        return super().__contains__(type_name)

    def __iter__(self) -> Iterator[NodeSpec]:
        self.load_packs()
        return super().__iter__()

    def __len__(self) -> int:
        self.load_packs()
        return super().__len__()


def _builtin_node_types() -> list[NodeSpec]:
    from nodes import builtin_node_types

    return builtin_node_types()


def window_registry() -> PacksLaterRegistry:
    """The window's registry: built-in nodes and installed packs once needed (see above)."""
    return PacksLaterRegistry(builtin_source=_builtin_node_types)


def default_families(*, plugins: bool = True) -> FamilyRegistry:
    """A fresh family registry with the built-in model families and, optionally, installed family packs."""
    from nodes.diffusion.families import builtin_families

    registry = FamilyRegistry()
    registry.register_all(builtin_families())
    if plugins:
        registry.load_entry_points(skip=[BUILTIN_ENTRY_POINT])
    return registry
