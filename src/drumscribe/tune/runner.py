"""Hyper-parameter search with Ray Tune and Optuna (TPE), SPEC section 7 with the decisions of section 0.

:func:`run_tune` searches one architecture on one or more dataset stores:

* every trial is a normal training run (:func:`drumscribe.train.run_training`) writing its own run folder
  ``OUT/trials/<trial_id>/`` with per-epoch checkpoints, and reporting each epoch to Tune;
* each trial gets its own seed (base seed + Optuna trial number), recorded in its config;
* a stopper ends a trial once ``epochs_since_improvement`` reaches the patience (15);
* the best trial is the one with the best validation micro F1 over all its epochs (``scope="all"``); its
  best model is evaluated on the test split(s).

The output folder looks like a training run folder (``config.json``, ``metrics.csv`` of the best trial,
``best/`` model folder, ``results.json``) plus ``trials.csv`` (one row per trial), ``tune.json`` (the
settings) and ``ray/`` (Tune's own experiment state, used by ``resume``).

Ray runs locally by default (no dashboard, short temp dir, no usage stats) or joins a cluster given by
``address``; on a multi-node cluster the output folder must be on storage every node can reach.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DrumscribeError, OutputExistsError
from ..fileio import atomic_open, read_json, write_json
from ..vocab import CLASS_NAMES
from .spaces import OptunaSpace, search_space, split_config

log = logging.getLogger(__name__)

#: Metric the search maximises (validation micro F1 of each epoch).
METRIC = "val_micro_f1"
#: Short Ray temp dir (unix socket paths must stay under ~107 characters).
RAY_TEMP_DIR = "/tmp/ray_ds"
SETTINGS_FILE = "tune.json"
EXPERIMENT_NAME = "tune"
#: Training-config keys the tuner sets itself; they cannot be overridden through ``TuneSettings.train``.
_MANAGED_TRAIN_KEYS = ("arch", "arch_params", "data", "val_data", "test_data", "lr", "weight_decay", "seed")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _absolute(paths: Sequence[str | Path] | None, base: Path | None = None) -> list[str] | None:
    if paths is None:
        return None
    return [str(((base / p) if base is not None else Path(p)).resolve()) for p in paths]


def _relative(paths: Sequence[str] | None, base: Path) -> list[str] | None:
    if paths is None:
        return None
    return [os.path.relpath(p, base.resolve()) for p in paths]


def _error_line(error: Any) -> str:
    """The exception line of a (Ray-wrapped) trial error, without terminal colour codes."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(error)).splitlines() if ln.strip()]
    return (lines[-1] if lines else repr(error))[:300]


@dataclass
class TuneSettings:
    """Everything a tune run needs; saved as ``tune.json`` in the output folder.

    ``fixed`` pins searched parameters (architecture parameters, ``lr`` or ``weight_decay``);
    ``train`` overrides other :class:`~drumscribe.train.TrainConfig` fields (``batch_size``,
    ``steps_per_epoch``...). ``epochs`` None keeps the training default (100). Trials run with
    ``cpus_per_trial`` CPUs (also their torch thread count) and ``gpus_per_trial`` GPUs.
    ``seed`` is the base seed: trial *n* (from 0) trains with ``seed + n``, and the TPE sampler uses ``seed``.
    """

    arch: str = "crnn"
    data: list[str] = field(default_factory=list)
    val_data: list[str] | None = None
    test_data: list[str] | None = None
    trials: int = 15
    epochs: int | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent_trials: int | None = None
    stop_patience: int = 15
    address: str | None = None
    verbose: int = 1

    def __post_init__(self) -> None:
        # absolute paths: Ray workers run in other working directories
        self.data = _absolute(self.data) or []
        self.val_data = _absolute(self.val_data)
        self.test_data = _absolute(self.test_data)
        self.validate()

    def validate(self) -> None:
        if not self.data:
            raise ConfigError("tune needs at least one dataset store (--data)")
        if self.trials < 1:
            raise ConfigError(f"trials must be >= 1, got {self.trials}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            raise ConfigError(
                f"cpus_per_trial must be > 0 and gpus_per_trial >= 0 (got {self.cpus_per_trial}, {self.gpus_per_trial})"
            )
        if self.stop_patience < 1:
            raise ConfigError(f"stop_patience must be >= 1, got {self.stop_patience}")
        managed = sorted(set(self.train) & set(_MANAGED_TRAIN_KEYS))
        if managed:
            raise ConfigError(f"training keys {managed} are set by the tuner; use data/fixed/seed instead")
        search_space(self.arch, self.fixed)  # checks arch and fixed keys

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneSettings:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown tune setting(s): {', '.join(unknown)}")
        return cls(**dict(d))

    def train_config(self, arch_params: dict[str, Any], optimiser: dict[str, float], seed: int) -> Any:
        """The :class:`~drumscribe.train.TrainConfig` of one trial."""
        from ..train import TrainConfig

        d: dict[str, Any] = dict(self.train)
        d.update(
            arch=self.arch,
            arch_params=dict(arch_params),
            data=list(self.data),
            val_data=None if self.val_data is None else list(self.val_data),
            test_data=None if self.test_data is None else list(self.test_data),
            seed=int(seed),
            **optimiser,
        )
        if self.epochs is not None:
            d["epochs"] = int(self.epochs)
        d.setdefault("num_threads", max(1, int(self.cpus_per_trial)))
        return TrainConfig.from_dict(d)


# --------------------------------------------------------------------------------------------- Ray setup


def _ray_environment() -> None:
    """Environment Ray reads at import/start: no usage stats, one pending placement group at a time."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Make sure Ray is running: reuse an initialised Ray, join ``address``, or start a quiet local one.

    Only a Ray started here is shut down on exit.
    """
    _ray_environment()
    import ray

    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"log_to_driver": False}
    if address:  # an existing cluster keeps its own settings
        kwargs["address"] = address
    else:
        kwargs.update(
            address="local",
            include_dashboard=False,
            _temp_dir=RAY_TEMP_DIR,
            num_cpus=num_cpus or os.cpu_count() or 1,
            object_store_memory=256 * 1024 * 1024,
        )
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local Ray instance"
        raise DrumscribeError(f"cannot start/join Ray at {where}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


# --------------------------------------------------------------------------------------------- trials


def _flatten_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Scalars of a training report; per-class lists become ``<key>_<class>`` columns."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key == "val_class_f1" and all(f"val_f1_{c}" in metrics for c in CLASS_NAMES):
            continue  # the per-class columns are in the report already
        if isinstance(value, list | tuple):
            names = CLASS_NAMES if len(value) == len(CLASS_NAMES) else [str(i) for i in range(len(value))]
            for name, v in zip(names, value):
                if isinstance(v, int | float):
                    out[f"{key}_{name}"] = float(v)
        elif isinstance(value, bool):
            out[key] = int(value)
        elif isinstance(value, int | float):
            out[key] = value
        elif hasattr(value, "item"):  # numpy / torch scalar
            out[key] = value.item()
    return out


class _TuneReporter:
    """The ``report`` callback handed to ``run_training``: forwards every epoch to Ray Tune."""

    def __init__(self, run_dir: Path, seed: int):
        self.run_dir = str(run_dir)
        self.seed = int(seed)
        self.calls = 0

    def __call__(self, metrics: Mapping[str, Any]) -> None:
        from ray import tune

        out = _flatten_metrics(metrics)
        out["seed"] = self.seed
        self.calls += 1
        tune.report(out)


def _invalid_report(settings: TuneSettings, seed: int) -> dict[str, Any]:
    """What a trial with an unbuildable parameter combination reports (scored 0, stopped at once)."""
    return {
        "epoch": 0,
        METRIC: 0.0,
        "best_val_micro_f1": 0.0,
        "epochs_since_improvement": settings.stop_patience,
        "invalid_params": 1,
        "seed": seed,
    }


def run_trial(config: dict[str, Any], settings: dict[str, Any], trials_dir: str) -> None:
    """Ray Tune trainable: one training run with the trial's parameters, resumed if its folder has a checkpoint."""
    from ray import tune

    from ..models import valid_params
    from ..train import run_training

    s = TuneSettings.from_dict(settings)
    arch_params, optimiser, seed = split_config(s.arch, config)
    seed = int(s.seed if seed is None else seed)
    trial_id = tune.get_context().get_trial_id()
    run_dir = Path(trials_dir) / str(trial_id)
    if not valid_params(s.arch, arch_params):
        log.warning(
            "trial %s: parameters %s do not build a %s model; scored 0", trial_id, arch_params, s.arch
        )
        tune.report(_invalid_report(s, seed))
        return
    cfg = s.train_config(arch_params, optimiser, seed)
    # resume=True is idempotent: a fresh folder starts from scratch, a restored trial continues its checkpoint
    reporter = _TuneReporter(run_dir, seed)
    run_training(cfg, run_dir, resume=True, report=reporter)
    if reporter.calls == 0 and (run_dir / "metrics.csv").is_file():
        # a restored trial whose run had finished all its epochs before the interruption: Tune still
        # needs one result with the metric, so report the run's last epoch again
        rows = _read_metrics_csv(run_dir / "metrics.csv")
        if rows:
            reporter(rows[-1])


# --------------------------------------------------------------------------------------------- outputs


def _trial_id(result: Any) -> str | None:
    """A Tune result's trial id (from its metrics, else from its folder name ``run_trial_<id>_...``)."""
    trial_id = (result.metrics or {}).get("trial_id")
    if trial_id is None and result.path:
        parts = Path(result.path).name.split("_")
        trial_id = parts[2] if len(parts) > 2 and parts[0] == "run" else None
    return None if trial_id is None else str(trial_id)


def _read_metrics_csv(path: Path) -> list[dict[str, float]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def _trial_rows(result_grid: Any, settings: TuneSettings, trials_dir: Path) -> list[dict[str, Any]]:
    """One row per trial: id, seed, parameters, best epoch and its validation scores, status.

    Epoch scores come from the trial's own ``metrics.csv`` (complete even when Tune's record of a
    restored trial is not), else from Tune's results.
    """
    searched = list(search_space(settings.arch, settings.fixed))
    score_keys = [METRIC, "val_macro_f1", *[f"val_f1_{c}" for c in CLASS_NAMES], "val_loss"]
    rows = []
    for result in result_grid:
        config = dict(result.config or {})
        trial_id = _trial_id(result)
        row: dict[str, Any] = {
            "trial_id": trial_id,
            "status": "error" if result.error else "ok",
            "seed": config.get("seed"),
        }
        for key in searched:
            row[key] = config.get(key)
        epochs: list[dict[str, float]] = []
        metrics_path = trials_dir / str(trial_id) / "metrics.csv"
        if trial_id is not None and metrics_path.is_file():
            epochs = _read_metrics_csv(metrics_path)
        else:
            df = result.metrics_dataframe
            if df is not None and len(df) and METRIC in df:
                epochs = [
                    {k: float(v) for k, v in r.items() if isinstance(v, int | float)}
                    for r in df.to_dict("records")
                ]
        epochs = [e for e in epochs if METRIC in e]
        if epochs:
            best = max(epochs, key=lambda e: e[METRIC])  # first of equal maxima
            row["epochs"] = int(max(e.get("epoch", 0) for e in epochs))
            row["best_epoch"] = int(best["epoch"]) if "epoch" in best else None
            for key in score_keys:
                if key in best:
                    row[key] = best[key]
            if any(e.get("invalid_params", 0) > 0 for e in epochs):
                row["status"] = "invalid"
            if (result.metrics or {}).get("time_total_s") is not None:
                row["time_s"] = float(result.metrics["time_total_s"])
        else:
            row[METRIC] = None
        if trial_id is not None:
            row["run_dir"] = str(Path(trials_dir.name) / trial_id)
        if result.error:
            row["error"] = _error_line(result.error)
        rows.append(row)
    rows.sort(key=lambda r: (r.get("seed") is None, r.get("seed")))
    return rows


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def _copy_tree_atomic(src: Path, dst: Path) -> None:
    """Copy folder ``src`` to ``dst``, replacing it; a half-copied folder never sits at ``dst``."""
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        dst.rename(old)
    tmp.rename(dst)
    shutil.rmtree(old, ignore_errors=True)


def _copy_file_atomic(src: Path, dst: Path) -> None:
    with atomic_open(dst, "wb") as fh, open(src, "rb") as fin:
        shutil.copyfileobj(fin, fh)


def test_store_paths(settings: TuneSettings) -> list[str]:
    """Store folders the selected model is tested on: ``test_data``, else those of ``data`` with a test split."""
    from ..data.store import Store

    candidates = settings.test_data if settings.test_data is not None else settings.data
    return [p for p in candidates if Store(p).track_ids("test")]


def evaluate_selected(
    model_dir: Path, stores: Sequence[str], settings: TuneSettings
) -> dict[str, Any] | None:
    """Test scores of the selected model on ``stores`` (None when there is no test split)."""
    if not stores:
        log.warning("no test split in %s; the selected model is not tested", ", ".join(settings.data))
        return None
    from ..train import evaluate_model

    window_s = float(settings.train.get("eval_window_s", 0.05))
    return evaluate_model(str(model_dir), [str(s) for s in stores], split="test", window_s=window_s)


def finalize(result_grid: Any, settings: TuneSettings, out: Path) -> dict[str, Any]:
    """Write trials.csv, pick the best trial, copy its outputs, test its model and write results.json."""
    from ..train.loop import CONFIG_NAME, load_run_config, save_run_config

    trials_dir = out / "trials"
    rows = _trial_rows(result_grid, settings, trials_dir)
    _write_csv(out / "trials.csv", rows)
    scored = [r for r in rows if r.get(METRIC) is not None and r["status"] == "ok"]
    if not scored:
        errors = [r.get("error", "") for r in rows if r.get("error")]
        raise DrumscribeError(
            f"{out}: no trial finished an epoch ({len(rows)} trials)"
            + (f"; first error: {errors[0]}" if errors else "")
        )
    # best validation micro F1 over all epochs of all trials (Tune's scope="all"); ties: lowest seed
    best_row = max(scored, key=lambda r: float(r[METRIC]))
    best_id = str(best_row["trial_id"])
    run_dir = trials_dir / best_id
    if not (run_dir / "best").is_dir():
        raise DrumscribeError(f"{run_dir}: the best trial has no best/ model folder")
    _copy_tree_atomic(run_dir / "best", out / "best")
    if (run_dir / "metrics.csv").is_file():
        _copy_file_atomic(run_dir / "metrics.csv", out / "metrics.csv")
    # the config is written again, not copied: its store paths are relative to the folder it is in
    if (run_dir / CONFIG_NAME).is_file():
        raw = read_json(run_dir / CONFIG_NAME)
        extra = {k: v for k, v in raw.items() if k not in ("train_config", "paths_relative_to")}
        save_run_config(load_run_config(run_dir), out, extra)
    trial_results = read_json(run_dir / "results.json") if (run_dir / "results.json").is_file() else {}
    stores = test_store_paths(settings)
    test = evaluate_selected(out / "best", stores, settings)
    best_config = next(dict(r.config or {}) for r in result_grid if _trial_id(r) == best_id)
    arch_params, optimiser, seed = split_config(settings.arch, best_config)
    results = {
        "arch": settings.arch,
        "arch_params": arch_params,
        **optimiser,
        "seed": seed,
        "best_trial": best_id,
        "best_epoch": best_row.get("best_epoch"),
        "validation": {k: v for k, v in best_row.items() if k.startswith("val_")},
        "best_val_micro_f1": best_row[METRIC],
        "trial_results": trial_results,
        "test_data": stores,
        "test": test,
        "n_trials": len(rows),
        "n_ok": len(scored),
        "search_space": search_space(settings.arch, settings.fixed),
        "settings": settings.to_dict(),
    }
    write_json(out / "results.json", results)
    log.info("%s: best trial %s, val micro F1 %.4f", out, best_id, float(best_row[METRIC]))
    return results


# --------------------------------------------------------------------------------------------- entry point


#: tune settings that say how a search runs, not what it searches: they may change on resume
RUN_ONLY_SETTINGS = ("address", "verbose", "max_concurrent_trials")


def saved_settings(out: str | Path) -> TuneSettings | None:
    """The settings a tune folder was run with (``tune.json``, store paths absolute again), or None."""
    out = Path(out)
    path = out / SETTINGS_FILE
    if not path.is_file():
        return None
    d = read_json(path)
    for key in ("data", "val_data", "test_data"):
        d[key] = _absolute(d.get(key), out)
    d.pop("paths_relative_to", None)
    return TuneSettings.from_dict(d)


def changed_settings(saved: TuneSettings, settings: TuneSettings) -> dict[str, tuple[Any, Any]]:
    """{setting: (saved, given)} of the settings that differ in what is searched."""
    return {
        k: (v, getattr(settings, k))
        for k, v in saved.to_dict().items()
        if k not in RUN_ONLY_SETTINGS and getattr(settings, k) != v
    }


def _load_or_save_settings(settings: TuneSettings, out: Path, resume: bool) -> TuneSettings:
    path = out / SETTINGS_FILE
    if path.is_file():
        if not resume:
            raise OutputExistsError(
                f"{out}: holds a tune run already; pass resume=True (--resume) to continue it"
            )
        saved = saved_settings(out)
        assert saved is not None
        changed = changed_settings(saved, settings)
        if changed:
            log.warning("%s: resuming with the saved settings; ignoring changed %s", out, sorted(changed))
        saved.address, saved.verbose = settings.address, settings.verbose
        saved.max_concurrent_trials = settings.max_concurrent_trials
        return saved
    d = settings.to_dict()
    for key in ("data", "val_data", "test_data"):
        d[key] = _relative(d[key], out)  # relative to the output folder, so the folder can move
    d["paths_relative_to"] = "tune folder"
    write_json(path, d)
    return settings


def _check_stores(settings: TuneSettings) -> None:
    """A clear error for a bad store or training setting now, not inside a Ray worker."""
    from ..data.store import Store

    for p in [*settings.data, *(settings.val_data or []), *(settings.test_data or [])]:
        Store(p)
    settings.train_config({}, {}, settings.seed)  # unknown or invalid --train settings


def run_tune(settings: TuneSettings, out_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """Search ``settings.arch`` on ``settings.data``; write the run folder ``out_dir``; return results.json's dict.

    With ``resume`` an interrupted search continues (``Tuner.restore``: finished trials are kept, unfinished
    ones restart from their run folder's checkpoint); a finished search returns its saved results.
    """
    out = Path(out_dir).resolve()
    if resume and (out / "results.json").is_file():
        log.info("%s: tune run finished already", out)
        return read_json(out / "results.json")
    _check_stores(settings)  # before tune.json is written: a typo must not claim the folder
    out.mkdir(parents=True, exist_ok=True)
    given = settings
    settings = _load_or_save_settings(settings, out, resume)
    if settings is not given:  # resuming: the saved settings' stores
        _check_stores(settings)
    _ray_environment()
    with ray_session(settings.address):
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch

        from .stopper import EpochsSinceImprovementStopper

        trials_dir = out / "trials"
        trials_dir.mkdir(exist_ok=True)
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, settings=settings.to_dict(), trials_dir=str(trials_dir)),
            {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial},
        )
        storage = out / "ray"
        experiment = storage / EXPERIMENT_NAME
        if resume and tune.Tuner.can_restore(str(experiment)):
            log.info("%s: restoring the interrupted search", experiment)
            tuner = tune.Tuner.restore(
                str(experiment), trainable=trainable, resume_unfinished=True, resume_errored=True
            )
        else:
            if experiment.exists():
                shutil.rmtree(experiment)
            searcher = OptunaSearch(
                space=OptunaSpace(settings.arch, dict(settings.fixed), settings.seed),
                metric=METRIC,
                mode="max",
                seed=settings.seed,
            )
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    num_samples=settings.trials,
                    max_concurrent_trials=settings.max_concurrent_trials,
                ),
                run_config=tune.RunConfig(
                    name=EXPERIMENT_NAME,
                    storage_path=str(storage),
                    stop=EpochsSinceImprovementStopper(settings.stop_patience),
                    failure_config=tune.FailureConfig(max_failures=0),
                    verbose=settings.verbose,
                ),
            )
        result_grid = tuner.fit()
    check_search_ended(result_grid, settings.trials, out)
    return finalize(result_grid, settings, out)


def check_search_ended(result_grid: Any, trials: int, out: Path) -> None:
    """Raise unless all ``trials`` trials of the search ended (finished, stopped or failed): Tune returns
    from an interrupted search (Ctrl-C) too, and a choice among trials cut short would be saved as final."""
    ended = result_grid.num_terminated + result_grid.num_errors
    if len(result_grid) < trials or ended < len(result_grid):
        raise DrumscribeError(
            f"{out}: the search stopped before it ended ({ended} of {trials} trials ended); nothing was chosen "
            "or saved as its result. Run the same command with --resume to finish it"
        )


__all__ = ["METRIC", "TuneSettings", "check_search_ended", "finalize", "ray_session", "run_trial", "run_tune"]
