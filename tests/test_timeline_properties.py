"""Property tests: whatever a stranger's .otio file holds, loading gives a working Timeline or a TimelineError.

Documents are a real studio timeline with a few hostile changes (wrong types, NaN, infinities, huge
numbers, deep nesting, missing keys, foreign schemas), or OTIO-shaped objects built from scratch.
A timeline that loads must be usable: read, edited, saved and loaded back, as the window does.
"""

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.timeline import Timeline, TimelineError, available_formats, export_timeline
from studio.timeline.assemble import shot_spans
from studio.timeline.limits import max_frames


def base_document() -> dict:
    tl = Timeline(rate=24)
    for name, frames in (("a", 48), ("b", 24), ("c", 36)):
        tl.add_shot(Path("/nonexistent") / f"{name}.mp4", frames, graph={"format": "studio.graph", "nodes": []}, seed=3)
    tl.add_dissolve(0, 6)
    tl.set_soundtrack(Path("/nonexistent/music.wav"), 4.0, gain_db=-3, fade_out=1)
    return json.loads(tl.to_json())


BASE = base_document()

schema_labels = st.sampled_from(
    ["Timeline.1", "Stack.1", "Track.1", "Clip.1", "Clip.2", "Gap.1", "Transition.1", "RationalTime.1"]
    + ["TimeRange.1", "ExternalReference.1", "MissingReference.1", "Marker.2", "Effect.1", "Adapter.1", "Clip.3"]
    + ["ImageSequenceReference.1", "LinearTimeWarp.1", "Color.1"]
    + ["UnknownSchema.1", "SerializableCollection.1", "", "Clip", "Clip.0", "Clip.01"]
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e15, 1e308, -1e308, 1e-300, 5e-324, 2**63, 2**63 - 1, 2**64 - 1, 86400 * 24]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=12), schema_labels)
times = st.fixed_dictionaries(
    {"OTIO_SCHEMA": st.just("RationalTime.1")}, optional={"rate": scalars | numbers, "value": scalars | numbers}
)
ranges = st.fixed_dictionaries(
    {"OTIO_SCHEMA": st.just("TimeRange.1")}, optional={"start_time": times, "duration": times}
)
json_values = st.recursive(
    scalars | times | ranges,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["OTIO_SCHEMA", "name", "children", "metadata", "x"]), children, max_size=3),
        st.fixed_dictionaries({"OTIO_SCHEMA": schema_labels}, optional={"children": st.lists(children, max_size=2)}),
    ),
    max_leaves=8,
)


def paths(value, prefix=()):
    """Every place in the document a change can go."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


ALL_PATHS = list(paths(BASE))


DEEP = "\u0000deep\u0000"  # stands for nesting too deep for json.dumps, spliced into the text


def nested(value, depth):
    for _ in range(depth):
        value = {"OTIO_SCHEMA": "Stack.1", "children": [value]}
    return value


def as_text(document) -> str:
    opening = '{"OTIO_SCHEMA": "Stack.1", "children": ['
    return json.dumps(document).replace(json.dumps(DEEP), opening * 5000 + "]}" * 5000)


@st.composite
def hostile_documents(draw):
    document = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent, key = None, None
        target = document
        try:
            for step in path:
                parent, key, target = target, step, target[step]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change moved this place
        if parent is None:
            continue
        change = draw(st.sampled_from(["replace", "delete", "nest", "duplicate", "wrong container"]))
        if change == "replace":
            parent[key] = draw(json_values)
        elif change == "delete" and isinstance(parent, dict):
            del parent[key]
        elif change == "delete":
            parent.pop(key)
        elif change == "nest":
            depth = draw(st.sampled_from([1, 3, 70, 300, None]))
            parent[key] = DEEP if depth is None else nested(target, depth)
        elif change == "duplicate" and isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(target)))
        else:
            parent[key] = [target] if isinstance(target, dict) else {"x": target}
    return document


def exercise(tl: Timeline) -> None:
    """What the window does with a loaded timeline: show it, edit it, save it, load the save."""
    shots = tl.shots()
    assert 0 <= tl.duration() <= max_frames(tl.rate)
    assert all(0 <= s.duration <= max_frames(tl.rate) for s in shots)
    tl.transitions()
    tl.soundtrack()
    shot_spans(tl)
    assert Timeline.from_json(tl.to_json()).otio.is_equivalent_to(tl.otio)
    with tempfile.TemporaryDirectory() as folder:
        for fmt in available_formats():
            try:
                export_timeline(tl, Path(folder) / f"cut.{fmt}", fmt)
            except TimelineError:
                pass  # an EDL cannot hold every cut; the reason is the error
    for edit in (
        lambda t: t.add_shot("/nonexistent/new.mp4", 12),
        lambda t: t.trim(0, 1, 5),
        lambda t: t.split(0, 2),
        lambda t: t.add_dissolve(0, 4),
        lambda t: t.remove_dissolve(0),
        lambda t: t.move(0, len(t) - 1),
        lambda t: t.delete(0, ripple=False),
    ):
        trial = tl.copy()
        try:
            edit(trial)
        except TimelineError:
            continue
        Timeline.from_json(trial.to_json())  # every edit's snapshot loads again (undo relies on it)


def load_or_refuse(text: str) -> None:
    try:
        tl = Timeline.from_json(text, source="stranger.otio")
    except TimelineError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    exercise(tl)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_documents())
def test_a_studio_timeline_with_hostile_changes_loads_cleanly_or_is_refused(document):
    load_or_refuse(as_text(document))  # NaN and Infinity are written as such


timelines_from_scratch = st.fixed_dictionaries(
    {"OTIO_SCHEMA": st.just("Timeline.1") | schema_labels},
    optional={
        "metadata": st.fixed_dictionaries(
            {}, optional={"studio": st.fixed_dictionaries({}, optional={"rate": scalars})}
        )
        | json_values,
        "tracks": st.fixed_dictionaries(
            {"OTIO_SCHEMA": st.just("Stack.1") | schema_labels},
            optional={
                "children": st.lists(
                    st.fixed_dictionaries(
                        {"OTIO_SCHEMA": st.just("Track.1")},
                        optional={
                            "name": st.sampled_from(["Shots", "Soundtrack", "Other"]) | json_values,
                            "children": st.lists(json_values, max_size=3) | json_values,
                        },
                    )
                    | json_values,
                    max_size=3,
                )
            },
        )
        | json_values,
        "global_start_time": times | json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines_from_scratch)
def test_otio_shaped_documents_from_scratch_load_cleanly_or_are_refused(document):
    load_or_refuse(json.dumps(document))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_gives_a_timeline_error(text):
    load_or_refuse(text)
