"""The strummed acoustic guitar layer (drumscribe.synth.strums): file names, patterns, rendering, mixing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from drumscribe.errors import ConfigError
from drumscribe.synth import strums
from drumscribe.synth.strums import (
    PATTERNS,
    add_strums,
    choose_sample,
    find_strum_samples,
    parse_strum_name,
    render_strums,
    require_strum_samples,
    strum_times,
)

SR = 44100


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Amajor_00.flac", (9, "major", "any", 0)),
        ("Amajor_DOWN_03.flac", (9, "major", "down", 3)),
        ("Cmajor_Down_01.flac", (0, "major", "down", 1)),
        ("Asharp minro7b5_UP_02.flac", (10, "minor7b5", "up", 2)),
        ("Bflat major_00.flac", (10, "major", "any", 0)),
        ("Csharp minor_01.flac", (1, "minor", "any", 1)),
        ("drumkit.xml", None),
        ("Hmajor_00.flac", None),
    ],
)
def test_strum_file_names_tell_chord_direction_and_take(name, expected):
    assert parse_strum_name(name) == expected


def fake_strum_kit(folder, roots=("C", "A"), seconds=0.8):
    """A strum folder in the real kit's naming: a decaying noise burst per chord, direction and take."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = int(seconds * 48000)
    for root in roots:
        for quality in ("major", "minor"):
            for d in ("", "_DOWN", "_UP"):
                x = rng.standard_normal(n) * np.exp(-np.arange(n) / 6000.0) * 0.3
                sf.write(folder / f"{root}{quality}{d}_00.flac", np.stack([x, x], 1), 48000)
    (folder / "drumkit.xml").write_text("<drumkit_info/>")
    return folder


def test_strums_follow_the_chords_on_the_beat_grid(tmp_path):
    samples = find_strum_samples([fake_strum_kit(tmp_path / "kit")])
    assert len(samples) == 12 and {s.direction for s in samples} == {"any", "down", "up"}
    rng = np.random.default_rng(1)
    pick = choose_sample(samples, 9, "m7", "up", rng)
    assert (pick.root, pick.shape, pick.direction) == (9, "minor", "up")
    assert choose_sample(samples, 9, "m7b5", "down", rng).root == 9  # no such shape: that root
    assert choose_sample(samples, 4, "maj", "down", rng) in samples  # no such root: any
    beats = np.arange(0, 4.01, 0.5)  # 120 BPM
    t = strum_times(beats, "eighths", 4.0)
    assert len(t) == 16 and [d for _, d, _ in t[:4]] == ["down", "up", "down", "up"]
    assert np.allclose([x for x, _, _ in t[:3]], [0, 0.25, 0.5]) and t[0][2] and not t[1][2]
    assert [d for _, d, _ in strum_times(beats, "offbeat", 4.0)][:2] == ["up", "up"]
    assert strum_times(beats[:1], "eighths", 4.0) == []
    chords = [[0.0, 2.0, 0, "maj"], [2.0, 4.0, 9, "min"]]
    n = 4 * SR
    audio, rec = render_strums(samples, chords, beats, np.random.default_rng(2), SR, n)
    assert audio.shape == (n,) and audio.dtype == np.float32 and rec["pattern"] in PATTERNS
    assert rec["strums"] == len([x for x in strum_times(beats, rec["pattern"], 4.0) if x[0] < 4.0])
    # sound starts at the first strum and each strum's attack stands out of the ringing before it
    first = strum_times(beats, rec["pattern"], 4.0)[0][0]
    assert np.abs(audio[: int(first * SR)]).max() == 0 and np.abs(audio).max() > 0.1
    # same seed, same strums
    again, _ = render_strums(samples, chords, beats, np.random.default_rng(2), SR, n)
    np.testing.assert_array_equal(audio, again)


def test_add_strums_joins_the_band_or_replaces_it(tmp_path):
    samples = find_strum_samples([fake_strum_kit(tmp_path / "kit")])
    beats = np.arange(0, 3.01, 0.5)
    chords = [[0.0, 3.0, 0, "maj"]]
    band = (np.sin(np.arange(3 * SR) * 2 * np.pi * 110 / SR) * 0.1).astype(np.float32)
    seen = set()
    for seed in range(12):
        mixed, rec = add_strums(band, samples, chords, beats, np.random.default_rng(seed), 3 * SR)
        assert mixed.shape == band.shape and np.isfinite(mixed).all()
        seen.add(rec["alone"])
        if not rec["alone"]:
            assert -8 <= rec["level_db"] <= 4 and not np.allclose(mixed, band)
    assert seen == {True, False}
    # no chord in the track: the band stays as it is
    same, rec = add_strums(band, samples, [], beats, np.random.default_rng(0), 3 * SR)
    np.testing.assert_array_equal(same, band)
    assert rec["silent"]


def test_missing_strum_recordings_name_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(strums, "STRUM_DIRS", (str(tmp_path / "nowhere"),))
    with pytest.raises(ConfigError, match="hydrogen-drumkits-effects"):
        require_strum_samples()
    assert find_strum_samples() == []


def test_renders_never_play_the_held_out_take(tmp_path):
    from drumscribe.synth.strums import HELDOUT_TAKE, split_takes

    folder = fake_strum_kit(tmp_path / "kit")
    (folder / f"Cmajor_DOWN_0{HELDOUT_TAKE}.flac").write_bytes((folder / "Cmajor_DOWN_00.flac").read_bytes())
    (folder / "Cminor_DOWN_02wav.flac").write_bytes((folder / "Cmajor_DOWN_00.flac").read_bytes())
    train, held = split_takes(find_strum_samples([folder]))
    assert [s.take for s in held] == [HELDOUT_TAKE] and all(s.take != HELDOUT_TAKE for s in train)
    assert any(s.path.name == "Cminor_DOWN_02wav.flac" for s in train)  # a stray "wav" in a real file name


def test_band_false_hits_plays_held_out_strums_in_every_pattern(tmp_path, monkeypatch):
    """benchmarks/band_false_hits.py: the strums source plays only the held-out take, one pattern per
    track in turn, along the chords of the synthetic band of the same index, at -16 dBFS."""
    import sys
    from pathlib import Path

    from drumscribe.synth.accompaniment import find_gm_soundfonts
    from drumscribe.synth.mixing import rms
    from drumscribe.synth.strums import HELDOUT_TAKE

    if not find_gm_soundfonts():
        pytest.skip("no General MIDI soundfont installed")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from band_false_hits import synthetic_bands

    folder = fake_strum_kit(tmp_path / "kit")
    for f in list(folder.glob("*_00.flac")):  # the held-out take, louder so it can be told apart
        x, sr = sf.read(f)
        sf.write(f.with_name(f.name.replace("_00.", f"_0{HELDOUT_TAKE}.")), x * 2, sr)
    monkeypatch.setattr(strums, "STRUM_DIRS", (str(folder),))
    played = []
    real_load = strums._load.__wrapped__
    monkeypatch.setattr(strums, "_load", lambda path, sr: played.append(path.name) or real_load(path, sr))
    out: list = []
    bands = synthetic_bands(2, 4.0, strums=out)
    assert [name for name, _ in out] == ["strums-quarters-0", "strums-eighths-1"]
    assert [len(a) for _, a in out] == [len(a) for _, a in bands]
    assert played and all(name.endswith(f"_0{HELDOUT_TAKE}.flac") for name in played)
    for _, audio in out:
        assert 20 * np.log10(rms(audio)) == pytest.approx(-16.0, abs=0.5)


def test_cards_credit_the_strums_only_when_a_render_played_them():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from ship_default import CREDITS, credits_for

    from drumscribe.synth.strums import STRUM_CREDIT

    assert credits_for([{"strums_share": 0.0}, {}]) == CREDITS
    with_strums = credits_for([{"strums_share": 0.0}, {"strums_share": 0.6}])
    assert with_strums["accompaniment_strums"] == STRUM_CREDIT and "CC BY 3.0" in STRUM_CREDIT
    assert set(with_strums) - set(CREDITS) == {"accompaniment_strums"}
