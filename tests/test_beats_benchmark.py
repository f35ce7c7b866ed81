"""benchmarks/beats.py: tempo, beat and bar-line scores against a render's beat grid."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from beats import tempo_config, tempo_scores, track_scores  # noqa: E402

from drumscribe.transcribe.result import Transcription  # noqa: E402


def test_tempo_scores_take_other_metrical_levels_only_as_acc2():
    assert tempo_scores(121.0, 120.0) == (True, True)
    assert tempo_scores(60.5, 120.0) == (False, True)
    assert tempo_scores(360.0, 120.0) == (False, True)
    assert tempo_scores(160.0, 120.0) == (False, False)  # 4:3 is not a metrical level
    assert tempo_scores(None, 120.0) == (False, False)


def _transcription(bpm: float, beats: np.ndarray, kicks: np.ndarray) -> Transcription:
    onsets = [kicks, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)]
    return Transcription(
        onsets=onsets,
        velocities=[np.full(len(o), 80) for o in onsets],
        confidences=[np.ones(len(o), np.float32) for o in onsets],
        activations=np.zeros((1600, 5), np.float32),
        fps=100.0,
        duration_s=16.0,
        tempo_bpm=bpm,
        beats_s=beats,
    )


def test_a_right_grid_scores_one_and_an_offbeat_grid_does_not():
    beats = np.arange(0.5, 15.5, 0.5)  # 120 BPM
    downs = beats[::4]
    right = track_scores(_transcription(120.0, beats, downs), beats, downs, 120.0)
    keys = ("acc1", "acc2", "beat_f", "cmlt", "amlt", "downbeat_f", "downbeat_f4", "downbeat_best", "meter")
    assert right == pytest.approx(dict.fromkeys(keys, 1))  # no estimated meter: 4/4, the true one
    np.testing.assert_allclose(_transcription(120.0, beats, downs).downbeats_s, downs)
    assert _transcription(120.0, beats, downs).to_dict()["downbeats_s"] == [round(float(d), 4) for d in downs]
    off = track_scores(_transcription(120.0, beats + 0.25, downs), beats, downs, 120.0)
    assert off["beat_f"] == 0 and off["cmlt"] == 0 and off["amlt"] > 0.9  # the off-beat counts only in AMLt


def test_downbeat_best_scores_the_best_bar_phase_on_the_same_grid():
    beats = np.arange(0.5, 15.5, 0.5)
    downs = beats[::4]
    # every kick on the second beat of the true bar: the score's bars start there, a beat late
    late = track_scores(_transcription(120.0, beats, beats[1::4]), beats, downs, 120.0)
    assert late["downbeat_f"] == 0 and late["downbeat_best"] == pytest.approx(1)
    # an off-beat grid has no bar phase that puts its lines on the downbeats
    off = track_scores(_transcription(120.0, beats + 0.25, downs), beats, downs, 120.0)
    assert off["downbeat_best"] == 0


def test_tempo_set_changes_one_number_and_names_what_is_wrong():
    from drumscribe.transcribe.tempo import TempoConfig

    assert tempo_config([]) == TempoConfig()
    changed = tempo_config(["slower_ratio=0", "halve_min_snares=5"])
    assert (changed.slower_ratio, changed.halve_min_snares, changed.bar_weight) == (
        0.0,
        5,
        TempoConfig().bar_weight,
    )
    assert tempo_config(["octave_choice=0"]).octave_choice is False
    assert tempo_config(["octave_choice=1"]) == TempoConfig()
    for bad, match in (
        ("octave_choice=yes", "not 0 or 1"),
        ("nonsense=1", "NAME one of"),
        ("slower_ratio", "NAME=VALUE"),
        ("min_bpm=fast", "not a number"),
    ):
        with pytest.raises(ValueError, match=match):
            tempo_config([bad])


def test_the_benchmark_runs_on_a_render(tmp_path, capsys):
    from beats import main

    from drumscribe.cli import main as cli

    out = tmp_path / "r"
    assert (
        cli(
            [
                "-q",
                "synth",
                str(out),
                "--hours",
                str(3 * 8 / 3600),
                "--track-s",
                "8",
                "--kits",
                "procedural",
                "--no-accompaniment",
                "--seed",
                "4",
                "--cache-dir",
                str(tmp_path / "c"),
            ]
        )  # fmt: skip
        == 0
    )
    assert main(["--store", str(out), "--tempo-set", "slower_ratio=0"]) == 0
    capsys.readouterr()
    assert main(["--store", str(out)]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["all"][0] == "3" and len(rows["all"]) == 10  # tracks, then nine metrics
    assert all(0.0 <= float(v) <= 1.0 for v in rows["all"][1:])


def _chart(path: Path, bpm: float, numerator: int = 4, seconds: float = 20.0) -> None:
    """A rhythm-game chart: one guitar note a beat at ``bpm`` in ``numerator``/4."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, 4, 0.0))
    part = pretty_midi.Instrument(program=29, name="PART GUITAR")
    for t in np.arange(0.0, seconds, 60.0 / bpm):
        part.notes.append(pretty_midi.Note(100, 96, float(t), float(t) + 0.1))
    pm.instruments.append(part)
    pm.write(str(path))


def test_chart_grid_reads_the_tempo_map_and_the_meter(tmp_path):
    from beats import chart_grid

    _chart(tmp_path / "notes.mid", 150.0, numerator=3)
    beats, downs, bpm, per_bar = chart_grid(tmp_path / "notes.mid", 12.0)
    assert bpm == pytest.approx(150.0) and per_bar == 3
    np.testing.assert_allclose(beats, np.arange(0.0, 12.0 + 1e-9, 0.4)[: len(beats)], atol=1e-6)
    assert 11.5 < beats[-1] <= 12.0  # cut at the audio's end
    np.testing.assert_allclose(downs, beats[::3], atol=1e-6)


def test_song_folders_their_stems_and_delay(tmp_path):
    import soundfile as sf
    from beats import chart_delay_ms, chart_songs, load_mix

    song = tmp_path / "band" / "Song One"
    song.mkdir(parents=True)
    _chart(song / "notes.mid", 120.0)
    sf.write(song / "song.ogg", np.full(44100, 0.1, np.float32), 44100)
    sf.write(song / "guitar.wav", np.full((22050, 2), 0.2, np.float32), 22050)  # another rate, stereo
    (song / "song.ini").write_text("[song]\nname = Song One\ndelay = 120\n")
    (song / "preview.ogg").write_bytes(b"not read")  # not a stem of the mix
    no_audio = tmp_path / "band" / "Chart only"
    no_audio.mkdir()
    _chart(no_audio / "notes.mid", 120.0)
    assert chart_songs([tmp_path]) == [song] and chart_songs([song]) == [song]
    assert chart_delay_ms(song) == 120.0 and chart_delay_ms(no_audio) == 0.0
    mix = load_mix(song, 44100)
    assert len(mix) == 44100 and mix[1000] == pytest.approx(0.3, abs=1e-3)  # both stems, mono, resampled


def test_songs_are_transcribed_and_scored_one_line_each(tmp_path, capsys):
    """A song of the bundled example clip: transcribed from its audio, one row per song; a song with a delay is
    scored on its tempo and meter only; an unreadable one is reported and skipped."""
    import shutil

    from beats import ALIGNED_KEYS, main, score_songs

    example = Path(__file__).resolve().parents[1] / "src/drumscribe/pretrained/example/example.ogg"
    for name, ini in (("aligned", ""), ("offset", "[song]\ndelay = -250\n")):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(example, folder / "song.ogg")
        _chart(folder / "notes.mid", 126.0)
        (folder / "song.ini").write_text(ini)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "song.ogg").write_text("not audio")
    _chart(broken / "notes.mid", 100.0)
    groups, rows = score_songs([tmp_path], "default")
    assert [r[0] for r in rows] == ["aligned", "offset"] and len(groups["all"]) == 2
    aligned, offset = rows[0][3], rows[1][3]
    assert all(0.0 <= aligned[k] <= 1.0 for k in ALIGNED_KEYS)
    assert all(np.isnan(offset[k]) for k in ALIGNED_KEYS) and offset["acc2"] == aligned["acc2"]
    assert "broken: skipped" in capsys.readouterr().out
    assert main(["--songs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "charted songs" in out and "aligned" in out and "means over charted songs" in out
    assert main(["--songs", str(tmp_path / "broken")]) == 1  # nothing scored
