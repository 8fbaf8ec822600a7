"""Graph walks: cycles, topological order, reachability and dependents, and their scale."""

import pytest

from studio.engine import Engine, NodeFailed, RunSettings
from studio.engine.plan import plan
from studio.graph import Graph, Link, Node, validate, walk
from tests.recording_nodes import Recorder, chain


def ring_edges(*ids):
    return [(a, b) for a, b in zip(ids, ids[1:] + ids[:1], strict=True)]


def test_one_ring_is_reported_in_walk_order_from_its_first_node():
    nodes = ["a", "b", "c"]
    assert walk.cycles(nodes, [("b", "c"), ("c", "a"), ("a", "b")]) == [["a", "b", "c"]]


def test_two_separate_rings_are_two_cycles_ordered_by_their_first_node():
    nodes = ["x", "p", "y", "q", "r"]
    edges = ring_edges("q", "p", "r") + ring_edges("y", "x")
    assert walk.cycles(nodes, edges) == [["x", "y"], ["p", "r", "q"]]


def test_nodes_up_or_downstream_of_a_ring_are_not_on_it():
    nodes = ["feed", "a", "b", "tail1", "tail2"]
    edges = [("feed", "a"), *ring_edges("a", "b"), ("b", "tail1"), ("tail1", "tail2")]
    assert walk.cycles(nodes, edges) == [["a", "b"]]


def test_self_links_and_links_to_missing_nodes_make_no_cycle():
    assert walk.cycles(["a", "b"], [("a", "a"), ("a", "ghost"), ("ghost", "a"), ("a", "b")]) == []


def test_two_rings_sharing_a_node_are_one_cycle_listing_each_node_once():
    nodes = ["a", "b", "c", "d"]
    edges = ring_edges("a", "b") + ring_edges("a", "c", "d")
    assert walk.cycles(nodes, edges) == [["a", "b", "c", "d"]]


def test_topological_order_puts_sources_first_and_ties_in_node_order():
    nodes = ["sink", "late", "early", "mid"]
    edges = [("early", "mid"), ("late", "mid"), ("mid", "sink"), ("early", "sink")]
    order = walk.topological_order(nodes, edges)
    assert order == ["late", "early", "mid", "sink"]
    position = {n: i for i, n in enumerate(order)}
    assert all(position[a] < position[b] for a, b in edges)


def test_topological_order_leaves_out_cycles_and_what_follows_them():
    nodes = ["src", "a", "b", "after", "free"]
    edges = [("src", "a"), *ring_edges("a", "b"), ("b", "after")]
    assert walk.topological_order(nodes, edges) == ["src", "free"]


def test_plan_keeps_the_graphs_node_order_for_ties():
    g = Graph()
    for node_id, type_name in [("out2", "Sink"), ("c2", "Const"), ("out1", "Sink"), ("c1", "Const"), ("x", "Const")]:
        g.add_node(Node(node_id, type_name))
    g.connect(Link("c1", "out", "out1", "a"))
    g.connect(Link("c2", "out", "out2", "a"))
    # c2 comes before c1 in the graph, so its branch runs first; x feeds no output.
    assert plan(g, Recorder().registry) == ["c2", "out2", "c1", "out1"]


def test_reachable_and_reaches_follow_links_one_way():
    children, parents = walk.adjacency([("a", "b"), ("b", "c"), ("x", "c")])
    assert walk.reachable(["a"], walk.lookup(children)) == {"b", "c"}
    assert walk.reachable(["c"], walk.lookup(parents)) == {"a", "b", "x"}
    assert walk.reaches("a", "c", walk.lookup(children))
    assert not walk.reaches("c", "a", walk.lookup(children))


def test_dependents_are_listed_in_the_given_order_and_only_from_it():
    edges = [("a", "b"), ("a", "c"), ("c", "d"), ("b", "d"), ("d", "unplanned")]
    dependents = walk.Dependents(["a", "c", "b", "d"], edges)
    assert dependents("a") == ("c", "b", "d")
    assert dependents("d") == ()


def test_validation_reports_each_separate_cycle():
    g = chain(("Const", "src"), ("Add", "x"), ("Add", "y"), ("Sink", "out"))
    g.connect(Link("y", "out", "x", "b"))
    for node_id in ("p", "q"):
        g.add_node(Node(node_id, "Add"))
    g.connect(Link("p", "out", "q", "a"))
    g.connect(Link("q", "out", "p", "a"))
    found = [str(p) for p in validate(g, Recorder().registry) if "cycle" in p.message]
    assert found == [
        "x (Add): is part of a cycle (x -> y); links must not loop back",
        "y (Add): is part of the same cycle",
        "p (Add): is part of a cycle (p -> q); links must not loop back",
        "q (Add): is part of the same cycle",
    ]


def test_validation_does_not_report_a_cycles_tail():
    g = chain(("Const", "src"), ("Add", "x"), ("Add", "y"), ("Add", "tail"), ("Sink", "out"))
    g.connect(Link("y", "out", "x", "b"))
    found = [p.node_id for p in validate(g, Recorder().registry) if "cycle" in p.message]
    assert found == ["x", "y"]


def ring_graph(size: int) -> Graph:
    g = Graph()
    for i in range(size):
        g.add_node(Node(f"n{i}", "Add"))
    for i in range(size):
        g.connect(Link(f"n{i}", "out", f"n{(i + 1) % size}", "a"))
    return g


@pytest.mark.timeout(30)
def test_a_100000_node_ring_is_built_and_validated_without_quadratic_walks():
    # The old per-node reachability took minutes here (7 minutes for 20,000 nodes).
    size = 100_000
    g = ring_graph(size)
    cycle = [p for p in validate(g, Recorder().registry) if "cycle" in p.message]
    # One readable problem for a ring this size: its start, its end and its length, not a megabyte.
    assert [p.node_id for p in cycle] == ["n0"]
    assert "(n0 -> n1 -> n2 -> n3 -> … -> n99999, 100,000 nodes)" in cycle[0].message
    assert g.reaches("n5", "n4")
    edges = [(lk.from_node, lk.to_node) for lk in g.links]
    assert walk.topological_order([n.id for n in g.nodes], edges) == []


@pytest.mark.timeout(30)
def test_dependents_of_10000_failing_nodes_are_reported_without_quadratic_walks(tmp_path):
    # The old code rebuilt the children map and scanned the whole plan once per failure.
    rec = Recorder()
    g = Graph()
    g.add_node(Node("src", "Const"))
    count = 10_000
    for i in range(count):
        g.add_node(Node(f"f{i}", "Fail"))
        g.add_node(Node(f"out{i}", "Sink"))
        g.connect(Link("src", "out", f"f{i}", "a"))
        g.connect(Link(f"f{i}", "out", f"out{i}", "a"))
    events = []
    engine = Engine("cpu", registry=rec.registry, settings=RunSettings(output_dir=tmp_path))
    report = engine.run(g, on_event=events.append)
    failed = [e for e in events if isinstance(e, NodeFailed)]
    assert len(report.failed) == len(failed) == count
    assert all(e.skipped == (f"out{e.node_id[1:]}",) for e in failed)
