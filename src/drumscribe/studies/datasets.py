"""The dataset study (SPEC section 9): one architecture (CRNN) trained on combinations of datasets, each
selected model tested on every test set.

A combination such as ``E+S`` trains on the union of the datasets' training splits, validates on the
union of their validation splits, and is tested on each test set separately; test sets outside the
combination are out-of-domain and marked so in the report. Cells live in
``STUDY/datasets/<ARCH>/<COMBO>/``. As in the thesis, a single-dataset combination reuses the
architecture study's cell of the same architecture when it exists in the same study folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .architecture import KIND as ARCH_KIND
from .cells import (
    DatasetSpec,
    StudySettings,
    cell_dir,
    check_dataset_names,
    check_fixed_keys,
    has_split,
    is_finished,
    load_cell,
    read_study_record,
    record_study,
    run_and_load_cell,
    same_stores,
)

log = logging.getLogger(__name__)

KIND = "datasets"
DEFAULT_ARCH = "crnn"


def combo_cell(
    out: Path, arch: str, combo: Sequence[str], reuse_architecture: bool = True, expected: Any = None
) -> Path:
    """The folder of a combination's cell: its own, or the architecture study's for a reused single dataset,
    when that cell searched as this one would, on the same stores (``expected``: the cell's TuneSettings;
    None: not checked)."""
    from ..tune.runner import changed_settings, saved_settings

    own = cell_dir(out, KIND, arch, combo)
    if reuse_architecture and len(combo) == 1 and not own.exists():
        shared = cell_dir(out, ARCH_KIND, arch, combo)
        if is_finished(shared):
            saved = saved_settings(shared) if expected is not None else None
            changed = changed_settings(saved, expected) if saved is not None else {}
            # the stores compared as files, however their paths were spelled
            changed = {k: v for k, v in changed.items() if k not in ("data", "val_data", "test_data")}
            if saved is not None and not same_stores(shared, expected.data, saved):
                changed["data"] = (saved.data, expected.data)
            if not changed:
                return shared
            log.info("%s: searched with other settings (%s); not reused", shared, ", ".join(sorted(changed)))
    return own


def run_datasets_study(
    datasets: Mapping[str, DatasetSpec],
    combos: Sequence[Sequence[str]],
    out_dir: str | Path,
    test_sets: Sequence[str] | None = None,
    settings: StudySettings | None = None,
    arch: str = DEFAULT_ARCH,
    reuse_architecture: bool = True,
    note: str = "",
) -> list[Any]:
    """Tune ``arch`` on every combination, test each on every test set, write the report; returns CellResults."""
    from ..models import ARCHITECTURES
    from ..tune.runner import ray_session
    from .report import write_reports

    settings = settings or StudySettings()
    arch = arch.lower()
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    check_dataset_names(datasets)
    check_fixed_keys(settings.fixed, [arch])
    if not combos:
        raise ConfigError("no dataset combinations given (--combos)")
    test_names = list(test_sets) if test_sets else list(datasets)
    unknown = [n for n in [*test_names, *(n for c in combos for n in c)] if n not in datasets]
    if unknown:
        raise ConfigError(
            f"unknown dataset name(s) {', '.join(sorted(set(unknown)))}; known: {', '.join(datasets)}"
        )
    for combo in combos:
        for name in combo:
            if not has_split(datasets[name], "train"):
                raise ConfigError(
                    f"combination {'+'.join(combo)}: {name} has no training split (test-only dataset)"
                )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record_study(
        out,
        KIND,
        {
            "datasets": {
                n: [os.path.relpath(Path(p).resolve(), out.resolve()) for p in s.paths]
                for n, s in datasets.items()
            },
            "combos": [list(c) for c in combos],
            "test_sets": test_names,
            "arch": arch,
            "reuse_architecture": reuse_architecture,
            "note": note,
            "settings": settings.to_dict(),
        },
    )
    window_s = float(settings.train.get("eval_window_s", 0.05))
    tests = {n: datasets[n] for n in test_names}
    cells = []
    with ray_session(settings.address):
        for combo in combos:
            data = [p for name in combo for p in datasets[name].paths]
            cell = combo_cell(out, arch, combo, reuse_architecture, settings.tune_settings(arch, data))
            result, changed = run_and_load_cell(cell, settings, arch, data, tests, window_s, KIND, combo)
            cells.append(result)
            if changed:  # new work: refresh the report
                write_reports(out)
    write_reports(out)
    return cells


def datasets_cells(out_dir: str | Path) -> tuple[list[Any], dict[str, Any]]:
    """The finished cells of the dataset study in ``out_dir`` and its record from ``study.json``."""
    out = Path(out_dir)
    record = read_study_record(out, KIND)
    if not record:
        return [], {}
    cells = []
    settings = StudySettings(**record["settings"]) if "settings" in record else None
    for combo in record["combos"]:
        data = [str(out / p) for name in combo for p in record.get("datasets", {}).get(name, [])]
        expected = settings.tune_settings(record["arch"], data) if settings is not None and data else None
        cell = combo_cell(out, record["arch"], combo, record.get("reuse_architecture", True), expected)
        result = load_cell(cell, KIND, record["arch"], combo)
        if result is not None:
            cells.append(result)
    return cells, record
