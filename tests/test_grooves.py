"""Performance container and the rule-based groove generator."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from drumscribe.errors import ConfigError
from drumscribe.synth.grooves import MAX_TEMPO_BPM, MIN_TEMPO_BPM, STYLES, generate_performance
from drumscribe.synth.performance import Performance, swap_record
from drumscribe.synth.pieces import PIECE_GM_NOTE


def _perf() -> Performance:
    return Performance(
        times_s=[1.0, 0.0, 0.5, 0.5, 1.5, 2.25],
        pieces=["snare", "kick", "hihat_closed", "kick", "tambourine", "tom_floor"],
        velocities=[100, 90, 60, 80, 70, 200],
        duration_s=3.0,
        tempo_bpm=120.0,
        beats_s=[0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
        downbeats_s=[0.0, 2.0],
        meta={"sections": [{"name": "verse", "start_s": 0.0, "end_s": 2.0}, {"name": "chorus", "start_s": 2.0, "end_s": 3.0}],
              "fills": [[2.0, 2.5]]},
    )  # fmt: skip


def test_performance_sorts_and_clips():
    p = _perf()
    assert np.all(np.diff(p.times_s) >= 0)
    assert p.pieces[0] == "kick" and p.times_s[0] == 0.0
    assert p.velocities.max() == 127 and p.velocities.dtype.kind == "i"
    # stable sort keeps the order of simultaneous hits
    assert p.pieces[1:3] == ["hihat_closed", "kick"]


def test_performance_validation():
    with pytest.raises(ConfigError, match="unknown kit pieces"):
        Performance([0.0], ["gong"], [100], 1.0, 120.0)
    with pytest.raises(ConfigError, match="differ"):
        Performance([0.0, 1.0], ["kick"], [100], 1.0, 120.0)
    with pytest.raises(ConfigError, match="tempo"):
        Performance([0.0], ["kick"], [100], 1.0, 0.0)


def test_class_onsets_follow_the_piece_table():
    on = _perf().class_onsets()
    # kick, snare, toms, hi-hat (tambourine counts as hi-hat), cymbals
    np.testing.assert_allclose(on[0], [0.0, 0.5])
    np.testing.assert_allclose(on[1], [1.0])
    np.testing.assert_allclose(on[2], [2.25])
    np.testing.assert_allclose(on[3], [0.5, 1.5])
    assert len(on[4]) == 0


def test_time_stretch_swap_crop_concatenate():
    p = _perf()
    s = p.time_stretch(2.0)
    np.testing.assert_allclose(s.times_s, p.times_s * 2)
    assert s.tempo_bpm == pytest.approx(60.0) and s.duration_s == pytest.approx(6.0)
    assert s.meta["sections"][1]["start_s"] == pytest.approx(4.0)
    with pytest.raises(ConfigError):
        p.time_stretch(0.0)

    w = p.swap_pieces({"hihat_closed": "ride"})
    assert "ride" in w.pieces and "hihat_closed" not in w.pieces
    np.testing.assert_allclose(w.class_onsets()[4], [0.5])
    assert "hihat_closed" in p.pieces  # the original is unchanged
    assert w.meta["swaps"] == [{"name": None, "map": {"hihat_closed": "ride"}, "span_s": None}]
    with pytest.raises(ConfigError):
        p.swap_pieces({"kick": "gong"})
    # a span: only the hits at a <= t < b change, and the record says where and which swap
    part = p.swap_pieces({"hihat_closed": "ride"}, span_s=(0.6, 10.0), name="hihat_to_ride")
    inside = part.times_s >= 0.6
    assert all(q == "ride" for q, i, o in zip(part.pieces, inside, p.pieces) if i and o == "hihat_closed")
    assert [q for q, i in zip(part.pieces, inside) if not i] == [o for o, i in zip(p.pieces, inside) if not i]
    assert part.meta["swaps"][-1] == {
        "name": "hihat_to_ride",
        "map": {"hihat_closed": "ride"},
        "span_s": [0.6, 10.0],
    }
    # records of older renders read back in today's shape
    assert swap_record({"hihat_closed": "ride"}) == {
        "name": None,
        "map": {"hihat_closed": "ride"},
        "span_s": None,
    }
    old_span = {"map": {"ride": "crash"}, "span_s": [1, 5.5]}
    assert swap_record(old_span) == {"name": None, "map": {"ride": "crash"}, "span_s": [1.0, 5.5]}

    c = p.crop(0.5, 2.0)
    np.testing.assert_allclose(c.times_s, [0.0, 0.0, 0.5, 1.0])
    assert c.duration_s == pytest.approx(1.5)
    np.testing.assert_allclose(c.beats_s, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(c.downbeats_s, [])
    assert c.meta["sections"] == [{"name": "verse", "start_s": 0.0, "end_s": 1.5}]

    j = Performance.concatenate([p, c])
    assert j.duration_s == pytest.approx(4.5)
    assert len(j) == len(p) + len(c)
    np.testing.assert_allclose(j.times_s[len(p) :], c.times_s + 3.0)
    assert j.meta["sections"][-1]["start_s"] == pytest.approx(3.0)


def test_to_midi_round_trip_with_pretty_midi(tmp_path):
    p = generate_performance(np.random.default_rng(3), 8.0, style="rock")
    path = p.to_midi(tmp_path / "p.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert len(pm.instruments) == 1 and pm.instruments[0].is_drum
    notes = sorted(pm.instruments[0].notes, key=lambda n: (n.pitch, n.start))
    expected = sorted(zip([PIECE_GM_NOTE[x] for x in p.pieces], p.times_s, p.velocities))
    assert len(notes) == len(expected)
    for n, (pitch, t, v) in zip(notes, expected):
        assert abs(n.start - t) < 1e-3 and n.pitch == pitch and n.velocity == v


def test_to_dict_round_trip():
    p = generate_performance(np.random.default_rng(1), 5.0)
    q = Performance.from_dict(p.to_dict())
    np.testing.assert_array_equal(p.times_s, q.times_s)
    assert p.pieces == q.pieces and p.meta == q.meta


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_generates_a_valid_performance(style):
    d = 20.0
    p = generate_performance(np.random.default_rng(7), d, style=style)
    assert p.meta["style"] == style
    assert len(p) > 20
    assert p.times_s.min() >= 0.0 and p.times_s.max() < d
    assert MIN_TEMPO_BPM <= p.tempo_bpm <= MAX_TEMPO_BPM
    assert p.velocities.min() >= 1 and p.velocities.max() <= 127
    on = p.class_onsets()
    assert len(on[0]) > 0 and len(on[1]) + len(on[3]) + len(on[4]) > 0
    secs = p.meta["sections"]
    assert secs[0]["start_s"] == 0.0 and secs[-1]["end_s"] == pytest.approx(d)
    assert all(a["end_s"] == pytest.approx(b["start_s"]) for a, b in zip(secs, secs[1:]))


def test_generator_is_deterministic():
    a = generate_performance(np.random.default_rng(11), 15.0)
    b = generate_performance(np.random.default_rng(11), 15.0)
    c = generate_performance(np.random.default_rng(12), 15.0)
    np.testing.assert_array_equal(a.times_s, b.times_s)
    assert a.pieces == b.pieces and np.array_equal(a.velocities, b.velocities)
    assert len(a) != len(c) or not np.array_equal(a.times_s, c.times_s)


def test_beat_grid_matches_tempo_and_bars():
    p = generate_performance(
        np.random.default_rng(5), 20.0, style="rock", tempo_bpm=100.0, tempo_change=False
    )
    np.testing.assert_allclose(np.diff(p.beats_s), 0.6, atol=1e-9)
    np.testing.assert_allclose(p.downbeats_s, p.beats_s[::4])


def test_waltz_has_three_beats_per_bar():
    p = generate_performance(
        np.random.default_rng(3), 20.0, style="waltz", tempo_bpm=150.0, tempo_change=False
    )
    assert p.meta["beats_per_bar"] == 3
    np.testing.assert_allclose(np.diff(p.beats_s), 0.4, atol=1e-9)
    np.testing.assert_allclose(p.downbeats_s, p.beats_s[::3])
    kicks = p.class_onsets()[0]
    # the kick plays on most downbeats
    assert np.mean([np.min(np.abs(kicks - d)) < 0.04 for d in p.downbeats_s]) > 0.7


def test_quantised_hits_lie_on_the_grid_and_humanised_ones_scatter():
    kw = dict(style="rock", tempo_bpm=120.0, tempo_change=False)
    q = generate_performance(np.random.default_rng(2), 20.0, humanize=0.0, **kw)
    step = 60.0 / 120.0 / 4
    rel = (q.times_s - q.meta["lead_in_s"]) / step
    flam = np.zeros(len(q), dtype=bool)
    # flam grace notes are deliberately off the grid; everything else is on it (rock has no swing)
    for i in range(len(q) - 1):
        if q.pieces[i] == q.pieces[i + 1] and 0.01 < q.times_s[i + 1] - q.times_s[i] < 0.04:
            flam[i] = True
    np.testing.assert_allclose(rel[~flam], np.round(rel[~flam]), atol=1e-6)

    h = generate_performance(np.random.default_rng(2), 20.0, humanize=1.0, **kw)
    dev = (h.times_s - h.meta["lead_in_s"]) - np.round((h.times_s - h.meta["lead_in_s"]) / step) * step
    sd_ms = float(np.std(dev)) * 1000
    assert 1.0 < sd_ms < 25.0


def test_tempo_change_option_changes_the_beat_period():
    periods = []
    for seed in range(12):
        p = generate_performance(np.random.default_rng(seed), 60.0, style="pop", tempo_change=True)
        d = np.diff(p.beats_s)
        periods.append(d.max() / d.min())
        for t, bpm in p.meta["tempo_map"]:  # the beat period after each change matches the tempo map
            i = np.searchsorted(p.beats_s, t - 1e-9)
            if i + 1 < len(p.beats_s):
                assert p.beats_s[i + 1] - p.beats_s[i] == pytest.approx(60.0 / bpm)
    assert max(periods) > 1.02
    q = generate_performance(np.random.default_rng(0), 60.0, style="pop", tempo_change=False)
    assert np.ptp(np.diff(q.beats_s)) < 1e-9


def test_piece_coverage_across_many_performances():
    """Toms, crash and ride, tambourine and side stick must be frequent (the first model never heard them)."""
    n = 60
    share: dict[str, int] = {}
    toms_in_fills = tom_tracks = 0
    for seed in range(n):
        p = generate_performance(np.random.default_rng(1000 + seed), 20.0)
        for piece in set(p.pieces):
            share[piece] = share.get(piece, 0) + 1
        toms = p.class_onsets()[2]
        tom_tracks += len(toms) > 0
        if any(a <= t <= b + 0.05 for t in toms for a, b in p.meta["fills"]):
            toms_in_fills += 1
    frac = {k: v / n for k, v in share.items()}
    assert frac["kick"] == 1.0
    assert frac.get("crash", 0) >= 0.8
    assert frac.get("ride", 0) + frac.get("ride_bell", 0) >= 0.4
    assert frac.get("tambourine", 0) >= 0.2
    assert frac.get("side_stick", 0) >= 0.1
    assert frac.get("hihat_open", 0) >= 0.2
    assert tom_tracks / n >= 0.7
    assert toms_in_fills / n >= 0.5


def test_style_signatures():
    rng = np.random.default_rng(4)
    # jazz: the ride keeps time, not the closed hi-hat
    jazz = [generate_performance(rng, 20.0, style="jazz") for _ in range(4)]
    ride = sum(p.pieces.count("ride") + p.pieces.count("ride_bell") for p in jazz)
    assert ride > sum(p.pieces.count("hihat_closed") for p in jazz)
    # house: four on the floor outside breaks and fills
    p = generate_performance(rng, 30.0, style="house", tempo_change=False)
    kicks = p.class_onsets()[0]
    quiet = [(s["start_s"], s["end_s"]) for s in p.meta["sections"] if s.get("break_mode")]
    spans = quiet + [tuple(f) for f in p.meta["fills"]]
    beats = [b for b in p.beats_s if not any(a - 0.01 <= b < e for a, e in spans)]
    hit = [np.min(np.abs(kicks - b)) < 0.03 for b in beats]
    assert np.mean(hit) > 0.9
    # metal: fast double kick somewhere in a few songs
    metal = [generate_performance(rng, 20.0, style="metal", tempo_bpm=160.0) for _ in range(4)]
    assert min(np.min(np.diff(m.class_onsets()[0])) for m in metal) < 0.12


def test_bad_arguments():
    with pytest.raises(ConfigError, match="unknown style"):
        generate_performance(np.random.default_rng(0), 5.0, style="polka")
    with pytest.raises(ConfigError):
        generate_performance(np.random.default_rng(0), 0.0)
