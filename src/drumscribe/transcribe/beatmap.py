"""A beat map from the start of the audio: the tempo track of the .chart export and of ``--midi-tempo-map``.

Map beat 0 is the start of the audio. The tracked beats of the grid placement
(:func:`~drumscribe.transcribe.exports.place_on_grid`, frame jitter smoothed out) follow a lead-in of whole
beats, which starts at least half a beat in (a shorter one would need over twice the song's tempo), and a
first measure shorter than a bar (``pickup``) puts the following bar lines on the downbeats. With a
tempo change on every map beat, a sequencer or game plays each beat when the music does, wherever the tempo
drifts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .exports import BEATS_PER_MEASURE, GridPlacement


@dataclass(frozen=True)
class BeatMap:
    """``times[j]``: when map beat ``j`` sounds [s] (``times[0] == 0``; past the end, at the last period).

    ``placed``: the placement's onsets as (class, map beat, velocity), exact fractions on the tracked beats
    (floats in the lead-in, placed there by time); ``pickup``: beats in the first measure when it is short
    (0: every measure has ``beats_per_bar``).
    """

    times: np.ndarray
    placed: list[tuple[int, Fraction | float, int]]
    pickup: int
    beats_per_bar: int = BEATS_PER_MEASURE

    def bpm(self) -> np.ndarray:
        """Tempo [BPM] of each map beat but the last."""
        return 60.0 / np.diff(self.times)


def beat_map(g: GridPlacement) -> BeatMap:
    """The beat map of a grid placement (see the module docstring)."""
    period = 60.0 / g.bpm
    grid = g.grid
    # exports.beat_grid keeps its beats strictly increasing, so the edge periods are positive
    head = float(grid[1] - grid[0]) if len(grid) > 1 else period
    tail = float(grid[-1] - grid[-2]) if len(grid) > 1 else period

    def beat_time(b: int) -> float:
        """Time [s] of grid beat ``b``, extended on both sides at the grid's first and last period."""
        if len(grid) == 0:
            return b * period
        if b < 0:
            return float(grid[0]) + b * head
        if b >= len(grid):
            return float(grid[-1]) + (b - len(grid) + 1) * tail
        return float(grid[b])

    positions = [p for _, p, _ in g.placed]
    b0 = math.floor(min(positions, default=Fraction(0))) - 1
    while beat_time(b0) < head / 2:
        b0 += 1
    lead_s = beat_time(b0)
    n = max(1, round(lead_s / head))
    first = b0 + (g.first_measure - b0) % g.beats_per_bar
    last = math.ceil(max(positions, default=Fraction(b0))) + 1
    times = np.concatenate(
        [np.arange(n) * (lead_s / n), [beat_time(b) for b in range(b0, max(last, b0) + 2)]]
    )

    def map_position(pos: Fraction) -> Fraction | float:
        if pos >= b0:
            return n + pos - b0
        b = math.floor(pos)
        t = beat_time(b) + float(pos - b) * (beat_time(b + 1) - beat_time(b))
        return max(0.0, t / lead_s * n)  # in the lead-in: by time

    placed = [(c, map_position(p), v) for c, p, v in g.placed]
    return BeatMap(
        times=times, placed=placed, pickup=(n + first - b0) % g.beats_per_bar, beats_per_bar=g.beats_per_bar
    )
