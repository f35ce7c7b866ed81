"""The drumscribe dataset store: a manifest plus per-track memory-mapped arrays.

Layout of a store folder::

    manifest.json                 format version, name, feature config, classes, tracks, statistics
    tracks/<id>.features.npy      float16 (frames, bands) log spectrogram, read with mmap
    tracks/<id>.onsets.json       onset times [s] per class, and velocities (0-1) where the source has them
    tracks/<id>.targets.npy       optional float16 (frames, classes), for sources that ship targets only
    tracks/<id>.track.json        the track's record; written last, so its presence means "track complete"

Targets are built on the fly from onsets (:func:`drumscribe.targets.onsets_to_targets`), so label maps
and target widening can change without re-conversion. Normalisation statistics (one mean and one std,
SPEC section 5) and the infrequency weights are computed streaming over the training split by
:meth:`StoreWriter.finalize` and saved in the manifest.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetLayoutError
from ..fileio import read_json, save_npy, write_json
from ..targets import DEFAULT_FPS, DEFAULT_WIDEN, onsets_to_targets
from ..vocab import CLASS_NAMES

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "validation", "test")
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def recorded_level_dbfs(meta: dict) -> float | None:
    """The level [dBFS] of a stored track's audio, as its record gives it: ``level_dbfs`` (converted
    datasets: :class:`drumscribe.audio.LevelMeter` on the audio the features were made from) or the
    engine's ``mix.loudness_dbfs`` (renders: the RMS level the track was mixed to, what the meter reads on
    its audio within 0.31 dB on 95 % of the tracks of a 1-hour render); None when neither is recorded
    (stores made before, or from features alone). Evaluations pass it on so that a model whose card asks
    for an input level (:func:`drumscribe.features.input_gain_db`) hears stored tracks as transcription
    would hear their audio."""
    level = meta.get("level_dbfs")
    if level is None:
        level = (meta.get("mix") or {}).get("loudness_dbfs")
    return None if level is None else float(level)


def safe_track_id(track_id: str) -> str:
    """A file-name-safe version of ``track_id`` (slashes and spaces become ``__`` and ``_``)."""
    return _SAFE.sub("_", track_id.replace("/", "__")).strip("._") or "track"


def file_checksum(path: str | Path, algorithm: str = "sha1") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return f"{algorithm}:{h.hexdigest()}"


@dataclass
class TrackRecord:
    """One track of a store."""

    id: str
    split: str
    n_frames: int
    duration_s: float
    n_onsets: list[int]
    has_velocity: bool = False
    has_targets: bool = False
    source_files: list[str] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return safe_track_id(self.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "split": self.split,
            "n_frames": self.n_frames,
            "duration_s": self.duration_s,
            "n_onsets": self.n_onsets,
            "has_velocity": self.has_velocity,
            "has_targets": self.has_targets,
            "source_files": self.source_files,
            "checksums": self.checksums,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackRecord:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class StoreWriter:
    """Writes tracks into a store folder; resumable and safe to interrupt.

    Each track's files are written atomically and its ``.track.json`` record last, so a re-run can skip
    finished tracks with :meth:`has_track`. Several processes may write different tracks of one store at
    once; :meth:`finalize` (run once, at the end) gathers the records into ``manifest.json``.
    """

    def __init__(
        self,
        root: str | Path,
        name: str,
        feature_config: dict[str, Any],
        classes: Sequence[str] = CLASS_NAMES,
        source: dict[str, Any] | None = None,
    ):
        self.root = Path(root)
        self.name = name
        self.feature_config = dict(feature_config)
        self.classes = list(classes)
        self.source = source or {}
        (self.root / "tracks").mkdir(parents=True, exist_ok=True)

    def _path(self, track_id: str, suffix: str) -> Path:
        return self.root / "tracks" / f"{safe_track_id(track_id)}.{suffix}"

    def has_track(self, track_id: str) -> bool:
        return self._path(track_id, "track.json").is_file()

    def write_track(
        self,
        track_id: str,
        split: str,
        features: np.ndarray,
        onsets: Sequence[np.ndarray] | None,
        velocities: Sequence[np.ndarray] | None = None,
        targets: np.ndarray | None = None,
        source_files: Iterable[str | Path] = (),
        checksums: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> TrackRecord:
        """Store one track. ``features`` is (frames, bands); ``onsets`` one array of seconds per class."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f"features of {track_id!r} must be (frames, bands), got shape {features.shape}")
        n_frames = int(features.shape[0])
        if onsets is None and targets is None:
            raise ValueError(f"track {track_id!r} needs onsets or targets")
        if onsets is not None and len(onsets) != len(self.classes):
            raise ValueError(
                f"track {track_id!r}: {len(onsets)} onset arrays for {len(self.classes)} classes"
            )
        save_npy(self._path(track_id, "features.npy"), features.astype(np.float16))
        if targets is not None:
            save_npy(self._path(track_id, "targets.npy"), np.asarray(targets, dtype=np.float16))
        if onsets is not None:
            onset_lists = [np.sort(np.asarray(o, dtype=np.float64)).tolist() for o in onsets]
            vel_lists = None
            if velocities is not None:
                order = [np.argsort(np.asarray(o, dtype=np.float64), kind="stable") for o in onsets]
                vel_lists = [np.asarray(v, dtype=np.float64)[i].tolist() for v, i in zip(velocities, order)]
            write_json(
                self._path(track_id, "onsets.json"),
                {"classes": self.classes, "onsets": onset_lists, "velocities": vel_lists},
                indent=None,
            )
            n_onsets = [len(o) for o in onset_lists]
        else:
            t = np.asarray(targets)
            n_onsets = [int((t[:, c] >= 1.0).sum()) for c in range(t.shape[1])]
        record = TrackRecord(
            id=track_id,
            split=split,
            n_frames=n_frames,
            duration_s=n_frames / float(self.feature_config.get("fps", DEFAULT_FPS)),
            n_onsets=n_onsets,
            has_velocity=velocities is not None,
            has_targets=targets is not None,
            source_files=[str(p) for p in source_files],
            checksums=dict(checksums or {}),
            meta=dict(meta or {}),
        )
        write_json(self._path(track_id, "track.json"), record.to_dict())
        return record

    def records(self) -> list[TrackRecord]:
        out = []
        for p in sorted((self.root / "tracks").glob("*.track.json")):
            out.append(TrackRecord.from_dict(read_json(p)))
        return out

    def finalize(self, extra: dict[str, Any] | None = None, widen: float = DEFAULT_WIDEN) -> dict[str, Any]:
        """Gather track records, compute training statistics, and write ``manifest.json`` atomically."""
        records = self.records()
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "classes": self.classes,
            "feature_config": self.feature_config,
            "source": self.source,
            "tracks": [r.to_dict() for r in records],
            "stats": None,
        }
        if extra:
            manifest.update(extra)
        write_json(self.root / MANIFEST, manifest)
        store = Store(self.root)
        manifest["stats"] = compute_statistics(store, split="train", widen=widen)
        write_json(self.root / MANIFEST, manifest)
        return manifest


def mean_std(s1: float, s2: float, n: int) -> tuple[float, float]:
    """Mean and (population) standard deviation from the sum ``s1`` and sum of squares ``s2`` of ``n`` values."""
    mean = s1 / n
    return mean, math.sqrt(max(s2 / n - mean * mean, 0.0))


def entropy_class_weights(onset_frames: Iterable[int], n_frames: int) -> list[float]:
    """Per-class loss weight w_c = 1 / H(p_c) (SPEC section 5), H the natural-log binary entropy of the share
    p_c of frames whose target is exactly 1; p is clamped into [1e-10, 1 - 1e-10] (absent or ubiquitous class)."""
    weights = []
    for count in onset_frames:
        p = min(max(count / max(n_frames, 1), 1e-10), 1 - 1e-10)
        weights.append(1.0 / (-p * math.log(p) - (1 - p) * math.log(1 - p)))
    return weights


def compute_statistics(
    store: Store, split: str = "train", widen: float = DEFAULT_WIDEN
) -> dict[str, Any] | None:
    """Streaming mean/std of all feature values and infrequency weights (SPEC section 5) over ``split``.

    p_c counts frames whose target is exactly 1; w_c = 1 / H(p_c) with the natural-log binary entropy.
    """
    ids = store.track_ids(split)
    used_split = split
    if not ids:
        ids = store.track_ids()
        used_split = "all"
    if not ids:
        return None
    total = 0
    s1 = 0.0
    s2 = 0.0
    onset_frames = np.zeros(len(store.classes), dtype=np.int64)
    n_frames = 0
    for tid in ids:
        x = np.asarray(store.features(tid), dtype=np.float64)
        total += x.size
        s1 += float(x.sum())
        s2 += float(np.square(x).sum())
        t = store.targets(tid, widen=widen)
        onset_frames += (t == 1.0).sum(axis=0)
        n_frames += t.shape[0]
    mean, std = mean_std(s1, s2, total)
    weights = entropy_class_weights(onset_frames, n_frames)
    return {
        "split": used_split,
        "mean": mean,
        "std": std,
        "n_values": total,
        "n_frames": n_frames,
        "onset_frames": onset_frames.tolist(),
        "class_weights": weights,
    }


class Store:
    """Read access to a store folder. Features are memory-mapped; nothing is loaded whole."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise DatasetLayoutError(
                f"{self.root}: not a drumscribe dataset store (no {MANIFEST}); "
                "create one with 'drumscribe convert' or 'drumscribe synth'"
            )
        self.manifest = read_json(path)
        version = self.manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise DatasetLayoutError(f"{path}: store format version {version}, expected {FORMAT_VERSION}")
        self.name: str = self.manifest["name"]
        self.classes: list[str] = list(self.manifest["classes"])
        self.feature_config: dict[str, Any] = self.manifest["feature_config"]
        self.fps = float(self.feature_config.get("fps", DEFAULT_FPS))
        self.records = {r["id"]: TrackRecord.from_dict(r) for r in self.manifest["tracks"]}

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, name={self.name!r}, tracks={len(self)})"

    @property
    def stats(self) -> dict[str, Any] | None:
        return self.manifest.get("stats")

    def track_ids(self, split: str | None = None) -> list[str]:
        return [tid for tid, r in self.records.items() if split is None or r.split == split]

    def _path(self, track_id: str, suffix: str) -> Path:
        return self.root / "tracks" / f"{safe_track_id(track_id)}.{suffix}"

    def features(self, track_id: str) -> np.ndarray:
        """(frames, bands) float16, memory-mapped read-only."""
        return np.load(self._path(track_id, "features.npy"), mmap_mode="r", allow_pickle=False)

    def _onset_file(self, track_id: str) -> dict[str, Any] | None:
        p = self._path(track_id, "onsets.json")
        return read_json(p) if p.is_file() else None

    def onsets(self, track_id: str) -> list[np.ndarray]:
        """Onset times [s] per class (from the targets' 1-frames when the source shipped targets only)."""
        data = self._onset_file(track_id)
        if data is not None:
            return [np.asarray(o, dtype=np.float64) for o in data["onsets"]]
        t = np.load(self._path(track_id, "targets.npy"), allow_pickle=False)
        return [np.flatnonzero(t[:, c] >= 1.0) / self.fps for c in range(t.shape[1])]

    def velocities(self, track_id: str) -> list[np.ndarray] | None:
        data = self._onset_file(track_id)
        if data is None or data.get("velocities") is None:
            return None
        return [np.asarray(v, dtype=np.float64) for v in data["velocities"]]

    def targets(self, track_id: str, widen: float = DEFAULT_WIDEN) -> np.ndarray:
        """(frames, classes) float32 targets, built from onsets (or the stored targets)."""
        record = self.records[track_id]
        if record.has_targets:
            return np.asarray(np.load(self._path(track_id, "targets.npy"), mmap_mode="r"), dtype=np.float32)
        return onsets_to_targets(self.onsets(track_id), record.n_frames, fps=self.fps, widen=widen)
