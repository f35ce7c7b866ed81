"""The architecture study (SPEC section 9): every architecture tuned, selected and tested on every dataset.

Each (architecture, dataset) cell is a tune run in ``STUDY/architecture/<ARCH>/<DATASET>/``. Its selected
model is then tested on the dataset's own test split (the thesis table) and, with ``cross=True``, on the
other datasets' test splits too (out-of-domain cells, marked in the report). A dataset without a
training split (like SADTP) is a test set only. Finished cells and test scores are kept, so re-running
the same command resumes the study.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .cells import (
    DatasetSpec,
    StudySettings,
    cell_dir,
    check_dataset_names,
    check_fixed_keys,
    has_split,
    load_cell,
    read_study_record,
    record_study,
    run_and_load_cell,
)

log = logging.getLogger(__name__)

KIND = "architecture"
DEFAULT_ARCHS = ("rnn", "cnn", "crnn", "ct", "vit")


def run_architecture_study(
    datasets: Mapping[str, DatasetSpec],
    archs: Sequence[str],
    out_dir: str | Path,
    settings: StudySettings | None = None,
    cross: bool = True,
    note: str = "",
    test_only: Sequence[str] = (),
) -> list[Any]:
    """Tune every architecture on every dataset, test, and write the report; returns the CellResults.

    Datasets named in ``test_only`` (and those without a training split) are only tested on.
    """
    from ..models import ARCHITECTURES
    from ..tune.runner import ray_session
    from .report import write_reports

    settings = settings or StudySettings()
    archs = [a.lower() for a in archs]
    bad = [a for a in archs if a not in ARCHITECTURES]
    if bad:
        raise ConfigError(f"unknown architecture(s) {', '.join(bad)}; known: {', '.join(ARCHITECTURES)}")
    check_fixed_keys(settings.fixed, archs)
    check_dataset_names(datasets)
    unknown = [n for n in test_only if n not in datasets]
    if unknown:
        raise ConfigError(f"test-only dataset(s) {', '.join(unknown)} not among {', '.join(datasets)}")
    trainable = {n: s for n, s in datasets.items() if n not in test_only and has_split(s, "train")}
    if not trainable:
        raise ConfigError(f"none of the datasets {', '.join(datasets)} has a training split")
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
            "trained": list(trainable),
            "archs": archs,
            "cross": cross,
            "note": note,
            "settings": settings.to_dict(),
        },
    )
    window_s = float(settings.train.get("eval_window_s", 0.05))
    for name in datasets:
        if name not in trainable:
            log.info("%s: used as a test set only", name)
    cells = []
    with ray_session(settings.address):
        for name, spec in trainable.items():
            for arch in archs:
                cell = cell_dir(out, KIND, arch, [name])
                tests = dict(datasets) if cross else {name: spec}
                result, changed = run_and_load_cell(
                    cell, settings, arch, spec.paths, tests, window_s, KIND, [name]
                )
                cells.append(result)
                if changed:  # new work: refresh the report (cheap next to a tune run)
                    write_reports(out)
    write_reports(out)
    return cells


def architecture_cells(out_dir: str | Path) -> tuple[list[Any], dict[str, Any]]:
    """The finished cells of the architecture study in ``out_dir`` and its record from ``study.json``."""
    out = Path(out_dir)
    record = read_study_record(out, KIND)
    if not record:
        return [], {}
    cells = []
    for name in record.get("trained", record["datasets"]):
        for arch in record["archs"]:
            cell = load_cell(cell_dir(out, KIND, arch, [name]), KIND, arch, [name])
            if cell is not None:
                cells.append(cell)
    return cells, record
