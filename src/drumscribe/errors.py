"""One error family for drumscribe: every message names the file (or folder) and the problem."""

from __future__ import annotations

from pathlib import Path


class DrumscribeError(Exception):
    """Base class of every error drumscribe raises on purpose."""


class AudioError(DrumscribeError):
    """An audio file is missing, unreadable, corrupt or empty."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        where = "<array>" if path is None else str(path)
        super().__init__(f"{where}: {problem}")


class AnnotationError(DrumscribeError):
    """An annotation file (txt, csv, MIDI) cannot be read or has unknown labels."""


class DatasetLayoutError(DrumscribeError):
    """A dataset folder does not have the layout its converter expects."""


class ModelError(DrumscribeError):
    """A model folder or card is missing, corrupt or incompatible."""


class ConfigError(DrumscribeError):
    """A configuration value is invalid."""


class OutputExistsError(DrumscribeError):
    """An output file exists and overwriting was not requested."""


class TrainingError(DrumscribeError):
    """Training cannot go on (the loss or the gradients stopped being finite)."""
