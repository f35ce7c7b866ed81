"""benchmarks/masked_thresholds.py: peak picking whose thresholds drop where another class fires."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from masked_thresholds import pick_masked  # noqa: E402

from drumscribe.peaks import pick_peaks  # noqa: E402


def _bump(act: np.ndarray, frame: int, cls: int, height: float) -> None:
    act[frame - 2 : frame + 3, cls] = np.maximum(
        act[frame - 2 : frame + 3, cls], [0.0, 0.1, height, 0.1, 0.0]
    )


def test_delta_zero_is_plain_picking_and_a_masked_stroke_needs_delta():
    rng = np.random.default_rng(0)
    act = (rng.random((400, 5)) * 0.3).astype(np.float32)
    for f in range(20, 380, 25):
        _bump(act, f, int(rng.integers(5)), float(rng.uniform(0.3, 1.0)))
    plain = [t for t, _ in pick_peaks(act, 0.5, fps=100.0)]
    for got, want in zip(pick_masked(act, 0.0, 100.0), plain):
        np.testing.assert_array_equal(got, want)

    act = np.zeros((100, 5), np.float32)
    _bump(act, 50, 0, 0.95)  # a kick
    _bump(act, 50, 4, 0.40)  # a crash under it
    _bump(act, 80, 4, 0.40)  # the same crash alone
    assert len(pick_masked(act, 0.0, 100.0)[4]) == 0
    crashes = pick_masked(act, 0.15, 100.0)[4]  # threshold 0.5 - 0.15 * 0.95 = 0.36 under the kick only
    np.testing.assert_allclose(crashes, [0.5])
    np.testing.assert_allclose(pick_masked(act, 0.15, 100.0)[0], [0.5])  # the kick stays
