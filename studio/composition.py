"""Composition: the registries the CLI, the app and tests use, built in one place.

The built-in node library and families are imported here (and only here, besides their
entry points), so the core layers never import them. Installed packs are added from the
``studio.nodes`` and ``studio.families`` entry-point groups.
"""

from __future__ import annotations

from studio.graph.registry import NodeRegistry
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


def default_families(*, plugins: bool = True) -> FamilyRegistry:
    """A fresh family registry with the built-in model families and, optionally, installed family packs."""
    from nodes.diffusion.families import builtin_families

    registry = FamilyRegistry()
    registry.register_all(builtin_families())
    if plugins:
        registry.load_entry_points(skip=[BUILTIN_ENTRY_POINT])
    return registry
