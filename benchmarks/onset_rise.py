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

``--restrikes-on-kick`` compares one situation instead: a crash struck again while it rings, on a kick and
away from any snare. On the MDB track: ``CRC`` onsets with a ``KD`` within 30 ms and no ``SD`` within 50 ms; on
a store (made with this version, which records each hit's piece): crash, china or splash strokes within
0.6 s of the same piece's previous stroke, with a kick within 30 ms and no snare, rimshot, side stick or clap
within 50 ms::

    python benchmarks/onset_rise.py --mdb-track MusicDelta_Punk --stem drums --restrikes-on-kick --store S
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


def mdb_track(data: Path, track: str, stem: str, fc: Any) -> tuple[np.ndarray, Path]:
    """The log spectrogram of an mdb-dev track (``fc``'s features) and its annotation file."""
    from drumscribe.transcribe.inference import InferenceConfig, compute_features

    spec = compute_features(audio_path(data, stem, track), None, fc, InferenceConfig()).spec
    return spec, data / "annotations" / f"{track}.txt"


def mdb_rows(data: Path, track: str, stem: str, labels: list[str], fc: Any) -> dict[str, np.ndarray]:
    spec, path = mdb_track(data, track, stem, fc)
    return {f"{track} {stem} {lab}": onset_rise(spec, label_times(path, lab), fc.fps) for lab in labels}


#: the situation of ``--restrikes-on-kick``: re-stroke gap, kick and snare windows [s], and the pieces
RESTRIKE_GAP_S, KICK_WINDOW_S, SNARE_WINDOW_S = 0.6, 0.03, 0.05
CRASH_PIECES = ("crash", "china", "splash")
SNARE_PIECES = ("snare", "snare_rimshot", "side_stick", "clap")


def on_kick(times: np.ndarray, kicks: np.ndarray, snares: np.ndarray) -> np.ndarray:
    """The ``times`` with a kick within :data:`KICK_WINDOW_S` and no snare within :data:`SNARE_WINDOW_S`."""

    def near(t: float, ref: np.ndarray, w: float) -> bool:
        return len(ref) > 0 and float(np.abs(ref - t).min()) <= w

    return np.array(
        [t for t in times if near(t, kicks, KICK_WINDOW_S) and not near(t, snares, SNARE_WINDOW_S)]
    )


def mdb_restrike_rows(data: Path, track: str, stem: str, fc: Any) -> dict[str, np.ndarray]:
    spec, path = mdb_track(data, track, stem, fc)
    times = on_kick(label_times(path, "CRC"), label_times(path, "KD"), label_times(path, "SD"))
    return {f"{track} {stem} CRC on KD": onset_rise(spec, times, fc.fps)}


def store_restrike_rows(store: Any) -> dict[str, np.ndarray]:
    rows = []
    for t in store.track_ids():
        hits = store.records[t].meta.get("hits")
        if hits is None:
            raise SystemExit(
                f"onset_rise: {store.root}: its tracks record no hits (render it with this version)"
            )
        restrikes = []
        for piece in CRASH_PIECES:
            c = np.sort(np.asarray(hits.get(piece, []), float))
            restrikes += list(c[1:][np.diff(c) < RESTRIKE_GAP_S])
        kicks = np.asarray(hits.get("kick", []), float)
        snares = np.asarray([x for p in SNARE_PIECES for x in hits.get(p, [])], float)
        times = on_kick(np.sort(restrikes), kicks, snares)
        if len(times):
            rows.append(onset_rise(store.features(t), times, store.fps))
    return {
        f"{store.root.name} crash re-strikes on kicks": np.concatenate(rows)
        if rows
        else np.zeros((0, GROUPS))
    }


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
    p.add_argument(
        "--restrikes-on-kick",
        action="store_true",
        help="only crash re-strokes on a kick without a snare (see the module docstring)",
    )
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
        if args.restrikes_on_kick:
            rows.update(mdb_restrike_rows(args.data, track, args.stem, fc))
        else:
            rows.update(mdb_rows(args.data, track, args.stem, args.labels, fc))
    for store in stores:
        rows.update(
            store_restrike_rows(store)
            if args.restrikes_on_kick
            else store_rows(store, args.swap, args.classes)
        )
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
