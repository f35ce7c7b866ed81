"""Velocity level over one band per class: which band range follows how hard strokes were?

For each class, the onset level (the highest of the onset's frame and the next two, as
:func:`drumscribe.transcribe.velocity.onset_levels` took it before it subtracted half the pre-onset level)
is taken over each of 45 band ranges between 20 Hz and 20 kHz, and as a rise over the three frames before,
at the reference strokes (no detection involved). Printed per class: all bands (that rule) and the 8 ranges
best on the engine renders' train tracks (median within-track Spearman with the rendered velocities), each
also on mdb-dev against MDB Drums++ (mixes and drum-only tracks).

Usage::

    python benchmarks/velocity_bands.py work/synth9 work/synth10 work/synth11 work/synth12
"""

import itertools
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import DEFAULT_DATA, audio_path  # noqa: E402
from velocity import mdb_reference  # noqa: E402

from drumscribe.audio import load_audio  # noqa: E402
from drumscribe.data.store import Store  # noqa: E402
from drumscribe.features import FeatureConfig, band_frequencies, log_spectrogram  # noqa: E402

cfg = FeatureConfig()
f = band_frequencies(cfg)
edges = [20, 60, 120, 250, 500, 1000, 2000, 4000, 8000, 20000]
ranges = [(lo, hi) for lo, hi in itertools.combinations(edges, 2)]


def measures(spec, frames, lo, hi, kind):
    sel = (f >= lo) & (f < hi)
    curve = spec[:, sel].mean(1)
    T = len(curve)
    win = np.minimum(frames[:, None] + np.arange(3)[None], T - 1)
    L = curve[win].max(1)
    if kind == "level":
        return L
    pre = np.clip(frames[:, None] - np.arange(1, 4)[None], 0, T - 1)
    return L - curve[pre].min(1)


def groups_synth(stores, split, n):
    for p in stores:
        s = Store(p)
        for tid in s.track_ids(split)[:n]:
            vel = s.velocities(tid)
            if vel is None:
                continue
            spec = np.asarray(s.features(tid), dtype=np.float32)
            for c, (ts, vs) in enumerate(zip(s.onsets(tid), vel)):
                if len(ts) >= 8 and len(set(np.round(np.asarray(vs) * 127))) > 2:
                    yield c, spec, np.rint(np.asarray(ts) * s.fps).astype(int), np.asarray(vs)


def groups_mdb(cond):
    data = DEFAULT_DATA
    for mid in sorted((data / "annotations_midi").glob("*.mid")):
        x, sr = load_audio(audio_path(data, cond, mid.stem))
        spec = log_spectrogram(x, sr, cfg)
        ref = mdb_reference(mid)
        for c in range(5):
            r = sorted((t, v) for t, cc, v in ref if cc == c)
            if len(r) >= 8 and len(set(v for _, v in r)) > 2:
                yield (
                    c,
                    spec,
                    np.rint(np.array([t for t, _ in r]) * cfg.fps).astype(int),
                    np.array([v for _, v in r]),
                )


def score(groups):
    res = {}
    for c, spec, fr, v in groups:
        fr = np.clip(fr, 0, len(spec) - 1)
        for rg in ranges + [(0, 99999)]:
            for kind in ("level", "rise"):
                res.setdefault((c, rg, kind), []).append(
                    spearmanr(v, measures(spec, fr, *rg, kind)).correlation
                )
    return {k: (float(np.nanmedian(x)), len(x)) for k, x in res.items()}


def main() -> int:
    stores = sys.argv[1:]
    if not stores or any(s.startswith("-") for s in stores):
        print(f"usage: python benchmarks/velocity_bands.py STORE [STORE ...]\n{__doc__}", file=sys.stderr)
        return 2
    missing = [s for s in stores if not (Path(s) / "manifest.json").is_file()]
    if missing or not (DEFAULT_DATA / "annotations_midi").is_dir():
        print(
            f"velocity_bands: not found: {', '.join(missing) or DEFAULT_DATA / 'annotations_midi'}",
            file=sys.stderr,
        )
        return 1
    syn = score(groups_synth(stores, "train", 60))
    mix = score(groups_mdb("mix"))
    drm = score(groups_mdb("drums"))
    names = ["kick", "snare", "toms", "hihat", "cymbals"]
    for c in range(5):
        keys = sorted([k for k in syn if k[0] == c], key=lambda k: -syn[k][0])
        print(names[c], "synth n=", syn[keys[0]][1])
        base = (c, (0, 99999), "level")
        for k in [base] + keys[:8]:
            print(
                f"   {str(k[1]):>14} {k[2]:5}  synth {syn[k][0]:.3f}  mix {mix.get(k, (np.nan, 0))[0]:.3f}  drums {drm.get(k, (np.nan, 0))[0]:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
