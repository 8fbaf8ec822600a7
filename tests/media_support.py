"""Helpers shared by the media tests: a bare run context, tiny clips and an ffprobe client."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine.context import CancelToken, RunContext, RunSettings
from studio.media.types import Audio, Frames

FFPROBE = shutil.which("ffprobe")


def make_ctx(
    output_dir: Path, *, graph_document: dict | None = None, cancel: CancelToken | None = None, on_progress=None
):
    return RunContext(
        node_id="node",
        node_type="Test",
        device="cpu",
        dtype="float32",
        settings=RunSettings(output_dir=output_dir),
        cancel=cancel or CancelToken(),
        emit_progress=on_progress or (lambda done, total: None),
        emit_preview=lambda image, step, total: None,
        graph_document=graph_document,
    )


def moving_frames(count: int = 12, height: int = 48, width: int = 64, fps: float = 24.0) -> Frames:
    """A small clip with a gradient and a moving square, so encoders have real content."""
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        out[i, ..., 0] = (xx * 255 // max(width - 1, 1)).astype(np.uint8)
        out[i, ..., 1] = (yy * 255 // max(height - 1, 1)).astype(np.uint8)
        out[i, ..., 2] = 64
        x = (i * 3) % max(width - 8, 1)
        out[i, 8:16, x : x + 8] = 255
    return Frames(out, fps)


def tone(seconds: float, rate: int = 44100, channels: int = 2, freq: float = 440.0) -> Audio:
    t = np.arange(int(round(seconds * rate))) / rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return Audio(np.repeat(wave[None], channels, axis=0), rate)


def require_ffprobe() -> str:
    if FFPROBE is None:
        print("ffprobe not found (apt-get install ffmpeg); skipping the independent check")
        pytest.skip("ffprobe is not installed")
    return FFPROBE


def ffprobe(path: Path) -> dict[str, Any]:
    """Streams (with decoded frame counts and packet-derived durations) and format, as ffprobe sees them."""
    exe = require_ffprobe()
    out = subprocess.run(
        [exe, "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    info = json.loads(out)
    for stream in info["streams"]:
        stream["end"] = _stream_end(exe, path, stream["index"])
    return info


def _stream_end(exe: str, path: Path, index: int) -> float:
    """Where a stream ends: the last packet's pts + duration (works where the container stores no duration)."""
    out = subprocess.run(
        [
            exe,
            "-v",
            "error",
            "-select_streams",
            str(index),
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    ends = []
    for line in out.split():
        pts, dur = (line.split(",") + ["", ""])[:2]
        if pts not in ("", "N/A"):
            ends.append(float(pts) + (float(dur) if dur not in ("", "N/A") else 0.0))
    return max(ends) if ends else 0.0


def stream(info: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [s for s in info["streams"] if s["codec_type"] == kind]
    assert found, f"no {kind} stream in {[s['codec_type'] for s in info['streams']]}"
    return found[0]


# ---- hostile inputs, generated small in tmp_path ----------------------------------------------
def flat_video(path: Path, frames: int, width: int, height: int, *, live: bool = False, audio_seconds: float = 0.0):
    """Flat grey frames that compress to a few bytes each: a tiny file that decodes to a lot.

    ``live`` writes Matroska as a live stream: no duration, no cues, no frame count anywhere.
    ``audio_seconds`` adds a track of stereo silence.
    """
    import av

    options = {"live": "1"} if live else {}
    fmt = "matroska" if path.suffix == ".mkv" else "mp4"
    with av.open(str(path), "w", format=fmt, options=options) as container:
        video = (
            container.add_stream("libx264", rate=24, options={"crf": "51", "preset": "ultrafast"}) if frames else None
        )
        audio = _stereo_stream(container, 48000) if audio_seconds else None
        if video is not None:
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            grey = np.full((height, width, 3), 128, np.uint8)
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24").reformat(format="yuv420p")
            for index in range(frames):
                frame.pts = index
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
        if audio is not None:
            _write_silence(container, audio, audio_seconds)
    return path


def flac_silence(path: Path, seconds: float, rate: int = 48000) -> Path:
    """Stereo silence: FLAC stores it in almost nothing, and declares its length in STREAMINFO."""
    import av

    with av.open(str(path), "w", format="flac") as container:
        _write_silence(container, _stereo_stream(container, rate), seconds)
    return path


def _stereo_stream(container: Any, rate: int) -> Any:
    stream = container.add_stream("flac", rate=rate)
    stream.layout = "stereo"
    return stream


def _write_silence(container: Any, stream: Any, seconds: float) -> None:
    import av

    block = np.zeros((2, 4096), np.int16)
    for index in range(int(seconds * stream.rate) // 4096):
        frame = av.AudioFrame.from_ndarray(block, format="s16p", layout="stereo")
        frame.sample_rate, frame.pts = stream.rate, index * 4096
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def png_claiming(path: Path, width: int, height: int, *, real_rows: bool = False) -> Path:
    """An RGB PNG whose header says ``width``×``height``; with ``real_rows`` its data really holds
    that many zero rows (a decompression bomb: about 1000 to 1), else a token IDAT."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    if real_rows:
        packer = zlib.compressobj(9)
        row = bytes(1 + 3 * width)  # filter byte 0, then black pixels
        idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    else:
        idat = zlib.compress(bytes(64))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
