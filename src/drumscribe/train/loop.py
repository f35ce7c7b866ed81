"""The training loop: AdamW, gradient clipping, ReduceLROnPlateau, early stopping, checkpoints, resume.

A run folder holds::

    config.json       the TrainConfig (store paths relative to the run folder), statistics, versions
    metrics.csv       one row per finished epoch
    checkpoint.pt     model/optimiser/scheduler (and weight-average) state, epoch, RNG state, best metric
                      (atomic, every epoch)
    best/             the model folder (weights + card) of the best validation micro F1 so far
    epochs/epNNN/     with ``keep_epoch_models``: every epoch's model folder
    results.json      best validation scores and test scores, written at the end

Everything in ``checkpoint.pt`` is tensors or plain Python values, so it loads with
``torch.load(weights_only=True)``. A run killed at any point resumes from the last finished epoch.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..data.loader import WindowDataset, combined_statistics
from ..data.store import Store
from ..errors import ConfigError, DatasetLayoutError, OutputExistsError, TrainingError
from ..features import FeatureConfig, band_frequencies
from ..fileio import atomic_open, atomic_path, read_json, write_json
from ..vocab import CLASS_NAMES
from .config import TrainConfig
from .windows import augment_window, mix_windows

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.csv"
CHECKPOINT_NAME = "checkpoint.pt"
RESULTS_NAME = "results.json"
BEST_DIR = "best"
EPOCHS_DIR = "epochs"
#: Config keys that may change when a run is resumed (they do not change the result on CPU).
RESUME_MUTABLE = ("device", "num_workers", "num_threads", "epochs", "keep_epoch_models")

METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "val_loss",
    "val_micro_f1",
    "val_macro_f1",
    *[f"val_f1_{c}" for c in CLASS_NAMES],
    "best_val_micro_f1",
    "best_epoch",
    "epochs_since_improvement",
    "lr",
    "epoch_time_s",
]


def resolve_device(device: str = "auto") -> Any:
    """``auto`` picks CUDA, then Apple MPS, then CPU."""
    import torch

    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _relative(paths: list[str] | None, base: Path) -> list[str] | None:
    if paths is None:
        return None
    out = []
    for p in paths:
        try:
            out.append(os.path.relpath(Path(p).resolve(), base.resolve()))
        except ValueError:  # another drive on Windows
            out.append(str(Path(p).resolve()))
    return out


def _absolute(paths: list[str] | None, base: Path) -> list[str] | None:
    if paths is None:
        return None
    return [str(p) if Path(p).is_absolute() else os.path.normpath(base / p) for p in paths]


def _init_path(init_from: str | None) -> str | None:
    """``init_from`` as an absolute path when it names a folder, else as given (a shipped model name)."""
    if init_from is None or not Path(init_from).is_dir():
        return init_from
    return str(Path(init_from).resolve())


def save_run_config(cfg: TrainConfig, out: Path, extra: dict[str, Any]) -> None:
    """Write ``config.json``: the config with store paths relative to the run folder, plus ``extra``."""
    d = cfg.to_dict()
    for key in ("data", "val_data", "test_data"):
        d[key] = _relative(d[key], out)
    if d.get("init_from") and Path(d["init_from"]).is_dir():
        d["init_from"] = _relative([d["init_from"]], out)[0]  # type: ignore[index]
    write_json(out / CONFIG_NAME, {"train_config": d, "paths_relative_to": "run folder", **extra})


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The TrainConfig of a run folder, with store paths made absolute again."""
    return read_run_config(Path(run_dir) / CONFIG_NAME)


def read_run_config(path: str | Path) -> TrainConfig:
    """The TrainConfig of a run's ``config.json`` at ``path`` (under any name), its store paths made absolute
    again from the folder the file is in."""
    path = Path(path)
    run_dir = path.parent
    if not path.is_file():
        raise ConfigError(f"{path}: no training config (not a drumscribe run folder)")
    d = dict(read_json(path)["train_config"])
    for key in ("data", "val_data", "test_data"):
        d[key] = _absolute(d.get(key), run_dir)
    init = d.get("init_from")
    if init and not Path(init).is_absolute() and (run_dir / init).is_dir():
        d["init_from"] = os.path.normpath(run_dir / init)
    return TrainConfig.from_dict(d)


def _read_metrics(path: Path, upto_epoch: int) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh) if int(row["epoch"]) <= upto_epoch]


def _write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())


def _check_feature_configs(stores: list[Store]) -> dict[str, Any]:
    ref = stores[0].feature_config
    for s in stores[1:]:
        if s.feature_config != ref:
            raise DatasetLayoutError(
                f"{s.root}: feature config {s.feature_config} differs from {stores[0].root} ({ref}); "
                "stores trained together must share their features"
            )
    return dict(ref)


def _seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_training(
    cfg: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` into run folder ``out_dir`` and return the results (also in ``results.json``).

    ``report`` is called after every epoch with the metrics row plus ``val_class_f1`` (a list); Ray Tune
    trainables pass a function calling ``tune.report``. With ``resume`` an existing run continues from
    its last checkpoint (its ``config.json`` must match ``cfg`` except for device/workers/threads/epochs).
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from ..modelio import make_card, save_model
    from ..models import build_model, count_parameters
    from ..models.blocks import grow_state
    from .evaluate import evaluate_model, open_stores, score_activations, track_activations
    from .loss import weighted_bce_loss

    cfg.validate()
    if not cfg.data:
        raise ConfigError("no training data: give at least one store folder")
    out = Path(out_dir)
    ckpt_path = out / CHECKPOINT_NAME
    if out.exists() and (out / CONFIG_NAME).is_file() and not resume:
        raise OutputExistsError(f"{out}: a training run exists here; resume it or choose another folder")
    if resume and (out / CONFIG_NAME).is_file():
        saved = load_run_config(out).to_dict()
        now = cfg.to_dict()
        for key in ("data", "val_data", "test_data"):
            for d in (saved, now):
                d[key] = None if d[key] is None else [str(Path(p).resolve()) for p in d[key]]
        for d in (saved, now):
            d["init_from"] = _init_path(d.get("init_from"))
        diff = sorted(k for k in now if k not in RESUME_MUTABLE and now[k] != saved[k])
        if diff:
            raise ConfigError(f"{out}: cannot resume with a different config ({', '.join(diff)} changed)")
    out.mkdir(parents=True, exist_ok=True)

    if cfg.num_threads:
        torch.set_num_threads(int(cfg.num_threads))
    device = resolve_device(cfg.device)
    train_stores = open_stores(cfg.data)
    val_stores = open_stores(cfg.val_data) if cfg.val_data else train_stores
    test_stores = open_stores(cfg.test_data) if cfg.test_data else train_stores
    feature_config = _check_feature_configs(train_stores + val_stores)
    if not any(s.track_ids("validation") for s in val_stores):  # found now, not after the first epoch
        names = ", ".join(str(s.root) for s in val_stores)
        raise DatasetLayoutError(
            f"{names}: no tracks in the 'validation' split to choose epochs on; give stores that have one "
            "with --val-data"
        )
    stats = combined_statistics(train_stores, "train")
    mean, std = float(stats["mean"]), float(stats["std"])
    init_state = None
    if cfg.init_from:
        init_state, mean, std = _warm_start(cfg, feature_config)
    if not std > 0:
        raise DatasetLayoutError(f"{cfg.data}: training features have zero variance")
    class_weights = torch.tensor(stats["class_weights"], dtype=torch.float32, device=device)
    n_windows = cfg.steps_per_epoch * cfg.batch_size if cfg.steps_per_epoch else None
    augment = None
    if (
        cfg.augment_gain_db > 0
        or cfg.augment_freq_mask > 0
        or cfg.augment_eq_db > 0
        or cfg.augment_bandlimit > 0
    ):
        augment = partial(
            augment_window,
            gain_db=cfg.augment_gain_db,
            freq_mask=cfg.augment_freq_mask,
            eq_db=cfg.augment_eq_db,
            bandlimit=cfg.augment_bandlimit,
            band_hz=band_frequencies(FeatureConfig.from_dict(feature_config)),
            bandlimit_hz=(float(cfg.augment_bandlimit_hz[0]), float(cfg.augment_bandlimit_hz[1])),
        )
    train_set = WindowDataset(
        train_stores,
        "train",
        cfg.window_frames,
        mode="train",
        weights=_store_weights(train_stores, cfg.dataset_weights),
        seed=cfg.seed,
        mean=mean,
        std=std,
        epoch_windows=n_windows,
        augment=augment,
        mix=partial(mix_windows, gain_db=cfg.augment_mix_db) if cfg.augment_mix > 0 else None,
        mix_prob=cfg.augment_mix,
        min_velocity=class_floors(cfg.min_velocity, train_stores[0].classes),
    )

    _seed_everything(cfg.seed)
    net = build_model(cfg.arch, **cfg.arch_params).to(device)
    arch_params = _full_params(cfg.arch, cfg.arch_params)
    if init_state is not None:
        fresh = net.state_dict()
        if any(init_state[k].shape != v.shape for k, v in fresh.items() if k in init_state):
            init_state = grow_state(init_state, fresh)  # a narrower model (see _warm_start)
        net.load_state_dict(init_state)
    ema = None
    if cfg.ema_decay > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    mode = "max" if cfg.monitor == "f1" else "min"
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=cfg.plateau_factor, patience=cfg.plateau_patience
    )
    state: dict[str, Any] = {
        "epoch": 0,
        "best_val_micro_f1": -math.inf,
        "best_epoch": 0,
        "best_monitor": -math.inf if mode == "max" else math.inf,
        "epochs_since_improvement": 0,
        "best_val": None,
    }
    if resume and ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        net.load_state_dict(ckpt["model"])
        if ema is not None:
            if "ema" not in ckpt:
                raise ConfigError(f"{ckpt_path}: checkpoint has no weight average to resume")
            ema.load_state_dict(ckpt["ema"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["torch_rng"])
        state.update(ckpt["state"])
        log.info("%s: resuming after epoch %d", out, state["epoch"])
    elif resume:
        log.info("%s: no checkpoint, starting from scratch", out)
    rows: list[dict[str, Any]] = _read_metrics(out / METRICS_NAME, state["epoch"])

    save_run_config(
        cfg,
        out,
        {
            "arch_params": arch_params,
            "feature_config": feature_config,
            "normalization": {"mean": mean, "std": std},
            "normalization_source": cfg.init_from or "training stores",
            "class_weights": stats["class_weights"],
            "statistics": stats,
            "n_parameters": count_parameters(net),
            "n_train_tracks": train_set.n_tracks,
            "drumscribe_version": __version__,
            "torch_version": torch.__version__,
            "device": str(device),
        },
    )
    log.info(
        "training %s (%d parameters) on %d tracks, device %s",
        cfg.arch,
        count_parameters(net),
        train_set.n_tracks,
        device,
    )

    run_name = out.resolve().name
    training_data = [{"name": s.name, "path": str(s.root)} for s in train_stores]

    def card_of(val_scores: dict[str, Any], name: str, epoch: int) -> dict[str, Any]:
        return make_card(
            cfg.arch,
            arch_params,
            feature_config,
            mean,
            std,
            thresholds=[cfg.threshold] * len(CLASS_NAMES),
            name=name,
            training_data=training_data,
            scores={"validation": val_scores},
            seed=cfg.seed,
            epoch=epoch,
            train_config=cfg.to_dict(),
            n_parameters=count_parameters(net),
        )

    stopped_early = state["epochs_since_improvement"] >= cfg.early_stop_patience
    while state["epoch"] < cfg.epochs and not stopped_early:
        epoch = state["epoch"] + 1
        t0 = time.monotonic()
        train_set.set_epoch(epoch)
        loader = DataLoader(
            train_set,
            batch_size=cfg.batch_size,
            shuffle=False,
            num_workers=cfg.num_workers,
            persistent_workers=False,
        )
        net.train()
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False, disable=None)
        for step, (x, y) in enumerate(bar, start=1):
            x = x.to(device)
            y = y.to(device)
            logits = net(x)
            loss = weighted_bce_loss(logits, y, class_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            if not (torch.isfinite(loss) and torch.isfinite(norm)):
                kept = (
                    f"{ckpt_path} still holds epoch {state['epoch']} (--resume continues from it)"
                    if state["epoch"]
                    else "no epoch had finished"
                )
                raise TrainingError(
                    f"{out}: epoch {epoch}, step {step}: the loss ({float(loss.detach()):g}) or the gradient norm "
                    f"({float(norm):g}) is not finite, so training stopped before the weights took it; try a "
                    f"lower --lr or --grad-clip. {kept}"
                )
            optimizer.step()
            if ema is not None:
                ema.update_parameters(net)
            total += float(loss.detach()) * x.shape[0]
            count += x.shape[0]
            bar.set_postfix(loss=f"{total / count:.4f}")
        train_loss = total / max(count, 1)

        eval_net = net if ema is None else ema.module
        outputs = track_activations(eval_net, val_stores, "validation", mean, std, device)
        val = score_activations(
            outputs, val_stores, cfg.threshold, "standard", cfg.eval_window_s, with_loss=True
        )
        pooled = val["pooled"]
        epoch_val = {"loss": float(val["loss"]), **pooled, "datasets": val["datasets"]}
        val_f1 = float(pooled["micro_f1"])
        monitor_value = val_f1 if cfg.monitor == "f1" else float(val["loss"])
        scheduler.step(monitor_value)
        better = (
            monitor_value > state["best_monitor"] if mode == "max" else monitor_value < state["best_monitor"]
        )
        if better:
            state["best_monitor"] = monitor_value
            state["epochs_since_improvement"] = 0
        else:
            state["epochs_since_improvement"] += 1
        improved_f1 = val_f1 > state["best_val_micro_f1"]
        if improved_f1:
            state["best_val_micro_f1"] = val_f1
            state["best_epoch"] = epoch
            state["best_val"] = epoch_val
        state["epoch"] = epoch
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": float(val["loss"]),
            "val_micro_f1": val_f1,
            "val_macro_f1": float(pooled["macro_f1"]),
            **{f"val_f1_{c}": float(f) for c, f in zip(CLASS_NAMES, pooled["class_f1"])},
            "best_val_micro_f1": state["best_val_micro_f1"],
            "best_epoch": state["best_epoch"],
            "epochs_since_improvement": state["epochs_since_improvement"],
            "lr": float(optimizer.param_groups[0]["lr"]),
            "epoch_time_s": time.monotonic() - t0,
        }
        rows.append(row)

        if improved_f1:
            save_model(eval_net, card_of(state["best_val"], run_name, epoch), out / BEST_DIR)
        if cfg.keep_epoch_models:
            save_model(
                eval_net,
                card_of(epoch_val, f"{run_name}-ep{epoch:03d}", epoch),
                out / EPOCHS_DIR / f"ep{epoch:03d}",
            )
        _write_metrics(out / METRICS_NAME, rows)
        _save_checkpoint(ckpt_path, net, optimizer, scheduler, state, ema)
        log.info(
            "epoch %d: train loss %.4f, val loss %.4f, val micro F1 %.4f (best %.4f @ %d), lr %.2g, %.1f s",
            epoch,
            train_loss,
            row["val_loss"],
            val_f1,
            state["best_val_micro_f1"],
            state["best_epoch"],
            row["lr"],
            row["epoch_time_s"],
        )
        if report is not None:
            report({**row, "val_class_f1": list(pooled["class_f1"])})
        stopped_early = state["epochs_since_improvement"] >= cfg.early_stop_patience

    if not (out / BEST_DIR).is_dir():
        raise DatasetLayoutError(f"{out}: no epoch finished, no model to evaluate")
    test = None
    if any(s.track_ids("test") for s in test_stores):
        test = evaluate_model(
            out / BEST_DIR, test_stores, split="test", window_s=cfg.eval_window_s, device=device
        )
    results = {
        "arch": cfg.arch,
        "arch_params": arch_params,
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "stopped_early": bool(stopped_early),
        "monitor": cfg.monitor,
        "seed": cfg.seed,
        "best_validation": state["best_val"],
        "test": test,
        "model": BEST_DIR,
    }
    write_json(out / RESULTS_NAME, results)
    return results


def _full_params(arch: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of ``arch`` with its defaults filled in and the recurrent cell's name in lower case (a
    model's full parameter set, as saved in its card)."""
    from ..models import default_params

    full = {**default_params(arch), **params}
    if "cell" in full:
        full["cell"] = str(full["cell"]).lower()
    return full


#: what an ``--init-from`` model may have less of, per architecture (grown by models.blocks.grow_state)
WIDENABLE = {"rnn": ("hidden_size",), "crnn": ("hidden_size", "conv_channels")}


def _warm_start(cfg: TrainConfig, feature_config: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """The weights and normalisation (mean, std) of ``cfg.init_from``, checked against this run."""
    from ..modelio import load_model

    loaded = load_model(cfg.init_from, device="cpu", backend="torch")
    card = loaded.card
    where = loaded.path
    if card["arch"] != cfg.arch:
        raise ConfigError(f"{where}: --init-from model is {card['arch']!r}, this run trains {cfg.arch!r}")
    mine = _full_params(cfg.arch, cfg.arch_params)
    theirs_params = _full_params(cfg.arch, card["arch_params"])
    diff = sorted(k for k in set(mine) | set(theirs_params) if mine.get(k) != theirs_params.get(k))
    growable = WIDENABLE.get(cfg.arch, ())
    if diff and all(k in growable and int(mine[k]) > int(theirs_params[k]) for k in diff):
        log.info(
            "growing %s (%s): the output is unchanged at the start",
            where,
            ", ".join(f"{k} {theirs_params[k]} -> {mine[k]}" for k in diff),
        )
    elif diff:
        shown = ", ".join(f"{k} {theirs_params.get(k)!r} there, {mine.get(k)!r} here" for k in diff)
        grow = f"; only a larger {' or '.join(growable)} can differ (the model grows)" if growable else ""
        raise ConfigError(f"{where}: --init-from model has other architecture parameters ({shown}){grow}")
    theirs = card.get("feature_config", {})
    fdiff = sorted(k for k in feature_config if k in theirs and theirs[k] != feature_config[k])
    if fdiff:
        raise ConfigError(f"{where}: --init-from model used other features ({', '.join(fdiff)})")
    log.info("warm start from %s (epoch %s)", where, card.get("epoch"))
    state = {k: v.detach().clone() for k, v in loaded.net.state_dict().items()}
    return state, loaded.mean, loaded.std


def class_floors(min_velocity: dict[str, float] | None, classes: list[str]) -> list[float] | None:
    """Per-class velocity floors (0 = keep every onset) from a ``{class: floor}`` map, or None."""
    if not min_velocity:
        return None
    unknown = sorted(set(min_velocity) - set(classes))
    if unknown:
        raise ConfigError(
            f"min_velocity: unknown class(es) {unknown}; the stores' classes are {list(classes)}"
        )
    return [float(min_velocity.get(c, 0.0)) for c in classes]


def _store_weights(stores: list[Store], dataset_weights: list[float] | None) -> list[float] | None:
    """Per-store weights for :class:`WindowDataset` (which draws tracks by length x weight) such that
    store ``i`` gives a ``dataset_weights[i] / sum`` share of the windows; None: proportional to size."""
    if dataset_weights is None:
        return None
    frames = [sum(int(s.records[t].n_frames) for t in s.track_ids("train")) for s in stores]
    return [float(w) / f if f else 0.0 for w, f in zip(dataset_weights, frames)]


def _save_checkpoint(
    path: Path, net: Any, optimizer: Any, scheduler: Any, state: dict[str, Any], ema: Any = None
) -> None:
    import torch

    ckpt = {
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "state": state,
    }
    if ema is not None:
        ckpt["ema"] = ema.state_dict()
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
