"""Fit the two constants of drumscribe's velocity rule on engine renders (never on real music).

For every train-split track of the given stores and every class with at least 8 strokes, the onset level
``L`` of each reference stroke (:func:`drumscribe.transcribe.velocity.onset_levels` on the stored log
spectrogram) and its rendered MIDI velocity are taken relative to their medians in that track and class.
Printed: the least-squares slope of velocity on level through the origin (``VELOCITY_SLOPE``) and the median
of the per-track, per-class median velocities (``VELOCITY_CENTER``), rounded as the module keeps them.

Usage::

    python scripts/fit_velocity.py work/synth9 work/synth10 work/synth11 work/synth12 --tracks 80
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stores", nargs="+", type=Path, help="engine render stores (drumscribe synth)")
    parser.add_argument("--tracks", type=int, default=80, help="train tracks per store (default: 80)")
    args = parser.parse_args(argv)

    from drumscribe.data.store import Store
    from drumscribe.transcribe.velocity import level_curve, onset_levels

    d_level, d_vel, medians = [], [], []
    for path in args.stores:
        store = Store(path)
        fps = store.fps
        for tid in store.track_ids("train")[: args.tracks]:
            vel = store.velocities(tid)
            if vel is None:
                continue
            curve = level_curve(np.asarray(store.features(tid), dtype=np.float32))
            for times, v in zip(store.onsets(tid), vel):
                if len(times) < 8:
                    continue
                level = onset_levels(curve, times, fps)
                v = np.asarray(v) * 127.0
                d_level.append(level - np.median(level))
                d_vel.append(v - np.median(v))
                medians.append(float(np.median(v)))
    if not d_level:
        print("no train tracks with velocities in these stores", file=sys.stderr)
        return 1
    x, y = np.concatenate(d_level), np.concatenate(d_vel)
    print(f"strokes {len(x)}, track-class groups {len(medians)}")
    print(f"VELOCITY_SLOPE  = {round(float((x * y).sum() / (x * x).sum()))}")
    print(f"VELOCITY_CENTER = {round(float(np.median(medians)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
