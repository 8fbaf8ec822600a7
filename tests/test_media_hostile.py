"""Hostile media: small files that decode to a lot stop at the memory budget with a clear error.

Every input is generated in tmp_path. The peak-memory tests decode in a subprocess under an
address-space limit, so a regression fails the test instead of taking the machine's memory.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from media_support import flac_silence, flat_video, make_ctx, moving_frames, png_claiming

from nodes.media import load_audio, load_image, load_video
from studio.graph import GraphFileError, loads_graph
from studio.graph.fileformat import MAX_FILE_BYTES
from studio.media import video_io
from studio.media.audio_io import read_audio
from studio.media.errors import MediaError
from studio.media.image_header import read_header
from studio.media.image_io import read_image
from studio.media.limits import BUDGET_ENV, MAX_PIXELS, BoundedArray, memory_budget, physical_memory
from studio.media.video_io import read_embedded_graph_text, read_video, write_video
from studio.nodeapi import NodeError

ROOT = Path(__file__).resolve().parents[1]
FRAME = 64 * 48 * 3  # bytes of one 64×48 RGB frame


# ---- video -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live_clip(tmp_path_factory):
    """120 frames of 64×48 in live-mode Matroska: no duration, no frame count, no cues."""
    path = flat_video(tmp_path_factory.mktemp("live") / "live.mkv", 120, 64, 48, live=True)
    with av.open(str(path)) as container:
        assert container.duration is None and not container.streams.video[0].frames  # nothing declared
    return path


def test_live_matroska_without_duration_stops_at_the_limit(live_clip):
    with pytest.raises(MediaError) as caught:
        read_video(live_clip, max_bytes=50 * FRAME)
    assert str(caught.value) == (
        "live.mkv: decoding needs more than 459.0 KiB (at least 51 frames of 64×48); the limit is 450.0 KiB; "
        "set max_frames to read part of it"
    )
    frames, audio = read_video(live_clip, max_bytes=120 * FRAME)
    assert frames.array.shape == (120, 48, 64, 3) and frames.array.flags.c_contiguous and audio is None
    assert read_video(live_clip, max_frames=10, max_bytes=20 * FRAME)[0].count == 10


def test_frames_are_counted_while_decoding_when_the_packets_undercount(live_clip, monkeypatch):
    expected = read_video(live_clip)[0].array
    monkeypatch.setattr(video_io, "_count_packets", lambda path, stop: 1)  # the array must grow as frames come
    with pytest.raises(
        MediaError, match=r"^live\.mkv: decoding needs more than .*\(at least 51 frames of 64×48 so far\)"
    ):
        read_video(live_clip, max_bytes=50 * FRAME)
    assert np.array_equal(read_video(live_clip, max_bytes=120 * FRAME)[0].array, expected)


def test_a_clip_over_the_budget_names_the_file_in_the_node_error(tmp_path, monkeypatch):
    path = flat_video(tmp_path / "many.mp4", 40, 64, 48)
    monkeypatch.setenv(BUDGET_ENV, str(30 * FRAME))
    with pytest.raises(NodeError, match=r"^path: many\.mp4: decoding needs more than .*at least 31 frames of 64×48"):
        load_video.compute(make_ctx(tmp_path), path=str(path), max_frames=0, sample_rate=0)
    assert load_video.compute(make_ctx(tmp_path), path=str(path), max_frames=30, sample_rate=0)["frames"].count == 30


def test_audio_of_a_video_shares_the_budget_with_its_frames(tmp_path):
    path = flat_video(tmp_path / "talk.mkv", 24, 64, 48, live=True, audio_seconds=2.0)
    frames, audio = read_video(path, max_frames=12)
    assert frames.count == 12 and audio.waveform.shape == (2, 24000)  # audio stops with the frames read
    with pytest.raises(MediaError, match=r"^talk\.mkv: decoding needs more than .* s of 2-channel audio at 48000 Hz"):
        read_video(path, max_bytes=24 * FRAME + 100_000)


# ---- audio -------------------------------------------------------------------------------
def test_flac_resampled_past_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    path = flac_silence(tmp_path / "silence.flac", 20.48)  # whole blocks of 4096 samples
    with pytest.raises(MediaError) as caught:
        read_audio(path, 384_000, max_bytes=16 * 1024**2)
    assert str(caught.value) == (
        "silence.flac: decoding needs 60.0 MiB (20.48 s of 2-channel audio at 384000 Hz); the limit is 16.0 MiB; "
        "a sample_rate lower than 384000 needs less"
    )
    monkeypatch.setenv(BUDGET_ENV, str(16 * 1024**2))
    with pytest.raises(NodeError, match=r"^path: silence\.flac: decoding needs 60\.0 MiB"):
        load_audio.compute(make_ctx(tmp_path), path=str(path), sample_rate=384_000)
    audio = load_audio.compute(make_ctx(tmp_path), path=str(path), sample_rate=8000)["audio"]
    assert audio.waveform.shape == (2, 163_840) and audio.waveform.flags.c_contiguous


def test_audio_without_a_duration_is_counted_while_decoding(tmp_path):
    path = flat_video(tmp_path / "voice.mkv", 0, 0, 0, live=True, audio_seconds=3.0)
    with av.open(str(path)) as container:
        assert container.duration is None
    with pytest.raises(
        MediaError,
        match=r"^voice\.mkv: decoding needs more than .*\(at least .* s of 2-channel audio at 48000 Hz so far\)",
    ):
        read_audio(path, max_bytes=48000 * 2 * 4)  # one second
    audio = read_audio(path)
    assert audio.waveform.shape[0] == 2 and abs(audio.waveform.shape[1] - 3 * 48000) < 4096


# ---- images ------------------------------------------------------------------------------
@pytest.mark.parametrize("width, height", [(30000, 30000), (40000, 40000), (2**31 - 1, 2**31 - 1), (10**6, 101)])
def test_png_header_claiming_a_huge_picture_is_refused_before_decoding(tmp_path, width, height):
    path = png_claiming(tmp_path / "bomb.png", width, height)
    with pytest.raises(
        MediaError, match=rf"^bomb\.png: a picture of {width}×{height} is \d+ megapixels, more than the 100 allowed"
    ):
        read_image(path)
    with pytest.raises(NodeError, match=r"^path: bomb\.png: a picture of"):
        load_image.compute(make_ctx(tmp_path), path=str(path))


def test_png_bomb_under_the_pixel_cap_is_refused_by_the_budget(tmp_path):
    path = png_claiming(tmp_path / "zeros.png", 4000, 3000, real_rows=True)  # 36 MB of pixels in a few KB
    assert path.stat().st_size < 100_000
    with pytest.raises(MediaError) as caught:
        read_image(path, max_bytes=16 * 1024**2)
    assert str(caught.value) == "zeros.png: decoding needs 68.7 MiB (4000×3000 pixels); the limit is 16.0 MiB"
    image = read_image(path, max_bytes=128 * 1024**2).array
    assert image.shape == (3000, 4000, 3) and not image.any()  # the bomb is a real PNG


def test_opencv_errors_become_media_errors_naming_the_file(tmp_path, monkeypatch):
    path = png_claiming(tmp_path / "odd.png", 64, 48)

    def refuse(data, flags):
        raise cv2.error("OpenCV(5.0.0) loadsave.cpp:79: error: (-215:Assertion failed) pixels <= LIMIT in function 'x'")

    monkeypatch.setattr(cv2, "imdecode", refuse)
    with pytest.raises(MediaError, match=r"^cannot read odd\.png: .*pixels <= LIMIT"):
        read_image(path)


@pytest.mark.parametrize(
    "name, data",
    [
        ("cut.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10),
        ("cut.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
        ("cut.gif", b"GIF89a\x01"),
        ("cut.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
    ],
)
def test_damaged_headers_are_refused_naming_the_file(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(
        MediaError, match=rf"^cannot read {name.replace('.', '[.]')}: the image header is damaged or truncated"
    ):
        read_image(tmp_path / name)


@pytest.mark.parametrize(
    "suffix", [".png", ".jpg", ".webp", ".bmp", ".tif", ".gif", ".hdr", ".pfm", ".ppm", ".pgm", ".pam", ".avif"]
)
def test_header_sizes_match_what_decodes(tmp_path, suffix):
    pixels = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    if suffix in (".hdr", ".pfm"):
        pixels = pixels.astype(np.float32) / 255
    if suffix == ".pgm":
        pixels = pixels[..., 0]
    path = tmp_path / f"small{suffix}"
    try:
        written = cv2.imwrite(str(path), pixels)
    except cv2.error:
        written = False
    if not written:
        pytest.skip(f"this OpenCV writes no {suffix}")
    header = read_header(path.read_bytes(), path.name)
    assert (header.width, header.height) == (53, 37)
    assert read_image(path).array.shape == (37, 53, 3)


def test_headers_written_by_hand_big_endian_tiff_and_exr():
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 2)
    tiff += struct.pack(">HHII", 256, 4, 1, 70000) + struct.pack(">HHIHH", 257, 3, 1, 900, 0)
    assert (read_header(tiff, "t").width, read_header(tiff, "t").height) == (70000, 900)
    window = struct.pack("<iiii", 10, 20, 10 + 1919, 20 + 1079)
    exr = b"v/1\x01" + struct.pack("<I", 2) + b"compression\x00compression\x00" + struct.pack("<i", 1) + b"\x00"
    exr += b"dataWindow\x00box2i\x00" + struct.pack("<i", 16) + window + b"\x00"
    header = read_header(exr, "e")
    assert (header.format, header.width, header.height) == ("OpenEXR", 1920, 1080)


# ---- the budget --------------------------------------------------------------------------
def test_budget_is_a_quarter_of_memory_unless_overridden(monkeypatch):
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    assert physical_memory() > 0 and memory_budget() == physical_memory() // 4
    monkeypatch.setenv(BUDGET_ENV, "12345")
    assert memory_budget() == 12345
    monkeypatch.setenv(BUDGET_ENV, "lots")
    with pytest.raises(MediaError, match=f"{BUDGET_ENV} must be a positive whole number of bytes, got 'lots'"):
        memory_budget()
    assert MAX_PIXELS == 100_000_000


@pytest.mark.parametrize("planes", [None, 1, 2, 6])
def test_bounded_array_grows_and_trims_in_place(planes):
    rng = np.random.default_rng(1)
    pieces = [rng.standard_normal((planes or 1, int(rng.integers(1, 40)), 3)).astype(np.float32) for _ in range(30)]
    array = BoundedArray(
        Path("x"), item_shape=(3,), dtype=np.float32, limit=10**7, capacity=5, describe=str, planes=planes
    )
    for piece in pieces:
        array.extend(piece if planes else piece[0])
    array.keep(array.length - 7)
    got = array.take()
    want = np.concatenate(pieces, axis=1)[:, :-7]
    assert got.flags.c_contiguous and np.array_equal(got, want if planes else want[0])


# ---- peak memory, measured in a subprocess under an address-space limit ------------------
CHILD = """
import resource, sys
from studio.media.errors import MediaError
try:
    {call}
except MediaError as exc:
    print("MediaError:", exc)
    code = 3
else:
    code = 0
print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
sys.exit(code)
"""


def run_limited(call: str, *, budget: int, address_space: int) -> tuple[int, str, int]:
    """Run ``call`` in a fresh interpreter (no torch) under RLIMIT_AS; return its exit code, output and peak RSS."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    env = dict(os.environ, **{BUDGET_ENV: str(budget), "MALLOC_ARENA_MAX": "2", "PYTHONPATH": str(ROOT)})
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(call=call)],
        cwd=ROOT,
        env=env,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    peak = int(output.rsplit("peak ", 1)[1].split()[0]) if "peak " in output else 0
    return done.returncode, output, peak


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")
GiB = 1024**3


@linux_only
@pytest.mark.parametrize("kind", ["live.mkv", "frames.mp4", "silence.flac", "bomb.png"])
def test_hostile_files_end_with_the_clean_error_under_a_memory_limit(tmp_path, kind):
    """Each of these needs 1.5-3 GB to decode (twice that for stacking), more than the 3 GB allowed here."""
    path = tmp_path / kind
    if kind == "live.mkv":
        flat_video(path, 600, 1280, 720, live=True)  # 1.6 GB of frames in about 30 KB
        call = f"from studio.media.video_io import read_video; read_video({str(path)!r})"
    elif kind == "frames.mp4":
        flat_video(path, 600, 1280, 720)
        call = f"from studio.media.video_io import read_video; read_video({str(path)!r})"
    elif kind == "silence.flac":
        flac_silence(path, 600.0)  # ten minutes at 384 kHz: 1.8 GB of float32
        call = f"from studio.media.audio_io import read_audio; read_audio({str(path)!r}, 384000)"
    else:
        png_claiming(path, 30000, 30000)
        call = f"from studio.media.image_io import read_image; read_image({str(path)!r})"
    code, output, peak = run_limited(call, budget=256 * 1024**2, address_space=3 * GiB)
    print(kind, f"peak RSS {peak / 1024**2:.0f} MiB")
    assert code == 3, output
    assert f"MediaError: {kind}: " in output and "MemoryError" not in output


@linux_only
def test_a_clip_within_the_budget_decodes_at_about_its_own_size(tmp_path):
    """830 MB of frames decode under an address-space limit that stacking (twice that) would break."""
    path = flat_video(tmp_path / "fits.mp4", 300, 1280, 720)
    output_bytes = 300 * 1280 * 720 * 3
    call = f"from studio.media.video_io import read_video; print(read_video({str(path)!r})[0].array.shape)"
    code, output, peak = run_limited(call, budget=2 * GiB, address_space=output_bytes + 1536 * 1024**2)
    print(f"peak RSS {peak / 1024**2:.0f} MiB for {output_bytes / 1024**2:.0f} MiB of frames")
    assert code == 0, output
    assert "(300, 720, 1280, 3)" in output and peak < output_bytes * 1.25 + 400 * 1024**2


# ---- embedded graphs ---------------------------------------------------------------------
GRAPH = {"format": "studio.graph", "version": 1, "nodes": [], "links": [], "groups": [], "meta": {}}


def rendered_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "render.mp4"
    write_video(path, moving_frames(count=2), metadata={"studio_graph": text})
    return path


def test_embedded_graph_goes_through_the_graph_loader(tmp_path):
    path = rendered_with(tmp_path, json.dumps(GRAPH | {"meta": {"title": "ok"}}))
    graph = loads_graph(read_embedded_graph_text(path), source=str(path))
    assert graph.meta["title"] == "ok"
    assert read_embedded_graph_text(tmp_path / "missing.mp4") is None


def test_embedded_graph_with_nan_is_refused_with_the_loaders_message(tmp_path):
    path = rendered_with(tmp_path, json.dumps(GRAPH | {"meta": {"x": float("nan")}}))
    with pytest.raises(GraphFileError, match=r"render\.mp4: not acceptable JSON: NaN is not allowed"):
        loads_graph(read_embedded_graph_text(path), source=str(path))


def test_embedded_graph_over_the_size_cap_is_refused_with_the_loaders_message(tmp_path):
    path = rendered_with(tmp_path, json.dumps(GRAPH | {"meta": {"pad": "x" * MAX_FILE_BYTES}}))
    with pytest.raises(GraphFileError, match=rf"render\.mp4: text is larger than the {MAX_FILE_BYTES} bytes allowed"):
        loads_graph(read_embedded_graph_text(path), source=str(path))
