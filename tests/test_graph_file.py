import json

import pytest

from studio.graph import GraphFileError, Group, dumps_graph, load_graph, loads_graph, save_graph
from studio.graph.fileformat import FORMAT_VERSION, graph_from_dict

GOOD = {
    "format": "studio.graph",
    "version": 1,
    "nodes": [
        {
            "id": "src",
            "type": "Const",
            "type_version": 1,
            "params": {"value": 3},
            "position": [10, 20],
            "colour": "red",
        },
        {"id": "out", "type": "Sink", "params": {}, "position": [300, 20]},
    ],
    "links": [{"from": ["src", "out"], "to": ["out", "a"], "note": "kept"}],
    "groups": [{"id": "g", "title": "Inputs", "color": "#224466", "bounds": [0, 0, 200, 100], "locked": True}],
    "meta": {"title": "demo", "app_version": "0.1.0", "author": "someone"},
    "future_field": {"anything": [1, 2, 3]},
}


def test_round_trip_keeps_everything_including_unknown_keys(tmp_path):
    graph = loads_graph(json.dumps(GOOD))
    path = save_graph(graph, tmp_path / "demo.graph.json")
    again = load_graph(path)
    assert again == graph
    saved = json.loads(path.read_text())
    assert saved["future_field"] == {"anything": [1, 2, 3]}
    assert saved["nodes"][0]["colour"] == "red"
    assert saved["links"][0]["note"] == "kept"
    assert saved["groups"][0]["locked"] is True
    assert saved["meta"]["author"] == "someone"


def test_unknown_node_types_are_kept_as_they_are():
    data = dict(GOOD, nodes=GOOD["nodes"] + [{"id": "m", "type": "FromAPackIDontHave", "params": {"x": [1, {"y": 2}]}}])
    graph = loads_graph(json.dumps(data))
    assert graph.node("m").type == "FromAPackIDontHave"
    assert json.loads(dumps_graph(graph))["nodes"][2]["params"] == {"x": [1, {"y": 2}]}


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    graph = loads_graph(json.dumps(GOOD))
    target = tmp_path / "g.graph.json"
    target.write_text("old")
    save_graph(graph, target)
    assert [p.name for p in tmp_path.iterdir()] == ["g.graph.json"]
    assert json.loads(target.read_text())["format"] == "studio.graph"


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    graph = loads_graph(json.dumps(GOOD))
    graph.add_group(Group("bad", "x", bounds=(float("nan"), 0, 1, 1)))  # NaN is not JSON
    target = tmp_path / "g.graph.json"
    target.write_text("old")
    with pytest.raises(ValueError):
        save_graph(graph, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["g.graph.json"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "not valid JSON"),
        ("[]", "expected a JSON object at the top, got a list"),
        ('{"format": "comfy", "version": 1}', 'not a studio graph: "format" must be "studio.graph", got \'comfy\''),
        ('{"format": "studio.graph", "version": 99}', "graph format version 99 is newer than this studio reads"),
        ('{"format": "studio.graph", "version": "1"}', '"version" must be a whole number'),
        ('{"format": "studio.graph", "version": 1, "nodes": {}}', '"nodes" must be a list'),
        (
            '{"format": "studio.graph", "version": 1, "nodes": [{"type": "X"}]}',
            'node #1: "id" must be a non-empty string',
        ),
        ('{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": 5}]}', "node 'a': \"type\" must be"),
        (
            '{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "X", "position": [1e999, 0]}]}',
            "out of range",
        ),
        (
            '{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "X", "params": {"v": NaN}}]}',
            "NaN is not allowed",
        ),
        (
            '{"format": "studio.graph", "version": 1, "links": [{"from": "a.out", "to": ["b", "x"]}]}',
            'link #1: "from" must be',
        ),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "X", "params": {"v": '
            + "9" * 5000
            + "}}]}",
            "not acceptable JSON",
        ),
    ],
)
def test_broken_files_give_one_clear_line_per_problem(text, expected):
    with pytest.raises(GraphFileError) as caught:
        loads_graph(text)
    assert expected in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_every_problem_is_listed_at_once():
    data = {"format": "studio.graph", "version": 1, "nodes": [{"type": "X"}, {"id": "b", "type": 1}], "links": [1]}
    with pytest.raises(GraphFileError) as caught:
        loads_graph(json.dumps(data))
    assert len(caught.value.problems) == 3


def test_python_looking_strings_and_dunder_keys_are_just_data():
    data = {
        "format": "studio.graph",
        "version": 1,
        "nodes": [
            {
                "id": "__class__",
                "type": "__import__('os').system('touch /tmp/pwned')",
                "params": {"__reduce__": "eval('1')"},
            }
        ],
        "__class__": "object",
    }
    graph = loads_graph(json.dumps(data))
    assert graph.node("__class__").params == {"__reduce__": "eval('1')"}
    assert graph.extra == {"__class__": "object"}


def test_missing_file_and_binary_file(tmp_path):
    with pytest.raises(GraphFileError, match="cannot read"):
        load_graph(tmp_path / "nope.graph.json")
    binary = tmp_path / "bin.graph.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(GraphFileError, match="not UTF-8"):
        load_graph(binary)


def test_format_version_is_current():
    assert FORMAT_VERSION == 1


def test_older_format_versions_are_migrated_on_load(monkeypatch):
    from studio.graph import fileformat

    def v1_to_v2(data):
        data = dict(data, version=2)
        data["nodes"] = [dict(n, params={**n.get("params", {}), "migrated": True}) for n in data["nodes"]]
        return data

    monkeypatch.setattr(fileformat, "FORMAT_VERSION", 2)
    monkeypatch.setitem(fileformat.MIGRATIONS, 1, v1_to_v2)
    graph = loads_graph(json.dumps(GOOD))
    assert graph.node("src").params == {"value": 3, "migrated": True}
    assert json.loads(dumps_graph(graph))["version"] == 2


# ---- values JSON cannot hold: lone surrogates, NaN ---------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            r'{"format": "studio.graph", "version": 1, "nodes": [{"id": "a\ud800", "type": "X"}]}',
            r"node #1: id: text holds a lone surrogate \ud800 at character 2",
        ),
        (
            r'{"format": "studio.graph", "version": 1, "nodes": [{"id": "a", "type": "X", "params": {"t": ["\udcff"]}}]}',
            r"node 'a': params.t[0]: text holds a lone surrogate \udcff",
        ),
        (
            r'{"format": "studio.graph", "version": 1, "meta": {"title": "caf\udce9"}}',
            r"meta.title: text holds a lone surrogate \udce9 at character 4, which is not valid Unicode",
        ),
        (
            r'{"format": "studio.graph", "version": 1, "links": [{"from": ["a", "\ud800"], "to": ["b", "x"]}]}',
            r"link #1: from[1]: text holds a lone surrogate",
        ),
    ],
)
def test_text_that_is_not_valid_unicode_is_refused_naming_where(text, expected):
    with pytest.raises(GraphFileError) as caught:
        loads_graph(text)
    assert expected in str(caught.value)
    str(caught.value).encode("utf-8")  # the message itself prints anywhere


def test_nan_in_an_embedded_graph_is_refused_naming_where():
    data = json.loads(json.dumps(GOOD))
    data["nodes"][0]["params"]["value"] = float("nan")  # json.loads of a video's tag accepts NaN
    data["meta"]["zoom"] = float("inf")
    with pytest.raises(GraphFileError) as caught:
        graph_from_dict(data)
    assert caught.value.problems == [
        "node 'src': params.value: nan is not a finite number; a graph file holds only those",
        "meta.zoom: inf is not a finite number; a graph file holds only those",
    ]


def test_saving_refuses_what_json_cannot_hold_and_keeps_the_old_file(tmp_path):
    graph = loads_graph(json.dumps(GOOD))
    graph.node("src").params["text"] = "ok\ud800"  # e.g. undecodable bytes from a command line
    target = tmp_path / "g.graph.json"
    target.write_text("old")
    with pytest.raises(GraphFileError, match=r"node 'src': params.text: text holds a lone surrogate \\ud800"):
        save_graph(graph, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["g.graph.json"]
    graph.node("src").params["text"] = "ok"
    assert json.loads(save_graph(graph, target).read_text("utf-8"))["nodes"][0]["params"]["text"] == "ok"


def test_a_problem_naming_a_key_with_a_newline_stays_one_line():
    import json

    import pytest

    from studio.graph import GraphFileError, loads_graph

    document = {"format": "studio.graph", "version": 1, "nodes": [], "links": [], "meta": {"\n": "\ud800"}}
    with pytest.raises(GraphFileError) as error:
        loads_graph(json.dumps(document))
    assert error.value.problems == [
        "meta.\\n: text holds a lone surrogate \\ud800 at character 1, which is not valid Unicode"
    ]
