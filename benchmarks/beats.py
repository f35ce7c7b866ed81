"""How well does a transcription find the song's tempo, beats and bar lines? Scored on engine renders and charted songs.

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

**Real songs** (``--songs DIR``): rhythm-game song folders (Frets on Fire, Phase Shift, Clone Hero) hold the
song's audio stems beside a chart, ``notes.mid``, whose tempo map and time signatures a charter set so that the
notes fall with the recording. Every folder under DIR with ``notes.mid`` and ``song.ogg`` is one song: its stems
(:data:`CHART_STEMS`) are summed into the mix and transcribed from the audio, as ``drumscribe transcribe``
does, and scored against the chart's beats and bar lines (pretty_midi's ``get_beats`` and ``get_downbeats``);
the reference tempo is the one the chart holds longest. A song whose ``song.ini`` sets a ``delay`` (an offset
between chart and audio) is scored on its tempo and meter only. ``scripts/fetch_stems.sh OUT`` writes the eight
songs of Debian's Frets on Fire packages to ``OUT/songs``. Their charts are human-made, but the songs are few
and mostly fast (95-190 BPM): a check of the estimators on real recordings, not a survey.

Usage::

    drumscribe synth work/beats92 --hours 1.5 --seed 92 --workers 2 --gmd ../shared/data/gmd
    python benchmarks/beats.py --store work/beats92 [--split test] [--model default]
    python benchmarks/beats.py --store work/beats92 --tempo-set slower_ratio=0   # other TempoConfig settings
    python benchmarks/beats.py --songs work/stems/songs       # the Frets on Fire songs, one line each

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
#: the audio files of a rhythm-game song folder that make up its mix (by name, with an extension of
#: :data:`CHART_AUDIO`); ``song`` is the band without the stems a game charts separately
CHART_STEMS = ("song", "guitar", "rhythm", "bass", "keys", "vocals", "drums", "drums_1", "drums_2", "drums_3")
CHART_AUDIO = (".ogg", ".opus", ".mp3", ".wav", ".flac", ".m4a")
#: the metrics that need the chart and the audio aligned (not scored for a song with a ``delay``)
ALIGNED_KEYS = ("beat_f", "cmlt", "amlt", "downbeat_f", "downbeat_f4", "downbeat_best")


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


def tempo_band(bpm: float) -> str:
    """The tempo group a track is printed in."""
    return "below 90 BPM" if bpm < 90 else "90-140 BPM" if bpm <= 140 else "above 140 BPM"


def chart_stems(folder: Path) -> list[Path]:
    """A song folder's audio stems (:data:`CHART_STEMS` with an extension of :data:`CHART_AUDIO`)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.stem.lower() in CHART_STEMS and p.suffix.lower() in CHART_AUDIO
    )


def chart_songs(roots: list[Path]) -> list[Path]:
    """The song folders under ``roots`` (a root may be one): those holding ``notes.mid`` and a ``song``
    stem."""
    found = set()
    for root in roots:
        for mid in root.rglob("notes.mid"):  # the root's own too
            if mid.is_file() and any(p.stem.lower() == "song" for p in chart_stems(mid.parent)):
                found.add(mid.parent)
    return sorted(found)


def chart_delay_ms(folder: Path) -> float:
    """``delay`` of the folder's ``song.ini`` [ms] (0 without one)."""
    import configparser

    ini = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        ini.read(folder / "song.ini", encoding="utf-8-sig")
    except (configparser.Error, UnicodeDecodeError):
        return 0.0
    for section in ini.sections():
        value = ini[section].get("delay")
        if value not in (None, ""):
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 0.0


def chart_grid(midi_path: Path, duration_s: float) -> tuple[np.ndarray, np.ndarray, float, int]:
    """(beats, downbeats, tempo [BPM], beats per bar) of a chart over ``duration_s`` of audio: the tempo and
    the meter are the ones the chart holds longest (4/4 without a time signature, as MIDI has it)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(midi_path))
    end = max(pm.get_end_time(), duration_s)
    times, tempi = pm.get_tempo_changes()
    spans = np.diff(np.append(times, end))
    tempo = float(tempi[int(np.argmax(spans))])
    per_bar = 4
    if pm.time_signature_changes:
        ts = pm.time_signature_changes
        starts = [t.time for t in ts] + [end]
        per_bar = ts[int(np.argmax(np.diff(starts)))].numerator
    beats, downs = pm.get_beats(), pm.get_downbeats()
    return beats[beats <= duration_s], downs[downs <= duration_s], tempo, per_bar


def load_mix(folder: Path, sample_rate: int) -> np.ndarray:
    """The sum of a song folder's stems (:data:`CHART_STEMS`), mono, at ``sample_rate``."""
    from drumscribe.audio import load_audio, to_mono

    parts = []
    for path in chart_stems(folder):
        samples, _ = load_audio(path, sample_rate)
        parts.append(samples if samples.ndim == 1 else to_mono(samples))
    mix = np.zeros(max(len(p) for p in parts), dtype=np.float32)
    for p in parts:
        mix[: len(p)] += p
    return mix


def score_songs(
    roots: list[Path], model_name: str, config: Any = None
) -> tuple[dict[str, list[dict[str, float]]], list[tuple[str, float, float | None, dict[str, float]]]]:
    """Every song's scores (:func:`track_scores`) grouped (all; tempo band; beats per bar), and one row per
    song (name, chart tempo, estimated tempo, scores). A song that cannot be read is reported and skipped."""
    from drumscribe.errors import DrumscribeError
    from drumscribe.transcribe.inference import (
        InferenceConfig,
        compute_features,
        get_model,
        transcribe_features,
    )

    model = get_model(model_name, "cpu")
    sr = model.feature_config.sample_rate_hz
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    rows = []
    for folder in chart_songs(roots):
        try:
            mix = load_mix(folder, sr)
            beats, downs, bpm, per_bar = chart_grid(folder / "notes.mid", len(mix) / sr)
        except (DrumscribeError, OSError, ValueError, EOFError, IndexError) as exc:
            print(f"{folder}: skipped ({exc})")
            continue
        if len(beats) < 2:
            print(f"{folder}: skipped (its chart has fewer than two beats within the audio)")
            continue
        features = compute_features(mix, sr, model.feature_config, InferenceConfig())
        tr = transcribe_features(features, model, keep_spectrogram=False, tempo_config=config)
        s = track_scores(tr, beats, downs, bpm, per_bar)
        if chart_delay_ms(folder):
            s.update(dict.fromkeys(ALIGNED_KEYS, float("nan")))
        for group in ("all", tempo_band(bpm), f"{per_bar} beats per bar"):
            groups[group].append(s)
        rows.append((folder.name, bpm, tr.tempo_bpm, s))
    return groups, rows


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
                tempo_band(bpm),
            ):
                groups[group].append(s)
    return groups


#: the printed metrics, in order
KEYS = ("acc1", "acc2", "beat_f", "cmlt", "amlt", "downbeat_f", "downbeat_f4", "downbeat_best", "meter")


def print_groups(title: str, groups: dict[str, list[dict[str, float]]]) -> int:
    """Print each group's means (a metric missing for some tracks: over the others); returns the tracks."""
    if not groups:
        return 0
    print(title)
    print(f"  {'group':<18} {'tracks':>6} " + " ".join(f"{k:>11}" for k in KEYS))
    for name, rows in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        means = []
        for k in KEYS:
            values = [r[k] for r in rows if not np.isnan(r[k])]
            means.append(f"{np.mean(values):>11.3f}" if values else f"{'-':>11}")
        print(f"  {name:<18} {len(rows):>6} " + " ".join(means))
    return len(groups.get("all", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, action="append", default=[], help="render store (repeatable)")
    parser.add_argument(
        "--songs",
        type=Path,
        action="append",
        default=[],
        help="a folder of rhythm-game song folders (notes.mid + song.ogg; repeatable)",
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
    if not args.store and not args.songs:
        parser.error("give --store (engine renders) or --songs (charted songs)")
    try:
        config = tempo_config(args.tempo_set)
    except ValueError as exc:
        parser.error(str(exc))

    import logging

    log = logging.getLogger("drumscribe")
    level = log.level
    log.setLevel(logging.ERROR)  # per-track warnings (no tempo, ...) would bury the table
    scored = 0
    try:
        if args.store:
            groups = score_stores(args.store, args.model, args.split, args.max_tracks, config)
            scored += print_groups(f"{args.model}: means over render tracks (tempo: share of tracks)", groups)
        if args.songs:
            groups, rows = score_songs(args.songs, args.model, config)
            if rows:
                print(f"{args.model}: charted songs")
                print(
                    f"  {'song':<28} {'chart BPM':>9} {'estimate':>9} " + " ".join(f"{k:>11}" for k in KEYS)
                )
                for name, bpm, est, s in rows:
                    est_text = f"{est:9.1f}" if est else f"{'-':>9}"
                    print(
                        f"  {name[:28]:<28} {bpm:9.1f} {est_text} " + " ".join(f"{s[k]:>11.3f}" for k in KEYS)
                    )
            scored += print_groups(f"{args.model}: means over charted songs (tempo: share of songs)", groups)
    finally:
        log.setLevel(level)
    return 0 if scored else 1


if __name__ == "__main__":
    sys.exit(main())
