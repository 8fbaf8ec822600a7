"""Turning a timeline into a frame-by-frame recipe: which shot frames make each film frame.

Pure arithmetic over the OTIO track, so it is tested without any media. The film renderer
follows the recipe; dissolves are linear cross-fades over the OTIO transition's span.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.timeline.limits import check_cut_length
from studio.timeline.model import Timeline


@dataclass(frozen=True)
class Layer:
    shot: int  # shot index
    frame: int  # frame of the shot's file, at the timeline's rate
    weight: float


@dataclass(frozen=True)
class ShotSpan:
    """Where a shot's picture (and sound) lands on the film, handles included."""

    shot: int
    film_start: int  # first film frame showing the shot (may be inside a dissolve)
    film_end: int  # one past the last
    source_start: int  # file frame (timeline rate) shown at film_start


def shot_spans(timeline: Timeline) -> list[ShotSpan]:
    """Each shot's visible span on the film, extended into the dissolves on either side."""
    shots = timeline.shots()
    extra_before = {i: 0 for i in range(len(shots))}
    extra_after = {i: 0 for i in range(len(shots))}
    for before, in_off, out_off in timeline.transitions():
        # the dissolve spans in_off frames before the cut and out_off after it
        extra_after[before] = out_off
        extra_before[before + 1] = in_off
    spans = []
    for shot in shots:
        head = extra_before[shot.index]
        spans.append(
            ShotSpan(
                shot=shot.index,
                film_start=shot.start - head,
                film_end=shot.start + shot.duration + extra_after[shot.index],
                source_start=shot.source_in - head,
            )
        )
    return spans


def frame_recipe(timeline: Timeline) -> list[list[Layer]]:
    """For each film frame, the shot frames to blend (an empty list is black: a gap)."""
    total = timeline.duration()
    check_cut_length(total, timeline.rate)  # the recipe holds a list per frame
    recipe: list[list[Layer]] = [[] for _ in range(total)]
    spans = shot_spans(timeline)
    for span in spans:
        for t in range(max(0, span.film_start), min(total, span.film_end)):
            recipe[t].append(Layer(span.shot, span.source_start + (t - span.film_start), 1.0))
    for before, in_off, out_off in timeline.transitions():
        cut = next(s for s in timeline.shots() if s.index == before + 1).start
        length = in_off + out_off
        for t in range(cut - in_off, cut + out_off):
            if not 0 <= t < total:
                continue
            progress = (t - (cut - in_off) + 0.5) / length  # B's share, 0 -> 1 across the dissolve
            recipe[t] = [
                Layer(layer.shot, layer.frame, (1.0 - progress) if layer.shot == before else progress)
                for layer in recipe[t]
                if layer.shot in (before, before + 1)
            ]
    return recipe
