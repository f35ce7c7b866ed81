"""Kits, one-shot samples, the procedural synthesiser and mixing (all with kits generated in code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumscribe.errors import ConfigError, DatasetLayoutError
from drumscribe.synth import kits as kits_mod
from drumscribe.synth import mixing
from drumscribe.synth.drumsynth import SYNTH_PIECES, procedural_kit
from drumscribe.synth.kits import KitInfo, assign_splits, discover_hydrogen_kits, extract_hydrogen_kit
from drumscribe.synth.pieces import PIECE_CLASS
from drumscribe.synth.samples import (
    SAMPLE_RATE_HZ,
    KitSamples,
    OneShot,
    layer,
    load_kit_samples,
    measure_onset_delay,
    pitch_shift,
    prepare_oneshot,
    save_kit_samples,
    shape_decay,
)

SR = SAMPLE_RATE_HZ


def burst(delay_s: float, dur_s: float = 0.2, seed: int = 0, total_s: float = 0.5) -> np.ndarray:
    """Silence, then a decaying noise burst starting exactly at ``delay_s``."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(total_s * SR), dtype=np.float32)
    n = int(dur_s * SR)
    i = int(round(delay_s * SR))
    x[i : i + n] = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.03 * SR))
    return x


# ------------------------------------------------------------------------------------------ samples
@pytest.mark.parametrize("delay_s", [0.0, 0.0123, 0.1])
def test_onset_delay_of_burst(delay_s):
    assert measure_onset_delay(burst(delay_s)) == pytest.approx(delay_s, abs=0.001)


def test_onset_delay_silence_is_zero():
    assert measure_onset_delay(np.zeros(1000, dtype=np.float32)) == 0.0


def test_prepare_oneshot_trims_leading_silence_and_tail():
    shot = prepare_oneshot(burst(0.15, total_s=1.5), velocity=90)
    assert shot is not None
    assert shot.onset_s == pytest.approx(0.002, abs=0.001)  # the pre-roll kept before the onset
    assert shot.duration_s < 0.8  # the silent tail after the -60 dB point is cut
    assert prepare_oneshot(np.zeros(5000, dtype=np.float32), 90) is None


def test_pitch_shift_octave_doubles_frequency_and_halves_length():
    t = np.arange(SR // 2) / SR
    shot = OneShot(np.sin(2 * np.pi * 440 * t).astype(np.float32), 100, 0.01)
    up = pitch_shift(shot, 12.0)
    assert len(up.audio) == pytest.approx(len(shot.audio) / 2, rel=0.01)
    spec = np.abs(np.fft.rfft(up.audio * np.hanning(len(up.audio))))
    peak_hz = np.argmax(spec) * SR / len(up.audio)
    assert peak_hz == pytest.approx(880, rel=0.01)
    assert up.onset_s == pytest.approx(0.005)


def test_shape_decay_shortens_and_keeps_onset():
    shot = prepare_oneshot(burst(0.05, dur_s=1.0, total_s=1.2), 100)
    short = shape_decay(shot, 0.02)
    assert short.duration_s < shot.duration_s
    assert measure_onset_delay(short.audio) == pytest.approx(shot.onset_s, abs=0.001)


def test_layer_aligns_onsets():
    a = OneShot(burst(0.01, seed=1), 100, 0.01)
    b = OneShot(burst(0.05, seed=2), 100, 0.05)
    mix = layer(a, b, 0.5)
    assert measure_onset_delay(mix.audio) == pytest.approx(mix.onset_s, abs=0.001)


def test_kit_cache_round_trip(tmp_path):
    kit = procedural_kit(5, pieces=("kick", "snare", "crash"))
    save_kit_samples(kit, tmp_path, "k")
    back = load_kit_samples(tmp_path, "k")
    assert back is not None and back.name == kit.name and back.family == kit.family
    assert set(back.pieces) == set(kit.pieces)
    for piece in kit.pieces:
        for s0, s1 in zip(kit.pieces[piece], back.pieces[piece]):
            np.testing.assert_array_equal(s0.audio, s1.audio)
            assert (s0.velocity, s0.onset_s) == (s1.velocity, s1.onset_s)
    assert load_kit_samples(tmp_path, "missing") is None


def test_choose_prefers_nearest_velocity_layer():
    kit = KitSamples("k", "k", "test")
    for v in (20, 60, 120):
        kit.add("snare", OneShot(np.full(10, v, dtype=np.float32), v, 0.0))
    rng = np.random.default_rng(0)
    assert {kit.choose("snare", 118, rng).velocity for _ in range(20)} == {120}
    assert {kit.choose("snare", 25, rng).velocity for _ in range(20)} == {20}


# ------------------------------------------------------------------------------------------ procedural kits
def test_procedural_kit_covers_every_class_and_is_deterministic():
    a = procedural_kit(11, pieces=SYNTH_PIECES)
    assert a.classes() == [0, 1, 2, 3, 4]
    assert set(a.pieces) == set(SYNTH_PIECES)
    b = procedural_kit(11, pieces=("kick", "ride"))
    c = procedural_kit(12, pieces=("kick", "ride"))
    for piece in ("kick", "ride"):
        np.testing.assert_array_equal(a.pieces[piece][0].audio, b.pieces[piece][0].audio)
        assert not np.array_equal(b.pieces[piece][0].audio[:1000], c.pieces[piece][0].audio[:1000])


def test_procedural_lazy_kit_equals_eager():
    eager = procedural_kit(3, pieces=("snare", "hihat_open"))
    lazy = procedural_kit(3, pieces=("snare", "hihat_open"), lazy=True)
    assert "snare" in lazy.pieces and "kick" not in lazy.pieces
    np.testing.assert_array_equal(eager.pieces["hihat_open"][1].audio, lazy.pieces["hihat_open"][1].audio)


def test_procedural_velocity_layers_grow_louder_and_brighter():
    kit = procedural_kit(4, pieces=("snare",))
    soft, loud = kit.pieces["snare"][0], kit.pieces["snare"][-1]
    assert soft.velocity < loud.velocity
    assert np.abs(soft.audio).max() < np.abs(loud.audio).max()

    def centroid(x):
        s = np.abs(np.fft.rfft(x))
        return float((s * np.arange(len(s))).sum() / s.sum())

    assert centroid(soft.audio) < centroid(loud.audio)


def test_procedural_cymbals_ring_longer_than_closed_hats():
    kit = procedural_kit(8, pieces=("hihat_closed", "crash", "kick"))
    assert kit.pieces["crash"][-1].duration_s > 4 * kit.pieces["hihat_closed"][-1].duration_s


def spectral_flux_peak_s(x: np.ndarray, hop_s: float = 0.001, win: int = 256) -> float:
    """Time [s] of the largest positive spectral-flux step (window centres), an independent onset measure."""
    hop = int(hop_s * SR)
    pad = np.concatenate([np.zeros(win, dtype=np.float32), x, np.zeros(win, dtype=np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(pad, win)[::hop]
    mag = np.log1p(100 * np.abs(np.fft.rfft(frames * np.hanning(win), axis=1)))
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)
    k = int(np.argmax(flux)) + 1
    return (k * hop + win / 2 - win) / SR  # centre of frame k, minus the front padding


def test_every_piece_label_lands_on_audible_onset():
    """Render single hits (placed by the renderer's onset correction) of every piece of a kit whose
    samples carry random leading silence, and find the spectral-flux peak within 10 ms of the label."""
    from drumscribe.synth.performance import Performance
    from drumscribe.synth.render import TrackKit, place_hits

    kit = procedural_kit(21, pieces=SYNTH_PIECES)
    rng = np.random.default_rng(0)
    track = TrackKit()
    for piece, shots in kit.pieces.items():
        padded = []
        for s in shots:  # a sample file that starts with 5-60 ms of silence
            lead = np.zeros(int(rng.uniform(0.005, 0.06) * SR), dtype=np.float32)
            padded.append(
                OneShot(
                    np.concatenate([lead, s.audio]),
                    s.velocity,
                    measure_onset_delay(np.concatenate([lead, s.audio])),
                )
            )
        track.pieces[piece] = padded
    for piece in SYNTH_PIECES:
        label = 0.5 + rng.uniform(0, 0.01)
        perf = Performance(times_s=[label], pieces=[piece], velocities=[100], duration_s=3.0, tempo_bpm=120)
        buses, onsets, _ = place_hits(perf, track, np.random.default_rng(1), int(3.0 * SR))
        audio = sum(buses.values())
        assert onsets[PIECE_CLASS[piece]].tolist() == [label]
        assert abs(spectral_flux_peak_s(audio) - label) <= 0.010, piece


# ------------------------------------------------------------------------------------------ Hydrogen kits
def make_hydrogen_kit(
    folder: Path, seed: int, instruments: dict[str, str], broken: str | None = None
) -> None:
    """A Hydrogen drumkit folder (new layer format) whose samples are procedural hits."""
    folder.mkdir(parents=True)
    kit = procedural_kit(seed, pieces=tuple(sorted(set(instruments.values()))))
    parts = []
    for name, piece in instruments.items():
        layers = []
        for i, shot in enumerate(kit.pieces[piece]):
            fn = f"{name.replace(' ', '_')}_{i}.wav"
            if name != broken:
                sf.write(folder / fn, shot.audio, SR)
            lo, hi = i / len(kit.pieces[piece]), (i + 1) / len(kit.pieces[piece])
            layers.append(f"<layer><filename>{fn}</filename><min>{lo}</min><max>{hi}</max></layer>")
        parts.append(
            f"<instrument><name>{name}</name><instrumentComponent>{''.join(layers)}</instrumentComponent></instrument>"
        )
    xml = (
        '<?xml version="1.0"?><drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">'
        f"<name>{folder.name}</name><instrumentList>{''.join(parts)}</instrumentList></drumkit_info>"
    )
    (folder / "drumkit.xml").write_text(xml)


INSTRUMENTS = {
    "Kick": "kick",
    "Snare": "snare",
    "Tom": "tom_mid",
    "Hat": "hihat_closed",
    "Ride": "ride",
    "Fx": "crash",
}


def test_hydrogen_kit_discovery_and_extraction(tmp_path, monkeypatch, caplog):
    table = {k: v for k, v in INSTRUMENTS.items() if k != "Fx"}  # Fx is not in the table: unused
    monkeypatch.setitem(kits_mod.HYDROGEN_TABLES, "KitA", table)
    make_hydrogen_kit(tmp_path / "KitA", 1, INSTRUMENTS, broken="Tom")
    make_hydrogen_kit(tmp_path / "Unknown", 2, INSTRUMENTS)
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "drumkit.xml").write_text("<drumkit_info><instrument>")
    monkeypatch.setitem(kits_mod.HYDROGEN_TABLES, "Broken", table)
    found = discover_hydrogen_kits([tmp_path])
    assert [k.name for k in found] == ["hydrogen:KitA"]  # no table -> skipped; broken xml -> warned
    info = found[0]
    assert set(info.sources) == {"kick", "snare", "tom_mid", "hihat_closed", "ride"}
    kit = extract_hydrogen_kit(info)
    assert "tom_mid" not in kit.pieces  # its sample files are missing
    assert [s.velocity for s in kit.pieces["kick"]] == sorted(s.velocity for s in kit.pieces["kick"])
    assert len(kit.pieces["snare"]) == 3
    assert "missing" in caplog.text


EXADRUMS_XML = """<root>
    <kitName>Default</kitName>
    <kitFolder/>
    <Instrument type="Pad" volume="100"><instrumentName>Kick</instrumentName>
        <sounds><sound type="DrumHead">BassDrum/BD_Acou_01.wav</sound></sounds></Instrument>
    <Instrument type="Pad" volume="100"><instrumentName>Snare</instrumentName>
        <sounds><sound type="DrumHead">SnareDrum/Snr_Acou_01.wav</sound></sounds></Instrument>
    <Instrument type="Pad" volume="100"><instrumentName>HiHat</instrumentName>
        <sounds><sound type="DrumHead">HiHat/HiHat.wav</sound></sounds></Instrument>
    <Instrument type="DualZonePad" volume="100"><instrumentName>Ride</instrumentName>
        <sounds><sound type="DrumHead">Ride/RideEdge.wav</sound><sound type="RimShot">Ride/RideBell.wav</sound></sounds>
    </Instrument>
    <Instrument type="Pad" volume="50"><instrumentName>Cowbell</instrumentName>
        <sounds><sound type="DrumHead">Cowbell.wav</sound></sounds></Instrument>
</root>"""


def test_exadrums_kit_in_the_debian_layout(tmp_path):
    """Debian's exadrums installs the Default kit's samples flat beside Default.xml, which names them in
    subfolders; the package's other XML files (alsaConfig.xml, ...) are not kits."""
    (tmp_path / "Default.xml").write_text(EXADRUMS_XML)
    (tmp_path / "alsaConfig.xml").write_text("<Alsa><device>plughw:0</device></Alsa>")
    t = np.arange(SR // 2) / SR
    for name, hz in [("BD_Acou_01", 60), ("Snr_Acou_01", 200), ("HiHat", 7000), ("RideEdge", 5000)]:
        sf.write(tmp_path / f"{name}.wav", np.stack([np.sin(2 * np.pi * hz * t) * np.exp(-8 * t)] * 2, 1), SR)
    (tmp_path / "Ride").mkdir()  # a sample where the XML says it is found first
    sf.write(tmp_path / "Ride" / "RideBell.wav", np.sin(2 * np.pi * 3000 * t) * np.exp(-5 * t), SR)
    (kit_info,) = kits_mod.discover_exadrums_kits([tmp_path])
    assert kit_info.name == "exadrums:Default" and kit_info.family == "exadrums"
    assert kit_info.family in kits_mod.LATE_FAMILIES
    # the unmapped cowbell is left out; every mapped sound whose sample exists is kept
    assert set(kit_info.sources) == {"kick", "snare", "hihat_closed", "ride", "ride_bell"}
    kit = kits_mod.extract_exadrums_kit(kit_info)
    assert sorted(kit.pieces) == sorted(kit_info.sources)
    assert all(len(shots) == 1 for shots in kit.pieces.values())
    (tmp_path / "Default.xml").write_text("<root><kitName>Broken")
    assert kits_mod.discover_exadrums_kits([tmp_path]) == []  # a broken kit file is skipped with a warning


# ------------------------------------------------------------------------------------------ splits
def fake_infos() -> list[KitInfo]:
    full = {"kick": (36,), "snare": (38,), "hihat_closed": (42,), "crash": (49,)}
    infos = [KitInfo(f"sf:Big:{i}", "soundfont", "/x/big.sf2", "big", 128, i, full) for i in range(12)]
    infos += [KitInfo(f"hydrogen:K{i}", "hydrogen", f"/x/K{i}", f"k{i}", sources=full) for i in range(10)]
    infos += [KitInfo("hydrogen:Hands", "hydrogen", "/x/H", "hands", sources={"clap": ("C",)})]
    return infos


def test_assign_splits_keeps_families_together_and_disjoint():
    infos = fake_infos()
    splits = assign_splits(infos)
    names = [n for v in splits.values() for n in v]
    assert sorted(names) == sorted(k.name for k in infos)  # every kit exactly once
    assert splits["test"] and splits["validation"]
    family = {k.name: k.family for k in infos}
    fam_split = {}
    for s, v in splits.items():
        for n in v:
            assert fam_split.setdefault(family[n], s) == s
    assert not any(n.startswith("sf:Big") for n in splits["test"] + splits["validation"])  # too large
    assert "hydrogen:Hands" in splits["train"]  # incomplete kits are never held out automatically
    assert assign_splits(infos) == splits  # deterministic


def test_assign_splits_late_families_train_and_move_no_other_family():
    infos = fake_infos()
    before = assign_splits(infos)
    full = infos[0].sources
    late = [
        KitInfo(f"sf:Late{i}:Standard", "soundfont", f"/x/late{i}.sf2", f"late{i}", 128, 0, full)
        for i in range(5)
    ]
    names = frozenset(f"late{i}" for i in range(5))
    after = assign_splits(infos + late, late_families=names)
    assert all(k.name in after["train"] for k in late)
    for split in ("test", "validation"):
        assert after[split] == before[split]
    # counted like any other family, five more families would enlarge the held-out splits
    counted = assign_splits(infos + late, late_families=frozenset())
    assert len(counted["test"]) > len(before["test"])
    # named explicitly, a late family is held out like any other
    assert assign_splits(infos + late, test_kits=["Late2"], late_families=names)["test"] == [
        "sf:Late2:Standard"
    ]
    assert kits_mod.kit_family("sf_GMbank") in kits_mod.LATE_FAMILIES


def test_assign_splits_explicit_test_kits():
    infos = fake_infos()
    splits = assign_splits(infos, test_kits=["K3"], validation_kits=["K4"])
    assert splits["test"] == ["hydrogen:K3"] and splits["validation"] == ["hydrogen:K4"]
    with pytest.raises(ConfigError):
        assign_splits(infos, test_kits=["nothing-like-this"])
    with pytest.raises(ConfigError):
        assign_splits(infos, test_kits=["K3"], validation_kits=["K3"])


def test_kits_that_share_samples_share_a_split(monkeypatch):
    """Hydrogen's GMRockKit holds samples of The Black Pearl: naming one for test holds both out; and a
    --kits filter keeps the held-out kits of the whole installation held out."""
    full = fake_infos()[0].sources
    infos = fake_infos() + [
        KitInfo("hydrogen:GMRockKit", "hydrogen", "/x/G", kits_mod.kit_family("GMRockKit"), sources=full),
        KitInfo(
            "hydrogen:The Black Pearl 1.0",
            "hydrogen",
            "/x/P",
            kits_mod.kit_family("Black Pearl"),
            sources=full,
        ),
    ]
    splits = assign_splits(infos, test_kits=["GMRockKit"])
    assert splits["test"] == ["hydrogen:GMRockKit", "hydrogen:The Black Pearl 1.0"]
    with pytest.raises(ConfigError, match="share samples"):
        assign_splits(infos, test_kits=["GMRockKit"], validation_kits=["Black Pearl"])
    monkeypatch.setattr(kits_mod, "discover_kits", lambda: sorted(infos, key=lambda k: k.name))
    whole = assign_splits(infos)
    held = whole["test"][0]
    chosen, part = kits_mod.kits_and_splits([held, "K"])
    assert held in part["test"] and {k.name for k in chosen} == set(sum(part.values(), []))
    assert all(n in whole[s] for s, names in part.items() for n in names)  # as in the whole installation


def test_no_kits_raises_with_package_names(tmp_path, monkeypatch):
    from drumscribe.synth.render import SynthConfig, resolve_kits

    monkeypatch.setattr(kits_mod, "SOUNDFONT_DIRS", (str(tmp_path / "sf"),))
    monkeypatch.setattr(kits_mod, "HYDROGEN_DIRS", (str(tmp_path / "h2"),))
    monkeypatch.setattr(kits_mod, "FREEPATS_DIRS", (str(tmp_path / "pats"),))
    monkeypatch.setattr(kits_mod, "EXADRUMS_DIRS", (str(tmp_path / "exa"),))
    with pytest.raises(DatasetLayoutError, match="apt-get install fluid-soundfont-gm"):
        resolve_kits(SynthConfig(hours=0.01))
    kit_infos, splits = resolve_kits(SynthConfig(hours=0.01, kits=["procedural"]))
    assert kit_infos == [] and splits == {"train": [], "validation": [], "test": []}


def test_synth_kits_command_lists_coverage_and_splits(tmp_path, monkeypatch, capsys):
    import json

    from drumscribe.cli import main

    for i in range(4):
        monkeypatch.setitem(kits_mod.HYDROGEN_TABLES, f"Kit{i}", INSTRUMENTS)
        keep = {k: v for k, v in INSTRUMENTS.items() if i or k not in ("Ride", "Fx")}  # Kit0: no cymbals
        make_hydrogen_kit(tmp_path / f"Kit{i}", 30 + i, keep)
    monkeypatch.setattr(kits_mod, "SOUNDFONT_DIRS", ())
    monkeypatch.setattr(kits_mod, "HYDROGEN_DIRS", (str(tmp_path),))
    monkeypatch.setattr(kits_mod, "FREEPATS_DIRS", ())
    monkeypatch.setattr(kits_mod, "EXADRUMS_DIRS", ())
    assert main(["synth", "kits", "--json", "--test-kits", "Kit2"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {f"hydrogen:Kit{i}" for i in range(4)}
    assert rows["hydrogen:Kit2"]["split"] == "test"
    assert rows["hydrogen:Kit1"]["complete"] and not rows["hydrogen:Kit0"]["complete"]
    assert rows["hydrogen:Kit0"]["classes"] == ["kick", "snare", "toms", "hihat"]
    assert main(["synth", "kits"]) == 0
    text = capsys.readouterr().out
    assert "4 kits (3 cover all 5 classes)" in text
    assert main(["synth", "kits", "--kits", "nothing"]) == 1


def test_soundfont_preset_reader_rejects_non_soundfont(tmp_path):
    bad = tmp_path / "x.sf2"
    bad.write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    with pytest.raises(DatasetLayoutError, match="not a SoundFont"):
        kits_mod.soundfont_presets(bad)


@pytest.mark.skipif(
    not Path("/usr/share/sounds/sf2/TimGM6mb.sf2").is_file(), reason="timgm6mb-soundfont not installed"
)
def test_installed_soundfont_kit(tmp_path):
    infos = kits_mod.discover_soundfont_kits(["/usr/share/sounds/sf2"])
    tim = [k for k in infos if k.name == "sf:TimGM6mb:Standard"]
    assert tim and tim[0].bank == 128
    assert not any("Orchestra" in k.name for k in infos)
    kit = kits_mod.load_kit(tim[0], tmp_path)
    assert kit.classes() == [0, 1, 2, 3, 4]
    for shots in kit.pieces.values():
        for s in shots:
            assert s.onset_s < 0.01  # leading silence trimmed
    assert load_kit_samples(tmp_path, tim[0].cache_key()) is not None
    # every piece, loudest layer: the spectral-flux peak lies within 10 ms of the label
    from drumscribe.synth.performance import Performance
    from drumscribe.synth.render import TrackKit, place_hits

    for piece, shots in kit.pieces.items():
        perf = Performance(times_s=[0.3], pieces=[piece], velocities=[127], duration_s=1.5, tempo_bpm=120)
        buses, _, _ = place_hits(
            perf, TrackKit(pieces={piece: [shots[-1]]}), np.random.default_rng(0), int(1.5 * SR)
        )
        assert abs(spectral_flux_peak_s(sum(buses.values())) - 0.3) <= 0.010, piece


# ------------------------------------------------------------------------------------------ mixing
def test_room_ir_has_requested_rt60():
    rng = np.random.default_rng(0)
    for rt60 in (0.3, 1.2):
        ir = mixing.room_ir(rng, rt60, predelay_s=0.0, n_early=0).astype(np.float64)
        energy = np.cumsum(ir[::-1] ** 2)[::-1]  # Schroeder backward integration
        edc = 10 * np.log10(energy / energy[0] + 1e-20)
        i5, i25 = np.argmax(edc <= -5), np.argmax(edc <= -25)
        t20 = (i25 - i5) / SR * 3.0  # T20 extrapolated to 60 dB
        assert t20 == pytest.approx(rt60, rel=0.2)


def test_compressor_reduces_dynamic_range_and_keeps_rms():
    rng = np.random.default_rng(1)
    loud = np.arange(SR) % 11025 < 2000
    x = (rng.standard_normal(SR) * np.where(loud, 1.0, 0.05)).astype(np.float32)
    y = mixing.compress(x, threshold_db=-30, ratio=6, time_ms=5)
    assert mixing.rms(y) == pytest.approx(mixing.rms(x), rel=1e-3)
    # steady state inside the loud bursts (after the 5 ms attack) vs the quiet stretches
    steady = loud & (np.arange(SR) % 11025 >= 1000)
    quiet = ~loud & (np.arange(SR) % 11025 >= 4000)

    def range_db(z):
        return 20 * np.log10(mixing.rms(z[steady]) / mixing.rms(z[quiet]))

    assert range_db(x) == pytest.approx(26.0, abs=0.5)
    # threshold -30 dBFS, ratio 6: the loud part (0 dBFS) loses (1 - 1/6) * 30 = 25 dB, the quiet part
    # (-26 dBFS) loses (1 - 1/6) * 4 = 3.3 dB
    assert range_db(y) == pytest.approx(26.0 - 25.0 + 3.33, abs=1.0)


def test_lowpass_and_loudness():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SR).astype(np.float32) * 0.1
    y = mixing.lowpass(x, 2000)
    spec = np.abs(np.fft.rfft(y))
    f = np.fft.rfftfreq(len(y), 1 / SR)
    assert spec[f > 8000].mean() < 0.01 * spec[f < 1000].mean()
    z = mixing.normalise_loudness(x, -20)
    assert 20 * np.log10(mixing.rms(z)) == pytest.approx(-20, abs=0.5)
    assert np.abs(mixing.normalise_loudness(x * 50, -3)).max() <= 0.98


def test_master_sets_drums_to_rest_level():
    rng = np.random.default_rng(3)
    drums = rng.standard_normal(SR).astype(np.float32) * 0.3
    rest = rng.standard_normal(SR).astype(np.float32) * 0.01
    s = mixing.MixSettings(drums_to_rest_db=-6.0, loudness_dbfs=-24.0)  # no EQ, noise or codec
    out = mixing.master(drums, rest, s, rng)
    # out = a * drums + b * rest: recover a, b by least squares and compare the levels
    (a, b), *_ = np.linalg.lstsq(np.stack([drums, rest], axis=1).astype(np.float64), out, rcond=None)
    level_db = 20 * np.log10(mixing.rms(a * drums) / mixing.rms(b * rest))
    assert level_db == pytest.approx(-6.0, abs=0.05)
    assert 20 * np.log10(mixing.rms(out)) == pytest.approx(-24.0, abs=0.1)


def test_codec_degrade_band_limits():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(SR).astype(np.float32) * 0.1
    y = mixing.codec_degrade(x, rng, 0.8)
    spec = np.abs(np.fft.rfft(y))
    f = np.fft.rfftfreq(len(y), 1 / SR)
    assert spec[f > 19500].mean() < 0.05 * spec[f < 5000].mean()


def write_gus_patch(path: Path, waves: list[tuple[np.ndarray, int, int]]) -> None:
    """A minimal GF1PATCH110 file; ``waves`` holds (int samples, sample rate, modes) per waveform."""
    import struct

    head = bytearray(239)
    head[:12] = b"GF1PATCH110\0"
    struct.pack_into("<H", head, 85, len(waves))
    body = bytearray()
    for samples, rate, modes in waves:
        raw = samples.astype({0: np.int8, 1: "<i2", 2: np.uint8, 3: "<u2"}[modes & 3]).tobytes()
        h = bytearray(96)
        struct.pack_into("<I", h, 8, len(raw))
        struct.pack_into("<H", h, 20, rate)
        h[55] = modes
        body += h + raw
    path.write_bytes(bytes(head + body))


def test_gus_patch_reader_and_freepats_kit(tmp_path):
    rng = np.random.default_rng(0)
    ref = (np.sin(np.arange(2205) * 0.3) * np.exp(-np.arange(2205) / 500)).astype(np.float64)
    folder = tmp_path / "Drum_000"
    folder.mkdir()
    write_gus_patch(folder / "036_Kick.pat", [(np.round(ref * 30000), 22050, 1)])  # 16-bit signed
    write_gus_patch(folder / "042_Hat.pat", [(np.round(ref * 120 + 128), 44100, 2)])  # 8-bit unsigned
    write_gus_patch(folder / "077_Block.pat", [(rng.integers(-100, 100, 500), 44100, 0)])  # unmapped key
    (folder / "038_Bad.pat").write_bytes(b"not a patch")
    waves = kits_mod.read_gus_patch(folder / "036_Kick.pat")
    assert waves[0][1] == 22050
    np.testing.assert_allclose(waves[0][0], np.round(ref * 30000) / 32768, atol=1e-6)
    np.testing.assert_allclose(
        kits_mod.read_gus_patch(folder / "042_Hat.pat")[0][0], np.round(ref * 120) / 128, atol=1e-6
    )
    with pytest.raises(DatasetLayoutError, match="not a GUS patch"):
        kits_mod.read_gus_patch(folder / "038_Bad.pat")
    (info,) = kits_mod.discover_freepats_kits([tmp_path])
    assert info.sources == {
        "kick": ("036_Kick.pat",),
        "hihat_closed": ("042_Hat.pat",),
        "snare": ("038_Bad.pat",),
    }
    kit = kits_mod.load_kit(info, tmp_path / "cache")
    assert set(kit.pieces) == {"kick", "hihat_closed"}  # the broken snare patch is skipped with a warning
    assert kit.pieces["kick"][0].duration_s == pytest.approx(0.1, abs=0.01)  # resampled 22.05 -> 44.1 kHz


def test_process_rest_saturates_and_reverberates():
    rng = np.random.default_rng(5)
    t = np.arange(SR) / SR
    rest = (0.2 * np.sin(2 * np.pi * 110 * t) * (t < 0.5)).astype(np.float32)
    driven = mixing.process_rest(rest, mixing.MixSettings(rest_drive_db=18.0), rng)
    crest = np.abs(driven).max() / mixing.rms(driven[t < 0.5])
    assert crest < 0.8 * np.sqrt(2)  # a sine has crest sqrt(2); hard drive squares it off
    spec = np.abs(np.fft.rfft(driven))
    assert spec[330] > 0.05 * spec[110]  # odd harmonics appear (1 Hz bins: 330 Hz)
    wet = mixing.process_rest(rest, mixing.MixSettings(rest_reverb_wet=0.5, rest_rt60_s=1.0), rng)
    assert mixing.rms(wet[(t > 0.55) & (t < 0.8)]) > 1e-3 > mixing.rms(rest[(t > 0.55) & (t < 0.8)])


def test_process_rest_lowpasses_after_the_drive():
    rng = np.random.default_rng(5)
    t = np.arange(SR) / SR
    rest = (0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    spec = {}
    for lp in (None, 6000.0):
        y = mixing.process_rest(rest, mixing.MixSettings(rest_drive_db=24.0, rest_drive_lowpass_hz=lp), rng)
        spec[lp] = np.abs(np.fft.rfft(y))  # 1 Hz bins
    # 1 kHz square-ish wave: odd harmonics; the 11th (11 kHz) is cut by the low-pass, the 3rd is kept
    assert spec[6000.0][11000] < 0.05 * spec[None][11000]
    assert spec[6000.0][3000] > 0.7 * spec[None][3000]
    s = mixing.draw_mix_settings(np.random.default_rng(0))
    drawn = [mixing.draw_mix_settings(np.random.default_rng(i)) for i in range(40)]
    assert all((d.rest_drive_db is None) == (d.rest_drive_lowpass_hz is None) for d in drawn + [s])
    assert any(d.rest_drive_lowpass_hz is not None for d in drawn)


@pytest.mark.skipif(not Path(kits_mod.HYDROGEN_DIRS[0]).is_dir(), reason="hydrogen-drumkits not installed")
def test_installed_hydrogen_cymbals_sound_like_cymbals():
    """Every sample a hand table maps to a cymbal-class piece has its energy up high (crashes, rides and
    chinas: spectral centroids of 1.2-18 kHz in the installed kits; cowbells 0.5-2 kHz): a thump labelled
    "cymbal" teaches the model to miss real cymbals."""
    cymbal_pieces = {p for p, c in PIECE_CLASS.items() if c == 4}
    checked = 0
    for info in discover_hydrogen_kits():
        kit = extract_hydrogen_kit(info)
        for piece, shots in kit.pieces.items():
            if piece not in cymbal_pieces:
                continue
            x = shots[-1].audio[: 44100 // 2].astype(np.float64)
            power = np.abs(np.fft.rfft(x)) ** 2
            f = np.fft.rfftfreq(len(x), 1 / 44100)
            centroid = float((power * f).sum() / max(power.sum(), 1e-12))
            floor = 300.0 if piece == "cowbell" else 1000.0
            assert centroid > floor, f"{info.name}: {piece} ({shots[-1].source}) centroid {centroid:.0f} Hz"
            checked += 1
    assert checked >= 10


def test_punch_compressor_ducks_the_wash_after_each_hit_and_recovers():
    rng = np.random.default_rng(2)
    n = SR
    wash = 0.05 * rng.standard_normal(n)  # a steady cymbal wash
    hits = np.zeros(n)
    starts = [int(0.2 * SR), int(0.6 * SR)]
    for s in starts:  # 5 ms loud clicks, as kick or snare transients
        hits[s : s + 220] = rng.standard_normal(220)
    x = (wash + hits).astype(np.float32)
    y = mixing.punch_compress(x, threshold_db=3.0, ratio=10.0, attack_ms=0.2, release_ms=100.0)
    assert mixing.rms(y) == pytest.approx(mixing.rms(x), rel=1e-3)
    g = np.abs(y) / np.maximum(np.abs(x), 1e-9)  # the gain the compressor applied, sample by sample

    def gain_db(t0, t1):
        return 20 * np.log10(np.median(g[int(t0 * SR) : int(t1 * SR)]))

    base = gain_db(0.05, 0.18)  # wash alone, before the first hit (makeup gain only)
    just_after = gain_db(0.21, 0.22)
    assert just_after < base - 6  # the wash is ducked right after the hit
    # linear-in-dB release: 10 dB per 100 ms, so 200 ms later the gain is back to where it was
    assert gain_db(0.45, 0.55) == pytest.approx(base, abs=0.5)
    assert gain_db(0.21, 0.22) < gain_db(0.25, 0.26) < gain_db(0.29, 0.30)


def test_punch_compressor_hold_and_release_equal_a_per_sample_loop():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(4000) * np.repeat(rng.uniform(0.01, 1.0, 40), 100)).astype(np.float32)
    y = mixing.punch_compress(x, threshold_db=0.0, ratio=4.0, attack_ms=0.01, release_ms=5.0, makeup=False)
    # reference: the textbook recursion, a gain reduction that jumps up at once and falls 10 dB per release
    # time, then the one-pole attack smoother
    a = np.exp(-1.0 / (1e-3 * SR))
    power, p = np.empty(len(x)), 0.0
    for i, v in enumerate(x.astype(np.float64)):
        p = a * p + (1 - a) * v * v
        power[i] = p
    want = np.maximum(10 * np.log10(power + 1e-12) - 20 * np.log10(mixing.rms(x)), 0) * 0.75
    b = np.exp(-1.0 / (0.01e-3 * SR))  # the attack smoother
    reduction, h, r = np.empty(len(x)), 0.0, 0.0
    for i, w in enumerate(want):
        h = max(w, h - 10.0 / (5e-3 * SR))
        r = b * r + (1 - b) * h
        reduction[i] = r
    np.testing.assert_allclose(y, x * 10 ** (-reduction / 20), rtol=1e-4, atol=1e-6)


def test_punch_draws_leave_a_seeds_other_mix_choices_unchanged():
    rng = np.random.default_rng(4)
    settings = [mixing.draw_mix_settings(np.random.default_rng(s)) for s in range(40)]
    punched = [mixing.draw_punch(rng, mixing.draw_mix_settings(np.random.default_rng(s))) for s in range(40)]
    for a, b in zip(settings, punched):
        d = b.to_dict()
        d.pop("drum_punch"), d.pop("master_punch")
        assert {k: v for k, v in a.to_dict().items() if k not in ("drum_punch", "master_punch")} == d
    assert 5 < sum(p.drum_punch is not None for p in punched) < 35
    assert 2 < sum(p.master_punch is not None for p in punched) < 30
