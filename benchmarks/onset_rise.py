"""How much each kind of drum hit adds to the spectrum at its onset, by frequency region.

For every labelled onset, the rise of the log spectrogram (the models' input features) from just before
the onset to its first two frames is clipped at 0 and summed over the bands of each of eight equal groups
of bands (low to high); the table gives the mean over onsets. It compares real recordings with engine
renders: a hit the engine renders with a bright attack but that real recordings bury (a crash re-struck
inside its own wash) shows up as a missing rise in the top groups.

Usage::

    python benchmarks/onset_rise.py --mdb-track MusicDelta_Punk --labels CRC OHH CHH \\
        --store work/synth14 --swap ride_the_crash --classes cymbals hihat

MDB labels are the raw annotation labels (``CRC``, ``OHH``, ...); store onsets are taken by class name
from tracks whose performance had ``--swap`` applied to the whole track (all tracks without ``--swap``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import DEFAULT_DATA, audio_path  # noqa: E402

GROUPS = 8


def onset_rise(spec: np.ndarray, times_s: np.ndarray, fps: float) -> np.ndarray:
    """(n_onsets, GROUPS) summed positive rise of ``spec`` at each onset, per group of bands."""
    edges = np.linspace(0, spec.shape[1], GROUPS + 1).astype(int)
    rows = []
    for t in np.asarray(times_s, float):
        f = int(round(t * fps))
        if f < 3 or f + 2 > len(spec):
            continue
        rise = np.maximum(spec[f : f + 2].max(0) - spec[f - 3 : f - 1].mean(0), 0)
        rows.append([rise[a:b].sum() for a, b in zip(edges[:-1], edges[1:])])
    return np.array(rows).reshape(-1, GROUPS)


def label_times(path: Path, label: str) -> np.ndarray:
    """Onset times of one raw MDB label (``CRC``, ``OHH``, ...), read by the project's MDB reader."""
    from drumscribe.data.annotations import read_time_label_txt
    from drumscribe.vocab import MDB_MAP, LabelMap

    others = (frozenset(MDB_MAP.classes) | MDB_MAP.ignored) - {label}
    return read_time_label_txt(path, LabelMap(f"MDB {label}", {label: 0}, ignored=others)).onsets[0]


def mdb_rows(data: Path, track: str, stem: str, labels: list[str], fc: Any) -> dict[str, np.ndarray]:
    from drumscribe.transcribe.inference import InferenceConfig, compute_features

    spec, _, _ = compute_features(audio_path(data, stem, track), None, fc, InferenceConfig())
    path = data / "annotations" / f"{track}.txt"
    return {f"{track} {stem} {lab}": onset_rise(spec, label_times(path, lab), fc.fps) for lab in labels}


def store_rows(store: Any, swap: str | None, classes: list[str]) -> dict[str, np.ndarray]:
    from drumscribe.synth.performance import swap_record
    from drumscribe.synth.render import SWAP_MENU

    unknown = sorted(set(classes) - set(store.classes))
    if unknown:
        raise SystemExit(f"onset_rise: {store.root}: no class {unknown}; it has {', '.join(store.classes)}")
    want = SWAP_MENU[swap] if swap else None
    acc: dict[str, list[np.ndarray]] = {c: [] for c in classes}
    for t in store.track_ids():
        if want is not None:
            swaps = [swap_record(r) for r in store.records[t].meta.get("performance", {}).get("swaps", [])]
            # the whole track swapped; older renders record the mapping without the name
            if not swaps or swaps[0]["span_s"] is not None or swaps[0]["map"] != want:
                continue
        onsets = store.onsets(t)
        spec = store.features(t)
        for c in classes:
            acc[c].append(onset_rise(spec, onsets[store.classes.index(c)], store.fps))
    label = f"{store.root.name}" + (f" {swap}" if swap else "")
    return {f"{label} {c}": np.concatenate(v) if v else np.zeros((0, GROUPS)) for c, v in acc.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="mdb-dev folder")
    p.add_argument("--mdb-track", action="append", default=[], help="mdb-dev track (repeatable)")
    p.add_argument("--stem", choices=("mix", "drums"), default="drums")
    p.add_argument("--labels", nargs="+", default=["CRC", "OHH", "CHH"], help="MDB annotation labels")
    p.add_argument("--store", type=Path, action="append", default=[], help="dataset store (repeatable)")
    p.add_argument("--swap", default=None, help="only store tracks with this whole-track swap")
    p.add_argument("--classes", nargs="+", default=["cymbals", "hihat"], help="store classes")
    args = p.parse_args(argv)
    from drumscribe.synth.render import SWAP_MENU

    if args.swap is not None and args.swap not in SWAP_MENU:
        p.error(f"unknown swap {args.swap!r}; known: {', '.join(SWAP_MENU)}")
    from drumscribe.data.store import Store
    from drumscribe.features import FeatureConfig
    from drumscribe.transcribe.inference import get_model

    stores = [Store(root) for root in args.store]
    # the real tracks get the features the renders were stored with (else the default model's)
    fc = (
        FeatureConfig.from_dict(stores[0].feature_config)
        if stores
        else get_model("default", "cpu").feature_config
    )
    rows: dict[str, np.ndarray] = {}
    for track in args.mdb_track:
        rows.update(mdb_rows(args.data, track, args.stem, args.labels, fc))
    for store in stores:
        rows.update(store_rows(store, args.swap, args.classes))
    if not rows:
        p.error("give --mdb-track and/or --store")
    print(f"{'onsets':<44} {'n':>6}  " + " ".join(f"{'g' + str(g + 1):>5}" for g in range(GROUPS)) + "  top3")
    for name, r in rows.items():
        m = r.mean(0) if len(r) else np.full(GROUPS, np.nan)
        print(
            f"{name[:44]:<44} {len(r):>6}  " + " ".join(f"{v:>5.2f}" for v in m) + f"  {m[-3:].sum():>4.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
