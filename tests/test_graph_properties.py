"""Property tests: whatever a stranger's file holds, loading and validating never crash."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.graph import GraphFileError, dumps_graph, loads_graph, validate
from studio.graph.fileformat import graph_from_dict
from tests.recording_nodes import Recorder

REGISTRY = Recorder().registry

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),  # NaN and infinities too: an embedded graph's JSON may hold them
    st.text(max_size=20),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.sampled_from(["caf\udce9", "ok\ud800", "\udfff\ud83d"]),
    st.sampled_from(["__class__", "__import__('os')", "eval('1')", "${HOME}", "../../etc/passwd"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(["a", "b", "c", "sink", "__class__", "", "\ud800"]) | st.text(max_size=6)
types = st.sampled_from(["Const", "Add", "Sink", "Fail", "Slow", "Nope"]) | json_values
nodes = st.fixed_dictionaries(
    {},
    optional={
        "id": ids | json_values,
        "type": types,
        "type_version": st.integers(-2, 5) | json_values,
        "params": st.dictionaries(
            st.sampled_from(["value", "offset", "steps", "zzz", "\udc80"]), json_values, max_size=3
        )
        | json_values,
        "position": st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=3) | json_values,
    },
)
ends = st.lists(ids | st.sampled_from(["out", "a", "b"]), min_size=0, max_size=3) | json_values
links = st.fixed_dictionaries({}, optional={"from": ends, "to": ends})
documents = st.fixed_dictionaries(
    {"format": st.sampled_from(["studio.graph", "studio.graph", "other"]) | json_values},
    optional={
        "version": st.sampled_from([1, 1, 1, 0, 2]) | json_values,
        "nodes": st.lists(nodes | json_values, max_size=6) | json_values,
        "links": st.lists(links | json_values, max_size=6) | json_values,
        "groups": st.lists(json_values, max_size=2),
        "meta": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_loader_and_validator_never_raise_anything_but_their_own_error(document):
    text = json.dumps(document)
    try:
        graph = loads_graph(text)
    except GraphFileError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        assert all(p.encode("utf-8") for p in exc.problems)  # every problem line prints
        return
    for problem in validate(graph, REGISTRY):
        assert str(problem)
    # whatever loaded saves and loads back equal
    assert loads_graph(dumps_graph(graph)) == graph


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_whatever_builds_from_parsed_data_saves_as_valid_json_that_loads_back(document):
    """The embedded-graph path: data parsed elsewhere (NaN allowed) goes straight to graph_from_dict."""
    try:
        graph = graph_from_dict(document)
    except GraphFileError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        assert all(p.encode("utf-8") for p in exc.problems)  # every problem line prints
        return
    text = dumps_graph(graph)
    text.encode("utf-8")  # valid Unicode throughout
    assert loads_graph(text) == graph


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_gives_a_graph_file_error(text):
    try:
        loads_graph(text)
    except GraphFileError:
        pass
