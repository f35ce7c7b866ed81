"""Would a finer low band tell the bass notes heard as kicks from the kicks? A probe on ``../shared/data/mdb-dev``.

MusicDelta_Shadows' false kicks in the mix fall on bass notes (docs/default-model.md, "What the errors left on
mdb-dev sit on"). The features' 2048-sample frames put 21.5 Hz between FFT bins, so the bands below about 250 Hz
hold a few bins each and a bass note's pitch hardly shows. This probe measures, at each kick the model writes
in a mix (true: matched to an annotated kick within 50 ms; false: not), what a long frame would show:

- ``tonal``: log10 of the peak-to-mean power ratio over 30-200 Hz in 8192-sample frames (5.4 Hz between bins)
  centred 40, 80, 120 and 160 ms after the onset (median of the four): a held pitch is peaked, a kick's
  pitch sweep and noise are flatter;
- ``low drift``: the change [dB] of the 30-200 Hz power in those frames from +40 to +160 ms;
- ``sustain``: the 30-200 Hz band-passed signal's energy at +150-250 ms against +0-60 ms [dB].

Each is printed as median [10th, 90th percentile] for the true and the false kicks of each track. The
classes separate only where the false kicks' range clears the true kicks'.

    python benchmarks/kick_low_band.py [--model default] [--track MusicDelta_Shadows]

Figures: docs/default-model.md, "What the errors left on mdb-dev sit on".
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from error_context import band_signals  # noqa: E402
from mdb_dev import audio_path, find_tracks, model_data_parser, unmatched  # noqa: E402

LONG_FRAME = 8192
LOW_HZ = (30.0, 200.0)
OFFSETS_S = (0.04, 0.08, 0.12, 0.16)


def low_band_measures(audio: np.ndarray, low: np.ndarray, rate: int, t: float) -> tuple[float, float, float]:
    """(tonal, low drift [dB], sustain [dB]) at onset ``t`` [s] of mono ``audio`` and its 30-200 Hz band ``low``."""
    freqs = np.fft.rfftfreq(LONG_FRAME, 1.0 / rate)
    band = (freqs >= LOW_HZ[0]) & (freqs <= LOW_HZ[1])
    window = np.hanning(LONG_FRAME)
    ratios, powers = [], []
    for dt in OFFSETS_S:
        centre = int((t + dt) * rate)
        start = max(centre - LONG_FRAME // 2, 0)
        seg = audio[start : start + LONG_FRAME]
        seg = np.pad(seg, (0, LONG_FRAME - len(seg)))
        power = np.abs(np.fft.rfft(seg * window))[band] ** 2
        ratios.append(power.max() / (power.mean() + 1e-20))
        powers.append(power.sum() + 1e-20)
    early = np.mean(low[int(t * rate) : int((t + 0.06) * rate)] ** 2) + 1e-12
    late = np.mean(low[int((t + 0.15) * rate) : int((t + 0.25) * rate)] ** 2) + 1e-12
    return (
        float(np.log10(np.median(ratios))),
        float(10 * np.log10(powers[-1] / powers[0])),
        float(10 * np.log10(late / early)),
    )


def summary(values: np.ndarray) -> str:
    """``median [p10, p90]`` of one column."""
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return f"{p50:6.2f} [{p10:6.2f},{p90:6.2f}]"


def main(argv: list[str] | None = None) -> int:
    parser = model_data_parser(__doc__)
    parser.add_argument("--track", action="append", help="only these tracks (repeatable)")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)

    import soundfile as sf

    from drumscribe.data.annotations import read_mdb
    from drumscribe.transcribe import transcribe
    from drumscribe.vocab import KICK

    print(
        f"{'track':24s} {'kicks':5s} {'n':>3s}  {'tonal':^22s} {'low drift [dB]':^22s} {'sustain [dB]':^22s}"
    )
    for track in args.track or find_tracks(args.data):
        path = audio_path(args.data, "mix", track)
        audio, rate = sf.read(str(path), always_2d=True, dtype="float64")
        mono = audio.mean(axis=1)
        low = band_signals(mono, rate, (LOW_HZ,))[0]
        est = np.asarray(transcribe(path, model=args.model, threshold=args.threshold).onsets[KICK])
        ref = read_mdb(args.data / "annotations" / f"{track}.txt").onsets[KICK]
        false, _ = unmatched(ref, est, 0.05)
        true = np.setdiff1d(est, false)
        for name, times in (("true", true), ("false", false)):
            if len(times) == 0:
                continue
            m = np.array([low_band_measures(mono, low, rate, float(t)) for t in times])
            print(
                f"{track:24s} {name:5s} {len(times):3d}  {summary(m[:, 0])} {summary(m[:, 1])} {summary(m[:, 2])}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
