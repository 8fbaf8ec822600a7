from studio.timeline import Timeline
from studio.timeline.assemble import frame_recipe


def make(tmp_path, lengths):
    tl = Timeline(rate=24)
    for i, frames in enumerate(lengths):
        path = tmp_path / f"s{i}.mp4"
        path.write_bytes(b"x")
        tl.add_shot(path, frames)
    return tl


def test_plain_cut_shows_each_shot_frame_once(tmp_path):
    tl = make(tmp_path, [3, 2])
    recipe = frame_recipe(tl)
    assert [[(layer.shot, layer.frame, layer.weight) for layer in frame] for frame in recipe] == [
        [(0, 0, 1.0)],
        [(0, 1, 1.0)],
        [(0, 2, 1.0)],
        [(1, 0, 1.0)],
        [(1, 1, 1.0)],
    ]


def test_dissolve_cross_fades_the_handles_and_shortens_the_film(tmp_path):
    tl = make(tmp_path, [48, 24, 36])
    tl.add_dissolve(0, 12)
    recipe = frame_recipe(tl)
    assert len(recipe) == 48 + 24 + 36 - 12
    # before the dissolve: shot 0 alone; after it: shot 1 alone, continuing where the blend ended
    assert [(la.shot, la.frame) for la in recipe[35]] == [(0, 35)]
    assert [(la.shot, la.frame) for la in recipe[48]] == [(1, 12)]
    first, last = recipe[36], recipe[47]
    assert [(la.shot, la.frame) for la in first] == [(0, 36), (1, 0)]
    assert [(la.shot, la.frame) for la in last] == [(0, 47), (1, 11)]
    assert first[1].weight < 0.1 and last[1].weight > 0.9
    assert all(abs(sum(la.weight for la in frame) - 1.0) < 1e-9 for frame in recipe)
    # every frame of shot 0's file is used exactly once, none past its end
    assert sorted(la.frame for frame in recipe for la in frame if la.shot == 0) == list(range(48))


def test_gap_frames_are_black(tmp_path):
    tl = make(tmp_path, [4, 4, 4])
    tl.delete(1, ripple=False)
    recipe = frame_recipe(tl)
    assert len(recipe) == 12 and recipe[4:8] == [[], [], [], []]
