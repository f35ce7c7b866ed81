"""How often does a model's articulation head (open/closed hi-hat, ride/crash) name real strokes right?

Each mdb-dev recording (mixes and drum-only tracks) is transcribed as ``drumscribe transcribe`` does; each
found hi-hat (cymbal) onset matched to an annotated one of its class (mir_eval's matching, 50 ms) is checked
against the stroke's MDB subclass: CHH/PHH closed, OHH open; CRC/CHC/SPC crash, RDC/RDB ride. Printed per
family and condition: balanced accuracy (mean of the two recalls) over the matched strokes, and per subclass
how many were called open / ride. mdb-dev is validation data; the head is fitted on engine renders only
(``scripts/fit_articulation.py``).

Usage::

    python benchmarks/articulation_mdb.py [--model default] [--per-track]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import CONDITIONS, DEFAULT_DATA, audio_path, find_tracks, matched_pairs  # noqa: E402

#: MDB Drums subclass -> (class, is the articulation output's ``name``: open hi-hat, ride)
MDB_SUBCLASSES = {
    "CHH": ("hihat", False),
    "PHH": ("hihat", False),
    "OHH": ("hihat", True),
    "CRC": ("cymbals", False),
    "CHC": ("cymbals", False),
    "SPC": ("cymbals", False),
    "RDC": ("cymbals", True),
    "RDB": ("cymbals", True),
}


def subclass_strokes(path: Path) -> dict[str, list[tuple[float, str]]]:
    """{class: [(time, subclass), ...]} of the annotated hi-hat and cymbal strokes of one MDB file."""
    out: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in MDB_SUBCLASSES:
            out[MDB_SUBCLASSES[parts[1]][0]].append((float(parts[0]), parts[1]))
    return out


def called(tr, cls: str, strokes: list[tuple[float, str]]) -> list[tuple[str, bool]]:
    """(subclass, called the output's ``name``) of each annotated stroke that a found onset matches."""
    c = tr.classes.index(cls)
    art = tr.onset_articulations()[c]
    if art is None or not strokes:
        return []
    from drumscribe.articulation import output_names

    name = output_names(tr.model_card, tr.classes)[c]
    ref = np.asarray([t for t, _ in strokes])
    return [(strokes[i][1], art[0][j] == name) for i, j in matched_pairs(ref, tr.onsets[c])]


def balanced(pairs: list[tuple[str, bool]]) -> float:
    """Balanced accuracy of the calls (mean of the recalls of the output's ``name`` and ``other``)."""
    from drumscribe.articulation import balanced_accuracy

    if not pairs:
        return float("nan")
    scores = np.asarray([1.0 if call else -1.0 for _, call in pairs])
    labels = np.asarray([int(MDB_SUBCLASSES[sub][1]) for sub, _ in pairs])
    return balanced_accuracy(scores, labels)


def subclass_counts(pairs: list[tuple[str, bool]]) -> str:
    """``SUB called/total`` per subclass, e.g. ``CHH 3/94, OHH 15/17``."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sub, call in pairs:
        counts[sub][0] += int(call)
        counts[sub][1] += 1
    return ", ".join(f"{s} {a}/{n}" for s, (a, n) in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-track", action="store_true")
    args = parser.parse_args(argv)

    from drumscribe.articulation import card_outputs
    from drumscribe.transcribe.inference import get_model, transcribe

    model = get_model(args.model)
    outputs = card_outputs(model.card)
    if not outputs:
        print(
            f"{args.model}: its card has no articulation outputs (scripts/fit_articulation.py)",
            file=sys.stderr,
        )
        return 1
    for cond in CONDITIONS:
        pooled: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for track in find_tracks(args.data):
            tr = transcribe(audio_path(args.data, cond, track), model=model, tempo=False)
            strokes = subclass_strokes(args.data / "annotations" / f"{track}.txt")
            for o in outputs:
                pairs = called(tr, o.class_name, strokes.get(o.class_name, []))
                pooled[o.class_name] += pairs
                if args.per_track and pairs:
                    print(
                        f"  {cond:<5} {track:<24} {o.class_name:<8} called {o.name}: {subclass_counts(pairs)}"
                    )
        for o in outputs:
            pairs = pooled[o.class_name]
            cells = subclass_counts(pairs)
            print(
                f"{cond:<5} {o.class_name} {o.name}/{o.other}: balanced accuracy {balanced(pairs):.3f} "
                f"over {len(pairs)} matched strokes; called {o.name}: {cells}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
