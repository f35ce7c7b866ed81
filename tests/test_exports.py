"""Every export format parses back with a standard library, with the onsets round-tripping.

The Transcription is built by hand (known onsets on a known beat grid), so no model is involved.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from drumscribe.transcribe import Transcription
from drumscribe.transcribe.exports import DRUM_STAFF, quantise
from drumscribe.transcribe.velocity import velocity_from_height

BPM = 100.0
BEAT_S = 60.0 / BPM
START_S = 0.4


def grid_time(beat: float) -> float:
    return START_S + beat * BEAT_S


def make_transcription(jitter_s: float = 0.004, triplet_beat: int | None = 5) -> Transcription:
    """Two bars-and-a-bit of a rock beat at 100 BPM: kick 1/3, snare 2/4, hi-hat 8ths, crash on 1, a tom
    fill of 16ths, optionally one beat of hi-hat triplets; onset times jittered by +-jitter_s."""
    rng = np.random.default_rng(0)
    beats: list[list[float]] = [[] for _ in range(5)]
    for bar in range(3):
        b = 4 * bar
        beats[0] += [b, b + 2]
        beats[1] += [b + 1, b + 3]
        beats[3] += [
            b + k / 2
            for k in range(8)
            if not (triplet_beat is not None and b <= triplet_beat < b + 4 and int(b + k / 2) == triplet_beat)
        ]
    beats[4] += [0.0, 8.0]
    beats[2] += [10 + k / 4 for k in range(4)]
    if triplet_beat is not None:
        beats[3] += [triplet_beat + k / 3 for k in range(3)]
    onsets = [
        np.sort(np.array([grid_time(b) for b in bs]) + rng.uniform(-jitter_s, jitter_s, len(bs)))
        for bs in beats
    ]
    confidences = [rng.uniform(0.5, 1.0, len(o)).astype(np.float32) for o in onsets]
    duration = grid_time(13)
    n = int(np.ceil(duration * 100))
    act = np.zeros((n, 5), np.float32)
    for c, (o, h) in enumerate(zip(onsets, confidences)):
        act[np.rint(o * 100).astype(int), c] = h
    return Transcription(
        onsets=onsets,
        velocities=[velocity_from_height(h) for h in confidences],
        confidences=confidences,
        activations=act,
        fps=100.0,
        duration_s=duration,
        tempo_bpm=BPM,
        beats_s=np.array([grid_time(b) for b in range(12)]),
        source="groove.wav",
        model_name="hand-made",
        model_card={"name": "hand-made", "arch": "crnn", "thresholds": [0.5] * 5},
        spectrogram=np.random.default_rng(1).random((n, 84), dtype=np.float32),
        timings={"model": 0.1},
    )


@pytest.fixture(scope="module")
def tr() -> Transcription:
    return make_transcription()


def test_midi_round_trip(tr, tmp_path) -> None:
    path = tr.to_midi(tmp_path / "out.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert len(pm.instruments) == 1 and pm.instruments[0].is_drum  # channel 10
    tempo_times, tempi = pm.get_tempo_changes()
    assert tempi[0] == pytest.approx(BPM, abs=0.01)
    assert len(pm.instruments[0].notes) == tr.num_onsets
    tick_s = 60.0 / BPM / 960
    for c in range(5):
        notes = sorted(
            (n for n in pm.instruments[0].notes if n.pitch == tr.midi_notes[c]), key=lambda n: n.start
        )
        assert len(notes) == len(tr.onsets[c])
        np.testing.assert_allclose([n.start for n in notes], tr.onsets[c], atol=tick_s)
        assert [n.velocity for n in notes] == tr.velocities[c].tolist()
        assert all(n.end > n.start for n in notes)
    mid = mido.MidiFile(str(path))
    channels = {m.channel for m in mid.tracks[0] if m.type in ("note_on", "note_off")}
    assert channels == {9}


def test_midi_of_a_song_named_in_any_script_at_any_tempo(tr, tmp_path) -> None:
    """A file name outside Latin-1 names the MIDI track (UTF-8); at 45 BPM a note is still within 1 ms of its
    onset; a tempo given as a numpy integer reaches the JSON as a number; no bar line before the song."""
    named = dataclasses.replace(tr, source="ドラム 🥁 Привет.wav").with_bpm(np.int64(45))
    path = named.to_midi(tmp_path / "named.mid")
    mid = mido.MidiFile(str(path), charset="utf-8")
    assert mid.tracks[0][0].name == "drums (ドラム 🥁 Привет.wav)"
    notes = sorted(pretty_midi.PrettyMIDI(str(path)).instruments[0].notes, key=lambda n: (n.start, n.pitch))
    want = sorted((float(t), named.midi_notes[c]) for c in range(5) for t in named.onsets[c])
    assert max(abs(n.start - t) for n, (t, _) in zip(notes, want)) < 0.001
    settings = json.loads(named.to_json(tmp_path / "named.json").read_text())["settings"]
    assert settings["bpm"] == 45.0
    assert named.downbeats_s.min() >= 0.0


def test_midi_notes_follow_the_card(tr, tmp_path) -> None:
    custom = tr.repick()
    custom.midi_notes = [35, 40, 45, 44, 51]
    pm = pretty_midi.PrettyMIDI(str(custom.to_midi(tmp_path / "custom.mid")))
    assert {n.pitch for n in pm.instruments[0].notes} == {35, 40, 45, 44, 51}


def test_txt_csv_json_round_trip(tr, tmp_path) -> None:
    txt = tr.to_txt(tmp_path / "out.txt")
    rows = [line.split("\t") for line in txt.read_text().splitlines()]
    assert all(len(r) == 2 for r in rows)
    for c, name in enumerate(tr.classes):
        times = np.array([float(t) for t, k in rows if k == name])
        np.testing.assert_allclose(times, tr.onsets[c], atol=1e-6)

    path = tr.to_csv(tmp_path / "out.csv")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == [
            "time_s",
            "class",
            "midi_note",
            "velocity",
            "confidence",
            "articulation",
            "articulation_p",
        ]
        records = list(reader)
    assert all(r["articulation"] == r["articulation_p"] == "" for r in records)  # a model without a head
    for c, name in enumerate(tr.classes):
        mine = [r for r in records if r["class"] == name]
        np.testing.assert_allclose([float(r["time_s"]) for r in mine], tr.onsets[c], atol=1e-6)
        assert [int(r["velocity"]) for r in mine] == tr.velocities[c].tolist()
        np.testing.assert_allclose([float(r["confidence"]) for r in mine], tr.confidences[c], atol=1e-4)
        assert {int(r["midi_note"]) for r in mine} == {tr.midi_notes[c]}

    data = json.loads(tr.to_json(tmp_path / "out.json").read_text())
    assert data["tempo_bpm"] == pytest.approx(BPM)
    assert data["model"]["name"] == "hand-made" and data["settings"]["thresholds"] == [0.5] * 5
    assert "velocity_rule" in data["settings"] and data["source"] == "groove.wav"
    for c, name in enumerate(tr.classes):
        mine = [o for o in data["onsets"] if o["class"] == name]
        np.testing.assert_allclose([o["time_s"] for o in mine], tr.onsets[c], atol=1e-6)
        assert [o["velocity"] for o in mine] == tr.velocities[c].tolist()
        assert data["counts"][name] == len(tr.onsets[c])
    assert not list(tmp_path.glob(".*.part"))  # atomic writes leave no temporary files


def test_outputs_get_the_permissions_of_a_plain_open(tr, tmp_path) -> None:
    """Atomic writes publish files readable like any other (0666 less the umask), not owner-only like the
    temporary file they start as; a replaced file keeps its mode."""
    from drumscribe import fileio

    for path in (
        tr.to_json(tmp_path / "a.json"),
        tr.to_csv(tmp_path / "a.csv"),
        tr.to_midi(tmp_path / "a.mid"),
    ):
        assert path.stat().st_mode & 0o777 == 0o666 & ~fileio._UMASK, path
    os.chmod(tmp_path / "a.json", 0o640)
    tr.to_json(tmp_path / "a.json")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640


def test_musicxml_round_trip(tr, tmp_path) -> None:
    import music21

    path = tr.to_musicxml(tmp_path / "out.musicxml")
    text = path.read_text()
    assert "<unpitched>" in text and "<sign>percussion</sign>" in text
    score = music21.converter.parse(str(path))
    part = score.parts[0]
    assert isinstance(part.recurse().getElementsByClass("Clef").first(), music21.clef.PercussionClef)
    ts = part.recurse().getElementsByClass("TimeSignature").first()
    assert ts.ratioString == "4/4"
    for measure in part.getElementsByClass("Measure"):  # every voice fills its 4/4 measure exactly
        voices = list(measure.voices)
        assert len(voices) == 2 and all(v.highestTime == 4 for v in voices), measure.number
    mm = part.recurse().getElementsByClass("MetronomeMark").first()
    assert mm.number == pytest.approx(BPM, abs=0.1)
    # every onset comes back as an unpitched note at its staff position, at its grid offset
    position = {f"{step}{octave}": c for c, (step, octave, _, _) in DRUM_STAFF.items()}
    found: list[list[Fraction]] = [[] for _ in range(5)]
    heads: dict[int, set[str]] = {c: set() for c in range(5)}
    for el in part.recurse().notes:
        offset = Fraction(el.getOffsetInHierarchy(part)).limit_denominator(12)
        members = el.notes if hasattr(el, "notes") and not isinstance(el, music21.note.Unpitched) else [el]
        for n in members:
            c = position[n.displayName]
            found[c].append(offset)
            heads[c].add(n.notehead)
    # the measure grid starts one beat before... whatever the downbeat choice, offsets map linearly to time
    first_kick = min(found[0])
    for c in range(5):
        times = np.array(sorted(float(o - first_kick) for o in found[c])) * BEAT_S + tr.onsets[0][0]
        assert len(times) == len(tr.onsets[c]), (c, len(times), len(tr.onsets[c]))
        np.testing.assert_allclose(times, np.sort(tr.onsets[c]), atol=0.01 + BEAT_S / 8)
    assert heads[3] == {"x"} and heads[4] == {"x"} and heads[1] == {"normal"}
    # stems: kick down in voice 2, hands up in voice 1 (read from the XML itself)
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    unpitched = {mi.get("id"): int(mi.findtext("midi-unpitched")) for mi in root.iter("midi-instrument")}
    assert sorted(unpitched.values()) == sorted(n + 1 for n in tr.midi_notes)  # MusicXML counts from 1
    staff_of_note = {
        tr.midi_notes[c] + 1: f"{step}{octave}" for c, (step, octave, _, _) in DRUM_STAFF.items()
    }
    for note in root.iter("note"):
        if note.find("unpitched") is None:
            continue
        step = note.findtext("unpitched/display-step") + note.findtext("unpitched/display-octave")
        expected = ("2", "down") if step == "F4" else ("1", "up")
        assert (note.findtext("voice"), note.findtext("stem")) == expected, step
        # each note names the drum it plays, which sits at the note's staff position
        assert staff_of_note[unpitched[note.find("instrument").get("id")]] == step
    # the triplet beat was written as triplets
    assert any(o.denominator == 3 for o in found[3]) and all(o.denominator in (1, 2, 4) for o in found[2])


@pytest.mark.skipif(not shutil.which("mscore3"), reason="MuseScore 3 (Debian musescore3) is not installed")
def test_musicxml_opens_in_musescore(tr, tmp_path) -> None:
    """MuseScore itself reads the score and engraves it (a PDF with content); runs where mscore3 exists."""
    path = tr.to_musicxml(tmp_path / "out.musicxml")
    pdf = tmp_path / "out.pdf"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.run(
        ["mscore3", "-o", str(pdf), str(path)], capture_output=True, text=True, timeout=180, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert pdf.is_file() and pdf.stat().st_size > 5000 and pdf.read_bytes().startswith(b"%PDF")


def test_quantise_snaps_jittered_onsets_to_the_grid() -> None:
    tr = make_transcription(jitter_s=0.02, triplet_beat=None)
    placed, bpm = quantise(tr)
    assert bpm == BPM
    # kicks on beats 1 and 3 of each bar: offsets 0, 2 (mod 4) after the downbeat choice
    kicks = sorted(p for c, p, _ in placed if c == 0)
    assert all(p.denominator == 1 and p % 2 == 0 for p in kicks)
    snares = sorted(p for c, p, _ in placed if c == 1)
    assert all(p.denominator == 1 and p % 2 == 1 for p in snares)
    hats = sorted(p for c, p, _ in placed if c == 3)
    assert all((2 * p).denominator == 1 for p in hats) and len(hats) == len(tr.onsets[3])


def test_exports_without_tempo_or_onsets(tmp_path) -> None:
    import music21

    empty = Transcription(
        onsets=[np.zeros(0)] * 5,
        velocities=[np.zeros(0, int)] * 5,
        confidences=[np.zeros(0, np.float32)] * 5,
        activations=np.zeros((100, 5), np.float32),
        fps=100.0,
        duration_s=1.0,
    )
    for fmt in ("midi", "musicxml", "txt", "csv", "json", "png", "chart"):
        path = getattr(empty, f"to_{fmt}")(tmp_path / f"empty.{fmt}")
        assert path.stat().st_size > 0 or fmt == "txt"
    assert pretty_midi.PrettyMIDI(str(tmp_path / "empty.midi")).instruments == []
    assert len(music21.converter.parse(str(tmp_path / "empty.musicxml")).recurse().notes) == 0
    assert json.loads((tmp_path / "empty.json").read_text())["onsets"] == []
    chart = read_chart(tmp_path / "empty.chart")
    assert chart["notes"] == {} and chart["ts"] == [(0, 4)]


def test_png_is_an_image_of_the_right_size(tr, tmp_path) -> None:
    import matplotlib.image

    path = tr.to_png(tmp_path / "out.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = matplotlib.image.imread(str(path))
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
    assert img[..., :3].std() > 0.05  # not a blank canvas
    no_spec = tr.repick()
    no_spec.spectrogram = None
    assert Path(no_spec.to_png(tmp_path / "nospec.png")).stat().st_size > 0


def test_png_frequency_axis_in_hz() -> None:
    from drumscribe.features import FeatureConfig, band_frequencies
    from drumscribe.transcribe.plot import frequency_ticks

    config = FeatureConfig()
    freqs = band_frequencies(config)
    ticks = frequency_ticks(config.to_dict(), len(freqs))
    assert [label for _, label in ticks] == ["100", "300", "1k", "3k", "10k"]
    positions = np.array([pos for pos, _ in ticks])
    assert np.all(np.diff(positions) > 5)  # ascending, and apart enough to read
    # the 1 kHz tick lies between the bands whose centres enclose 1 kHz (band i is drawn over [i, i + 1))
    i = int(np.searchsorted(freqs, 1000.0))
    assert i - 0.5 <= positions[2] <= i + 0.5
    # no feature settings, or settings that do not fit the spectrogram: band numbers instead
    assert frequency_ticks(None, len(freqs)) == []
    assert frequency_ticks(config.to_dict(), len(freqs) + 3) == []
    assert frequency_ticks({"no_such_setting": 1}, len(freqs)) == []


# -- .chart (Clone Hero / Moonscraper) -------------------------------------------------------------------

#: the lanes an independent reader expects: class -> (note, cymbal marker or None)
CHART_LANES = {0: (0, None), 1: (1, None), 2: (3, None), 3: (2, 66), 4: (4, 68)}


def read_chart(path: Path) -> dict:
    """Sections of a .chart file: resolution, tempo and time-signature events, the [Events] entries (tick,
    value), and timed notes (``notes``: Expert's; ``levels``: every difficulty's, Expert first)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    name = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1]
            sections[name] = []
        elif "=" in line and name is not None:
            key, _, value = line.partition("=")
            sections[name].append((key.strip(), value.strip()))
    song = dict(sections["Song"])
    res = int(song["Resolution"])
    tempos = [(int(k), int(v.split()[1]) / 1000) for k, v in sections["SyncTrack"] if v.startswith("B ")]
    ts = [(int(k), int(v.split()[1])) for k, v in sections["SyncTrack"] if v.startswith("TS ")]
    assert tempos[0][0] == 0 and ts[0][0] == 0 and all(b > 0 for _, b in tempos)
    ticks = [int(k) for k, _ in sections["SyncTrack"]]
    assert ticks == sorted(ticks)

    def seconds(tick: int) -> float:
        t, prev_tick, bpm = 0.0, 0, tempos[0][1]
        for at, new_bpm in tempos[1:]:
            if at > tick:
                break
            t += (at - prev_tick) / res * 60.0 / bpm
            prev_tick, bpm = at, new_bpm
        return t + (tick - prev_tick) / res * 60.0 / bpm

    levels: dict[str, dict[int, set[int]]] = {}
    for name, entries in sections.items():
        if not name.endswith("Drums"):
            continue
        notes = levels[name.removesuffix("Drums")] = {}
        for k, v in entries:
            kind, code, length = v.split()
            assert kind == "N" and length == "0"
            notes.setdefault(int(k), set()).add(int(code))
        assert list(notes) == sorted(notes)
    events = [(int(k), v) for k, v in sections.get("Events", [])]
    return {"song": song, "res": res, "ts": ts, "notes": levels["Expert"], "levels": levels, "events": events,
            "seconds": seconds}  # fmt: skip


def chart_onsets(chart: dict) -> list[np.ndarray]:
    """Onset times per class read back from the lanes (a yellow or green note is a cymbal by its marker)."""
    out: list[list[float]] = [[] for _ in range(5)]
    for tick, codes in chart["notes"].items():
        for c, (lane, marker) in CHART_LANES.items():
            if lane in codes and (marker is None or marker in codes):
                out[c].append(chart["seconds"](tick))
        if 32 in codes:  # an Expert+ (double-pedal) kick
            out[0].append(chart["seconds"](tick))
        assert all(m - 64 in codes for m in codes if m >= 66)  # a cymbal marker only with its note
    return [np.array(o) for o in out]


def test_chart_notes_are_the_onsets_on_a_beat_mapped_tempo_track(tr, tmp_path) -> None:
    chart = read_chart(tr.to_chart(tmp_path / "groove.chart"))
    assert chart["song"]["MusicStream"] == '"groove.wav"' and chart["song"]["Offset"] == "0"
    got = chart_onsets(chart)
    for c in range(5):
        assert len(got[c]) == len(tr.onsets[c]), c  # every onset, none merged or invented
        # each note sounds where its onset was, up to the jitter the grid snapping removed
        np.testing.assert_allclose(np.sort(got[c]), np.sort(tr.onsets[c]), atol=0.005 + 0.01, err_msg=str(c))
    # bar lines on the downbeats: after the first (pickup) measure, every kick sits on beat 1 or 3
    res, ts = chart["res"], chart["ts"]
    bar_start = ts[1][0] if len(ts) > 1 else 0
    assert ts[-1][1] == 4
    kicks = [t for t, codes in chart["notes"].items() if 0 in codes and t >= bar_start]
    assert kicks and all((t - bar_start) % (4 * res) in (0, 2 * res) for t in kicks)
    # the triplet beat keeps its three hi-hats apart: 64 ticks
    hats = sorted(t for t, codes in chart["notes"].items() if 66 in codes)
    assert any(b - a == res // 3 for a, b in zip(hats, hats[1:]))


def test_chart_follows_a_drifting_tempo_and_a_late_start(tmp_path) -> None:
    """Quarter-note kicks from 4.3 s that speed up from 90 to 110 BPM: each note stays on its kick."""
    t = drifting_kicks()
    kicks = t.onsets[0]
    chart = read_chart(t.to_chart(tmp_path / "drift.chart"))
    np.testing.assert_allclose(chart_onsets(chart)[0], kicks, atol=0.003)
    assert "MusicStream" not in chart["song"]


@pytest.mark.parametrize("n", [3, 9, 10, 200])
def test_smooth_beats_is_scipys_savgol_filter(n) -> None:
    """The numpy smoothing (no scipy.signal import at export time) is savgol_filter(.., 9, 2, mode="interp")."""
    from scipy.signal import savgol_filter

    from drumscribe.transcribe.exports import smooth_beats

    beats = np.cumsum(np.random.default_rng(n).uniform(0.4, 0.6, n))
    want = beats if n < 9 else savgol_filter(beats, 9, 2, mode="interp")
    np.testing.assert_allclose(smooth_beats(beats), want, atol=1e-9)


def hits(onsets: list, duration_s: float, beats_s, tempo_bpm: float | None = None) -> Transcription:
    """A transcription of given onsets per class (missing classes empty), velocity 100, no activations."""
    onsets = [np.asarray(o, dtype=float) for o in onsets] + [np.zeros(0)] * (5 - len(onsets))
    return Transcription(
        onsets=onsets,
        velocities=[np.full(len(o), 100) for o in onsets],
        confidences=[np.full(len(o), 0.9, np.float32) for o in onsets],
        activations=np.zeros((int(duration_s * 100), 5), np.float32),
        fps=100.0,
        duration_s=duration_s,
        tempo_bpm=tempo_bpm,
        beats_s=np.asarray(beats_s, dtype=float),
    )


def test_fast_strokes_keep_their_own_slots_in_score_and_chart(tmp_path) -> None:
    """A beat of 32nd-note double bass (and one of sextuplet snares): every stroke keeps its own note, in the
    score and in the chart, where sixteenths would merge pairs; the other beats stay in sixteenths."""
    import music21

    kicks = [grid_time(b) for b in range(12) if b not in (5, 6)] + [grid_time(5 + k / 8) for k in range(8)]
    snares = [grid_time(b) for b in (1, 3, 9, 11)] + [grid_time(6 + k / 6) for k in range(6)]
    t = hits([np.sort(kicks), np.sort(snares)], grid_time(13), [grid_time(b) for b in range(12)], BPM)
    onsets = t.onsets
    placed, _ = quantise(t)
    for c in (0, 1):
        pos = [p for k, p, _ in placed if k == c]
        assert len(set(pos)) == len(onsets[c]), c  # no two strokes share a slot
    first = min(p for k, p, _ in placed if k == 0)  # positions count from the first measure
    kick_pos = sorted(p - first for k, p, _ in placed if k == 0)
    snare_pos = sorted(p - first for k, p, _ in placed if k == 1)
    assert [p for p in kick_pos if 5 <= p < 6] == [5 + Fraction(k, 8) for k in range(8)]  # 32nds
    assert [p for p in snare_pos if 6 <= p < 7] == [6 + Fraction(k, 6) for k in range(6)]  # sextuplets
    assert all(p.denominator == 1 for p in kick_pos if not 5 <= p < 6)  # the other beats as they were
    score = music21.converter.parse(str(t.to_musicxml(tmp_path / "fast.musicxml")))
    names = [n.displayName for el in score.parts[0].recurse().notes for n in getattr(el, "notes", [el])]
    assert names.count("F4") == len(kicks) and names.count("C5") == len(snares)
    for measure in score.parts[0].getElementsByClass("Measure"):
        assert all(v.highestTime == 4 for v in measure.voices), measure.number
    got = chart_onsets(read_chart(t.to_chart(tmp_path / "fast.chart")))
    np.testing.assert_allclose(got[0], np.sort(kicks), atol=0.002)
    np.testing.assert_allclose(got[1], np.sort(snares), atol=0.002)


def test_strokes_either_side_of_a_beat_keep_their_own_slots(tmp_path) -> None:
    """A snare just before a beat rounds up onto it; another just after the beat stays its own note (the
    later beat is written in 32nds), in the score and in the chart. Strokes around a beat with room between
    them stay in sixteenths."""
    import music21

    snares = [grid_time(1), grid_time(3 - 0.04), grid_time(3 + 0.08), grid_time(5), grid_time(7)]
    kicks = [grid_time(b) for b in (0, 2, 4, 6)]
    t = hits([kicks, snares], grid_time(9), [grid_time(b) for b in range(9)], BPM)
    placed, _ = quantise(t)
    first = min(p for _, p, _ in placed)
    snare_pos = sorted(p - first for k, p, _ in placed if k == 1)
    assert snare_pos == [1, 3, 3 + Fraction(1, 8), 5, 7]
    score = music21.converter.parse(str(t.to_musicxml(tmp_path / "join.musicxml")))
    names = [n.displayName for el in score.parts[0].recurse().notes for n in getattr(el, "notes", [el])]
    assert names.count("C5") == len(snares) and names.count("F4") == len(kicks)
    got = chart_onsets(read_chart(t.to_chart(tmp_path / "join.chart")))
    assert len(got[1]) == len(snares)


def drifting_kicks() -> Transcription:
    """Quarter-note kicks from 4.3 s that speed up from 90 to 110 BPM."""
    period = np.linspace(60 / 90, 60 / 110, 40)
    kicks = 4.3 + np.concatenate([[0.0], np.cumsum(period[:-1])])
    return hits([kicks], 30.0, kicks, 100.0)


def test_midi_tempo_map_puts_the_files_beats_and_bars_on_the_songs(tr, tmp_path) -> None:
    t = drifting_kicks()
    kicks = t.onsets[0]
    plain = pretty_midi.PrettyMIDI(str(t.to_midi(tmp_path / "plain.mid")))
    mapped = pretty_midi.PrettyMIDI(str(t.to_midi(tmp_path / "mapped.mid", tempo_map=True)))
    for pm in (plain, mapped):  # the notes sound at the same times either way
        starts = sorted(n.start for n in pm.instruments[0].notes)
        np.testing.assert_allclose(starts, kicks, atol=0.002)
    assert len(plain.get_tempo_changes()[0]) == 1
    beats = mapped.get_beats()
    # every kick is a beat of the mapped file; the plain file's 100 BPM grid drifts off them
    assert np.abs(beats[:, None] - kicks[None]).min(axis=0).max() < 0.003
    assert np.abs(plain.get_beats()[:, None] - kicks[None]).min(axis=0).max() > 0.1
    # bars: the groove's kicks on 1 fall on the mapped file's downbeats (after a shorter first bar)
    groove = pretty_midi.PrettyMIDI(str(tr.to_midi(tmp_path / "groove.mid", tempo_map=True)))
    downbeats = groove.get_downbeats()
    bar_kicks = tr.onsets[0][[0, 2, 4]]  # beats 0, 4 and 8: kicks on 1
    assert np.abs(downbeats[:, None] - bar_kicks[None]).min(axis=0).max() < 0.015
    # the CLI flag, recorded in the JSON settings
    flagged = dataclasses.replace(tr, settings={**tr.settings, "midi_tempo_map": True})
    assert len(pretty_midi.PrettyMIDI(str(flagged.to_midi(tmp_path / "flag.mid"))).get_tempo_changes()[0]) > 1


@pytest.mark.parametrize("beats", [[0.3, 0.3, 0.3], [2.0, 1.0, 0.5], [0.5, 0.51, 0.52, 1.0], []])
def test_exports_take_any_beat_list(beats, tmp_path) -> None:
    """Beats from the API (repeated, unsorted, too close, none) still give every export, every onset kept."""
    kicks = np.array([0.01, 1.0, 2.0])
    t = hits([kicks], 3.0, beats)
    assert len(chart_onsets(read_chart(t.to_chart(tmp_path / "b.chart")))[0]) == 3
    midi = pretty_midi.PrettyMIDI(str(t.to_midi(tmp_path / "b.mid", tempo_map=True)))
    np.testing.assert_allclose(sorted(n.start for n in midi.instruments[0].notes), kicks, atol=0.002)
    import music21

    score = music21.converter.parse(str(t.to_musicxml(tmp_path / "b.musicxml")))
    assert len(score.parts[0].recurse().notes) == 3


def test_chart_fast_kicks_alternate_with_expert_plus_kicks(tmp_path) -> None:
    """Sixteenth-note double bass at 150 BPM (0.1 s apart) alternates kick / Expert+ kick; quarter kicks at
    the same tempo (0.4 s apart) stay plain kicks."""
    beat = 0.4
    quarters = 0.6 + beat * np.arange(8)
    run = quarters[-1] + beat + 0.1 * np.arange(8)
    kicks = np.concatenate([quarters, run])
    t = hits([kicks], 8.0, 0.6 + beat * np.arange(13), 150.0)
    chart = read_chart(t.to_chart(tmp_path / "dk.chart"))
    lanes = [0 if 0 in codes else 32 for _, codes in sorted(chart["notes"].items())]
    assert lanes == [0] * 8 + [0, 32] * 4
    np.testing.assert_allclose(chart_onsets(chart)[0], kicks, atol=0.002)


def waltz() -> Transcription:
    """Five bars of 3/4 at 100 BPM: kick on 1, snare on 2 and 3, hi-hat eighths; the beats tracked."""
    bars = 5
    beats = [[], [], [], [], []]
    for bar in range(bars):
        b = 3 * bar + 1  # the song starts on a pickup beat (beat 0: a hi-hat alone)
        beats[0] += [b]
        beats[1] += [b + 1, b + 2]
        beats[3] += [b + k / 2 for k in range(6)]
    beats[3] += [0.0]
    onsets = [np.array(sorted(grid_time(b) for b in bs)) for bs in beats]
    conf = [np.full(len(o), 0.9, np.float32) for o in onsets]
    n = int(np.ceil(grid_time(3 * bars + 2) * 100))
    return Transcription(
        onsets=onsets,
        velocities=[velocity_from_height(h) for h in conf],
        confidences=conf,
        activations=np.zeros((n, 5), np.float32),
        fps=100.0,
        duration_s=n / 100,
        tempo_bpm=BPM,
        beats_s=np.array([grid_time(b) for b in range(3 * bars + 1)]),
        source="waltz.wav",
    )


def test_a_meter_other_than_four_four(tmp_path) -> None:
    import music21

    from drumscribe.errors import ConfigError

    tr = waltz().with_meter(3)
    assert tr.settings["beats_per_bar"] == 3 and waltz().with_meter(None).settings["beats_per_bar"] is None
    # the bar lines fall on the kicks, every third beat
    np.testing.assert_allclose(tr.downbeats_s, tr.onsets[0], atol=1e-6)
    assert len(waltz().downbeats_s) < len(tr.downbeats_s)  # in 4/4 they cannot all be kicks
    # MusicXML: a 3/4 signature, every voice fills three beats, every kick opens a measure
    score = music21.converter.parse(str(tr.to_musicxml(tmp_path / "waltz.musicxml")))
    part = score.parts[0]
    assert part.recurse().getElementsByClass("TimeSignature").first().ratioString == "3/4"
    measures = list(part.getElementsByClass("Measure"))
    assert all(v.highestTime == 3 for m in measures for v in m.voices)
    kick = f"{DRUM_STAFF[0][0]}{DRUM_STAFF[0][1]}"
    kick_offsets = [
        Fraction(n.getOffsetInHierarchy(part)).limit_denominator(12)
        for n in part.recurse().notes
        for m in (n.notes if isinstance(n, music21.percussion.PercussionChord) else [n])
        if m.displayName == kick
    ]
    assert len(kick_offsets) == 5 and all(o % 3 == 0 for o in kick_offsets)
    # MIDI: 3/4 after a one-beat pickup in the tempo-mapped file, 3/4 throughout in the plain one
    plain = [
        (m.numerator, m.denominator)
        for m in mido.MidiFile(str(tr.to_midi(tmp_path / "w.mid"))).tracks[0]
        if m.type == "time_signature"
    ]
    assert plain == [(3, 4)]
    mapped = [
        m.numerator
        for m in mido.MidiFile(str(tr.to_midi(tmp_path / "wm.mid", tempo_map=True))).tracks[0]
        if m.type == "time_signature"
    ]
    assert mapped[-1] == 3
    # the chart: 3-beat measures (TS 3), after any pickup
    lines = tr.to_chart(tmp_path / "w.chart").read_text().splitlines()
    assert [ln.split("=")[1].strip() for ln in lines if "= TS" in ln][-1] == "TS 3"
    assert json.loads(tr.to_json(tmp_path / "w.json").read_text())["settings"]["beats_per_bar"] == 3
    for bad in (1, 13, 2.5, "three"):
        with pytest.raises(ConfigError, match="beats per bar"):
            waltz().with_meter(bad)


def test_atomic_path_leaves_nothing_when_the_block_is_interrupted(tmp_path) -> None:
    """An error or a Ctrl-C/SIGTERM (KeyboardInterrupt, SystemExit) inside the block removes the temporary file
    and leaves an existing file as it was; success publishes the file."""
    from drumscribe.fileio import atomic_path

    target = tmp_path / "song.mid"
    target.write_text("old")
    for exc in (ValueError("bad"), KeyboardInterrupt(), SystemExit(143)):
        with pytest.raises(type(exc)), atomic_path(target) as tmp:
            tmp.write_text("half")
            raise exc
        assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_a_dotted_sixteenth_before_a_sixteenth_is_beamed_without_a_warning(capfd) -> None:
    """music21 gives the dotted sixteenth a second beam as a stub to the right while the sixteenth stops it,
    and prints a warning mid-export; the score's beams join the two, and nothing is printed."""
    from music21 import meter, note

    from drumscribe.transcribe.exports import _voice_beams

    lengths = [(0.25, True), (0.25, False), (0.5, False), (0.5, True)] + [(0.25, False)] * 6
    lengths += [(0.375, True), (0.375, False), (0.25, False)]  # the last beat: rest, dotted 16th, 16th
    elements = [
        note.Rest(quarterLength=q) if rest else note.Unpitched(quarterLength=q) for q, rest in lengths
    ]
    beams = _voice_beams(meter.TimeSignature("4/4"), elements)
    dotted, last = beams[-2], beams[-1]
    assert [(b.number, b.type) for b in dotted] == [(1, "start"), (2, "start")]
    assert [(b.number, b.type) for b in last] == [(1, "stop"), (2, "stop")]
    out, err = capfd.readouterr()
    assert "beam" not in err and "beam" not in out
