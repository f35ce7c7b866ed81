"""Full mix or isolated drums? Per-class thresholds for the kind of recording.

A model trained on mixes learns to fire on the band's attacks (a pick, a strum, a piano chop) now and then,
so its card's thresholds are set high enough to keep those out; on an isolated drum track (a stem from a
DAW or a source separator) there is no band, and the same thresholds only cost recall. A card may hold a
second set, ``thresholds_drums_only``, chosen on drum-only recordings. Which set a recording gets follows
from how *harmonic* it is: a median-filter harmonic/percussive split of the log spectrogram between
150 Hz and 3 kHz (horizontal ridges are harmonic, vertical ones percussive; Fitzgerald 2010) gives the
share of that band's energy that is harmonic. Drum kits alone score low (their toms and cymbals ring,
but briefly), songs with a band score high. Between the two limits the thresholds are interpolated.

The limits sit between what real recordings show: on the MDB Drums tracks in ``../shared/data/mdb-dev``
the drum-only stems score 0.06-0.29 and the mixes 0.53-0.64 (``tests/test_inputkind.py`` checks each falls
on its side). Synthetic tracks overlap more (one render of the engine, seed 9, 480 tracks: drum-only
tracks median 0.28, but a third above 0.40, where ringing cymbals, reverb and degradations add sustained
energy; mixes 4 % below 0.40 and 11 % below 0.46, mostly with a quiet band). The errors fall on the safe
side: a drum track told as a mix keeps the mix thresholds (some recall lost), and a mix below 0.40 has
little band to fire false hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..features import FeatureConfig, band_frequencies

INPUT_KINDS = ("auto", "mix", "drums")
BAND_HZ = (150.0, 3000.0)
TIME_MEDIAN_FRAMES = 31  # harmonic ridge length (0.31 s at 100 fps)
FREQ_MEDIAN_BANDS = 9  # percussive ridge height (3/4 octave at 12 bands per octave)
DRUMS_BELOW = 0.40  # harmonic share below which a recording counts as drums only
MIX_ABOVE = 0.46  # and above which as a mix
BLOCK_FRAMES = 400  # the share is measured on at most MAX_BLOCKS blocks spread over the recording
MAX_BLOCKS = 6


def check_input_kind(kind: str) -> str:
    if kind not in INPUT_KINDS:
        raise ConfigError(f"input kind must be one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    return kind


def _blocks(n_frames: int) -> list[tuple[int, int]]:
    """At most MAX_BLOCKS blocks of BLOCK_FRAMES frames, evenly spread (bounded cost on long files)."""
    if n_frames <= BLOCK_FRAMES * MAX_BLOCKS:
        return [(0, n_frames)]
    starts = np.linspace(0, n_frames - BLOCK_FRAMES, MAX_BLOCKS).astype(int)
    return [(int(s), int(s) + BLOCK_FRAMES) for s in starts]


def median_along(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Running median of odd ``size`` along ``axis`` of a 2-D array, edges extended (the result of
    ``scipy.ndimage.median_filter`` with a 1-D window and ``mode="nearest"``, without importing
    scipy.ndimage, which costs ~0.25 s at start-up, more than the filtering here)."""
    half = size // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (half, half)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad, mode="edge"), size, axis=axis)
    return np.median(windows, axis=-1).astype(x.dtype, copy=False)


def median_powers(mag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(harmonic, percussive) power of a magnitude spectrogram (T, bands) by median filtering (float64): the
    squared running median along time (:data:`TIME_MEDIAN_FRAMES`) and along frequency
    (:data:`FREQ_MEDIAN_BANDS`); ``h2 / (h2 + p2)`` is the soft harmonic mask (Fitzgerald 2010)."""
    h2 = median_along(mag, TIME_MEDIAN_FRAMES, axis=0).astype(np.float64) ** 2
    p2 = median_along(mag, FREQ_MEDIAN_BANDS, axis=1).astype(np.float64) ** 2
    return h2, p2


def harmonic_share(spec: np.ndarray, config: FeatureConfig) -> float | None:
    """Share (0..1) of the 150 Hz-3 kHz energy of a log spectrogram (T, bands) that a median-filter
    harmonic/percussive split calls harmonic; None when the recording is too short or silent to tell."""
    spec = np.asarray(spec)
    freqs = band_frequencies(config)
    lo, hi = (int(i) for i in np.searchsorted(freqs, BAND_HZ))
    if spec.ndim != 2 or spec.shape[1] != len(freqs) or len(spec) < TIME_MEDIAN_FRAMES or hi - lo < 2:
        return None
    harmonic = total = 0.0
    for s, e in _blocks(len(spec)):
        mag = np.maximum(10.0 ** spec[s:e, lo:hi].astype(np.float32) - np.float32(config.log_add), 0.0)
        h2, p2 = median_powers(mag)
        energy = mag.astype(np.float64) ** 2
        mask = h2 / (h2 + p2 + 1e-20)
        harmonic += float((mask * energy).sum())
        total += float(energy.sum())
    return harmonic / total if total > 1e-12 else None


def drums_only_weight(share: float | None) -> float:
    """1 below DRUMS_BELOW (isolated drums), 0 above MIX_ABOVE (a mix) or when unknown, linear between."""
    if share is None:
        return 0.0
    return float(np.clip((MIX_ABOVE - share) / (MIX_ABOVE - DRUMS_BELOW), 0.0, 1.0))


def kind_thresholds(
    spec: np.ndarray,
    config: FeatureConfig,
    mix_thresholds: Sequence[float],
    drums_thresholds: Sequence[float] | None,
    kind: str = "auto",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-class thresholds for a recording of ``kind`` (auto: measured on ``spec``) and what was decided.

    Without drum-only thresholds every kind gets ``mix_thresholds`` and nothing is measured.
    """
    check_input_kind(kind)
    mix = np.asarray(mix_thresholds, dtype=np.float64)
    info: dict[str, Any] = {"requested": kind}
    if drums_thresholds is None:
        info["drums_only_weight"] = 0.0
        info["note"] = "the model card has one threshold set, used for every kind of recording"
        return mix, info
    drums = np.asarray(drums_thresholds, dtype=np.float64)
    if kind == "auto":
        share = harmonic_share(spec, config)
        info["harmonic_share"] = None if share is None else round(share, 4)
        weight = drums_only_weight(share)
    else:
        weight = 1.0 if kind == "drums" else 0.0
    info["drums_only_weight"] = round(weight, 4)
    return mix + weight * (drums - mix), info
