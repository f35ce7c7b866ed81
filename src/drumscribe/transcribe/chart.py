"""A playable drum chart for Clone Hero and chart editors (Moonscraper): the text ``.chart`` format.

* **Lanes** (4-lane Pro Drums): kick -> kick (note 0), snare -> red (1), hi-hat -> yellow cymbal
  (2 with cymbal marker 66), toms -> blue tom (3), cymbals -> green cymbal (4 with marker 68); where the
  model's articulation head calls a cymbal a ride, blue cymbal (3 with marker 67), as charters place rides,
  unless a tom shares its tick (then green). The five classes do not tell the toms apart, so one lane holds
  them. In a fast run of
  kicks (double bass) every second kick is an Expert+ kick (note 32), as charters write them, so the chart
  stays playable with one pedal. Where three hand strokes fall on one tick, the two of
  :data:`HAND_PRIORITY` stay (two hands).
* **Placement**: as in the MusicXML score (:func:`~drumscribe.transcribe.exports.place_on_grid`): each
  onset on the nearest sixteenth or eighth-triplet of its tracked beat (32nd or sextuplet in a beat of fast
  strokes), measures starting on the downbeat phase that holds the most kicks. 192 ticks per quarter note
  hold all four exactly.
* **Tempo map**: a tempo marker on every beat of the beat map (:mod:`drumscribe.transcribe.beatmap`: the
  tracked beats, their frame jitter smoothed out, after a lead-in of whole beats from the start of the
  audio), so the notes stay on the music where the tempo drifts (a "beat-mapped" chart; ``Offset`` stays
  0). A first measure shorter than the others (a ``TS`` marker) puts the bar lines on the downbeats; measures
  have four beats, or the meter set with ``Transcription.with_meter``.
* **Difficulties**: Expert holds the transcription; Hard, Medium and Easy are reduced from it by rule
  (:func:`difficulty_notes`: no Expert+ kicks, then sixteenths, eighths, beats; one hand on Easy), so the
  chart is playable at every level.
* **Sections** (``[Events]``, for the game's practice mode): one every eight measures, named by its first
  bar.
* **Song list**: the preview (``PreviewStart``, and ``preview_start_time`` in ``song.ini``) starts on the
  bar line that opens the :data:`PREVIEW_S` seconds with the most Expert notes, the part a player wants to
  hear first. The difficulty tier (``diff_drums`` in ``song.ini``, 0-6) is estimated from the Expert
  chart's notes per second between its first and last note, one tier per :data:`TIER_NOTES_PER_S`
  (:func:`drum_tier`): a rock beat of eighth-note hi-hats at 120 BPM (about 6 notes per second) is tier 3,
  a metal song with 16th-note double bass tier 6. Charters rate by feel, so treat it as a first guess.

The format is the community one documented by the Moonscraper and GuitarGame_ChartFormats projects:
``[Song]``, ``[SyncTrack]`` (``B`` = tempo in thousandths of a BPM, ``TS`` = beats per measure),
``[Events]`` and ``[ExpertDrums]`` with ``tick = N lane 0`` notes.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..fileio import atomic_open
from ..vocab import CYMBALS, HIHAT, KICK, SNARE, TOMS
from .beatmap import BeatMap, beat_map
from .exports import RIDE, place_on_grid, staff_key

if TYPE_CHECKING:
    from .result import Transcription

#: ticks per quarter note
RESOLUTION = 192
#: class -> the .chart note numbers written for one onset (lane, then its cymbal marker, if any)
LANES: dict[int, tuple[int, ...]] = {
    KICK: (0,),
    SNARE: (1,),
    HIHAT: (2, 66),
    TOMS: (3,),
    CYMBALS: (4, 68),
    RIDE: (3, 67),  # a cymbal the articulation head calls a ride: blue cymbal
}
#: the cymbal markers (66, 68) are note numbers from here up; the notes struck are below
CYMBAL_MARKER_MIN = 64
#: Expert+ (double-pedal) kick note, and the gap [s] under which kicks count as a fast run (~5.5 per second)
DOUBLE_KICK = 32
DOUBLE_KICK_GAP_S = 0.18
#: which hand strokes stay when more than two fall on one tick: the crash/ride and the snare, as a drummer
#: whose hi-hat hand moves to the crash; the score keeps them all
HAND_PRIORITY = (CYMBALS, RIDE, SNARE, TOMS, HIHAT)


class Difficulty(NamedTuple):
    """How a difficulty is reduced from Expert: the grids [ticks] its strokes lie on (empty: all), the hand
    strokes per tick and whether fast-run kicks are Expert+ kicks (else they are left out)."""

    grids: tuple[int, ...]
    hands: int
    double_kicks: bool


#: the difficulties written, Expert first
DIFFICULTIES: dict[str, Difficulty] = {
    "Expert": Difficulty((), 2, True),
    "Hard": Difficulty((RESOLUTION // 4, RESOLUTION // 3), 2, False),
    "Medium": Difficulty((RESOLUTION // 2,), 2, False),
    "Easy": Difficulty((RESOLUTION,), 1, False),
}
#: measures per practice section
SECTION_MEASURES = 8
#: length [s] of the song list's preview (the window whose start is chosen, :func:`preview_start`)
PREVIEW_S = 30.0
#: Expert notes per second per difficulty tier, and the highest tier (Clone Hero's 0-6)
TIER_NOTES_PER_S = 2.0
MAX_TIER = 6


class Chart(NamedTuple):
    """A built chart: its lines, when the song list's preview starts [s] and the Expert chart's notes per
    second (first to last note)."""

    lines: list[str]
    preview_start_s: float
    notes_per_s: float


def _quote(text: str) -> str:
    """A .chart string value: the format has no escapes, so quotes are dropped."""
    return '"' + text.replace('"', "'") + '"'


def double_kicks(kick_ticks: list[int], bm: BeatMap) -> set[int]:
    """The kicks written as Expert+ kicks: every second one of a fast run (each less than
    :data:`DOUBLE_KICK_GAP_S` after the one before), so a single pedal plays the others."""
    if not kick_ticks:
        return set()
    times = tick_times(kick_ticks, bm)
    out, in_run = set(), 0
    for i in range(1, len(kick_ticks)):
        in_run = in_run + 1 if times[i] - times[i - 1] < DOUBLE_KICK_GAP_S else 0
        if in_run % 2 == 1:
            out.add(kick_ticks[i])
    return out


def tick_times(ticks: list[int] | np.ndarray, bm: BeatMap) -> np.ndarray:
    """When the chart's ``ticks`` sound [s], on the beat map (linear between its beats)."""
    return np.interp(np.asarray(ticks, dtype=float) / RESOLUTION, np.arange(len(bm.times)), bm.times)


def preview_start(note_s: np.ndarray, bar_s: np.ndarray, duration_s: float) -> float:
    """The bar line [s] (of ``bar_s``, sorted) that opens the :data:`PREVIEW_S` seconds holding the most
    notes (times ``note_s``, sorted), the earliest on a tie; bars later than ``duration_s - PREVIEW_S`` are
    left out when an earlier one exists, so the preview does not run past the end. 0 without notes."""
    if len(note_s) == 0 or len(bar_s) == 0:
        return 0.0
    fits = bar_s[bar_s <= max(duration_s - PREVIEW_S, 0.0)]
    bars = fits if len(fits) else bar_s[:1]
    counts = np.searchsorted(note_s, bars + PREVIEW_S, "left") - np.searchsorted(note_s, bars, "left")
    return max(0.0, float(bars[int(np.argmax(counts))]))


def drum_tier(notes_per_s: float) -> int:
    """Clone Hero's difficulty tier (0-6) estimated from the Expert chart's notes per second."""
    return int(min(MAX_TIER, max(0.0, notes_per_s) // TIER_NOTES_PER_S))


def playable(classes: set[int], hands: int = 2) -> set[int]:
    """The strokes of one tick a player can play: the kick and at most ``hands`` hand strokes, the first in
    :data:`HAND_PRIORITY` (three hand notes at once is a chord the game's checkers reject)."""
    ranked = [c for c in HAND_PRIORITY if c in classes]
    return {c for c in classes if c not in ranked[hands:]}


def song_name(tr: Transcription) -> str:
    """The song's title in a chart: the audio file's stem, or "drums" for a transcription of samples."""
    return Path(tr.source).stem if tr.source else "drums"


def sections(bm: BeatMap) -> list[tuple[int, str]]:
    """Practice sections (tick, name): one every :data:`SECTION_MEASURES` of the chart's measures, named by
    the measure they start on ("Bar 1", "Bar 9", ...; a short first measure, the pickup, is bar 1)."""
    beats = len(bm.times) - 1
    out = [(0, "Bar 1")]
    for k in range(1, beats // (SECTION_MEASURES * bm.beats_per_bar) + 2):
        m = k * SECTION_MEASURES  # measures before the section's first
        beat = bm.pickup + (m - 1) * bm.beats_per_bar if bm.pickup else m * bm.beats_per_bar
        if beat < beats:
            out.append((RESOLUTION * beat, f"Bar {m + 1}"))
    return out


def chart_lines(tr: Transcription, music_stream: str | None = None) -> list[str]:
    """The .chart file of ``tr``, line by line (see the module docstring). ``music_stream``: the audio
    file the chart names (default: ``tr.source``, the name of the file transcribed)."""
    return build_chart(tr, music_stream).lines


def build_chart(tr: Transcription, music_stream: str | None = None) -> Chart:
    """The .chart of ``tr`` (:func:`chart_lines`) with its preview start and Expert notes per second."""
    g = place_on_grid(tr)
    bm = beat_map(g)
    sync = [f"  0 = TS {bm.pickup or bm.beats_per_bar}"]
    if bm.pickup:
        sync.append(f"  {RESOLUTION * bm.pickup} = TS {bm.beats_per_bar}")
    tempos: list[tuple[int, int]] = []
    for j, bpm in enumerate(bm.bpm()):
        milli = round(1000.0 * bpm)
        if not tempos or milli != tempos[-1][1]:
            tempos.append((RESOLUTION * j, milli))
    sync += [f"  {t} = B {milli}" for t, milli in tempos]
    sync.sort(key=lambda line: int(line.split("=")[0]))

    def tick(beat: Fraction | float) -> int:
        return round(RESOLUTION * beat)

    strokes: dict[int, set[int]] = {}
    arts = g.articulations or (None,) * len(bm.placed)
    for (c, p, _), art in zip(bm.placed, arts):
        key = staff_key(c, art)  # the score's key: a ride has its own lane
        if c in LANES:
            strokes.setdefault(tick(p), set()).add(key if key in LANES else c)
    for cs in strokes.values():  # a blue tom and a blue cymbal cannot share a tick: the ride goes green
        if RIDE in cs and TOMS in cs:
            cs.discard(RIDE)
            cs.add(CYMBALS)
    doubles = double_kicks(sorted(t for t, cs in strokes.items() if KICK in cs), bm)
    levels = {level: difficulty_notes(strokes, doubles, rule) for level, rule in DIFFICULTIES.items()}
    expert_s = tick_times([t for t, code in levels["Expert"] if code < CYMBAL_MARKER_MIN], bm)
    first_bar = bm.pickup or bm.beats_per_bar
    bar_beats = [0, *range(first_bar, len(bm.times), bm.beats_per_bar)]
    preview = preview_start(expert_s, tick_times([RESOLUTION * b for b in bar_beats], bm), tr.duration_s)
    span = float(expert_s[-1] - expert_s[0]) if len(expert_s) else 0.0
    notes_per_s = len(expert_s) / max(span, 1.0)
    song = [
        f"  Name = {_quote(song_name(tr))}",
        '  Charter = "drumscribe"',
        f"  Resolution = {RESOLUTION}",
        "  Offset = 0",
        f"  Length = {tr.duration_s:.3f}",
        f"  PreviewStart = {preview:.3f}",
    ]
    stream = music_stream or tr.source
    if stream:
        song.append(f"  MusicStream = {_quote(stream)}")
    events = [f'  {t} = E "section {name}"' for t, name in sections(bm)]
    out = ["[Song]", "{", *song, "}", "[SyncTrack]", "{", *sync, "}", "[Events]", "{", *events, "}"]
    for level, notes in levels.items():
        out += [f"[{level}Drums]", "{", *(f"  {t} = N {code} 0" for t, code in notes), "}"]
    return Chart(out, preview, notes_per_s)


def difficulty_notes(
    strokes: dict[int, set[int]], doubles: set[int], rule: Difficulty
) -> list[tuple[int, int]]:
    """(tick, note) of one difficulty (:data:`DIFFICULTIES`) from the transcribed strokes (tick -> classes)
    and the ticks of the fast-run kicks written as Expert+ kicks:

    * **Expert**: every stroke (at most two hands per tick), every second kick of a fast run as an Expert+ kick.
    * **Hard**: no Expert+ kicks; strokes on sixteenths and eighth-note triplets only (no 32nds or sextuplets).
    * **Medium**: strokes on eighth notes only.
    * **Easy**: strokes on the beats only, and one hand at a time (the first in :data:`HAND_PRIORITY`).

    Strokes off the grid (in the lead-in before the first tracked beat, placed by time) are Expert's only.
    """
    notes = []
    for t, cs in strokes.items():
        if rule.grids and not any(t % g == 0 for g in rule.grids):
            continue
        kept = playable(cs, rule.hands)
        if t in doubles and KICK in kept:
            kept.discard(KICK)
            if rule.double_kicks:
                notes.append((t, DOUBLE_KICK))
        notes += [(t, code) for c in kept for code in LANES[c]]
    return sorted(notes)


def write_chart(tr: Transcription, path: str | Path) -> Path:
    """Write ``tr`` as a .chart file (atomically); returns the path."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="\r\n") as fh:
        fh.write("\n".join(chart_lines(tr)) + "\n")
    return path
