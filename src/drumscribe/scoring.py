"""Onset scoring: per-class matching of estimated to reference onsets, and F1 scores (SPEC 0.4 and 8).

``protocol="standard"`` (the default): whole tracks, per class, one-to-one matching of events within
``window_s`` seconds (``|ref - est| <= window_s``), maximising the number of matches. The counts equal those
of ``mir_eval.util.match_events`` and the per-class precision/recall/F1 equal
``mir_eval.onset.f_measure(ref, est, window=window_s)``, including its empty-input rule (a class with no
reference or no estimated onsets scores 0). Micro scores use the counts summed over classes (and over
tracks with :meth:`OnsetScores.sum`); 0/0 gives 0.

``protocol="thesis"`` reproduces the research code (SPEC 8): times become frames ``round(t * fps)``, each
4 s segment (400 frames) is scored separately by a greedy two-pointer pass with a tolerance of
``round(window_s * fps)`` frames, and a 0/0 precision or recall is 1 while an undefined F1 is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .vocab import CLASS_NAMES

PROTOCOLS = ("standard", "thesis")
DEFAULT_WINDOW_S = 0.05
THESIS_FPS = 100.0
THESIS_SEGMENT_FRAMES = 400


def _ratio(num: int, den: int, zero_div: float) -> float:
    return num / den if den else zero_div


@dataclass
class OnsetScores:
    """True positives, false positives and false negatives per class, with derived scores."""

    tp: list[int]
    fp: list[int]
    fn: list[int]
    protocol: str = "standard"
    window_s: float = DEFAULT_WINDOW_S
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not len(self.tp) == len(self.fp) == len(self.fn):
            raise ValueError("tp, fp and fn need one count per class")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; use one of {PROTOCOLS}")
        self.tp, self.fp, self.fn = ([int(v) for v in x] for x in (self.tp, self.fp, self.fn))
        names = _default_names(len(self.tp)) if self.class_names is None else tuple(self.class_names)
        if len(names) != len(self.tp):
            raise ValueError(f"{len(names)} class names for {len(self.tp)} classes")
        self.class_names = names

    @property
    def n_classes(self) -> int:
        return len(self.tp)

    @property
    def _zero_div(self) -> float:
        return 1.0 if self.protocol == "thesis" else 0.0

    def _prf(self, tp: int, fp: int, fn: int) -> tuple[float, float, float]:
        p = _ratio(tp, tp + fp, self._zero_div)
        r = _ratio(tp, tp + fn, self._zero_div)
        if self.protocol == "thesis":
            f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        else:  # equals mir_eval's 2PR/(P+R), and 0 when either side is empty
            f = _ratio(2 * tp, 2 * tp + fp + fn, 0.0)
        return p, r, f

    @property
    def class_precision(self) -> list[float]:
        return [self._prf(*c)[0] for c in zip(self.tp, self.fp, self.fn)]

    @property
    def class_recall(self) -> list[float]:
        return [self._prf(*c)[1] for c in zip(self.tp, self.fp, self.fn)]

    @property
    def class_f1(self) -> list[float]:
        return [self._prf(*c)[2] for c in zip(self.tp, self.fp, self.fn)]

    @property
    def precision(self) -> float:
        """Micro precision (summed counts)."""
        return self._prf(sum(self.tp), sum(self.fp), sum(self.fn))[0]

    @property
    def recall(self) -> float:
        """Micro recall (summed counts)."""
        return self._prf(sum(self.tp), sum(self.fp), sum(self.fn))[1]

    @property
    def micro_f1(self) -> float:
        """F1 of the counts summed over classes: the headline metric."""
        return self._prf(sum(self.tp), sum(self.fp), sum(self.fn))[2]

    @property
    def macro_f1(self) -> float:
        """Mean of the per-class F1 values."""
        f1 = self.class_f1
        return float(np.mean(f1)) if f1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: counts, scores per class and micro/macro scores."""
        names = list(self.class_names or ())
        return {
            "protocol": self.protocol,
            "window_s": float(self.window_s),
            "classes": names,
            "tp": list(self.tp),
            "fp": list(self.fp),
            "fn": list(self.fn),
            "class_precision": self.class_precision,
            "class_recall": self.class_recall,
            "class_f1": self.class_f1,
            "precision": self.precision,
            "recall": self.recall,
            "micro_f1": self.micro_f1,
            "macro_f1": self.macro_f1,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OnsetScores:
        names = d.get("classes")
        return cls(
            tp=d["tp"],
            fp=d["fp"],
            fn=d["fn"],
            protocol=d.get("protocol", "standard"),
            window_s=d.get("window_s", DEFAULT_WINDOW_S),
            class_names=tuple(names) if names else None,
        )

    @classmethod
    def sum(cls, scores: Iterable[OnsetScores]) -> OnsetScores:
        """Add the counts of several results (e.g. tracks) of the same protocol, window and classes."""
        scores = list(scores)
        if not scores:
            raise ValueError("OnsetScores.sum needs at least one score")
        first = scores[0]
        for s in scores[1:]:
            if (s.protocol, s.window_s, s.n_classes) != (first.protocol, first.window_s, first.n_classes):
                raise ValueError("cannot add OnsetScores of different protocols, windows or class counts")
        return cls(
            tp=[sum(c) for c in zip(*(s.tp for s in scores))],
            fp=[sum(c) for c in zip(*(s.fp for s in scores))],
            fn=[sum(c) for c in zip(*(s.fn for s in scores))],
            protocol=first.protocol,
            window_s=first.window_s,
            class_names=first.class_names,
        )


def _default_names(n: int) -> tuple[str, ...]:
    return tuple(CLASS_NAMES) if n == len(CLASS_NAMES) else tuple(f"class{i}" for i in range(n))


def _as_times(x: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.isfinite(a).all():
        raise ValueError(f"{what}: onset times must be finite")
    return np.sort(a, kind="stable")


def match_count(reference: np.ndarray, estimated: np.ndarray, window_s: float) -> int:
    """Size of a maximum one-to-one matching of sorted reference and estimated times [s].

    A pair matches when ``est - window_s <= ref <= est + window_s``, evaluated in float64 exactly as
    mir_eval does (so an onset at the window edge matches or not as it does in mir_eval). Each reference
    can match a contiguous run of the sorted estimates and these runs move right monotonically, so
    matching each reference, in order, to the earliest unused estimate in its window gives a maximum
    matching, the size of mir_eval's Hopcroft-Karp matching.
    """
    est_lo = (np.asarray(estimated, dtype=np.float64) - window_s).tolist()
    est_hi = (np.asarray(estimated, dtype=np.float64) + window_s).tolist()
    n_est = len(est_lo)
    j = 0
    count = 0
    for r in np.asarray(reference, dtype=np.float64).tolist():
        while j < n_est and est_hi[j] < r:
            j += 1
        if j < n_est and est_lo[j] <= r:
            count += 1
            j += 1
    return count


def thesis_counts(
    ref_frames: np.ndarray, est_frames: np.ndarray, tolerance: int, segment_frames: int
) -> tuple[int, int, int]:
    """TP, FP, FN of the thesis' greedy two-pointer matching per segment (frame indices)."""
    tp = fp = fn = 0
    ref_frames = np.sort(ref_frames)
    est_frames = np.sort(est_frames)
    segments = np.union1d(ref_frames // segment_frames, est_frames // segment_frames)
    for seg in segments.tolist():
        lo, hi = seg * segment_frames, (seg + 1) * segment_frames
        r = ref_frames[(ref_frames >= lo) & (ref_frames < hi)].tolist()
        p = est_frames[(est_frames >= lo) & (est_frames < hi)].tolist()
        i = k = 0
        while i < len(p) and k < len(r):
            if abs(p[i] - r[k]) <= tolerance:
                tp += 1
                i += 1
                k += 1
            elif p[i] < r[k]:
                fp += 1
                i += 1
            else:
                fn += 1
                k += 1
        fp += len(p) - i
        fn += len(r) - k
    return tp, fp, fn


def evaluate_onsets(
    reference: Sequence[Sequence[float] | np.ndarray],
    estimated: Sequence[Sequence[float] | np.ndarray],
    window_s: float = DEFAULT_WINDOW_S,
    protocol: str = "standard",
    class_names: Sequence[str] | None = None,
) -> OnsetScores:
    """Score estimated onsets against reference onsets; both are one array of times [s] per class."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {PROTOCOLS}")
    if len(reference) != len(estimated):
        raise ValueError(f"reference has {len(reference)} classes but estimated has {len(estimated)}")
    if window_s < 0:
        raise ValueError(f"window_s must be >= 0, got {window_s}")
    tp, fp, fn = [], [], []
    for c, (ref_c, est_c) in enumerate(zip(reference, estimated)):
        ref = _as_times(ref_c, f"reference class {c}")
        est = _as_times(est_c, f"estimated class {c}")
        if protocol == "standard":
            n = match_count(ref, est, window_s)
            counts = (n, len(est) - n, len(ref) - n)
        else:
            to_frames = lambda t: np.rint(t * THESIS_FPS).astype(np.int64)  # noqa: E731
            # the thesis' references are the frames of a clipped label: one per (frame, class), however
            # many annotated onsets round to it
            counts = thesis_counts(
                np.unique(to_frames(ref)), to_frames(est), round(window_s * THESIS_FPS), THESIS_SEGMENT_FRAMES
            )
        tp.append(counts[0])
        fp.append(counts[1])
        fn.append(counts[2])
    names = tuple(class_names) if class_names is not None else None
    return OnsetScores(tp, fp, fn, protocol=protocol, window_s=float(window_s), class_names=names)
