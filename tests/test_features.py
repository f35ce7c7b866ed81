"""Log spectrogram: against madmom, against a plain numpy computation, and across input formats."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SR, events_audio, import_madmom, music_like
from drumscribe.audio import load_audio
from drumscribe.errors import ConfigError
from drumscribe.features import (
    FeatureConfig,
    filter_bins,
    filterbank,
    log_spectrogram,
    log_spectrogram_torch,
    num_frames,
)

#: Documented tolerance of the madmom agreement (see drumscribe.features).
MADMOM_TOLERANCE = 0.02


def _signals(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 3 * SR + 123
    t = np.arange(n) / SR
    return {
        "music": music_like(n / SR, seed=seed),
        "noise": (0.2 * rng.standard_normal(n)).astype(np.float32),
        "drums": events_audio(rng.uniform(0, 2.9, 25), n / SR, "noise")
        + events_audio(rng.uniform(0, 2.9, 10), n / SR, "sine", freq_hz=70.0),
        "sweep": (0.5 * np.sin(2 * np.pi * (30 * t + 3000 * t**2))).astype(np.float32),
    }


def _madmom_features(x: np.ndarray, sample_rate: int = SR) -> np.ndarray:
    madmom = import_madmom()
    if madmom is None:
        pytest.skip("madmom is not installed")
    from madmom.audio.spectrogram import LogarithmicFilteredSpectrogram

    spec = LogarithmicFilteredSpectrogram(
        x, sample_rate=sample_rate, num_bands=12, fmin=20, fmax=20000, frame_size=2048, fps=100,
        norm_filters=True, log=np.log10, add=1,
    )  # fmt: skip
    return np.asarray(spec)


@pytest.mark.parametrize("name", ["music", "noise", "drums", "sweep"])
def test_matches_madmom(name):
    x = _signals()[name]
    ref = _madmom_features(x)
    ours = log_spectrogram(x, SR)
    assert ours.shape == ref.shape == (math.ceil(len(x) / 441), 84)
    assert ours.dtype == np.float32
    interior = slice(5, -5)
    assert np.abs(ours[interior] - ref[interior]).max() <= MADMOM_TOLERANCE
    # the implementation follows madmom's framing exactly, so edges and interior agree to float32 rounding
    assert np.abs(ours - ref).max() <= 1e-4
    assert ref[interior].max() > 0.1  # the signal is not trivially silent


MDB_MIX = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "mdb-dev" / "mix" / "MusicDelta_Rockabilly.flac"
)


@pytest.mark.skipif(not MDB_MIX.exists(), reason="mdb-dev validation audio is not available")
def test_matches_madmom_on_real_music():
    # madmom decodes the file itself here, so this also checks load_audio against an independent decoder
    _madmom_features(np.zeros(10, np.float32))  # skips when madmom is missing
    from madmom.audio.spectrogram import LogarithmicFilteredSpectrogram

    ref = LogarithmicFilteredSpectrogram(
        str(MDB_MIX), num_channels=1, num_bands=12, fmin=20, fmax=20000, frame_size=2048, fps=100,
        norm_filters=True,
    )  # fmt: skip
    samples, sr = load_audio(MDB_MIX)
    ours = log_spectrogram(samples, sr)
    assert ours.shape == ref.shape
    assert np.abs(ours[5:-5] - np.asarray(ref)[5:-5]).max() <= MADMOM_TOLERANCE
    assert np.abs(ours - np.asarray(ref)).max() <= 1e-3


def test_matches_madmom_fractional_hop():
    # at 22.05 kHz the hop is 220.5 samples: madmom starts frame i at int(i * 220.5)
    x = _signals(1)["music"][: 2 * SR]
    cfg = FeatureConfig(sample_rate_hz=22050)
    ref = _madmom_features(x, 22050)
    ours = log_spectrogram(x, 22050, cfg)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-4


def test_filterbank_matches_madmom():
    if import_madmom() is None:
        pytest.skip("madmom is not installed")
    from madmom.audio.filters import LogarithmicFilterbank
    from madmom.audio.stft import fft_frequencies

    ref = LogarithmicFilterbank(
        fft_frequencies(1024, SR), num_bands=12, fmin=20, fmax=20000, norm_filters=True
    )
    assert filterbank().shape == ref.shape == (1024, 84)
    np.testing.assert_allclose(filterbank(), np.asarray(ref), atol=1e-7)


def test_filterbank_structure():
    # SPEC 1: the centre frequencies 440 * 2**(j/12) inside [20, 20000] Hz map to 86 unique bins, 1 .. 925
    bins = filter_bins(FeatureConfig())
    assert len(bins) == 86 and bins[0] == 1 and bins[-1] == 925
    bin_hz = SR / 2048
    freqs = 440 * 2 ** (np.arange(-54, 67) / 12)
    freqs = freqs[(freqs >= 20) & (freqs <= 20000)]
    assert len(freqs) == 120
    nearest = np.unique([int(np.argmin(np.abs(np.arange(1024) * bin_hz - f))) for f in freqs])
    np.testing.assert_array_equal(bins, np.maximum(nearest, 1))
    fb = filterbank()
    np.testing.assert_allclose(fb.sum(axis=0), 1.0, rtol=1e-6)
    for band in range(84):
        start, centre, stop = bins[band : band + 3]
        nz = np.flatnonzero(fb[:, band])
        assert nz[0] == (start + 1 if centre > start else start) and nz[-1] == stop - 1
        assert np.argmax(fb[:, band]) == centre


def _numpy_reference(x: np.ndarray) -> np.ndarray:
    """Straightforward per-frame computation: zero-padded frames centred on i*441, symmetric Hann."""
    n_frames = max(1, math.ceil(len(x) / 441))
    padded = np.concatenate([np.zeros(1024), x.astype(np.float64), np.zeros(2048)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2047)
    frames = np.stack([padded[i * 441 : i * 441 + 2048] for i in range(n_frames)])
    mag = np.abs(np.fft.fft(frames * window, axis=1))[:, :1024]
    return np.log10(1 + mag @ filterbank().astype(np.float64))


@pytest.mark.parametrize("n", [0, 1, 440, 441, 442, 2047, 44100])
def test_matches_numpy_reference_and_frame_count(n):
    x = np.random.default_rng(n).uniform(-0.5, 0.5, n).astype(np.float32)
    ours = log_spectrogram(x, SR)
    assert ours.shape == (max(1, math.ceil(n / 441)), 84) == (num_frames(n), 84)
    np.testing.assert_allclose(ours, _numpy_reference(x), atol=2e-5)


def test_silence_is_zero():
    assert np.all(log_spectrogram(np.zeros(1000, np.float32), SR) == 0)


def test_frame_i_is_centred_at_i_over_fps():
    for t in (0.5, 1.0, 1.37):
        x = events_audio([t], 2.0, "click", gain=1.0)
        spec = log_spectrogram(x, SR)
        assert np.argmax(spec.sum(axis=1)) == round(t * 100)


def test_sine_lands_in_its_band():
    cfg = FeatureConfig()
    bins = filter_bins(cfg)
    t = np.arange(SR) / SR
    for band in (10, 40, 70):
        f_hz = bins[band + 1] * SR / 2048  # centre bin of the band
        spec = log_spectrogram(np.sin(2 * np.pi * f_hz * t).astype(np.float32), SR)
        assert np.argmax(spec[50]) == band


def test_batched_torch_matches_single():
    sig = _signals(2)
    x = torch.from_numpy(np.stack([sig["music"], sig["drums"]]))
    batched = log_spectrogram_torch(x)
    assert batched.shape == (2, math.ceil(x.shape[1] / 441), 84)
    for b, name in enumerate(("music", "drums")):
        np.testing.assert_allclose(batched[b].numpy(), log_spectrogram(sig[name], SR), atol=1e-6)
    assert log_spectrogram_torch(x[0]).shape == batched.shape[1:]


def test_torch_features_are_differentiable():
    x = torch.from_numpy(_signals()["noise"][:8820]).requires_grad_(True)
    log_spectrogram_torch(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_long_signal_uses_blocks(monkeypatch):
    import drumscribe.features as features

    x = _signals(3)["music"]
    whole = log_spectrogram(x, SR)
    monkeypatch.setattr(features, "FRAMES_PER_BLOCK", 7)
    np.testing.assert_allclose(log_spectrogram(x, SR), whole, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x = _signals()["music"]
    np.testing.assert_allclose(log_spectrogram(x, SR, device="cuda"), log_spectrogram(x, SR), atol=1e-4)


@pytest.mark.parametrize(
    ("rate", "channels"), [(8000, 1), (22050, 1), (44100, 2), (48000, 1), (48000, 6), (96000, 2)]
)
def test_rates_and_channels_give_84_bands_at_100_fps(tmp_path, rate, channels):
    duration_s = 1.5
    n = int(duration_s * rate)
    t = np.arange(n) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * (200 + 100 * c) * t) for c in range(channels)], axis=1)
    path = tmp_path / f"x_{rate}_{channels}.wav"
    sf.write(path, data.astype(np.float32), rate, subtype="FLOAT")
    samples, sr = load_audio(path)
    spec = log_spectrogram(samples, sr)
    assert spec.shape == (math.ceil(duration_s * 100), 84)
    # resampling inside log_spectrogram gives the same
    direct = log_spectrogram(data.astype(np.float32), rate)
    assert direct.shape == spec.shape
    np.testing.assert_allclose(direct, spec, atol=1e-4)


def test_channels_first_array_is_refused():
    with pytest.raises(ValueError, match="channels"):
        log_spectrogram(np.zeros((2, 44100), np.float32), SR)


def test_feature_config_round_trip_and_validation():
    cfg = FeatureConfig()
    assert cfg.n_bands == 84 and cfg.hop_size == 441
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert FeatureConfig.from_dict({}) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        FeatureConfig.from_dict({"bogus": 1})
    with pytest.raises(ConfigError):
        FeatureConfig(frame_size=2047)
    with pytest.raises(ConfigError):
        FeatureConfig(fmin_hz=300, fmax_hz=200)
    # a 48 kHz filterbank (no resampling) has 83 bands, as SPEC 10.1 says
    assert FeatureConfig(sample_rate_hz=48000).n_bands == 83


# --- numpy engine: the same spectrogram without torch -------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "config"),
    [
        (SR, FeatureConfig()),  # integer hop (441): strided frames
        (22050, FeatureConfig(sample_rate_hz=22050)),  # fractional hop 220.5: gathered frames
        (48000, FeatureConfig(sample_rate_hz=48000)),  # 48 kHz model config: hop 480
        (48000, FeatureConfig(sample_rate_hz=48000, fps=90.0)),  # fractional hop 533.33
    ],
)
def test_numpy_engine_matches_torch(rate, config):
    from drumscribe.features import log_spectrogram_numpy

    x = _signals(5)["music"][: int(2.7 * rate)]
    ours = log_spectrogram(x, rate, config, engine="numpy")
    ref = log_spectrogram(x, rate, config, engine="torch")
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    assert ours.shape[0] == num_frames(len(x), config)
    assert np.abs(ours - ref).max() < 1e-4
    # batched input and the block size do not change the result
    batch = np.stack([x, 0.5 * x])
    both = log_spectrogram_numpy(batch, config)
    np.testing.assert_allclose(both[0], ours, atol=1e-6)
    np.testing.assert_allclose(
        both[1], log_spectrogram_torch(torch.from_numpy(batch[1]), config).numpy(), atol=1e-4
    )


def test_numpy_engine_blocks_short_and_silent(monkeypatch):
    import drumscribe.features as features

    x = _signals(6)["drums"]
    whole = log_spectrogram(x, SR, engine="numpy")
    monkeypatch.setattr(features, "FRAMES_PER_BLOCK", 7)
    np.testing.assert_allclose(log_spectrogram(x, SR, engine="numpy"), whole, atol=1e-6)
    for n in (1, 100, 2047, 2049):  # shorter than a frame, and around one frame
        short = _signals(6)["noise"][:n]
        ours = log_spectrogram(short, SR, engine="numpy")
        assert ours.shape == (num_frames(n), 84)
        assert np.abs(ours - log_spectrogram(short, SR, engine="torch")).max() < 1e-4
    assert np.all(log_spectrogram(np.zeros(1000, np.float32), SR, engine="numpy") == 0)


def test_auto_engine_and_bad_engine():
    from drumscribe.features import resolve_engine

    assert resolve_engine("auto") == "numpy" and resolve_engine("auto", "cpu") == "numpy"
    assert resolve_engine("auto", "cuda") == "torch"
    with pytest.raises(ConfigError, match="engine"):
        resolve_engine("jax")
    with pytest.raises(ConfigError, match="CPU"):
        resolve_engine("numpy", "cuda:0")


@pytest.mark.parametrize("rate", [44100, 48000])
def test_streamed_numpy_features_match_torch(tmp_path, rate):
    from drumscribe.transcribe.inference import stream_log_spectrogram

    x = _signals(7)["music"]
    stereo = np.stack([x, 0.7 * x], axis=1)
    path = tmp_path / f"s{rate}.wav"
    sf.write(path, stereo, rate, subtype="FLOAT")
    config = FeatureConfig()
    ours, n_ours = stream_log_spectrogram(path, config, block_s=0.7, engine="numpy")
    ref, n_ref = stream_log_spectrogram(path, config, block_s=0.7, engine="torch")
    assert n_ours == n_ref and ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-4
    samples, sr = load_audio(path)
    whole = log_spectrogram(samples, sr, engine="torch")
    assert ours.shape == whole.shape
    np.testing.assert_allclose(ours, whole, atol=1e-5 if rate == 44100 else 2e-3)


def test_bandwidth_is_where_the_sound_ends() -> None:
    """White noise at 44.1 kHz reaches the top band; kept at 22.05 kHz and 16 kHz it ends at a band next to
    half that rate (the one across the wall holds a little below it); silence and a spectrogram without sound up to 4 kHz give None."""
    import soxr

    from drumscribe.features import band_frequencies, bandwidth_hz, log_spectrogram_numpy

    cfg = FeatureConfig()
    hz = band_frequencies(cfg)
    noise = (np.random.default_rng(0).standard_normal(3 * 44100) * 0.1).astype(np.float32)
    assert bandwidth_hz(log_spectrogram_numpy(noise, cfg), cfg) == hz[-1]
    for rate in (22050, 16000):
        kept = soxr.resample(soxr.resample(noise, 44100, rate), rate, 44100).astype(np.float32)
        got = bandwidth_hz(log_spectrogram_numpy(kept, cfg), cfg)
        assert got in (hz[hz < rate / 2][-1], hz[hz > rate / 2][0])  # a band next to the wall
    assert bandwidth_hz(np.zeros((300, len(hz)), np.float32), cfg) is None
    assert bandwidth_hz(np.zeros((0, len(hz)), np.float32), cfg) is None
