"""A strummed acoustic guitar from real recordings, played with the band and never labelled.

Strummed chords are sharp, broadband attacks with a noisy pick sweep: the kind of sound a drum model
confuses with toms, snares and hi-hats. General MIDI soundfonts strum with one sample per string, which
does not sound like it; a model trained on them alone fires on real strums (the shipped stage-8 model
fired 162 times a minute on eighth-note strums of the recordings below, mostly toms).

The recordings are the "AC-Guitar-Strums" Hydrogen kit of Debian's ``hydrogen-drumkits-effects``
(``/usr/share/hydrogen/data/drumkits/belofilms_GuitarStrums``; by Gabriel Verdugo Soto, belofilms.com,
CC BY 3.0): an acoustic guitar's major, minor and minor-7-flat-5 chords on every root, strummed down, up
or either, four takes each; renders play three and leave :data:`HELDOUT_TAKE` for measuring.
:func:`render_strums` plays them along the band's chords
(``Arrangement.chords``) in a strumming pattern on the track's beat grid; each strum damps the one before,
as re-struck strings do. ``SynthConfig.strums_share`` puts them into that share of the tracks with a band
(:func:`add_strums`). They hold no drums, so the labels stay exact.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

#: where Debian's hydrogen-drumkits-effects puts the strum recordings
STRUM_DIRS = ("/usr/share/hydrogen/data/drumkits/belofilms_GuitarStrums",)
#: the Debian package that holds them
STRUM_PACKAGE = "hydrogen-drumkits-effects"
STRUM_CREDIT = (
    "AC-Guitar-Strums Hydrogen kit by Gabriel Verdugo Soto (belofilms.com), CC BY 3.0, "
    "from Debian's hydrogen-drumkits-effects"
)
_NAME = re.compile(
    r"^(?P<root>[A-G])(?P<acc>sharp|flat)?\s?(?P<quality>major|minor|minro7b5|minor7b5)"
    r"(?:_(?P<dir>down|up))?_(?P<take>\d+)(?:wav)?\.(?:flac|wav)$",
    re.IGNORECASE,
)
_ROOTS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
#: the band's chord qualities (``accompaniment.QUALITIES``) -> the recorded chord that sounds closest
QUALITY_SHAPE = {
    "maj": "major",
    "7": "major",
    "maj7": "major",
    "sus4": "major",
    "pow": "major",
    "min": "minor",
    "m7": "minor",
    "m7b5": "minor7b5",
    "dim": "minor7b5",
}
#: strumming patterns: (step in beats, directions per step: D down, U up, - rest), drawn uniformly
PATTERNS: dict[str, tuple[float, str]] = {
    "quarters": (1.0, "DDDD"),
    "eighths": (0.5, "DUDUDUDU"),
    "folk": (0.5, "D-DU-UDU"),  # down, down-up, up-down-up
    "sixteenths": (0.25, "DUDUDUDUDUDUDUDU"),
    "offbeat": (0.5, "-U-U-U-U"),  # reggae/ska upstrokes on the "and"
}
#: level of an up-stroke, a strum off the beat and a strum on the beat (linear, before the take's own)
UP_GAIN, OFF_GAIN, ON_GAIN = 0.55, 0.8, 1.0
#: how much of a ringing strum is left once the next one is struck, and over how long it is damped [s]
DAMP_TO, DAMP_S = 0.2, 0.03
#: level [dB] of the strums against the band they join (RMS over the track), and the share of the tracks in
#: which they are the whole band
STRUM_LEVEL_DB = (-8.0, 4.0)
STRUM_ALONE_PROB = 0.2
#: the take (of four per chord and direction) that renders never play: held out for measuring false hits
#: on strums the model never heard (``benchmarks/band_false_hits.py``)
HELDOUT_TAKE = 3


@dataclass(frozen=True)
class StrumSample:
    path: Path
    root: int  # pitch class, 0 = C
    shape: str  # "major", "minor" or "minor7b5"
    direction: str  # "down", "up" or "any"
    take: int


def parse_strum_name(name: str) -> tuple[int, str, str, int] | None:
    """(root, shape, direction, take) of a file name of the strum kit, or None for any other file."""
    m = _NAME.match(name)
    if m is None:
        return None
    root = (_ROOTS[m["root"].upper()] + {"sharp": 1, "flat": -1}.get((m["acc"] or "").lower(), 0)) % 12
    quality = m["quality"].lower()
    shape = "minor7b5" if quality in ("minro7b5", "minor7b5") else quality
    return root, shape, (m["dir"] or "any").lower(), int(m["take"])


def find_strum_samples(dirs: Sequence[str | Path] | None = None) -> list[StrumSample]:
    """The strum recordings under ``dirs`` (default :data:`STRUM_DIRS`; file names tell chord, direction
    and take)."""
    out: list[StrumSample] = []
    for d in map(Path, STRUM_DIRS if dirs is None else dirs):
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            parsed = parse_strum_name(f.name)
            if parsed is not None:
                out.append(StrumSample(f, *parsed))
    return out


def split_takes(samples: Sequence[StrumSample]) -> tuple[list[StrumSample], list[StrumSample]]:
    """(the takes renders play, the held-out takes :data:`HELDOUT_TAKE`)."""
    return [s for s in samples if s.take != HELDOUT_TAKE], [s for s in samples if s.take == HELDOUT_TAKE]


def require_strum_samples(dirs: Sequence[str | Path] | None = None) -> list[StrumSample]:
    """:func:`find_strum_samples`, or a :class:`ConfigError` that says what to install."""
    found = find_strum_samples(dirs)
    if not found:
        raise ConfigError(
            f"strums_share > 0 needs the guitar strum recordings "
            f"({', '.join(map(str, STRUM_DIRS if dirs is None else dirs))}); "
            f"install them with: sudo apt-get install {STRUM_PACKAGE}"
        )
    return found


@functools.lru_cache(maxsize=512)
def _load(path: Path, sample_rate_hz: int) -> np.ndarray:
    """A recording as float32 mono at ``sample_rate_hz`` (cached per process: ~300 files, ~2.5 s each)."""
    from ..audio import load_audio

    return load_audio(path, sample_rate_hz)[0].astype(np.float32)


def choose_sample(
    samples: Sequence[StrumSample], root: int, quality: str, direction: str, rng: np.random.Generator
) -> StrumSample:
    """A take of the chord (root, the recorded shape nearest ``quality``) struck in ``direction``; takes
    struck either way stand in when that direction is missing, then any shape on that root, then any."""
    shape = QUALITY_SHAPE.get(quality, "major")
    for keep in (
        lambda s: s.root == root and s.shape == shape and s.direction == direction,
        lambda s: s.root == root and s.shape == shape,
        lambda s: s.root == root,
        lambda s: True,
    ):
        pool = [s for s in samples if keep(s)]
        if pool:
            return pool[int(rng.integers(len(pool)))]
    raise ConfigError("no strum recordings to choose from")


def strum_times(beats_s: np.ndarray, pattern: str, duration_s: float) -> list[tuple[float, str, bool]]:
    """(time [s], "down"/"up", on a beat) of each strum of ``pattern`` over the beat grid ``beats_s``."""
    step, dirs = PATTERNS[pattern]
    beats = np.asarray(beats_s, dtype=np.float64)
    if len(beats) < 2:
        return []
    out: list[tuple[float, str, bool]] = []
    k = 0
    for b0, b1 in zip(beats[:-1], beats[1:]):
        for j in range(int(round(1 / step))):
            d = dirs[k % len(dirs)]
            k += 1
            t = b0 + j * step * (b1 - b0)
            if d != "-" and 0 <= t < duration_s:
                out.append((float(t), "down" if d == "D" else "up", j == 0))
    return out


def render_strums(
    samples: Sequence[StrumSample],
    chords: Sequence[Sequence[Any]],
    beats_s: np.ndarray,
    rng: np.random.Generator,
    sample_rate_hz: int,
    n: int,
    pattern: str | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` samples of strummed guitar along ``chords`` ([start_s, end_s, root, quality] each, as in the
    manifest) on the grid ``beats_s``, in ``pattern`` (None: drawn from :data:`PATTERNS`), and its record."""
    if pattern is None:
        pattern = list(PATTERNS)[int(rng.integers(len(PATTERNS)))]
    elif pattern not in PATTERNS:
        raise ConfigError(f"unknown strumming pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    out = np.zeros(n, dtype=np.float32)
    damp = max(1, int(DAMP_S * sample_rate_hz))
    ramp = np.linspace(1.0, DAMP_TO, damp, dtype=np.float32)
    count, ringing_to = 0, 0  # ringing_to: where the last strum placed so far ends
    spans = sorted((float(c[0]), float(c[1]), int(c[2]), str(c[3])) for c in chords)
    for t, direction, on_beat in strum_times(beats_s, pattern, n / sample_rate_hz):
        chord = next((c for c in spans if c[0] <= t < c[1]), None)
        if chord is None:
            continue
        take = choose_sample(samples, chord[2], chord[3], direction, rng)
        x = _load(take.path, sample_rate_hz)
        i = int(round(t * sample_rate_hz))
        # the strings struck again: what still rings dies away over DAMP_S
        m = min(damp, n - i)
        out[i : i + m] *= ramp[:m]
        out[i + m : ringing_to] *= DAMP_TO
        gain = (UP_GAIN if direction == "up" else 1.0) * (ON_GAIN if on_beat else OFF_GAIN)
        gain *= float(10 ** (rng.uniform(-3.0, 3.0) / 20))  # the hand is never quite even
        k = min(len(x), n - i)
        out[i : i + k] += gain * x[:k]
        count, ringing_to = count + 1, max(ringing_to, i + k)
    return out, {"pattern": pattern, "strums": count, "credit": STRUM_CREDIT}


def add_strums(
    rest: np.ndarray,
    samples: Sequence[StrumSample],
    chords: Sequence[Sequence[Any]],
    beats_s: np.ndarray,
    rng: np.random.Generator,
    n: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The band (at :data:`~drumscribe.synth.samples.SAMPLE_RATE_HZ`) with a strummed guitar: alone
    (:data:`STRUM_ALONE_PROB`) or at :data:`STRUM_LEVEL_DB` against the band
    (:func:`~drumscribe.synth.stems.join_band`). Without a strum (no chord or beat) the band stays as it is."""
    from .samples import SAMPLE_RATE_HZ
    from .stems import join_band

    strums, record = render_strums(samples, chords, beats_s, rng, SAMPLE_RATE_HZ, n)
    mixed, how = join_band(rest, strums, n, rng, STRUM_ALONE_PROB, STRUM_LEVEL_DB)
    return mixed, {**record, **how}
