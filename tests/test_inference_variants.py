"""benchmarks/inference_variants.py: the variant parser and the percussive-emphasis transform."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from inference_variants import DEFAULT_VARIANTS, parse_variants, percussive_features  # noqa: E402

from drumscribe.features import FeatureConfig, band_frequencies, log_spectrogram  # noqa: E402

SR = 44100


def test_parse_variants_keeps_default_first_and_rejects_bad_specs():
    parsed = parse_variants(list(DEFAULT_VARIANTS))
    assert list(parsed)[0] == "default" and len(parsed) == 6
    assert parsed["window4"] == ("window", ["4", "1"])
    assert parsed["default+window4"] == ("mean", ["default", "window4"])
    other = parse_variants(["r=model:work/run:x/best", "e=mean:default+r"])
    assert other["r"] == ("model", ["work/run:x/best"]) and other["e"] == ("mean", ["default", "r"])
    for bad in (
        "noequals",
        "x=window:4",
        "x=percussive:a",
        "x=mean:default+later",
        "x=other:1",
        "x=model:",
        "default=window:4:1",
    ):
        with pytest.raises(ValueError):
            parse_variants([bad])


def test_percussive_features_remove_a_held_tone_keep_clicks_and_the_top():
    config = FeatureConfig()
    t = np.arange(int(3.0 * SR)) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    clicks = np.zeros_like(t)
    clicks[:: SR // 4] = 1.0  # four broadband clicks a second
    spec = log_spectrogram((tone + clicks).astype(np.float32), SR, config)
    out = percussive_features(spec, 3000.0, config, config.log_add)
    freqs = band_frequencies(config)
    tone_band = int(np.argmin(np.abs(freqs - 440.0)))
    between = slice(60, 80)  # frames between the clicks at 0.5 s and 0.75 s
    assert out[between, tone_band].mean() < 0.2 * spec[between, tone_band].mean()  # the held tone is gone
    click_frame = 50  # the click at 0.5 s
    high = freqs >= 3000.0
    np.testing.assert_array_equal(out[:, high], spec[:, high])  # above the split frequency: untouched
    low_click = (freqs > 1000.0) & (freqs < 3000.0)
    assert out[click_frame, low_click].mean() > 0.5 * spec[click_frame, low_click].mean()  # the click stays
