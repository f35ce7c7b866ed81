"""Training and evaluation: :func:`run_training`, :func:`evaluate_model`, :func:`tune_thresholds`.

Names are imported lazily so ``drumscribe --help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "TrainConfig": "drumscribe.train.config",
    "run_training": "drumscribe.train.loop",
    "load_run_config": "drumscribe.train.loop",
    "resolve_device": "drumscribe.train.loop",
    "evaluate_model": "drumscribe.train.evaluate",
    "tune_thresholds": "drumscribe.train.evaluate",
    "weighted_bce_loss": "drumscribe.train.loss",
    "unweighted_bce_loss": "drumscribe.train.loss",
    "infrequency_weights": "drumscribe.train.loss",
    "combined_statistics": "drumscribe.data.loader",
}

__all__ = list(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'drumscribe.train' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
