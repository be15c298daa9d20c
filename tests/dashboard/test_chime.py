"""The bundled chime is the one dashboard/chime.py synthesises (so its provenance in SOURCE.txt holds), a short,
soft, valid WAV served from the app's static folder."""

from __future__ import annotations

import io
import wave

from dashboard.chime import BUNDLED, URL, chime_wav


def test_the_bundled_chime_is_the_synthesised_one():
    made = chime_wav()
    assert BUNDLED.read_bytes() == made, "run `python -m dashboard.chime` after changing dashboard/chime.py"
    with wave.open(io.BytesIO(made)) as sound:
        assert (sound.getnchannels(), sound.getsampwidth(), sound.getframerate()) == (1, 2, 16_000)
        seconds = sound.getnframes() / sound.getframerate()
        frames = sound.readframes(sound.getnframes())
    assert 0.3 <= seconds <= 1.0 and len(made) < 40_000
    peak = max(abs(int.from_bytes(frames[i:i + 2], "little", signed=True)) for i in range(0, len(frames), 2))
    assert 0.3 * 32767 < peak < 0.9 * 32767, "audible but soft"
    assert URL == "/app/static/vendor/chime/chime.wav" and BUNDLED.parts[-4:-1] == ("static", "vendor", "chime")
    assert {"SOURCE.txt", "LICENSE"} <= {p.name for p in BUNDLED.parent.iterdir()}
