"""Primitive nodes driving promoted parameters, through validation and the engine."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine import Engine, RunSettings
from studio.graph import GraphInvalid, Link, Node
from studio.graph.model import Graph
from studio.graph.validate import errors, validate

SMALL = {"width": 32, "height": 24, "frames": 2}


@pytest.fixture
def engine(registry, tmp_path):
    return Engine("cpu", registry=registry, settings=RunSettings(output_dir=tmp_path))


def seeded_patterns(seed: int) -> Graph:
    """One Seed node driving the promoted seed of two test patterns, each previewed."""
    graph = Graph()
    graph.add_node(Node("seed", "Seed", {"seed": seed}))
    for name, width in (("a", 32), ("b", 48)):  # different sizes, so b is not a cache hit of a
        params = dict(SMALL, width=width, seed=999)
        graph.add_node(Node(name, "TestPattern", params, extra={"inputs": ["seed"]}))
        graph.add_node(Node(f"show_{name}", "PreviewVideo"))
        graph.connect(Link("seed", "seed", name, "seed"))
        graph.connect(Link(name, "frames", f"show_{name}", "frames"))
    return graph


def pattern_with_seed(engine, seed: int, width: int = 32) -> np.ndarray:
    graph = Graph()
    graph.add_node(Node("p", "TestPattern", dict(SMALL, width=width, seed=seed)))
    graph.add_node(Node("show", "PreviewVideo"))
    graph.connect(Link("p", "frames", "show", "frames"))
    return engine.run(graph).outputs["show"]["frames"].array


def test_primitives_are_registered_under_their_category(registry):
    for type_name, output_type in (
        ("Int", "INT"),
        ("Float", "FLOAT"),
        ("Text", "STRING"),
        ("Seed", "INT"),
        ("Bool", "BOOL"),
    ):
        spec = registry[type_name]
        assert spec.category == "Primitive"
        assert [o.type for o in spec.outputs] == [output_type]
        assert not spec.inputs


def test_one_seed_node_drives_two_patterns_and_a_new_seed_reruns_both(engine, registry):
    graph = seeded_patterns(7)
    assert errors(validate(graph, registry)) == []
    report = engine.run(graph)
    assert report.ok
    a, b = (report.outputs[f"show_{n}"]["frames"].array for n in ("a", "b"))
    # The wire's value wins over the saved parameter (999), in both patterns.
    assert np.array_equal(a, pattern_with_seed(engine, 7))
    assert np.array_equal(b, pattern_with_seed(engine, 7, width=48))
    assert not np.array_equal(a, pattern_with_seed(engine, 999))

    again = engine.run(graph)
    assert {again.nodes[n].status for n in ("seed", "a", "b")} == {"cached"}

    graph.set_param("seed", "seed", 8)
    changed = engine.run(graph)
    assert {n: changed.nodes[n].status for n in ("seed", "a", "b")} == {"seed": "ran", "a": "ran", "b": "ran"}
    assert np.array_equal(changed.outputs["show_a"]["frames"].array, pattern_with_seed(engine, 8))


def test_every_primitive_sends_its_value(engine, registry):
    graph = Graph()
    graph.add_node(Node("w", "Int", {"value": 40}))
    graph.add_node(Node("fps", "Float", {"value": 12.5}))
    graph.add_node(Node("p", "TestPattern", dict(SMALL), extra={"inputs": ["width", "fps"]}))
    graph.add_node(Node("show", "PreviewVideo"))
    graph.connect(Link("w", "value", "p", "width"))
    graph.connect(Link("fps", "value", "p", "fps"))
    graph.connect(Link("p", "frames", "show", "frames"))
    frames = engine.run(graph).outputs["show"]["frames"]
    assert frames.array.shape == (2, 24, 40, 3)
    assert frames.fps == 12.5
    for type_name, params, port, expected in (
        ("Text", {"text": "a cat\non a boat"}, "text", "a cat\non a boat"),
        ("Bool", {"value": True}, "value", True),
        ("Seed", {"seed": 2**40}, "seed", 2**40),
    ):
        spec = registry[type_name]
        assert spec.compute(None, **params) == {port: expected}


def test_an_int_output_may_drive_a_float_parameter(engine, registry):
    graph = Graph()
    graph.add_node(Node("n", "Int", {"value": 10}))
    graph.add_node(Node("p", "TestPattern", dict(SMALL)))
    graph.add_node(Node("show", "PreviewVideo"))
    graph.connect(Link("n", "value", "p", "fps"))
    graph.connect(Link("p", "frames", "show", "frames"))
    assert errors(validate(graph, registry)) == []
    assert engine.run(graph).outputs["show"]["frames"].fps == 10


def test_a_string_wire_into_an_int_parameter_is_refused_with_a_clear_message(engine, registry):
    graph = Graph()
    graph.add_node(Node("prompt", "Text", {"text": "42"}))
    graph.add_node(Node("p", "TestPattern", dict(SMALL)))
    graph.add_node(Node("show", "PreviewVideo"))
    graph.connect(Link("prompt", "text", "p", "seed"))
    graph.connect(Link("p", "frames", "show", "frames"))
    (problem,) = errors(validate(graph, registry))
    assert str(problem) == "p (TestPattern): input 'seed' expects INT but prompt.text gives STRING"
    assert problem.port == "seed"
    with pytest.raises(GraphInvalid):
        engine.run(graph)
