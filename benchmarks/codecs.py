"""What lossy encoding does to transcription: mdb-dev's real tracks as MP3, AAC, Opus and Vorbis files.

Songs reach users as MP3s, .m4a files (AAC) and downloaded videos (Opus in WebM), not as FLAC. Each mdb-dev
track (mixes and drum-only tracks) is encoded with ``ffmpeg`` at the bitrates below, decoded by drumscribe
(libsndfile, or ffmpeg for the formats libsndfile does not read) and transcribed with the model's card
thresholds; it prints micro F1 per encoding side by side with the lossless original, and how far the onsets
move: the median and the largest shift [ms] of the onsets found in both the original's and the encoding's
transcription (same class, matched one to one within 50 ms). A container that records its encoder's delay
(MP4, Ogg, WebM) should shift nothing; a raw AAC stream cannot. Also the median decode time of a 3-minute
stereo 44.1 kHz song in each format (``load_audio``, 3 runs each).

Usage::

    python benchmarks/codecs.py                 # the shipped default model
    python benchmarks/codecs.py --model runs/a/best --codecs mp3-128,m4a-128
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import CONDITIONS, audio_path, find_tracks, matched_pairs, model_data_parser  # noqa: E402

#: name -> (suffix, ffmpeg encoder arguments)
CODECS = {
    "mp3-128": (".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    "mp3-320": (".mp3", ["-c:a", "libmp3lame", "-b:a", "320k"]),
    "m4a-128": (".m4a", ["-c:a", "aac", "-b:a", "128k"]),
    "m4a-256": (".m4a", ["-c:a", "aac", "-b:a", "256k"]),
    "opus-96": (".webm", ["-c:a", "libopus", "-b:a", "96k"]),
    "vorbis-q3": (".ogg", ["-c:a", "libvorbis", "-q:a", "3"]),
    "aac-raw-128": (".aac", ["-c:a", "aac", "-b:a", "128k"]),
}
MATCH_S = 0.05


def encode(src: Path, dest: Path, args: list[str]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dest)]
    subprocess.run(cmd, check=True)


def shifts_ms(ref: list[np.ndarray], est: list[np.ndarray]) -> list[float]:
    """Per pair of same-class onsets of ``ref`` and ``est`` matched within MATCH_S: est - ref [ms]."""
    return [1000.0 * float(e[j] - r[i]) for r, e in zip(ref, est) for i, j in matched_pairs(r, e, MATCH_S)]


def transcribe_tracks(data: Path, model, tracks: list[str]) -> dict[tuple[str, str], list[np.ndarray]]:
    from drumscribe.transcribe.inference import InferenceConfig, compute_features, transcribe_features

    out = {}
    for cond in CONDITIONS:
        for track in tracks:
            features = compute_features(
                audio_path(data, cond, track), None, model.feature_config, InferenceConfig()
            )
            out[cond, track] = transcribe_features(features, model, tempo=False).onsets
    return out


def decode_seconds(folder: Path, names: list[str], repeats: int = 3) -> dict[str, float]:
    """Median ``load_audio`` time of a 3-minute stereo 44.1 kHz song (the demo clip looped) per format."""
    import soundfile as sf

    from drumscribe.audio import load_audio

    rng = np.random.default_rng(0)
    t = np.arange(180 * 44100) / 44100
    song = (0.2 * np.sin(2 * np.pi * 110 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    song += 0.05 * rng.standard_normal(len(t)).astype(np.float32)
    wav = folder / "song.wav"
    sf.write(wav, np.stack([song, song[::-1]], axis=1), 44100, subtype="PCM_16")
    files = {"flac (lossless)": folder / "song.flac"}
    sf.write(files["flac (lossless)"], sf.read(wav)[0], 44100, subtype="PCM_16")
    for name in names:
        suffix, args = CODECS[name]
        files[name] = folder / f"song-{name}{suffix}"
        encode(wav, files[name], args)
    out = {}
    for name, path in files.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            load_audio(path)
            times.append(time.perf_counter() - t0)
        out[name] = float(np.median(times))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = model_data_parser(__doc__)
    parser.add_argument(
        "--codecs", default=",".join(CODECS), help=f"comma-separated, of: {', '.join(CODECS)}"
    )
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.codecs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CODECS]
    if unknown:
        parser.error(f"unknown codec(s) {unknown}; known: {', '.join(CODECS)}")
    if shutil.which("ffmpeg") is None:
        parser.error("ffmpeg is not on the PATH (make system-deps installs it)")

    import torch

    from drumscribe.data.annotations import read_mdb
    from drumscribe.scoring import OnsetScores, evaluate_onsets
    from drumscribe.transcribe.inference import get_model

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    tracks = find_tracks(args.data)
    refs = {t: read_mdb(args.data / "annotations" / f"{t}.txt").onsets for t in tracks}
    model = get_model(args.model, "cpu")
    original = transcribe_tracks(args.data, model, tracks)

    def score(onsets, cond):
        return OnsetScores.sum(
            evaluate_onsets(refs[t], onsets[cond, t], window_s=MATCH_S) for t in tracks
        ).micro_f1

    head = f"{'encoding':<16} {'mix F1':>7} {'drums F1':>9} {'shift median':>13} {'max':>6}"
    lines = [
        f"model {model.name}, {len(tracks)} tracks, micro F1 at the card's thresholds (50 ms)",
        head,
        "-" * len(head),
    ]
    lines.append(
        f"{'original':<16} {score(original, 'mix'):>7.4f} {score(original, 'drums'):>9.4f} {'':>13} {'':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="drumscribe-codecs-") as tmp:
        for name in names:
            suffix, enc_args = CODECS[name]
            data = Path(tmp) / name
            (data / "annotations").mkdir(parents=True)
            for t in tracks:
                shutil.copy(args.data / "annotations" / f"{t}.txt", data / "annotations")
                for cond, folder in CONDITIONS.items():
                    encode(audio_path(args.data, cond, t), data / folder / f"{t}{suffix}", enc_args)
            coded = transcribe_tracks(data, model, tracks)
            moved = [s for key in original for s in shifts_ms(original[key], coded[key])]
            lines.append(
                f"{name:<16} {score(coded, 'mix'):>7.4f} {score(coded, 'drums'):>9.4f} "
                f"{np.median(moved):>10.1f} ms {np.max(np.abs(moved)):>6.1f}"
            )
        print("\n".join(lines))
        print("\ndecode time of a 3-minute stereo 44.1 kHz song (load_audio to mono 44.1 kHz, median of 3):")
        for name, sec in decode_seconds(Path(tmp), names).items():
            print(f"  {name:<16} {sec:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
