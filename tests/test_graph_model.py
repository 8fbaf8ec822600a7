import pytest

from studio.graph import Graph, GraphEditError, Group, Link, Node


def make():
    g = Graph()
    g.add_node(Node("a", "Const"))
    g.add_node(Node("b", "Add"))
    g.add_node(Node("c", "Sink"))
    g.connect(Link("a", "out", "b", "a"))
    g.connect(Link("b", "out", "c", "a"))
    return g


def test_edits_notify_subscribers_in_order():
    g = Graph()
    seen = []
    g.subscribe(lambda change: seen.append((change.kind, change.node_id)))
    g.add_node(Node("a", "Const"))
    g.add_node(Node("b", "Sink"))
    g.connect(Link("a", "out", "b", "a"))
    g.set_param("a", "value", 3)
    g.move_node("a", (10, 20))
    g.remove_node("a")
    assert seen == [
        ("node_added", "a"),
        ("node_added", "b"),
        ("link_added", "b"),
        ("param_changed", "a"),
        ("node_moved", "a"),
        ("link_removed", "b"),
        ("node_removed", "a"),
    ]


def test_unsubscribe_stops_notifications():
    g = Graph()
    seen = []
    unsubscribe = g.subscribe(seen.append)
    unsubscribe()
    g.add_node(Node("a", "Const"))
    assert seen == []


def test_remove_node_returns_what_undo_needs_and_undo_restores_an_equal_graph():
    g = make()
    before = g.copy()
    node, index, links = g.remove_node("b")
    assert "b" not in g and g.links == []
    g.add_node(node, index)
    for link in links:
        g.connect(link)
    assert g == before


def test_connect_replaces_the_link_already_in_that_input():
    g = make()
    g.add_node(Node("a2", "Const"))
    replaced = g.connect(Link("a2", "out", "b", "a"))
    assert replaced == Link("a", "out", "b", "a")
    assert g.link_into("b", "a").from_node == "a2"
    assert len(g.links) == 2


def test_edits_on_missing_nodes_are_refused():
    g = make()
    with pytest.raises(GraphEditError, match="no node with id 'zzz'"):
        g.set_param("zzz", "value", 1)
    with pytest.raises(GraphEditError):
        g.connect(Link("a", "out", "zzz", "a"))
    with pytest.raises(GraphEditError, match="already exists"):
        g.add_node(Node("a", "Const"))
    with pytest.raises(GraphEditError, match="itself"):
        g.connect(Link("a", "out", "a", "x"))


def test_set_param_returns_the_old_value_and_skips_no_op_edits():
    g = make()
    seen = []
    g.subscribe(seen.append)
    assert g.set_param("a", "value", 2) is not None
    assert g.set_param("a", "value", 2) == 2
    assert len(seen) == 1
    # 1 and True compare equal but are different values: both edits count
    g.set_param("a", "value", 1)
    g.set_param("a", "value", True)
    assert len(seen) == 3


def test_unique_id_avoids_taken_ids():
    g = make()
    assert g.unique_id("Sampler") == "sampler"
    g.add_node(Node("sampler", "Sampler"))
    assert g.unique_id("Sampler") == "sampler2"
    g.add_node(Node("sampler2", "Sampler"))
    assert g.unique_id("sampler2") == "sampler3"
    assert g.unique_id("!!!") == "node"


def test_copy_is_deep_and_has_no_subscribers():
    g = make()
    seen = []
    g.subscribe(seen.append)
    clone = g.copy()
    clone.set_param("a", "value", 99)
    assert "value" not in g.node("a").params
    assert seen == []


def test_groups_can_be_added_changed_and_removed():
    g = make()
    g.add_group(Group("g1", "Sampling"))
    old = g.update_group("g1", title="Decode", color="#884400")
    assert old == {"title": "Sampling", "color": "#3a4a5a"}
    assert g.groups[0].title == "Decode"
    group, index = g.remove_group("g1")
    assert group.id == "g1" and index == 0 and g.groups == []


def test_reaches_follows_links_downstream_only():
    g = make()
    assert g.reaches("a", "c") and not g.reaches("c", "a") and not g.reaches("a", "a")


def test_node_extras_are_edited_through_the_model_with_a_notification():
    from studio.graph.model import MISSING

    g = make()
    seen = []
    g.subscribe(lambda change: seen.append((change.kind, change.node_id, change.name)))
    assert g.set_node_extra("a", "inputs", ["value"]) is MISSING
    assert g.node("a").extra == {"inputs": ["value"]}
    g.set_node_extra("a", "inputs", MISSING)
    assert g.node("a").extra == {} and seen == [("node_changed", "a", "inputs")] * 2


def test_the_link_index_follows_every_edit():
    g = make()
    g.add_node(Node("d", "Sink"))
    g.connect(Link("b", "out", "d", "a"))
    assert g.links_of("b") == [Link("a", "out", "b", "a"), Link("b", "out", "c", "a"), Link("b", "out", "d", "a")]
    assert g.upstream(["d"]) == {"a", "b"} and g.downstream(["a"]) == {"b", "c", "d"}
    g.disconnect("c", "a")
    assert g.link_into("c", "a") is None and g.links_of("c") == [] and g.downstream(["b"]) == {"d"}
    g.remove_node("b")
    assert g.links == [] and g.links_of("a") == [] and g.link_into("d", "a") is None
    assert not g.reaches("a", "d")


def test_links_are_read_only_and_assigning_a_list_rebuilds_the_index():
    g = make()
    with pytest.raises(TypeError, match="read-only"):
        g.links.append(Link("a", "out", "c", "b"))
    assert len(g.links) == 2
    g.links = [Link("a", "out", "c", "a")]
    assert g.link_into("c", "a") == Link("a", "out", "c", "a") and g.link_into("b", "a") is None
    assert g.reaches("a", "c") and not g.reaches("a", "b")


def test_a_copy_has_its_own_link_index():
    g = make()
    clone = g.copy()
    clone.disconnect("c", "a")
    assert g.link_into("c", "a") is not None and g.reaches("a", "c")
    assert clone.link_into("c", "a") is None and not clone.reaches("a", "c")


def test_a_loaded_repeated_link_is_kept_and_removed_one_at_a_time():
    from studio.graph import loads_graph

    link = '{"from":["a","out"],"to":["s","a"]}'
    g = loads_graph(
        '{"format":"studio.graph","version":1,"nodes":[{"id":"a","type":"Const"},{"id":"s","type":"Sink"}],'
        f'"links":[{link},{link}]}}'
    )
    assert len(g.links) == 2 and len(g.links_of("s")) == 2
    assert g.disconnect("s", "a") == Link("a", "out", "s", "a")
    assert len(g.links) == 1 and g.link_into("s", "a") is not None
    node, index, removed = g.remove_node("a")
    assert removed == [Link("a", "out", "s", "a")] and g.links == []
