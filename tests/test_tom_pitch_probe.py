"""benchmarks/tom_pitch_probe.py: single-stroke tom pitch and the order figures built on it."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from tom_pitch_probe import stroke_pitch, track_figures  # noqa: E402

SR = 44100


def toms(hits: dict[str, list[float]], hz: dict[str, float], hum_hz: float = 0.0) -> np.ndarray:
    """Decaying sines at each hit over an optional steady hum (a band note sounding throughout)."""
    t = np.arange(int(4.0 * SR)) / SR
    x = 2.0 * np.sin(2 * np.pi * hum_hz * t) if hum_hz else np.zeros_like(t)
    for piece, times in hits.items():
        for onset in times:
            k = t >= onset
            x[k] += np.exp(-(t[k] - onset) / 0.15) * np.sin(2 * np.pi * hz[piece] * (t[k] - onset))
    return x.astype(np.float32)


def test_stroke_pitch_finds_the_new_tone_not_the_hum():
    hits = {"tom_mid": [1.0]}
    x = toms(hits, {"tom_mid": 146.8}, hum_hz=220.0)  # the hum is louder than the stroke
    assert stroke_pitch(x, SR, 1.0) == pytest.approx(50.0, abs=0.3)  # D3
    assert stroke_pitch(x, SR, 3.95) is None  # the window runs past the end


def test_track_figures_count_pairs_in_the_kits_order():
    hits = {"tom_high": [0.5, 2.0], "tom_floor": [1.0, 2.5, 3.0]}
    right, pairs, in_order = track_figures(toms(hits, {"tom_high": 220.0, "tom_floor": 98.0}), SR, hits)
    assert (right, pairs, in_order) == (6, 6, True)
    # toms tuned the wrong way round: every pair out of order
    right, pairs, in_order = track_figures(toms(hits, {"tom_high": 98.0, "tom_floor": 220.0}), SR, hits)
    assert (right, pairs, in_order) == (0, 6, False)
    assert track_figures(toms({"tom_mid": [1.0]}, {"tom_mid": 150.0}), SR, {"tom_mid": [1.0]}) is None
