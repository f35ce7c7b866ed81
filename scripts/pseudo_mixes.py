"""Real full mixes labelled by a teacher model (noisy-student data; docs/default-model.md, "Not shipped: real
mixes labelled by the model itself").

Each Frets on Fire song that ``scripts/fetch_stems.sh`` unpacks comes as two recordings: the band without its
guitar (``STEMS/bands/<name>.ogg``: real, produced drums with bass and keys) and the guitar alone
(``STEMS/train/<name>.ogg``). The teacher transcribes the band alone, where no guitar masks the drums. The
student then hears the band with the guitar added at each ``--guitar-db`` level and learns the teacher's
labels, which teaches it to hear drums past a real distorted guitar.

    python scripts/pseudo_mixes.py STEMS OUT [--model default] [--guitar-db 0 6] [--threshold ...]
    drumscribe convert folder OUT STORE --split train

writes ``OUT/<name>_g<dB>.flac`` (the recordings' channels and rate) with a ``.txt`` sidecar (drumscribe's
class names, which ``convert folder`` reads without a label map) and ``OUT/pseudo.json`` (teacher,
thresholds, onset counts). Files are written atomically and a re-run skips finished songs. Only the songs
under ``STEMS/train`` are used; the held-out guitars (``STEMS/heldout``) stay unheard. The run27 store that
docs/default-model.md describes came from ``--model`` = the stage-7 model with the default thresholds (run26's
from the card's mix thresholds of that time: ``--threshold kick=0.6,snare=0.4,toms=0.55,hihat=0.6,cymbals=0.3``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from drumscribe.fileio import atomic_path, read_json, write_json
from drumscribe.modelio import load_model
from drumscribe.transcribe import transcribe
from drumscribe.transcribe.cli import parse_threshold

HEADROOM = 0.98


def mix(band: np.ndarray, guitar: np.ndarray, guitar_db: float) -> np.ndarray:
    """``band + guitar`` (frames, channels) at ``guitar_db`` [dB], zero-padded to the longer one, scaled down
    only if it clips."""
    n = max(len(band), len(guitar))
    out = np.zeros((n, band.shape[1]), dtype=np.float32)
    out[: len(band)] += band
    out[: len(guitar)] += guitar * np.float32(10 ** (guitar_db / 20))
    peak = float(np.abs(out).max()) if n else 0.0
    return out * np.float32(HEADROOM / peak) if peak > HEADROOM else out


def read(path: Path) -> tuple[np.ndarray, int]:
    """Samples (frames, channels) float32 and the sample rate of an audio file."""
    data, sr = sf.read(path, always_2d=True, dtype="float32")
    return data, int(sr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stems", type=Path, help="the folder scripts/fetch_stems.sh wrote (bands/ and train/)")
    ap.add_argument("out", type=Path, help="folder for the mixes and their sidecars")
    ap.add_argument("--model", default="default", help="teacher: shipped model name or model folder")
    ap.add_argument("--guitar-db", nargs="+", type=float, default=[0.0, 6.0], help="guitar levels [dB]")
    ap.add_argument(
        "--threshold",
        default="kick=0.5,snare=0.5,toms=0.8,hihat=0.5,cymbals=0.5",
        help="the teacher's peak thresholds (default: 0.5, toms 0.8: the teacher's toms on a band's bass and "
        "keys taught a student false toms at 0.55)",
    )
    args = ap.parse_args(argv)

    bands = args.stems / "bands"
    songs = sorted(p.stem for p in bands.glob("*.ogg") if (args.stems / "train" / p.name).is_file())
    if not songs:
        sys.exit(
            f"{args.stems}: no song with both bands/<name>.ogg and train/<name>.ogg (run fetch_stems.sh)"
        )
    teacher = load_model(args.model)
    threshold = parse_threshold(args.threshold, teacher.classes)
    record_path = args.out / "pseudo.json"
    record = read_json(record_path) if record_path.is_file() else {"songs": {}}
    record.update(teacher=str(teacher.path), threshold=args.threshold, guitar_db=args.guitar_db)
    for name in songs:
        outs = [args.out / f"{name}_g{db:g}" for db in args.guitar_db]
        if all(o.with_suffix(".flac").is_file() and o.with_suffix(".txt").is_file() for o in outs):
            continue
        band_path = bands / f"{name}.ogg"
        labels = transcribe(
            band_path,
            model=teacher,
            threshold=threshold,
            input_kind="mix",
            tempo=False,
            keep_spectrogram=False,
        )
        band, sr = read(band_path)
        guitar, sr_guitar = read(args.stems / "train" / f"{name}.ogg")
        if sr_guitar != sr or guitar.shape[1] != band.shape[1]:
            sys.exit(f"{name}: band and guitar differ in sample rate or channels")
        for db, o in zip(args.guitar_db, outs):
            with atomic_path(o.with_suffix(".flac")) as tmp:
                sf.write(tmp, mix(band, guitar, db), sr, format="FLAC")
            labels.to_txt(o.with_suffix(".txt"))
        counts = {c: len(t) for c, t in zip(labels.classes, labels.onsets)}
        record["songs"][name] = counts
        write_json(record_path, record)
        print(f"{name}: {sum(counts.values())} teacher onsets {counts} -> {len(outs)} mixes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
