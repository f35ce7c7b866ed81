"""Fit the tempo estimate's metrical-level choice (half, as estimated, or double) on engine renders.

    python scripts/fit_tempo_octave.py --store work/beats93

Each track of the stores (renders that record the beat grid their drummer played to, ``beats_s`` in the
manifest; tracks with a rest are skipped) is transcribed from its stored features by MODEL (default: the
shipped model), its tempo estimated as transcription does before the level is chosen, and the candidates
(:func:`drumscribe.transcribe.tempo.octave_candidates`) described by
:func:`~drumscribe.transcribe.tempo.octave_features`. Tracks whose true tempo is among the candidates (within
4 %) train a conditional logit (:func:`~drumscribe.transcribe.tempo.fit_octave_model`). The script prints the
accuracy of the level chosen in K-fold cross-validation for each L2 weight of ``--l2`` beside the accuracy of
the estimate with the choice switched off, fits the first L2 weight on every track and writes the model with
what it was fitted on to ``--out`` (default: the package's ``tempo_octave.json``).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

#: an estimate counts as right within this share of the true tempo (as benchmarks/beats.py's acc1)
TOLERANCE = 0.04


def collect(stores: list[Path], model_name: str) -> tuple[list, list, list, list, list, dict]:
    """Per track: candidates' features, the index of the right candidate (None: none is), the true tempo,
    the candidates and the estimate they were made from; and the model's card."""
    from drumscribe.data.store import Store
    from drumscribe.transcribe import tempo as T
    from drumscribe.transcribe.inference import get_model, stored_features, transcribe_features

    model = get_model(model_name, "cpu")
    config = T.TempoConfig()
    features, truths, tempi, candidates, estimates = [], [], [], [], []
    for path in stores:
        store = Store(path)
        for tid in store.track_ids(None):
            meta = store.records[tid].meta
            perf = meta.get("performance", {})
            if "beats_s" not in perf or len(perf["beats_s"]) < 2 or meta.get("tacet_s"):
                continue
            tr = transcribe_features(stored_features(store, tid), model, keep_spectrogram=False, tempo=False)
            env = T.clear_envelope(tr.activations, config)  # as estimate_beats begins
            if env is None:
                continue
            raw = T.estimate_tempo(env, tr.fps, config)
            if raw is None:
                continue
            cands = T.octave_candidates(raw, config)
            bpm = float(perf["tempo_bpm"])
            right = [i for i, c in enumerate(cands) if abs(c / bpm - 1) < TOLERANCE]
            features.append(T.octave_features(tr.activations, cands, tr.fps))
            truths.append(right[0] if right else None)
            tempi.append(bpm)
            candidates.append(cands)
            estimates.append(raw)
    return features, truths, tempi, candidates, estimates, model.card


def cross_validate(features, truths, tempi, candidates, l2: float, folds: int, seed: int) -> float:
    """Share of all tracks whose chosen candidate is within the tolerance, each chosen by a model fitted
    on the other folds."""
    from drumscribe.transcribe.tempo import fit_octave_model

    order = np.random.default_rng(seed).permutation(len(features))
    right = 0
    for part in np.array_split(order, folds):
        held = set(part.tolist())
        train = [i for i in order if i not in held and truths[i] is not None]
        model = fit_octave_model([features[i] for i in train], [truths[i] for i in train], l2)
        for i in part:
            pick = candidates[i][int(np.argmax(model.scores(features[i])))]
            right += abs(pick / tempi[i] - 1) < TOLERANCE
    return right / len(features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, action="append", required=True, help="render store with beats")
    parser.add_argument("--model", default="default", help="model whose activations are read")
    parser.add_argument("--l2", type=float, nargs="+", default=[1e-3], help="L2 weights; the first is fitted")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument("--out", type=Path, default=None, help="model file (default: the package's)")
    args = parser.parse_args(argv)

    from drumscribe.errors import DrumscribeError
    from drumscribe.fileio import write_json
    from drumscribe.transcribe.tempo import OCTAVE_MODEL_FILE, fit_octave_model

    try:
        features, truths, tempi, candidates, estimates, card = collect(args.store, args.model)
    except DrumscribeError as exc:
        print(f"fit_tempo_octave: {exc}", file=sys.stderr)
        return 1
    usable = [i for i, t in enumerate(truths) if t is not None]
    if len(usable) < 2 * args.folds:
        print(f"fit_tempo_octave: only {len(usable)} tracks with a beat grid in reach", file=sys.stderr)
        return 1
    as_estimated = np.mean([abs(e / b - 1) < TOLERANCE for e, b in zip(estimates, tempi, strict=True)])
    print(f"{len(features)} tracks, {len(usable)} with the true tempo among the candidates")
    print(f"tempo right as estimated (no level choice, no half-time rule): {as_estimated:.3f}")
    cv = {}
    for l2 in args.l2:
        cv[l2] = cross_validate(features, truths, tempi, candidates, l2, args.folds, args.seed)
        print(f"L2 {l2:g}: tempo right in {args.folds}-fold cross-validation {cv[l2]:.3f}")
    model = fit_octave_model([features[i] for i in usable], [truths[i] for i in usable], args.l2[0])
    out = args.out or OCTAVE_MODEL_FILE
    write_json(
        out,
        {
            "model": model.to_dict(),
            "fit": {
                "stores": [str(p) for p in args.store],
                "activations_of": args.model,
                "weights_sha256": card.get("weights_sha256"),
                "tracks": len(features),
                "tracks_fitted": len(usable),
                "l2": args.l2[0],
                "cv_folds": args.folds,
                "cv_accuracy": {f"{k:g}": round(v, 4) for k, v in cv.items()},
                "accuracy_as_estimated": round(float(as_estimated), 4),
                "date": datetime.date.today().isoformat(),
                "command": "python scripts/fit_tempo_octave.py " + " ".join(argv or sys.argv[1:]),
            },
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
