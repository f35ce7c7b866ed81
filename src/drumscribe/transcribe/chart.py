"""A playable drum chart for Clone Hero and chart editors (Moonscraper): the text ``.chart`` format.

* **Lanes** (Expert, 4-lane Pro Drums): kick -> kick (note 0), snare -> red (1), hi-hat -> yellow cymbal
  (2 with cymbal marker 66), toms -> blue tom (3), cymbals (crash, ride) -> green cymbal (4 with marker 68).
  The five classes do not tell the toms or the cymbals apart, so one lane each holds them.
* **Placement**: as in the MusicXML score (:func:`~drumscribe.transcribe.exports.place_on_grid`): each
  onset on the nearest sixteenth or eighth-triplet of its tracked beat (32nd or sextuplet in a beat of fast
  strokes), measures starting on the downbeat phase that holds the most kicks. 192 ticks per quarter note
  hold all four exactly.
* **Tempo map**: a tempo marker on every beat, from the beat grid of the placement (the tracked beats,
  their frame jitter smoothed out), so the notes stay on the music where the tempo drifts (a
  "beat-mapped" chart). Tick 0 is the start of the audio: the time before the first beat used (at least
  half a beat in) is a lead-in of whole beats (``Offset`` stays 0), and a first measure of fewer than four
  beats (a ``TS`` marker) puts the following bar lines on the downbeats.

The format is the community one documented by the Moonscraper and GuitarGame_ChartFormats projects:
``[Song]``, ``[SyncTrack]`` (``B`` = tempo in thousandths of a BPM, ``TS`` = beats per measure),
``[Events]`` and ``[ExpertDrums]`` with ``tick = N lane 0`` notes.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ..fileio import atomic_open
from ..vocab import CYMBALS, HIHAT, KICK, SNARE, TOMS
from .exports import BEATS_PER_MEASURE, place_on_grid

if TYPE_CHECKING:
    from .result import Transcription

#: ticks per quarter note
RESOLUTION = 192
#: class -> the .chart note numbers written for one onset (lane, then its cymbal marker, if any)
LANES: dict[int, tuple[int, ...]] = {KICK: (0,), SNARE: (1,), HIHAT: (2, 66), TOMS: (3,), CYMBALS: (4, 68)}


def _quote(text: str) -> str:
    """A .chart string value: the format has no escapes, so quotes are dropped."""
    return '"' + text.replace('"', "'") + '"'


def chart_lines(tr: Transcription) -> list[str]:
    """The .chart file of ``tr``, line by line (see the module docstring)."""
    g = place_on_grid(tr)
    period = 60.0 / g.bpm
    grid = g.grid

    head = float(grid[1] - grid[0]) if len(grid) > 1 else period
    tail = float(grid[-1] - grid[-2]) if len(grid) > 1 else period

    def beat_time(b: int) -> float:
        """Time [s] of beat ``b`` of the grid, extended on both sides at the grid's first and last period."""
        if len(grid) == 0:
            return b * period
        if b < 0:
            return float(grid[0]) + b * head
        if b >= len(grid):
            return float(grid[-1]) + (b - len(grid) + 1) * tail
        return float(grid[b])

    def pos_time(pos: Fraction) -> float:
        b = math.floor(pos)
        return beat_time(b) + float(pos - b) * (beat_time(b + 1) - beat_time(b))

    # the first beat of the map, the lead-in of n whole beats before it, and the first full measure
    b0 = math.floor(min((p for _, p, _ in g.placed), default=Fraction(0))) - 1
    while beat_time(b0) < head / 2:  # a shorter lead-in would need a tempo of over twice the song's
        b0 += 1
    lead_s = beat_time(b0)
    n = max(1, round(lead_s / head))
    first = b0 + (g.first_measure - b0) % BEATS_PER_MEASURE
    pickup = (n + first - b0) % BEATS_PER_MEASURE

    def tick(pos: Fraction) -> int:
        if pos >= b0:
            return round(RESOLUTION * (n + pos - b0))
        return max(0, round(RESOLUTION * n * pos_time(pos) / lead_s))  # in the lead-in: by time

    sync = [f"  0 = TS {pickup or BEATS_PER_MEASURE}"]
    if pickup:
        sync.append(f"  {RESOLUTION * pickup} = TS {BEATS_PER_MEASURE}")
    tempos = [(0, round(60_000.0 * n / lead_s))]
    last = math.ceil(max((p for _, p, _ in g.placed), default=Fraction(b0))) + 1
    for b in range(b0, last + 1):
        milli = round(60_000.0 / (beat_time(b + 1) - beat_time(b)))
        if milli != tempos[-1][1]:
            tempos.append((RESOLUTION * (n + b - b0), milli))
    sync += [f"  {t} = B {milli}" for t, milli in tempos]
    sync.sort(key=lambda line: int(line.split("=")[0]))

    notes = sorted({(tick(p), code) for c, p, _ in g.placed for code in LANES.get(c, ())})
    name = Path(tr.source).stem if tr.source else "drums"
    song = [
        f"  Name = {_quote(name)}",
        '  Charter = "drumscribe"',
        f"  Resolution = {RESOLUTION}",
        "  Offset = 0",
        f"  Length = {tr.duration_s:.3f}",
    ]
    if tr.source:
        song.append(f"  MusicStream = {_quote(tr.source)}")
    out = ["[Song]", "{", *song, "}", "[SyncTrack]", "{", *sync, "}", "[Events]", "{", "}"]
    out += ["[ExpertDrums]", "{", *(f"  {t} = N {code} 0" for t, code in notes), "}"]
    return out


def write_chart(tr: Transcription, path: str | Path) -> Path:
    """Write ``tr`` as a .chart file (atomically); returns the path."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="\r\n") as fh:
        fh.write("\n".join(chart_lines(tr)) + "\n")
    return path
