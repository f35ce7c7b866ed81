"""What the two studies share: named datasets, study cells, their results and their per-test-set scores.

A *dataset* is a name plus one or more store folders (``E=/data/enst,/data/mdb``). A *cell* is one tune
run: an architecture trained on one or more datasets, in the folder
``STUDY/{architecture|datasets}/<ARCH>/<NAMES upper-case, '+'-joined>/`` (the thesis's naming). A cell
is finished when its ``results.json`` exists; its scores on each test set are kept in ``tests.json``
(one entry per test set, added as they are computed), so an interrupted study recomputes nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import read_json, write_json
from ..vocab import CLASS_NAMES

log = logging.getLogger(__name__)

RESULTS_NAME = "results.json"
TESTS_NAME = "tests.json"
STUDY_FILE = "study.json"
STUDY_KINDS = ("architecture", "datasets")
_NAME_OK = re.compile(r"^[A-Za-z0-9_.-]+$")

#: Display names of the architectures, as in the thesis tables.
ARCH_LABELS = {"rnn": "RNN", "cnn": "CNN", "crnn": "CRNN", "ct": "Conv. Transformer", "vit": "ViT"}


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: one or more store folders used together."""

    name: str
    paths: tuple[str, ...]


def parse_dataset_specs(items: Sequence[str]) -> dict[str, DatasetSpec]:
    """``["E=/a,/b", "S=/c"]`` -> ``{"E": DatasetSpec("E", ("/a", "/b")), ...}`` (order kept)."""
    out: dict[str, DatasetSpec] = {}
    for item in items:
        name, sep, paths = item.partition("=")
        name = name.strip()
        if not sep or not name or not paths.strip():
            raise ConfigError(f"--datasets {item!r}: expected NAME=DIR[,DIR...]")
        if not _NAME_OK.match(name):
            raise ConfigError(
                f"dataset name {name!r}: use letters, digits, '-', '_' or '.' only ('+' joins names)"
            )
        if name.upper() in {n.upper() for n in out}:
            raise ConfigError(f"dataset name {name!r} given twice")
        out[name] = DatasetSpec(
            name, tuple(str(Path(p.strip()).resolve()) for p in paths.split(",") if p.strip())
        )
    if not out:
        raise ConfigError("no datasets given (--datasets NAME=DIR[,DIR...])")
    check_dataset_names(out)
    return out


def check_dataset_names(datasets: Mapping[str, Any]) -> None:
    """Refuse names that would share a cell folder (:func:`cell_label`: case and '_'/'-' do not count)."""
    seen: dict[str, str] = {}
    for name in datasets:
        other = seen.setdefault(cell_label([name]), name)
        if other != name:
            raise ConfigError(
                f"dataset names {other!r} and {name!r} would share one cell folder ({cell_label([name])}); "
                "rename one"
            )


def parse_combo(text: str, datasets: Mapping[str, DatasetSpec]) -> tuple[str, ...]:
    """``"E+S"`` -> ``("E", "S")``, checking every name is a known dataset (case-insensitive)."""
    by_upper = {n.upper(): n for n in datasets}
    names = []
    for part in text.split("+"):
        key = part.strip().upper()
        if key not in by_upper:
            raise ConfigError(
                f"combination {text!r}: unknown dataset {part.strip()!r}; known: {', '.join(datasets)}"
            )
        if by_upper[key] in names:
            raise ConfigError(f"combination {text!r} names {part.strip()!r} twice")
        names.append(by_upper[key])
    return tuple(names)


def cell_label(names: Sequence[str]) -> str:
    """Folder/table name of a dataset combination: upper-case names joined by '+', '_' -> '-'."""
    return "+".join(n.upper().replace("_", "-") for n in names)


def cell_dir(study_dir: str | Path, kind: str, arch: str, names: Sequence[str]) -> Path:
    """``STUDY/<kind>/<ARCH>/<NAMES>/``."""
    if kind not in STUDY_KINDS:
        raise ConfigError(f"study kind must be one of {STUDY_KINDS}, not {kind!r}")
    return Path(study_dir) / kind / arch.upper() / cell_label(names)


def record_study(out: Path, kind: str, payload: dict[str, Any]) -> None:
    """Keep what each study of ``out`` ran on in ``study.json`` (for the report and for resuming). A study run
    in parts (``--archs rnn``, then ``--archs cnn``) adds to the record: lists are joined (earlier entries
    first), mappings merged; other values are the latest run's."""
    path = out / STUDY_FILE
    data = read_json(path) if path.is_file() else {}
    before = data.get(kind) or {}
    merged = dict(payload)
    for key, value in payload.items():
        old = before.get(key)
        if isinstance(value, list) and isinstance(old, list):
            merged[key] = old + [v for v in value if v not in old]
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = {**old, **value}
    data[kind] = merged
    write_json(path, data)


def read_study_record(out: Path, kind: str) -> dict[str, Any] | None:
    """What the study ``kind`` of ``out`` ran on, from ``study.json`` (None when it has not run there)."""
    path = out / STUDY_FILE
    return (read_json(path) if path.is_file() else {}).get(kind)


def cell_state(cell: str | Path) -> tuple[bool, tuple[str, ...]]:
    """(finished, test sets scored) of a cell folder, to tell whether a pass over it did new work."""
    return is_finished(cell), tuple(sorted(read_tests(cell)))


def is_finished(cell: str | Path) -> bool:
    return (Path(cell) / RESULTS_NAME).is_file()


def read_tests(cell: str | Path) -> dict[str, Any]:
    path = Path(cell) / TESTS_NAME
    return read_json(path) if path.is_file() else {}


def has_split(spec: DatasetSpec, split: str) -> bool:
    """Whether any store of ``spec`` has tracks in ``split``."""
    from ..data.store import Store

    return any(Store(p).track_ids(split) for p in spec.paths)


def evaluate_cell(
    cell: str | Path, test_sets: Mapping[str, DatasetSpec], window_s: float = 0.05
) -> dict[str, Any]:
    """Score the cell's selected model on each test set not scored yet; returns all of ``tests.json``."""
    from ..train import evaluate_model

    cell = Path(cell)
    tests = read_tests(cell)
    for name, spec in test_sets.items():
        if name in tests and tests[name].get("paths") == list(spec.paths):
            continue
        if name in tests:
            log.info("%s: %s now names other stores; testing again", cell, name)
        if not has_split(spec, "test"):
            log.warning("%s: no test split in %s; skipped", name, ", ".join(spec.paths))
            continue
        log.info("%s: testing on %s", cell, name)
        result = evaluate_model(str(cell / "best"), list(spec.paths), split="test", window_s=window_s)
        tests[name] = {"paths": list(spec.paths), **result}
        write_json(cell / TESTS_NAME, tests)
    return tests


@dataclass
class CellResult:
    """One finished cell as the reports see it. ``test`` maps test-set name -> pooled scores (micro_f1...)."""

    kind: str
    arch: str
    train: tuple[str, ...]
    val_micro_f1: float
    test: dict[str, dict[str, Any]] = field(default_factory=dict)
    arch_params: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None
    weight_decay: float | None = None
    seed: int | None = None
    n_trials: int | None = None
    path: str | None = None

    @property
    def label(self) -> str:
        return cell_label(self.train)

    def in_domain(self, test_name: str) -> bool:
        """Whether ``test_name`` is one of the datasets this cell trained on."""
        return test_name.upper() in {n.upper() for n in self.train}

    def micro_f1(self, test_name: str) -> float | None:
        entry = self.test.get(test_name)
        return None if entry is None else float(entry["micro_f1"])

    def config_string(self) -> str:
        """The chosen configuration in the thesis's notation (L/H/cell, I/L/H, heads/L/D_e, P/heads/L/D_e)."""
        return config_string(self.arch, self.arch_params)


def config_string(arch: str, p: Mapping[str, Any]) -> str:
    def g(key: str) -> str:
        return str(p.get(key, "?"))

    if arch in ("rnn", "crnn"):
        return f"{g('num_layers')}/{g('hidden_size')}/{g('cell').upper()}"
    if arch == "cnn":
        return f"{g('num_blocks')}/{g('num_layers')}/{g('hidden_size')}"
    if arch == "ct":
        return f"{g('num_heads')}/{g('num_layers')}/{g('embed_dim')}"
    if arch == "vit":
        return f"{g('patch_size')}/{g('num_heads')}/{g('num_layers')}/{g('embed_dim')}"
    return "/".join(f"{k}={v}" for k, v in p.items())


def load_cell(cell: str | Path, kind: str, arch: str, train: Sequence[str]) -> CellResult | None:
    """The CellResult of a finished cell folder (None when it is not finished)."""
    cell = Path(cell)
    if not is_finished(cell):
        return None
    results = read_json(cell / RESULTS_NAME)
    tests = read_tests(cell)
    test = {name: dict(entry["pooled"]) for name, entry in tests.items() if entry.get("pooled")}
    return CellResult(
        kind=kind,
        arch=arch,
        train=tuple(train),
        val_micro_f1=float(results.get("best_val_micro_f1", float("nan"))),
        test=test,
        arch_params=dict(results.get("arch_params") or {}),
        lr=results.get("lr"),
        weight_decay=results.get("weight_decay"),
        seed=results.get("seed"),
        n_trials=results.get("n_trials"),
        path=str(cell),
    )


def class_f1(entry: Mapping[str, Any]) -> list[float]:
    """Per-class F1 of a pooled score entry, in CLASS_NAMES order."""
    values = entry.get("class_f1") or [float("nan")] * len(CLASS_NAMES)
    return [float(v) for v in values]


@dataclass
class StudySettings:
    """The search budget and resources shared by every cell of a study; saved in ``study.json``.

    ``fixed`` narrows the search spaces: a key ``KEY`` applies to every architecture that has that
    parameter (``lr`` and ``weight_decay`` to all), ``ARCH.KEY`` to one architecture only. Values as in
    :class:`~drumscribe.tune.runner.TuneSettings` (a single value pins, a list narrows).
    """

    trials: int = 15
    epochs: int | None = None
    seed: int = 0
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent_trials: int | None = None
    address: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    verbose: int = 1

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def fixed_for(self, arch: str) -> dict[str, Any]:
        """The ``fixed`` entries that apply to ``arch`` (``ARCH.KEY`` wins over ``KEY``)."""
        from ..tune.spaces import OPTIMISER_RANGES, arch_space

        known = set(arch_space(arch)) | set(OPTIMISER_RANGES)
        out = {k: v for k, v in self.fixed.items() if "." not in k and k in known}
        out.update({k.split(".", 1)[1]: v for k, v in self.fixed.items() if k.lower().startswith(f"{arch}.")})
        return out

    def tune_settings(self, arch: str, data: Sequence[str]) -> Any:
        """The :class:`~drumscribe.tune.runner.TuneSettings` of one cell."""
        from ..tune.runner import TuneSettings

        return TuneSettings(
            arch=arch,
            data=list(data),
            trials=self.trials,
            epochs=self.epochs,
            fixed=self.fixed_for(arch),
            train=dict(self.train),
            seed=self.seed,
            cpus_per_trial=self.cpus_per_trial,
            gpus_per_trial=self.gpus_per_trial,
            max_concurrent_trials=self.max_concurrent_trials,
            address=self.address,
            verbose=self.verbose,
        )


def check_fixed_keys(fixed: Mapping[str, Any], archs: Sequence[str]) -> None:
    """Catch typos in ``fixed`` before hours of work: ``ARCH.KEY`` must name a real parameter of a real
    architecture (it is ignored when ARCH is not in the study); a plain ``KEY`` must apply to one of ``archs``."""
    from ..tune.spaces import OPTIMISER_RANGES, arch_space

    for key in fixed:
        if "." in key:
            arch, param = key.split(".", 1)
            if param not in arch_space(arch.lower()) and param not in OPTIMISER_RANGES:  # also checks arch
                raise ConfigError(f"--fix {key}: {arch!r} has no parameter {param!r}")
            if arch.lower() not in archs:
                log.info("--fix %s: architecture %s is not in this study; ignored", key, arch)
        elif key not in OPTIMISER_RANGES and not any(key in arch_space(a) for a in archs):
            raise ConfigError(
                f"--fix {key}: no architecture of this study ({', '.join(archs)}) has that parameter"
            )


def same_stores(cell: Path, data: Sequence[str], saved: Any = None) -> bool:
    """Whether the tune folder ``cell`` was tuned on the stores ``data`` (True when it records none);
    ``saved``: its TuneSettings when already read."""
    from ..tune.runner import saved_settings

    saved = saved or saved_settings(cell)
    if saved is None:
        return True
    return [os.path.realpath(p) for p in saved.data] == [os.path.realpath(p) for p in data]


def run_cell(cell: Path, settings: StudySettings, arch: str, data: Sequence[str]) -> dict[str, Any]:
    """Tune one cell (resuming an interrupted one); a finished cell is read, not recomputed."""
    from ..tune.runner import run_tune

    if is_finished(cell):
        if not same_stores(cell, data):
            raise ConfigError(
                f"{cell}: was tuned on other stores than {', '.join(data)} (its tune.json); a study folder "
                "keeps one meaning per dataset name: use another folder, or delete the cell to tune it again"
            )
        log.info("%s: finished already", cell)
        return read_json(cell / RESULTS_NAME)
    log.info("%s: tuning %s on %s", cell, arch, ", ".join(data))
    return run_tune(settings.tune_settings(arch, data), cell, resume=True)


def run_and_load_cell(
    cell: Path,
    settings: StudySettings,
    arch: str,
    data: Sequence[str],
    tests: Mapping[str, DatasetSpec],
    window_s: float,
    kind: str,
    train: Sequence[str],
) -> tuple[CellResult | None, bool]:
    """Tune (or resume) one cell on ``data``, test it on ``tests`` and load it; True when that did new work."""
    before = cell_state(cell)
    run_cell(cell, settings, arch, data)
    evaluate_cell(cell, tests, window_s=window_s)
    return load_cell(cell, kind, arch, train), cell_state(cell) != before
