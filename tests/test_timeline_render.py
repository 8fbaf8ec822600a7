import json
import wave

import numpy as np
import pytest

from studio.engine.context import Cancelled
from studio.media.types import Frames
from studio.media.video_io import read_tags, read_video, write_video
from studio.timeline import Timeline, TimelineError
from studio.timeline.render import TIMELINE_TAG, render_film
from tests.media_support import ffprobe, stream, tone


def solid_clip(path, colour, frames, fps=24.0, size=(48, 64), audio=None):
    array = np.empty((frames, *size, 3), np.uint8)
    array[:] = colour
    write_video(path, Frames(array, fps), crf=10, audio=audio)
    return path


def write_wav(path, seconds, rate=48000):
    samples = (tone(seconds, rate=rate, channels=1, freq=220).waveform[0] * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path


@pytest.fixture
def three_shot_timeline(tmp_path):
    red = solid_clip(tmp_path / "red.mp4", (220, 20, 20), 24, audio=tone(1.0, rate=48000))
    green = solid_clip(tmp_path / "green.mp4", (20, 220, 20), 12, fps=12.0)  # half the rate: re-timed
    blue = solid_clip(tmp_path / "blue.mp4", (20, 20, 220), 24, size=(48, 96))  # wider: letterboxed
    tl = Timeline(rate=24)
    tl.add_shot(red, 24, graph={"format": "studio.graph"}, seed=1)
    tl.add_shot(green, 24)
    tl.add_shot(blue, 24)
    tl.add_dissolve(0, 8)
    tl.set_soundtrack(write_wav(tmp_path / "music.wav", 5.0), 5.0, gain_db=-6, fade_out=0.5)
    return tl


def test_three_shots_with_a_dissolve_and_a_soundtrack(three_shot_timeline, tmp_path):
    out = render_film(three_shot_timeline, tmp_path / "film.mp4", width=64, height=48)
    expected_frames = 24 * 3 - 8
    assert out.frame_count == expected_frames
    info = ffprobe(out.path)
    video, audio = stream(info, "video"), stream(info, "audio")
    assert int(video["nb_read_frames"]) == expected_frames
    assert abs(video["end"] - expected_frames / 24) <= 1 / 24
    assert abs(audio["end"] - video["end"]) <= 1 / 24
    frames, _ = read_video(out.path)
    mid = lambda i: frames.array[i, 24, 32].astype(int)  # noqa: E731
    assert mid(5)[0] > 180 and mid(5)[1] < 60  # red shot
    blend = mid(20)  # the cut point, mid-dissolve (frames 16..23): red and green mixed
    assert 60 < blend[0] < 180 and 60 < blend[1] < 180
    assert mid(15)[0] > 180 and mid(30)[1] > 180  # red before the dissolve, green after it
    last = frames.array[-1]
    assert last[24, 32, 2] > 180 and last[2, 32].max() < 30  # blue, letterboxed with black bars
    embedded = Timeline.from_json(read_tags(out.path)[TIMELINE_TAG])
    assert embedded.otio.is_equivalent_to(three_shot_timeline.otio)


def test_offline_shot_is_reported_and_nothing_is_written(three_shot_timeline, tmp_path):
    three_shot_timeline.shots()[1].path.unlink()
    with pytest.raises(TimelineError, match=r"1 shot\(s\) are offline: green"):
        render_film(three_shot_timeline, tmp_path / "film.mp4", width=64, height=48)
    assert not (tmp_path / "film.mp4").exists()


def test_cancel_leaves_no_partial_file(three_shot_timeline, tmp_path):
    def cancel_after_ten(done, total):
        if done == 10:
            raise Cancelled()

    with pytest.raises(Cancelled):
        render_film(three_shot_timeline, tmp_path / "film.mp4", width=64, height=48, progress=cancel_after_ten)
    assert sorted(p.name for p in tmp_path.iterdir() if "film" in p.name) == []


def test_scale_fit_stretches_instead_of_letterboxing(three_shot_timeline, tmp_path):
    out = render_film(three_shot_timeline, tmp_path / "film.mp4", width=64, height=48, fit="scale")
    frames, _ = read_video(out.path)
    assert frames.array[-1, 2, 32, 2] > 180  # no black bar: the blue fills the frame


def test_embedded_timeline_is_valid_json(three_shot_timeline, tmp_path):
    out = render_film(three_shot_timeline, tmp_path / "film.mp4", width=64, height=48)
    assert json.loads(read_tags(out.path)[TIMELINE_TAG])["OTIO_SCHEMA"].startswith("Timeline")
