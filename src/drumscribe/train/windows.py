"""Training windows drawn from dataset stores (statistics pooled over stores:
:func:`drumscribe.data.loader.combined_statistics`).

Each epoch is a list of windows ``(store, track, start)`` drawn with a generator seeded by (seed, epoch),
so an epoch is reproducible and a resumed run sees the same windows. Without ``steps_per_epoch`` an
epoch tiles every training track with ``window_frames`` windows (one pass, each start jittered by up to
half a window); with it, ``steps_per_epoch * batch_size`` windows are sampled, stores chosen by
``dataset_weights`` (default: proportional to their size). Windows past a track's end are zero-padded
(silence in log features, no onsets).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.store import Store
from ..errors import DatasetLayoutError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackRef:
    store: int
    track_id: str
    n_frames: int


def split_tracks(stores: Sequence[Store], split: str) -> list[TrackRef]:
    """All tracks of ``split`` in ``stores``, in store then manifest order."""
    return [
        TrackRef(i, tid, int(s.records[tid].n_frames))
        for i, s in enumerate(stores)
        for tid in s.track_ids(split)
    ]


class WindowSampler:
    """Reads fixed-length windows of features and targets from the training split of several stores."""

    def __init__(self, stores: Sequence[Store], window_frames: int = 400, split: str = "train"):
        self.stores = list(stores)
        self.window_frames = int(window_frames)
        self.tracks = split_tracks(self.stores, split)
        if not self.tracks:
            names = ", ".join(str(s.root) for s in self.stores)
            raise DatasetLayoutError(f"{names}: no tracks in the {split!r} split to train on")
        self._targets: dict[int, np.ndarray] = {}
        self.tiles = np.array([max(1, math.ceil(t.n_frames / self.window_frames)) for t in self.tracks])

    def targets(self, index: int) -> np.ndarray:
        """Cached (frames, classes) targets of track ``index`` (float16: 0, 0.5 and 1 are exact)."""
        t = self._targets.get(index)
        if t is None:
            ref = self.tracks[index]
            t = np.ascontiguousarray(self.stores[ref.store].targets(ref.track_id), dtype=np.float16)
            self._targets[index] = t
        return t

    def epoch_windows(
        self,
        seed: int,
        epoch: int,
        n_windows: int | None = None,
        dataset_weights: Sequence[float] | None = None,
    ) -> np.ndarray:
        """(N, 2) int64 array of (track index, start frame), shuffled, reproducible from (seed, epoch)."""
        rng = np.random.default_rng([int(seed), int(epoch), 0x5EED])
        w = self.window_frames
        n_frames = np.array([t.n_frames for t in self.tracks])
        max_start = np.maximum(n_frames - w, 0)
        if n_windows is None and dataset_weights is None:
            track = np.repeat(np.arange(len(self.tracks)), self.tiles)
            tile = np.concatenate([np.arange(k) for k in self.tiles])
            jitter = rng.integers(-(w // 2), w // 2 + 1, size=len(track))
            start = np.clip(tile * w + jitter, 0, max_start[track])
        else:
            n = int(n_windows if n_windows is not None else self.tiles.sum())
            store_of = np.array([t.store for t in self.tracks])
            if dataset_weights is None:
                probs = self.tiles / self.tiles.sum()
            else:
                dw = np.asarray(dataset_weights, dtype=np.float64)
                per_store = np.array([self.tiles[store_of == i].sum() for i in range(len(self.stores))])
                probs = np.zeros(len(self.tracks))
                for i in range(len(self.stores)):
                    if per_store[i] > 0:
                        probs[store_of == i] = dw[i] * self.tiles[store_of == i] / per_store[i]
                probs /= probs.sum()
            track = rng.choice(len(self.tracks), size=n, p=probs)
            start = (rng.random(n) * (max_start[track] + 1)).astype(np.int64)
        order = rng.permutation(len(track))
        return np.stack([track[order], start[order]], axis=1).astype(np.int64)

    def window(self, index: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Features (W, bands) and targets (W, classes) float32 from ``start``, zero-padded at the end."""
        ref = self.tracks[index]
        feats = self.stores[ref.store].features(ref.track_id)
        targ = self.targets(index)
        w = self.window_frames
        x = np.zeros((w, feats.shape[1]), dtype=np.float32)
        y = np.zeros((w, targ.shape[1]), dtype=np.float32)
        stop = min(start + w, ref.n_frames)
        x[: stop - start] = feats[start:stop]
        y[: stop - start] = targ[start:stop]
        return x, y


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
