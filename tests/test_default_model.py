"""The shipped default model and `make demo`'s script, as a user gets them from a clean clone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drumscribe.errors import ModelError
from drumscribe.modelio import CARD_NAME, PRETRAINED_DIR, WEIGHTS_NAME, load_model
from drumscribe.vocab import DEFAULT_VOCAB

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = PRETRAINED_DIR / "default"


def test_default_model_is_shipped_small_and_complete():
    weights = DEFAULT / WEIGHTS_NAME
    assert weights.is_file() and weights.stat().st_size <= 10 * 1024 * 1024
    model = load_model("default")  # verifies the SHA-256 and the architecture
    card = model.card
    assert card["arch"] == "crnn"
    assert card["classes"] == list(DEFAULT_VOCAB.names)
    assert card["midi_notes"] == list(DEFAULT_VOCAB.midi_notes)
    assert card["feature_config"]["fps"] == 100 and model.feature_config.n_bands == 84
    assert model.std > 0 and len(model.thresholds) == 5
    # card documents training data with credits, how to regenerate, and real-music scores
    assert "Groove MIDI Dataset" in str(card["training_data"]["credits"])
    assert "train_default.sh" in card["regenerate"]
    real = card["scores"]["mdb_dev_real"]
    for cond in ("mix", "drums"):
        assert 0.0 <= real[cond]["micro_f1"] <= 1.0
    # no absolute paths of the training machine leak into the card
    assert "/work/" not in (DEFAULT / CARD_NAME).read_text()


def test_a_folder_named_default_in_the_working_directory(tmp_path, monkeypatch):
    """No model asked for: the shipped default, whatever folders the working directory holds; a folder of the
    shipped name with no model in it does not hide the shipped model, one with a model is taken."""
    import shutil

    from drumscribe.modelio import resolve_model_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    shipped = PRETRAINED_DIR / "default"
    assert resolve_model_path(None) == shipped and resolve_model_path("default") == shipped
    with pytest.raises(ModelError, match="mine: no model.json"):
        (tmp_path / "mine").mkdir()
        resolve_model_path("mine")
    shutil.copytree(shipped, tmp_path / "default", dirs_exist_ok=True)
    assert resolve_model_path("default") == Path("default") and resolve_model_path(None) == shipped


def test_corrupt_weights_are_refused(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / CARD_NAME).write_bytes((DEFAULT / CARD_NAME).read_bytes())
    data = bytearray((DEFAULT / WEIGHTS_NAME).read_bytes())
    data[-100] ^= 0xFF
    (folder / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_model(folder)


def test_default_model_hears_a_kick_pattern():
    """Real drum-like input: the shipped model must find kicks at the right times (a random model does not)."""
    import drumscribe

    sr = 44100
    x = np.zeros(sr * 4, dtype=np.float32)
    times = np.arange(0.5, 3.6, 0.5)
    t = np.arange(int(0.25 * sr)) / sr
    kick = (np.sin(2 * np.pi * (50 + 120 * np.exp(-t * 30)) * t) * np.exp(-t * 14)).astype(np.float32)
    for onset in times:
        i = int(onset * sr)
        x[i : i + kick.size] += kick
    tr = drumscribe.transcribe(x * 0.8, sample_rate=sr, model="default")
    scores = drumscribe.evaluate_onsets([times, [], [], [], []], tr.onsets)
    assert scores.tp[0] >= len(times) - 1, tr.onsets[0]


def test_default_model_on_silence_and_noise_finds_no_tempo(tmp_path, capsys):
    """The shipped model's murmur on silence is no rhythm: no onsets, no tempo, and the CLI says so."""
    import soundfile as sf

    from drumscribe.cli import main

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(44100 * 5, np.float32), 44100)
    assert main(["transcribe", str(path), "-o", str(tmp_path / "out"), "--format", "midi,json"]) == 0
    assert "silence.wav: 0 onsets (the recording is silent)" in capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "silence.json").read_text())
    assert result["tempo_bpm"] is None and result["beats_s"] == [] and result["settings"]["silent"]


def test_demo_script_runs_and_scores_the_example(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"micro F1 ([0-9.]+)", proc.stdout)
    assert m, proc.stdout
    # the example clip uses a kit the model never heard; a random or broken model scores ~0
    assert float(m.group(1)) >= 0.5, proc.stdout
    for ext in ("mid", "musicxml", "txt", "csv", "json", "png"):
        assert (tmp_path / "out" / f"example.{ext}").is_file()


@pytest.mark.skipif(
    not (ROOT.parent / "shared" / "data" / "mdb-dev" / "annotations").is_dir(),
    reason="needs ../shared/data/mdb-dev",
)
def test_card_real_music_scores_are_what_the_benchmark_measures():
    """The mdb-dev scores in the card (and README) are re-measured, not copied: the benchmark's evaluation
    of the shipped model, with the input kind told per track, gives the card's counts."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from mdb_dev import evaluate_models, format_per_track

    card = load_model("default").card
    real = card["scores"]["mdb_dev_real"]
    results = evaluate_models(["default"], ROOT.parent / "shared" / "data" / "mdb-dev")
    table = format_per_track(results)
    for r in results:
        # the per-track counts (benchmark --per-track) add up to the whole-set counts
        for key in ("tp", "fp", "fn"):
            summed = np.sum([c[key] for c in r["per_track_counts"].values()], axis=0).tolist()
            assert summed == r[key], key
        for track, c in r["per_track_counts"].items():
            cells = " ".join(f"{tp}/{fp}/{fn}" for tp, fp, fn in zip(c["tp"], c["fp"], c["fn"]))
            row = next(
                line for line in table.splitlines() if line.startswith(track) and r["condition"] in line
            )
            assert " ".join(row.split()[3:]) == cells
    for r in results:
        cond = r["condition"]
        assert (r["tp"], r["fp"], r["fn"]) == (real[cond]["tp"], real[cond]["fp"], real[cond]["fn"]), cond
        assert r["micro_f1"] == pytest.approx(real[cond]["micro_f1"], abs=1e-4)
        if card.get("thresholds_drums_only") is not None:
            # each mdb-dev recording is told as what it is: stems as drums, mixes as mixes
            assert set(r["input_kind"].values()) == {1.0 if cond == "drums" else 0.0}


def test_threshold_choice_scores_each_track_with_thresholds_chosen_on_the_others():
    """benchmarks/threshold_choice.py: a choice never sees the track it is scored on."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from threshold_choice import CHOICES, SWEEP, held_out_f1

    from drumscribe.scoring import OnsetScores

    # two classes; track a rewards a high threshold for class 0, track b a low one; class 1 is the same
    def sweep(best: float) -> dict:
        return {
            float(th): OnsetScores(
                [10 if abs(th - best) < 1e-9 else 5, 4], [0, 0], [0 if abs(th - best) < 1e-9 else 5, 0]
            )
            for th in SWEEP
        }

    scores = {("mix", "a"): sweep(0.8), ("mix", "b"): sweep(0.2)}
    # per class: a is scored at b's best (0.2) and b at a's (0.8): both get the worse counts
    want = OnsetScores.sum([OnsetScores([5, 4], [0, 0], [5, 0])] * 2).micro_f1
    assert held_out_f1(scores, ["a", "b"], "mix", CHOICES["per class"]) == pytest.approx(want)
    # untuned: 0.5 is neither track's best
    assert held_out_f1(scores, ["a", "b"], "mix", CHOICES["untuned 0.5"]) == pytest.approx(want)
    # two more tracks like a: a, c and d now choose 0.8 from the others (two of three want it), b too
    scores["mix", "c"] = scores["mix", "d"] = sweep(0.8)
    best = OnsetScores([10, 4], [0, 0], [0, 0])
    want = OnsetScores.sum([best, OnsetScores([5, 4], [0, 0], [5, 0]), best, best]).micro_f1
    assert held_out_f1(scores, ["a", "b", "c", "d"], "mix", CHOICES["per class"]) == pytest.approx(want)


def test_pseudo_mixes_label_band_and_mix_in_the_guitar(tmp_path):
    """scripts/pseudo_mixes.py: the teacher's labels of the band alone go with each band + guitar mix; a re-run
    skips what is done; the folder converter reads the result without a label map."""
    import importlib.util

    import soundfile as sf

    from drumscribe.cli import main
    from drumscribe.data.store import Store
    from drumscribe.transcribe import transcribe

    spec = importlib.util.spec_from_file_location("pseudo_mixes", ROOT / "scripts" / "pseudo_mixes.py")
    pm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pm)
    band_src = ROOT / "src" / "drumscribe" / "pretrained" / "example" / "example.ogg"
    band, sr = sf.read(band_src, always_2d=True, dtype="float32")
    stems = tmp_path / "stems"
    for sub in ("bands", "train", "heldout"):
        (stems / sub).mkdir(parents=True)
    (stems / "bands" / "song.ogg").write_bytes(band_src.read_bytes())
    t = np.arange(len(band) // 2) / sr  # a guitar chord, half as long as the band
    guitar = (0.3 * np.sin(2 * np.pi * 110 * t) * np.sin(2 * np.pi * 2 * t) ** 2).astype(np.float32)
    sf.write(stems / "train" / "song.ogg", np.tile(guitar[:, None], (1, band.shape[1])), sr)
    sf.write(stems / "heldout" / "other.ogg", np.zeros((sr, band.shape[1]), np.float32), sr)  # never used
    out = tmp_path / "mixes"
    assert pm.main([str(stems), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "pseudo.json",
        "song_g0.flac",
        "song_g0.txt",
        "song_g6.flac",
        "song_g6.txt",
    ]
    want = transcribe(band_src, threshold={"toms": 0.8}, tempo=False, keep_spectrogram=False)
    assert (out / "song_g0.txt").read_text() == (out / "song_g6.txt").read_text()
    want.to_txt(tmp_path / "want.txt")
    assert (out / "song_g0.txt").read_text() == (tmp_path / "want.txt").read_text()
    guitar_back, _ = sf.read(stems / "train" / "song.ogg", always_2d=True, dtype="float32")
    mixed, _ = sf.read(out / "song_g6.flac", always_2d=True, dtype="float32")
    np.testing.assert_allclose(mixed, pm.mix(band, guitar_back, 6.0), atol=1e-4)  # 16-bit FLAC
    stamp = (out / "song_g0.flac").stat().st_mtime_ns
    assert pm.main([str(stems), str(out)]) == 0 and (out / "song_g0.flac").stat().st_mtime_ns == stamp
    assert main(["-q", "convert", "folder", str(out), str(tmp_path / "store"), "--split", "train"]) == 0
    assert sorted(Store(tmp_path / "store").track_ids("train")) == ["song_g0", "song_g6"]
