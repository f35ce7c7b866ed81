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
