"""Can a transcription tell high, mid and floor toms apart by the pitch of each stroke?

A probe on engine renders saved with their audio (``--save-audio``) that record each struck piece (the
``hits`` of each track's manifest record), never on real music. A drum score, a General MIDI file with
notes 50/47/43 or a Clone Hero chart with three tom lanes would need each tom stroke told by its drum; the
model gives one tom class. The probe asks how well the pitch of a single stroke, measured from the audio at
the stroke's (reference) time, orders the toms of a track:

* each stroke's pitch is the strongest peak at 55-450 Hz of the power spectrum 5-85 ms after it, minus the
  spectrum of 85-5 ms before it (what was already sounding: the band, the previous stroke);
* ``pairs``: over every pair of strokes on two different toms of one track, the share whose pitches are in
  the kit's order (the higher tom above: ``tom_high`` > ``tom_mid`` > ``tom_low`` > ``tom_floor``);
* ``in order``: the share of tracks with two or more toms whose per-tom median pitches descend, each at least
  1 semitone below the one above (how far a render's toms sound like a kit tuned high to low).

Printed for the drum-only tracks and the tracks with a band. Per-stroke pairs are what a lane split would
stand on; the per-tom medians use many strokes and a known grouping, so they are the easier question.

Usage (a probe twin: the same drums with and without ``tuned_toms_prob``)::

    drumscribe synth work/probe_toms --hours 0.3 --seed 401 --workers 1 --gmd ../shared/data/gmd --save-audio \\
        --drums-only-share 0.5 --set unison_prob=0.5
    drumscribe synth work/probe_toms_tuned --hours 0.3 --seed 401 --workers 1 --gmd ../shared/data/gmd \\
        --save-audio --drums-only-share 0.5 --set unison_prob=0.5 tuned_toms_prob=1
    python benchmarks/tom_pitch_probe.py --store work/probe_toms --store work/probe_toms_tuned
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from drumscribe.synth.render import TOM_ORDER, band_peak_hz

FFT_SIZE = 1 << 14
WINDOW_S = (0.005, 0.085)  # the stroke's window after its onset, mirrored before it for what was sounding [s]
BAND_HZ = (55.0, 450.0)  # where tom fundamentals lie [Hz]
MIN_STEP_ST = 1.0  # per-tom medians "in order": each this far below the one above [semitones]


def stroke_pitch(x: np.ndarray, sr: int, t: float) -> float | None:
    """MIDI pitch of the strongest new peak in BAND_HZ just after ``t`` [s]; None when the window leaves x."""
    a, b = int((t + WINDOW_S[0]) * sr), int((t + WINDOW_S[1]) * sr)
    if a < 0 or b > len(x):
        return None
    pa, pb = int((t - WINDOW_S[1]) * sr), int((t - WINDOW_S[0]) * sr)  # the same length, mirrored
    before = x[pa:pb] if pa >= 0 and pb - pa == b - a else None
    hz = band_peak_hz(x[a:b], sr, BAND_HZ, FFT_SIZE, before)
    return float(12 * np.log2(hz / 440.0) + 69)


def track_figures(x: np.ndarray, sr: int, hits: dict[str, list[float]]) -> tuple[int, int, bool] | None:
    """(pairs in order, pairs, per-tom medians in order) for one track; None with fewer than two toms."""
    strokes = [
        (rank, p)
        for rank, piece in enumerate(TOM_ORDER)
        for t in hits.get(piece, [])
        if (p := stroke_pitch(x, sr, float(t))) is not None
    ]
    ranks = np.asarray([r for r, _ in strokes], dtype=int)
    pitches = np.asarray([p for _, p in strokes], dtype=float)
    present = np.unique(ranks)
    if len(present) < 2:
        return None
    higher_tom = ranks[:, None] < ranks[None, :]  # stroke i is on a higher tom than stroke j
    right = int(np.sum(higher_tom & (pitches[:, None] > pitches[None, :])))
    medians = np.asarray([np.median(pitches[ranks == r]) for r in present])
    return right, int(higher_tom.sum()), bool(np.all(np.diff(medians) <= -MIN_STEP_ST))


def probe(store_dir: Path) -> dict[str, dict[str, float]]:
    """Per condition (``drums``, ``band``): pair share in order, pairs, tracks, share of tracks in order."""
    import soundfile as sf

    from drumscribe.data.store import Store
    from drumscribe.errors import DatasetLayoutError

    store = Store(store_dir)
    audio_dir = store_dir / "audio"
    if not audio_dir.is_dir():
        raise DatasetLayoutError(f"{store_dir}: no audio/ folder (render it with --save-audio)")
    sums: dict[str, list] = {"drums": [0, 0, []], "band": [0, 0, []]}
    for tid in store.track_ids():
        meta = store.records[tid].meta
        hits = meta.get("hits")
        if not isinstance(hits, dict):
            continue
        x, sr = sf.read(audio_dir / f"{tid}.flac", dtype="float32", always_2d=True)
        figures = track_figures(x.mean(axis=1), sr, hits)
        if figures is None:
            continue
        s = sums["drums" if meta.get("drums_only") else "band"]
        s[0] += figures[0]
        s[1] += figures[1]
        s[2].append(figures[2])
    return {
        cond: {
            "pairs_in_order": right / pairs if pairs else float("nan"),
            "pairs": pairs,
            "tracks": len(in_order),
            "tracks_in_order": float(np.mean(in_order)) if in_order else float("nan"),
        }
        for cond, (right, pairs, in_order) in sums.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--store", type=Path, action="append", required=True, help="render store saved with --save-audio"
    )
    args = parser.parse_args(argv)
    from drumscribe.errors import DrumscribeError

    print(f"{'store':<28} {'cond':<6} {'tracks':>6} {'in order':>8} {'pairs':>7} {'pairs in order':>14}")
    for store_dir in args.store:
        try:
            result = probe(store_dir)
        except DrumscribeError as exc:
            print(f"tom_pitch_probe: error: {exc}", file=sys.stderr)
            return 1
        for cond, r in result.items():
            print(
                f"{store_dir.name:<28} {cond:<6} {r['tracks']:>6} {r['tracks_in_order']:>8.3f} "
                f"{r['pairs']:>7} {r['pairs_in_order']:>14.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
