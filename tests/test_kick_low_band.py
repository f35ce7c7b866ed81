"""benchmarks/kick_low_band.py: a held bass note reads as tonal and sustained, a kick-like burst does not."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from error_context import band_signals  # noqa: E402
from kick_low_band import LOW_HZ, low_band_measures  # noqa: E402

SR = 44100


def test_held_note_is_more_tonal_and_sustained_than_a_decaying_burst():
    t = np.arange(SR) / SR
    onset = 0.2
    after = np.clip(t - onset, 0, None) * (t >= onset)
    note = 0.5 * np.sin(2 * np.pi * 55.0 * t) * (t >= onset)  # a held A1
    rng = np.random.default_rng(0)
    sweep = np.sin(2 * np.pi * np.cumsum(50.0 + 100.0 * np.exp(-after / 0.02)) / SR)
    kick = (0.8 * sweep + 0.2 * rng.standard_normal(SR)) * np.exp(-after / 0.05) * (t >= onset)
    (note_low,) = band_signals(note, SR, (LOW_HZ,))
    (kick_low,) = band_signals(kick, SR, (LOW_HZ,))
    n_tonal, n_drift, n_sustain = low_band_measures(note, note_low, SR, onset)
    k_tonal, k_drift, k_sustain = low_band_measures(kick, kick_low, SR, onset)
    assert n_tonal > k_tonal
    assert n_sustain > k_sustain + 10 and abs(n_sustain) < 3
    assert n_drift > k_drift
