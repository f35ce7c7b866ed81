"""What the model's errors on ``../shared/data/mdb-dev`` sit on, and what those strokes sound like.

For each track and condition, every false hit and every miss of the model is told by the annotated classes at
its time (within the matching window): a kick false hit on a stroke annotated ``snare+cymbals`` is a different
error from one on silence. For the drum-only tracks, the script then prints the median energy per frequency
band (-5 ms to +60 ms around the onset) of each annotated combination of classes that has such errors next to
the combinations it might be confused with: a "false" kick whose 30-90 Hz energy is that of the annotated kicks
points at a kick the annotation left out rather than at the model.

    python benchmarks/error_context.py                        # the shipped default model, threshold 0.5
    python benchmarks/error_context.py --model runs/a --track MusicDelta_Punk --threshold 0.4
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import audio_path, find_tracks, model_data_parser, unmatched  # noqa: E402

BANDS_HZ = ((30, 90), (90, 180), (180, 400), (400, 1000), (1000, 3000), (3000, 8000))


def stroke_labels(ref: list[np.ndarray], classes: list[str], t: float, window_s: float) -> str:
    """The annotated classes within ``window_s`` of ``t``, joined by ``+`` (``-``: none)."""
    hit = [c for c, times in zip(classes, ref) if times.size and np.min(np.abs(times - t)) <= window_s]
    return "+".join(hit) or "-"


def band_signals(
    audio: np.ndarray, rate: int, bands: tuple[tuple[float, float], ...] = BANDS_HZ
) -> list[np.ndarray]:
    """``audio`` band-passed (4th order) to each of ``bands`` [Hz] (default :data:`BANDS_HZ`), once per track."""
    from scipy.signal import butter, sosfilt

    return [sosfilt(butter(4, (lo, hi), "bandpass", fs=rate, output="sos"), audio) for lo, hi in bands]


def band_energy_db(bands: list[np.ndarray], rate: int, times: list[float]) -> np.ndarray:
    """Median energy [dB] per band (of :func:`band_signals`) from -5 ms to +60 ms around each time."""
    out = []
    for y in bands:
        e = [np.mean(y[max(int((t - 0.005) * rate), 0) : int((t + 0.06) * rate)] ** 2) + 1e-12 for t in times]
        out.append(10 * np.log10(np.median(e)))
    return np.array(out)


def main(argv: list[str] | None = None) -> int:
    parser = model_data_parser(__doc__)
    parser.add_argument("--track", action="append", help="only these tracks (repeatable)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--window-s", type=float, default=0.05)
    args = parser.parse_args(argv)

    import soundfile as sf

    from drumscribe.data.annotations import read_mdb
    from drumscribe.transcribe import transcribe
    from drumscribe.vocab import CLASS_NAMES

    classes = list(CLASS_NAMES)
    tracks = args.track or find_tracks(args.data)
    for track in tracks:
        ref = read_mdb(args.data / "annotations" / f"{track}.txt").onsets
        groups: dict[str, list[float]] = collections.defaultdict(list)  # annotated combination -> strokes
        for t in np.sort(np.concatenate(ref)):
            on = stroke_labels(ref, classes, float(t), args.window_s)
            if not groups[on] or t - groups[on][-1] > args.window_s:  # a stroke of two classes counts once
                groups[on].append(float(t))
        for cond in ("mix", "drums"):
            path = audio_path(args.data, cond, track)
            tr = transcribe(path, model=args.model, threshold=args.threshold)
            tally: collections.Counter[tuple[str, str, str]] = collections.Counter()
            fp_on: dict[str, list[float]] = collections.defaultdict(list)
            for c, name in enumerate(classes):
                fp, fn = unmatched(ref[c], np.asarray(tr.onsets[c]), args.window_s)
                for t in fp:
                    on = stroke_labels(ref, classes, float(t), args.window_s)
                    tally["false hit", name, on] += 1
                    fp_on[on].append(float(t))
                for t in fn:
                    tally["miss", name, stroke_labels(ref, classes, float(t), args.window_s)] += 1
            print(f"\n{track} ({cond}): errors by what is annotated there")
            for (kind, name, on), n in sorted(tally.items(), key=lambda kv: -kv[1]):
                print(f"  {n:3d}  {kind:9s} {name:8s} on {on}")
            if cond != "drums":
                continue
            audio, rate = sf.read(str(path), always_2d=True, dtype="float32")
            bands = band_signals(audio.mean(axis=1), rate)
            print(f"  median energy [dB] per band {', '.join(f'{a}-{b}' for a, b in BANDS_HZ)} Hz")
            for on in sorted(groups, key=lambda g: -len(groups[g])):
                if len(groups[on]) < 3:
                    continue
                e = band_energy_db(bands, rate, groups[on])
                print(f"  {on:24s} n={len(groups[on]):3d}  {' '.join(f'{x:6.1f}' for x in e)}")
                if fp_on.get(on):
                    e = band_energy_db(bands, rate, fp_on[on])
                    label = f"  (its {len(fp_on[on])} false hits)"
                    print(f"  {label:24s}        {' '.join(f'{x:6.1f}' for x in e)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
