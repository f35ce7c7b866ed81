"""Real recordings without drums ("stems": guitars, bass, vocals, keys) mixed into rendered tracks.

General MIDI soundfonts stand in for the band, and they sound like it: a GM distortion guitar, even through
:func:`~drumscribe.synth.accompaniment.overdrive`, lacks the pick attacks, palm-muted chugs and amp noise
of a recorded one. A model trained on them alone fires on those attacks in real music. With
``SynthConfig.stems`` (files or folders of drumless recordings), a share of the tracks with accompaniment
(``SynthConfig.stems_share``) also gets an excerpt of a stem: a random file, a random stretch of it that is
not silent, at a random level against the rendered band, or in place of the band (:data:`STEM_ALONE_PROB`).
The labels stay exact, because the stems hold no drums.

The draws come from a stream of their own (``(seed, index, 8)``), so a seed's other choices are the same
with or without stems. Stems are shared by every split: hold some files out of the render to measure on
them (``benchmarks/band_false_hits.py --stems``). On a Ray cluster the paths must be readable on every node.
Without a General MIDI soundfont the tracks render as drums only, stems or not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import AudioInfo, audio_info, read_excerpt, resample
from ..audioformats import AUDIO_EXTENSIONS, audio_files_under
from ..errors import AudioError, ConfigError

log = logging.getLogger(__name__)

#: share of the stem draws in which the stem is the whole band (else it joins the rendered band)
STEM_ALONE_PROB = 0.3
#: level [dB] of a stem against the rendered band it joins (RMS over the track)
STEM_LEVEL_DB = (-6.0, 6.0)
#: an excerpt whose RMS is below this (-50 dBFS) is silence (a stem that rests): another offset is tried
SILENT_RMS = 10 ** (-50 / 20)
#: offsets tried before a silent excerpt is used anyway (a mostly silent stem)
STEM_TRIES = 4


@dataclass(frozen=True)
class Stem:
    """A readable stem file and its header."""

    path: Path
    info: AudioInfo

    @property
    def name(self) -> str:
        """The file's name with its folder (recorded in the render's metadata)."""
        return f"{self.path.parent.name}/{self.path.name}"


def find_stems(paths: Sequence[str | Path]) -> list[Stem]:
    """The audio files named by ``paths`` (files, or folders searched recursively for
    :data:`~drumscribe.audioformats.AUDIO_EXTENSIONS`), with their headers. A path that does not exist, or a folder without audio
    files, is a :class:`ConfigError`; an unreadable file in a folder is skipped with a warning (a file
    named directly must be readable); no readable file at all is a ConfigError."""
    stems: list[Stem] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise ConfigError(f"stems: {p} does not exist")
        if p.is_dir():
            files = audio_files_under(p)
            if not files:
                raise ConfigError(f"stems: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) under {p}")
        else:
            files = [p]
        for f in files:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            try:
                stems.append(Stem(f, audio_info(f)))
            except AudioError as exc:
                if not p.is_dir():
                    raise
                log.warning("stems: skipping %s", exc)
    if not stems:
        raise ConfigError(f"stems: no readable audio file in {', '.join(map(str, paths))}")
    return stems


def _file_frames(stem: Stem, n: int, sr: int, speed: float) -> int:
    """Frames of ``stem`` that ``n`` samples at ``sr`` [Hz] played ``speed`` times as fast take up."""
    return int(np.ceil(n * speed * stem.info.sample_rate_hz / sr))


def _excerpt(stem: Stem, start: int, n: int, sr: int, speed: float = 1.0) -> np.ndarray:
    """``n`` samples at ``sr`` [Hz] of ``stem`` from its frame ``start`` (zero-padded past its end), played
    ``speed`` times as fast (varispeed: pitch and tempo together, as a tape played faster)."""
    frames = _file_frames(stem, n, sr, speed) + 16  # a margin for the resampler's rounding
    rate = int(round(stem.info.sample_rate_hz * speed))  # the rate at which the file is "played"
    x = resample(read_excerpt(stem.path, start, frames), rate, sr)[:n]
    return np.pad(x, (0, n - len(x))).astype(np.float32)


def draw_stem(
    stems: Sequence[Stem], rng: np.random.Generator, n: int, sr: int, varispeed: float = 0.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """A random excerpt of ``n`` samples at ``sr`` [Hz] of a random stem, not silent if
    :data:`STEM_TRIES` offsets find one, and its record (file, offset [s] and in the file's frames).
    ``varispeed`` > 0 plays it up to that much faster or slower (log-uniform; recorded as ``speed``), so a
    few stems give many keys and tempos; 0 draws nothing more (earlier renders stay as they were)."""
    from .mixing import rms

    stem = stems[int(rng.integers(len(stems)))]
    speed = float(np.exp(rng.uniform(np.log(1 - varispeed), np.log(1 + varispeed)))) if varispeed > 0 else 1.0
    last = max(0, stem.info.frames - _file_frames(stem, n, sr, speed))
    x = np.zeros(n, dtype=np.float32)
    start = 0
    for _ in range(STEM_TRIES):
        start = int(rng.integers(last + 1))
        x = _excerpt(stem, start, n, sr, speed)
        if rms(x) >= SILENT_RMS:
            break
    offset_s = round(start / stem.info.sample_rate_hz, 6)
    record = {"file": stem.name, "offset_s": offset_s, "offset_frame": start}
    return x, record if varispeed <= 0 else {**record, "speed": round(speed, 6)}


def add_stem(
    rest: np.ndarray | None,
    stems: Sequence[Stem],
    rng: np.random.Generator,
    sr: int,
    n: int,
    varispeed: float = 0.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The band with a stem excerpt: the stem alone (with :data:`STEM_ALONE_PROB`, or when there is no
    rendered band), else the rendered band plus the stem at :data:`STEM_LEVEL_DB` against it. A digitally
    silent excerpt leaves a rendered band as it is (recorded as ``"silent": True``)."""
    stem, record = draw_stem(stems, rng, n, sr, varispeed)
    mixed, how = join_band(rest, stem, n, rng, STEM_ALONE_PROB, STEM_LEVEL_DB)
    return mixed, {**record, **how}


def join_band(
    rest: np.ndarray | None,
    layer: np.ndarray,
    n: int,
    rng: np.random.Generator,
    alone_prob: float,
    level_db_range: tuple[float, float],
) -> tuple[np.ndarray, dict[str, Any]]:
    """A recorded ``layer`` (a stem, strummed guitar) joined to the rendered band ``rest``: alone (with
    ``alone_prob``, or when there is no band), else added at a level drawn from ``level_db_range`` [dB,
    RMS over the track] against the band. A digitally silent layer leaves a band as it is. Returns the audio
    (``n`` samples) and how it was joined (``alone``, ``level_db`` or ``silent``)."""
    from .mixing import db_to_gain, rms

    alone = bool(rng.random() < alone_prob)
    level_db = float(rng.uniform(*level_db_range))
    layer_rms = rms(layer)
    if rest is not None and layer_rms <= 0:
        return rest, {"alone": False, "silent": True}
    if rest is None or alone or rms(rest) <= 0:
        return layer, {"alone": True}
    rest = np.pad(rest[:n], (0, max(0, n - len(rest)))).astype(np.float32)
    mixed = rest + layer * (rms(rest) / layer_rms * db_to_gain(level_db))
    return mixed.astype(np.float32), {"alone": False, "level_db": round(level_db, 2)}
