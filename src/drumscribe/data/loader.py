"""PyTorch datasets over one or more stores: random training windows, evaluation tiles, whole tracks.

Nothing per track is loaded up front: the index holds a few numbers per track (frames, store, flags) and
features are read from the memory-mapped ``.features.npy`` files when a window is asked for, so memory
stays flat however many tracks the stores hold. Targets are built on the fly from the onsets (or sliced
from stored targets, ADTOF-YT), exactly as :meth:`Store.targets` builds them for the whole track.

Training windows are drawn with a generator seeded by ``(seed, epoch, index)``, so an epoch is the same
with any number of DataLoader workers; call :meth:`WindowDataset.set_epoch` each epoch. The same
generator then drives the optional ``augment`` of the raw (unstandardised) window features. This is
the dataset ``drumscribe train`` draws its windows from.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError
from ..targets import DEFAULT_WIDEN, onset_frames
from .store import Store, compute_statistics, entropy_class_weights, mean_std, safe_track_id

log = logging.getLogger(__name__)

DEFAULT_WINDOW_FRAMES = 400
MODES = ("train", "eval", "track")
_CACHE_SIZE = 64


@dataclass
class TrackItem:
    """One whole track: standardised features (1, T, bands), targets (T, classes) and its onsets [s]."""

    store: str
    track_id: str
    features: torch.Tensor
    targets: torch.Tensor
    onsets: list[np.ndarray]
    fps: float


def _as_stores(stores: Store | str | Path | Sequence[Store | str | Path]) -> list[Store]:
    if isinstance(stores, (Store, str, Path)):
        stores = [stores]
    out = [s if isinstance(s, Store) else Store(s) for s in stores]
    if not out:
        raise ConfigError("no dataset store given")
    return out


def combined_statistics(
    stores: Store | str | Path | Sequence[Store | str | Path],
    split: str = "train",
    widen: float = DEFAULT_WIDEN,
) -> dict[str, Any]:
    """Mean, std and infrequency weights over the union of the stores' ``split`` tracks (count-weighted).

    Uses each store's saved statistics when they cover ``split``, else computes them streaming. Stores
    without tracks in ``split`` are left out; the result equals the statistics of one store holding all
    the tracks (SPEC section 5: one scalar mean and std; w_c = 1 / H(p_c), p_c counting 1.0-frames).
    """
    stores = _as_stores(stores)
    n_values = 0
    s1 = 0.0
    s2 = 0.0
    n_frames = 0
    onset_counts = None
    used = []
    for store in stores:
        if not store.track_ids(split):
            continue
        stats = store.stats
        if not stats or stats.get("split") != split or "onset_frames" not in stats:
            stats = compute_statistics(store, split=split, widen=widen)
        n = int(stats["n_values"])
        mean, std = float(stats["mean"]), float(stats["std"])
        n_values += n
        s1 += mean * n
        s2 += (std * std + mean * mean) * n
        n_frames += int(stats["n_frames"])
        counts = np.asarray(stats["onset_frames"], dtype=np.int64)
        onset_counts = counts if onset_counts is None else onset_counts + counts
        used.append(store.name)
    if not used or onset_counts is None:
        raise ConfigError(f"none of the stores {[s.name for s in stores]} has tracks in split {split!r}")
    mean, std = mean_std(s1, s2, n_values)
    weights = entropy_class_weights(onset_counts, n_frames)
    return {
        "split": split,
        "stores": used,
        "mean": mean,
        "std": std,
        "n_values": n_values,
        "n_frames": n_frames,
        "onset_frames": onset_counts.tolist(),
        "class_weights": weights,
    }


def flatten_onset_frames(frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(frames, classes) of all onsets of a track in one pair of arrays sorted by frame."""
    f = (
        np.concatenate([np.asarray(x, dtype=np.int64) for x in frames])
        if len(frames)
        else np.zeros(0, np.int64)
    )
    c = (
        np.concatenate([np.full(len(x), k, dtype=np.int64) for k, x in enumerate(frames)])
        if len(frames)
        else f
    )
    order = np.argsort(f, kind="stable")
    return f[order], c[order]


def _window_targets_flat(
    frames: np.ndarray,
    classes: np.ndarray,
    n_classes: int,
    start: int,
    stop: int,
    n_frames: int,
    widen: float,
) -> np.ndarray:
    out = np.zeros((stop - start, n_classes), dtype=np.float32)
    lo, hi = np.searchsorted(frames, [start - 1, stop + 1])
    f = frames[lo:hi]
    if f.size == 0:
        return out
    c = classes[lo:hi]
    ok = (f >= 0) & (f < n_frames)
    f, c = f[ok], c[ok]
    inside = (f >= start) & (f < stop)
    out[f[inside] - start, c[inside]] = 1.0
    if widen > 0:
        nf = np.concatenate([f - 1, f + 1])
        nc = np.concatenate([c, c])
        ok = (nf >= max(start, 0)) & (nf < min(stop, n_frames))
        nf, nc = nf[ok] - start, nc[ok]
        keep = out[nf, nc] != 1.0
        out[nf[keep], nc[keep]] = widen
    return out


def window_targets(
    frames: Sequence[np.ndarray], start: int, stop: int, n_frames: int, widen: float = DEFAULT_WIDEN
) -> np.ndarray:
    """Rows ``start:stop`` of ``onsets_to_targets`` for a track of ``n_frames`` frames, computed locally.

    ``frames`` holds one int array of onset frames per class. Rows past the track end are 0.
    """
    flat_f, flat_c = flatten_onset_frames(frames)
    return _window_targets_flat(flat_f, flat_c, len(frames), start, stop, n_frames, widen)


class WindowDataset(Dataset):
    """Fixed-length windows from the ``split`` tracks of one or more stores.

    ``mode="train"``: each item is a random window; the track is drawn with probability proportional to
    its length times its store's weight (``weights``, one per store, default 1), the offset uniformly
    (inside one segment for stores of fixed segments, ADTOF-YT). ``len`` is the number of
    non-overlapping windows in the split (one epoch sees as many frames as the data holds), unless
    ``epoch_windows`` is given. ``mode="eval"``: tiles covering every track from frame 0 in steps of
    ``window_frames``, the last one zero-padded. ``mode="track"``: one whole track per item.

    Items are ``(features, targets)``: float32 (1, T, bands) standardised as (x - mean) / std, and float32
    (T, classes). ``mean``/``std`` default to :func:`combined_statistics` of the stores' training splits.
    ``augment(features, rng)`` (train mode only) transforms each window's raw log features before they
    are standardised, with the window's own generator (e.g. :func:`drumscribe.train.windows.augment_window`).
    ``mix(features_a, features_b, rng)`` with ``mix_prob`` (train mode only): that share of the windows
    are two drawn windows' raw features mixed (e.g. :func:`drumscribe.train.windows.mix_windows`), with the
    union of their targets: denser drums under more masking, and another recording's band as distractor.
    ``min_velocity`` (train mode only; one value in [0, 1) per class, 0 = keep all) drops the onsets of
    tracks with velocities whose velocity is below their class's value from the targets: those frames
    become negatives. Ghost notes (snare strokes at MIDI velocity ~10-40) are inaudible under a band and
    rarely annotated in real recordings; kept as positives, they teach the model that any faint
    snare-like transient is a snare.
    """

    def __init__(
        self,
        stores: Store | str | Path | Sequence[Store | str | Path],
        split: str,
        window_frames: int = DEFAULT_WINDOW_FRAMES,
        mode: str = "train",
        weights: Sequence[float] | None = None,
        widen: float = DEFAULT_WIDEN,
        seed: int = 0,
        mean: float | None = None,
        std: float | None = None,
        epoch_windows: int | None = None,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        mix: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray] | None = None,
        mix_prob: float = 0.0,
        min_velocity: Sequence[float] | None = None,
    ):
        if mode not in MODES:
            raise ConfigError(f"WindowDataset mode must be one of {MODES}, not {mode!r}")
        if window_frames <= 0:
            raise ConfigError(f"window_frames must be positive, got {window_frames}")
        if not 0.0 <= mix_prob <= 1.0:
            raise ConfigError(f"mix_prob must be in [0, 1], got {mix_prob}")
        store_list = _as_stores(stores)
        if min_velocity is not None:
            min_velocity = [float(v) for v in min_velocity]
            if len(min_velocity) != len(store_list[0].classes) or not all(
                0.0 <= v < 1.0 for v in min_velocity
            ):
                raise ConfigError(
                    f"min_velocity needs one value in [0, 1) per class of {store_list[0].classes}, "
                    f"got {min_velocity}"
                )
            if mode != "train" or not any(min_velocity):
                min_velocity = None
        self.min_velocity = min_velocity
        if weights is not None and len(weights) != len(store_list):
            raise ConfigError(f"{len(weights)} weights for {len(store_list)} stores")
        self.split = split
        self.window_frames = int(window_frames)
        self.mode = mode
        self.widen = float(widen)
        self.seed = int(seed)
        self.epoch = 0
        self.store_weights = np.asarray(
            weights if weights is not None else [1.0] * len(store_list), dtype=float
        )
        if np.any(self.store_weights < 0) or not np.all(np.isfinite(self.store_weights)):
            raise ConfigError(f"store weights must be finite and >= 0, got {list(self.store_weights)}")
        bands = {int(s.features(s.track_ids()[0]).shape[1]) for s in store_list if len(s)}
        if len(bands) > 1:
            raise ConfigError(
                f"stores have different feature sizes {sorted(bands)}: {[str(s.root) for s in store_list]}"
            )
        fps = {s.fps for s in store_list}
        if len(fps) > 1:
            raise ConfigError(f"stores have different frame rates {sorted(fps)}")
        self.fps = fps.pop()
        self.n_bands = bands.pop() if bands else 0
        self.classes = list(store_list[0].classes)
        for s in store_list[1:]:
            if list(s.classes) != self.classes:
                raise ConfigError(
                    f"{s.root}: classes {s.classes} differ from {self.classes} of {store_list[0].root}"
                )
        if mean is None or std is None:
            try:
                stats = combined_statistics(store_list, "train", widen=widen)
            except ConfigError as exc:
                raise ConfigError(f"{exc}: pass mean= and std= (e.g. a model card's normalisation)") from None
            mean = stats["mean"] if mean is None else mean
            std = stats["std"] if std is None else std
        if not std or std <= 0:
            raise ConfigError(f"normalisation std must be positive, got {std}")
        self.mean = float(mean)
        self.std = float(std)

        # the index: a few numbers per track, nothing else
        self.roots = [str(s.root) for s in store_list]
        self.store_names = [s.name for s in store_list]
        ids: list[str] = []
        store_of: list[int] = []
        n_frames: list[int] = []
        has_targets: list[bool] = []
        segment: list[int] = []
        for i, s in enumerate(store_list):
            for tid in s.track_ids(split):
                r = s.records[tid]
                ids.append(tid)
                store_of.append(i)
                n_frames.append(int(r.n_frames))
                has_targets.append(bool(r.has_targets))
                segment.append(int(r.meta.get("segment_frames", 0) or 0))
        if not ids:
            raise ConfigError(f"no tracks in split {split!r} of {', '.join(self.roots)}")
        self.track_ids = np.asarray([t.encode("utf-8") for t in ids])  # fixed-width bytes, 1 byte a char
        self.store_of = np.asarray(store_of, dtype=np.int32)
        self.n_frames = np.asarray(n_frames, dtype=np.int64)
        self.has_targets = np.asarray(has_targets, dtype=bool)
        self.segment_frames = np.asarray(segment, dtype=np.int64)
        self.epoch_windows = epoch_windows
        self.augment = augment
        self.mix = mix
        self.mix_prob = float(mix_prob) if mix is not None else 0.0
        if mode == "train":
            p = self.n_frames * self.store_weights[self.store_of]
            if p.sum() <= 0:
                raise ConfigError("all training tracks have zero sampling weight")
            self._cum = np.cumsum(p / p.sum())
            self._cum[-1] = 1.0
        else:
            tiles = np.maximum(1, -(-self.n_frames // self.window_frames))
            self._cum_tiles = np.cumsum(tiles)
        self._features_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._frames_cache: OrderedDict[int, Any] = OrderedDict()

    # -- pickling for DataLoader workers: caches of open memmaps are not shipped ----------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_features_cache"] = OrderedDict()
        state["_frames_cache"] = OrderedDict()
        return state

    def set_epoch(self, epoch: int) -> None:
        """Draw a different (reproducible) set of training windows for ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.mode == "train":
            if self.epoch_windows is not None:
                return int(self.epoch_windows)
            return max(1, int(self.n_frames.sum() // self.window_frames))
        if self.mode == "eval":
            return int(self._cum_tiles[-1])
        return len(self.n_frames)

    @property
    def n_tracks(self) -> int:
        return len(self.n_frames)

    def track_id(self, t: int) -> str:
        return self.track_ids[t].decode("utf-8")

    def _path(self, t: int, suffix: str) -> Path:
        return Path(self.roots[self.store_of[t]]) / "tracks" / f"{safe_track_id(self.track_id(t))}.{suffix}"

    def _cached(self, cache: OrderedDict, t: int, load) -> Any:
        value = cache.get(t)
        if value is None:
            value = load()
            cache[t] = value
            if len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(t)
        return value

    def _features(self, t: int) -> np.ndarray:
        return self._cached(
            self._features_cache,
            t,
            lambda: np.load(self._path(t, "features.npy"), mmap_mode="r", allow_pickle=False),
        )

    def _onset_frames(self, t: int) -> Any:
        def load() -> Any:
            if self.has_targets[t]:
                return np.load(self._path(t, "targets.npy"), mmap_mode="r", allow_pickle=False)
            import json

            with open(self._path(t, "onsets.json"), encoding="utf-8") as fh:
                data = json.load(fh)
            onsets = [np.asarray(o, dtype=np.float64) for o in data["onsets"]]
            velocities = data.get("velocities")
            if self.min_velocity is not None and velocities is not None:
                onsets = [
                    o[np.asarray(v, dtype=np.float64) >= floor]
                    for o, v, floor in zip(onsets, velocities, self.min_velocity)
                ]
            return flatten_onset_frames([onset_frames(o, self.fps) for o in onsets])

        return self._cached(self._frames_cache, t, load)

    def window(
        self, t: int, start: int, length: int | None = None, rng: np.random.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``start:start+length`` of track ``t``: standardised (1, length, bands), targets (length, C).

        With ``rng`` and an ``augment`` function the raw features are augmented before standardising.
        """
        feats, targets = self._raw_window(t, start, self.window_frames if length is None else int(length))
        return self._finish(feats, targets, rng)

    def _finish(
        self, feats: np.ndarray, targets: np.ndarray, rng: np.random.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment (with ``rng``) and standardise raw window features; both as tensors."""
        if rng is not None and self.augment is not None:
            feats = np.array(self.augment(feats, rng), dtype=np.float32)
        feats -= self.mean
        feats /= self.std
        return torch.from_numpy(feats).unsqueeze(0), torch.from_numpy(targets)

    def _raw_window(self, t: int, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw log features (length, bands) and targets (length, C) of frames ``start:start+length``."""
        n = int(self.n_frames[t])
        stop = start + length
        feats = np.zeros((length, self.n_bands), dtype=np.float32)
        src = self._features(t)[max(start, 0) : min(stop, n)]
        feats[max(start, 0) - start : max(start, 0) - start + len(src)] = src
        frames = self._onset_frames(t)
        if self.has_targets[t]:
            targets = np.zeros((length, len(self.classes)), dtype=np.float32)
            part = frames[max(start, 0) : min(stop, n)]
            targets[max(start, 0) - start : max(start, 0) - start + len(part)] = part
        else:
            targets = _window_targets_flat(*frames, len(self.classes), start, stop, n, self.widen)
        return feats, targets

    def random_start(self, t: int, rng: np.random.Generator) -> int:
        """A uniformly random window start in track ``t`` (inside one segment where tracks are segmented)."""
        n = int(self.n_frames[t])
        w = self.window_frames
        seg = int(self.segment_frames[t])
        if seg and w <= seg:
            k = int(rng.integers(0, max(1, n // seg)))
            return k * seg + int(rng.integers(0, seg - w + 1))
        if seg:
            return int(rng.integers(0, max(1, (n - w) // seg + 1))) * seg
        return int(rng.integers(0, max(n - w, 0) + 1))

    def draw(self, i: int, rng: np.random.Generator | None = None) -> tuple[int, int]:
        """(track index, start frame) of training window ``i`` in the current epoch."""
        rng = self.window_rng(i) if rng is None else rng
        t = min(int(np.searchsorted(self._cum, rng.random(), side="right")), self.n_tracks - 1)
        return t, self.random_start(t, rng)

    def window_rng(self, i: int) -> np.random.Generator:
        """The generator of training window ``i`` in the current epoch (its draw, then its augmentation)."""
        return np.random.default_rng((self.seed, self.epoch, int(i)))

    def tile(self, i: int) -> tuple[int, int]:
        """(track index, start frame) of evaluation tile ``i``."""
        t = int(np.searchsorted(self._cum_tiles, i, side="right"))
        before = int(self._cum_tiles[t - 1]) if t else 0
        return t, (i - before) * self.window_frames

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i < 0 or i >= len(self):
            raise IndexError(i)
        if self.mode == "train":
            rng = self.window_rng(i)
            t, start = self.draw(i, rng)
            if self.mix_prob > 0 and rng.random() < self.mix_prob:
                feats, targets = self._raw_window(t, start, self.window_frames)
                t2, start2 = self.draw(i, rng)
                feats2, targets2 = self._raw_window(t2, start2, self.window_frames)
                return self._finish(self.mix(feats, feats2, rng), np.maximum(targets, targets2), rng)
            return self.window(t, start, rng=rng)
        if self.mode == "eval":
            t, start = self.tile(i)
            return self.window(t, start)
        return self.window(int(i), 0, int(self.n_frames[i]))

    def track(self, t: int) -> TrackItem:
        """Whole track ``t`` with its id and reference onsets [s]."""
        n = int(self.n_frames[t])
        feats, targets = self.window(t, 0, n)
        if self.has_targets[t]:
            onsets = [
                np.flatnonzero(targets[:, c].numpy() >= 1.0) / self.fps for c in range(targets.shape[1])
            ]
        else:
            import json

            with open(self._path(t, "onsets.json"), encoding="utf-8") as fh:
                onsets = [np.asarray(o, dtype=np.float64) for o in json.load(fh)["onsets"]]
        return TrackItem(
            self.store_names[self.store_of[t]], self.track_id(t), feats, targets, onsets, self.fps
        )

    def iter_tracks(self) -> Iterator[TrackItem]:
        """Every track of the split, whole, in store then manifest order."""
        for t in range(self.n_tracks):
            yield self.track(t)
