"""Tuning: search spaces against SPEC section 6/7, seeds, stopper, settings, and a 2-trial Ray Tune run."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from drumscribe.errors import ConfigError, OutputExistsError
from drumscribe.tune import spaces
from drumscribe.tune.runner import TuneSettings, _error_line, _flatten_metrics

# SPEC section 6 spaces, written out by hand (independent of drumscribe.models.SEARCH_SPACES).
SPEC_SPACES = {
    "rnn": {"num_layers": [2, 3, 4, 5, 6], "hidden_size": [72, 144, 288, 576], "cell": ["gru", "lstm"]},
    "cnn": {"num_blocks": [1, 2, 3], "num_layers": [1, 2, 3, 4], "hidden_size": [72, 144, 288, 576]},
    "crnn": {"num_layers": [2, 3, 4, 5], "hidden_size": [72, 144, 288, 576], "cell": ["gru", "lstm"]},
    "ct": {"num_heads": [2, 4, 6, 8], "num_layers": [2, 4, 6, 8, 10], "embed_dim": [72, 144, 288, 576]},
    "vit": {
        "patch_size": [7, 14, 21],
        "num_heads": [2, 4, 6, 8],
        "num_layers": [2, 4, 6, 8, 10],
        "embed_dim": [72, 144, 288, 576],
    },
}


@pytest.mark.parametrize("arch", sorted(SPEC_SPACES))
def test_search_space_is_spec_space_plus_loguniform_optimiser(arch):
    space = spaces.search_space(arch)
    expected = {k: sorted(v) for k, v in SPEC_SPACES[arch].items()}
    assert {k: sorted(v) for k, v in space.items() if k not in ("lr", "weight_decay")} == expected
    assert space["lr"] == ["loguniform", 1e-4, 5e-3]
    assert space["weight_decay"] == ["loguniform", 1e-6, 1e-2]

    dists = spaces.optuna_distributions(arch)
    assert dists["lr"].log and (dists["lr"].low, dists["lr"].high) == (1e-4, 5e-3)
    assert dists["weight_decay"].log and (dists["weight_decay"].low, dists["weight_decay"].high) == (
        1e-6,
        1e-2,
    )
    for key, choices in SPEC_SPACES[arch].items():
        assert sorted(dists[key].choices) == sorted(choices)

    ray_space = spaces.ray_space(arch)
    assert (ray_space["lr"].lower, ray_space["lr"].upper) == (1e-4, 5e-3)
    assert "LogUniform" in type(ray_space["lr"].get_sampler()).__name__
    assert (ray_space["weight_decay"].lower, ray_space["weight_decay"].upper) == (1e-6, 1e-2)
    for key, choices in SPEC_SPACES[arch].items():
        assert sorted(ray_space[key].categories) == sorted(choices)


def test_fixed_values_pin_and_lists_narrow():
    fixed = {"num_layers": 2, "hidden_size": [72, 144], "lr": [1e-3, 2e-3]}
    space = spaces.search_space("crnn", fixed)
    assert "num_layers" not in space
    assert space["hidden_size"] == [72, 144]
    assert space["lr"] == ["loguniform", 1e-3, 2e-3]
    assert space["weight_decay"] == ["loguniform", 1e-6, 1e-2]
    assert spaces.ray_space("crnn", fixed)["num_layers"] == 2
    with pytest.raises(ConfigError, match="patch_size"):
        spaces.search_space("crnn", {"patch_size": 7})
    with pytest.raises(ConfigError, match="low < high"):
        spaces.search_space("crnn", {"lr": [2e-3, 1e-3]})
    with pytest.raises(ConfigError, match="lr must be > 0"):
        spaces.search_space("crnn", {"lr": 0.0})
    with pytest.raises(ConfigError, match="unknown architecture|no search space"):
        spaces.search_space("mlp")


def test_parse_param_value_types_and_lists():
    assert spaces.parse_param_value("crnn", "num_layers", "3") == 3
    assert spaces.parse_param_value("crnn", "cell", "GRU") == "gru"
    assert spaces.parse_param_value("crnn", "hidden_size", "72,144") == [72, 144]
    assert spaces.parse_param_value("ct", "lr", "1e-3") == pytest.approx(1e-3)
    with pytest.raises(ConfigError, match="expected int"):
        spaces.parse_param_value("crnn", "num_layers", "two")
    with pytest.raises(ConfigError, match="not a searched parameter"):
        spaces.parse_param_value("cnn", "cell", "gru")


def test_optuna_space_gives_each_trial_its_seed_and_tpe_is_reproducible():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def run(seed):
        space = spaces.OptunaSpace("vit", {"num_layers": 2}, base_seed=100)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        out = []
        for _ in range(4):
            trial = study.ask()
            constants = space(trial)
            study.tell(trial, float(trial.params["lr"]))
            out.append((constants, dict(trial.params)))
        return out

    first, again = run(7), run(7)
    assert first == again  # same sampler seed, same suggestions
    assert [c["seed"] for c, _ in first] == [100, 101, 102, 103]
    for constants, params in first:
        assert constants["num_layers"] == 2 and "num_layers" not in params
        assert params["patch_size"] in SPEC_SPACES["vit"]["patch_size"]
        assert 1e-4 <= params["lr"] <= 5e-3 and 1e-6 <= params["weight_decay"] <= 1e-2
        arch, opt, seed = spaces.split_config("vit", {**params, **constants})
        assert set(arch) == {"patch_size", "num_heads", "num_layers", "embed_dim"}
        assert set(opt) == {"lr", "weight_decay"} and seed == constants["seed"]
    with pytest.raises(ConfigError, match="neither"):
        spaces.split_config("vit", {"dropout": 0.1})


def test_stopper_fires_at_patience():
    pytest.importorskip("ray")
    from drumscribe.tune.stopper import EpochsSinceImprovementStopper

    stop = EpochsSinceImprovementStopper(15)
    assert not stop("t", {"epochs_since_improvement": 14})
    assert stop("t", {"epochs_since_improvement": 15})
    assert stop("t", {"epochs_since_improvement": 16})
    assert not stop("t", {})
    assert not stop.stop_all()


def test_flatten_metrics_and_error_lines():
    row = {
        "epoch": 3,
        "val_micro_f1": np.float64(0.5),
        "val_class_f1": [0.1, 0.2, 0.3, 0.4, 0.5],
        "note": "x",
    }
    flat = _flatten_metrics(row)
    assert flat["epoch"] == 3 and flat["val_micro_f1"] == 0.5
    assert flat["val_class_f1_toms"] == 0.3 and "note" not in flat
    row2 = {**row, **{f"val_f1_{c}": 0.0 for c in ("kick", "snare", "toms", "hihat", "cymbals")}}
    assert "val_class_f1_kick" not in _flatten_metrics(row2)  # no duplicate per-class columns
    err = "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=1)\n  File x\nValueError: bad store"
    assert _error_line(err) == "ValueError: bad store"


def test_settings_validation(tmp_path):
    with pytest.raises(ConfigError, match="at least one"):
        TuneSettings(arch="crnn", data=[])
    with pytest.raises(ConfigError, match="set by the tuner"):
        TuneSettings(arch="crnn", data=["x"], train={"lr": 1e-3})
    with pytest.raises(ConfigError, match="trials"):
        TuneSettings(arch="crnn", data=["x"], trials=0)
    s = TuneSettings(arch="cnn", data=["rel/store"], fixed={"num_blocks": 1}, train={"batch_size": 4})
    assert Path(s.data[0]).is_absolute()
    assert TuneSettings.from_dict(s.to_dict()) == s
    cfg = s.train_config(
        {"num_blocks": 1, "num_layers": 2, "hidden_size": 72}, {"lr": 2e-3, "weight_decay": 0.0}, 5
    )
    assert (cfg.arch, cfg.seed, cfg.lr, cfg.batch_size, cfg.num_threads) == ("cnn", 5, 2e-3, 4, 1)


def test_cli_reports_a_bad_store(tmp_path, capsys):
    from drumscribe.cli import main

    code = main(["tune", "--arch", "cnn", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "not a drumscribe dataset store" in capsys.readouterr().err
    assert not (tmp_path / "o" / "tune.json").exists()  # the typo does not claim the folder
    code = main(
        ["tune", "--arch", "cnn", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--fix", "cell=gru"]
    )
    assert code == 1


def test_an_interrupted_search_is_not_saved_as_finished(tmp_path):
    """Tune returns from a search stopped by Ctrl-C; unless every trial ended, nothing is chosen."""
    from drumscribe.errors import DrumscribeError
    from drumscribe.tune.runner import check_search_ended

    class Grid(list):
        def __init__(self, terminated, errors, running):
            super().__init__(range(terminated + errors + running))
            self.num_terminated, self.num_errors = terminated, errors

    check_search_ended(Grid(2, 1, 0), 3, tmp_path)
    with pytest.raises(DrumscribeError, match=r"2 of 3 trials ended.*--resume"):
        check_search_ended(Grid(2, 0, 1), 3, tmp_path)
    with pytest.raises(DrumscribeError, match="1 of 3 trials ended"):
        check_search_ended(Grid(1, 0, 0), 3, tmp_path)  # the searcher had not started the others


# ----------------------------------------------------------------------------- end to end (Ray)


def make_toy_store(root: Path, name: str, tracks=(3, 1, 2), frames: int = 500, seed: int = 0) -> Path:
    """A tiny store: noise features with a class-specific band bump at every onset."""
    from drumscribe.data.store import StoreWriter
    from drumscribe.features import FeatureConfig

    rng = np.random.default_rng(seed)
    fc = FeatureConfig()
    writer = StoreWriter(root, name, fc.to_dict())
    for split, n in zip(("train", "validation", "test"), tracks):
        for k in range(n):
            x = rng.normal(0.3, 0.05, size=(frames, fc.n_bands)).astype(np.float32)
            onsets = []
            for c in range(5):
                frames_c = np.sort(rng.choice(np.arange(10, frames - 10), size=frames // 60, replace=False))
                onsets.append(frames_c / 100.0)
                x[frames_c, c * 16 : c * 16 + 16] += 1.0
            writer.write_track(f"{split}_{k}", split, x, onsets)
    writer.finalize()
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _independent_test_counts(model_dir: Path, store_dir: Path) -> tuple[list[int], list[int], list[int]]:
    """TP/FP/FN per class of the model on the test split, matched with mir_eval (not drumscribe.scoring)."""
    import mir_eval
    import torch

    from drumscribe.data.store import Store
    from drumscribe.modelio import load_model
    from drumscribe.peaks import pick_peaks

    model = load_model(model_dir)
    store = Store(store_dir)
    tp, fp, fn = [0] * 5, [0] * 5, [0] * 5
    for tid in store.track_ids("test"):
        x = torch.from_numpy(np.asarray(store.features(tid), dtype=np.float32))
        with torch.no_grad():
            logits = model.net(((x - model.mean) / model.std)[None, None])[0].numpy()
        act = 1.0 / (1.0 + np.exp(-logits))
        est = [t for t, _ in pick_peaks(act, threshold=model.thresholds.tolist(), fps=100.0)]
        for c, ref in enumerate(store.onsets(tid)):
            n_match = len(mir_eval.util.match_events(np.asarray(ref), np.asarray(est[c]), 0.05))
            tp[c] += n_match
            fp[c] += len(est[c]) - n_match
            fn[c] += len(ref) - n_match
    return tp, fp, fn


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_trial_one_epoch_tune(tmp_path):
    pytest.importorskip("ray")
    from drumscribe.tune.runner import run_tune

    store = make_toy_store(tmp_path / "store", "toy")
    out = tmp_path / "tune"
    settings = TuneSettings(
        arch="rnn",
        data=[str(store)],
        trials=2,
        epochs=1,
        fixed={"num_layers": 2, "hidden_size": 72},
        train={"batch_size": 8},
        seed=40,
        max_concurrent_trials=1,
        verbose=0,
    )
    results = run_tune(settings, out)  # a hang is caught by the timeout mark, not by a wall-time assert

    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and results["n_trials"] == 2
    assert sorted(int(r["seed"]) for r in rows) == [40, 41]  # each trial its own, recorded seed
    for r in rows:
        assert r["status"] == "ok" and int(r["epochs"]) == 1
        assert r["cell"] in ("gru", "lstm") and 1e-4 <= float(r["lr"]) <= 5e-3
        run_cfg = json.loads((out / r["run_dir"] / "config.json").read_text())["train_config"]
        assert run_cfg["seed"] == int(r["seed"]) and run_cfg["arch_params"]["hidden_size"] == 72
        assert run_cfg["lr"] == pytest.approx(float(r["lr"]))
    best_val = max(float(r["val_micro_f1"]) for r in rows)
    assert results["best_val_micro_f1"] == pytest.approx(best_val)
    best_row = next(r for r in rows if r["trial_id"] == results["best_trial"])
    assert float(best_row["val_micro_f1"]) == pytest.approx(best_val)
    assert results["arch_params"]["hidden_size"] == 72 and results["arch_params"]["num_layers"] == 2
    assert results["seed"] == int(best_row["seed"])

    # outputs as in training: the best trial's model, metrics and config
    trial_dir = out / "trials" / results["best_trial"]
    assert _sha(out / "best" / "weights.safetensors") == _sha(trial_dir / "best" / "weights.safetensors")
    assert (out / "metrics.csv").read_text() == (trial_dir / "metrics.csv").read_text()
    from drumscribe.train.loop import load_run_config

    # the config is the trial's, with store paths that hold from the tune folder (evaluate OUT finds them)
    assert load_run_config(out) == load_run_config(trial_dir)
    assert load_run_config(out).data == [str(store.resolve())]

    # test scores of the selected model against an independent count with mir_eval
    tp, fp, fn = _independent_test_counts(out / "best", store)
    pooled = results["test"]["pooled"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"]) == (tp, fp, fn)
    f1 = 2 * sum(tp) / (2 * sum(tp) + sum(fp) + sum(fn)) if sum(tp) + sum(fp) + sum(fn) else 0.0
    assert math.isclose(pooled["micro_f1"], f1, abs_tol=1e-9)

    # a finished run resumes to its results without Ray; a fresh start refuses to overwrite
    from drumscribe.tune import runner

    def no_ray(*args, **kwargs):
        raise AssertionError("a finished run must resume without starting Ray")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "ray_session", no_ray)
        assert run_tune(settings, out, resume=True) == results
    with pytest.raises(OutputExistsError):
        run_tune(settings, out)


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_tune_killed_with_sigkill_resumes(tmp_path):
    """``drumscribe tune`` killed (process group, SIGKILL) during its first trial resumes with ``--resume``
    (Tuner.restore) and finishes every trial exactly once."""
    pytest.importorskip("ray")
    import os
    import signal
    import subprocess
    import sys

    store = make_toy_store(tmp_path / "store", "toy", tracks=(2, 1, 1), frames=400)
    out = tmp_path / "tune"
    # fmt: off
    argv = ["tune", "--arch", "rnn", "--data", str(store), "--out", str(out), "--trials", "3", "--epochs", "2",
            "--fix", "num_layers=2", "--fix", "hidden_size=72", "--train", "batch_size=8", "--seed", "5",
            "--max-concurrent", "1"]
    # fmt: on
    proc = subprocess.Popen(
        [sys.executable, "-m", "drumscribe.cli", "-q", *argv],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list(out.glob("trials/*/metrics.csv")):
            assert proc.poll() is None, "the tune process ended before it could be killed"
            time.sleep(0.2)
        assert list(out.glob("trials/*/metrics.csv")), "no trial finished an epoch in time"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray processes it started
        proc.wait()
    assert not (out / "results.json").exists()
    n_done_before = len(list(out.glob("trials/*/results.json")))
    assert n_done_before < 3

    from drumscribe.cli import main

    assert main([*argv, "--resume"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["n_trials"] == 3 and results["n_ok"] == 3
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["seed"]) for r in rows) == [5, 6, 7]  # no trial lost or duplicated
    assert len(list(out.glob("trials/*/config.json"))) == 3
    for r in rows:
        with open(out / r["run_dir"] / "metrics.csv", newline="") as fh:
            epochs = [int(m["epoch"]) for m in csv.DictReader(fh)]
        assert epochs == [1, 2]  # the interrupted trial continued, no epoch repeated or missing
