"""LoadImage, LoadVideo, LoadAudio: common formats read, bad files refused with a clear error."""

from __future__ import annotations

import wave

import cv2
import numpy as np
import pytest
from media_support import make_ctx, moving_frames, tone

from nodes.media import load_audio, load_image, load_video
from studio.engine.context import NodeError
from studio.media.video_io import write_video


def run(spec, tmp_path, **params):
    return spec.compute(make_ctx(tmp_path), **params)


def write_wav(path, seconds=0.5, rate=16000):
    samples = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 16000).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())


def test_load_video_returns_frames_fps_and_audio(tmp_path):
    frames = moving_frames(count=10, fps=20.0)
    write_video(tmp_path / "in.mp4", frames, audio=tone(0.5, rate=44100), crf=10)
    out = run(load_video, tmp_path, path=str(tmp_path / "in.mp4"), max_frames=0, sample_rate=16000)
    assert out["frames"].array.shape == frames.array.shape and out["frames"].fps == pytest.approx(20.0)
    assert np.abs(out["frames"].array.astype(int) - frames.array).mean() < 6
    audio = out["audio"]
    assert audio.sample_rate == 16000 and audio.channels == 2
    assert audio.duration == pytest.approx(0.5, abs=0.05)
    assert np.sqrt(np.mean(audio.waveform[:, 1000:7000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)


def test_load_video_max_frames_and_no_audio(tmp_path):
    write_video(tmp_path / "in.webm", moving_frames(count=8), codec="vp9")
    out = run(load_video, tmp_path, path=str(tmp_path / "in.webm"), max_frames=3, sample_rate=0)
    assert out["frames"].count == 3 and out["audio"] is None


def test_truncated_mp4_fails_clearly(tmp_path):
    write_video(tmp_path / "full.mp4", moving_frames(count=24), audio=tone(1.0))
    data = (tmp_path / "full.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(NodeError, match=r"path: cannot read cut\.mp4.*damaged"):
        run(load_video, tmp_path, path=str(tmp_path / "cut.mp4"), max_frames=0, sample_rate=0)


def test_mp4_with_index_first_but_data_cut_short_is_reported_truncated(tmp_path):
    import av

    write_video(tmp_path / "full.mp4", moving_frames(count=48))
    # Rewrite with the index (moov) first, as web-ready files have, then cut the data short.
    with (
        av.open(str(tmp_path / "full.mp4")) as src,
        av.open(str(tmp_path / "fast.mp4"), "w", options={"movflags": "faststart"}) as dst,
    ):
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    data = (tmp_path / "fast.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(NodeError, match=r"cut\.mp4.*truncated"):
        run(load_video, tmp_path, path=str(tmp_path / "cut.mp4"), max_frames=0, sample_rate=0)


def test_text_file_named_wav_fails_clearly(tmp_path):
    (tmp_path / "notes.wav").write_text("these are not samples\n" * 50)
    with pytest.raises(NodeError, match=r"path: cannot read notes\.wav: not a media file"):
        run(load_audio, tmp_path, path=str(tmp_path / "notes.wav"), sample_rate=0)


@pytest.mark.parametrize(
    "spec,extra",
    [(load_audio, {"sample_rate": 0}), (load_video, {"max_frames": 0, "sample_rate": 0}), (load_image, {})],
)
def test_missing_and_empty_paths_name_the_problem(tmp_path, spec, extra):
    with pytest.raises(NodeError, match="not found"):
        run(spec, tmp_path, path=str(tmp_path / "nope.xyz"), **extra)
    with pytest.raises(NodeError, match="path is empty"):
        run(spec, tmp_path, path="", **extra)


def test_load_audio_wav_and_resample(tmp_path):
    write_wav(tmp_path / "a.wav", seconds=0.5, rate=16000)
    kept = run(load_audio, tmp_path, path=str(tmp_path / "a.wav"), sample_rate=0)["audio"]
    assert kept.sample_rate == 16000 and kept.channels == 1 and kept.waveform.shape[1] == 8000
    assert np.abs(kept.waveform).max() == pytest.approx(16000 / 32768, rel=0.01)
    up = run(load_audio, tmp_path, path=str(tmp_path / "a.wav"), sample_rate=48000)["audio"]
    assert up.sample_rate == 48000 and abs(up.waveform.shape[1] - 24000) <= 64


def test_load_audio_from_a_video_file_and_refuses_silent_video(tmp_path):
    write_video(tmp_path / "v.mkv", moving_frames(count=6), codec="av1", audio=tone(0.25, rate=48000))
    assert run(load_audio, tmp_path, path=str(tmp_path / "v.mkv"), sample_rate=0)["audio"].sample_rate == 48000
    write_video(tmp_path / "silent.mp4", moving_frames(count=6))
    with pytest.raises(NodeError, match="no audio track"):
        run(load_audio, tmp_path, path=str(tmp_path / "silent.mp4"), sample_rate=0)


def test_load_image_formats(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "c.png"), rgb[..., ::-1])
    assert np.array_equal(run(load_image, tmp_path, path=str(tmp_path / "c.png"))["image"].array, rgb)
    rgba = np.dstack([rgb[..., ::-1], np.full((20, 30), 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    assert np.array_equal(run(load_image, tmp_path, path=str(tmp_path / "a.png"))["image"].array, rgb)
    grey16 = np.arange(600, dtype=np.uint16).reshape(20, 30) * 100
    cv2.imwrite(str(tmp_path / "g.png"), grey16)
    got = run(load_image, tmp_path, path=str(tmp_path / "g.png"))["image"].array
    assert got.shape == (20, 30, 3) and np.array_equal(got[..., 1], (grey16 >> 8).astype(np.uint8))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(NodeError, match=r"bad\.png"):
        run(load_image, tmp_path, path=str(tmp_path / "bad.png"))


def test_bundled_resources_are_found_from_any_working_directory(tmp_path, monkeypatch):
    from studio.bundled import find_bundled, resources_root

    monkeypatch.chdir(tmp_path)
    assert find_bundled("resources/graphs") == resources_root() / "graphs"
    assert (find_bundled("resources/graphs") / "starter.graph.json").is_file()
    assert find_bundled("resources/nothing-here.wav") is None
    assert find_bundled("resources/../pyproject.toml") is None
