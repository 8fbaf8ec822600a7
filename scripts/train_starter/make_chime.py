"""Write resources/audio/chime.wav: a soft synthesised three-note chime (mono, 22.05 kHz, ~3 s).

    .venv/bin/python scripts/train_starter/make_chime.py

Deterministic (no randomness), so re-running it reproduces the committed file byte for byte.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 22050
SECONDS = 3.0
NOTES = ((0.00, 659.25), (0.35, 783.99), (0.70, 987.77))  # E5, G5, B5: start time, frequency


def chime() -> np.ndarray:
    """float32 samples in -1..1: bell-like partials with exponential decay."""
    t = np.arange(int(RATE * SECONDS)) / RATE
    out = np.zeros_like(t)
    for start, freq in NOTES:
        local = np.clip(t - start, 0.0, None)
        envelope = np.where(t >= start, np.exp(-local * 2.2) * np.minimum(local / 0.005, 1.0), 0.0)
        for partial, gain in ((1.0, 1.0), (2.76, 0.35), (5.40, 0.12)):  # inharmonic, like a bell
            out += gain * envelope * np.sin(2 * np.pi * freq * partial * local)
    fade = np.minimum(1.0, (SECONDS - t) / 0.3)  # end in silence
    out *= fade / np.abs(out).max() * 0.5
    return out.astype(np.float32)


def main() -> None:
    path = Path(__file__).resolve().parents[2] / "resources" / "audio" / "chime.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = (chime() * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(samples.tobytes())
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
