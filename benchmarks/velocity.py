"""Do the MIDI velocities say how hard each stroke was? Within-recording rank correlation with real velocities.

Two references with velocities: the MDB Drums++ annotations of the mdb-dev tracks (``annotations_midi/``,
real drummers; mixes and drum-only tracks) and the test split of engine renders (held-out kits; the
velocities the strokes were rendered at). Reference strokes and transcribed onsets of each class are matched
one to one within 50 ms (mir_eval's matching, as the F1 counts them); per recording and class with at least
8 matched strokes, the Spearman correlation of the velocities drumscribe writes (onset level,
:mod:`drumscribe.transcribe.velocity`) and of the old rule (activation height) with the reference is
computed. Printed: per class, the median over recordings and the number of recordings; for mdb-dev also the
spread of the velocities within a recording and class, ours against the annotations'. Ranks within a
recording are what a player hears as accents and ghost notes; the absolute level of a recording says nothing
about how hard it was played.

Usage::

    python benchmarks/velocity.py                       # mdb-dev
    python benchmarks/velocity.py --store work/synth9 --store work/synth11 --tracks 40
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import audio_path, matched_pairs, model_data_parser  # noqa: E402

MATCH_S = 0.05
MIN_STROKES = 8


def pairs(tr, reference: list[tuple[float, int, float]]) -> dict[int, list[tuple[float, float, float]]]:
    """Per class, (reference velocity, our velocity, activation height) of the strokes matched one to one
    within MATCH_S (``reference``: (time [s], class, velocity) per stroke)."""
    out: dict[int, list[tuple[float, float, float]]] = {}
    for c in {c for _, c, _ in reference}:
        ref = sorted((t, v) for t, cc, v in reference if cc == c)
        for i, j in matched_pairs([t for t, _ in ref], tr.onsets[c], MATCH_S):
            out.setdefault(c, []).append((ref[i][1], float(tr.velocities[c][j]), float(tr.confidences[c][j])))
    return out


def correlations(
    results: dict[int, list[tuple[float, float]]], rows: dict[int, list[tuple[float, float, float]]]
):
    from scipy.stats import spearmanr

    for c, r in rows.items():
        a = np.asarray(r)
        if len(a) >= MIN_STROKES and len(set(a[:, 0])) > 2:
            ours = spearmanr(a[:, 0], a[:, 1]).correlation
            height = spearmanr(a[:, 0], a[:, 2]).correlation
            results.setdefault(c, []).append((float(ours), float(height)))


def mdb_reference(path: Path) -> list[tuple[float, int, float]]:
    """(time [s], class, MIDI velocity) of the Drums++ notes, mapped by General MIDI pitch."""
    import pretty_midi

    from drumscribe.vocab import GM_MAP

    out = []
    for inst in pretty_midi.PrettyMIDI(str(path)).instruments:  # Drums++ uses channel 1, not the drum channel
        for n in inst.notes:
            c = GM_MAP.lookup(int(n.pitch))
            if c is not None:
                out.append((float(n.start), int(c), float(n.velocity)))
    return out


def iqr(x: np.ndarray) -> float:
    return float(np.subtract(*np.percentile(x, [75, 25])))


def report(title: str, classes: list[str], results: dict[int, list[tuple[float, float]]]) -> None:
    print(title)
    print(f"  {'class':<8} {'recordings':>10} {'velocity (level)':>17} {'old (height)':>13}")
    for c, name in enumerate(classes):
        r = np.asarray(results.get(c, []))
        if len(r):
            print(f"  {name:<8} {len(r):>10} {np.median(r[:, 0]):>17.2f} {np.median(r[:, 1]):>13.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = model_data_parser(__doc__)
    parser.add_argument(
        "--store", type=Path, action="append", default=[], help="engine render store (repeatable)"
    )
    parser.add_argument("--tracks", type=int, default=40, help="test tracks per store (default: 40)")
    args = parser.parse_args(argv)

    from drumscribe.data.store import Store
    from drumscribe.transcribe import transcribe
    from drumscribe.transcribe.inference import get_model, stored_features, transcribe_features

    model = get_model(args.model, "cpu")
    midi = sorted((args.data / "annotations_midi").glob("*.mid")) if args.data.is_dir() else []
    if not midi and not args.store:
        print(
            f"velocity: {args.data}: no annotations_midi/*.mid (the mdb-dev layout), and no --store",
            file=sys.stderr,
        )
        return 1
    for cond in ("drums", "mix"):
        results: dict[int, list[tuple[float, float]]] = {}
        spread: list[list[np.ndarray]] = [[], []]  # reference, ours: velocities minus their median
        for path in midi:
            tr = transcribe(audio_path(args.data, cond, path.stem), model=model)
            rows = pairs(tr, mdb_reference(path))
            correlations(results, rows)
            for r in rows.values():
                a = np.asarray(r)
                if len(a) >= MIN_STROKES:
                    for k in (0, 1):
                        spread[k].append(a[:, k] - np.median(a[:, k]))
        if midi:
            report(
                f"mdb-dev {cond} vs MDB Drums++ velocities (median within-track Spearman)",
                model.classes,
                results,
            )
            ref, ours = (np.concatenate(x) for x in spread)
            print(
                "  spread within a recording and class (interquartile range of velocity minus its median): "
                f"MDB Drums++ {iqr(ref):.1f}, ours {iqr(ours):.1f}"
            )
    for store_path in args.store:
        store = Store(store_path)
        results = {}
        for tid in store.track_ids("test")[: args.tracks]:
            vel = store.velocities(tid)
            if vel is None:
                continue
            tr = transcribe_features(stored_features(store, tid), model, tempo=False)
            ref = [
                (float(t), c, float(v))
                for c, (ts, vs) in enumerate(zip(store.onsets(tid), vel))
                for t, v in zip(ts, vs)
            ]
            correlations(results, pairs(tr, ref))
        report(
            f"{store_path} test split vs rendered velocities (median within-track Spearman)",
            model.classes,
            results,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
