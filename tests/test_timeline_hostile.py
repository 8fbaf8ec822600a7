"""A stranger's .otio file: every hostile one is refused with one TimelineError naming the file, before
OpenTimelineIO builds anything from it; edits refuse the same values; the renderer refuses an absurd cut."""

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from studio.timeline import Timeline, TimelineError, export_timeline, load_timeline, save_timeline
from studio.timeline.limits import MAX_ITEMS, MAX_OTIO_BYTES, MAX_STRING, max_frames

ROOT = Path(__file__).resolve().parents[1]


def studio_document(tmp_path, rate=24):
    tl = Timeline(rate=rate)
    for name, frames in (("shot_a", 48), ("shot_b", 24)):
        tl.add_shot(tmp_path / f"{name}.mp4", frames, graph={"format": "studio.graph", "nodes": []}, seed=7)
    tl.add_dissolve(0, 6)
    tl.set_soundtrack(tmp_path / "music.wav", 2.0)
    return json.loads(tl.to_json())


def shots_track(document):
    return document["tracks"]["children"][0]["children"]


def write(tmp_path, document, name="timeline.otio"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def nested_stacks(depth: int) -> str:
    opening = '{"OTIO_SCHEMA": "Stack.1", "children": ['
    return '{"OTIO_SCHEMA": "Timeline.1", "tracks": ' + opening * depth + "]}" * depth + "}"


def test_a_studio_timeline_still_loads(tmp_path):
    path = write(tmp_path, studio_document(tmp_path))
    tl = load_timeline(path)
    assert [s.name for s in tl.shots()] == ["shot_a", "shot_b"] and tl.transitions() == [(0, 3, 3)]


def test_a_file_nested_100000_deep_is_refused_in_a_subprocess_without_a_crash(tmp_path):
    path = write(tmp_path, nested_stacks(100_000))
    code = (
        "import sys; from studio.timeline import load_timeline, TimelineError\n"
        "try:\n    load_timeline(sys.argv[1])\nexcept TimelineError as exc:\n    print('refused:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, f"exit {result.returncode} (a negative one is a signal): {result.stderr[-2000:]}"
    assert "refused: timeline.otio: the JSON is nested too deeply" in result.stdout


def test_moderate_nesting_is_refused_by_depth_not_by_the_recursion_limit(tmp_path):
    document = studio_document(tmp_path)
    inner = {"OTIO_SCHEMA": "Gap.1"}
    for _ in range(200):
        inner = {"OTIO_SCHEMA": "Stack.1", "children": [inner]}
    shots_track(document).append(inner)
    with pytest.raises(TimelineError, match=r"timeline.otio: .* nested more than 64 levels deep"):
        load_timeline(write(tmp_path, document))


@pytest.mark.parametrize("rate", ["NaN", "Infinity", '"fast"', "0", "-24", "1e308", "null", "true", "[24]"])
def test_a_bad_timeline_rate_is_refused_at_load(tmp_path, rate):
    text = json.dumps(studio_document(tmp_path)).replace('"rate": 24.0}', f'"rate": {rate}}}', 1)
    assert rate in text
    with pytest.raises(TimelineError, match=r"^timeline.otio: .*(rate|nan|inf)"):
        load_timeline(write(tmp_path, text))


def test_a_clip_of_1e15_frames_is_refused_at_load(tmp_path):
    document = studio_document(tmp_path)
    shots_track(document)[2]["source_range"]["duration"]["value"] = 1e15
    with pytest.raises(TimelineError) as caught:
        load_timeline(write(tmp_path, document))
    assert str(caught.value) == (
        "timeline.otio: Shots clip 1 'shot_b' has a duration of 1e+15 frames; it must be 0 to 345,600 (4 h at 24 fps)"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: shots_track(d).insert(0, shots_track(d).pop(1)), "a dissolve must sit between two clips"),
        (lambda d: shots_track(d).append({"OTIO_SCHEMA": "Stack.1", "children": []}), "stacks are not read"),
        (lambda d: shots_track(d).append({"OTIO_SCHEMA": "Marker.2"}), "item 3 is 'Marker'"),
        (lambda d: shots_track(d)[0].update(OTIO_SCHEMA="Adapter.1"), "'Adapter.1' is not an OpenTimelineIO schema"),
        (lambda d: shots_track(d)[0].update(OTIO_SCHEMA="Clip.9"), "Clip.9 is a version of Clip"),
        (lambda d: shots_track(d)[0].update(OTIO_REF_ID="1"), "OTIO_REF_ID"),
        (lambda d: shots_track(d)[0].update(name="x" * (MAX_STRING + 1)), "100,001 characters"),
        (lambda d: shots_track(d)[0]["metadata"]["studio"].update(seed=2**64 - 1), "outside the 64-bit integers"),
        (lambda d: shots_track(d)[0]["metadata"]["studio"].update(graph="evil"), "graph must be an object"),
        (lambda d: shots_track(d)[0]["metadata"]["studio"]["settings"].update(width="wide"), "width must be"),
        (lambda d: shots_track(d)[0]["source_range"]["duration"].update(rate=0), "rate of 0"),
        (lambda d: shots_track(d)[0]["source_range"]["duration"].update(value=-5), "negative duration"),
        (lambda d: shots_track(d)[0]["source_range"]["start_time"].update(value=1e12), "more than a day"),
        (lambda d: shots_track(d)[0].update(media_references={}), "has no file reference"),
        (lambda d: shots_track(d)[0].pop("source_range"), "needs both its file's length and the range"),
        (lambda d: shots_track(d)[1].update(in_offset=None), "in_offset must be a time"),
        (lambda d: d["tracks"]["children"][1]["children"][0]["metadata"]["studio"].update(gain_db=1e300), "gain_db"),
        (lambda d: d["tracks"].update(OTIO_SCHEMA="Track.1"), "tracks must be a Stack"),
        (lambda d: d["metadata"].update(studio="fast"), "studio metadata must be an object"),
        (lambda d: shots_track(d).extend([{"OTIO_SCHEMA": "Gap.1"}] * MAX_ITEMS), "at most 10,000"),
        (lambda d: d["tracks"]["children"].extend([{"OTIO_SCHEMA": "Track.1"}] * 20), "22 tracks; at most 16"),
    ],
)
def test_hostile_structures_and_values_are_refused_with_one_clear_error(tmp_path, change, reason):
    document = studio_document(tmp_path)
    change(document)
    with pytest.raises(TimelineError, match=r"^timeline.otio") as caught:
        load_timeline(write(tmp_path, document))
    assert reason in str(caught.value)


def test_otio_reads_exactly_what_was_checked_even_with_duplicate_keys(tmp_path):
    # OTIO's parser keeps the first of two equal keys and Python's the last: the checked data is
    # written out again for OTIO, so a hidden huge value cannot slip past the check
    text = json.dumps(studio_document(tmp_path)).replace('"value": 24.0', '"value": 1e15, "value": 24.0', 1)
    assert "1e15" in text
    tl = load_timeline(write(tmp_path, text))
    assert tl.duration() <= max_frames(24)


def test_oversized_non_utf8_and_non_regular_files_are_refused(tmp_path):
    big = tmp_path / "big.otio"
    with big.open("wb") as file:
        file.truncate(MAX_OTIO_BYTES + 1)
    with pytest.raises(TimelineError, match="big.otio is larger than"):
        load_timeline(big)
    (tmp_path / "latin.otio").write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(TimelineError, match="latin.otio is not UTF-8"):
        load_timeline(tmp_path / "latin.otio")
    with pytest.raises(TimelineError, match="not a regular file"):
        load_timeline(tmp_path)
    with pytest.raises(TimelineError, match="not a readable OpenTimelineIO file"):
        load_timeline(write(tmp_path, "[1, 2"))
    with pytest.raises(TimelineError, match="not a readable OpenTimelineIO file"):
        load_timeline(write(tmp_path, "1" * 5000))


def test_a_project_documents_timeline_is_checked_the_same_way(tmp_path):
    document = studio_document(tmp_path)
    assert len(Timeline.from_document(document)) == 2
    shots_track(document)[0]["source_range"]["duration"]["value"] = float("nan")
    with pytest.raises(TimelineError, match="^the project: .*nan"):
        Timeline.from_document(document, source="the project")


def test_edits_refuse_what_the_loader_refuses(tmp_path):
    tl = Timeline(rate=24)
    tl.add_shot(tmp_path / "a.mp4", 48)
    refused = [
        lambda: Timeline(rate=float("nan")),
        lambda: Timeline(rate=0),
        lambda: tl.add_shot(tmp_path / "b.mp4", float("nan")),
        lambda: tl.add_shot(tmp_path / "b.mp4", 10**15),
        lambda: tl.add_shot(tmp_path / "b.mp4", max_frames(24)),  # the cut would pass four hours
        lambda: tl.add_shot(tmp_path / "b.mp4", 10, seed=2**64 - 1),
        lambda: tl.add_shot(tmp_path / "b.mp4", 10, graph={"steps": float("inf")}),
        lambda: tl.add_shot(tmp_path / "b.mp4", 10, index=0.5),
        lambda: tl.trim(0, float("nan"), 10),
        lambda: tl.trim(None, 0, 10),
        lambda: tl.split(0, float("nan")),
        lambda: tl.move(0, "1"),
        lambda: tl.delete(float("nan")),
        lambda: tl.add_dissolve(0, float("inf")),
        lambda: tl.set_soundtrack(tmp_path / "m.wav", float("inf")),
        lambda: tl.set_soundtrack(tmp_path / "m.wav", 3.0, gain_db=float("nan")),
        lambda: tl.set_soundtrack(tmp_path / "m.wav", 3.0, fade_in=-1),
        lambda: tl.replace_media(0, tmp_path / "a2.mp4", 10**15),
        lambda: tl.replace_media(0, tmp_path / "a2.mp4", 30, seed=2**63),
    ]
    before = tl.to_json()
    for edit in refused:
        with pytest.raises(TimelineError):
            edit()
    assert tl.to_json() == before  # a refused edit changed nothing


def test_the_renderer_refuses_an_absurd_cut_before_allocating_anything(tmp_path):
    import opentimelineio as otio

    from studio.timeline.assemble import frame_recipe
    from studio.timeline.render import render_film

    tl = Timeline(rate=24)
    tl.add_shot(tmp_path / "a.mp4", 48)
    # past every check, as code handling the OTIO objects directly could do
    clip = tl.video[0]
    clip.source_range = otio.opentime.TimeRange(duration=otio.opentime.RationalTime(1e15, 24))
    tracemalloc.start()
    try:
        with pytest.raises(TimelineError, match="too long; at most 345,600"):
            render_film(tl, tmp_path / "film.mp4", width=64, height=64)
        with pytest.raises(TimelineError, match="too long"):
            frame_recipe(tl)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert not (tmp_path / "film.mp4").exists()


def test_an_adapter_failure_on_export_is_a_timeline_error(tmp_path, monkeypatch):
    import opentimelineio as otio

    tl = Timeline(rate=24)
    tl.add_shot(tmp_path / "a.mp4", 48)

    def broken(*args, **kwargs):
        raise RuntimeError("the adapter cannot express this")

    monkeypatch.setattr(otio.adapters, "write_to_string", broken)
    with pytest.raises(TimelineError, match="cannot be written as otio: the adapter cannot express this"):
        export_timeline(tl, tmp_path / "cut.otio", "otio")
    assert not (tmp_path / "cut.otio").exists()


def test_what_loads_saves_and_loads_back(tmp_path):
    tl = load_timeline(write(tmp_path, studio_document(tmp_path, rate=30)))
    again = load_timeline(save_timeline(tl, tmp_path / "again.otio"))
    assert again.otio.is_equivalent_to(tl.otio) and again.rate == 30
