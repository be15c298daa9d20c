"""The pop-up chime, synthesised here (no recording, no third-party sound): two soft bell partials, 0.7 s, 16 kHz
mono 16-bit WAV. `python -m dashboard.chime` rewrites dashboard/static/vendor/chime/chime.wav, byte for byte the
same every time (tests/dashboard/test_chime.py checks the bundled file is this one)."""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from pathlib import Path

RATE = 16_000
SECONDS = 0.7
PARTIALS = ((880.0, 0.55), (1320.0, 0.30), (1760.0, 0.12))  # A5 with its fifth and octave: a small bell
DECAY = 6.0  # per second
PEAK = 0.6  # of full scale: soft
BUNDLED = Path(__file__).resolve().parent / "static" / "vendor" / "chime" / "chime.wav"
URL = "/app/static/vendor/chime/chime.wav"  # served by Streamlit's static serving (dashboard/serve.py)


def chime_wav() -> bytes:
    """The chime as WAV bytes (deterministic)."""
    frames = bytearray()
    attack = int(0.005 * RATE)
    for n in range(int(SECONDS * RATE)):
        t = n / RATE
        envelope = math.exp(-DECAY * t) * min(1.0, n / attack)
        sample = sum(a * math.sin(2 * math.pi * f * t) for f, a in PARTIALS) * envelope * PEAK
        frames += struct.pack("<h", int(round(max(-1.0, min(1.0, sample)) * 32767)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else BUNDLED
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(chime_wav())
    print(f"wrote {target}")
