"""Training configuration: one dataclass whose defaults are the defaults of the CLI too (SPEC sections 5, 7, 0.5)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import ConfigError

MONITORS = ("f1", "loss")


@dataclass
class TrainConfig:
    """Everything a training run needs; saved as ``config.json`` in the run folder.

    ``data`` lists store folders trained on (their ``train`` splits); ``val_data`` / ``test_data`` default
    to the ``validation`` / ``test`` splits of ``data``. ``steps_per_epoch`` None means as many random
    windows as the training frames fill (one pass in expectation; windows come from
    :class:`~drumscribe.data.loader.WindowDataset`, inside one segment for segmented stores).
    ``dataset_weights`` gives each ``data`` store's share of the windows (default: its share of the
    frames). ``monitor`` "f1" follows validation micro F1 for the LR schedule and early stopping (SPEC
    section 0.5); "loss" follows the unweighted validation loss as the thesis did. The best model is
    always selected on validation micro F1.

    Augmentation (default off, training only): ``augment_gain_db`` draws one global gain in
    [-g, +g] dB per window and applies it to the linear filterbank magnitudes exactly
    (x' = log10(1 + a (10^x - 1)), a = 10^(gain/20)); ``augment_freq_mask`` masks up to that many
    consecutive bands (set to 0 = silence) once per window; ``augment_eq_db`` applies a random smooth EQ
    curve (a tilt and one bell of up to +-e dB each, :func:`drumscribe.train.windows.random_eq_db`) to
    the magnitudes the same way, for robustness to the spectral balance of real recordings and mixes;
    ``augment_mix`` makes that share of the windows the mix of two drawn windows (their filterbank
    magnitudes summed, the second at a random gain of up to +-``augment_mix_db`` dB) with the union of
    their targets (:func:`drumscribe.train.windows.mix_windows`); ``augment_bandlimit`` silences, in that
    share of the windows, every band above a cutoff drawn log-uniformly in ``augment_bandlimit_hz``
    (:func:`drumscribe.train.windows.band_limit`): audio kept at a low sample rate (a 22.05 kHz file ends
    at 11 kHz, a 16 kHz voice memo at 8 kHz) lacks the top octaves where hi-hats and cymbals are
    brightest. ``min_velocity`` maps class names to a velocity floor in [0, 1): the training windows'
    onsets below it are dropped from the targets (ghost notes, see
    :class:`~drumscribe.data.loader.WindowDataset`); validation and test keep every onset.

    ``keep_epoch_models`` also saves every epoch's model (with its card and validation scores) in
    ``epochs/epNNN/`` of the run, for choosing an epoch on another criterion than the synthetic
    validation F1 (e.g. real recordings held out for validation); it does not change the training.

    ``init_from`` (a model folder or shipped model name) warm-starts the run from that model's weights
    and keeps its normalisation statistics (fine-tuning, or continuing a model on new data); its
    architecture and parameters must equal this run's. ``ema_decay`` > 0 keeps an exponential moving
    average of the weights (updated every step); validation, ``best/`` and the test scores then use the
    averaged weights, which are steadier from epoch to epoch than the raw ones.
    """

    arch: str = "crnn"
    arch_params: dict[str, Any] = field(default_factory=dict)
    data: list[str] = field(default_factory=list)
    val_data: list[str] | None = None
    test_data: list[str] | None = None
    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    window_frames: int = 400
    grad_clip: float = 2.0
    monitor: str = "f1"
    plateau_patience: int = 5
    plateau_factor: float = 0.2
    early_stop_patience: int = 15
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    num_threads: int | None = None
    dataset_weights: list[float] | None = None
    steps_per_epoch: int | None = None
    threshold: float = 0.5
    eval_window_s: float = 0.05
    augment_gain_db: float = 0.0
    augment_freq_mask: int = 0
    augment_eq_db: float = 0.0
    augment_mix: float = 0.0
    augment_mix_db: float = 6.0
    augment_bandlimit: float = 0.0
    augment_bandlimit_hz: list[float] = field(default_factory=lambda: [4000.0, 16000.0])
    min_velocity: dict[str, float] | None = None
    init_from: str | None = None
    ema_decay: float = 0.0
    keep_epoch_models: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.monitor not in MONITORS:
            raise ConfigError(f"monitor must be one of {MONITORS}, not {self.monitor!r}")
        for name in ("epochs", "batch_size", "window_frames", "early_stop_patience"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if (
            not (math.isfinite(self.lr) and math.isfinite(self.weight_decay))
            or self.lr <= 0
            or self.weight_decay < 0
        ):
            raise ConfigError(
                f"lr must be finite and > 0, weight_decay finite and >= 0 (got {self.lr}, {self.weight_decay})"
            )
        if not 0.0 < float(self.threshold) <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ConfigError(f"grad_clip must be finite and > 0, got {self.grad_clip}")
        if not 0.0 <= float(self.ema_decay) < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if min(self.augment_gain_db, self.augment_freq_mask, self.augment_eq_db) < 0:
            raise ConfigError(
                "augment_gain_db, augment_freq_mask and augment_eq_db must be >= 0, got "
                f"{self.augment_gain_db}, {self.augment_freq_mask}, {self.augment_eq_db}"
            )
        if not 0.0 <= self.augment_mix <= 1.0 or self.augment_mix_db < 0:
            raise ConfigError(
                f"augment_mix must be in [0, 1] and augment_mix_db >= 0, got {self.augment_mix}, "
                f"{self.augment_mix_db}"
            )
        band = (
            [float(v) for v in self.augment_bandlimit_hz]
            if len(self.augment_bandlimit_hz) == 2
            else [0.0, -1.0]
        )
        if not 0.0 <= self.augment_bandlimit <= 1.0 or not 0.0 < band[0] <= band[1]:
            raise ConfigError(
                "augment_bandlimit must be in [0, 1] and augment_bandlimit_hz a range 0 < low <= high [Hz], got "
                f"{self.augment_bandlimit}, {self.augment_bandlimit_hz}"
            )
        self.augment_bandlimit_hz = band
        if self.min_velocity is not None and not all(
            isinstance(v, (int, float)) and 0.0 <= v < 1.0 for v in self.min_velocity.values()
        ):
            raise ConfigError(f"min_velocity values must be in [0, 1), got {self.min_velocity}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ConfigError(f"steps_per_epoch must be >= 1 or None, got {self.steps_per_epoch}")
        if self.dataset_weights is not None:
            if self.data and len(self.dataset_weights) != len(self.data):
                raise ConfigError(
                    f"dataset_weights has {len(self.dataset_weights)} entries for {len(self.data)} data stores"
                )
            if any(w < 0 for w in self.dataset_weights) or sum(self.dataset_weights) <= 0:
                raise ConfigError(
                    f"dataset_weights must be >= 0 with a positive sum, got {self.dataset_weights}"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training config key(s): {', '.join(unknown)}")
        return cls(**d)
