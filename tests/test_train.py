"""Training: the loss against a hand computation, statistics, runs, resume after SIGKILL, reproducibility, CLI."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from drumscribe.cli import main
from drumscribe.data.loader import combined_statistics
from drumscribe.data.store import Store, StoreWriter
from drumscribe.errors import ConfigError, OutputExistsError
from drumscribe.modelio import load_model
from drumscribe.train import TrainConfig, evaluate_model, run_training, tune_thresholds
from drumscribe.train.evaluate import score_activations
from drumscribe.train.loss import infrequency_weights, unweighted_bce_loss, weighted_bce_loss
from drumscribe.train.windows import augment_window, mix_windows, random_eq_db

FEATURES = {"sample_rate_hz": 44100, "fps": 100, "num_bands": 12, "frame_size": 2048}


def make_store(root: Path, n_tracks=(4, 2, 2), frames: int = 300, seed: int = 0, name: str = "toy") -> Path:
    """A learnable toy store: each onset of class c raises bands 16c..16c+11 at its frame."""
    rng = np.random.default_rng(seed)
    writer = StoreWriter(root, name, FEATURES)
    k = 0
    for split, n in zip(("train", "validation", "test"), n_tracks):
        for _ in range(n):
            x = rng.random((frames, 84)).astype(np.float32) * 0.2
            onsets = []
            for c in range(5):
                fr = np.sort(
                    rng.choice(np.arange(3, frames - 3), size=int(rng.integers(4, 12)), replace=False)
                )
                fr = fr[np.concatenate([[True], np.diff(fr) > 3])]
                x[fr, 16 * c : 16 * c + 12] += 1.5
                x[fr + 1, 16 * c : 16 * c + 12] += 0.6
                onsets.append(fr / 100.0)
            writer.write_track(f"{name}-{k:03d}", split, x, onsets)
            k += 1
    writer.finalize()
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("data") / "toy")


def tiny_config(store: Path, **kw) -> TrainConfig:
    base = dict(
        arch="rnn",
        arch_params={"num_layers": 2, "hidden_size": 12, "cell": "gru"},
        data=[str(store)],
        epochs=3,
        batch_size=4,
        window_frames=100,
        lr=3e-3,
        seed=7,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


# ---------------------------------------------------------------- loss and statistics


def test_weighted_loss_matches_hand_computation() -> None:
    logits = torch.tensor([[[0.5, -1.0], [2.0, 0.0], [-0.3, 1.2]]])  # (B=1, T=3, C=2)
    targets = torch.tensor([[[1.0, 0.0], [0.5, 1.0], [0.0, 0.0]]])
    w = torch.tensor([3.0, 0.25])

    def bce(z: float, y: float) -> float:
        p = 1 / (1 + math.exp(-z))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    frame_sums, omegas = [], []
    for t in range(3):
        frame_sums.append(sum(bce(float(logits[0, t, c]), float(targets[0, t, c])) for c in range(2)))
        omegas.append(max(1.0, sum(float(targets[0, t, c]) * float(w[c]) for c in range(2))))
    assert omegas == [3.0, 1.75, 1.0]
    expected = sum(s * o for s, o in zip(frame_sums, omegas)) / 3
    assert weighted_bce_loss(logits, targets, w).item() == pytest.approx(expected, rel=1e-6)
    assert unweighted_bce_loss(logits, targets).item() == pytest.approx(sum(frame_sums) / 3, rel=1e-6)


def test_infrequency_weights() -> None:
    p = 10 / 1000
    expected = 1 / (-p * math.log(p) - (1 - p) * math.log(1 - p))
    w = infrequency_weights([10, 0], 1000)
    assert w[0] == pytest.approx(expected)
    q = 1e-10
    assert w[1] == pytest.approx(1 / (-q * math.log(q) - (1 - q) * math.log(1 - q)))


def test_pooled_statistics_equal_concatenation(tmp_path: Path) -> None:
    a = Store(make_store(tmp_path / "a", (2, 1, 0), frames=120, seed=1, name="a"))
    b = Store(make_store(tmp_path / "b", (3, 1, 0), frames=200, seed=2, name="b"))
    stats = combined_statistics([a, b], "train")
    values = np.concatenate(
        [np.asarray(s.features(t), dtype=np.float64).ravel() for s in (a, b) for t in s.track_ids("train")]
    )
    assert stats["mean"] == pytest.approx(values.mean(), rel=1e-9)
    assert stats["std"] == pytest.approx(values.std(), rel=1e-6)
    targets = np.concatenate([s.targets(t) for s in (a, b) for t in s.track_ids("train")])
    p = (targets == 1.0).mean(axis=0)
    np.testing.assert_allclose(
        stats["class_weights"], 1 / (-p * np.log(p) - (1 - p) * np.log(1 - p)), rtol=1e-9
    )


def test_gain_augmentation_is_exact_in_the_linear_domain() -> None:
    rng = np.random.default_rng(3)
    linear = rng.random((20, 84)) * 5
    x = np.log10(1 + linear).astype(np.float32)
    gain = 10 ** (np.random.default_rng(5).uniform(-6, 6) / 20)
    out = augment_window(x, np.random.default_rng(5), gain_db=6.0, freq_mask=0)
    np.testing.assert_allclose(out, np.log10(1 + gain * linear), rtol=1e-4, atol=1e-5)
    masked = augment_window(x, np.random.default_rng(0), gain_db=0.0, freq_mask=10)
    zero_cols = np.flatnonzero((masked == 0).all(axis=0))
    assert len(zero_cols) <= 10 and (len(zero_cols) == 0 or np.all(np.diff(zero_cols) == 1))


def test_eq_augmentation_is_a_smooth_bounded_per_band_gain() -> None:
    rng = np.random.default_rng(3)
    linear = rng.random((20, 84)) * 5
    x = np.log10(1 + linear).astype(np.float32)
    out = augment_window(x, np.random.default_rng(7), gain_db=0.0, freq_mask=0, eq_db=6.0)
    curve = random_eq_db(np.random.default_rng(7), 84, 6.0)
    np.testing.assert_allclose(out, np.log10(1 + 10 ** (curve / 20) * linear), rtol=1e-4, atol=1e-5)
    for seed in range(50):
        c = random_eq_db(np.random.default_rng(seed), 84, 6.0)
        assert np.abs(c).max() <= 9.0 + 1e-9  # tilt reaches +-3 dB at the ends, the bell +-6 dB
        assert np.abs(np.diff(c)).max() < 1.5  # smooth: no step between neighbouring bands
    assert np.ptp([random_eq_db(np.random.default_rng(s), 84, 6.0)[0] for s in range(50)]) > 3.0
    # the same gain in every frame of the window: the curve does not move within it
    ratio = np.expm1(out * np.log(10)) / linear
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-3)
    with pytest.raises(ConfigError):
        TrainConfig(arch="cnn", data=["x"], augment_eq_db=-1.0)


def test_band_limit_silences_the_bands_above_a_drawn_cutoff() -> None:
    """Every band above the cutoff set to 0 (silence), the rest untouched, the cutoff log-uniform in its
    range; with bandlimit 0 nothing is drawn, so older runs' windows are unchanged."""
    from drumscribe.features import FeatureConfig, band_frequencies

    hz = band_frequencies(FeatureConfig())
    x = np.log10(1 + np.random.default_rng(3).random((20, len(hz))) * 5).astype(np.float32)
    cutoffs = []
    for seed in range(200):
        out = augment_window(x, np.random.default_rng(seed), 0.0, 0, bandlimit=1.0, band_hz=hz)
        silent = (out == 0).all(axis=0)
        assert silent.any() and not silent[hz < 4000].any()  # some bands silenced, none below 4 kHz
        first = int(np.argmax(silent))
        assert silent[first:].all() and np.array_equal(out[:, :first], x[:, :first])  # a wall
        cutoffs.append(hz[first])
    assert min(cutoffs) < 5000 and max(cutoffs) > 12000  # drawn across the range, not fixed
    assert np.mean(np.asarray(cutoffs) < 8000) == pytest.approx(
        0.5, abs=0.15
    )  # log-uniform: half below 8 kHz
    kept = [
        augment_window(x, np.random.default_rng(s), 0.0, 0, bandlimit=0.3, band_hz=hz) for s in range(200)
    ]
    assert np.mean([(k == 0).all(axis=0).any() for k in kept]) == pytest.approx(0.3, abs=0.1)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    augment_window(x, rng_a, 6.0, 6, eq_db=6.0)
    augment_window(x, rng_b, 6.0, 6, eq_db=6.0, bandlimit=0.0, band_hz=hz)
    assert rng_a.random() == rng_b.random()  # off: no extra draws
    with pytest.raises(ValueError, match="band_hz"):
        augment_window(x, np.random.default_rng(0), 0.0, 0, bandlimit=0.5)
    for bad in (
        {"augment_bandlimit": 1.5},
        {"augment_bandlimit_hz": [9000, 4000]},
        {"augment_bandlimit_hz": [0, 1]},
    ):
        with pytest.raises(ConfigError, match="augment_bandlimit"):
            TrainConfig(arch="cnn", data=["x"], **bad)


def test_mixing_sums_the_linear_magnitudes() -> None:
    rng = np.random.default_rng(3)
    la, lb = rng.random((20, 84)) * 5, rng.random((20, 84)) * 2
    a, b = (np.log10(1 + v).astype(np.float32) for v in (la, lb))
    gain = 10 ** (np.random.default_rng(9).uniform(-6, 6) / 20)
    out = mix_windows(a, b, np.random.default_rng(9), gain_db=6.0)
    np.testing.assert_allclose(out, np.log10(1 + la + gain * lb), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mix_windows(a, np.zeros_like(b), rng, gain_db=6.0), a, atol=1e-6)  # + silence
    np.testing.assert_allclose(
        mix_windows(a, b, rng, gain_db=0.0), np.log10(1 + la + lb), rtol=1e-4, atol=1e-5
    )
    for bad in ({"augment_mix": 1.5}, {"augment_mix": -0.1}, {"augment_mix_db": -1.0}):
        with pytest.raises(ConfigError, match="augment_mix"):
            TrainConfig(arch="cnn", data=["x"], **bad)


def test_config_round_trip_and_errors() -> None:
    cfg = TrainConfig(arch="cnn", data=["x"], arch_params={"num_blocks": 1})
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"arch": "cnn", "learning_rate": 1})
    with pytest.raises(ConfigError):
        TrainConfig(monitor="accuracy")
    for bad, why in (
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"lr": float("nan")}, "lr must be finite"),
        ({"lr": float("inf")}, "lr must be finite"),
        ({"grad_clip": 0.0}, "grad_clip"),
    ):
        with pytest.raises(ConfigError, match=why):
            TrainConfig(arch="cnn", data=["x"], **bad)


def test_a_loss_that_is_not_finite_stops_training_with_its_place(
    store: Path, tmp_path: Path, monkeypatch
) -> None:
    from drumscribe.errors import TrainingError
    from drumscribe.train import loss as loss_module

    real = loss_module.weighted_bce_loss
    calls = {"n": 0}

    def nan_on_the_fifth_step(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(loss_module, "weighted_bce_loss", nan_on_the_fifth_step)
    cfg = tiny_config(store, epochs=3, steps_per_epoch=3)
    with pytest.raises(TrainingError, match=r"epoch 2, step 2: the loss \(nan\).*still holds epoch 1"):
        run_training(cfg, tmp_path / "run")


def test_stores_without_a_validation_split_are_refused_before_training(tmp_path: Path) -> None:
    from drumscribe.errors import DatasetLayoutError

    no_val = make_store(tmp_path / "noval", n_tracks=(3, 0, 1))
    with pytest.raises(DatasetLayoutError, match="no tracks in the 'validation' split.*--val-data"):
        run_training(tiny_config(no_val, epochs=1), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_evaluation_refuses_a_store_of_other_features(store: Path, tmp_path: Path) -> None:
    import shutil

    from drumscribe.errors import ModelError

    run = tmp_path / "run"
    run_training(tiny_config(store, epochs=1, steps_per_epoch=1), run)
    other = tmp_path / "fps50"
    shutil.copytree(store, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["feature_config"]["fps"] = 50
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="fps50: its features"):
        evaluate_model(run, [other], progress=False)


def test_a_run_config_file_is_read_under_any_name(store: Path, tmp_path: Path) -> None:
    """``train --config FILE`` reads FILE (not a config.json beside it), its store paths from FILE's folder."""
    from drumscribe.cli import build_parser
    from drumscribe.train.cli import build_config
    from drumscribe.train.loop import save_run_config

    for arch, folder in (("cnn", tmp_path / "a"), ("rnn", tmp_path / "b")):
        folder.mkdir()
        save_run_config(tiny_config(store, arch=arch, arch_params={}), folder, {})
    (tmp_path / "b" / "config.json").rename(tmp_path / "a" / "rnn_run.json")
    args = build_parser().parse_args(
        ["train", "--config", str(tmp_path / "a" / "rnn_run.json"), "--out", "x"]
    )
    cfg = build_config(args)
    assert cfg.arch == "rnn" and cfg.data == [str(store)]


# ---------------------------------------------------------------- scoring


def test_score_activations_perfect_and_shifted(store: Path) -> None:
    s = Store(store)
    outputs = []
    for tid in s.track_ids("test"):
        t = s.targets(tid)
        logits = np.where(t == 1.0, 4.0, -4.0).astype(np.float32)  # peaks exactly on the onsets
        outputs.append((0, tid, logits))
    res = score_activations(outputs, [s])
    n = sum(sum(len(o) for o in s.onsets(t)) for t in s.track_ids("test"))
    assert res["pooled"]["micro_f1"] == pytest.approx(1.0)
    assert sum(res["pooled"]["tp"]) == n
    shifted = [(0, tid, np.roll(z, 6, axis=0)) for _, tid, z in outputs]  # 60 ms late: outside +-50 ms
    assert score_activations(shifted, [s])["pooled"]["micro_f1"] < 0.2


def test_batched_track_activations_equal_one_track_at_a_time(tmp_path: Path) -> None:
    from drumscribe.models import build_model
    from drumscribe.train.evaluate import predict_logits, track_activations

    # 11 equal-length tracks (more than one batch) and one longer than a model chunk
    root = make_store(tmp_path / "eq", n_tracks=(0, 11, 0), frames=120, seed=3, name="eq")
    long_root = make_store(tmp_path / "long", n_tracks=(0, 1, 0), frames=3100, seed=4, name="long")
    stores = [Store(root), Store(long_root)]
    torch.manual_seed(0)
    net = build_model("crnn", num_layers=2, hidden_size=16, cell="gru", conv_channels=4).eval()
    outputs = track_activations(net, stores, "validation", 0.1, 0.3)
    assert [(i, tid) for i, tid, _ in outputs] == [
        (i, tid) for i, s in enumerate(stores) for tid in s.track_ids("validation")
    ]
    for i, tid, logits in outputs:
        single = predict_logits(net, stores[i].features(tid), 0.1, 0.3)
        assert logits.shape == single.shape
        np.testing.assert_allclose(logits, single, atol=1e-4)


# ---------------------------------------------------------------- training runs


def _metric_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in csv.DictReader(fh)]


def test_training_run_folder_and_reproducibility(store: Path, tmp_path: Path) -> None:
    cfg = tiny_config(store)
    reports: list[dict] = []
    results = run_training(cfg, tmp_path / "a", report=reports.append)
    run = tmp_path / "a"
    for name in ("config.json", "metrics.csv", "checkpoint.pt", "results.json", "best/model.json"):
        assert (run / name).is_file(), name
    assert [r["epoch"] for r in reports] == [1, 2, 3]
    for key in (
        "train_loss",
        "val_loss",
        "val_micro_f1",
        "val_macro_f1",
        "val_class_f1",
        "best_val_micro_f1",
    ):
        assert key in reports[-1]
    assert len(reports[-1]["val_class_f1"]) == 5
    assert results["epochs_run"] == 3 and results["test"]["pooled"]["n_tracks"] == 2
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["state"]["epoch"] == 3
    card = json.loads((run / "best" / "model.json").read_text())
    assert card["seed"] == 7 and card["arch"] == "rnn"
    assert card["normalization"]["mean"] == pytest.approx(Store(store).stats["mean"])
    config = json.loads((run / "config.json").read_text())
    assert not Path(config["train_config"]["data"][0]).is_absolute()
    # the best epoch has the best validation micro F1, and the saved model reproduces it
    best = max(reports, key=lambda r: r["val_micro_f1"])
    assert results["best_epoch"] == best["epoch"]
    again = evaluate_model(run, [store], split="validation", progress=False)
    assert again["pooled"]["micro_f1"] == pytest.approx(best["val_micro_f1"])
    # same seed on CPU: the same run
    run_training(cfg, tmp_path / "b")
    assert _metric_rows(tmp_path / "a") == _metric_rows(tmp_path / "b")
    with pytest.raises(OutputExistsError):
        run_training(cfg, tmp_path / "a")
    with pytest.raises(ConfigError, match="lr"):
        run_training(tiny_config(store, lr=1e-2), tmp_path / "a", resume=True)


def test_training_learns_toy_data(store: Path, tmp_path: Path) -> None:
    cfg = tiny_config(
        store, arch="crnn", arch_params={"num_layers": 2, "hidden_size": 16, "cell": "gru"}, epochs=6, lr=1e-2
    )
    results = run_training(cfg, tmp_path / "run")
    assert results["best_validation"]["micro_f1"] > 0.5


def test_warm_start_and_weight_average(store: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    first = tmp_path / "first"
    run_training(tiny_config(store, epochs=2), first)
    # warm start: epoch 0 of the new run *is* the old model (same weights, same normalisation)
    warm = tiny_config(store, epochs=1, lr=1e-12, init_from=str(first / "best"), seed=3)
    run_training(warm, tmp_path / "warm")
    a = load_file(str(first / "best" / "weights.safetensors"))
    b = load_file(str(tmp_path / "warm" / "best" / "weights.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    old = json.loads((first / "best" / "model.json").read_text())["normalization"]
    new = json.loads((tmp_path / "warm" / "best" / "model.json").read_text())["normalization"]
    assert new == old
    config = json.loads((tmp_path / "warm" / "config.json").read_text())
    assert config["train_config"]["init_from"] == "../first/best"
    with pytest.raises(ConfigError, match="architecture parameters"):
        bad = tiny_config(store, arch_params={"num_layers": 1, "hidden_size": 12, "cell": "gru"})
        run_training(TrainConfig(**{**bad.to_dict(), "init_from": str(first / "best")}), tmp_path / "bad")
    # a wider recurrent model grows from a narrower one and starts where it was
    wide = tiny_config(store, epochs=1, lr=1e-12, init_from=str(first / "best"), seed=3)
    wide = TrainConfig(
        **{**wide.to_dict(), "arch_params": {"num_layers": 2, "hidden_size": 20, "cell": "gru"}}
    )
    run_training(wide, tmp_path / "wide")
    small, big = load_model(first / "best"), load_model(tmp_path / "wide" / "best")
    assert big.card["arch_params"]["hidden_size"] == 20
    x = torch.randn(1, 1, 60, 84)
    with torch.no_grad():
        assert torch.allclose(small.net(x), big.net(x), atol=1e-5)
    # a CRNN grows its conv layers (and recurrent layers) from a smaller one and starts where it was
    crnn = {"num_layers": 1, "hidden_size": 6, "cell": "gru", "conv_channels": 2}
    run_training(tiny_config(store, epochs=1, arch="crnn", arch_params=crnn), tmp_path / "c2")
    grown = tiny_config(
        store,
        epochs=1,
        lr=1e-12,
        arch="crnn",
        arch_params={**crnn, "conv_channels": 3, "hidden_size": 7},
        init_from=str(tmp_path / "c2" / "best"),
    )
    run_training(grown, tmp_path / "c3")
    small, big = load_model(tmp_path / "c2" / "best"), load_model(tmp_path / "c3" / "best")
    assert big.card["arch_params"]["conv_channels"] == 3
    # (BatchNorm's running statistics move in training even at lr 1e-12, so the weights are compared)
    s_state, b_state = small.net.state_dict(), big.net.state_dict()
    first_conv = "frontend.blocks.0.layers.0.weight"
    assert torch.allclose(s_state[first_conv], b_state[first_conv][:2], atol=1e-6)
    w_ih = b_state["decoder.rnn.weight_ih_l0"]
    assert w_ih.shape == (3 * 7, 6 * 9)  # 2 * 3 channels x 9 pooled bands in, 7 units x 3 gates
    assert torch.allclose(w_ih[:6, : 4 * 9], s_state["decoder.rnn.weight_ih_l0"][:6], atol=1e-6)
    assert w_ih[:6, 4 * 9 :].abs().max() < 1e-6  # the old units read the new channels through zeros
    with pytest.raises(ConfigError, match="architecture parameters"):  # fewer channels is no growth
        shrink = {**crnn, "conv_channels": 1}
        run_training(
            tiny_config(store, arch="crnn", arch_params=shrink, init_from=str(tmp_path / "c2" / "best")),
            tmp_path / "c1",
        )
    # weight average: best/ holds the averaged weights, which differ from the raw weights in the checkpoint
    avg = tmp_path / "ema"
    results = run_training(tiny_config(store, epochs=2, ema_decay=0.9), avg)
    ckpt = torch.load(avg / "checkpoint.pt", weights_only=True)
    raw = ckpt["model"]
    averaged = {k[len("module.") :]: v for k, v in ckpt["ema"].items() if k.startswith("module.")}
    assert set(averaged) == set(raw)
    assert any(not torch.allclose(raw[k], averaged[k]) for k in raw)
    if results["best_epoch"] == 2:
        best = load_file(str(avg / "best" / "weights.safetensors"))
        assert all(torch.allclose(best[k], averaged[k]) for k in best)
    with pytest.raises(ConfigError, match="ema_decay"):
        tiny_config(store, ema_decay=1.0)


def test_init_from_model_gives_the_architecture_unless_flags_say_otherwise() -> None:
    """`drumscribe train --init-from default --data ...` fine-tunes the shipped model without restating it."""
    import argparse

    from drumscribe.cli import build_parser
    from drumscribe.train.cli import build_config

    card = json.loads(
        (Path(__file__).resolve().parents[1] / "src/drumscribe/pretrained/default/model.json").read_text()
    )

    def config(*flags: str) -> TrainConfig:
        args = build_parser().parse_args(["train", "--data", "d", "--out", "o", *flags])
        assert isinstance(args, argparse.Namespace)
        return build_config(args)

    cfg = config("--init-from", "default")
    assert (cfg.arch, cfg.arch_params) == (card["arch"], card["arch_params"])
    cfg = config("--init-from", "default", "--param", "hidden_size=64")
    assert cfg.arch_params == {**card["arch_params"], "hidden_size": 64}
    cfg = config("--init-from", "default", "--arch", "cnn")
    assert cfg.arch == "cnn" and cfg.arch_params == {}
    assert config().arch_params == {}  # no init model: the architecture's own defaults


def test_keep_epochs_saves_every_epoch_and_may_change_on_resume(store: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from drumscribe.modelio import load_model

    run = tmp_path / "run"
    run_training(tiny_config(store, epochs=1), run)
    assert not (run / "epochs").exists()
    results = run_training(tiny_config(store, epochs=3, keep_epoch_models=True), run, resume=True)
    assert sorted(p.name for p in (run / "epochs").iterdir()) == ["ep002", "ep003"]
    metrics = list(csv.DictReader((run / "metrics.csv").open()))
    for ep in (2, 3):
        folder = run / "epochs" / f"ep{ep:03d}"
        card = json.loads((folder / "model.json").read_text())
        assert card["epoch"] == ep and load_model(folder).name == f"run-ep{ep:03d}"
        row = metrics[ep - 1]
        assert card["scores"]["validation"]["micro_f1"] == pytest.approx(float(row["val_micro_f1"]))
    best = run / "epochs" / f"ep{results['best_epoch']:03d}"
    if results["best_epoch"] > 1:  # the best epoch's folder holds best/'s weights
        a = load_file(str(best / "weights.safetensors"))
        b = load_file(str(run / "best" / "weights.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_dataset_weights_are_window_shares(tmp_path: Path) -> None:
    from drumscribe.data.loader import WindowDataset
    from drumscribe.train.loop import _store_weights

    big = Store(make_store(tmp_path / "big", n_tracks=(12, 1, 1), frames=300, seed=1, name="big"))
    small = Store(make_store(tmp_path / "small", n_tracks=(2, 1, 1), frames=300, seed=2, name="small"))
    ds = WindowDataset(
        [big, small], "train", 100, weights=_store_weights([big, small], [1.0, 1.0]), epoch_windows=4000
    )
    share = np.mean([ds.store_of[ds.draw(i)[0]] == 1 for i in range(len(ds))])
    assert share == pytest.approx(0.5, abs=0.03)
    assert _store_weights([big, small], None) is None


@pytest.mark.slow
def test_resume_after_sigkill(store: Path, tmp_path: Path) -> None:
    cfg = tiny_config(store, epochs=8)
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg.to_dict()))
    run = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "drumscribe.cli",
        "-q",
        "train",
        "--config",
        str(cfg_path),
        "--out",
        str(run),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900  # generous: a loaded machine runs the epochs slowly
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (run / "metrics.csv").is_file() and len(_metric_rows(run)) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "training finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "results.json").exists()
    done = len(_metric_rows(run))
    assert 2 <= done < 8
    assert main(["-q", "train", "--out", str(run), "--resume"]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["epochs_run"] == 8
    rows = _metric_rows(run)
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    # identical to an uninterrupted run with the same seed
    # (another process may sum floats in another order: compare to 1e-6)
    run_training(cfg, tmp_path / "straight")
    straight = _metric_rows(tmp_path / "straight")
    assert len(rows) == len(straight)
    for a, b in zip(rows, straight):
        assert {k: float(v) for k, v in a.items()} == pytest.approx(
            {k: float(v) for k, v in b.items()}, rel=1e-6
        )


# ---------------------------------------------------------------- CLI and thresholds


def test_cli_train_evaluate_and_tune_thresholds(store: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "cli"
    args = ["-q", "train", "--arch", "cnn", "--data", str(store), "--out", str(run), "--epochs", "2"]
    args += ["--param", "num_blocks=1", "--param", "num_layers=1", "--param", "hidden_size=8"]
    args += ["--batch-size", "4", "--window-frames", "100", "--steps-per-epoch", "2", "--seed", "3"]
    args += ["--augment-mix", "0.5", "--augment-mix-db", "3", "--min-velocity", "snare=0.3", "toms=0.1"]
    args += ["--augment-bandlimit", "0.5", "--augment-bandlimit-hz", "3000", "9000"]
    assert main(args) == 0
    cfg = json.loads((run / "config.json").read_text())["train_config"]
    assert cfg["augment_bandlimit"] == 0.5 and cfg["augment_bandlimit_hz"] == [3000.0, 9000.0]
    assert cfg["arch_params"] == {"num_blocks": 1, "num_layers": 1, "hidden_size": 8}
    assert cfg["steps_per_epoch"] == 2 and cfg["epochs"] == 2
    assert cfg["augment_mix"] == 0.5 and cfg["augment_mix_db"] == 3.0
    assert cfg["min_velocity"] == {"snare": 0.3, "toms": 0.1}
    capsys.readouterr()
    for bad, why in (
        ("snare", "CLASS=VELOCITY"),
        ("snare=loud", "CLASS=VELOCITY"),
        ("=0.3", "CLASS=VELOCITY"),
    ):
        assert main([*args[:7], str(tmp_path / "bad"), "--min-velocity", bad]) == 1
        assert why in capsys.readouterr().err
    for bad, why in (("snare=1.5", "in [0, 1)"), ("cowbell=0.3", "unknown class")):
        assert main([*args[:7], str(tmp_path / "bad"), "--epochs", "1", "--min-velocity", bad]) == 1
        assert why in capsys.readouterr().err
    capsys.readouterr()
    assert main(["-q", "evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["datasets"]) == {"toy"}
    pooled = result["pooled"]
    tp, fp, fn = sum(pooled["tp"]), sum(pooled["fp"]), sum(pooled["fn"])
    assert pooled["micro_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    assert main(["-q", "evaluate", str(run), "--data", str(store), "--protocol", "thesis"]) == 0
    assert "kick" in capsys.readouterr().out
    # thresholds tuned on validation are saved in the card, and the card still loads (checksum intact)
    model = load_model(run)
    tuned = tune_thresholds(model, [store], progress=False)
    assert (
        main(["-q", "evaluate", str(run), "--data", str(store), "--tune-thresholds", "--split", "validation"])
        == 0
    )
    assert load_model(run).thresholds.tolist() == tuned
    # a shipped model's card is never rewritten: the user tunes a copy
    from drumscribe.modelio import PRETRAINED_DIR

    card = (PRETRAINED_DIR / "default" / "model.json").read_bytes()
    capsys.readouterr()
    assert main(["-q", "evaluate", "default", "--data", str(store), "--tune-thresholds"]) == 1
    assert "a shipped model" in capsys.readouterr().err
    assert (PRETRAINED_DIR / "default" / "model.json").read_bytes() == card
    at_half = evaluate_model(run, [store], split="validation", threshold=0.5, progress=False)["pooled"][
        "class_f1"
    ]
    at_tuned = evaluate_model(run, [store], split="validation", progress=False)["pooled"]["class_f1"]
    assert all(t >= h - 1e-12 for t, h in zip(at_tuned, at_half))
