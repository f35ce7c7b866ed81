"""How well does a transcription find the song's tempo, beats and bar lines? Scored on engine renders.

The MusicXML score, the Clone Hero chart and ``--midi-tempo-map`` all stand on three estimates: the tempo, the
tracked beats and the downbeats (where the bar lines go). Renders record the beat grid their drummer played to
(``beats_s`` and ``downbeats_s`` in each track's ``performance`` record). Each track of a store's split is
transcribed from its stored spectrogram at the model's thresholds, as ``drumscribe transcribe`` does, and scored
with mir_eval's beat metrics (its defaults: beats before 5 s are trimmed, 70 ms F-measure window):

- tempo: the share of tracks within 4 % of the true tempo (``acc1``), or of 1/3, 1/2, 2 or 3 times it
  (``acc2``, the MIREX convention: the tempo at another metrical level);
- beats: F-measure, CMLt (the longest correct run at the true metrical level) and AMLt (the same at half or
  double tempo or off-beat, which a musician would count in the same way);
- downbeats: F-measure of the score's bar lines (``Transcription.downbeats_s``: the first beat of each
  measure of the grid placement, in the estimated meter) against the true downbeats, over the whole track,
  and (``downbeat_f4``) the same with every score in 4/4, as before the meter was estimated;
- bar phase (``downbeat_best``): the bar lines' F-measure with the best of the bar's possible starting beats
  on the same grid and meter, so ``downbeat_best - downbeat_f`` is what choosing the beat the bars start on
  (the one where most kicks fall) costs, and ``1 - downbeat_best`` what the beats and the meter cost;
- meter: the share of tracks whose estimated beats per bar (3 or 4) is the render's.

Printed for all tracks and by group: drums only or with a band, the groove's source (Groove MIDI Dataset or
the engine's generator), beats per bar and tempo. Stores rendered before the beats were recorded are skipped.

Usage::

    drumscribe synth work/beats92 --hours 1.5 --seed 92 --workers 2 --gmd ../shared/data/gmd
    python benchmarks/beats.py --store work/beats92 [--split test] [--model default]
    python benchmarks/beats.py --store work/beats92 --tempo-set slower_ratio=0   # other TempoConfig settings

``--tempo-set NAME=VALUE`` (repeatable) changes one number of ``drumscribe.transcribe.tempo.TempoConfig``, e.g.
to score the estimators with and without one of their steps side by side.

Figures (docs/transcription.md): ``work/beats92``, all 180 tracks.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

TEMPO_TOLERANCE = 0.04
TEMPO_LEVELS = (1 / 3, 1 / 2, 1.0, 2.0, 3.0)


def tempo_scores(estimate: float | None, reference: float) -> tuple[bool, bool]:
    """(acc1, acc2): ``estimate`` within 4 % of ``reference``, or of a third, half, double or triple it."""
    if not estimate:
        return False, False

    def near(level: float) -> bool:
        return abs(estimate - level * reference) <= TEMPO_TOLERANCE * level * reference

    return near(1.0), any(near(level) for level in TEMPO_LEVELS)


def bar_lines_each_phase(tr: Any) -> list[np.ndarray]:
    """The bar lines a transcription's score would have with each of its bar's possible starting beats, on
    its grid and in its meter, over the span of its tracked beats (as ``Transcription.downbeats_s``)."""
    from dataclasses import replace

    from drumscribe.transcribe.exports import bar_lines, place_on_grid

    beats = np.asarray(tr.beats_s, dtype=np.float64)
    if len(beats) < 2 or tr.num_onsets == 0:
        return []
    g = place_on_grid(tr)
    half = float(np.median(np.diff(beats))) / 2
    out = []
    for shift in range(g.beats_per_bar):
        lines = bar_lines(replace(g, first_measure=g.first_measure + shift))
        out.append(lines[(lines >= beats[0] - half) & (lines <= beats[-1] + half)])
    return out


def track_scores(
    tr: Any, beats: np.ndarray, downbeats: np.ndarray, tempo_bpm: float, beats_per_bar: int = 4
) -> dict[str, float]:
    """Every metric of one transcription against its reference grid (``beats_per_bar``: the true meter)."""
    import mir_eval

    ref = mir_eval.beat.trim_beats(beats)
    est = mir_eval.beat.trim_beats(np.asarray(tr.beats_s, dtype=np.float64))
    cmlc, cmlt, amlc, amlt = mir_eval.beat.continuity(ref, est)
    acc1, acc2 = tempo_scores(tr.tempo_bpm, tempo_bpm)
    return {
        "acc1": float(acc1),
        "acc2": float(acc2),
        "beat_f": mir_eval.beat.f_measure(ref, est),
        "cmlt": cmlt,
        "amlt": amlt,
        "downbeat_f": mir_eval.beat.f_measure(downbeats, np.asarray(tr.downbeats_s), 0.07),
        "downbeat_f4": mir_eval.beat.f_measure(downbeats, np.asarray(tr.with_meter(4).downbeats_s), 0.07),
        "downbeat_best": max(
            (mir_eval.beat.f_measure(downbeats, lines, 0.07) for lines in bar_lines_each_phase(tr)),
            default=0.0,
        ),
        "meter": float(tr.beats_per_bar == beats_per_bar),
    }


def tempo_config(settings: list[str]) -> Any:
    """A TempoConfig with ``NAME=VALUE`` settings (numbers; 0 or 1 for a switch) changed; ValueError on an
    unknown name or value."""
    from dataclasses import fields, replace

    from drumscribe.transcribe.tempo import TempoConfig

    numbers = {
        f.name: f.type for f in fields(TempoConfig) if f.type in ("float", "int", "bool", float, int, bool)
    }
    changes: dict[str, float | int | bool] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or name not in numbers:
            raise ValueError(f"--tempo-set {item!r}: need NAME=VALUE with NAME one of {sorted(numbers)}")
        kind = {"int": int, int: int, "bool": bool, bool: bool}.get(numbers[name], float)
        try:
            if kind is bool:
                if value not in ("0", "1"):
                    raise ValueError(value)
                changes[name] = value == "1"
            else:
                changes[name] = kind(value)
        except ValueError:
            wanted = "0 or 1" if kind is bool else f"a number of type {kind.__name__}"
            raise ValueError(f"--tempo-set {item!r}: {value!r} is not {wanted}") from None
    return replace(TempoConfig(), **changes)


def score_stores(
    stores: list[Path],
    model_name: str,
    split_name: str,
    max_tracks: int | None,
    config: Any = None,
) -> dict[str, list[dict[str, float]]]:
    """Every track's scores (:func:`track_scores`), grouped (all; drums only or with a band; groove source;
    beats per bar; tempo band)."""
    from drumscribe.data.store import Store
    from drumscribe.transcribe.inference import get_model, stored_features, transcribe_features

    model = get_model(model_name, "cpu")
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    split = None if split_name == "all" else split_name
    for path in stores:
        store = Store(path)
        ids = [t for t in store.track_ids(split) if "beats_s" in store.records[t].meta["performance"]]
        if not ids:
            print(
                f"{path}: no {split_name} tracks with a recorded beat grid (rendered before it was recorded)"
            )
            continue
        for tid in ids[:max_tracks]:
            meta = store.records[tid].meta
            perf = meta["performance"]
            beats, downs = np.asarray(perf["beats_s"]), np.asarray(perf["downbeats_s"])
            if len(beats) < 2 or meta.get("tacet_s"):
                continue
            tr = transcribe_features(
                stored_features(store, tid), model, keep_spectrogram=False, tempo_config=config
            )
            per_bar = int(np.median(np.diff(np.searchsorted(beats, downs)))) if len(downs) > 1 else 0
            s = track_scores(tr, beats, downs, float(perf["tempo_bpm"]), per_bar)
            bpm = float(perf["tempo_bpm"])
            for group in (
                "all",
                "drums only" if meta["drums_only"] else "with a band",
                f"source {perf['source']}",
                f"{per_bar} beats per bar",
                "below 90 BPM" if bpm < 90 else "90-140 BPM" if bpm <= 140 else "above 140 BPM",
            ):
                groups[group].append(s)
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", type=Path, action="append", required=True, help="render store (repeatable)"
    )
    parser.add_argument("--model", default="default", help="model name or folder (default: default)")
    parser.add_argument(
        "--split",
        default="all",
        help="store split, or all (default: all: the tracker is not trained on renders)",
    )
    parser.add_argument("--max-tracks", type=int, default=None, help="at most this many tracks per store")
    parser.add_argument(
        "--tempo-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one TempoConfig number (repeatable), e.g. slower_ratio=0",
    )
    args = parser.parse_args(argv)
    try:
        config = tempo_config(args.tempo_set)
    except ValueError as exc:
        parser.error(str(exc))

    import logging

    log = logging.getLogger("drumscribe")
    level = log.level
    log.setLevel(logging.ERROR)  # per-track warnings (no tempo, ...) would bury the table
    try:
        groups = score_stores(args.store, args.model, args.split, args.max_tracks, config)
    finally:
        log.setLevel(level)
    if not groups:
        return 1
    keys = ["acc1", "acc2", "beat_f", "cmlt", "amlt", "downbeat_f", "downbeat_f4", "downbeat_best", "meter"]
    print(f"{args.model}: means over tracks (tempo: share of tracks)")
    print(f"  {'group':<18} {'tracks':>6} " + " ".join(f"{k:>11}" for k in keys))
    for name, rows in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        means = [np.mean([r[k] for r in rows]) for k in keys]
        print(f"  {name:<18} {len(rows):>6} " + " ".join(f"{m:>11.3f}" for m in means))
    return 0


if __name__ == "__main__":
    sys.exit(main())
