"""Can open and closed hi-hats, and ride and crash, be told apart from the spectrogram around their onsets?

A probe on engine renders that record each struck piece (the ``hits`` of each track's manifest record), never
on real music. Two families: hi-hat closed (``hihat_closed``, ``hihat_pedal``) against open (``hihat_open``),
and cymbal crash (``crash``, ``china``, ``splash``) against ride (``ride``, ``ride_bell``). Printed:

* the AUC of a hand-made cue, how far the top bands (above 5 kHz) fall from the onset to ``--lag`` frames
  later (an open hi-hat rings on), on all tracks and on the drum-only ones;
* the balanced accuracy (mean of the two recalls) per family of a small classifier, an MLP on the log
  spectrogram from 2 frames before to 30 after each reference onset (bands averaged in fours, the patch's own
  mean removed), trained on the train split with class-balanced weights and scored every 5 epochs on the
  validation and test splits (kits held out of training).

Usage::

    drumscribe synth work/synth21 --hours 3 --seed 21 --workers 2 --gmd ../shared/data/gmd
    python benchmarks/articulation_probe.py --store work/synth21
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from drumscribe.articulation import DEFAULT_OUTPUTS

#: kit piece -> (family, label): family 0 hi-hat (0 closed, 1 open), family 1 cymbals (0 crash, 1 ride), the
#: piece sets of the shipped articulation head's outputs
FAMILIES = {
    piece: (f, label)
    for f, o in enumerate(DEFAULT_OUTPUTS)
    for label, pieces in ((0, o.other_pieces), (1, o.pieces))
    for piece in pieces
}
FAMILY_NAMES = ("hi-hat open/closed", "cymbal ride/crash")
PRE, POST, BAND_POOL = 2, 30, 4


def patches(spec: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(N, features): log-spectrogram patches around ``frames``, bands averaged, each patch's mean removed."""
    idx = np.clip(frames[:, None] + np.arange(-PRE, POST)[None, :], 0, len(spec) - 1)
    p = spec[idx].astype(np.float32)
    bands = (p.shape[2] // BAND_POOL) * BAND_POOL
    p = p[:, :, :bands].reshape(len(p), p.shape[1], -1, BAND_POOL).mean(axis=3)
    p -= p.mean(axis=(1, 2), keepdims=True)
    return p.reshape(len(p), -1)


def reference(store, tid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(onset frames, family, label) of the track's hi-hat and cymbal hits."""
    rows = [
        (t, *FAMILIES[piece])
        for piece, times in store.records[tid].meta["hits"].items()
        if piece in FAMILIES
        for t in times
    ]
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    a = np.asarray(rows)
    return np.rint(a[:, 0] * store.fps).astype(int), a[:, 1].astype(int), a[:, 2].astype(int)


def dataset(stores, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, fs, ys = [], [], []
    for store in stores:
        for tid in store.track_ids(split):
            frames, fam, lab = reference(store, tid)
            if len(frames):
                xs.append(patches(np.asarray(store.features(tid), dtype=np.float32), frames))
                fs.append(fam)
                ys.append(lab)
    return np.concatenate(xs), np.concatenate(fs), np.concatenate(ys)


def balanced_accuracy(pred: np.ndarray, y: np.ndarray, fam: np.ndarray, f: int) -> float:
    m = fam == f
    return float(np.mean([np.mean(pred[m & (y == k)] == k) for k in (0, 1)]))


def decay_auc(stores, lag: int, drums_only: bool) -> float:
    """AUC of (top-band level ``lag`` frames after the onset minus at it) for open against closed hi-hats."""
    from scipy.stats import mannwhitneyu

    from drumscribe.features import FeatureConfig, band_frequencies

    top = band_frequencies(FeatureConfig()) > 5000.0
    values: dict[int, list[float]] = {0: [], 1: []}
    for store in stores:
        for tid in store.track_ids():
            if drums_only and not store.records[tid].meta.get("drums_only"):
                continue
            frames, fam, lab = reference(store, tid)
            curve = np.asarray(store.features(tid), dtype=np.float32)[:, top].mean(axis=1)
            for fr, f, y in zip(frames, fam, lab):
                if f == 0 and fr + lag + 3 < len(curve):
                    values[int(y)].append(
                        float(curve[fr + lag : fr + lag + 3].mean() - curve[fr : fr + 3].max())
                    )
    closed, opened = np.asarray(values[0]), np.asarray(values[1])
    return float(mannwhitneyu(opened, closed).statistic / (len(opened) * len(closed)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, action="append", required=True, help="render store with hits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lag", type=int, default=10, help="frames after the onset for the decay cue")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from drumscribe.data.store import Store

    stores = [Store(p) for p in args.store]
    missing = [str(s.root) for s in stores if not all("hits" in r.meta for r in s.records.values())]
    if missing:
        print(
            f"no recorded hits in {', '.join(missing)} (rendered before they were recorded)", file=sys.stderr
        )
        return 1
    print(
        f"decay cue AUC (open vs closed hi-hat, {args.lag} frames): all tracks {decay_auc(stores, args.lag, False):.3f}, "
        f"drum-only tracks {decay_auc(stores, args.lag, True):.3f}"
    )

    xtr, ftr, ytr = dataset(stores, "train")
    xva, fva, yva = dataset(stores, "validation")
    xte, fte, yte = dataset(stores, "test")
    print(f"onsets: train {len(xtr)}, validation {len(xva)}, test {len(xte)}")
    torch.manual_seed(args.seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(xtr.shape[1], 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 2),
    )
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-3)
    weights = np.ones(len(ytr), np.float32)
    for f in (0, 1):
        for k in (0, 1):
            m = (ftr == f) & (ytr == k)
            weights[m] = 0.25 * len(ytr) / max(int(m.sum()), 1)
    x, fam, y, w = (torch.as_tensor(a) for a in (xtr, ftr, ytr.astype(np.float32), weights))
    generator = torch.Generator().manual_seed(args.seed)

    def predict(xs: np.ndarray, fs: np.ndarray) -> np.ndarray:
        net.eval()
        with torch.no_grad():
            logits = net(torch.as_tensor(xs)).numpy()
        net.train()
        return (logits[np.arange(len(fs)), fs] > 0).astype(int)

    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(order), 256):
            b = order[i : i + 256]
            logit = net(x[b])[torch.arange(len(b)), fam[b]]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y[b], reduction="none")
            opt.zero_grad()
            (loss * w[b]).mean().backward()
            opt.step()
        if epoch % 5 == 0:
            pv, pt = predict(xva, fva), predict(xte, fte)
            cells = [
                f"{FAMILY_NAMES[f]}: validation {balanced_accuracy(pv, yva, fva, f):.3f} "
                f"test {balanced_accuracy(pt, yte, fte, f):.3f}"
                for f in (0, 1)
            ]
            print(f"epoch {epoch:>3}  " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
