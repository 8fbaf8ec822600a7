from importlib.metadata import EntryPoint

import pytest

from studio.composition import default_registry
from studio.graph import NodeRegistry


def test_builtin_registry_has_the_starter_nodes():
    registry = default_registry(plugins=False)
    assert {"TestPattern", "SaveVideo", "PreviewVideo"} <= {s.type for s in registry}


def test_node_packs_load_and_a_broken_one_is_reported_not_fatal(monkeypatch):
    points = [
        EntryPoint("good", "tests.recording_nodes:plugin_specs", "studio.nodes"),
        EntryPoint("broken", "tests.recording_nodes:broken_plugin", "studio.nodes"),
        EntryPoint("missing", "no_such_module_xyz:nodes", "studio.nodes"),
    ]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: points)
    registry = NodeRegistry()
    registry.load_entry_points()
    assert "PackNode" in registry
    messages = [str(p) for p in registry.problems]
    assert messages[0] == "node pack tests.recording_nodes:broken_plugin: RuntimeError: this pack is broken"
    assert "ModuleNotFoundError" in messages[1]


def test_registering_a_type_twice_is_refused():
    registry = default_registry(plugins=False)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry["SaveVideo"])
