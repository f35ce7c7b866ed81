"""Full mix or isolated drums: the harmonic share, the thresholds it picks, and how transcribe uses them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import events_audio, write_audio
from drumscribe.cli import main
from drumscribe.errors import ConfigError, ModelError
from drumscribe.features import FeatureConfig, log_spectrogram
from drumscribe.modelio import CARD_NAME, load_model, make_card, save_model
from drumscribe.models import build_model
from drumscribe.transcribe import transcribe
from drumscribe.transcribe.inputkind import (
    DRUMS_BELOW,
    MIX_ABOVE,
    drums_only_weight,
    harmonic_share,
    kind_thresholds,
)

SR = 44100
ROOT = Path(__file__).resolve().parents[1]
MDB_DEV = ROOT.parent / "shared" / "data" / "mdb-dev"
MIX_TH = [0.5, 0.8, 0.6, 0.6, 0.4]
DRUMS_TH = [0.3, 0.4, 0.2, 0.7, 0.3]


def drums(duration_s: float = 8.0) -> np.ndarray:
    """Noise bursts on eighths and low sine 'kicks' on quarters: percussive only."""
    eighths = np.arange(0.1, duration_s - 0.2, 0.25)
    return events_audio(eighths, duration_s, "noise", SR, 0.4) + events_audio(
        eighths[::2], duration_s, "sine", SR, 0.5, freq_hz=60.0
    )


def band(duration_s: float = 8.0) -> np.ndarray:
    """Held chords (sawtooth-rich tones, two seconds each) in the 150 Hz-3 kHz band."""
    t = np.arange(int(duration_s * SR)) / SR
    out = np.zeros_like(t)
    roots = [196.0, 220.0, 174.6, 261.6]
    for i, root in enumerate(roots * int(np.ceil(duration_s / 8))):
        seg = (t >= 2 * i) & (t < 2 * i + 2)
        for ratio in (1.0, 1.26, 1.5):
            for k in range(1, 8):
                out[seg] += np.sin(2 * np.pi * root * ratio * k * t[seg]) / k
    return (0.08 * out).astype(np.float32)


def spec_of(x: np.ndarray) -> np.ndarray:
    return log_spectrogram(x, SR, FeatureConfig())


def test_harmonic_share_separates_drums_from_a_band():
    fc = FeatureConfig()
    alone = harmonic_share(spec_of(drums()), fc)
    mixed = harmonic_share(spec_of(drums() + band()), fc)
    assert alone is not None and mixed is not None
    assert alone < DRUMS_BELOW < MIX_ABOVE < mixed
    # too short or silent to tell: unknown, which counts as a mix
    assert harmonic_share(spec_of(drums(0.2)), fc) is None
    assert harmonic_share(spec_of(np.zeros(SR * 2, np.float32)), fc) is None
    assert drums_only_weight(None) == 0.0


def test_drums_only_weight_is_clamped_and_linear_between_the_limits():
    assert drums_only_weight(0.0) == 1.0 and drums_only_weight(DRUMS_BELOW) == 1.0
    assert drums_only_weight(MIX_ABOVE) == 0.0 and drums_only_weight(1.0) == 0.0
    assert drums_only_weight((DRUMS_BELOW + MIX_ABOVE) / 2) == pytest.approx(0.5)


def test_kind_thresholds():
    fc = FeatureConfig()
    spec = spec_of(drums())
    th, info = kind_thresholds(spec, fc, MIX_TH, DRUMS_TH, "auto")
    assert th.tolist() == pytest.approx(DRUMS_TH) and info["drums_only_weight"] == 1.0
    th, info = kind_thresholds(spec, fc, MIX_TH, DRUMS_TH, "mix")
    assert th.tolist() == pytest.approx(MIX_TH) and "harmonic_share" not in info
    th, _ = kind_thresholds(spec_of(drums() + band()), fc, MIX_TH, DRUMS_TH, "auto")
    assert th.tolist() == pytest.approx(MIX_TH)
    # a card without drum-only thresholds: every kind gets the card's thresholds
    for kind in ("auto", "mix", "drums"):
        th, info = kind_thresholds(spec, fc, MIX_TH, None, kind)
        assert th.tolist() == pytest.approx(MIX_TH)
        assert "one threshold set" in info["note"] and "harmonic_share" not in info  # nothing measured
    with pytest.raises(ConfigError, match="input kind"):
        kind_thresholds(spec, fc, MIX_TH, DRUMS_TH, "stem")


@pytest.fixture(scope="module")
def model_with_kinds(tmp_path_factory) -> Path:
    import torch

    params = {"num_blocks": 1, "num_layers": 1, "hidden_size": 8}
    torch.manual_seed(0)
    net = build_model("cnn", **params)
    card = make_card("cnn", params, FeatureConfig().to_dict(), mean=0.2, std=0.3, thresholds=MIX_TH)
    card["thresholds_drums_only"] = DRUMS_TH
    return save_model(net, card, tmp_path_factory.mktemp("kinds") / "model")


def test_transcribe_uses_the_thresholds_of_the_input_kind(model_with_kinds, tmp_path):
    x = drums()
    tr = transcribe(x, sample_rate=SR, model=model_with_kinds)
    assert tr.thresholds == pytest.approx(DRUMS_TH)
    assert tr.settings["input_kind"]["requested"] == "auto"
    assert tr.settings["input_kind"]["drums_only_weight"] == 1.0
    forced = transcribe(x, sample_rate=SR, model=model_with_kinds, input_kind="mix")
    assert forced.thresholds == pytest.approx(MIX_TH)
    # a mapping replaces some classes of the kind's thresholds; repick(None) returns to the kind's
    some = transcribe(x, sample_rate=SR, model=model_with_kinds, threshold={"snare": 0.9, 0: 0.45})
    assert some.thresholds == pytest.approx([0.45, 0.9, *DRUMS_TH[2:]])
    assert some.repick().thresholds == pytest.approx(DRUMS_TH)
    with pytest.raises(ConfigError, match="unknown class"):
        transcribe(x, sample_rate=SR, model=model_with_kinds, threshold={"cowbell": 0.5})
    with pytest.raises(ConfigError, match="input kind"):
        transcribe(x, sample_rate=SR, model=model_with_kinds, input_kind="stems")
    # the CLI agrees with the API and records what it decided in the JSON
    wav = write_audio(tmp_path / "kit.wav", x)
    out = tmp_path / "out"
    base = ["transcribe", str(wav), "-o", str(out), "-m", str(model_with_kinds), "-f", "json", "--overwrite"]
    assert main([*base, "--threshold", "snare=0.9"]) == 0
    data = json.loads((out / "kit.json").read_text())
    assert data["settings"]["thresholds"] == pytest.approx([DRUMS_TH[0], 0.9, *DRUMS_TH[2:]])
    assert data["settings"]["input_kind"]["drums_only_weight"] == 1.0
    assert main([*base, "--input-kind", "mix"]) == 0
    data = json.loads((out / "kit.json").read_text())
    assert data["settings"]["thresholds"] == pytest.approx(MIX_TH)


def test_bad_drum_only_thresholds_in_a_card_are_refused(model_with_kinds, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for f in model_with_kinds.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    card = json.loads((folder / CARD_NAME).read_text())
    card["thresholds_drums_only"] = [0.5, 0.5]
    (folder / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="thresholds_drums_only"):
        load_model(folder)


@pytest.mark.skipif(not (MDB_DEV / "mix").is_dir(), reason="needs ../shared/data/mdb-dev")
def test_real_drum_tracks_and_mixes_fall_on_their_sides_of_the_limits():
    """The five MDB Drums tracks (validation data): each drum-only stem is told as drums, each mix as a mix."""
    from drumscribe.audio import load_audio

    fc = FeatureConfig()
    for track in sorted(p.stem for p in (MDB_DEV / "annotations").glob("*.txt")):
        shares = {}
        for cond in ("drums", "mix"):
            x, sr = load_audio(MDB_DEV / cond / f"{track}.flac", fc.sample_rate_hz)
            shares[cond] = harmonic_share(log_spectrogram(x, sr, fc), fc)
        assert shares["drums"] < DRUMS_BELOW, (track, shares)
        assert shares["mix"] > MIX_ABOVE, (track, shares)


@pytest.mark.parametrize("size,axis", [(31, 0), (9, 1), (3, 0)])
def test_median_along_equals_scipy_median_filter(size, axis):
    from scipy.ndimage import median_filter

    from drumscribe.transcribe.inputkind import median_along

    x = np.random.default_rng(size).gamma(1.0, size=(60, 20)).astype(np.float32)
    shape = (size, 1) if axis == 0 else (1, size)
    np.testing.assert_array_equal(median_along(x, size, axis), median_filter(x, size=shape, mode="nearest"))
