"""Extend and Bridge in the window: the shot's graph opens for the prompt change, and its render
lands after the shot, or between the two shots, on the bundled starter model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.qt, pytest.mark.ml]

ROOT = Path(__file__).resolve().parents[2]


def render(window, qtbot):
    with qtbot.waitSignal(window.runs.run_finished, timeout=120_000) as finished:
        window.run()
    job = finished.args[0]
    assert job.status == "done", job.status
    return job


def open_cheap_starter(window):
    from studio.graph import load_graph

    graph = load_graph(ROOT / "resources" / "graphs" / "starter.graph.json")
    graph.set_param("model", "path", str(ROOT / "resources" / "models" / "starter"))
    for node, name, value in (("sampler", "steps", 2), ("upscale", "scale", 1.0), ("interpolate", "multiplier", 2)):
        graph.set_param(node, name, value)
    window.document.set_document(graph, None, "starter", dirty=False)


def set_prompt(window, text):
    from studio.ui.commands import SetParamCommand

    window.scene.push(SetParamCommand(window.scene.graph, "prompt", "text", text))


def test_extend_then_bridge_place_their_renders_on_the_cut(window, qtbot):
    open_cheap_starter(window)
    render(window, qtbot)
    qtbot.waitUntil(lambda: window.viewer.source is not None)
    first = window.viewer.source
    assert window.timeline.add(first)
    panel = window.timeline.panel

    panel.selected = 0
    panel.extend_selected()
    assert window.timeline.generating == ("extend", 0)
    sampler_in = window.scene.graph.link_into("sampler", "first_frame")
    assert sampler_in is not None and window.scene.graph.node(sampler_in.from_node).type == "FrameAt"
    set_prompt(window, "a red circle moving down on a blue background")
    render(window, qtbot)
    qtbot.waitUntil(lambda: len(panel.timeline) == 2)
    shots = panel.timeline.shots()
    assert shots[0].path == first and shots[1].path != first
    graph = shots[1].metadata["graph"]
    assert any(n["type"] == "FrameAt" for n in graph["nodes"])
    assert window.timeline.generating is None

    panel.selected = 0
    panel.bridge_selected()
    assert window.timeline.generating == ("bridge", 0)
    assert window.scene.graph.link_into("sampler", "last_frame") is not None
    render(window, qtbot)
    qtbot.waitUntil(lambda: len(panel.timeline) == 3)
    after = panel.timeline.shots()
    assert (after[0].path, after[2].path) == (shots[0].path, shots[1].path)
    assert after[1].path not in (shots[0].path, shots[1].path)

    panel.undo_stack.undo()  # placing a generated shot is one undoable edit
    assert [s.path for s in panel.timeline.shots()] == [s.path for s in shots]


def test_bridge_on_the_last_shot_says_why(window, qtbot, tmp_path):
    from studio.graph import Graph, graph_to_dict

    panel = window.timeline.panel
    video = tmp_path / "a.mp4"
    video.write_bytes(b"present")
    panel.edit("add", lambda tl: tl.add_shot(video, 10, graph=graph_to_dict(Graph())))
    panel.selected = 0
    with qtbot.waitSignal(panel.message) as said:
        panel.bridge_selected()
    assert "last shot" in said.args[0]
    with qtbot.waitSignal(panel.message) as said:
        panel.extend_selected()  # a graph without a Sampler
    assert "no Sampler" in said.args[0]
    assert window.timeline.generating is None


def test_opening_another_graph_cancels_a_pending_extend(window, qtbot, tmp_path):
    from studio.graph import Graph, graph_to_dict, load_graph

    panel = window.timeline.panel
    video = tmp_path / "a.mp4"
    video.write_bytes(b"present")
    starter = graph_to_dict(load_graph(ROOT / "resources" / "graphs" / "starter.graph.json"))
    panel.edit("add", lambda tl: tl.add_shot(video, 10, graph=starter))
    panel.selected = 0
    panel.extend_selected()
    assert window.timeline.generating == ("extend", 0)
    assert "extend of shot 1: the open graph's next render goes after it" in panel.status.text()

    window.document.set_document(Graph(), None, "something else")

    assert window.timeline.generating is None
    assert "next render" not in panel.status.text()
