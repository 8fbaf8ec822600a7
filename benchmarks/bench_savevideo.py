"""SaveVideo's encoder path (PyAV, in-process) against ffmpeg's own CLI on the same raw frames.

Both encode identical RGB frames with the same encoder, CRF and pixel format; ffmpeg reads them
from a raw file written beforehand (not timed). Prints seconds, frames/s and the ratio
ours / ffmpeg (target <= 1.2).

    .venv/bin/python benchmarks/bench_savevideo.py [--codec h264] [--frames 96] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from studio.media.synthetic import SyntheticScene
from studio.media.types import Frames
from studio.media.video_io import CODECS, frame_rate, write_video

FFMPEG_ARGS = {
    "h264": ["-c:v", "libx264", "-crf", "{crf}", "-pix_fmt", "yuv420p"],
    "h265": ["-c:v", "libx265", "-crf", "{crf}", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
    "vp9": [
        "-c:v",
        "libvpx-vp9",
        "-crf",
        "{crf}",
        "-b:v",
        "0",
        "-row-mt",
        "1",
        "-deadline",
        "good",
        "-cpu-used",
        "4",
        "-pix_fmt",
        "yuv420p",
    ],
    "av1": ["-c:v", "libsvtav1", "-crf", "{crf}", "-preset", "8", "-pix_fmt", "yuv420p"],
    "prores": ["-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codec", default="h264", choices=sorted(FFMPEG_ARGS))
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best is kept")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg CLI not found (apt-get install ffmpeg); it is the baseline")
    width, height = map(int, args.size.split("x"))
    scene = SyntheticScene(width, height, length=args.frames + 1, pan=(3.0, 1.0))
    frames = Frames(scene.clip(args.frames), 24.0)
    suffix = CODECS[args.codec].suffix
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "frames.rgb"
        raw.write_bytes(frames.array.tobytes())
        cli = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(frame_rate(frames.fps)), "-i", str(raw),
               *[a.format(crf=args.crf) for a in FFMPEG_ARGS[args.codec]], str(Path(tmp) / f"cli{suffix}")]  # fmt: skip
        ours, theirs = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            write_video(Path(tmp) / f"ours{suffix}", frames, codec=args.codec, crf=args.crf)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(cli, check=True)
            theirs.append(time.perf_counter() - start)
        size_ours = (Path(tmp) / f"ours{suffix}").stat().st_size
        size_cli = (Path(tmp) / f"cli{suffix}").stat().st_size
    a, b = min(ours), min(theirs)
    print(f"{args.codec} crf {args.crf}, {args.frames} frames {width}x{height}")
    print(f"  SaveVideo (PyAV): {a:6.2f} s  {args.frames / a:6.1f} frames/s  {size_ours / 1e6:.2f} MB")
    print(f"  ffmpeg CLI      : {b:6.2f} s  {args.frames / b:6.1f} frames/s  {size_cli / 1e6:.2f} MB")
    print(f"  ratio ours/ffmpeg: {a / b:.2f} (target <= 1.2)")
    assert np.isfinite(a / b)


if __name__ == "__main__":
    main()
