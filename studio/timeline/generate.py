"""Shots that generate shots: Extend (continue a shot from its last frame) and Bridge (lead
from one shot's last frame to the next one's first).

Both start from the graph that rendered a shot, kept on the timeline: the graph's Sampler gets
its ``first_frame`` (and for a bridge its ``last_frame``) from a ``LoadVideo`` → ``FrameAt``
pair reading the shots' own video files; everything else stays, so the user changes only the
prompt. Then the rendered clip is placed right after the shot, or between the two shots.
Works on graph records only (node types by name), so this module needs neither the node
library nor the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.graph import Graph, Link, Node
from studio.timeline.limits import TimelineError, whole_number
from studio.timeline.model import ShotInfo, Timeline

SAMPLER = "Sampler"
_COLUMN = 240.0  # horizontal space between the added nodes and the Sampler
_BELOW = 260.0  # from the top of the lowest node in their columns to the added nodes: clear of its body


class ShotGraphError(TimelineError):
    """A shot's graph that cannot be switched to start (or end) on a frame."""


def extend_graph(shot_graph: Graph, shot_video: str | Path) -> Graph:
    """A copy of ``shot_graph`` whose Sampler starts from the last frame of ``shot_video``.

    A ``last_frame`` the shot was made with is dropped (the continuation ends where the new
    prompt takes it); the original graph is not touched.
    """
    graph = shot_graph.copy()
    sampler = find_sampler(graph)
    _drop_frame_input(graph, sampler.id, "last_frame")
    _frame_into(graph, sampler, "first_frame", shot_video, -1)
    return graph


def bridge_graph(first_graph: Graph, first_video: str | Path, second_video: str | Path) -> Graph:
    """A copy of ``first_graph`` whose Sampler starts on the last frame of ``first_video`` and
    ends on the first frame of ``second_video``; the original graph is not touched."""
    graph = first_graph.copy()
    sampler = find_sampler(graph)
    _frame_into(graph, sampler, "first_frame", first_video, -1)
    _frame_into(graph, sampler, "last_frame", second_video, 0)
    return graph


def extend_shot_graph(timeline: Timeline, index: int) -> Graph:
    """:func:`extend_graph` of shot ``index``'s own graph and file."""
    shot = _shot(timeline, index)
    return extend_graph(_graph_of(shot), shot.path)


def bridge_shots_graph(timeline: Timeline, first: int) -> Graph:
    """:func:`bridge_graph` from shot ``first`` (its graph and file) to the next shot's file."""
    shot = _shot(timeline, first)
    if shot.index + 1 >= len(timeline):
        raise TimelineError(f"shot {shot.index} ({shot.name}) is the last shot: a bridge leads into a next one")
    following = timeline.shots()[shot.index + 1]
    _need_file(following)
    return bridge_graph(_graph_of(shot), shot.path, following.path)


def find_sampler(graph: Graph) -> Node:
    """The graph's one Sampler node; an error naming what was found otherwise."""
    samplers = [node for node in graph.nodes if node.type == SAMPLER]
    if len(samplers) == 1:
        return samplers[0]
    if not samplers:
        raise ShotGraphError(f"the shot's graph has no {SAMPLER} node to start from a frame")
    names = ", ".join(node.id for node in samplers)
    raise ShotGraphError(
        f"the shot's graph has {len(samplers)} {SAMPLER} nodes ({names}); keep one to start from a frame"
    )


def _shot(timeline: Timeline, index: int) -> ShotInfo:
    index = whole_number(index, "a shot index")
    shots = timeline.shots()
    if not 0 <= index < len(shots):
        raise TimelineError(f"no shot {index}; the timeline has {len(shots)}")
    return shots[index]


def _need_file(shot: ShotInfo) -> None:
    if shot.offline:
        raise TimelineError(f"shot {shot.index} ({shot.name}) is offline: {shot.path} is missing")


def _graph_of(shot: ShotInfo) -> Graph:
    """The graph that rendered ``shot``; its file must be there, since its frames are read."""
    from studio.graph import GraphFileError, graph_from_dict

    _need_file(shot)
    record = shot.metadata.get("graph")
    if not record:
        raise ShotGraphError(f"shot {shot.index} ({shot.name}) carries no graph (it was not rendered by the studio)")
    try:
        return graph_from_dict(record, source=f"shot {shot.index} ({shot.name})")
    except GraphFileError as exc:
        raise ShotGraphError(f"shot {shot.index} ({shot.name}): its graph cannot be opened: {exc}") from None


def _frame_into(graph: Graph, sampler: Node, port: str, video: str | Path, index: int) -> None:
    """LoadVideo(video) → FrameAt(index) → sampler.port, in the two columns left of the Sampler, below
    every node already there (so they cover none)."""
    _drop_frame_input(graph, sampler.id, port)
    x = sampler.position[0]
    band = [n.position[1] for n in graph.nodes if x - 3 * _COLUMN < n.position[0] < x]
    y = max(band, default=sampler.position[1]) + _BELOW
    reader = graph.add_node(
        Node(graph.unique_id(f"{port}_video"), "LoadVideo", {"path": str(video)}, position=(x - 2 * _COLUMN, y))
    )
    frame = graph.add_node(Node(graph.unique_id(port), "FrameAt", {"index": index}, position=(x - _COLUMN, y)))
    graph.connect(Link(reader.id, "frames", frame.id, "frames"))
    graph.connect(Link(frame.id, "image", sampler.id, port))


def _drop_frame_input(graph: Graph, node_id: str, port: str) -> None:
    """Unwire ``port`` and remove the nodes that fed only it (an earlier Extend's frame reader)."""
    link = graph.disconnect(node_id, port)
    if link is None:
        return
    candidates = {link.from_node, *graph.upstream([link.from_node])}
    while unused := [n for n in candidates if not any(o.from_node == n for o in graph.links_of(n))]:
        for node_id in unused:
            graph.remove_node(node_id)
            candidates.discard(node_id)


# ---- placing the rendered shot -------------------------------------------------------------
def place_after(
    timeline: Timeline,
    index: int,
    path: str | Path,
    graph: Graph | None = None,
    *,
    frames: int | None = None,
    name: str = "",
) -> int:
    """Put the rendered clip at ``path`` right after shot ``index``; returns its index.

    A dissolve from the shot into the next one moves to lead from the extension into it (kept
    off when the extension is too short for it). ``frames`` defaults to the file's length at the
    timeline's rate (read from the file).
    """
    index = whole_number(index, "a shot index")
    if not 0 <= index < len(timeline):
        raise TimelineError(f"no shot {index} to extend; the timeline has {len(timeline)}")
    dissolve = next((a + b for shot, a, b in timeline.transitions() if shot == index), None)
    placed = _insert(timeline, index + 1, path, graph, frames, name)
    if dissolve is not None:
        trial = timeline.copy()
        try:
            trial.add_dissolve(placed, dissolve)
        except TimelineError:
            return placed
        timeline.add_dissolve(placed, dissolve)
    return placed


def place_between(
    timeline: Timeline,
    first: int,
    path: str | Path,
    graph: Graph | None = None,
    *,
    frames: int | None = None,
    name: str = "",
) -> int:
    """Put the rendered bridge at ``path`` between shot ``first`` and the next one (a dissolve
    that joined them is removed); returns its index."""
    first = whole_number(first, "a shot index")
    if not 0 <= first < len(timeline) - 1:
        raise TimelineError(f"a bridge goes between two shots; there is no shot after {first}")
    return _insert(timeline, first + 1, path, graph, frames, name)


def _insert(timeline: Timeline, at: int, path: str | Path, graph: Graph | None, frames: int | None, name: str) -> int:
    from studio.graph import graph_to_dict

    settings: dict[str, Any] = {}
    if frames is None:
        from studio.media.video_io import probe_video

        facts = probe_video(path)
        frames = max(1, int(round(facts.duration * timeline.rate)))
        settings = {"fps": facts.fps, "width": facts.width, "height": facts.height}
    record = graph_to_dict(graph) if graph is not None else None
    seed = _sampler_seed(graph) if graph is not None else None
    return timeline.add_shot(path, frames, name=name, index=at, graph=record, seed=seed, settings=settings)


def _sampler_seed(graph: Graph) -> int | None:
    samplers = [node for node in graph.nodes if node.type == SAMPLER]
    seed = samplers[0].params.get("seed") if len(samplers) == 1 else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None
