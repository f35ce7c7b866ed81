"""Which struck pieces does a model find? Recall per kit piece on the held-out kits of engine renders.

Renders record the onset times of every struck piece (the ``hits`` of each track's manifest record: closed,
open and pedal hi-hat, ride, bell, crash, china, splash, each tom, rimshot, side stick, ...). Each model
transcribes the test split (kits held out of training) of every store from its stored spectrogram, at the
card's thresholds or ``--threshold``; a piece's hits count as found when the onsets of its class match them
one to one within 50 ms (mir_eval's matching, as the F1 counts). Printed per model: micro F1 against the
store's class labels and, per piece, recall and number of hits. Stores rendered before the hits were
recorded are skipped with a note.

Usage::

    python benchmarks/piece_recall.py --store work/synth21
    python benchmarks/piece_recall.py --store work/synth9p --model default --model work/run31/epochs/ep001
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import matched_pairs  # noqa: E402


def piece_recall(model, stores, threshold: float | None = None, window_s: float = 0.05):
    """(micro F1 against the class labels, {piece: [hits found, hits]}) of ``model`` on ``stores``: (store,
    track ids) pairs whose tracks record their hits."""
    from drumscribe.scoring import OnsetScores, evaluate_onsets
    from drumscribe.synth.pieces import PIECE_CLASS
    from drumscribe.transcribe.inference import stored_features, transcribe_features

    scores = []
    found: dict[str, list[int]] = {}
    for store, ids in stores:
        for tid in ids:
            tr = transcribe_features(
                stored_features(store, tid),
                model,
                threshold=threshold,
                tempo=False,
                keep_spectrogram=False,
            )
            scores.append(evaluate_onsets(store.onsets(tid), tr.onsets, window_s=window_s))
            for piece, times in store.records[tid].meta["hits"].items():
                counts = found.setdefault(piece, [0, 0])
                counts[0] += len(matched_pairs(np.sort(times), tr.onsets[PIECE_CLASS[piece]], window_s))
                counts[1] += len(times)
    return OnsetScores.sum(scores).micro_f1, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", type=Path, action="append", required=True, help="render store (repeatable)"
    )
    parser.add_argument(
        "--model", action="append", help="model name or folder (repeatable; default: default)"
    )
    parser.add_argument("--threshold", type=float, default=None, help="one threshold for all classes")
    parser.add_argument("--split", default="test", help="store split (default: test, the held-out kits)")
    parser.add_argument("--window-s", type=float, default=0.05, help="matching window [s] (default 0.05)")
    args = parser.parse_args(argv)

    from drumscribe.data.store import Store
    from drumscribe.synth.pieces import PIECE_CLASS
    from drumscribe.transcribe.inference import get_model

    stores = []
    for path in args.store:
        store = Store(path)
        ids = [t for t in store.track_ids(args.split) if "hits" in store.records[t].meta]
        if not ids:
            print(f"{path}: no {args.split} tracks with recorded hits (rendered before they were recorded)")
            continue
        stores.append((store, ids))
    if not stores:
        return 1
    for name in args.model or ["default"]:
        model = get_model(name, "cpu")
        f1, found = piece_recall(model, stores, args.threshold, args.window_s)
        print(f"{name}: micro F1 {f1:.4f} against the class labels")
        print(f"  {'piece':<15} {'class':<8} {'recall':>7} {'hits':>7}")
        for piece, (hit, n) in sorted(found.items(), key=lambda kv: (PIECE_CLASS[kv[0]], kv[0])):
            print(f"  {piece:<15} {model.classes[PIECE_CLASS[piece]]:<8} {hit / n:>7.3f} {n:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
