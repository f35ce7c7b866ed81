"""The input level match: the gated level meter, the exact feature-domain gain, and transcription that
hears every recording at its model's input level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import events_audio, write_audio
from drumscribe.audio import LevelMeter
from drumscribe.features import MAX_INPUT_GAIN_DB, FeatureConfig, apply_gain, input_gain_db, log_spectrogram
from drumscribe.fileio import read_json, write_json
from drumscribe.modelio import CARD_NAME
from drumscribe.transcribe import transcribe
from drumscribe.transcribe.inference import (
    InferenceConfig,
    compute_features,
    stream_log_spectrogram,
)
from test_transcribe import make_random_crnn

SR = 44100


def noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """White noise at an RMS level of ``dbfs``."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32)
    return x * np.float32(10 ** (dbfs / 20) / np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def level(x: np.ndarray, pieces: int = 1) -> float | None:
    meter = LevelMeter(SR)
    for part in np.array_split(x, pieces):
        meter.add(part)
    return meter.level_dbfs()


def test_level_meter_reads_rms_and_gates_silence() -> None:
    x = noise(5.0, -23.0)
    assert level(x) == pytest.approx(-23.0, abs=0.05)
    assert level(x, pieces=37) == pytest.approx(level(x), abs=1e-9)  # fed in pieces: the same blocks
    # a silent lead-in and a pause do not lower the level; plain RMS would be 6 dB lower
    padded = np.concatenate([np.zeros(5 * SR, np.float32), x[: 3 * SR], np.zeros(5 * SR // 2), x[3 * SR :]])
    assert level(padded) == pytest.approx(-23.0, abs=0.3)  # blocks across an edge are part silent
    # quiet passages within 20 dB of the rest count, so a song's soft verse lowers its level
    soft = np.concatenate([x, noise(5.0, -35.0, seed=1)])
    assert -30.0 < level(soft) < -25.0
    assert level(np.zeros(3 * SR, np.float32)) is None  # digital silence
    assert level(noise(3.0, -80.0)) is None  # below the absolute gate: hiss is not raised 64 dB
    assert level(noise(0.1, -20.0)) == pytest.approx(-20.0, abs=0.2)  # shorter than one block


def test_input_gain_is_clamped_and_optional() -> None:
    assert input_gain_db(-16.0, -30.0) == pytest.approx(14.0)
    assert input_gain_db(-16.0, -2.0) == pytest.approx(-14.0)
    assert input_gain_db(-16.0, -69.0) == MAX_INPUT_GAIN_DB[1]
    assert input_gain_db(-16.0, 20.0) == MAX_INPUT_GAIN_DB[0]
    assert input_gain_db(None, -30.0) == 0.0 and input_gain_db(-16.0, None) == 0.0
    # a range: levels within it are left alone, the others brought to its nearer end
    assert input_gain_db((-22.0, -10.0), -15.0) == 0.0
    assert input_gain_db((-22.0, -10.0), -22.0) == 0.0 and input_gain_db((-22.0, -10.0), -10.0) == 0.0
    assert input_gain_db((-22.0, -10.0), -30.0) == pytest.approx(8.0)
    assert input_gain_db((-22.0, -10.0), -4.0) == pytest.approx(-6.0)
    assert input_gain_db((-22.0, -10.0), -90.0) == MAX_INPUT_GAIN_DB[1]
    assert input_gain_db((-16.0, -16.0), -30.0) == input_gain_db(-16.0, -30.0)


def test_a_card_input_level_is_a_level_or_a_range(tmp_path) -> None:
    from drumscribe.errors import ConfigError, ModelError
    from drumscribe.features import check_input_level
    from drumscribe.modelio import load_model

    assert check_input_level(None) is None and check_input_level(-16) == -16.0
    assert check_input_level([-22, -10]) == (-22.0, -10.0)
    for bad in ([-10, -22], [-22], "loud", True, [-22, "x"], float("nan"), [-22, float("inf")]):
        with pytest.raises(ConfigError, match="input_level_dbfs"):
            check_input_level(bad)
    folder = make_random_crnn(tmp_path / "m")
    card = read_json(folder / CARD_NAME)
    write_json(folder / CARD_NAME, {**card, "input_level_dbfs": [-22, -10]})
    assert load_model(folder).input_level_dbfs == (-22.0, -10.0)
    write_json(folder / CARD_NAME, {**card, "input_level_dbfs": [-10, -22]})
    with pytest.raises(ModelError, match=r"model\.json: input_level_dbfs"):
        load_model(folder)


@pytest.mark.parametrize("log_add", [1.0, 0.1])
def test_gain_on_features_equals_gain_on_audio(log_add) -> None:
    config = FeatureConfig(log_add=log_add)
    x = events_audio(np.arange(0.1, 2.0, 0.23), 2.0, "noise", SR, 0.3) + noise(2.0, -50.0)
    for gain_db in (-12.0, 7.5, 30.0):
        louder = log_spectrogram(x * np.float32(10 ** (gain_db / 20)), SR, config)
        np.testing.assert_allclose(
            apply_gain(log_spectrogram(x, SR, config), gain_db, log_add), louder, atol=2e-4
        )
    per_band = np.linspace(-6, 6, config.n_bands)  # one gain per band (the training EQ augmentation)
    spec = log_spectrogram(x, SR, config)
    assert apply_gain(spec, per_band, log_add)[:, -1].mean() > spec[:, -1].mean()
    assert apply_gain(spec, per_band, log_add)[:, 0].mean() < spec[:, 0].mean()


def test_streamed_level_equals_whole_file_level(tmp_path) -> None:
    x = np.concatenate([np.zeros(SR, np.float32), noise(21.7, -27.0)])
    path = write_audio(tmp_path / "s.flac", np.stack([x, x], axis=1))
    meter = LevelMeter(SR)
    stream_log_spectrogram(path, FeatureConfig(), block_s=4.0, meter=meter)
    whole = compute_features(path, None, FeatureConfig(), InferenceConfig())
    assert whole.level_dbfs == pytest.approx(-27.0, abs=0.05)
    assert meter.level_dbfs() == pytest.approx(whole.level_dbfs, abs=0.01)
    streamed = compute_features(
        path, None, FeatureConfig(), InferenceConfig(stream_above_s=10.0, stream_block_s=4)
    )
    assert streamed.timings["load"] == 0.0 and streamed.level_dbfs == pytest.approx(
        whole.level_dbfs, abs=0.01
    )
    array = compute_features(np.stack([x, x], axis=1), SR, FeatureConfig(), InferenceConfig())
    assert array.level_dbfs == pytest.approx(whole.level_dbfs, abs=0.01)


@pytest.fixture(scope="module")
def level_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same random CRNN three times: as it is, with ``input_level_dbfs`` -16 in its card, and with the
    range -30..-20."""
    root = tmp_path_factory.mktemp("level-models")
    plain = make_random_crnn(root / "plain")
    matched = make_random_crnn(root / "matched")
    ranged = make_random_crnn(root / "ranged")
    card = read_json(matched / CARD_NAME)
    write_json(matched / CARD_NAME, {**card, "input_level_dbfs": -16.0})
    write_json(ranged / CARD_NAME, {**card, "input_level_dbfs": [-30.0, -20.0]})
    return {"plain": plain, "matched": matched, "ranged": ranged}


def test_transcription_hears_every_recording_at_the_model_level(level_models, tmp_path) -> None:
    x = events_audio(np.arange(0.2, 6.0, 0.31), 6.0, "noise", SR, 0.5) + noise(6.0, -45.0)
    runs = {}
    for gain_db in (-24.0, 0.0, 9.0):
        # float WAV: no clipping at +9 dB, no 16-bit rounding at -24 dB
        path = write_audio(
            tmp_path / f"g{gain_db:+g}.wav", x * np.float32(10 ** (gain_db / 20)), subtype="FLOAT"
        )
        runs[gain_db] = {name: transcribe(path, model=m, tempo=False) for name, m in level_models.items()}
    base = runs[0.0]["matched"]
    assert base.settings["input_gain_db"] == pytest.approx(
        -16.0 - base.settings["input_level_dbfs"], abs=0.01
    )
    # the range: a recording within it is heard as it is, one outside it at the nearer end
    level = base.settings["input_level_dbfs"]
    for gain_db, run in runs.items():
        ranged, plain = run["ranged"], run["plain"]
        want = min(max(level + gain_db, -30.0), -20.0) - (level + gain_db)
        assert ranged.settings["input_gain_db"] == pytest.approx(want, abs=0.01)
        if want == 0.0:
            np.testing.assert_allclose(ranged.activations, plain.activations, atol=1e-5)
    assert {round(r["ranged"].settings["input_gain_db"], 1) == 0.0 for r in runs.values()} == {True, False}
    for gain_db in (-24.0, 9.0):
        matched, plain = runs[gain_db]["matched"], runs[gain_db]["plain"]
        assert matched.settings["input_level_dbfs"] == pytest.approx(
            base.settings["input_level_dbfs"] + gain_db, abs=0.01
        )
        # the model input is the same whatever the file's level, so the activations are too
        np.testing.assert_allclose(matched.activations, base.activations, atol=2e-3)
        # without the level match the same network hears the difference
        assert np.abs(plain.activations - runs[0.0]["plain"].activations).max() > 0.05
        assert plain.settings["input_gain_db"] == 0.0
        # the kept spectrogram is the recording's own: louder file, larger features
        assert (matched.spectrogram.mean() > base.spectrogram.mean()) == (gain_db > 0)
    # InferenceConfig(level_match=False) turns it off for a model that asks for it
    off = transcribe(
        tmp_path / "g-24.wav",
        model=level_models["matched"],
        tempo=False,
        inference_config=InferenceConfig(level_match=False),
    )
    np.testing.assert_allclose(off.activations, runs[-24.0]["plain"].activations, atol=1e-5)
    assert off.settings["input_gain_db"] == 0.0
    # silence: no level, no gain, no onsets
    silent = transcribe(
        write_audio(tmp_path / "silence.wav", np.zeros(2 * SR, np.float32)), model=level_models["matched"]
    )
    assert silent.settings["input_level_dbfs"] is None and silent.settings["input_gain_db"] == 0.0


def test_store_evaluation_hears_tracks_at_the_model_level(level_models, tmp_path) -> None:
    """``drumscribe evaluate`` scales each stored track from its recorded level to the card's input level,
    as transcription scales audio: two records of one recording 12 dB apart give the same activations."""
    from drumscribe.data.store import Store, StoreWriter, recorded_level_dbfs
    from drumscribe.modelio import load_model
    from drumscribe.train.evaluate import evaluate_model, track_activations

    x = events_audio(np.arange(0.2, 6.0, 0.31), 6.0, "noise", SR, 0.3) + noise(6.0, -45.0)
    quiet = compute_features(x, SR, FeatureConfig(), InferenceConfig())
    onsets = [np.arange(0.2, 6.0, 0.31)] + [np.zeros(0)] * 4
    writer = StoreWriter(tmp_path / "s", "levels", FeatureConfig().to_dict())
    writer.write_track("quiet", "test", quiet.spec, onsets, meta={"level_dbfs": quiet.level_dbfs})
    writer.write_track(
        "loud", "test", apply_gain(quiet.spec, 12.0), onsets, meta={"level_dbfs": quiet.level_dbfs + 12}
    )
    writer.write_track("unknown", "test", quiet.spec, onsets, meta={})  # no level recorded: as stored
    writer.finalize()
    store = Store(tmp_path / "s")
    assert recorded_level_dbfs(store.records["loud"].meta) == pytest.approx(quiet.level_dbfs + 12)
    assert recorded_level_dbfs({"mix": {"loudness_dbfs": -14.5}}) == -14.5  # an engine render's record
    for name, want_equal in (("matched", True), ("plain", False)):
        model = load_model(level_models[name])
        out = {
            tid: y
            for _, tid, y in track_activations(
                model.net, [store], "test", model.mean, model.std, input_level_dbfs=model.input_level_dbfs
            )
        }
        same = np.abs(out["quiet"] - out["loud"]).max() < 1e-2
        assert same == want_equal, name
        if want_equal:  # the track without a recorded level was used as stored, not scaled
            assert np.abs(out["quiet"] - out["unknown"]).max() > 0.05
    matched = evaluate_model(level_models["matched"], store, "test", progress=False)
    assert matched["pooled"]["micro_f1"] >= 0.0 and matched["datasets"]["levels"]["n_tracks"] == 3
