"""Training-window augmentation (applied by :class:`drumscribe.data.loader.WindowDataset`, which draws
the windows of ``drumscribe train``, to the raw log features before standardisation)."""

from __future__ import annotations

import numpy as np

from ..features import apply_gain


def random_eq_db(rng: np.random.Generator, n_bands: int, eq_db: float) -> np.ndarray:
    """A smooth random EQ curve [dB] over ``n_bands`` bands: a tilt of up to +-``eq_db`` from the lowest to
    the highest band plus one bell of up to +-``eq_db`` (centre anywhere, width 3-12 bands, Gaussian)."""
    bands = np.arange(n_bands, dtype=np.float64)
    tilt = rng.uniform(-eq_db, eq_db) * (bands / max(n_bands - 1, 1) - 0.5)
    centre, width = rng.uniform(0, n_bands - 1), rng.uniform(3.0, 12.0)
    bell = rng.uniform(-eq_db, eq_db) * np.exp(-0.5 * ((bands - centre) / width) ** 2)
    return tilt + bell


def mix_windows(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, gain_db: float) -> np.ndarray:
    """Log features of the sum of two windows' filterbank magnitudes, ``b`` at a random gain of up to
    +-``gain_db`` dB: log10(1 + (10^a - 1) + g (10^b - 1)), g = 10^(gain/20) (the phases are ignored, as
    in mixing spectrograms for sound event detection)."""
    g = 10.0 ** (rng.uniform(-gain_db, gain_db) / 20.0) if gain_db > 0 else 1.0
    ln10 = np.log(10.0)
    return np.log10(1.0 + np.expm1(a * ln10) + g * np.expm1(b * ln10)).astype(np.float32)


def band_limit(
    x: np.ndarray, rng: np.random.Generator, band_hz: np.ndarray, cutoff_hz: tuple[float, float]
) -> np.ndarray:
    """``x`` as if its audio had nothing above a cutoff drawn log-uniformly in ``cutoff_hz`` [Hz]: the bands
    whose centre (``band_hz``) lies above it set to 0 (silence), as in audio recorded or stored at a low
    sample rate (8-32 kHz) and resampled, whose spectrum ends in a wall at half that rate."""
    lo, hi = cutoff_hz
    cutoff = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    x = x.copy()
    x[:, np.asarray(band_hz) > cutoff] = 0.0
    return x


def augment_window(
    x: np.ndarray,
    rng: np.random.Generator,
    gain_db: float,
    freq_mask: int,
    eq_db: float = 0.0,
    bandlimit: float = 0.0,
    band_hz: np.ndarray | None = None,
    bandlimit_hz: tuple[float, float] = (4000.0, 16000.0),
) -> np.ndarray:
    """Apply the training augmentations of :class:`~drumscribe.train.config.TrainConfig` to one window.

    Gains act on the magnitudes under the log (x = log10(1 + |X|)), as a gain before the spectrogram would.
    With ``bandlimit`` > 0 that share of the windows is :func:`band_limit`-ed (``band_hz``: each band's
    centre frequency); its draws come after the others', so runs without it draw as before.
    """
    if gain_db > 0 or eq_db > 0:
        gain = rng.uniform(-gain_db, gain_db) if gain_db > 0 else 0.0  # [dB]: global, then per band
        if eq_db > 0:
            gain = gain + random_eq_db(rng, x.shape[1], eq_db)
        x = apply_gain(x, gain)
    if freq_mask > 0:
        width = int(rng.integers(0, freq_mask + 1))
        if width:
            lo = int(rng.integers(0, x.shape[1] - width + 1))
            x = x.copy()
            x[:, lo : lo + width] = 0.0
    if bandlimit > 0:
        if band_hz is None or len(band_hz) != x.shape[1]:
            raise ValueError("band limiting needs each band's centre frequency (band_hz)")
        if rng.random() < bandlimit:
            x = band_limit(x, rng, band_hz, bandlimit_hz)
    return x
