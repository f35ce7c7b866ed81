"""Groove MIDI Dataset reader: a tiny fake tree made in code, and the real one when ../shared has it."""

from __future__ import annotations

import csv
from pathlib import Path

import mido
import numpy as np
import pytest

from drumscribe.errors import AnnotationError, DatasetLayoutError
from drumscribe.synth.gmd import GrooveLibrary, read_info

REAL_GMD = Path(__file__).resolve().parents[2] / "shared/data/gmd"
BPM = 120.0
EIGHTH = 60.0 / BPM / 2

# one bar of a groove in Roland TD-11 keys: (eighth index, key, velocity)
GROOVE_BAR = [
    (0, 36, 100), (0, 22, 80), (1, 42, 60), (2, 38, 110), (2, 42, 70), (3, 26, 60),
    (4, 36, 90), (4, 42, 80), (5, 44, 50), (6, 40, 100), (6, 42, 70), (7, 44, 55),
]  # fmt: skip
# key 44 (pedal) at eighth 5 and 7 is isolated; none coincides with a hand stroke except where listed below
FILL_BAR = [(0, 48, 90), (2, 50, 90), (4, 45, 100), (5, 47, 100), (6, 43, 110), (7, 58, 110)]


def _write_midi(path: Path, bars: int, bar: list[tuple[int, int, int]]) -> None:
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM), time=0))
    events = []
    for b in range(bars):
        for e, key, vel in bar:
            tick = (b * 8 + e) * 240
            events += [(tick, 1, key, vel), (tick + 60, 0, key, 0)]
    last = 0
    for tick, on, key, vel in sorted(events):
        kind = "note_on" if on else "note_off"
        tr.append(mido.Message(kind, channel=9, note=key, velocity=vel if on else 64, time=tick - last))
        last = tick
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))


def make_fake_gmd(root: Path) -> Path:
    rows = []
    for split, n in (("train", 3), ("validation", 1), ("test", 1)):
        for i in range(n):
            name = f"drummer1/session1/{split}{i}_rock_120_beat_4-4.mid"
            _write_midi(root / name, 8, GROOVE_BAR)
            rows.append(
                [
                    "drummer1",
                    "drummer1/session1",
                    f"{split}{i}",
                    "rock",
                    "120",
                    "beat",
                    "4-4",
                    name,
                    "",
                    "16.0",
                    split,
                ]
            )
            fname = f"drummer1/session1/{split}{i}_rock_120_fill_4-4.mid"
            _write_midi(root / fname, 1, FILL_BAR)
            rows.append(
                [
                    "drummer1",
                    "drummer1/session1",
                    f"{split}f{i}",
                    "rock",
                    "120",
                    "fill",
                    "4-4",
                    fname,
                    "",
                    "2.0",
                    split,
                ]
            )
    with open(root / "info.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "midi_filename",
                    "audio_filename", "duration", "split"])  # fmt: skip
        w.writerows(rows)
    return root


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> Path:
    return make_fake_gmd(tmp_path_factory.mktemp("gmd"))


def test_reads_layout_and_splits(fake):
    assert len(read_info(fake)) == 10
    assert len(GrooveLibrary(fake)) == 10
    lib = GrooveLibrary(fake, split="train")
    assert len(lib) == 6 and len(lib.beats) == 3 and len(lib.fills) == 3
    assert len(GrooveLibrary(fake, split=["validation", "test"])) == 4


def test_roland_keys_map_to_pieces(fake):
    lib = GrooveLibrary(fake, split="test")
    perf = lib.load(lib.fills[0])
    # TD-11: 48/50 tom 1 head/rim, 45/47 tom 2, 43/58 floor tom head/rim -> all toms
    assert perf.pieces == ["tom_high", "tom_high", "tom_mid", "tom_mid", "tom_floor", "tom_floor"]
    np.testing.assert_allclose(
        perf.times_s, [0, 2 * EIGHTH, 4 * EIGHTH, 5 * EIGHTH, 6 * EIGHTH, 7 * EIGHTH], atol=1e-6
    )
    groove = lib.load(lib.beats[0])
    first_bar = [
        (round(t / EIGHTH), p) for t, p in zip(groove.times_s, groove.pieces) if t < 8 * EIGHTH - 1e-6
    ]
    # 22 = closed hi-hat edge, 26 = open hi-hat edge, 40 = snare rim
    assert (
        (0, "hihat_closed") in first_bar
        and (3, "hihat_open") in first_bar
        and (6, "snare_rimshot") in first_bar
    )
    assert groove.class_onsets()[3].size == 8 * 8  # 8 hi-hat notes per bar, pedal included as played


def test_sample_stitches_whole_bars(fake):
    lib = GrooveLibrary(fake, split="train", pedal_hihat="keep")
    for seed in range(5):
        p = lib.sample(np.random.default_rng(seed), 13.3)
        assert p.duration_s == pytest.approx(13.3)
        assert p.times_s.min() >= 0 and p.times_s.max() < 13.3
        # every hit stays on the eighth-note grid of the bars it was cut from (added crashes may be a few ms late)
        rel = p.times_s[np.array(p.pieces) != "crash"] / EIGHTH
        np.testing.assert_allclose(rel, np.round(rel), atol=1e-4)
        np.testing.assert_allclose(np.diff(p.downbeats_s), 8 * EIGHTH, atol=1e-9)
        assert p.meta["source"] == "gmd" and "Groove MIDI Dataset" in p.meta["credit"]
        assert all(f.startswith("drummer1/session1/train") for f in p.meta["files"])
    a = lib.sample(np.random.default_rng(3), 10.0)
    b = lib.sample(np.random.default_rng(3), 10.0)
    np.testing.assert_array_equal(a.times_s, b.times_s)
    assert a.pieces == b.pieces


def test_sample_with_fills_puts_toms_in_fill_sections(fake):
    lib = GrooveLibrary(fake, split="train")
    p = lib.sample(np.random.default_rng(0), 60.0, fill_prob=1.0)
    toms = p.class_onsets()[2]
    assert len(toms) > 0 and p.meta["fills"]
    assert all(any(a - 1e-6 <= t < b for a, b in p.meta["fills"]) for t in toms)
    only_beats = lib.sample(np.random.default_rng(0), 30.0, beat_type="beat")
    assert len(only_beats.class_onsets()[2]) == 0


def test_crash_on_the_downbeat_after_a_fill(fake):
    lib = GrooveLibrary(fake, split="train")
    p = lib.sample(np.random.default_rng(1), 60.0, fill_prob=1.0, crash_after_fill_prob=1.0)
    ends = [s["end_s"] for s in p.meta["sections"] if s["name"] == "fill" and s["end_s"] < 59.0]
    crashes = p.times_s[np.array(p.pieces) == "crash"]
    assert ends and p.meta["crashes_added"] == len(ends) == len(crashes)
    np.testing.assert_allclose(crashes, ends, atol=0.03)
    kicks = p.class_onsets()[0]
    assert all(np.min(np.abs(kicks - c)) < 0.02 for c in crashes)  # with a kick (played or added)
    none = lib.sample(np.random.default_rng(1), 60.0, fill_prob=1.0, crash_after_fill_prob=0.0)
    assert "crash" not in none.pieces


def test_pedal_hihat_policies(fake):
    def pedal(lib, seed=0):
        p = lib.sample(np.random.default_rng(seed), 16.0, beat_type="beat")
        return p, [v for x, v in zip(p.pieces, p.velocities) if x == "hihat_pedal"]

    keep, keep_v = pedal(GrooveLibrary(fake, split="train", pedal_hihat="keep"))
    assert len(keep_v) == 2 * 8 and set(keep_v) == {50, 55}
    drop, drop_v = pedal(GrooveLibrary(fake, split="train", pedal_hihat="drop"))
    assert drop_v == [] and len(drop) == len(keep) - 16
    some, some_v = pedal(GrooveLibrary(fake, split="train", pedal_keep_prob=1.0, pedal_velocity_scale=0.5))
    # the pedal note at eighth 5 is isolated, the one at eighth 7 is 1 eighth (250 ms) from a hand stroke:
    # both are kept, quieter
    assert sorted(set(some_v)) == [25, 28]
    never, never_v = pedal(GrooveLibrary(fake, split="train", pedal_keep_prob=0.0))
    assert never_v == [] and never.meta["pedal_hihat"]["dropped"] == 16


def test_pedal_merged_into_hand_strokes(tmp_path):
    root = tmp_path / "g"
    bar = [(0, 36, 100), (0, 42, 80), (0, 44, 40), (2, 38, 100), (4, 44, 40)]
    _write_midi(root / "d/s/a.mid", 4, bar)
    with open(root / "info.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "drummer",
                "session",
                "style",
                "bpm",
                "beat_type",
                "time_signature",
                "midi_filename",
                "duration",
                "split",
            ]
        )
        w.writerow(["d", "d/s", "rock", "120", "beat", "4-4", "d/s/a.mid", "8.0", "train"])
    lib = GrooveLibrary(root, pedal_keep_prob=1.0)
    p = lib.sample(np.random.default_rng(0), 8.0)
    pedal_t = p.times_s[np.array(p.pieces) == "hihat_pedal"]
    # the pedal note under the stroke on eighth 0 is merged; the isolated one on eighth 4 stays
    np.testing.assert_allclose(np.mod(pedal_t, 8 * EIGHTH), 4 * EIGHTH, atol=1e-6)
    assert p.meta["pedal_hihat"]["dropped"] == 4


def test_broken_midi_files_are_skipped_or_reported(tmp_path):
    root = make_fake_gmd(tmp_path / "g")
    broken = sorted((root / "drummer1/session1").glob("train0_*beat*.mid"))[0]
    broken.write_bytes(b"MThd not really a MIDI file")
    lib = GrooveLibrary(root, split="train")
    with pytest.raises(AnnotationError, match=broken.name):
        lib.load(next(e for e in lib.beats if e.midi_path == broken))
    for seed in range(6):  # sampling never uses the broken file
        p = lib.sample(np.random.default_rng(seed), 8.0)
        assert broken.name not in " ".join(p.meta["files"])
    only = GrooveLibrary(root, split="train")
    only.beats = [e for e in only.beats if e.midi_path == broken]
    with pytest.raises(DatasetLayoutError, match="no readable groove"):
        only.sample(np.random.default_rng(0), 8.0)


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="not a folder"):
        GrooveLibrary(tmp_path / "missing")
    with pytest.raises(DatasetLayoutError, match="no info.csv"):
        GrooveLibrary(tmp_path)
    (tmp_path / "info.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetLayoutError, match="missing columns"):
        GrooveLibrary(tmp_path)
    (tmp_path / "info.csv").write_text(
        "drummer,session,style,bpm,beat_type,time_signature,midi_filename,split\nd,s,rock,120,beat,4-4,nope.mid,train\n"
    )
    with pytest.raises(DatasetLayoutError, match="no groove"):
        GrooveLibrary(tmp_path)


@pytest.mark.skipif(not (REAL_GMD / "info.csv").is_file(), reason="shared GMD not present")
def test_real_gmd_splits_are_disjoint_and_sample():
    train = GrooveLibrary(REAL_GMD, split="train")
    test = GrooveLibrary(REAL_GMD, split="test")
    assert len(train) > 800 and len(test) > 100
    files = {str(e.midi_path) for e in train.entries}
    assert not files & {str(e.midi_path) for e in test.entries}
    for seed in range(3):
        p = test.sample(np.random.default_rng(seed), 20.0)
        assert p.duration_s == pytest.approx(20.0) and p.times_s.max() < 20.0
        assert len(p) > 40
        test_files = {str(e.midi_path.relative_to(REAL_GMD)) for e in test.entries}
        assert set(p.meta["files"]) <= test_files


def test_a_midi_file_that_ends_late_gives_no_silent_bars(tmp_path):
    """Some GMD files (58 of 1150) end tens of seconds after their last note; info.csv's duration is the
    recording's. Bars are cut within that duration, so a sampled groove never falls silent."""
    root = make_fake_gmd(tmp_path / "gmd")
    with open(root / "info.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    name = rows[1][7]  # the first train groove: 8 bars of 2 s (16.0 s in info.csv)
    mid = mido.MidiFile(str(root / name))
    mid.tracks[0].append(mido.MetaMessage("end_of_track", time=480 * 4 * 12))  # 12 silent bars more
    mid.save(str(root / name))
    assert mido.MidiFile(str(root / name)).length > 30.0
    lib = GrooveLibrary(root, split="train")
    entry = next(e for e in lib.beats if e.midi_path.name == Path(name).name)
    assert lib.load(entry).duration_s == pytest.approx(16.0)
    for seed in range(20):
        p = lib.sample(np.random.default_rng(seed), 30.0, beat_type="beat")
        edges = np.concatenate([[0.0], np.sort(p.times_s), [30.0]])
        assert np.diff(edges).max() < 2.0, seed  # a stroke at least every bar
