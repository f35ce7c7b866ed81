"""Thresholds that drop where another class fires: chosen on synthetic validation, scored on mdb-dev.

A stroke struck with a louder drum (a crash ridden on the kick, a floor tom in unison with kick and snare) gets
a lower activation than it would alone. This peak picking lowers each class's threshold where another class
fires at the same time:

    threshold_c(n) = 0.5 - delta * max over classes c' != c of a_c'(n - 1 .. n + 1)

and is otherwise the standard rule (:func:`drumscribe.peaks.pick_peaks`). ``delta`` is chosen on the
validation split of render stores (pooled micro F1 over a grid, ties to the smaller), never on the real tracks,
and the choice is then scored once on ``../shared/data/mdb-dev`` (mixes and drum-only tracks, level-matched,
whole track, +-50 ms) beside plain picking at 0.5.

Usage::

    drumscribe synth work/synth9 --hours 4 --seed 9 --workers 2 --gmd ../shared/data/gmd   # and synth10
    python benchmarks/masked_thresholds.py --store work/synth9 --store work/synth10

Figures (docs/default-model.md, "Not shipped: changes at inference time"): renders 9 and 10 as
``scripts/train_default.sh`` makes them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import level_matched_tracks, model_data_parser  # noqa: E402

DELTA_GRID = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
BASE_THRESHOLD = 0.5


def pick_masked(activations: np.ndarray, delta: float, fps: float) -> list[np.ndarray]:
    """Onset times [s] per class with each class's threshold lowered by ``delta`` times the highest activation
    of the other classes within one frame (see the module doc)."""
    from scipy.ndimage import maximum_filter1d

    from drumscribe.peaks import pick_peaks

    act = np.asarray(activations, dtype=np.float32)
    near = maximum_filter1d(act, size=3, axis=0, mode="nearest")
    out = []
    for c, (times, heights) in enumerate(pick_peaks(act, threshold=0.0, fps=fps)):
        others = np.delete(near, c, axis=1).max(axis=1) if act.shape[1] > 1 else np.zeros(len(act))
        frames = np.clip(np.round(np.asarray(times) * fps).astype(int), 0, max(len(act) - 1, 0))
        keep = np.asarray(heights) >= BASE_THRESHOLD - delta * others[frames]
        out.append(np.asarray(times)[keep])
    return out


def choose_delta(model_name: str, stores: list[Path]) -> tuple[float, dict[float, float]]:
    """(the grid's best delta, {delta: pooled micro F1}) on the validation split of ``stores``."""
    from drumscribe.data.store import Store
    from drumscribe.modelio import load_model
    from drumscribe.peaks import sigmoid
    from drumscribe.scoring import OnsetScores, evaluate_onsets
    from drumscribe.train.evaluate import model_activations

    opened = [Store(s) for s in stores]
    outputs = model_activations(load_model(model_name), opened, "validation")
    acts = [(opened[i], tid, sigmoid(logits)) for i, tid, logits in outputs]
    f1 = {
        d: OnsetScores.sum(
            evaluate_onsets(s.onsets(tid), pick_masked(a, d, s.fps), window_s=0.05) for s, tid, a in acts
        ).micro_f1
        for d in DELTA_GRID
    }
    best = max(DELTA_GRID, key=lambda d: (round(f1[d], 6), -d))
    return best, f1


def score_mdb(model_name: str, data: Path, deltas: tuple[float, ...]) -> dict[str, dict[float, Any]]:
    """{condition: {delta: OnsetScores summed over the tracks}} on mdb-dev."""
    from drumscribe.scoring import OnsetScores, evaluate_onsets
    from drumscribe.transcribe.inference import InferenceConfig, get_model, run_model

    model = get_model(model_name, "cpu")
    fc = model.feature_config
    config = InferenceConfig()
    scores: dict[str, dict[float, list[Any]]] = {}
    for cond, spec, reference in level_matched_tracks(model, data, config):
        act = run_model(model.net, spec, model.mean, model.std, fc.fps, config)[:, : len(model.classes)]
        per_delta = scores.setdefault(cond, {d: [] for d in deltas})
        for d in deltas:
            per_delta[d].append(evaluate_onsets(reference, pick_masked(act, d, fc.fps), window_s=0.05))
    return {c: {d: OnsetScores.sum(s) for d, s in v.items()} for c, v in scores.items()}


def main(argv: list[str] | None = None) -> int:
    parser = model_data_parser(__doc__)
    parser.add_argument(
        "--store", type=Path, action="append", required=True, help="render store for the choice (repeatable)"
    )
    args = parser.parse_args(argv)

    import torch

    from drumscribe.errors import DrumscribeError

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    try:
        best, f1 = choose_delta(args.model, args.store)
        print(
            "synthetic validation (pooled micro F1): "
            + ", ".join(f"delta {d:.2f} {v:.4f}" for d, v in f1.items())
        )
        print(f"chosen delta: {best:.2f}")
        results = score_mdb(args.model, args.data, tuple(sorted({0.0, best})))
    except DrumscribeError as exc:
        print(f"masked_thresholds: error: {exc}", file=sys.stderr)
        return 1
    print(f"{'mdb-dev':<18} {'mixes':>7} {'drums':>7} {'sum':>7}")
    for d in results["mix"]:
        mix, drums = results["mix"][d].micro_f1, results["drums"][d].micro_f1
        label = "plain 0.5" if d == 0 else f"delta {d:.2f}"
        print(f"{label:<18} {mix:>7.4f} {drums:>7.4f} {mix + drums:>7.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
