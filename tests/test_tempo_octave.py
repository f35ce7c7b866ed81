"""The tempo estimate's metrical level: the fitted choice among half, the estimate and double."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from drumscribe.errors import ConfigError
from drumscribe.transcribe.tempo import (
    OCTAVE_FEATURES,
    OCTAVE_MODEL_FILE,
    OctaveModel,
    TempoConfig,
    choose_octave,
    estimate_beats,
    fit_octave_model,
    kit_parts_play,
    load_octave_model,
    octave_candidates,
    octave_features,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def groove(bpm: float, hats_per_beat: int, secs: float = 40.0, fps: float = 100.0) -> np.ndarray:
    """Activations of a backbeat: kick on 1 and 3, snare on 2 and 4, ``hats_per_beat`` hi-hats a beat."""
    act = np.zeros((int(secs * fps), 5))
    beat = 60.0 / bpm
    for i, t in enumerate(np.arange(0.3, secs - 1.0, beat)):
        act[int(round(t * fps)), 0 if i % 2 == 0 else 1] = 0.9
        for j in range(hats_per_beat):
            act[int(round((t + j * beat / hats_per_beat) * fps)), 3] = 0.6
    return act + 0.05 * np.random.default_rng(int(bpm)).random(act.shape)


@pytest.mark.parametrize(
    ("bpm", "hats", "without"),
    [
        (64.0, 4, 128.0),
        (70.0, 4, 140.0),
        (100.0, 2, 100.0),
        (120.0, 2, 120.0),
        (180.0, 2, 90.0),
        (200.0, 2, 100.0),
    ],
)
def test_the_shipped_choice_counts_slow_and_fast_backbeats_at_their_tempo(bpm, hats, without) -> None:
    """Sixteenth hi-hats under a slow backbeat and eighths under a fast one: the estimate alone (prior at 120
    BPM, half-time rule) reads the first at double and the second at half its tempo; the choice reads both."""
    act = groove(bpm, hats)
    assert estimate_beats(act, 100.0, TempoConfig(octave_choice=False))[0] == pytest.approx(without, rel=0.01)
    tempo, beats = estimate_beats(act, 100.0)
    assert tempo == pytest.approx(bpm, rel=0.01)
    np.testing.assert_allclose(np.median(np.diff(beats)), 60.0 / bpm, rtol=0.02)
    for estimate in (bpm / 2, bpm, bpm * 2):  # from any level of the estimate in reach
        if 50.0 <= estimate <= 220.0:
            assert choose_octave(act, estimate, 100.0) == pytest.approx(bpm)


def test_candidates_and_features() -> None:
    assert octave_candidates(120.0) == [60.0, 120.0]  # 240 is past max_bpm (220) plus 5 %
    assert octave_candidates(110.0) == [55.0, 110.0, 220.0]
    assert octave_candidates(90.0, TempoConfig(min_bpm=60.0)) == [90.0, 180.0]
    f = octave_features(groove(100.0, 2), [50.0, 100.0, 200.0], 100.0)
    assert f.shape == (3, len(OCTAVE_FEATURES)) and np.isfinite(f).all()
    np.testing.assert_allclose(f[:, 0], np.log2(np.array([50.0, 100.0, 200.0]) / 120.0))
    # two hi-hats a beat at 100 BPM: at 200 BPM one (log2 = 0), at 50 four
    assert f[2, 4] < 0.05 and f[0, 4] == pytest.approx(4.0, abs=0.3)
    # a long silent intro does not thin the strokes per beat (they are counted from the first stroke on)
    padded = np.concatenate([np.full((3000, 5), 0.02), groove(100.0, 2)])
    np.testing.assert_allclose(octave_features(padded, [100.0], 100.0)[0, 2:5], f[1, 2:5], atol=0.01)


def test_a_kit_part_that_does_not_play_leaves_the_estimate_alone() -> None:
    """Kicks alone, one a beat at 140 BPM: the choice has no snare or cymbals to read, so the estimate
    keeps its level (with the half-time rule, which needs snares)."""
    act = np.zeros((3000, 5))
    act[np.round(np.arange(0.41, 29.7, 60.0 / 140.0) * 100).astype(int), 0] = 0.9
    assert not kit_parts_play(act) and kit_parts_play(groove(120.0, 2))
    assert estimate_beats(act, 100.0)[0] == pytest.approx(140.0, rel=0.01)


def test_fit_learns_a_choice_and_the_model_round_trips(tmp_path) -> None:
    rng = np.random.default_rng(0)
    n_feat = len(OCTAVE_FEATURES)
    sets, truths = [], []
    for _ in range(500):
        f = rng.standard_normal((3, n_feat))
        truths.append(int(np.argmax(f[:, 3] - f[:, 7])))  # the right candidate: feature 3 minus feature 7
        sets.append(f)
    model = fit_octave_model(sets[:400], truths[:400], l2=1e-3)
    right = [int(np.argmax(model.scores(f))) == t for f, t in zip(sets[400:], truths[400:], strict=True)]
    assert np.mean(right) >= 0.9  # a guess is right a third of the time
    w = np.asarray(model.weights) * np.asarray(model.scale) ** -1
    assert w[3] > 0 > w[7] and np.abs(np.delete(w, [3, 7])).max() < 0.3 * min(w[3], -w[7])
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"model": model.to_dict()}))
    assert load_octave_model(path) == model
    with pytest.raises(ValueError, match="one right candidate"):
        fit_octave_model(sets[:3], truths[:2], 1e-3)


def test_a_broken_model_file_is_named(tmp_path) -> None:
    text = tmp_path / "notjson.json"
    text.write_text("hello")
    with pytest.raises(ConfigError, match="notjson.json: not a tempo octave model"):
        load_octave_model(text)
    shipped = json.loads(OCTAVE_MODEL_FILE.read_text())["model"]
    with pytest.raises(ConfigError, match="features"):
        OctaveModel.from_dict({**shipped, "features": shipped["features"][:-1]})
    with pytest.raises(ConfigError, match="positive scales"):
        OctaveModel.from_dict({**shipped, "scale": [0.0] * len(OCTAVE_FEATURES)})


def test_the_shipped_model_records_what_it_was_fitted_on() -> None:
    record = json.loads(OCTAVE_MODEL_FILE.read_text())
    fit = record["fit"]
    assert fit["tracks_fitted"] >= 400 and fit["stores"] and fit["command"].startswith("python scripts/")
    assert fit["cv_accuracy"][f"{fit['l2']:g}"] > fit["accuracy_as_estimated"]
    assert load_octave_model() == OctaveModel.from_dict(record["model"])


def test_the_fit_script_writes_a_model_from_a_render(tmp_path, capsys) -> None:
    from fit_tempo_octave import main

    from drumscribe.cli import main as cli

    out = tmp_path / "r"
    args = ["-q", "synth", str(out), "--hours", str(8 * 12 / 3600), "--track-s", "12", "--kits", "procedural"]
    args += ["--no-accompaniment", "--seed", "5", "--cache-dir", str(tmp_path / "c")]
    assert cli(args) == 0
    model_file = tmp_path / "octave.json"
    assert main(["--store", str(out), "--folds", "2", "--l2", "1e-3", "1e-2", "--out", str(model_file)]) == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validation" in printed and f"wrote {model_file}" in printed
    record = json.loads(model_file.read_text())
    assert record["fit"]["tracks"] == 8 and set(record["fit"]["cv_accuracy"]) == {"0.001", "0.01"}
    assert isinstance(load_octave_model(model_file), OctaveModel)


def test_beat_kick_weight_puts_a_skank_beats_beats_on_the_kick() -> None:
    """A skank beat (kick and a soft hi-hat on the beat, snare and a louder hi-hat on the "and"): the plain
    envelope tracks the louder off-beat; with the kick counted twice the beats fall on the kicks. The tempo is
    the same."""
    bpm, fps, secs = 160.0, 100.0, 30.0
    beat = 60.0 / bpm
    act = np.zeros((int(secs * fps), 5))
    kicks = np.arange(0.5, secs - 1.0, beat)
    for t in kicks:
        act[int(round(t * fps)), [0, 3]] = (0.9, 0.5)
        act[int(round((t + beat / 2) * fps)), [1, 3]] = (0.9, 0.7)
    act += 0.05 * np.random.default_rng(0).random(act.shape)

    def off_kick(beats: np.ndarray) -> float:  # median distance of the beats from the nearest kick [beats]
        return float(np.median(np.abs(((beats - kicks[0]) / beat + 0.5) % 1 - 0.5)))

    weighted_config = TempoConfig(beat_kick_weight=1.0)
    assert estimate_beats(act, fps)[0] == estimate_beats(act, fps, weighted_config)[0]  # the tempo: unchanged
    plain = estimate_beats(act, fps, bpm=bpm)[1]  # tracked at the known tempo: only the phase is left to find
    weighted = estimate_beats(act, fps, weighted_config, bpm=bpm)[1]
    assert off_kick(plain) == pytest.approx(0.5, abs=0.05)  # on the snare, half a beat from the kicks
    assert off_kick(weighted) < 0.05
