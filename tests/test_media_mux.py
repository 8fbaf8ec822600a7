"""MuxAudio and fit_audio: audio placed onto a rendered video without touching its picture."""

from __future__ import annotations

import hashlib
import json

import av
import numpy as np
import pytest
from media_support import ffprobe, make_ctx, moving_frames, stream, tone

from nodes.media import mux_audio_node
from studio.engine.context import NodeError
from studio.media.audio_io import fit_audio, read_audio
from studio.media.types import Audio
from studio.media.video_io import probe_video, read_embedded_graph_text, write_video

DOC = {"format": "studio.graph", "version": 1, "nodes": [], "links": [], "groups": [], "meta": {"title": "mux"}}


def video_packets(path):
    with av.open(str(path)) as container:
        return [hashlib.sha1(bytes(p)).hexdigest() for p in container.demux(container.streams.video[0]) if p.size]


def rendered(tmp_path, codec="h264", audio=None):
    suffix = {"h264": ".mp4", "vp9": ".webm"}[codec]
    path = tmp_path / f"src{suffix}"
    write_video(
        path, moving_frames(count=24, fps=24.0), codec=codec, audio=audio, metadata={"studio_graph": '{"old": 1}'}
    )
    return probe_video(path)


def mux(tmp_path, video, audio, graph=None, **params):
    values = dict(offset=0.0, fit="pad", fade_out=0.0, filename_prefix="muxed") | params
    return mux_audio_node.compute(make_ctx(tmp_path / "out", graph_document=graph), video=video, audio=audio, **values)[
        "video"
    ]


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_mux_copies_video_packets_and_adds_fitted_audio(tmp_path, codec):
    source = rendered(tmp_path, codec, audio=tone(1.0, freq=220))  # existing audio gets replaced
    out = mux(tmp_path, source, tone(0.4, rate=22050), graph=DOC)
    assert out.path.parent == tmp_path / "out" and out.path.suffix == source.path.suffix
    assert video_packets(out.path) == video_packets(source.path)  # not re-encoded
    info = ffprobe(out.path)
    v, a = stream(info, "video"), stream(info, "audio")
    assert len([s for s in info["streams"] if s["codec_type"] == "audio"]) == 1
    assert a["codec_name"] == ("aac" if codec == "h264" else "opus")
    assert int(v["nb_read_frames"]) == 24 and abs(a["end"] - v["end"]) <= 1 / 24
    assert json.loads(read_embedded_graph_text(out.path)) == DOC
    assert source.path.exists() and video_packets(source.path)  # the input is left alone


def test_mux_keeps_the_input_graph_when_run_outside_a_graph(tmp_path):
    out = mux(tmp_path, rendered(tmp_path), tone(1.0))
    assert read_embedded_graph_text(out.path) == '{"old": 1}'


def test_mux_fit_modes_change_what_is_heard_at_the_end(tmp_path):
    source = rendered(tmp_path)  # 1.0 s
    short = tone(0.4)

    def tail_rms(video):
        audio = read_audio(video.path)
        return float(np.sqrt(np.mean(audio.waveform[:, -audio.sample_rate // 5 :] ** 2))), audio.duration

    padded, loud_loop = (
        tail_rms(mux(tmp_path, source, short, fit="pad")),
        tail_rms(mux(tmp_path, source, short, fit="loop")),
    )
    assert padded[0] < 0.01 and loud_loop[0] > 0.2
    assert padded[1] == pytest.approx(1.0, abs=0.05) and loud_loop[1] == pytest.approx(1.0, abs=0.05)
    faded = tail_rms(mux(tmp_path, source, tone(2.0), fit="trim", fade_out=0.5))
    assert faded[0] < 0.12


def test_mux_refuses_missing_audio_and_escaping_prefix(tmp_path):
    source = rendered(tmp_path)
    with pytest.raises(NodeError, match="audio"):
        mux(tmp_path, source, None)
    with pytest.raises(NodeError, match="filename_prefix"):
        mux(tmp_path, source, tone(1.0), filename_prefix="../x")
    with pytest.raises(NodeError, match="after the video ends"):
        mux(tmp_path, source, tone(1.0), offset=5.0, fit="trim")


def test_fit_audio_offset_trim_pad_loop_fade():
    rate = 100
    ramp = Audio(np.arange(1, 51, dtype=np.float32)[None] / 100, rate)  # 0.5 s
    assert fit_audio(ramp, 0.3, fit="trim").waveform.shape == (1, 30)
    assert fit_audio(ramp, 1.0, fit="trim").waveform.shape == (1, 50)  # trim never extends
    padded = fit_audio(ramp, 1.0, fit="pad").waveform
    assert padded.shape == (1, 100) and not padded[0, 50:].any()
    looped = fit_audio(ramp, 1.2, fit="loop").waveform[0]
    assert looped.shape == (120,) and looped[50] == ramp.waveform[0, 0] and looped[119] == ramp.waveform[0, 19]
    delayed = fit_audio(ramp, 1.0, offset=0.2, fit="pad").waveform[0]
    assert not delayed[:20].any() and delayed[20] == ramp.waveform[0, 0]
    early = fit_audio(ramp, 1.0, offset=-0.1, fit="pad").waveform[0]
    assert early[0] == ramp.waveform[0, 10]
    faded = fit_audio(ramp, 0.5, fit="pad", fade_out=0.2).waveform[0]
    assert faded[-1] == 0 and faded[29] == ramp.waveform[0, 29] and faded[40] < ramp.waveform[0, 40]
    with pytest.raises(ValueError, match="fit must be one of"):
        fit_audio(ramp, 1.0, fit="stretch")
