"""SaveVideo: what it writes, checked by an independent client (ffprobe) where one is installed."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from media_support import ffprobe, make_ctx, moving_frames, stream, tone

from nodes.video import save_video
from studio.engine import Engine
from studio.engine.context import Cancelled, CancelToken, NodeError, RunSettings
from studio.graph.fileformat import graph_from_dict, loads_graph
from studio.media.video_io import frame_rate, read_embedded_graph_text

GRAPH = """{"format": "studio.graph", "version": 1,
 "nodes": [{"id": "pattern", "type": "TestPattern", "type_version": 1,
            "params": {"width": 63, "height": 47, "frames": 10, "fps": 24.0, "seed": 3}, "position": [0, 0]},
           {"id": "save", "type": "SaveVideo", "type_version": 1,
            "params": {"filename_prefix": "clips/test", "fps": 0.0, "codec": "h264", "crf": 23}, "position": [300, 0]}],
 "links": [{"from": ["pattern", "frames"], "to": ["save", "frames"]}],
 "groups": [], "meta": {"title": "t", "app_version": ""}}"""

CONTAINERS = {"h264": ("h264", ".mp4", "aac"), "h265": ("hevc", ".mp4", "aac"), "vp9": ("vp9", ".webm", "opus"),
              "av1": ("av1", ".mkv", "opus"), "prores": ("prores", ".mov", "aac")}  # fmt: skip


def save(tmp_path, frames, **params):
    values = dict(filename_prefix="out", fps=0.0, codec="h264", crf=23, audio=None) | params
    return save_video.compute(make_ctx(tmp_path, graph_document=values.pop("graph", None)), frames=frames, **values)[
        "video"
    ]


@pytest.mark.parametrize("codec", list(CONTAINERS))
def test_each_codec_writes_frame_exact_video_with_fitted_audio(tmp_path, codec):
    frames = moving_frames(count=12, height=47, width=63, fps=24.0)  # odd size: padded for 4:2:0
    video = save(tmp_path, frames, codec=codec, audio=tone(1.7))  # longer audio: trimmed
    name, suffix, audio_codec = CONTAINERS[codec]
    assert video.path.suffix == suffix and video.path.parent == tmp_path
    info = ffprobe(video.path)
    v, a = stream(info, "video"), stream(info, "audio")
    assert v["codec_name"] == name and a["codec_name"] == audio_codec
    assert int(v["nb_read_frames"]) == 12
    assert v["end"] == pytest.approx(0.5, abs=1.5e-3)  # 12 frames at 24 fps; Matroska counts in ms
    assert abs(a["end"] - v["end"]) <= 1 / 24 + 1e-3
    assert (int(v["width"]), int(v["height"])) == (64, 48)
    if codec != "prores":
        assert v["pix_fmt"] == "yuv420p"


def test_short_audio_is_padded_to_the_video_length(tmp_path):
    video = save(tmp_path, moving_frames(count=24, fps=12.0), audio=tone(0.3, rate=22050, channels=1))
    info = ffprobe(video.path)
    v, a = stream(info, "video"), stream(info, "audio")
    assert v["end"] == pytest.approx(2.0, abs=1e-3)
    assert abs(a["end"] - 2.0) <= 1 / 12 and int(a["channels"]) == 1


def test_graph_run_embeds_a_graph_that_reloads_equal(tmp_path):
    graph = loads_graph(GRAPH)
    report = Engine(device="cpu", settings=RunSettings(output_dir=tmp_path)).run(graph)
    assert report.ok, report.failed
    [path] = report.files()
    assert path.parent == tmp_path / "clips" and path.name == "test_00001.mp4"
    assert loads_graph(read_embedded_graph_text(path), source=str(path)) == graph
    tags = {k.lower(): v for k, v in ffprobe(path)["format"].get("tags", {}).items()}
    assert graph_from_dict(__import__("json").loads(tags["studio_graph"])) == graph  # independent reader agrees


def test_never_overwrites_and_numbers_files(tmp_path):
    first = save(tmp_path, moving_frames(count=3))
    second = save(tmp_path, moving_frames(count=3))
    assert (first.path.name, second.path.name) == ("out_00001.mp4", "out_00002.mp4")
    assert first.path.stat().st_size > 0 and second.path.exists()


@pytest.mark.parametrize("prefix", ["../escape", "/tmp/absolute", "a/../../b", "", ".", "./", "./.", "a/.."])
def test_prefix_leaving_the_output_folder_is_refused(tmp_path, prefix):
    with pytest.raises(NodeError, match="filename_prefix"):
        save(tmp_path / "out", moving_frames(count=2), filename_prefix=prefix)
    assert [p.name for p in tmp_path.iterdir()] in ([], ["out"])  # nothing beside the output folder
    assert not list(tmp_path.rglob("*.mp4"))


def test_cancel_midway_leaves_no_file(tmp_path):
    token = CancelToken()

    def progress(done, total):
        token.cancel()  # the first progress report comes after frame 1 of 20

    ctx = make_ctx(tmp_path, cancel=token, on_progress=progress)
    with pytest.raises(Cancelled):
        save_video.compute(
            ctx, frames=moving_frames(count=20), audio=None, filename_prefix="c", fps=0.0, codec="h264", crf=23
        )
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary left behind


def test_fps_parameter_overrides_and_ntsc_rates_are_exact(tmp_path):
    video = save(tmp_path, moving_frames(count=30), fps=29.97)
    v = stream(ffprobe(video.path), "video")
    assert v["avg_frame_rate"] == "30000/1001"
    assert v["end"] == pytest.approx(30 * 1001 / 30000, abs=1e-3)
    assert frame_rate(23.976) == Fraction(24000, 1001) and frame_rate(25.0) == 25


def test_decoded_pixels_match_what_was_saved(tmp_path):
    from studio.media.video_io import read_video

    frames = moving_frames(count=6)
    video = save(tmp_path, frames, crf=0)
    back, audio = read_video(video.path)
    assert audio is None and back.array.shape == frames.array.shape
    # crf 0 is lossless in luma; colour conversion and 4:2:0 chroma still round a little.
    assert np.abs(back.array.astype(int) - frames.array).mean() < 4
