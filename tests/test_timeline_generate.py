"""Extend and Bridge shots: the graph transforms, placing the result, and one headless run
on the bundled starter model."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.graph import Graph, Link, Node, graph_to_dict, load_graph
from studio.timeline import Timeline, TimelineError
from studio.timeline.generate import (
    ShotGraphError,
    bridge_graph,
    bridge_shots_graph,
    extend_graph,
    extend_shot_graph,
    place_after,
    place_between,
)

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "resources" / "graphs" / "starter.graph.json"


def starter() -> Graph:
    return load_graph(STARTER)


def frame_chain(graph: Graph, port: str) -> tuple[Node, Node]:
    """The FrameAt and LoadVideo nodes feeding the Sampler's ``port``."""
    link = graph.link_into("sampler", port)
    frame = graph.node(link.from_node)
    reader = graph.node(graph.link_into(frame.id, "frames").from_node)
    assert (frame.type, reader.type, link.from_port) == ("FrameAt", "LoadVideo", "image")
    return frame, reader


def assert_clear(graph: Graph, added: list[Node]) -> None:
    """The added nodes sit below every other node in their columns, by more than a node's height
    (they cover nothing when the graph opens in the editor)."""
    others = [n for n in graph.nodes if n not in added]
    for new in added:
        for node in others:
            if abs(node.position[0] - new.position[0]) < 240:
                assert new.position[1] - node.position[1] >= 200, (new.id, node.id)


def test_extend_starts_the_samplers_clip_on_the_shots_last_frame(tmp_path):
    original = starter()
    before = graph_to_dict(original)
    video = tmp_path / "shot.mp4"

    graph = extend_graph(original, video)

    frame, reader = frame_chain(graph, "first_frame")
    assert frame.params == {"index": -1} and reader.params == {"path": str(video)}
    assert graph.link_into("sampler", "last_frame") is None
    assert {n.id for n in graph.nodes} == {n.id for n in original.nodes} | {frame.id, reader.id}
    assert frame.id not in original and reader.id not in original
    assert set(graph.links) - set(original.links) == {
        Link(reader.id, "frames", frame.id, "frames"),
        Link(frame.id, "image", "sampler", "first_frame"),
    }
    sampler_x = graph.node("sampler").position[0]
    assert reader.position[0] < frame.position[0] < sampler_x
    assert_clear(graph, [frame, reader])
    assert graph_to_dict(original) == before  # the shot's own graph is untouched


def test_extending_an_extended_shot_replaces_its_frame_reader(tmp_path):
    once = extend_graph(starter(), tmp_path / "a.mp4")
    twice = extend_graph(once, tmp_path / "b.mp4")

    frame, reader = frame_chain(twice, "first_frame")
    assert reader.params["path"] == str(tmp_path / "b.mp4")
    assert len(twice) == len(once)  # the old LoadVideo → FrameAt fed nothing else and is gone
    assert [n.type for n in twice.nodes].count("LoadVideo") == 1


def test_bridge_starts_on_the_first_shots_end_and_ends_on_the_seconds_start(tmp_path):
    original = starter()
    before = graph_to_dict(original)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"

    graph = bridge_graph(original, first, second)

    start, start_reader = frame_chain(graph, "first_frame")
    end, end_reader = frame_chain(graph, "last_frame")
    assert (start.params["index"], start_reader.params["path"]) == (-1, str(first))
    assert (end.params["index"], end_reader.params["path"]) == (0, str(second))
    assert len({start.id, start_reader.id, end.id, end_reader.id} | {n.id for n in original.nodes}) == len(graph)
    assert_clear(graph, [start, start_reader, end, end_reader])
    assert_clear(graph, [end, end_reader])  # the second pair below the first
    assert graph_to_dict(original) == before


def test_a_graph_without_one_sampler_is_refused_by_name(tmp_path):
    none = Graph()
    none.add_node(Node("load", "LoadVideo"))
    with pytest.raises(ShotGraphError, match="no Sampler node"):
        extend_graph(none, tmp_path / "a.mp4")

    two = starter()
    two.add_node(Node("refiner", "Sampler"))
    with pytest.raises(ShotGraphError, match=r"2 Sampler nodes \(sampler, refiner\)"):
        bridge_graph(two, tmp_path / "a.mp4", tmp_path / "b.mp4")
    assert isinstance(ShotGraphError("x"), TimelineError)


@pytest.fixture
def cut(tmp_path):
    timeline = Timeline(rate=24)
    for name, frames in (("a", 48), ("b", 24)):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(b"present")
        timeline.add_shot(path, frames, graph=graph_to_dict(starter()), seed=7)
    return timeline


def test_an_extension_lands_right_after_its_shot_with_its_graph(cut, tmp_path):
    graph = extend_graph(starter(), tmp_path / "a.mp4")
    graph.set_param("sampler", "seed", 11)

    index = place_after(cut, 0, tmp_path / "next.mp4", graph, frames=30)

    assert index == 1
    assert [(s.name, s.start, s.duration) for s in cut.shots()] == [("a", 0, 48), ("next", 48, 30), ("b", 78, 24)]
    placed = cut.shots()[1].metadata
    assert placed["graph"] == graph_to_dict(graph) and placed["seed"] == 11
    assert place_after(cut, 2, tmp_path / "last.mp4", frames=5) == 3  # after the last shot: appended
    with pytest.raises(TimelineError, match="no shot 4 to extend"):
        place_after(cut, 4, tmp_path / "x.mp4", frames=5)


def test_an_extension_takes_over_the_shots_dissolve_into_the_next(cut, tmp_path):
    cut.add_dissolve(0, 8)

    assert place_after(cut, 0, tmp_path / "next.mp4", frames=30) == 1

    assert [s.name for s in cut.shots()] == ["a", "next", "b"]
    assert cut.transitions() == [(1, 4, 4)]  # a cuts to its extension, which dissolves into b
    place_after(cut, 1, tmp_path / "short.mp4", frames=3)  # too short for the 8-frame dissolve: a cut
    assert [s.name for s in cut.shots()] == ["a", "next", "short", "b"] and cut.transitions() == []


def test_a_bridge_lands_between_two_shots_and_replaces_their_dissolve(cut, tmp_path):
    cut.add_dissolve(0, 8)
    graph = bridge_graph(starter(), tmp_path / "a.mp4", tmp_path / "b.mp4")

    index = place_between(cut, 0, tmp_path / "bridge.mp4", graph, frames=12)

    assert index == 1 and cut.transitions() == []
    assert [(s.name, s.duration) for s in cut.shots()] == [("a", 48), ("bridge", 12), ("b", 24)]
    with pytest.raises(TimelineError, match="no shot after 2"):
        place_between(cut, 2, tmp_path / "x.mp4", frames=5)


def test_a_shots_graph_and_file_make_its_extension_or_bridge(cut, tmp_path):
    extension = extend_shot_graph(cut, 1)
    assert frame_chain(extension, "first_frame")[1].params["path"] == str((tmp_path / "b.mp4").resolve())
    bridge = bridge_shots_graph(cut, 0)
    assert frame_chain(bridge, "first_frame")[1].params["path"] == str((tmp_path / "a.mp4").resolve())
    assert frame_chain(bridge, "last_frame")[1].params["path"] == str((tmp_path / "b.mp4").resolve())

    with pytest.raises(TimelineError, match=r"shot 1 \(b\) is the last shot"):
        bridge_shots_graph(cut, 1)
    (tmp_path / "b.mp4").unlink()
    with pytest.raises(TimelineError, match=r"shot 1 \(b\) is offline"):
        bridge_shots_graph(cut, 0)
    cut.add_shot(tmp_path / "a.mp4", 5, name="plain")
    with pytest.raises(ShotGraphError, match=r"shot 2 \(plain\) carries no graph"):
        extend_shot_graph(cut, 2)


@pytest.mark.ml
def test_an_extended_starter_shot_starts_where_the_shot_ended(registry, families, tmp_path):
    import numpy as np

    from studio.engine import Engine
    from studio.engine.context import RunSettings
    from studio.media.video_io import read_video

    engine = Engine("cpu", registry=registry, families=families, settings=RunSettings(output_dir=tmp_path))

    def render(graph: Graph) -> tuple[Path, np.ndarray]:
        report = engine.run(graph)
        videos = [p for p in report.files() if p.suffix == ".mp4"]
        assert len(videos) == 1, report.files()
        return videos[0], read_video(videos[0])[0].array.astype(np.float32) / 255.0

    shot = starter()
    shot.set_param("model", "path", str(ROOT / "resources" / "models" / "starter"))
    shot.set_param("sampler", "steps", 4)
    shot.set_param("upscale", "scale", 1.0)
    shot.set_param("interpolate", "multiplier", 2)
    video, old = render(shot)

    extended = extend_graph(shot, video)
    extended.set_param("prompt", "text", "a red circle moving down on a blue background")
    extended.set_param("sampler", "seed", 7)
    _, new = render(extended)
    unconditioned = shot.copy()  # the same edit without Extend
    unconditioned.set_param("prompt", "text", "a red circle moving down on a blue background")
    unconditioned.set_param("sampler", "seed", 7)
    _, free = render(unconditioned)

    assert new.shape[1:] == old.shape[1:]
    continued = float(np.abs(new[0] - old[-1]).mean())
    unrelated = float(np.abs(free[0] - old[-1]).mean())
    print(f"first frame vs the shot's last: extended {continued:.3f}, without Extend {unrelated:.3f}")
    assert continued < 0.5 * unrelated, (continued, unrelated)
