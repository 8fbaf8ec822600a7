"""The window's registry: built-in nodes when a node type is first needed, installed node packs when the
built-ins lack one (or a listing of every type needs them)."""

from __future__ import annotations

import pytest

from studio.composition import PacksLaterRegistry, window_registry
from studio.graph import types as t
from studio.graph.registry import NodeRegistry
from studio.graph.spec import OutputSpec, node_type


@node_type("PackNode", category="Pack", outputs=[OutputSpec("value", t.INT)])
def pack_node(ctx):
    return {"value": 1}


def test_packs_load_only_when_a_type_the_built_ins_lack_is_asked_for(monkeypatch):
    loads = []

    def fake_entry_points(self, group="studio.nodes", *, skip=()):
        loads.append(list(skip))
        self.register(pack_node)

    monkeypatch.setattr(NodeRegistry, "load_entry_points", fake_entry_points)
    registry = window_registry()
    assert isinstance(registry, PacksLaterRegistry) and registry.packs_pending and registry.builtins_pending
    assert registry.get("LoadModel") is not None and "SaveVideo" in registry
    assert loads == []  # built-ins answer without reading the installed packages
    assert registry.get("PackNode") is pack_node
    assert loads == [["builtin"]] and not registry.packs_pending
    registry.load_packs()
    assert len(loads) == 1  # once


def test_a_type_named_like_a_built_in_is_refused_before_the_built_ins_have_loaded():
    registry = window_registry()
    assert registry.builtins_pending
    with pytest.raises(ValueError, match="already registered"):
        registry.register(window_registry()["SaveVideo"])


def test_listing_every_type_includes_the_packs(monkeypatch):
    monkeypatch.setattr(NodeRegistry, "load_entry_points", lambda self, *a, **k: self.register(pack_node))
    assert "PackNode" in {spec.type for spec in window_registry()}


@pytest.mark.qt
def test_the_window_loads_the_packs_once_its_canvas_has_painted(qtbot, studio_home, monkeypatch):
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow

    monkeypatch.setattr(NodeRegistry, "load_entry_points", lambda self, *a, **k: self.register(pack_node))
    window = MainWindow(Settings(device="cpu"))
    qtbot.addWidget(window)
    # An empty canvas needs no node types: neither the built-in node modules nor the installed
    # packages were read before the first paint.
    assert window.registry.packs_pending and window.registry.builtins_pending
    window.show()
    qtbot.waitUntil(lambda: not window.registry.packs_pending)
    assert not window.registry.builtins_pending
    assert "PackNode" in window.registry and "LoadModel" in window.registry
    window.shutdown()
