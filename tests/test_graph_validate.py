from studio.graph import Graph, Link, Node, validate
from tests.recording_nodes import Recorder, chain


def problems(graph):
    return [str(p) for p in validate(graph, Recorder().registry) if p.severity == "error"]


def test_a_good_graph_has_no_problems():
    assert validate(chain(("Const", "src"), ("Sink", "out")), Recorder().registry) == []


def test_unknown_node_type_names_the_node():
    g = chain(("Const", "src"), ("Sink", "out"))
    g.add_node(Node("mystery1", "DefinitelyNotANode"))
    assert problems(g) == [
        "mystery1 (DefinitelyNotANode): unknown node type 'DefinitelyNotANode'; is a node pack missing?"
    ]


def test_missing_required_input():
    g = chain(("Const", "src"), ("Sink", "out"))
    g.add_node(Node("plus", "Add"))
    g.connect(Link("src", "out", "plus", "b"))  # optional b is connected, required a is not
    assert problems(g) == ["plus (Add): required input 'a' (NUMBER) is not connected"]


def test_type_mismatch_names_both_ends():
    from studio.graph import OutputSpec, node_type

    rec = Recorder()

    @node_type("Text", category="Test", outputs=[OutputSpec("text", "STRING")])
    def text(ctx):
        return {"text": "x"}

    rec.registry.register(text)
    g = Graph()
    g.add_node(Node("t", "Text"))
    g.add_node(Node("out", "Sink"))
    g.connect(Link("t", "text", "out", "a"))
    found = [str(p) for p in validate(g, rec.registry)]
    assert found == ["out (Sink): input 'a' expects NUMBER but t.text gives STRING"]


def test_cycle_is_reported_on_its_nodes():
    g = chain(("Const", "src"), ("Add", "x"), ("Add", "y"), ("Sink", "out"))
    g.connect(Link("y", "out", "x", "b"))
    found = problems(g)
    assert found[0] == "x (Add): is part of a cycle (x -> y); links must not loop back"
    assert found[1:] == ["y (Add): is part of the same cycle"]


def test_duplicate_ids_from_a_file_are_reported():
    from studio.graph import loads_graph

    text = (
        '{"format":"studio.graph","version":1,"nodes":[{"id":"a","type":"Const"},{"id":"a","type":"Const"},'
        '{"id":"s","type":"Sink"}],"links":[{"from":["a","out"],"to":["s","a"]}]}'
    )
    assert problems(loads_graph(text)) == ["a (Const): the id is used by 2 nodes; ids must be unique"]


def test_dangling_link_to_a_missing_node():
    from studio.graph import loads_graph

    text = (
        '{"format":"studio.graph","version":1,"nodes":[{"id":"s","type":"Sink"}],'
        '"links":[{"from":["ghost","out"],"to":["s","a"]}]}'
    )
    assert problems(loads_graph(text)) == [
        "s (Sink): link ghost.out -> s.a comes from or goes to a missing node 'ghost'"
    ]


def test_link_to_a_port_that_does_not_exist():
    g = chain(("Const", "src"), ("Sink", "out"))
    g.connect(Link("src", "nope", "out", "zzz"))
    found = problems(g)
    assert "src (Const): has no output 'nope' (outputs: out)" in found
    assert "out (Sink): has no input 'zzz' (inputs: a)" in found


def test_parameter_of_wrong_type_and_out_of_range():
    g = chain(
        ("Const", "src"), ("Add", "plus"), ("Sink", "out"), params={"src": {"value": "12"}, "plus": {"offset": 10**30}}
    )
    assert problems(g) == [
        "src (Const): value must be a whole number, got '12'",
        "plus (Add): offset must be between -1000 and 1000, got 1000000000000000000000000000000",
    ]


def test_unknown_parameter_is_a_warning_only():
    g = chain(("Const", "src"), ("Sink", "out"), params={"src": {"colour": "red"}})
    found = validate(g, Recorder().registry)
    assert [(p.severity, str(p)) for p in found] == [("warning", "src (Const): unknown parameter 'colour' is ignored")]


def test_every_problem_is_found_at_once():
    g = chain(("Const", "src"), ("Add", "plus"), ("Sink", "out"), params={"src": {"value": True}})
    g.add_node(Node("m", "Mystery"))
    g.add_node(Node("lonely", "Add"))
    assert len(problems(g)) == 3


def test_newer_type_version_is_reported():
    g = chain(("Const", "src"), ("Sink", "out"))
    g.node("src").type_version = 7
    assert problems(g) == ["src (Const): saved by a newer Const (type_version 7, this studio has 1)"]


def test_older_type_version_is_migrated_by_the_spec():
    from studio.graph import NodeRegistry, OutputSpec, ParamSpec, node_type
    from studio.graph.validate import node_params

    @node_type(
        "Renamed",
        category="Test",
        version=2,
        params=[ParamSpec("strength", "FLOAT", 1.0)],
        outputs=[OutputSpec("out", "NUMBER")],
        migrate=lambda params, version: {"strength": params.pop("amount", 1.0)} if version < 2 else params,
    )
    def renamed(ctx, *, strength):
        return {"out": strength}

    registry = NodeRegistry()
    registry.register(renamed)
    node = Node("r", "Renamed", {"amount": 0.5}, type_version=1)
    assert node_params(node, registry["Renamed"]) == {"strength": 0.5}
    g = Graph()
    g.add_node(node)
    assert [p for p in validate(g, registry) if p.severity == "error"] == []


def test_an_unknown_parameter_is_kept_on_the_node_but_never_reaches_the_run(tmp_path):
    from studio.engine import Engine, RunSettings
    from studio.graph import dumps_graph
    from studio.graph.validate import node_params

    rec = Recorder()
    engine = Engine("cpu", registry=rec.registry, settings=RunSettings(output_dir=tmp_path))
    plain = chain(("Const", "src"), ("Add", "plus"), ("Sink", "out"), params={"src": {"value": 3}})
    assert engine.run(plain).ok
    odd = chain(("Const", "src"), ("Add", "plus"), ("Sink", "out"), params={"src": {"value": 3, "colour": "red"}})
    assert node_params(odd.node("src"), rec.registry["Const"]) == {"value": 3}
    report = engine.run(odd)  # no "unexpected keyword argument", and the same cache keys
    assert report.ok and {r.status for r in report.nodes.values()} == {"cached"}
    engine.cache.clear()
    assert engine.run(odd).outputs["out"] == {"result": 3}
    assert '"colour": "red"' in dumps_graph(odd)


def test_text_parameters_refuse_lone_surrogates_from_any_source(registry):
    # e.g. `studio run --set save.filename_prefix=...` with bytes that are not UTF-8
    spec = registry["SaveVideo"]
    assert "not valid Unicode" in spec.param("filename_prefix").check("clip\udcff")
    assert spec.param("filename_prefix").check("clip ü 🎬") is None


def test_every_node_of_a_small_cycle_is_marked_and_a_long_one_is_shown_abbreviated():
    from studio.graph import Graph, Link, Node
    from studio.graph.validate import CYCLE_SHOWN
    from tests.recording_nodes import Recorder

    registry = Recorder().registry
    for size, marked in ((3, 3), (CYCLE_SHOWN + 1, CYCLE_SHOWN + 1)):
        g = Graph()
        for i in range(size):
            g.add_node(Node(f"n{i}", "Add"))
        for i in range(size):
            g.connect(Link(f"n{i}", "out", f"n{(i + 1) % size}", "a"))
        cycle = [p for p in validate(g, registry) if "cycle" in p.message]
        assert len(cycle) == marked
        assert ("…" in cycle[0].message) == (size > CYCLE_SHOWN)
