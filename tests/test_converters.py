"""Each converter on a small fake tree in the real release layout, with a broken and a missing file.

Expected onsets are written here from the annotation files and the SPEC section 2 tables, independently of
the label maps in drumscribe.vocab; expected splits are the SPEC section 3 lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from drumscribe.cli import main
from drumscribe.data.converters import get_converter
from drumscribe.data.converters.base import convert
from drumscribe.data.converters.tfdata import iter_tfrecord, read_metadata, write_saved_dataset
from drumscribe.data.store import Store
from drumscribe.errors import DatasetLayoutError
from drumscribe.features import FeatureConfig, log_spectrogram

SR = 44100
KD, SD, TT, HH, CY = range(5)


def write_wav(path: Path, seconds: float = 0.5, seed: int = 0, channels: int = 1, sr: int = SR) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = (np.random.default_rng(seed).uniform(-0.3, 0.3, (int(seconds * sr), channels))).astype(np.float32)
    sf.write(str(path), x, sr, subtype="FLOAT" if path.suffix == ".wav" else None)
    return x


def write_broken(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(50)))


def write_midi(path: Path, notes: list[tuple[float, int, int]], tpb: int = 480, channel: int = 9) -> None:
    """Notes (time [s], pitch, velocity) at 120 bpm; times must be multiples of 1/960 s (one tick)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    events = []
    for t, pitch, vel in notes:
        tick = round(t * 2 * tpb)
        assert abs(tick / (2 * tpb) - t) < 1e-12
        events.append((tick, 1, mido.Message("note_on", note=pitch, velocity=vel, channel=channel)))
        events.append((tick + 24, 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    mid.tracks.append(track)
    mid.save(str(path))


def expected(pairs: list[tuple[float, int]]) -> list[np.ndarray]:
    out = [[] for _ in range(5)]
    for t, c in pairs:
        out[c].append(t)
    return [np.sort(np.asarray(o, dtype=float)) for o in out]


def assert_onsets(store: Store, track_id: str, want: list[np.ndarray]) -> None:
    got = store.onsets(track_id)
    for c in range(5):
        np.testing.assert_allclose(got[c], want[c], atol=1e-9, err_msg=f"{track_id} class {c}")


# -- ENST ----------------------------------------------------------------------------------------------

ENST_SPEC = {  # a sample of SPEC section 3, written out independently of the converter's lists
    "drummer_1/107_minus-one_salsa_sticks": "train",
    "drummer_1/143_MIDI-minus-one_fusion-125_sticks": "train",
    "drummer_2/123_minus-one_celtic-rock-better-take_sticks": "train",
    "drummer_3/140_MIDI-minus-one_bigband_sticks": "validation",
    "drummer_3/142_MIDI-minus-one_blues-102_sticks": "test",
    "drummer_3/162_MIDI-minus-one_fusion-125_sticks": "test",
}
ENST_TXT = "0.050000 bd\n0.100000 sd-\n0.150000 rc3\n0.200000 chh\n0.250000 mt\n0.300000 ohh\n0.310000 cb\n"
ENST_WANT = [(0.05, KD), (0.1, SD), (0.15, CY), (0.2, HH), (0.25, TT), (0.3, HH), (0.31, CY)]


def test_enst_split_lists_match_spec():
    from drumscribe.data.converters.enst import ENST_SPLITS

    counts = {}
    for drummer, _, split in ENST_SPLITS:
        counts[(drummer, split)] = counts.get((drummer, split), 0) + 1
    assert counts == {
        ("drummer_1", "train"): 21,
        ("drummer_2", "train"): 22,
        ("drummer_3", "validation"): 10,
        ("drummer_3", "test"): 11,
    }
    table = {f"{d}/{t}": s for d, t, s in ENST_SPLITS}
    assert len(table) == 64
    for track, split in ENST_SPEC.items():
        assert table[track] == split
    # drummer 3: the first 10 in list order go to validation, the last 11 to test
    d3 = [s for d, _, s in ENST_SPLITS if d == "drummer_3"]
    assert d3 == ["validation"] * 10 + ["test"] * 11


def test_enst(tmp_path):
    src = tmp_path / "ENST-drums-public"
    signals = {}
    for i, track_id in enumerate(ENST_SPEC):
        drummer, track = track_id.split("/")
        base = src / drummer
        wet = write_wav(base / "audio" / "wet_mix" / f"{track}.wav", seed=i, channels=2)
        acc = write_wav(
            base / "audio" / "accompaniment" / f"{track}.wav", seconds=0.4, seed=100 + i, channels=2
        )
        signals[track_id] = (wet, acc)
        (base / "annotation").mkdir(parents=True, exist_ok=True)
        (base / "annotation" / f"{track}.txt").write_text(ENST_TXT)
    # not a minus-one track: ignored
    write_wav(src / "drummer_1" / "audio" / "wet_mix" / "001_hits_snare-drum_sticks.wav")
    # a broken wet mix and a missing accompaniment
    write_broken(src / "drummer_2" / "audio" / "wet_mix" / "115_minus-one_salsa_sticks.wav")
    write_wav(src / "drummer_2" / "audio" / "accompaniment" / "115_minus-one_salsa_sticks.wav")
    (src / "drummer_2" / "annotation" / "115_minus-one_salsa_sticks.txt").write_text(ENST_TXT)
    write_wav(src / "drummer_2" / "audio" / "wet_mix" / "116_minus-one_rock-60s_sticks.wav")
    (src / "drummer_2" / "annotation" / "116_minus-one_rock-60s_sticks.txt").write_text(ENST_TXT)

    out = tmp_path / "store"
    summary = convert(get_converter("enst")(src), out, progress=False)
    assert summary.converted == len(ENST_SPEC)
    assert [p.track_id for p in summary.failed] == ["drummer_2/115_minus-one_salsa_sticks"]
    assert "115_minus-one_salsa_sticks.wav" in str(summary.failed[0])
    missing = {p.track_id: p.path for p in summary.missing}
    assert missing["drummer_2/116_minus-one_rock-60s_sticks"].endswith(
        "accompaniment/116_minus-one_rock-60s_sticks.wav"
    )
    store = Store(out)
    assert {t: store.records[t].split for t in store.track_ids()} == ENST_SPEC
    for track_id, (wet, acc) in signals.items():
        assert_onsets(store, track_id, expected(ENST_WANT))
        # wet mix + accompaniment, each averaged to mono, added 1:1 (accompaniment zero-padded)
        mono = wet.mean(axis=1)
        mono[: len(acc)] += acc.mean(axis=1)
        want = log_spectrogram(mono, SR, FeatureConfig())
        got = np.asarray(store.features(track_id), dtype=np.float32)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_enst_wrong_folder(tmp_path):
    (tmp_path / "something").mkdir()
    with pytest.raises(DatasetLayoutError, match="drummer_1/ drummer_2/ drummer_3/"):
        convert(get_converter("enst")(tmp_path), tmp_path / "out", progress=False)
    (tmp_path / "enst.zip").write_bytes(b"PK")  # the download itself, not unpacked
    with pytest.raises(DatasetLayoutError, match="enst.zip: a file, not the dataset's folder"):
        convert(get_converter("enst")(tmp_path / "enst.zip"), tmp_path / "out", progress=False)


# -- MDB -----------------------------------------------------------------------------------------------

MDB_SPEC = {
    **dict.fromkeys(
        [
            "Punk",
            "CoolJazz",
            "Disco",
            "SwingJazz",
            "Rockabilly",
            "Gospel",
            "BebopJazz",
            "FunkJazz",
            "FreeJazz",
            "Reggae",
            "LatinJazz",
            "Britpop",
            "FusionJazz",
            "Shadows",
            "80sRock",
        ],
        "train",
    ),
    **dict.fromkeys(["Beatles", "Grunge", "Zeppelin", "ModalJazz"], "validation"),
    **dict.fromkeys(["Country1", "SpeedMetal", "Rock", "Hendrix"], "test"),
}
MDB_TXT = "0.020000\tCRC\n0.022449   \tSD\n0.230000\tKD\n0.300000\tSST\n0.310000\tHFT\n0.350000\tPHH\n0.360000\tTMB\n"
MDB_WANT = [(0.02, CY), (0.022449, SD), (0.23, KD), (0.3, SD), (0.31, TT), (0.35, HH), (0.36, HH)]


def test_mdb(tmp_path):
    src = tmp_path / "MDB Drums"
    for i, name in enumerate(MDB_SPEC):
        write_wav(src / "audio" / "full_mix" / f"MusicDelta_{name}_MIX.wav", seconds=0.4, seed=i)
        ann = src / "annotations" / "subclass" / f"MusicDelta_{name}_subclass.txt"
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text(MDB_TXT)
    (src / "annotations" / "subclass" / "MusicDelta_Rock_subclass.txt").write_text(
        "0.1\tXYZ\n"
    )  # unknown label
    (src / "audio" / "full_mix" / "MusicDelta_Hendrix_MIX.wav").unlink()  # partial download
    out = tmp_path / "store"
    summary = convert(get_converter("mdb")(src), out, progress=False)
    assert [p.track_id for p in summary.failed] == ["MusicDelta_Rock"]
    assert "MusicDelta_Rock_subclass.txt" in summary.failed[0].message and "XYZ" in summary.failed[0].message
    assert [p.track_id for p in summary.missing] == ["MusicDelta_Hendrix"]
    store = Store(out)
    want_splits = {f"MusicDelta_{n}": s for n, s in MDB_SPEC.items() if n not in ("Rock", "Hendrix")}
    assert {t: store.records[t].split for t in store.track_ids()} == want_splits
    for t in store.track_ids():
        assert_onsets(store, t, expected(MDB_WANT))
    # each record keeps its audio's gated level, for evaluations that hear tracks at a model's input level
    from drumscribe.audio import LevelMeter, load_audio
    from drumscribe.data.store import recorded_level_dbfs

    for t in store.track_ids():
        meter = LevelMeter(44100)
        meter.add(load_audio(src / "audio" / "full_mix" / f"{t}_MIX.wav")[0])
        assert recorded_level_dbfs(store.records[t].meta) == pytest.approx(meter.level_dbfs(), abs=1e-3)


def test_mdb_dev_layout(tmp_path):
    src = tmp_path / "mdb-dev"
    for i, name in enumerate(("MusicDelta_Punk", "MusicDelta_Grunge")):
        write_wav(src / "mix" / f"{name}.flac", seconds=0.3, seed=i)
        write_wav(src / "drums" / f"{name}.flac", seconds=0.6, seed=10 + i)
        (src / "annotations").mkdir(exist_ok=True)
        (src / "annotations" / f"{name}.txt").write_text(MDB_TXT)
    out = tmp_path / "store"
    assert main(["-q", "convert", "mdb-dev", str(src), str(out), "--stem", "drums"]) == 0
    store = Store(out)
    assert sorted(store.track_ids("test")) == ["MusicDelta_Grunge", "MusicDelta_Punk"]
    assert all(abs(r.duration_s - 0.6) < 0.02 for r in store.records.values())  # the drums stem
    assert_onsets(store, "MusicDelta_Punk", expected(MDB_WANT))
    # --stem belongs to mdb-dev only
    assert main(["-q", "convert", "mdb", str(src), str(tmp_path / "x"), "--stem", "drums"]) == 1


# -- E-GMD ---------------------------------------------------------------------------------------------

EGMD_HEADER = "drummer,session,id,style,bpm,beat_type,time_signature,duration,split,midi_filename,audio_filename,kit_name"
# Roland TD-11 pitches: 22/26 hi-hat edge, 58 floor-tom rim, 40 snare rim, 55 crash edge; 60 ignored
EGMD_NOTES = [
    (0.05, 36, 100),
    (0.1, 38, 64),
    (0.125, 40, 20),
    (0.15, 22, 90),
    (0.2, 26, 80),
    (0.25, 58, 70),
    (0.3, 55, 127),
    (0.35, 60, 50),
    (0.375, 42, 1),
]
EGMD_WANT = [(0.05, KD), (0.1, SD), (0.125, SD), (0.15, HH), (0.2, HH), (0.25, TT), (0.3, CY), (0.375, HH)]


def test_egmd(tmp_path):
    src = tmp_path / "e-gmd-v1.0.0"
    rows = []
    splits = {"1": "train", "2": "validation", "3": "test", "4": "train", "5": "test"}
    for k, split in splits.items():
        stem = f"drummer1/session1/{k}_funk_120_beat_4-4_{k}"
        rows.append(
            f"drummer1,drummer1/session1,drummer1/session1/{k},funk,120,beat,4-4,0.5,{split},"
            f"{stem}.midi,{stem}.wav,Acoustic Kit"
        )
        write_wav(src / f"{stem}.wav", seed=int(k))
        write_midi(src / f"{stem}.midi", EGMD_NOTES)
    (src / "drummer1/session1/4_funk_120_beat_4-4_4.midi").write_bytes(b"MThd garbage")  # corrupt MIDI
    (src / "drummer1/session1/5_funk_120_beat_4-4_5.wav").unlink()  # partial download
    (src / "e-gmd-v1.0.0.csv").write_text(EGMD_HEADER + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "store"
    summary = convert(get_converter("egmd")(src), out, progress=False)
    assert [p.track_id for p in summary.failed] == ["drummer1/session1/4_funk_120_beat_4-4_4"]
    assert "4_funk_120_beat_4-4_4.midi" in str(summary.failed[0])
    assert [p.track_id for p in summary.missing] == ["drummer1/session1/5_funk_120_beat_4-4_5"]
    store = Store(out)
    assert {t: store.records[t].split for t in store.track_ids()} == {
        f"drummer1/session1/{k}_funk_120_beat_4-4_{k}": splits[k] for k in "123"
    }
    tid = "drummer1/session1/2_funk_120_beat_4-4_2"
    assert_onsets(store, tid, expected(EGMD_WANT))
    vel = store.velocities(tid)
    np.testing.assert_allclose(vel[SD], [64 / 127, 20 / 127])
    np.testing.assert_allclose(vel[HH], [90 / 127, 80 / 127, 1 / 127])
    assert store.records[tid].meta["kit_name"] == "Acoustic Kit"


def test_egmd_csv_without_split_column(tmp_path):
    (tmp_path / "e-gmd-v1.0.0.csv").write_text("drummer,midi_filename,audio_filename\n")
    with pytest.raises(DatasetLayoutError, match="split"):
        convert(get_converter("egmd")(tmp_path), tmp_path / "out", progress=False)


# -- Slakh2100-redux -----------------------------------------------------------------------------------


def slakh_track(folder: Path, stems: dict[str, dict], midis: dict[str, list], seed: int = 0) -> None:
    import yaml

    write_wav(folder / "mix.flac", seed=seed)
    meta = {
        "UUID": f"{seed:032x}",
        "audio_dir": "stems",
        "midi_dir": "MIDI",
        "normalized": True,
        "overall_gain": 0.5,
        "target_peak": -1.0,
        "stems": stems,
    }
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    for stem, notes in midis.items():
        write_midi(folder / "MIDI" / f"{stem}.mid", notes)
        write_wav(folder / "stems" / f"{stem}.flac", seconds=0.1, seed=seed)


def _stem(is_drum: bool, program: int, rendered: bool = True) -> dict:
    return {
        "audio_rendered": rendered,
        "inst_class": "Drums" if is_drum else "Piano",
        "is_drum": is_drum,
        "midi_program_name": "Drums" if is_drum else "Acoustic Grand Piano",
        "midi_saved": True,
        "plugin_name": "x.nkm",
        "program_num": program,
        "integrated_loudness": -20.0,
    }


def test_slakh(tmp_path):
    src = tmp_path / "slakh2100_flac_redux"
    piano = [(0.05, 36, 90), (0.1, 38, 90)]  # pitches that would map if taken as drums
    drums_a = [(0.125, 36, 100), (0.25, 42, 50), (0.3, 22, 60), (0.35, 58, 70)]  # 22: GM-unmapped, 58 ignored
    drums_b = [(0.125, 49, 110), (0.2, 45, 80)]
    stems = {
        "S00": _stem(False, 0),
        "S01": _stem(True, 128),
        "S02": _stem(True, 128),
        "S03": _stem(True, 128, False),
    }
    slakh_track(
        src / "train" / "Track00001",
        stems,
        {"S00": piano, "S01": drums_a, "S02": drums_b, "S03": [(0.4, 38, 90)]},
        seed=1,
    )
    slakh_track(src / "validation" / "Track01501", {"S00": _stem(False, 0)}, {"S00": piano}, seed=2)
    slakh_track(src / "test" / "Track01881", {"S05": _stem(True, 128)}, {"S05": drums_b}, seed=3)
    slakh_track(src / "omitted" / "Track00002", {"S01": _stem(True, 128)}, {"S01": drums_a}, seed=4)
    slakh_track(src / "train" / "Track00003", {"S01": _stem(True, 128)}, {"S01": drums_a}, seed=5)
    (src / "train" / "Track00003" / "metadata.yaml").write_text("stems: [unclosed")
    out = tmp_path / "store"
    summary = convert(get_converter("slakh")(src), out, progress=False)
    assert [p.track_id for p in summary.failed] == ["train/Track00003"]
    assert "metadata.yaml" in str(summary.failed[0])
    store = Store(out)
    assert {t: store.records[t].split for t in store.track_ids()} == {
        "train/Track00001": "train",
        "validation/Track01501": "validation",
        "test/Track01881": "test",
    }
    assert_onsets(store, "train/Track00001", expected([(0.125, KD), (0.25, HH), (0.125, CY), (0.2, TT)]))
    np.testing.assert_allclose(store.velocities("train/Track00001")[CY], [110 / 127])
    assert store.records["train/Track00001"].meta["drum_stems"] == ["S01", "S02"]
    assert_onsets(store, "validation/Track01501", expected([]))
    assert_onsets(store, "test/Track01881", expected([(0.125, CY), (0.2, TT)]))


# -- ADTOF-YT ------------------------------------------------------------------------------------------


def adtof_elements(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.uniform(0, 2, (400, 84, 1)).astype(np.float32)
        y = np.zeros((400, 5), dtype=np.float32)
        for c in range(5):
            for f in rng.choice(np.arange(1, 399), 3, replace=False):
                y[f, c] = 1.0
                y[f - 1, c] = max(y[f - 1, c], 0.5)
                y[f + 1, c] = max(y[f + 1, c], 0.5)
        out.append((x, y))
    return out


def test_adtof_format_roundtrip(tmp_path):
    elements = adtof_elements(3, 0)
    files = write_saved_dataset(tmp_path / "adtof_yt_test", elements, num_shards=2)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "adtof_yt_test/7382001234567890123/00000000.shard/00000000.snapshot",
        "adtof_yt_test/7382001234567890123/00000001.shard/00000000.snapshot",
    ]
    assert read_metadata(tmp_path / "adtof_yt_test")["num_elements"] == 3
    # the framing, decoded by hand: uint64 length, 4-byte crc, TensorProto bytes, 4-byte crc
    raw = files[0].read_bytes()
    length = int.from_bytes(raw[:8], "little")
    assert len(list(iter_tfrecord(files[0]))) == 4 and len(raw) == sum(
        16 + len(r) for r in iter_tfrecord(files[0])
    )
    assert length == len(next(iter_tfrecord(files[0])))
    # the reference tfrecord package reads the same records
    from tfrecord.reader import tfrecord_iterator

    ref = [bytes(r) for r in tfrecord_iterator(str(files[1]))]
    assert ref == list(iter_tfrecord(files[1]))
    # a flipped byte inside a record fails its checksum
    bad = bytearray(raw)
    bad[100] ^= 0xFF
    files[0].write_bytes(bytes(bad))
    with pytest.raises(DatasetLayoutError, match="checksum"):
        list(iter_tfrecord(files[0]))


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_adtof(tmp_path, compression):
    src = tmp_path / "adtof"
    train = adtof_elements(5, 1)
    test = adtof_elements(2, 2)
    write_saved_dataset(src / "adtof_yt_train", train, num_shards=2, compression=compression)
    write_saved_dataset(
        src / "adtof_yt_validation", adtof_elements(1, 3), num_shards=1, compression=compression
    )
    files = write_saved_dataset(src / "adtof_yt_test", test, num_shards=2, compression=compression)
    # truncate the second test shard: reported, the rest converts
    data = files[1].read_bytes()
    files[1].write_bytes(data[: len(data) // 2])
    out = tmp_path / "store"
    summary = convert(get_converter("adtof-yt")(src, segments_per_track=2), out, progress=False)
    assert [p.track_id for p in summary.failed] == ["adtof_yt_test/00000001-00000000"]
    assert "00000001.shard/00000000.snapshot" in str(summary.failed[0])
    store = Store(out)
    # shard 0 of train holds elements 0, 2, 4 (round robin) -> tracks of 2 and 1 segments
    t0 = "adtof_yt_train/00000000-00000000/0000"
    t1 = "adtof_yt_train/00000000-00000000/0001"
    assert store.records[t0].n_frames == 800 and store.records[t1].n_frames == 400
    want_x = np.concatenate([train[0][0][:, :, 0], train[2][0][:, :, 0]])
    np.testing.assert_array_equal(np.asarray(store.features(t0)), want_x.astype(np.float16))
    np.testing.assert_array_equal(store.targets(t0), np.concatenate([train[0][1], train[2][1]]))
    np.testing.assert_array_equal(
        store.targets("adtof_yt_train/00000001-00000000/0000"), np.concatenate([train[1][1], train[3][1]])
    )
    assert store.records[t0].meta["segment_frames"] == 400
    assert sum(r.n_frames for r in store.records.values() if r.split == "train") == 5 * 400
    assert store.track_ids("test") == ["adtof_yt_test/00000000-00000000/0000"]
    assert len(store.track_ids("validation")) == 1
    # re-run: every finished shard is skipped
    again = convert(get_converter("adtof-yt")(src, segments_per_track=2), out, progress=False)
    assert again.skipped == 4 and again.converted == 0 and len(again.failed) == 1


# -- SADTP ---------------------------------------------------------------------------------------------


def test_sadtp_and_cli(tmp_path, capsys):
    src = tmp_path / "SADTP"
    notes = [(0.05, 36, 100), (0.1, 26, 90), (0.2, 58, 80), (0.3, 51, 70)]
    for i, song in enumerate(("Song 1", "Song 2", "Song 3")):
        write_wav(src / song / "mix.wav", seed=i)
        write_midi(src / song / "annotation.mid", notes)
    write_wav(src / ".hidden" / "mix.wav")
    (src / "README.md").write_text("not a folder")
    write_wav(src / "Song 4" / "mix.wav")  # annotation missing
    write_broken(src / "Song 3" / "mix.wav")
    out = tmp_path / "store"
    assert main(["-q", "convert", "sadtp", str(src), str(out)]) == 1  # one failure -> exit code 1
    printed = capsys.readouterr().out
    assert "Song 3" in printed and "Song 4" in printed and "annotation.mid" in printed
    store = Store(out)
    assert sorted(store.track_ids("test")) == ["Song 1", "Song 2"] and len(store) == 2
    assert_onsets(store, "Song 1", expected([(0.05, KD), (0.1, HH), (0.2, TT), (0.3, CY)]))
    report = json.loads((out / "conversion.json").read_text())
    assert report["converted"] == 2 and report["failed"][0]["track_id"] == "Song 3"

    assert main(["datasets", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == 2 and info["splits"]["test"]["onsets"] == {
        "kick": 2,
        "snare": 0,
        "toms": 2,
        "hihat": 2,
        "cymbals": 2,
    }
    assert abs(info["hours"] - 2 * 0.5 / 3600) < 1e-4
    assert main(["datasets", "info", str(out)]) == 0
    assert "test" in capsys.readouterr().out
    # a wrong folder: exit code 1 and a message naming the expected layout
    assert main(["convert", "sadtp", str(tmp_path / "store"), str(tmp_path / "o2")]) == 1
    assert "mix.wav" in capsys.readouterr().err


@pytest.mark.slow
def test_parallel_workers(tmp_path):
    src = tmp_path / "SADTP"
    for i in range(4):
        write_wav(src / f"s{i}" / "mix.wav", seed=i)
        write_midi(src / f"s{i}" / "annotation.mid", [(0.05 * (i + 1), 38, 100)])
    write_broken(src / "s3" / "mix.wav")
    summary = convert(get_converter("sadtp")(src), tmp_path / "store", workers=2, progress=False)
    assert summary.converted == 3 and [p.track_id for p in summary.failed] == ["s3"]
    store = Store(tmp_path / "store")
    for i in range(3):
        assert_onsets(store, f"s{i}", expected([(0.05 * (i + 1), SD)]))


# -- folder --------------------------------------------------------------------------------------------


def test_folder(tmp_path):
    src = tmp_path / "mine"
    write_wav(src / "a.wav", seed=1)
    (src / "a.txt").write_text("0.1\tkick\n0.2\tsnare\n0.3\tride\n0.35\tcowbell\n")
    write_wav(src / "sub" / "b.flac", seed=2)
    (src / "sub" / "b.csv").write_text("time,label,velocity\n0.25,snare,64\n0.05,kick,127\n")
    write_wav(src / "c.wav", seed=3)
    write_midi(src / "c.mid", [(0.125, 36, 100)])
    write_wav(src / "c.flac", seed=6)  # same track name as c.wav
    write_wav(src / "d.wav", seed=4)  # no sidecar
    write_wav(src / "e.wav", seed=5)
    (src / "e.txt").write_text("0.1\tgong\n")  # not in the label map
    (src / "labels.json").write_text(
        json.dumps({"kick": "kick", "snare": "SD", "ride": "cymbals", "cowbell": None, "36": "kick"})
    )
    (src / "splits.json").write_text(json.dumps({"train": ["a", "sub/b.flac"], "test": ["c", "d", "e"]}))
    out = tmp_path / "store"
    conv = get_converter("folder")(src, label_map=str(src / "labels.json"))
    summary = convert(conv, out, progress=False)
    assert [p.track_id for p in summary.failed] == ["e"] and "gong" in summary.failed[0].message
    assert sorted((p.track_id, p.path) for p in summary.missing) == [("c", "c.wav"), ("d", "d.txt")]
    store = Store(out)
    assert {t: store.records[t].split for t in store.track_ids()} == {
        "a": "train",
        "sub/b": "train",
        "c": "test",
    }
    assert_onsets(store, "a", expected([(0.1, KD), (0.2, SD), (0.3, CY)]))
    assert_onsets(store, "sub/b", expected([(0.05, KD), (0.25, SD)]))
    np.testing.assert_allclose(store.velocities("sub/b")[SD], [64 / 127])
    assert_onsets(store, "c", expected([(0.125, KD)]))


def test_folder_text_labels_default_to_drumscribe_class_names(tmp_path):
    write_wav(tmp_path / "a.wav")
    (tmp_path / "a.txt").write_text("0.1\tbd\n")
    conv = get_converter("folder")(tmp_path)
    summary = convert(conv, tmp_path / "o", progress=False)
    assert [p.track_id for p in summary.failed] == ["a"]
    assert "'bd'" in summary.failed[0].message and "--label-map" in summary.failed[0].message
    args = ["-q", "convert", "folder", str(tmp_path), str(tmp_path / "o"), "--split", "validation"]
    assert main(args + ["--label-map", "enst"]) == 0
    store = Store(tmp_path / "o")
    assert store.track_ids("validation") == ["a"]
    assert_onsets(store, "a", expected([(0.1, KD)]))
    # a map that knows none of the sidecar's labels: an error naming them, not a track with no onsets
    (tmp_path / "b.txt").write_text("0.1\tkick\n0.2\tsnare\n")
    write_wav(tmp_path / "b.wav")
    conv = get_converter("folder")(tmp_path, label_map="gm")
    summary = convert(conv, tmp_path / "gm", progress=False)
    failed = {p.track_id: p.message for p in summary.failed}
    assert "b" in failed and "none of its labels is in the gm label map ('kick', 'snare')" in failed["b"]
    # some labels unknown beside known ones: those are skipped, the rest kept (the maps' own rule)
    (tmp_path / "c.txt").write_text("0.1\t36\n0.2\tkick\n")
    write_wav(tmp_path / "c.wav")
    jobs = {j.track_id: j for j in conv.list_jobs()[0]}
    assert conv.read_annotation(jobs["c"]).n_onsets == [1, 0, 0, 0, 0]
    # a MIDI sidecar (General MIDI by default) with no drum note the map knows fails too
    write_midi(tmp_path / "d.mid", [(0.1, 25, 100), (0.2, 24, 90)])
    write_wav(tmp_path / "d.wav")
    summary = convert(get_converter("folder")(tmp_path), tmp_path / "mid", progress=False)
    failed = {p.track_id: p.message for p in summary.failed}
    assert "none of its labels is in the gm label map ('25', '24')" in failed["d"]
    # the dataset converters read the same file as before: no onsets, no error (a Slakh drum stem of GS notes
    # beside others must not fail its whole track); only the folder converter, the user's own files, refuses it
    from drumscribe.data.annotations import read_midi
    from drumscribe.vocab import get_label_map

    ann = read_midi(tmp_path / "d.mid", get_label_map("gm"))
    assert ann.n_onsets == [0] * 5 and ann.unknown_labels == ("25", "24")


def test_transcribe_outputs_convert_back_as_they_are(tmp_path):
    """A transcription's .txt and .csv are sidecars without a label map: the store holds its onsets."""
    from drumscribe.modelio import PRETRAINED_DIR
    from drumscribe.transcribe import transcribe

    clip = PRETRAINED_DIR / "example" / "example.ogg"
    tr = transcribe(clip, tempo=False, keep_spectrogram=False)
    assert all(len(o) for o in tr.onsets[:2])  # the clip has kicks and snares
    src = tmp_path / "songs"
    for name, fmt in (("t", "txt"), ("c", "csv")):
        (src / f"{name}.ogg").parent.mkdir(exist_ok=True)
        (src / f"{name}.ogg").write_bytes(clip.read_bytes())
        getattr(tr, f"to_{fmt}")(src / f"{name}.{fmt}")
    assert main(["-q", "convert", "folder", str(src), str(tmp_path / "o"), "--split", "train"]) == 0
    store = Store(tmp_path / "o")
    for name in ("t", "c"):
        got = store.onsets(name)
        for c in range(5):
            np.testing.assert_allclose(got[c], tr.onsets[c], atol=1e-6, err_msg=f"{name} class {c}")
    np.testing.assert_allclose(store.velocities("c")[0], tr.velocities[0] / 127, atol=1e-6)


# -- resuming ------------------------------------------------------------------------------------------


def test_rerun_skips_and_interrupt_leaves_no_partial_files(tmp_path, monkeypatch):
    src = tmp_path / "SADTP"
    for i in range(3):
        write_wav(src / f"s{i}" / "mix.wav", seed=i)
        write_midi(src / f"s{i}" / "annotation.mid", [(0.1, 36, 100)])
    out = tmp_path / "store"
    import drumscribe.data.store as store_mod

    real = store_mod.write_json
    calls = {"n": 0}

    def interrupt_second_record(path, obj, indent=2):
        if str(path).endswith(".track.json"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
        return real(path, obj, indent)

    monkeypatch.setattr(store_mod, "write_json", interrupt_second_record)
    with pytest.raises(KeyboardInterrupt):
        convert(get_converter("sadtp")(src), out, progress=False)
    monkeypatch.setattr(store_mod, "write_json", real)
    files = sorted(p.name for p in (out / "tracks").iterdir())
    assert not [f for f in files if f.endswith(".part")]
    assert files.count("s0.track.json") == 1 and "s1.track.json" not in files
    stamp = (out / "tracks" / "s0.features.npy").stat().st_mtime_ns
    (out / "tracks" / ".s1.features.npy.abc123.part").write_bytes(b"half")  # as left by a killed process
    summary = convert(get_converter("sadtp")(src), out, progress=False)
    assert summary.skipped == 1 and summary.converted == 2 and len(Store(out)) == 3
    assert (out / "tracks" / "s0.features.npy").stat().st_mtime_ns == stamp
    assert not list((out / "tracks").glob(".*.part"))
    again = convert(get_converter("sadtp")(src), out, progress=False)
    assert again.skipped == 3 and again.converted == 0
    redo = convert(get_converter("sadtp")(src), out, overwrite=True, progress=False)
    assert redo.converted == 3 and len(Store(out)) == 3


def test_a_resumed_run_must_convert_the_same_way(tmp_path):
    """A store is resumed only by the run that made its tracks: other converter options are refused (before
    the manifest exists too), and a store with tracks but no record of how they were made is not guessed at."""
    from drumscribe.errors import OutputExistsError

    src = tmp_path / "songs"
    for name in ("a", "b"):
        write_wav(src / f"{name}.wav")
        (src / f"{name}.txt").write_text("0.1\tkick\n")
    out = tmp_path / "store"
    assert convert(get_converter("folder")(src, split="test"), out, progress=False).converted == 2
    with pytest.raises(OutputExistsError, match=r"other options \(split: 'test' then, 'train' now\)"):
        convert(get_converter("folder")(src, split="train"), out, progress=False)
    (out / "manifest.json").unlink()  # as an interrupted run leaves it
    with pytest.raises(OutputExistsError, match="split: 'test' then"):
        convert(get_converter("folder")(src, split="train"), out, progress=False)
    again = convert(get_converter("folder")(src, split="test"), out, progress=False)
    assert again.skipped == 2 and Store(out).track_ids("test") == ["a", "b"]
    (out / "manifest.json").unlink()
    (out / ".convert" / "run.json").unlink()  # tracks from an older version's interrupted run
    with pytest.raises(OutputExistsError, match="no record of the conversion"):
        convert(get_converter("folder")(src, split="test"), out, progress=False)
    redo = convert(get_converter("folder")(src, split="train"), out, overwrite=True, progress=False)
    assert redo.converted == 2 and Store(out).track_ids("train") == ["a", "b"]


def test_tracks_whose_store_files_would_share_a_name_are_not_both_kept(tmp_path):
    src = tmp_path / "songs"
    for name, t in (("my song", 0.1), ("my_song", 0.2)):
        write_wav(src / f"{name}.wav")
        (src / f"{name}.txt").write_text(f"{t}\tkick\n")
    summary = convert(get_converter("folder")(src, split="train"), tmp_path / "o", progress=False)
    assert summary.converted == 1 and [p.track_id for p in summary.missing] == ["my_song"]
    assert "'my song'" in summary.missing[0].message
    store = Store(tmp_path / "o")
    assert store.track_ids() == ["my song"]
    assert_onsets(store, "my song", expected([(0.1, KD)]))


def test_two_train_folders_of_saved_datasets_keep_their_shards_apart(tmp_path):
    src = tmp_path / "adtof"
    write_saved_dataset(src / "adtof_yt_train", adtof_elements(1, 1), num_shards=1)
    write_saved_dataset(src / "more_train", adtof_elements(1, 2), num_shards=1)
    summary = convert(get_converter("adtof-yt")(src, segments_per_track=1), tmp_path / "o", progress=False)
    assert summary.converted == 2
    store = Store(tmp_path / "o")
    assert sorted(store.records[t].meta["folder"] for t in store.track_ids("train")) == [
        "adtof_yt_train",
        "more_train",
    ]


def test_midi_annotations_read_the_drum_channel_and_zero_length_notes(tmp_path):
    """In a song's MIDI file only channel 10 holds drums (a piano's C2 is no kick); a drum note whose
    note-off shares its tick is a stroke; one that never ends is not. Drums on another channel (MDB Drums++)
    are read when channel 10 is empty."""
    from drumscribe.data.annotations import read_midi
    from drumscribe.vocab import get_label_map

    gm = get_label_map("gm")
    mid = mido.MidiFile(ticks_per_beat=480)  # 120 BPM: 960 ticks per second
    piano, drums = mido.MidiTrack(), mido.MidiTrack()
    piano += [
        mido.Message("note_on", note=36, velocity=90, channel=0, time=96),
        mido.Message("note_off", note=36, channel=0, time=200),
    ]
    drums += [
        mido.Message("note_on", note=38, velocity=100, channel=9, time=192),
        mido.Message("note_off", note=38, channel=9, time=24),
        mido.Message("note_on", note=42, velocity=64, channel=9, time=72),  # at 0.3 s, zero length
        mido.Message("note_on", note=42, velocity=0, channel=9, time=0),
        mido.Message("note_on", note=49, velocity=64, channel=9, time=96),  # never ends
    ]
    mid.tracks += [piano, drums]
    mid.save(str(tmp_path / "song.mid"))
    got = read_midi(tmp_path / "song.mid", gm)
    for c, want in zip(range(5), expected([(0.2, SD), (0.3, HH)])):
        np.testing.assert_allclose(got.onsets[c], want)
    np.testing.assert_allclose(got.velocities[HH], [64 / 127])
    write_midi(tmp_path / "plus.mid", [(0.125, 36, 100), (0.25, 38, 90)], channel=0)
    got = read_midi(tmp_path / "plus.mid", gm)
    for c, want in zip(range(5), expected([(0.125, KD), (0.25, SD)])):
        np.testing.assert_allclose(got.onsets[c], want)
