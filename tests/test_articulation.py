"""Articulation heads (open/closed hi-hat, ride/crash): fitting, the wrapped network, the ONNX export, and
what a transcription writes with them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import mido
import numpy as np
import pytest

from conftest import events_audio, write_audio
from drumscribe.articulation import (
    DEFAULT_OUTPUTS,
    ArticulationOutput,
    balanced_accuracy,
    card_outputs,
    fit_head,
    fit_logistic,
    make_wrapper,
    onset_pairs,
    recurrent_features,
    save_head,
    to_conv_state,
)
from drumscribe.data.store import Store
from drumscribe.errors import ModelError
from drumscribe.fileio import read_json, write_json
from drumscribe.modelio import CARD_NAME, load_model
from drumscribe.transcribe import transcribe
from drumscribe.transcribe.inference import get_model
from test_onnx import make_tiny, needs_onnx

SR = 44100


def test_fit_logistic_folds_the_standardisation_into_the_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3)) * [1.0, 50.0, 0.01] + [0.0, 300.0, -2.0]  # very different scales
    y = ((x[:, 0] - (x[:, 1] - 300.0) / 25.0) > 1.0).astype(int)  # imbalanced: about a quarter positive
    w, b = fit_logistic(x, y, l2=1e-4)
    scores = x @ w + b  # on the raw features
    assert balanced_accuracy(scores, y) > 0.97
    assert abs(w[2]) * 0.01 < 0.1 * abs(w[0])  # the irrelevant column gets little weight
    with pytest.raises(ModelError, match="both kinds"):
        fit_logistic(x, np.ones(len(x)), l2=1e-3)


def test_wrapper_keeps_the_class_logits_and_reads_each_frame_and_the_next(tmp_path):
    import torch

    folder = make_tiny(tmp_path / "m", "crnn")
    net = load_model(folder, backend="torch").net
    in_features = 2 * 8 + 5
    rng = np.random.default_rng(1)
    fits = [(rng.normal(size=2 * in_features), 0.3), (rng.normal(size=2 * in_features), -0.2)]
    conv = torch.nn.Conv1d(in_features, 2, kernel_size=2)
    conv.load_state_dict(to_conv_state(fits, in_features))
    wrapped = make_wrapper(net, conv)
    x = torch.from_numpy(rng.standard_normal((1, 1, 40, 84)).astype(np.float32))
    with torch.no_grad():
        out = wrapped(x)[0].numpy()
        plain = net(x)[0].numpy()
        y, logits = recurrent_features(net, x)
    assert out.shape == (40, 7)
    np.testing.assert_allclose(out[:, :5], plain, atol=1e-6)
    feats = torch.cat([y, logits], dim=-1)[0].numpy()
    pairs = onset_pairs(feats, np.arange(40))  # the last frame reads itself twice
    for a, (w, b) in enumerate(fits):
        np.testing.assert_allclose(out[:, 5 + a], pairs @ w + b, atol=1e-4)
    with pytest.raises(ModelError, match="recurrent"):
        make_wrapper(torch.nn.Linear(3, 3), conv)


def write_head(folder: Path, seed: int = 0) -> None:
    """A random articulation head for a tiny CRNN (hidden size 8): 2 outputs over 2 x (16 + 5) features."""
    rng = np.random.default_rng(seed)
    fits = [(rng.normal(size=42), 0.0), (rng.normal(size=42), 0.0)]
    entry = {"outputs": [o.to_dict() for o in DEFAULT_OUTPUTS], "in_features": 21, "fit": []}
    save_head(folder, to_conv_state(fits, 21), entry)


@pytest.fixture()
def audio(tmp_path):
    times = [0.3, 0.55, 0.8, 1.05, 1.4, 1.65, 1.9, 2.2, 2.5]
    return write_audio(tmp_path / "song.wav", events_audio(times, 3.0, "noise", SR, 0.5))


@needs_onnx
def test_a_model_with_a_head_writes_articulations_in_every_backend(tmp_path, audio):
    from drumscribe.onnxio import export_onnx, onnx_problem

    folder = make_tiny(tmp_path / "m", "crnn")
    write_head(folder)
    export_onnx(folder)
    card = read_json(folder / CARD_NAME)
    assert card_outputs(card) == list(DEFAULT_OUTPUTS) and onnx_problem(folder, card) is None
    # low thresholds: the random tiny model fires on every class
    trs = {
        b: transcribe(audio, model=get_model(folder, backend=b), threshold=0.05) for b in ("onnx", "torch")
    }
    for b, tr in trs.items():
        assert tr.settings["backend"] == b
        assert tr.articulation is not None and tr.articulation.shape == (len(tr.activations), 2)
    np.testing.assert_allclose(trs["onnx"].activations, trs["torch"].activations, atol=1e-4)
    np.testing.assert_allclose(trs["onnx"].articulation, trs["torch"].articulation, atol=1e-3)
    tr = trs["torch"]
    events = tr.events()
    hihat = [e for e in events if e["class"] == "hihat"]
    assert hihat and all(e["articulation"] in ("open", "closed") for e in hihat)
    assert all(e["midi_note"] == (46 if e["articulation"] == "open" else 42) for e in hihat)
    assert all("articulation" not in e for e in events if e["class"] in ("kick", "snare", "toms"))
    # the exports
    out = tmp_path / "out"
    out.mkdir()
    rows = list(csv.DictReader((tr.to_csv(out / "song.csv")).open()))
    assert [r["articulation"] for r in rows] == [e.get("articulation", "") for e in events]
    notes = sorted(
        (round(m.time, 3), m.note)
        for m in mido.MidiFile(tr.to_midi(out / "song.mid")).tracks[0]
        if m.type == "note_on" and m.velocity > 0
    )
    assert sorted(n for _, n in notes) == sorted(e["midi_note"] for e in events)
    onsets = json.loads(tr.to_json(out / "song.json").read_text())["onsets"]
    assert [o.get("articulation") for o in onsets] == [e.get("articulation") for e in events]
    # a class given its own note keeps it for every stroke; the articulation stays in the events
    custom = tr.repick()
    custom.midi_notes = [36, 38, 47, 44, 57]
    assert {e["midi_note"] for e in custom.events() if e["class"] == "hihat"} == {44}
    assert all("articulation" in e for e in custom.events() if e["class"] == "hihat")
    # re-picked onsets get articulations from the same stored outputs
    assert all("articulation" in e for e in tr.repick(0.3).events() if e["class"] in ("hihat", "cymbals"))
    # a head replaced after the export makes the export stale
    write_head(folder, seed=1)
    assert "another articulation head" in onnx_problem(folder, read_json(folder / CARD_NAME))


def test_head_file_problems_are_clear(tmp_path, audio):
    folder = make_tiny(tmp_path / "m", "crnn")
    write_head(folder)
    (folder / "articulation.safetensors").write_bytes(b"not a head")
    with pytest.raises(ModelError, match="articulation.safetensors: checksum mismatch"):
        transcribe(audio, model=get_model(folder, backend="torch"))
    card = read_json(folder / CARD_NAME)
    write_json(
        folder / CARD_NAME, {**card, "articulation": {**card["articulation"], "weights_sha256": "0" * 64}}
    )
    with pytest.raises(ModelError, match="fitted on other weights"):
        get_model(folder, backend="torch")
    write_json(folder / CARD_NAME, card)
    (folder / "articulation.safetensors").unlink()
    with pytest.raises(ModelError, match="articulation head missing"):
        get_model(folder, backend="torch")
    del card["articulation"]
    write_json(folder / CARD_NAME, card)
    tr = transcribe(audio, model=get_model(folder, backend="torch"), threshold=0.05)
    assert tr.articulation is None and all("articulation" not in e for e in tr.events())


def test_fit_head_on_a_tiny_render(tmp_path):
    from drumscribe.synth.render import SynthConfig, render_dataset

    store_dir = tmp_path / "ds"
    cfg = SynthConfig(
        hours=24 * 6.0 / 3600,
        track_s=6.0,
        seed=3,
        kits=["procedural"],
        accompaniment=False,
        gmd=None,
        test_share=0.25,
        validation_share=0.25,
        cache_dir=str(tmp_path / "cache"),
    )
    render_dataset(store_dir, cfg, progress=False)
    folder = make_tiny(tmp_path / "m", "crnn")
    loaded = load_model(folder, backend="torch")
    state, entry = fit_head(loaded, [Store(store_dir)], l2_grid=(1e-3, 1e-1))
    assert state["weight"].shape == (2, 21, 2)
    assert entry["stores"] == [str(store_dir)]
    report = {r["output"]: r for r in entry["fit"]}
    assert set(report) == {"hihat:open", "cymbals:ride"}
    for r in report.values():
        assert r["l2"] in (1e-3, 1e-1)
        assert r["hits"]["train"]["total"] > 0
        assert 0.0 <= r["balanced_accuracy"]["train"] <= 1.0


def test_fit_head_needs_both_kinds(tmp_path):
    from drumscribe.synth.render import SynthConfig, render_dataset

    store_dir = tmp_path / "ds"
    cfg = SynthConfig(
        hours=2 * 3.0 / 3600, track_s=3.0, seed=1, kits=["procedural"], accompaniment=False, gmd=None
    )
    render_dataset(store_dir, cfg, progress=False)
    loaded = load_model(make_tiny(tmp_path / "m", "crnn"), backend="torch")
    never_struck = ArticulationOutput("hihat", "open", "closed", 46, 42, ("hihat_open",), ("no_such_piece",))
    with pytest.raises(ModelError, match=r"0 closed hihat hits: fitting needs both"):
        fit_head(loaded, [Store(store_dir)], outputs=(never_struck,))


def test_mdb_benchmark_reads_subclasses_and_scores_calls(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from articulation_mdb import balanced, subclass_counts, subclass_strokes

    ann = tmp_path / "song.txt"
    ann.write_text("0.10\tKD\n0.20\tCHH\n0.30\tOHH \n0.40\tRDC\n0.50\tCRC\n0.60\tSD\n")
    strokes = subclass_strokes(ann)
    assert strokes == {"hihat": [(0.2, "CHH"), (0.3, "OHH")], "cymbals": [(0.4, "RDC"), (0.5, "CRC")]}
    pairs = [("CHH", False), ("CHH", True), ("OHH", True), ("OHH", True)]
    assert balanced(pairs) == pytest.approx(0.75)  # closed 1 of 2 right, open 2 of 2
    assert subclass_counts(pairs) == "CHH 1/2, OHH 2/2"
    assert np.isnan(balanced([]))


def test_score_writes_open_hihats_and_rides_on_their_own_staff_places(tmp_path):
    import music21

    from test_exports import make_transcription

    tr = make_transcription(triplet_beat=None)
    tr.model_card = {**tr.model_card, "articulation": {"outputs": [o.to_dict() for o in DEFAULT_OUTPUTS]}}
    art = np.zeros((len(tr.activations), 2), np.float32)
    hh, cy = tr.onsets[3], tr.onsets[4]
    opened = hh[1::4]  # every second off-beat hi-hat is open
    art[np.rint(opened * tr.fps).astype(int), 0] = 0.9
    art[np.rint(cy[1:] * tr.fps).astype(int), 1] = 0.8  # the second crash is a ride
    tr.articulation = art
    assert [e["articulation"] for e in tr.events() if e["class"] == "cymbals"] == ["crash", "ride"]
    path = tr.to_musicxml(tmp_path / "score.musicxml")
    text = path.read_text()
    assert text.count(">circle-x</notehead>") == len(opened)  # one of them in a chord with a tom
    assert "Open Hi-Hat" in text and "Ride Cymbal" in text
    assert "<midi-unpitched>47</midi-unpitched>" in text and "<midi-unpitched>52</midi-unpitched>" in text
    notes = [
        n
        for el in music21.converter.parse(str(path)).parts[0].recurse().notes
        for n in getattr(el, "notes", [el])
    ]
    places = [n.displayName for n in notes]
    assert places.count("F5") == 1  # the ride, on the top line
    assert places.count("A5") == 1  # the crash
    assert places.count("G5") == len(hh)  # open and closed hi-hats share their place
    # the open ones point at the open hi-hat's sound, the others at the hi-hat's
    root = __import__("xml.etree.ElementTree", fromlist=["ElementTree"]).parse(path).getroot()
    ids = {si.get("id"): si.findtext("instrument-name") for si in root.iter("score-instrument")}
    sounds = [
        ids[n.find("instrument").get("id")]
        for n in root.iter("note")
        if n.find("unpitched") is not None and n.findtext("unpitched/display-step") == "G"
    ]
    assert sounds.count("Open Hi-Hat") == len(opened) and sounds.count("Hi-Hat") == len(hh) - len(opened)


def test_chart_puts_rides_on_the_blue_cymbal_unless_a_tom_shares_the_tick():
    from drumscribe.transcribe.chart import RESOLUTION, build_chart
    from test_exports import make_transcription

    tr = make_transcription(triplet_beat=None)
    tr.model_card = {**tr.model_card, "articulation": {"outputs": [o.to_dict() for o in DEFAULT_OUTPUTS]}}
    cy = tr.onsets[4]  # crashes on beats 0 and 8
    tr.onsets[2] = np.sort(np.append(tr.onsets[2], cy[0]))  # a tom struck with the first
    tr.velocities[2] = np.append(tr.velocities[2], 90)
    tr.confidences[2] = np.append(tr.confidences[2], np.float32(0.9))
    art = np.zeros((len(tr.activations), 2), np.float32)
    art[np.rint(cy * tr.fps).astype(int), 1] = 0.9  # both called ride
    tr.articulation = art

    def expert_at(lines, beat_tick):
        body = lines[lines.index("[ExpertDrums]") + 2 : lines.index("}", lines.index("[ExpertDrums]"))]
        return {int(ln.split()[3]) for ln in body if int(ln.split()[0]) == beat_tick}

    lines = build_chart(tr).lines
    ticks = sorted({int(ln.split()[0]) for ln in lines if " = N 68 " in ln or " = N 67 " in ln})
    assert len(ticks) == 2
    first, second = (expert_at(lines, t) for t in ticks)
    assert {3, 4, 68} <= first and 67 not in first  # the tom keeps blue, the ride goes green
    assert {3, 67} <= second and 68 not in second and second.isdisjoint({4})  # the ride alone: blue cymbal
    assert ticks[1] - ticks[0] == 8 * RESOLUTION


def test_web_result_carries_the_articulations(tmp_path, audio):
    from types import SimpleNamespace

    from drumscribe.web.app import result_payload

    folder = make_tiny(tmp_path / "m", "crnn")
    write_head(folder)
    tr = transcribe(audio, model=get_model(folder, backend="torch"), threshold=0.05)
    res = result_payload(SimpleNamespace(id="j1", name="song.wav"), tr)
    assert res["articulation_marked"] == [None, None, None, "open", "ride"]
    assert res["articulations"][:3] == [None, None, None]
    assert res["articulations"][3] == [e["articulation"] for e in tr.events() if e["class"] == "hihat"]
    json.dumps(res)  # plain JSON
