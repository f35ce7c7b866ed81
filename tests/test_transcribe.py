"""drumscribe.transcribe: the pipeline on synthetic audio with a hand-built onset-detector model.

The "flux" model is a real drumscribe CNN whose weights are set by hand so that it computes a spectral
flux onset detector (positive frame-to-frame increase of the standardised spectrogram, averaged over low
or high bands). Its onsets are therefore known in advance: one per noise burst, at the burst's frame.
A randomly initialised CRNN checks chunked against unchunked inference across recurrent layers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import events_audio, write_audio
from drumscribe.errors import AudioError, ConfigError
from drumscribe.features import FeatureConfig, log_spectrogram
from drumscribe.modelio import make_card, save_model
from drumscribe.models import build_model
from drumscribe.peaks import pick_peaks
from drumscribe.transcribe import Transcription, transcribe
from drumscribe.transcribe.inference import (
    InferenceConfig,
    chunk_windows,
    get_model,
    stream_log_spectrogram,
)
from drumscribe.transcribe.tempo import (
    TempoConfig,
    backbeat_every_fourth,
    beat_programme,
    estimate_beats,
    estimate_meter,
    estimate_tempo,
    onset_envelope,
    tempo_config_from_record,
)
from drumscribe.transcribe.velocity import velocities_from_levels, velocity_from_height

SR = 44100
AWAY_S = 0.5  # "away from the joins" [s]
OUTPUT_GAIN = 30.0
BURSTS_S = [0.5, 1.25, 2.0, 2.6, 3.3, 4.1, 5.0, 5.55]


def make_flux_model(folder: Path) -> Path:
    """A CNN (1 conv block, 1 hidden layer) whose weights implement a spectral-flux onset detector.

    conv1 channel 0 = x[t] - x[t-1] at each band, ReLU, BatchNorm = identity, conv2 channel 0 = identity,
    max-pool over 3 bands -> 28 pooled bands. Hidden unit 0 = mean flux of pooled bands 0-9 (low), unit 1
    = mean flux of bands 18-27 (high), unit 2 = mean flux of all. Logit of kick/toms = 8 * low - 4,
    snare = 8 * all - 4, hi-hat/cymbals = 8 * high - 4.
    """
    import torch

    params = {"num_blocks": 1, "num_layers": 1, "hidden_size": 3}
    net = build_model("cnn", **params)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        block = net.frontend.blocks[0].layers
        conv1, bn1, conv2, bn2 = block[0], block[2], block[3], block[5]
        conv1.weight[0, 0, 1, 1] = 1.0
        conv1.weight[0, 0, 0, 1] = -1.0
        conv2.weight[0, 0, 1, 1] = 1.0
        for bn in (bn1, bn2):
            bn.weight.fill_(1.0)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        hidden, out = net.mlp[0], net.mlp[2]
        hidden.weight[0, 0:10] = 1 / 10
        hidden.weight[1, 18:28] = 1 / 10
        hidden.weight[2, 0:28] = 1 / 28
        out.weight[0, 0] = out.weight[2, 0] = 8.0
        out.weight[1, 2] = 8.0
        out.weight[3, 1] = out.weight[4, 1] = 8.0
        out.bias.fill_(-4.0)
    card = make_card("cnn", params, FeatureConfig().to_dict(), mean=0.2, std=0.3, name="flux-test")
    return save_model(net, card, folder)


def make_random_crnn(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised small CRNN (bidirectional GRU) with amplified outputs."""
    import torch

    params = {"num_layers": 1, "hidden_size": 8, "cell": "gru"}
    torch.manual_seed(seed)
    net = build_model("crnn", **params)
    last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # larger output weights: activations swing over (0, 1), giving many peaks
        last.weight.mul_(OUTPUT_GAIN)
    card = make_card("crnn", params, FeatureConfig().to_dict(), mean=0.2, std=0.3, name="random-crnn")
    return save_model(net, card, folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"flux": make_flux_model(root / "flux"), "crnn": make_random_crnn(root / "crnn")}


@pytest.fixture(scope="module")
def burst_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "bursts.wav"
    return write_audio(path, events_audio(BURSTS_S, 6.5, "noise", SR, gain=0.5))


def assert_onsets_at(times: np.ndarray, expected: list[float], tol_s: float = 0.015) -> None:
    times = np.asarray(times)
    assert len(times) == len(expected), (times, expected)
    assert np.max(np.abs(times - np.asarray(expected))) <= tol_s, (times, expected)


def test_flux_model_finds_bursts_at_known_times(models, burst_file) -> None:
    tr = transcribe(burst_file, model=models["flux"])
    assert isinstance(tr, Transcription)
    for c in range(5):
        assert_onsets_at(tr.onsets[c], BURSTS_S)
    assert tr.activations.shape == (math.ceil(6.5 * 100), 5) and tr.activations.dtype == np.float32
    assert tr.fps == 100.0 and tr.duration_s == pytest.approx(6.5)
    assert tr.source == "bursts.wav" and tr.model_name == "flux-test"
    assert tr.classes == ["kick", "snare", "toms", "hihat", "cymbals"]
    assert tr.midi_notes == [36, 38, 47, 42, 49]
    # velocities and confidences belong to the detected peaks
    for c in range(5):
        frames = np.rint(tr.onsets[c] * 100).astype(int)
        np.testing.assert_allclose(tr.confidences[c], tr.activations[frames, c])
    # velocities: each burst's level against the class's median burst (equal bursts: all near 79)
    np.testing.assert_allclose(tr.levels, tr.spectrogram.mean(axis=1), rtol=1e-5)
    for c in range(5):
        np.testing.assert_array_equal(
            tr.velocities[c], velocities_from_levels(tr.levels, tr.onsets, 100.0)[c]
        )
        assert np.all(np.abs(tr.velocities[c] - 79) <= 12), tr.velocities[c]
    for key in ("load", "features", "model", "peaks", "tempo"):
        assert tr.timings[key] >= 0
    events = tr.events()
    assert len(events) == tr.num_onsets == 5 * len(BURSTS_S)
    assert [e["time_s"] for e in events] == sorted(e["time_s"] for e in events)


def test_low_and_high_bursts_go_to_their_classes(models, tmp_path) -> None:
    low = events_audio([0.5, 1.5], 3.0, "sine", SR, gain=0.8, freq_hz=60.0)
    t = np.arange(len(low)) / SR
    high = events_audio([1.0, 2.0], 3.0, "noise", SR, gain=0.5)
    high = np.diff(np.concatenate([[0], high])).astype(np.float32)  # a crude high-pass
    tr = transcribe(low + high, sample_rate=SR, model=models["flux"])
    assert_onsets_at(tr.onsets[0], [0.5, 1.5])
    assert_onsets_at(tr.onsets[3], [1.0, 2.0])
    assert tr.source is None and len(t) == len(low)


def test_array_and_file_give_the_same_result(models, burst_file) -> None:
    samples, sr = sf.read(burst_file, dtype="float32")
    a = transcribe(burst_file, model=models["crnn"], threshold=0.3)
    b = transcribe(samples, sample_rate=sr, model=models["crnn"], threshold=0.3)
    np.testing.assert_allclose(a.activations, b.activations, atol=1e-6)
    for x, y in zip(a.onsets, b.onsets):
        np.testing.assert_array_equal(x, y)


def test_chunk_windows_tile_the_recording() -> None:
    for n, window, context in [
        (1000, 300, 50),
        (1001, 300, 50),
        (250, 300, 50),
        (7, 5, 1),
        (5000, 3000, 250),
    ]:
        wins = chunk_windows(n, window, context)
        kept = np.zeros(n, int)
        for s, e, ks, ke in wins:
            assert 0 <= s <= ks < ke <= e <= n and e - s <= window
            kept[ks:ke] += 1
            # context before and after every inner join, or everything up to the recording's end
            assert ks - s >= context or s == 0
            assert e - ke >= context or e == n
        assert np.all(kept == 1)
    assert chunk_windows(10, None, 3) == [(0, 10, 0, 10)]


def test_chunked_equals_unchunked_away_from_joins(models, tmp_path) -> None:
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0.2, 23.5, 80))
    audio = events_audio(times, 24.0, "noise", SR, gain=0.4) + 0.01 * rng.standard_normal(24 * SR).astype(
        np.float32
    )
    path = write_audio(tmp_path / "long.wav", audio)
    for name in ("flux", "crnn"):
        full = transcribe(path, model=models[name], chunk_s=None, threshold=0.3, tempo=False)
        chunked = transcribe(path, model=models[name], chunk_s=6.0, context_s=1.5, threshold=0.3, tempo=False)
        assert full.activations.shape == chunked.activations.shape
        if name == "flux":  # receptive field of +-2 frames: identical everywhere
            np.testing.assert_allclose(full.activations, chunked.activations, atol=1e-5)
            for a, b in zip(full.onsets, chunked.onsets):
                np.testing.assert_array_equal(a, b)
            continue
        joins = np.array([ks for _, _, ks, _ in chunk_windows(len(full.activations), 600, 150)][1:]) / 100.0
        dist = np.min(np.abs(np.arange(len(full.activations))[:, None] / 100.0 - joins[None]), axis=1)
        far = dist > AWAY_S
        assert far.mean() > 0.5
        np.testing.assert_allclose(full.activations[far], chunked.activations[far], atol=1e-4)
        n_compared = 0
        for a, b in zip(full.onsets, chunked.onsets):
            keep_a = np.min(np.abs(a[:, None] - joins[None]), axis=1) > AWAY_S if len(a) else a.astype(bool)
            keep_b = np.min(np.abs(b[:, None] - joins[None]), axis=1) > AWAY_S if len(b) else b.astype(bool)
            np.testing.assert_array_equal(a[keep_a], b[keep_b])
            n_compared += int(keep_a.sum())
        assert n_compared > 10  # the comparison is not vacuous


def test_streamed_features_equal_whole_file(tmp_path) -> None:
    from drumscribe.audio import load_audio

    rng = np.random.default_rng(2)
    for rate in (44100, 48000):
        n = int(23.3 * rate)
        audio = events_audio(np.arange(0.1, 23, 0.37), 23.3, "noise", rate, 0.5)[:n]
        audio += 0.02 * rng.standard_normal(n).astype(np.float32)
        path = write_audio(tmp_path / f"s{rate}.flac", np.stack([audio, 0.5 * audio], axis=1), rate)
        samples, sr = load_audio(path)
        whole = log_spectrogram(samples, sr)
        streamed, n_samples = stream_log_spectrogram(path, FeatureConfig(), block_s=4.0)
        assert streamed.shape == whole.shape
        assert abs(n_samples - len(samples)) <= 1
        tol = 1e-5 if rate == 44100 else 2e-3  # soxr streaming vs one-shot rounding
        np.testing.assert_allclose(streamed, whole, atol=tol)


def test_long_file_uses_streaming_and_chunks(models, tmp_path) -> None:
    rng = np.random.default_rng(3)
    duration = 80.0
    times = np.round(np.sort(rng.choice(np.arange(0.5, duration - 1, 0.2), 150, replace=False)), 3)
    audio = events_audio(times, duration, "noise", SR, gain=0.4)
    path = write_audio(tmp_path / "long.flac", audio)
    config = InferenceConfig(chunk_s=20.0, context_s=2.0, stream_above_s=30.0, stream_block_s=15.0)
    streamed = transcribe(path, model=models["flux"], inference_config=config, tempo=False)
    assert streamed.timings["load"] == 0.0  # the streaming path ran (decode and features interleaved)
    assert_onsets_at(streamed.onsets[1], list(times))
    whole = transcribe(path, model=models["flux"], chunk_s=None, tempo=False)
    np.testing.assert_allclose(streamed.activations, whole.activations, atol=1e-4)


@pytest.mark.parametrize("rate,channels", [(8000, 1), (96000, 2), (44100, 6), (22050, 1)])
def test_sample_rates_and_channels(models, tmp_path, rate, channels) -> None:
    mono = events_audio(BURSTS_S[:4], 3.0, "noise", rate, gain=0.5)
    audio = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono
    path = write_audio(tmp_path / f"r{rate}c{channels}.wav", audio, rate)
    tr = transcribe(path, model=models["flux"])
    assert tr.duration_s == pytest.approx(3.0, abs=1e-3)
    assert_onsets_at(tr.onsets[1], BURSTS_S[:4])


def test_silence_and_tiny_clip_are_valid(models, tmp_path) -> None:
    silence = write_audio(tmp_path / "silence.wav", np.zeros(3 * SR, np.float32))
    tr = transcribe(silence, model=models["flux"])
    assert tr.num_onsets == 0 and tr.tempo_bpm is None and len(tr.beats_s) == 0
    assert tr.activations.shape == (300, 5) and tr.settings["silent"]
    clip = write_audio(tmp_path / "clip.wav", events_audio([0.02], 0.1, "noise", SR, 0.5))
    tr = transcribe(clip, model=models["flux"])
    assert tr.activations.shape == (10, 5) and tr.duration_s == pytest.approx(0.1)
    assert_onsets_at(tr.onsets[1], [0.02])


def test_bad_inputs_raise_clear_errors(models, tmp_path) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioError, match="missing.wav.*not found"):
        transcribe(missing, model=models["flux"])
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError, match="notes.wav"):
        transcribe(text, model=models["flux"])
    good = write_audio(tmp_path / "good.wav", events_audio([0.5], 2.0, "noise", SR, 0.5), subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(AudioError, match="truncated.wav.*(truncated|corrupt)"):
        transcribe(truncated, model=models["flux"])
    empty = write_audio(tmp_path / "empty.wav", np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="empty.wav.*zero-length"):
        transcribe(empty, model=models["flux"])
    zero_bytes = tmp_path / "zero.flac"
    zero_bytes.write_bytes(b"")
    with pytest.raises(AudioError, match="zero.flac"):
        transcribe(zero_bytes, model=models["flux"])
    with pytest.raises(AudioError, match="zero-length"):
        transcribe(np.zeros(0, np.float32), sample_rate=SR, model=models["flux"])
    with pytest.raises(AudioError, match="NaN"):
        transcribe(np.full(100, np.nan, np.float32), sample_rate=SR, model=models["flux"])
    with pytest.raises(ConfigError, match="sample_rate"):
        transcribe(np.zeros(100, np.float32), model=models["flux"])
    with pytest.raises(ConfigError, match="threshold"):
        transcribe(good, model=models["flux"], threshold=[0.5, 0.5])
    with pytest.raises(ConfigError, match="chunk_s"):
        transcribe(good, model=models["flux"], chunk_s=2.0, context_s=1.5)


def test_repick_changes_only_peaks(models, burst_file) -> None:
    tr = transcribe(burst_file, model=models["crnn"], threshold=0.2)
    assert tr.num_onsets > 0
    higher = tr.repick([0.2, 0.9, 0.2, 0.2, 0.2])
    assert higher.activations is tr.activations
    assert len(higher.onsets[1]) <= len(tr.onsets[1])
    assert set(higher.onsets[1]) <= set(tr.onsets[1])
    np.testing.assert_array_equal(higher.onsets[0], tr.onsets[0])
    assert higher.thresholds == [0.2, 0.9, 0.2, 0.2, 0.2]
    back = higher.repick(0.2)
    for a, b in zip(back.onsets, tr.onsets):
        np.testing.assert_array_equal(a, b)
    # repick(None) uses the card's thresholds (0.5)
    assert tr.repick().thresholds == [0.5] * 5
    # every onset's confidence is at least its class threshold
    for c, conf in enumerate(higher.confidences):
        assert np.all(conf >= higher.thresholds[c])


def test_models_are_cached_and_loaded_model_accepted(models, burst_file) -> None:
    a = get_model(models["flux"])
    b = get_model(str(models["flux"]))
    assert a is b
    tr1 = transcribe(burst_file, model=a)
    tr2 = transcribe(burst_file, model=models["flux"])
    np.testing.assert_array_equal(tr1.activations, tr2.activations)


def test_package_is_callable_and_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, drumscribe, drumscribe.transcribe as t; "
        "assert callable(drumscribe.transcribe) and callable(t); "
        "heavy = [m for m in ('torch', 'music21', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_velocity_mapping_table() -> None:
    heights = np.array([0.0, 0.5, 0.75, 1.0, 2.0, -1.0])
    np.testing.assert_array_equal(velocity_from_height(heights), [40, 84, 105, 127, 127, 1])
    # levels: the class's median stroke gets 79, +-0.1 in level is +-10.5 velocity; the level of an onset is
    # the highest of its frame and the next two, minus half the lowest of the 5 frames before it; each class
    # has its own median
    curve = np.zeros(100, np.float32)
    curve[10] = 0.1  # 0.10 s: 0.1 over silence
    curve[25], curve[26:31] = 0.1, 0.2  # 0.30 s: 0.2 after a lift whose lowest is 0.1 -> 0.2 - 0.05
    curve[50:53] = -0.1  # 0.50 s: -0.1
    curve[0], curve[70] = 0.4, 1.0  # at the first frame the frame itself stands for "before": 0.4 - 0.2
    onsets = [np.array([0.10, 0.30, 0.50]), np.array([0.0, 0.70]), np.zeros(0)]
    got = velocities_from_levels(curve, onsets, 100.0)
    np.testing.assert_array_equal(got[0], [79, 84, 58])  # levels 0.1, 0.15, -0.1; median 0.1
    np.testing.assert_array_equal(got[1], [37, 121])  # levels 0.2 and 1.0, median 0.6
    assert got[2].size == 0


def test_a_band_already_sounding_lifts_a_stroke_less() -> None:
    """Three kicks: rises of 0.3 and 0.6 over silence, and 0.3 over a band at 0.4 that starts before it. The
    level alone (0.3 / 0.6 / 0.7) would make the kick over the band the hardest; with half the level before
    the onset taken away (0.3 / 0.6 / 0.5) the hardest stroke is the hardest."""
    curve = np.zeros(300, np.float32)
    curve[50], curve[100] = 0.3, 0.6
    curve[180:260] = 0.4  # the band comes in
    curve[200] = 0.7
    vel = velocities_from_levels(curve, [np.array([0.5, 1.0, 2.0])], 100.0)[0]
    assert vel[1] > vel[2] > vel[0], vel


def test_louder_strokes_get_higher_velocities(models, tmp_path) -> None:
    """Bursts at -8, -5, -2.5 and 0 dB, twice over: velocities rise with the level and hardly depend on the
    recording's overall gain; re-picking keeps them."""
    gains = [0.4, 0.56, 0.75, 1.0] * 2
    times = [0.5, 1.25, 2.0, 2.6, 3.3, 4.1, 5.0, 5.55]
    audio = np.zeros(int(6.5 * SR), np.float32)
    for t, g in zip(times, gains):
        audio += g * events_audio([t], 6.5, "noise", SR, gain=0.4)
    loud = transcribe(write_audio(tmp_path / "loud.wav", audio), model=models["flux"], threshold=0.2)
    quiet = transcribe(write_audio(tmp_path / "quiet.wav", audio * 0.5), model=models["flux"], threshold=0.2)
    c = loud.classes.index("snare")
    assert_onsets_at(loud.onsets[c], times)
    v = loud.velocities[c]
    assert np.all(np.diff(v[:4]) > 0) and np.all(np.diff(v[4:]) > 0), v
    assert v[3] - v[0] >= 15, v
    np.testing.assert_allclose(
        quiet.velocities[c], v, atol=5
    )  # log(1 + x) compresses a quieter file a little
    np.testing.assert_array_equal(loud.repick().velocities[c], v)
    assert loud.to_dict()["settings"]["velocity_rule"].startswith("velocity = clip(round(79 + 105")


def backbeat_click_track(bpm: float, fps: float = 100.0, secs: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """(activations, beat times): kick on 1 and 3, snare on 2 and 4, eighth-note hi-hats, a little noise."""
    n = int(secs * fps)
    beats = np.arange(0.37, n / fps - 0.2, 60.0 / bpm)
    act = np.zeros((n, 5))
    rng = np.random.default_rng(int(bpm))
    for i, b in enumerate(beats):
        act[int(round(b * fps)), 0 if i % 2 == 0 else 1] = 0.9
        for e in (b, b + 30.0 / bpm):  # eighth-note hi-hats
            if e * fps < n:
                act[int(round(e * fps)), 3] = 0.6
    return act + 0.05 * rng.random(act.shape), beats


# 56-68 BPM: the estimate alone reads such a backbeat in double time (the prior leans to 120 BPM), the
# metrical-level choice at its tempo
@pytest.mark.parametrize("bpm", [56.0, 64.0, 72.0, 95.0, 120.0, 140.0, 168.0])
def test_tempo_and_beats_of_click_tracks(bpm) -> None:
    fps = 100.0
    n = int(40 * fps)
    act, beats = backbeat_click_track(bpm, fps)
    tempo, beat_times = estimate_beats(act, fps)
    assert tempo == pytest.approx(bpm, rel=0.01)
    err = np.min(np.abs(beat_times[:, None] - beats[None]), axis=1)
    assert np.all(err <= 0.015)
    assert len(beat_times) >= len(beats) - 1
    assert estimate_tempo(onset_envelope(np.zeros((n, 5)))) is None


@pytest.mark.parametrize("bpm", [118.0, 126.0])
def test_the_bar_keeps_a_syncopated_groove_at_its_tempo(bpm) -> None:
    """Kicks in a 3-3-2 tresillo with the snare on 2 and 4: without the four-beat bar's autocorrelation the
    estimate falls to half the tempo."""
    fps, secs = 100.0, 30.0
    beat = 60.0 / bpm
    act = np.zeros((int(secs * fps), 5))
    for bar in np.arange(0.2, secs - 4 * beat, 4 * beat):
        for sixteenth in (0, 3, 6, 8, 11, 14):
            act[int(round((bar + sixteenth * beat / 4) * fps)), 0] = 0.9
        for b in (1, 3):
            act[int(round((bar + b * beat) * fps)), 1] = 0.9
    act += 0.05 * np.random.default_rng(0).random(act.shape)
    assert estimate_beats(act, fps)[0] == pytest.approx(bpm, rel=0.01)
    no_bar = TempoConfig(bar_weight=0.0, octave_choice=False)
    assert estimate_beats(act, fps, no_bar)[0] == pytest.approx(bpm / 2, rel=0.01)


@pytest.mark.parametrize("bpm", [84.0, 90.0])
def test_a_three_sixteenth_figure_is_not_taken_for_the_beat(bpm) -> None:
    """Kick and hi-hat accents every three sixteenths within each bar, the snare on 2 and 4: the period of
    three sixteenths scores as well as the beat, and the prior (leaning to 120 BPM) would take it, 4/3 of
    the tempo; the check at 4/3 of the lag keeps the beat."""
    fps, secs = 100.0, 30.0
    sixteenth = 60.0 / bpm / 4
    act = np.zeros((int(secs * fps), 5))
    for k in range(int((secs - 1.2) / sixteenth)):
        i, pos = int(round((0.2 + k * sixteenth) * fps)), k % 16
        act[i, 0] = 0.9 if pos in (0, 3, 6, 9) else 0.0
        act[i, 1] = 0.9 if pos in (4, 12) else 0.0
        act[i, 3] = 0.5 if pos % 3 == 0 else 0.0
    act += 0.05 * np.random.default_rng(0).random(act.shape)
    assert estimate_beats(act, fps)[0] == pytest.approx(bpm, rel=0.01)
    unchecked = TempoConfig(slower_ratio=0.0, octave_choice=False)
    assert estimate_beats(act, fps, unchecked)[0] == pytest.approx(bpm * 4 / 3, rel=0.01)


def test_a_slow_backbeat_counted_twice_as_fast_is_halved() -> None:
    """(The rule that runs with the metrical-level choice off.) At 72 BPM the estimate is 144, where the
    snare falls on one beat in four: it is halved, and the beats are tracked again on the clicks. A fast
    backbeat (snare on every other beat) is left alone."""
    act, beats = backbeat_click_track(72.0)
    rule = TempoConfig(octave_choice=False)
    never = TempoConfig(halve_min_bpm=1e9, octave_choice=False)
    assert estimate_beats(act, 100.0, never)[0] == pytest.approx(144.0, rel=0.01)
    double_beats = estimate_beats(act, 100.0, never)[1]
    assert backbeat_every_fourth(act, double_beats, 100.0)
    tempo, beat_times = estimate_beats(act, 100.0, rule)
    assert tempo == pytest.approx(72.0, rel=0.01)
    assert np.max(np.min(np.abs(beat_times[:, None] - beats[None]), axis=1)) <= 0.015
    fast, _ = backbeat_click_track(160.0)
    assert not backbeat_every_fourth(fast, estimate_beats(fast, 100.0, rule)[1], 100.0)
    assert estimate_beats(fast, 100.0, rule)[0] == pytest.approx(160.0, rel=0.01)


def test_tempo_settings_reach_the_estimate_of_a_transcription(models, tmp_path) -> None:
    """transcribe_spectrogram's tempo_config is the one the tempo and beats are estimated with."""
    from drumscribe.transcribe.inference import compute_features, transcribe_features

    clicks = np.arange(0.3, 19.5, 0.5)  # 120 BPM
    path = write_audio(tmp_path / "clicks.wav", events_audio(clicks, 20.0, "noise", SR, gain=0.5))
    feats = compute_features(path, None, FeatureConfig(), InferenceConfig())
    default = transcribe_features(feats, models["flux"], threshold=0.3)
    assert default.tempo_bpm == pytest.approx(120.0, rel=0.02)
    slow = transcribe_features(feats, models["flux"], threshold=0.3, tempo_config=TempoConfig(max_bpm=100.0))
    assert slow.tempo_bpm == pytest.approx(60.0, rel=0.02)
    # recorded in the settings (JSON-ready), and estimating again keeps them
    assert (
        slow.settings["tempo_config"]["max_bpm"] == 100.0
        and default.settings["tempo_config"]["max_bpm"] == 220.0
    )
    record = json.loads(json.dumps(slow.settings["tempo_config"]))
    assert tempo_config_from_record(record) == TempoConfig(max_bpm=100.0)
    assert slow.with_bpm(None).tempo_bpm == pytest.approx(60.0, rel=0.02)
    assert default.with_bpm(None).tempo_bpm == pytest.approx(120.0, rel=0.02)
    with pytest.raises(ConfigError, match="unknown nonsense"):
        tempo_config_from_record({"nonsense": 1})


def test_known_bpm_sets_the_beat_period_and_the_music_its_phase() -> None:
    """A click track at 140 BPM: told 70 BPM, the beats are every other click (half time), not the estimate."""
    fps, n = 100.0, 3000
    clicks = np.arange(0.41, n / fps - 0.3, 60.0 / 140.0)
    act = np.zeros((n, 5))
    act[np.round(clicks * fps).astype(int), 0] = 0.9
    assert estimate_beats(act, fps)[0] == pytest.approx(140.0, rel=0.01)
    tempo, beats = estimate_beats(act, fps, bpm=70.0)
    assert tempo == 70.0
    np.testing.assert_allclose(np.diff(beats), 60.0 / 70.0, atol=0.015)
    assert np.min(np.abs(beats[:, None] - clicks[None]), axis=1).max() <= 0.015  # on the clicks
    assert estimate_beats(np.zeros((n, 5)), fps, bpm=70.0) == (70.0, pytest.approx(np.zeros(0)))
    for bad in (0.0, 1000.0, float("nan"), "fast"):
        with pytest.raises(ConfigError, match="bpm"):
            estimate_beats(act, fps, bpm=bad)  # type: ignore[arg-type]


def test_no_tempo_without_clear_onsets() -> None:
    """Silence and noise (a trained model's activations barely move there) have no tempo and no beats;
    a tempo needs a few clear onsets."""
    fps, n = 100.0, 3000
    rng = np.random.default_rng(3)
    murmur = 0.03 * rng.random((n, 5))  # what a trained model outputs on silence
    assert estimate_beats(murmur, fps) == (None, pytest.approx(np.zeros(0)))
    three = murmur.copy()
    three[[500, 550, 600], 0] = 0.9
    assert estimate_beats(three, fps)[0] is None
    ten = murmur.copy()
    ten[500:1000:50, 0] = 0.9  # ten hits, 0.5 s apart
    assert estimate_beats(ten, fps)[0] == pytest.approx(120.0, rel=0.01)


@pytest.mark.parametrize("seed", range(4))
def test_the_block_beat_programme_equals_the_frame_by_frame_one(seed) -> None:
    """The vectorised dynamic programme of the beat tracker gives exactly the scores and back links of Ellis's
    frame-by-frame loop, for periods of 24 to 150 frames (40-250 BPM) and curves shorter than a period up to
    15 s."""
    rng = np.random.default_rng(seed)
    for _ in range(15):
        n = int(rng.integers(20, 1500))
        local = np.abs(rng.normal(size=n)) * (rng.random(n) < 0.2) - 0.05
        period, tightness = 6000.0 / float(rng.uniform(40, 250)), 400.0
        score, backlink = local.copy(), np.full(n, -1)
        offsets = range(int(np.round(period / 2)), int(np.round(2 * period)) + 1)
        for t in range(offsets[0], n):
            best, arg = -np.inf, -1
            for off in offsets:
                gain = score[t - off] - tightness * np.log(off / period) ** 2 if t >= off else -np.inf
                if gain > best:
                    best, arg = gain, t - off
            if best > 0:
                score[t], backlink[t] = local[t] + best, arg
        got_score, got_backlink = beat_programme(local, period, tightness)
        np.testing.assert_array_equal(got_backlink, backlink)
        np.testing.assert_allclose(got_score, score, rtol=0, atol=1e-12)


def test_streaming_memory_is_bounded_by_the_block(tmp_path) -> None:
    """Decoding + features of a long file hold one block of audio, not the file (numpy allocations traced)."""
    import tracemalloc

    duration, block_s = 240.0, 10.0
    path = tmp_path / "long.wav"
    with sf.SoundFile(str(path), "w", SR, 2, subtype="PCM_16") as f:
        rng = np.random.default_rng(4)
        for _ in range(int(duration / 20)):
            f.write((0.1 * rng.standard_normal((20 * SR, 2))).astype(np.float32))
    whole_audio_bytes = duration * SR * 4  # the mono float32 signal load_audio would return
    features_bytes = duration * 100 * 84 * 4
    tracemalloc.start()
    try:
        spec, n = stream_log_spectrogram(path, FeatureConfig(), block_s=block_s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spec.shape == (math.ceil(duration * 100), 84) and n == duration * SR
    assert peak < features_bytes + 0.25 * whole_audio_bytes, (peak, whole_audio_bytes)


def waltz_click_track(bpm: float, fps: float = 100.0, secs: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """(activations, beat times): a waltz, kick on 1, snares on 2 and 3, eighth-note hi-hats, and a fill of
    toms in every eighth bar, with a little noise."""
    n = int(secs * fps)
    beats = np.arange(0.41, n / fps - 0.2, 60.0 / bpm)
    act = np.zeros((n, 5))
    rng = np.random.default_rng(int(bpm) + 1)
    for i, b in enumerate(beats):
        fill = (i // 3) % 8 == 7 and i % 3 > 0
        act[int(round(b * fps)), 2 if fill else 0 if i % 3 == 0 else 1] = 0.9
        for e in (b, b + 30.0 / bpm):
            if e * fps < n:
                act[int(round(e * fps)), 3] = 0.6
    return act + 0.05 * rng.random(act.shape), beats


@pytest.mark.parametrize("bpm", [96.0, 132.0])
def test_the_meter_is_three_for_a_waltz_and_four_for_a_backbeat(bpm) -> None:
    waltz, _ = waltz_click_track(bpm)
    tempo, beats = estimate_beats(waltz, 100.0)
    assert tempo == pytest.approx(bpm, rel=0.01)
    meter, r2 = estimate_meter(waltz, beats, 100.0)
    assert meter == 3 and r2[3] > r2[4] + 0.3
    rock, _ = backbeat_click_track(bpm)
    meter, r2 = estimate_meter(rock, estimate_beats(rock, 100.0)[1], 100.0)
    assert meter == 4 and r2[4] > 0.3 and r2[3] < 0.05  # kick-snare-kick-snare fits no three-beat bar
    # the margin decides: a three-beat bar that fits only a little better is not enough
    meter, r2 = estimate_meter(waltz, beats, 100.0, TempoConfig(meter_margin=2.0))
    assert meter == 4 and r2[3] > r2[4]
    # a pattern that does not repeat, or too few beats: 4/4, the default
    noise = np.random.default_rng(5).random(waltz.shape) * 0.9
    assert estimate_meter(noise, beats, 100.0)[0] == 4
    assert estimate_meter(waltz, beats[:8], 100.0) == (4, {})
    assert estimate_meter(waltz, np.zeros(0), 100.0) == (4, {})


def test_a_transcription_of_a_waltz_is_scored_in_three_four(tmp_path) -> None:
    import music21

    act, _ = waltz_click_track(120.0, secs=30.0)
    onsets = [pick_peaks(act[:, c : c + 1], 0.5, 100.0)[0][0] for c in range(5)]
    tr = Transcription(
        onsets=onsets,
        velocities=[np.full(len(o), 80) for o in onsets],
        confidences=[np.full(len(o), 0.9, np.float32) for o in onsets],
        activations=act.astype(np.float32),
        fps=100.0,
        duration_s=30.0,
    ).with_bpm(None)  # tracks the beats and estimates the meter from the activations
    assert tr.tempo_bpm == pytest.approx(120.0, rel=0.01)
    assert tr.settings["meter"]["beats_per_bar"] == 3 and tr.beats_per_bar == 3
    np.testing.assert_allclose(tr.downbeats_s[1:], onsets[0][1 : len(tr.downbeats_s)], atol=0.02)
    score = music21.converter.parse(str(tr.to_musicxml(tmp_path / "w.musicxml")))
    assert score.parts[0].recurse().getElementsByClass("TimeSignature").first().ratioString == "3/4"
    as_json = json.loads(tr.to_json(tmp_path / "w.json").read_text())
    assert as_json["beats_per_bar"] == 3 and as_json["settings"]["meter"]["r2"]["3"] > 0.3
    # a given meter wins over the estimate; None goes back to it
    assert tr.with_meter(4).beats_per_bar == 4 and tr.with_meter(4).with_meter(None).beats_per_bar == 3
    assert len(tr.with_meter(4).downbeats_s) < len(tr.downbeats_s)
    # a known tempo re-tracks the beats and estimates the meter on them again: at a third of the tempo each
    # beat is a whole bar, which repeats in no bar of three or four
    slow = tr.with_bpm(40.0)
    assert slow.settings["meter"]["beats_per_bar"] == 4
