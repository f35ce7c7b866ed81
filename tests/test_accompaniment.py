"""Accompaniment: soundfont discovery, arrangement rules (no drums, bass on the kick) and rendered harmony."""

from __future__ import annotations

import numpy as np
import pytest

from drumscribe.errors import ConfigError
from drumscribe.synth.accompaniment import (
    CH_BASS,
    DRUM_CHANNEL,
    PERCUSSIVE_PROGRAMS,
    _backbeat_clicks,
    _click_noise,
    _comp_bar,
    _consonant_noise,
    _guitar_bar,
    _melody_bar,
    find_gm_soundfonts,
    high_shelf,
    plan_accompaniment,
    render_accompaniment,
    render_arrangement,
)
from drumscribe.synth.grooves import STYLES, generate_performance
from drumscribe.synth.performance import Performance

SOUNDFONTS = find_gm_soundfonts()
needs_sf = pytest.mark.skipif(not SOUNDFONTS, reason="no General MIDI soundfont installed")
SR = 22050


def test_find_gm_soundfonts_lists_real_gm_files_once():
    names = [p.name.lower() for p in SOUNDFONTS]
    assert len(names) == len(set(names))
    for p in SOUNDFONTS:
        assert p.is_file() and p.suffix.lower() in (".sf2", ".sf3")
        assert "lv2" not in p.name.lower()  # AVL drum kits are not GM sets
    cost = [(p.suffix.lower() == ".sf3", p.stat().st_size) for p in SOUNDFONTS]
    assert cost == sorted(cost)  # quickest to load first


@pytest.mark.parametrize("style", sorted(STYLES))
def test_plan_uses_no_drums_and_stays_in_time(style):
    perf = generate_performance(np.random.default_rng(21), 16.0, style=style)
    arr = plan_accompaniment(perf, np.random.default_rng(5))
    assert arr.notes, style
    assert all(n.channel != DRUM_CHANNEL for n in arr.notes)
    assert DRUM_CHANNEL not in arr.programs
    assert not set(arr.programs.values()) & PERCUSSIVE_PROGRAMS
    assert all(0 <= n.start_s < perf.duration_s and n.end_s > n.start_s for n in arr.notes)
    assert all(0 <= n.key <= 127 and 1 <= n.velocity <= 127 for n in arr.notes)
    # a key is released before it is struck again on the same channel
    last_end: dict[tuple[int, int], float] = {}
    for n in sorted(arr.notes, key=lambda n: n.start_s):
        assert n.start_s >= last_end.get((n.channel, n.key), -1.0)
        last_end[(n.channel, n.key)] = n.end_s
    # one chord per bar, starting on the performance's downbeats
    starts = np.array([c.start_s for c in arr.chords])
    for d in perf.downbeats_s:
        assert np.min(np.abs(starts - d)) < 1e-9


def test_bass_plays_on_the_kick():
    hits = total = 0
    for seed in range(6):
        perf = generate_performance(np.random.default_rng(seed), 20.0, style="rock", tempo_bpm=110.0)
        arr = plan_accompaniment(perf, np.random.default_rng(seed))
        bass = np.array([n.start_s for n in arr.notes if n.channel == CH_BASS])
        if len(bass) == 0:
            continue
        kicks = perf.class_onsets()[0]
        beat = 60.0 / 110.0
        prev = -10.0
        for k in kicks:
            if k - prev < beat / 2:  # runs of kicks are thinned to one bass note per eighth
                continue
            prev = k
            bar = perf.downbeats_s[np.searchsorted(perf.downbeats_s, k + 0.03, side="right") - 1]
            in_bar = bass[(bass >= bar - 0.05) & (bass < bar + 4 * beat)]
            if len(in_bar) == 0:  # bass tacet in this section
                continue
            total += 1
            hits += np.min(np.abs(in_bar - k)) < 0.002
    assert total > 50
    assert hits / total > 0.9


@pytest.mark.parametrize("mode, per_beat", [("pedal", 2), ("quarters", 1), ("octaves", 2), ("walking", 1)])
def test_free_bass_lines_play_their_grid_whatever_the_kick(mode, per_beat):
    """bass_mode replaces the kick-locked bass: notes on every beat (or eighth) of a bar the bass plays in,
    with or without a kick there, so many low note starts have no kick under them."""
    perf = generate_performance(np.random.default_rng(3), 24.0, style="rock", tempo_bpm=110.0)
    arr = plan_accompaniment(perf, np.random.default_rng(3), bass_mode=mode)
    bass = np.array(sorted(n.start_s for n in arr.notes if n.channel == CH_BASS))
    assert len(bass) > 0
    beat = 60.0 / 110.0
    steps = np.diff(bass)
    assert np.median(steps) == pytest.approx(beat / per_beat, rel=0.05)
    assert not any(n.locked for n in arr.notes if n.channel == CH_BASS)
    kicks = perf.class_onsets()[0]
    off_kick = np.mean([np.min(np.abs(kicks - t)) > 0.03 for t in bass])
    assert off_kick > 0.3
    with pytest.raises(ConfigError, match="bass_mode"):
        plan_accompaniment(perf, np.random.default_rng(3), bass_mode="slap")


def test_breaks_drop_instruments_out():
    perf = Performance(
        times_s=np.arange(0, 12, 0.5),
        pieces=["kick", "snare"] * 12,
        velocities=[100] * 24,
        duration_s=12.0,
        tempo_bpm=120.0,
        beats_s=np.arange(0, 12, 0.5),
        downbeats_s=np.arange(0, 12, 2.0),
        meta={"style": "pop", "sections": [
            {"name": "verse", "start_s": 0.0, "end_s": 4.0, "intensity": 0.5},
            {"name": "break", "start_s": 4.0, "end_s": 8.0, "intensity": 0.3, "break_mode": "solo"},
            {"name": "chorus", "start_s": 8.0, "end_s": 12.0, "intensity": 0.9},
        ]},
    )  # fmt: skip
    for seed in range(5):
        arr = plan_accompaniment(perf, np.random.default_rng(seed))
        # (notes may be humanised by a few ms around the section borders)
        assert not [n for n in arr.notes if 4.03 <= n.start_s < 7.97]
        assert [n for n in arr.notes if n.start_s < 4.0] and [n for n in arr.notes if n.start_s >= 8.0]


def _chroma_fraction(audio: np.ndarray, sr: int, start: float, end: float, pcs: list[int]) -> float:
    """Share of 60-2000 Hz spectral energy in [start, end) that falls on the pitch classes ``pcs``."""
    seg = audio[int(start * sr) : int(end * sr)].astype(np.float64)
    n = 4096
    frames = [seg[i : i + n] * np.hanning(n) for i in range(0, len(seg) - n, n // 2)]
    power = np.sum([np.abs(np.fft.rfft(f)) ** 2 for f in frames], axis=0)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    band = (freqs > 60) & (freqs < 2000)
    pc = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    energy = np.bincount(pc, weights=power[band], minlength=12)
    return float(energy[pcs].sum() / energy.sum())


@needs_sf
def test_rendered_harmony_follows_the_chords():
    perf = generate_performance(
        np.random.default_rng(8), 16.0, style="pop", tempo_bpm=100.0, tempo_change=False
    )
    rng = np.random.default_rng(3)
    arr = plan_accompaniment(perf, rng)
    audio = render_arrangement(arr, SR, SOUNDFONTS[0])
    right, wrong = [], []
    for c in arr.chords:
        if c.end_s - c.start_s < 1.0 or not [n for n in arr.notes if c.start_s <= n.start_s < c.end_s]:
            continue
        right.append(_chroma_fraction(audio, SR, c.start_s, c.end_s, c.pitch_classes))
        wrong.append(_chroma_fraction(audio, SR, c.start_s, c.end_s, [(p + 6) % 12 for p in c.pitch_classes]))
    assert len(right) >= 4
    # chord tones hold most of the energy; the same chord a tritone away holds little
    assert np.mean(right) > 0.55
    assert np.mean(right) > np.mean(wrong) + 0.3


@needs_sf
def test_a_loud_bass_lifts_the_low_end_of_the_bass_alone():
    """``bass_shelf`` renders the bass in a pass of its own and lifts its lows: the band's 30-90 Hz energy rises
    by about the shelf's gain, while the same arrangement without it renders as before."""
    perf = generate_performance(
        np.random.default_rng(6), 8.0, style="rock", tempo_bpm=110.0, tempo_change=False
    )
    arr = plan_accompaniment(perf, np.random.default_rng(2))
    assert any(n.channel == CH_BASS for n in arr.notes)
    plain = render_arrangement(arr, SR, SOUNDFONTS[0])
    np.testing.assert_array_equal(render_arrangement(arr, SR, SOUNDFONTS[0], None), plain)
    loud = render_arrangement(arr, SR, SOUNDFONTS[0], {"gain_db": 12.0, "corner_hz": 100.0})

    def low_to_mid_db(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / SR)
        return 10 * np.log10(spec[(f >= 30) & (f < 90)].sum() / spec[(f >= 500) & (f < 4000)].sum())

    # both are normalised to the same RMS: the lows rise against the mids by most of the 12 dB
    assert low_to_mid_db(loud) - low_to_mid_db(plain) > 6.0
    assert loud.shape == plain.shape and np.abs(loud).max() <= 0.99


@needs_sf
def test_render_is_deterministic_non_silent_and_sized():
    perf = generate_performance(np.random.default_rng(4), 6.0, style="funk")
    a = render_accompaniment(perf, np.random.default_rng(9), SR, SOUNDFONTS[:1])
    c = render_accompaniment(perf, np.random.default_rng(10), SR, SOUNDFONTS[:1])
    # the synthesiser is cached: nothing of the previous render may leak into the next one
    b = render_accompaniment(perf, np.random.default_rng(9), SR, SOUNDFONTS[:1])
    assert a.dtype == np.float32 and a.shape == (round(6.0 * SR),)
    assert np.all(np.isfinite(a)) and np.abs(a).max() <= 1.0
    assert float(np.sqrt(np.mean(a**2))) > 0.01
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_render_without_soundfont_says_what_to_install():
    perf = generate_performance(np.random.default_rng(0), 2.0)
    with pytest.raises(ConfigError, match="apt-get install"):
        render_accompaniment(perf, np.random.default_rng(0), SR, [])


def test_high_shelf_response_matches_its_specification():
    from scipy.signal import freqz

    sr = 44100
    impulse = np.zeros(8192)
    impulse[0] = 1.0
    h = high_shelf(impulse, sr, 4000.0, 12.0)
    w, resp = freqz(h, worN=[50.0, 4000.0, 18000.0], fs=sr)
    db = 20 * np.log10(np.abs(resp))
    assert db[0] == pytest.approx(0.0, abs=0.1)  # low frequencies pass unchanged
    assert db[2] == pytest.approx(12.0, abs=0.5)  # the shelf's full gain well above the corner
    assert db[1] == pytest.approx(6.0, abs=1.0)  # half the gain (in dB) at the corner


def test_voice_leads_get_consonants_in_the_band_above_3_khz():
    perf = generate_performance(np.random.default_rng(2), 12.0, style="pop")
    arr = plan_accompaniment(perf, np.random.default_rng(0))
    arr.notes, arr.programs, arr.shelf_db = [], {}, 0.0
    arr.consonants = [(1.0, 0.15, -10.0), (3.0, 0.02, -10.0)]
    # no notes: render the consonants alone against a reference level
    noise = _consonant_noise(arr, SR, 12 * SR, 0.1)
    assert np.all(noise[: SR - 10] == 0) and np.any(noise[SR : SR + 100] != 0)
    seg = noise[SR : int(1.15 * SR)]
    assert float(np.sqrt(np.mean(seg**2))) == pytest.approx(0.1 * 10 ** (-10 / 20), rel=0.05)
    spec = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(len(noise), 1 / SR)
    assert spec[(f > 3000) & (f < 11000)].sum() / spec.sum() > 0.9


def test_backbeat_clicks_sit_on_beats_2_and_4_and_render_at_their_level():
    rng = np.random.default_rng(3)
    bars = np.arange(0.0, 8.0, 2.0)  # 4/4 at 120 BPM: beats every 0.5 s
    clicks = _backbeat_clicks(rng, bars, bars + 2.0, 4, [0, 1, 2, 3])
    assert 4 <= len(clicks) <= 8
    phase = np.array([c[0] for c in clicks]) % 2.0
    assert np.all(np.minimum(np.abs(phase - 0.5), np.abs(phase - 1.5)) < 0.03)  # beats 2 and 4 only
    assert len({c[3] for c in clicks}) == 1  # one sound per track
    perf = generate_performance(np.random.default_rng(2), 12.0, style="rock")
    arr = plan_accompaniment(perf, np.random.default_rng(0))
    arr.clicks = [(1.0, 0.03, -10.0, 2000.0)]
    noise = _click_noise(arr.clicks, arr.noise_seed + 1, SR, 12 * SR, 0.1)
    assert np.all(noise[: SR - 1] == 0) and np.all(noise[int(1.2 * SR) :] == 0)
    head = noise[SR : SR + int(0.03 * SR)]
    assert float(np.sqrt(np.mean(head**2))) == pytest.approx(0.1 * 10 ** (-10 / 20), rel=0.05)
    spec = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(len(noise), 1 / SR)
    assert spec[(f > 700) & (f < 5000)].sum() / spec.sum() > 0.8
    # the arrangement draws them for a share of tracks, only in bars where bass or guitar plays
    with_clicks = 0
    for seed in range(24):
        arr = plan_accompaniment(perf, np.random.default_rng(seed))
        with_clicks += bool(arr.clicks)
        assert all(0.0 <= c[0] < perf.duration_s for c in arr.clicks)
    assert 1 <= with_clicks <= 16


def test_backbeat_comping_and_guitar_chops_play_on_2_and_4():
    rng = np.random.default_rng(0)
    keys = _comp_bar(rng, "backbeat", 1, [60, 64, 67], 0.0, 0.5, 4, 1.0)
    assert sorted({round(n.start_s / 0.5) for n in keys}) == [1, 3]
    chops = _guitar_bar(rng, "chop", [52, 59, 64], 0.0, 2.0, 0.5, 4, np.zeros(0), 1.0)
    assert sorted({round(n.start_s / 0.5) for n in chops}) == [1, 3]
    assert all(n.end_s - n.start_s <= 0.13 for n in chops)
    chugs = _guitar_bar(rng, "chug16", [40, 47, 52], 0.0, 2.0, 0.5, 4, np.zeros(0), 1.0)
    steps = {round(n.start_s / 0.125) for n in chugs}
    assert {0, 4, 8, 12} <= steps <= set(range(16)) and len(steps) >= 8  # every beat, most sixteenths
    gallop = _guitar_bar(rng, "gallop", [40, 47, 52], 0.0, 2.0, 0.5, 4, np.zeros(0), 1.0)
    assert sorted({round(n.start_s / 0.125) for n in gallop}) == [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15]


def test_guitar_leads_play_fast_licks_and_voices_do_not():
    from drumscribe.synth.accompaniment import Chord

    chord = Chord(0.0, 2.0, 0, "maj")

    def notes_per_bar(program: int) -> list[int]:
        rng, state = np.random.default_rng(4), {"pitch": 67}
        return [len(_melody_bar(rng, chord, 0, "major", 0.0, 0.5, 4, 1.0, state, program)) for _ in range(40)]

    guitar, voice = notes_per_bar(30), notes_per_bar(52)
    assert max(voice) <= 5 and sum(n >= 8 for n in guitar) >= 15
    rng = np.random.default_rng(0)
    lick = max(
        (_melody_bar(rng, chord, 0, "major", 0.0, 0.5, 4, 1.0, {"pitch": 67}, 29) for _ in range(20)), key=len
    )
    assert min(np.diff(sorted(n.start_s for n in lick))) <= 0.125 + 1e-9  # sixteenths at 120 BPM


def test_no_genre_offers_a_percussive_program():
    from drumscribe.synth.accompaniment import GENRES

    for name, g in GENRES.items():
        offered = {*g.bass_programs, *g.keys_programs, *g.guitar_programs, *g.lead_programs, *g.pad_programs}
        assert not offered & PERCUSSIVE_PROGRAMS, name
        assert all(0 <= p < 128 for p in offered)


@pytest.mark.skipif(len(SOUNDFONTS) < 2, reason="needs two General MIDI soundfonts")
def test_two_soundfont_render_is_deterministic_whatever_was_rendered_before():
    perf = generate_performance(np.random.default_rng(6), 5.0, style="rock")
    arr = plan_accompaniment(perf, np.random.default_rng(1))
    chans = sorted(arr.programs)
    mapping = {c: SOUNDFONTS[i % 2] for i, c in enumerate(chans)}
    a = render_arrangement(arr, SR, mapping)
    render_arrangement(arr, SR, SOUNDFONTS[1])  # something else in between
    b = render_arrangement(arr, SR, mapping)
    np.testing.assert_array_equal(a, b)
    single = render_arrangement(arr, SR, SOUNDFONTS[0])
    assert not np.array_equal(a, single)  # the second soundfont is audible
    with pytest.raises(ConfigError, match="at most two"):
        render_arrangement(
            arr, SR, {c: f"/x{c}.sf2" for c in chans[:3]} if len(chans) >= 3 else {0: "/a", 1: "/b", 2: "/c"}
        )


@needs_sf
def test_notes_sound_at_their_scheduled_sample():
    from drumscribe.synth.accompaniment import Arrangement, Note

    for onset in (0.5, 1.2345):
        arr = Arrangement(
            duration_s=2.0,
            notes=[Note(onset, onset + 0.3, CH_BASS, 40, 110)],
            programs={CH_BASS: 33},
            channel_volumes={CH_BASS: 120},
            chords=[],
            key=0,
            mode="major",
            genre="rock",
        )
        audio = render_arrangement(arr, SR, SOUNDFONTS[0])
        first = int(np.flatnonzero(np.abs(audio) > 1e-3 * np.abs(audio).max())[0])
        assert round(onset * SR) <= first <= round(onset * SR) + int(0.005 * SR)


@needs_sf
def test_tuning_offset_moves_the_pitch():
    from drumscribe.synth.accompaniment import Arrangement, Note

    def peak_hz(tuning: float) -> float:
        arr = Arrangement(2.0, [Note(0.1, 1.9, 3, 69, 100)], {3: 89}, {3: 110}, [], 0, "major", "pop")
        arr.tuning_semitones = tuning
        audio = render_arrangement(arr, SR, SOUNDFONTS[0])[int(0.5 * SR) : int(1.5 * SR)]
        spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        freqs = np.fft.rfftfreq(len(audio), 1 / SR)
        band = (freqs > 300) & (freqs < 600)
        return float(freqs[band][np.argmax(spec[band])])

    assert peak_hz(0.0) == pytest.approx(440.0, abs=3.0)
    assert peak_hz(1.0) == pytest.approx(440.0 * 2 ** (1 / 12), abs=3.0)


def test_overdrive_adds_harmonics_keeps_level_and_cuts_above_the_cabinet():
    from drumscribe.synth.accompaniment import overdrive

    sr = 44100
    t = np.arange(sr) / sr
    x = 0.1 * np.sin(2 * np.pi * 220.0 * t)
    y = overdrive(x, sr, 24.0, 5000.0)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=1e-6)
    spec = np.abs(np.fft.rfft(y * np.hanning(sr)))
    f = np.fft.rfftfreq(sr, 1 / sr)

    def at(hz: float) -> float:
        return float(spec[np.argmin(np.abs(f - hz))])

    assert at(660.0) > 0.1 * at(220.0)  # tanh clipping: strong odd harmonics
    assert at(660.0) > 1e3 * at(440.0) or at(440.0) < 1e-6 * at(220.0)  # a symmetric clipper: no even ones
    assert spec[f > 12000].sum() < 1e-3 * spec.sum()  # the cabinet removes the fizz


@needs_sf
def test_distorted_guitar_brightens_the_render():
    perf = generate_performance(np.random.default_rng(1), 10.0, style="metal", tempo_bpm=120.0)
    arr = plan_accompaniment(perf, np.random.default_rng(3))
    arr.notes = [n for n in arr.notes if n.channel == 2]  # the guitar alone
    if not arr.notes:
        pytest.skip("no guitar in this arrangement")
    arr.shelf_db, arr.consonants = 0.0, []

    def share_above_2k(drive: float) -> float:
        arr.guitar_drive_db = drive
        a = render_arrangement(arr, SR, SOUNDFONTS[0])
        spec = np.abs(np.fft.rfft(a)) ** 2
        f = np.fft.rfftfreq(len(a), 1 / SR)
        return float(spec[f > 2000].sum() / spec.sum())

    assert share_above_2k(24.0) > 1.4 * share_above_2k(0.0)


def test_pick_attacks_sit_on_guitar_note_onsets_once_per_strum():
    from drumscribe.synth.accompaniment import CH_BASS, CH_GUITAR, PICK_ATTACK_DB, Note, _pick_attacks

    notes = [
        Note(t + 0.01 * k, t + 0.2, CH_GUITAR, 52 + 5 * k, 100) for t in (0.5, 1.0, 1.5) for k in range(3)
    ]
    notes += [
        Note(0.75, 0.9, CH_BASS, 40, 100),
        Note(2.5, 2.6, CH_GUITAR, 60, 100),
    ]  # the last: after the end
    picks = []
    for seed in range(20):
        picks = _pick_attacks(np.random.default_rng(seed), notes, 2.0)
        times = [p[0] for p in picks]
        assert {0.5, 1.0, 1.5} <= set(times) <= {0.5, 0.75, 1.0, 1.5}  # one per strum, bass in some tracks
        guitar = [p for p in picks if p[0] != 0.75]
        assert len({p[3] for p in guitar}) == 1  # one guitar sound per track
        assert all(PICK_ATTACK_DB[0] - 10 < p[2] < PICK_ATTACK_DB[1] + 10 for p in picks)
    # rendered as band-passed bursts, and drawn for a share of tracks only
    perf = generate_performance(np.random.default_rng(2), 12.0, style="rock")
    with_picks = sum(bool(plan_accompaniment(perf, np.random.default_rng(s)).picks) for s in range(24))
    assert 2 <= with_picks <= 20
    noise = _click_noise(picks, 7, SR, 3 * SR, 0.1)
    assert np.all(noise[: SR // 2 - 1] == 0) and np.any(noise[SR // 2 : SR // 2 + 50] != 0)
