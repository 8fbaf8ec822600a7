import pytest

from studio.timeline import Timeline, TimelineError, export_timeline, load_timeline, save_timeline


@pytest.fixture
def media(tmp_path):
    paths = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(b"not really a video, but present")
        paths.append(path)
    return paths


def three_shots(media):
    tl = Timeline(rate=24)
    for path, frames in zip(media, (48, 24, 36), strict=True):
        tl.add_shot(path, frames, graph={"format": "studio.graph", "nodes": []}, seed=7)
    return tl


def test_shots_lay_end_to_end(media):
    tl = three_shots(media)
    assert [(s.name, s.start, s.duration) for s in tl.shots()] == [("a", 0, 48), ("b", 48, 24), ("c", 72, 36)]
    assert tl.duration() == 108
    assert tl.shots()[0].metadata == {"graph": {"format": "studio.graph", "nodes": []}, "seed": 7, "settings": {}}


def test_trim_split_move_delete(media):
    tl = three_shots(media)
    tl.trim(0, 8, 30)
    assert (tl.shots()[0].source_in, tl.shots()[0].duration) == (8, 30)
    with pytest.raises(TimelineError, match="outside its 48 frames"):
        tl.trim(0, 40, 30)
    second = tl.split(2, 10)
    assert [s.duration for s in tl.shots()] == [30, 24, 10, 26]
    assert tl.shots()[second].source_in == 10
    tl.move(3, 0)
    assert [s.name for s in tl.shots()] == ["c", "a", "b", "c"]
    tl.delete(1, ripple=True)
    assert [s.name for s in tl.shots()] == ["c", "b", "c"] and tl.duration() == 26 + 24 + 10
    tl.delete(1, ripple=False)
    assert [(s.name, s.start) for s in tl.shots()] == [("c", 0), ("c", 50)]
    assert tl.duration() == 60


def test_dissolve_overlaps_the_shots_and_removing_it_gives_the_frames_back(media):
    tl = three_shots(media)
    tl.add_dissolve(0, 12)
    assert tl.duration() == 108 - 12
    assert tl.transitions() == [(0, 6, 6)]
    with pytest.raises(TimelineError, match="dissolve next to it needs those frames"):
        tl.trim(1, 0, 10)
    tl.remove_dissolve(0)
    assert tl.duration() == 108 and tl.transitions() == []
    with pytest.raises(TimelineError, match="no shot after"):
        tl.add_dissolve(2, 4)


def test_moving_a_shot_drops_the_dissolves_it_was_part_of(media):
    tl = three_shots(media)
    tl.add_dissolve(0, 6)
    tl.move(1, 2)
    assert tl.transitions() == [] and tl.duration() == 108


def test_soundtrack_with_gain_and_fades(media, tmp_path):
    tl = three_shots(media)
    tl.set_soundtrack(tmp_path / "music.wav", 4.5, gain_db=-6, fade_in=0.5, fade_out=1)
    track = tl.soundtrack()
    assert track["path"].name == "music.wav" and track["gain_db"] == -6 and track["fade_out"] == 1


def test_a_missing_file_shows_offline_and_is_kept(media, tmp_path):
    tl = three_shots(media)
    media[1].unlink()
    save_timeline(tl, tmp_path / "cut.otio")
    again = load_timeline(tmp_path / "cut.otio")
    assert [s.name for s in again.offline_shots()] == ["b"]
    assert len(again) == 3


def test_otio_round_trip_reads_back_equal(media, tmp_path):
    import opentimelineio as otio

    tl = three_shots(media)
    tl.add_dissolve(1, 8)
    tl.set_soundtrack(tmp_path / "music.wav", 3.0, gain_db=-3)
    path = save_timeline(tl, tmp_path / "cut.otio")
    # read back with the otio_json adapter directly, as another tool would
    read = otio.adapters.otio_json.read_from_file(str(path))
    assert read.is_equivalent_to(tl.otio)
    assert load_timeline(path).otio.is_equivalent_to(tl.otio)


def test_replace_media_swaps_one_shot_and_keeps_the_others(media, tmp_path):
    tl = three_shots(media)
    before = [s.path for s in tl.shots()]
    new = tmp_path / "b_v2.mp4"
    new.write_bytes(b"x")
    tl.replace_media(1, new, 30, seed=8)
    after = tl.shots()
    assert after[1].path == new and after[1].metadata["seed"] == 8 and after[1].available == 30
    assert [after[0].path, after[2].path] == [before[0], before[2]]


def test_hostile_or_broken_otio_files_are_refused_cleanly(tmp_path):
    bad = tmp_path / "bad.otio"
    bad.write_text('{"OTIO_SCHEMA": "Clip.1", "name": "not a timeline"}')
    with pytest.raises(TimelineError, match="expected an OpenTimelineIO Timeline"):
        load_timeline(bad)
    bad.write_text("{not json")
    with pytest.raises(TimelineError, match="not a readable OpenTimelineIO file"):
        load_timeline(bad)


def test_edl_and_fcp_exports(media, tmp_path):
    from studio.timeline import available_formats

    tl = three_shots(media)
    tl.add_dissolve(0, 6)
    if "edl" not in available_formats():
        pytest.skip("OpenTimelineIO's cmx_3600 adapter is not installed")
    edl = export_timeline(tl, tmp_path / "cut.edl", "edl").read_text()
    assert "FROM CLIP NAME:  a" in edl
    assert "V     D 006" in edl  # the dissolve is in the EDL
    xml = export_timeline(tl, tmp_path / "cut.xml", "fcp7").read_text()
    assert "<xmeml" in xml
