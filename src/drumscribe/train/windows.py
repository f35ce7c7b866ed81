"""Training-window augmentation (applied by :class:`drumscribe.data.loader.WindowDataset`, which draws
the windows of ``drumscribe train``, to the raw log features before standardisation)."""

from __future__ import annotations

import numpy as np


def augment_window(x: np.ndarray, rng: np.random.Generator, gain_db: float, freq_mask: int) -> np.ndarray:
    """Apply the training augmentations of :class:`~drumscribe.train.config.TrainConfig` to one window."""
    if gain_db > 0:
        gain = 10.0 ** (rng.uniform(-gain_db, gain_db) / 20.0)
        x = np.log10(1.0 + gain * np.expm1(x * np.log(10.0))).astype(np.float32)
    if freq_mask > 0:
        width = int(rng.integers(0, freq_mask + 1))
        if width:
            lo = int(rng.integers(0, x.shape[1] - width + 1))
            x = x.copy()
            x[:, lo : lo + width] = 0.0
    return x
