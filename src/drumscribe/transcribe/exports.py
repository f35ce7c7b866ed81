"""Write a :class:`~drumscribe.transcribe.result.Transcription` as MIDI, MusicXML, txt, CSV or JSON.

Every writer publishes its file atomically (:mod:`drumscribe.fileio`) and returns the path. music21 is
imported only by :func:`write_musicxml`.

* **MIDI** (mido): format 0, 960 ticks per beat, the estimated tempo (120 BPM when none) as a tempo meta
  message, one note per onset on the General MIDI drum channel (channel 10, index 9) with the class's
  note from the model card (or, where the card has an articulation output for the class, the
  articulation's: 46 open / 42 closed hi-hat, 51 ride / 49 crash; :mod:`drumscribe.articulation`) and the
  velocity of :mod:`drumscribe.transcribe.velocity`; notes last :data:`MIDI_NOTE_S` seconds.
* **MusicXML** (music21): a one-part drum score in 4/4 (or the meter of ``Transcription.with_meter``) with
  a percussion clef. Onsets are quantised to
  the estimated beat grid (its frame jitter smoothed out, extended before the first and after the last
  beat at the period there), in sixteenths or, where they fit better, eighth-note triplets, chosen per
  beat, and twice as fine (32nds, sextuplets) in a beat where two strokes of one drum would share a slot;
  a gap no single note value spans (5/8 of a beat) is a note and rests. Hands (snare, toms, hi-hat,
  cymbals) are voice 1 with stems up, the kick is voice 2 with stems down. Staff positions follow common
  drum notation: kick F4, snare C5, toms D5, hi-hat G5 (x notehead), cymbals A5 (x); where the model's
  articulation head names them, an open hi-hat is G5 with a circled x and a ride F5 (x).
* **txt**: ``time<TAB>class`` per onset, times in seconds with 6 decimals.
* **CSV**: header ``time_s,class,midi_note,velocity,confidence,articulation,articulation_p``.
* **JSON**: :meth:`Transcription.to_dict`.
* **.chart** (Clone Hero, Moonscraper): :mod:`drumscribe.transcribe.chart`.
* **Clone Hero song** (a folder or zip with the chart, ``song.ini`` and the audio):
  :mod:`drumscribe.transcribe.clonehero`.
"""

from __future__ import annotations

import bisect
import csv
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fileio import atomic_open, json_default
from ..midi import MIDI_DRUM_CHANNEL, write_drum_midi
from ..vocab import CYMBALS, HIHAT, KICK, SNARE, TOMS

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .result import Transcription

#: Length of each MIDI note [s].
MIDI_NOTE_S = 0.05
MIDI_TICKS_PER_BEAT = 960
DEFAULT_TEMPO_BPM = 120.0
BEATS_PER_MEASURE = 4

#: class index -> (display step, display octave, notehead, voice) of the drum staff
DRUM_STAFF: dict[int, tuple[str, int, str, int]] = {
    KICK: ("F", 4, "normal", 2),
    SNARE: ("C", 5, "normal", 1),
    TOMS: ("D", 5, "normal", 1),
    HIHAT: ("G", 5, "x", 1),
    CYMBALS: ("A", 5, "x", 1),
}
#: staff keys beyond the classes, for strokes the model's articulation head names (drumscribe.articulation):
#: an open hi-hat is a circled x in the hi-hat's place, a ride an x on the top line (numbered clear of any class)
OPEN_HIHAT, RIDE = 100, 101
ARTICULATION_DRUM_STAFF: dict[int, tuple[str, int, str, int]] = {
    OPEN_HIHAT: ("G", 5, "circle-x", 1),
    RIDE: ("F", 5, "x", 1),
}
#: (class, articulation) -> staff key
ARTICULATION_STAFF = {(HIHAT, "open"): OPEN_HIHAT, (CYMBALS, "ride"): RIDE}


def staff_key(c: int, articulation: str | None) -> int:
    """The score's key of a stroke of class ``c``: its own key where the articulation head names it open
    or ride (:data:`ARTICULATION_STAFF`), else the class."""
    return ARTICULATION_STAFF.get((c, articulation), c)


#: Per beat, triplets are chosen only when their quantisation error is below this fraction of the 16ths'.
TRIPLET_PREFERENCE = 0.6
#: beats in each parabola fit of :func:`smooth_beats`
SMOOTH_BEATS = 9
#: beats closer than this to the one before [s] are dropped from a grid (never from the tracker's)
MIN_BEAT_GAP_S = 0.05
#: the grid is extended before the first and after the last tracked beat at the mean period of this many
#: beats there
EDGE_BEATS = 4

FORMATS = ("midi", "musicxml", "txt", "csv", "json", "png", "chart", "clonehero")
EXTENSIONS = {
    "midi": ".mid",
    "musicxml": ".musicxml",
    "txt": ".txt",
    "csv": ".csv",
    "json": ".json",
    "png": ".png",
    "chart": ".chart",
    "clonehero": "-clonehero",  # a folder: notes.chart, song.ini and the audio (drumscribe.transcribe.clonehero)
}


def beats_per_bar(tr: Transcription) -> int:
    """The meter of the score, the chart and the MIDI file: beats (quarter notes) per bar,
    ``tr.settings["beats_per_bar"]`` when given (:meth:`~drumscribe.transcribe.result.Transcription.with_meter`),
    else the estimated one (``tr.settings["meter"]``), else :data:`BEATS_PER_MEASURE`."""
    estimated = (tr.settings.get("meter") or {}).get("beats_per_bar")
    return int(tr.settings.get("beats_per_bar") or estimated or BEATS_PER_MEASURE)


def _tempo(tr: Transcription) -> float:
    return float(tr.tempo_bpm) if tr.tempo_bpm and np.isfinite(tr.tempo_bpm) else DEFAULT_TEMPO_BPM


def write_midi(tr: Transcription, path: str | Path, tempo_map: bool | None = None) -> Path:
    """Standard MIDI file: GM drum channel, the card's notes, velocities from the onsets' levels, estimated tempo.

    ``tempo_map`` (default: ``tr.settings["midi_tempo_map"]``, else False): instead of one tempo, a tempo
    change on every beat of the beat map (:mod:`drumscribe.transcribe.beatmap`), so the file's beats and
    bars fall on the song's where its tempo drifts; the notes sound at the same times either way."""
    arts = tr.onset_articulations()
    hits = [
        (t, int(tr.midi_notes[c]) if arts[c] is None else arts[c][1][i], v)
        for c, (times, vels) in enumerate(zip(tr.onsets, tr.velocities))
        for i, (t, v) in enumerate(zip(times, vels))
    ]
    if tempo_map is None:
        tempo_map = bool(tr.settings.get("midi_tempo_map", False))
    beats, pickup = None, 0
    if tempo_map:
        from .beatmap import beat_map

        bm = beat_map(place_on_grid(tr))
        beats, pickup = bm.times, bm.pickup
    return write_drum_midi(
        path,
        hits,
        bpm=_tempo(tr),
        ticks_per_beat=MIDI_TICKS_PER_BEAT,
        note_s=MIDI_NOTE_S,
        track_name=f"drums ({tr.source or 'drumscribe'})",
        beat_times=beats,
        pickup=pickup,
        beats_per_bar=beats_per_bar(tr),
    )


def write_txt(tr: Transcription, path: str | Path) -> Path:
    """``time<TAB>class`` per onset, sorted by time."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        for e in tr.events():
            fh.write(f"{e['time_s']:.6f}\t{e['class']}\n")
    return path


def write_csv(tr: Transcription, path: str | Path) -> Path:
    """CSV ``time_s,class,midi_note,velocity,confidence,articulation,articulation_p`` per onset, sorted by
    time (the last two empty for classes without an articulation output)."""
    path = Path(path)
    fields = ["time_s", "class", "midi_note", "velocity", "confidence", "articulation", "articulation_p"]
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for e in tr.events():
            writer.writerow({**e, "time_s": f"{e['time_s']:.6f}", "confidence": f"{e['confidence']:.4f}"})
    return path


def write_json_result(tr: Transcription, path: str | Path) -> Path:
    """The JSON of :meth:`Transcription.to_dict`."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(tr.to_dict(), fh, indent=1, default=json_default)
        fh.write("\n")
    return path


# --------------------------------------------------------------------------------------------- MusicXML
def smooth_beats(beats: np.ndarray, width: int = SMOOTH_BEATS) -> np.ndarray:
    """Beat times with the tracker's frame jitter (10 ms: several BPM from beat to beat) smoothed out: each
    beat moved onto the parabola fitted to the ``width`` beats around it, which follows a tempo that
    drifts (a steadily changing beat period puts the beats on a parabola)."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < width:
        return beats
    # scipy.signal.savgol_filter(beats, width, 2, mode="interp") in numpy: importing scipy.signal takes ~1 s,
    # half the whole transcription of a song. Inside, a fixed filter (the fitted parabola's value at the
    # window's centre); at each end, the parabola of the first or last window.
    offsets = np.arange(width) - width // 2
    centre = np.linalg.pinv(np.vander(offsets, 3))[-1]  # coefficient of x^0 = value at offset 0
    out = np.convolve(beats, centre[::-1], mode="same")
    x, half = np.arange(width), width // 2
    out[:half] = np.polyval(np.polyfit(x, beats[:width], 2), x)[:half]
    out[-half:] = np.polyval(np.polyfit(x, beats[-width:], 2), x)[-half:]
    return out


def beat_grid(beats_s: np.ndarray, tempo_bpm: float, first_s: float, last_s: float) -> np.ndarray:
    """Beat times [s] covering [first_s, last_s]: the tracked beats (:func:`smooth_beats`), extended before
    and after at the period of their first and last few beats (the tempo's period when there are none)."""
    period = 60.0 / tempo_bpm
    beats = np.unique(np.asarray(beats_s, dtype=np.float64))  # sorted; the tracker's beats already are
    beats = beats[np.concatenate([[True], np.diff(beats) > MIN_BEAT_GAP_S])] if len(beats) else beats
    smoothed = smooth_beats(beats)
    beats = smoothed if np.all(np.diff(smoothed) > 0) else beats
    if len(beats) < 2:
        start = 0.0 if len(beats) == 0 else beats[0] - period * np.ceil(max(beats[0] - first_s, 0) / period)
        n = int(np.ceil((last_s - start) / period)) + 2
        return start + period * np.arange(max(n, 2))
    edge = min(EDGE_BEATS, len(beats) - 1)
    # positive: the beats above are strictly increasing (at least MIN_BEAT_GAP_S apart, smoothing only kept
    # when it keeps their order)
    head, tail = (beats[edge] - beats[0]) / edge, (beats[-1] - beats[-1 - edge]) / edge
    before = []
    t = beats[0]
    while t > first_s - head / 8:
        t -= head
        before.append(t)
    after = []
    t = beats[-1]
    while t <= last_s + tail / 8:
        t += tail
        after.append(t)
    return np.concatenate([before[::-1], beats, after])


def quantise(tr: Transcription) -> tuple[list[tuple[int, Fraction, int]], float]:
    """Onsets on the beat grid: ([(class, offset in quarter notes from the first measure, velocity)], tempo).

    Each beat's subdivision is 4 (sixteenths) or 3 (eighth triplets), doubled where two strokes of one drum
    would otherwise share a slot; measures start on the beat phase that holds the most kicks."""
    g = place_on_grid(tr)
    return g.from_first_measure(), g.bpm


@dataclass(frozen=True)
class GridPlacement:
    """Onsets placed on a beat grid (what :func:`quantise` and the .chart writer share).

    ``placed``: (class, position in beats of ``grid``, velocity); beat ``b`` sounds at ``grid[b]`` [s]
    and position ``b + f`` at ``grid[b] + f * (grid[b + 1] - grid[b])``. ``first_measure``: the beat index
    (may be negative: before the grid) where the first measure starts; measures are ``beats_per_bar`` beats
    long.
    """

    placed: list[tuple[int, Fraction, int]]
    grid: np.ndarray
    first_measure: int
    bpm: float
    beats_per_bar: int = BEATS_PER_MEASURE
    #: the articulation of each placed onset (open, closed, ride, crash) where the model names one, else None
    articulations: tuple[str | None, ...] = ()

    def from_first_measure(self) -> list[tuple[int, Fraction, int]]:
        """``placed`` with positions counted in quarter notes from the first measure's start."""
        return [(c, p - self.first_measure, v) for c, p, v in self.placed]


def _error(frac: np.ndarray, d: int) -> float:
    """Summed distance [beats] of one beat's onsets (fractions of the beat) to their nearest 1/d slot."""
    return float(np.abs(frac * d - np.round(frac * d)).sum() / d)


def _merged(frac: np.ndarray, classes: np.ndarray, d: int) -> int:
    """How many of one beat's onsets (fractions of the beat, classes) land on a slot of a ``d``-division
    that another onset of their class already holds."""
    slots = list(zip(classes.tolist(), np.round(frac * d).astype(int).tolist()))
    return len(slots) - len(set(slots))


def measure_phase(
    placed: list[tuple[int, Fraction, int]], first_beat: int, beats: int = BEATS_PER_MEASURE
) -> int:
    """The beat phase (mod ``beats``, the beats per bar, counted from ``first_beat``) where the measures
    start: the one on which most kicks fall (0 without kicks on the beat)."""
    kick_beats = np.array([int(p) for c, p, _ in placed if c == KICK and p.denominator == 1], dtype=np.int64)
    return int(np.argmax(np.bincount((kick_beats - first_beat) % beats, minlength=beats)))


def bar_lines(g: GridPlacement) -> np.ndarray:
    """Times [s] of a placement's bar lines on its grid: beats ``first_measure + k * beats_per_bar``."""
    idx = np.arange(len(g.grid))
    return np.asarray(g.grid, dtype=np.float64)[(idx - g.first_measure) % g.beats_per_bar == 0]


def _slot_position(b: int, f: float, d: int) -> Fraction:
    """An onset's position [beats]: its beat ``b`` plus its fraction ``f`` rounded to the beat's division."""
    return Fraction(int(b)) + Fraction(int(np.round(f * d)), d)


#: the finest division of a beat (32nds; 6: sextuplets) that :func:`_resolve_beat_joins` doubles to
FINEST_DIVISION = 8


def _resolve_beat_joins(
    idx: np.ndarray, frac: np.ndarray, classes: np.ndarray, subdiv: dict[int, int]
) -> list[Fraction]:
    """Positions of the onsets (changes ``subdiv`` in place).

    Inside a beat the division chosen already keeps strokes of one drum apart where it can; across a beat's
    join a stroke just before the beat rounds up onto it and may meet one just after it. Each such clash
    doubles the division of the one of its two beats that parts them at the smaller rounding error (to 32nds
    or sextuplets at most, as inside a beat); where neither can, the two share the slot."""
    positions = [_slot_position(b, f, subdiv[int(b)]) for b, f in zip(idx, frac)]
    members: dict[int, np.ndarray] = {}  # the onsets of a beat at a clash, found when first needed
    stuck: set[tuple[int, int]] = set()
    while True:
        first: dict[tuple[int, Fraction], int] = {}
        clash = None
        for i, key in enumerate(zip(classes.tolist(), positions)):
            j = first.setdefault(key, i)
            if j != i and idx[j] != idx[i] and (j, i) not in stuck:
                clash = (j, i)
                break
        if clash is None:
            return positions
        options = []
        for b in (int(idx[clash[0]]), int(idx[clash[1]])):
            if b not in members:
                members[b] = np.flatnonzero(idx == b)
            d = subdiv[b] * 2
            if d > FINEST_DIVISION:
                continue
            f, cls = frac[members[b]], classes[members[b]]
            if _merged(f, cls, d) > _merged(f, cls, subdiv[b]):
                continue  # the finer division would join two of the beat's own strokes
            moved = {int(i): _slot_position(b, frac[i], d) for i in members[b]}
            if moved.get(clash[0], positions[clash[0]]) != moved.get(clash[1], positions[clash[1]]):
                options.append((_error(f, d), b, moved))
        if not options:
            stuck.add(clash)
            continue
        _, b, moved = min(options, key=lambda o: o[:2])
        subdiv[b] *= 2
        for i, pos in moved.items():
            positions[i] = pos


def place_on_grid(tr: Transcription) -> GridPlacement:
    """Each onset on the nearest sixteenth or eighth-triplet of its beat (chosen per beat; 32nds or
    sixteenth sextuplets where two strokes of one drum would share a slot), measures on the beat phase that
    holds the most kicks."""
    bpm = _tempo(tr)
    arts = tr.onset_articulations()
    events = [
        (float(t), c, int(v), None if arts[c] is None else arts[c][0][i])
        for c, (ts, vs) in enumerate(zip(tr.onsets, tr.velocities))
        for i, (t, v) in enumerate(zip(ts, vs))
    ]
    meter = beats_per_bar(tr)
    if not events:
        return GridPlacement([], np.zeros(0), 0, bpm, meter)
    times = np.array([e[0] for e in events])
    grid = beat_grid(tr.beats_s, bpm, float(times.min()), float(times.max()))
    # beat index and fractional position: each onset in the beat it falls in (one just before a beat may
    # round onto it: _resolve_beat_joins)
    idx = np.clip(np.searchsorted(grid, times, side="right") - 1, 0, len(grid) - 2)
    frac = (times - grid[idx]) / (grid[idx + 1] - grid[idx])
    classes = np.array([e[1] for e in events])
    subdiv: dict[int, int] = {}
    order = np.argsort(idx, kind="stable")  # each beat's onsets together, in one pass
    for group in np.split(order, np.flatnonzero(np.diff(idx[order])) + 1):
        b, f, cls = idx[group[0]], frac[group], classes[group]
        d = 3 if _error(f, 3) < TRIPLET_PREFERENCE * _error(f, 4) else 4
        if _merged(f, cls, d):  # fast strokes (double bass, rolls): 32nds or sextuplets, whichever fits
            d = min((d, 8, 6), key=lambda e: (_merged(f, cls, e), _error(f, e)))
        subdiv[int(b)] = d
    positions = _resolve_beat_joins(idx, frac, classes, subdiv)
    placed = [(c, pos, v) for (_, c, v, _a), pos in zip(events, positions)]
    first_beat = int(min(p for _, p, _ in placed))
    phase = measure_phase(placed, first_beat, meter)
    # measures start at first_beat + phase - k * meter; choose the start at or before the first beat
    start = first_beat + phase - (meter if phase > 0 else 0)
    return GridPlacement(placed, grid, start, bpm, meter, tuple(e[3] for e in events))


def _staff(key: int) -> tuple[str, int, str, int]:
    """(display step, octave, notehead, voice) of a class or an articulation's staff key."""
    return DRUM_STAFF.get(key) or ARTICULATION_DRUM_STAFF.get(key) or DRUM_STAFF[SNARE]


def _voice_events(
    placed: list[tuple[int, Fraction, int]], voice: int, articulations: Sequence[str | None] = ()
) -> dict[Fraction, list[int]]:
    """{position: staff keys} of one voice; a class's onset the articulation head names open or ride gets
    its own staff key (:data:`ARTICULATION_STAFF`)."""
    out: dict[Fraction, list[int]] = {}
    for i, (c, pos, _) in enumerate(placed):
        key = staff_key(c, articulations[i] if i < len(articulations) else None)
        if _staff(key)[3] == voice:
            out.setdefault(pos, [])
            if key not in out[pos]:
                out[pos].append(key)
    return out


def _unpitched(c: int, duration: Fraction, stem: str) -> Any:
    from music21 import note

    step, octave, head, _ = _staff(c)
    n = note.Unpitched(displayName=f"{step}{octave}")
    n.duration.quarterLength = duration
    if head != "normal":
        n.notehead = head
    n.stemDirection = stem
    return n


@functools.cache
def _writable(length: Fraction) -> bool:
    """A single note value a score writes: plain, dotted or a triplet (music21 finds no simpler form for
    5/8 of a beat, and writes 5/6 as a 6:5 tuplet)."""
    from music21 import duration

    d = duration.Duration(length)
    return d.type != "complex" and all(
        (t.numberNotesActual, t.numberNotesNormal) == (3, 2) for t in d.tuplets
    )


def _notated(length: Fraction) -> list[Fraction]:
    """``length`` [quarter notes, within one beat] as writable note values, longest first, in steps of its
    own denominator (5/8 -> 1/2 + 1/8; 5/6 -> 2/3 + 1/6)."""
    parts = []
    step = Fraction(1, length.denominator)
    while length > 0:
        part = next((k * step for k in range(int(length / step), 0, -1) if _writable(k * step)), step)
        parts.append(part)
        length -= part
    return parts


def _fill_voice(
    voice: Any,
    events: dict[Fraction, list[int]],
    positions: list[Fraction],
    measure_start: Fraction,
    stem: str,
    beats: int = BEATS_PER_MEASURE,
) -> None:
    """Notes, chords and rests of one voice in one measure of ``beats`` quarter notes; nothing crosses a
    beat.

    ``positions`` are the sorted keys of ``events``."""
    from music21 import note, percussion

    def rests(length: Fraction) -> None:
        for part in _notated(length):
            voice.append(note.Rest(quarterLength=part))

    for beat in range(beats):
        b0 = measure_start + beat
        inside = positions[bisect.bisect_left(positions, b0) : bisect.bisect_left(positions, b0 + 1)]
        cursor = b0
        for i, p in enumerate(inside):
            if p > cursor:
                rests(p - cursor)
            end = inside[i + 1] if i + 1 < len(inside) else b0 + 1
            length = _notated(end - p)[0]  # the note, then rests up to the next one where needed
            classes = sorted(events[p], key=lambda c: _staff(c)[:2])
            if len(classes) == 1:
                voice.append(_unpitched(classes[0], length, stem))
            else:
                chord = percussion.PercussionChord([_unpitched(c, length, stem) for c in classes])
                chord.duration.quarterLength = length
                chord.stemDirection = stem
                voice.append(chord)
            if p + length < end:
                rests(end - p - length)
            cursor = end
        if cursor < b0 + 1:
            rests(b0 + 1 - cursor)


class _QuietBeamWarnings:
    """Stands in for music21's ``beam.environLocal``, whose one warning (a partial beam to the right that the
    next note continues or stops) goes to stderr mid-export; :func:`_voice_beams` repairs that case, so the
    message goes to the debug log instead."""

    def __init__(self, environment: Any) -> None:
        self._environment = environment

    def warn(self, msg: Any, header: Any = None) -> None:
        log.debug("music21 beams: %s", msg)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._environment, name)


def _voice_beams(signature: Any, elements: list) -> list:
    """music21's beams for one voice of a measure, with the one inconsistency its sanitising only warns about
    repaired: a beam that opens as a partial beam to the right on a note whose next note continues or stops
    it is that beam's start (a dotted sixteenth before a sixteenth: music21 gives the first a stub)."""
    from music21 import beam

    if not isinstance(beam.environLocal, _QuietBeamWarnings):
        beam.environLocal = _QuietBeamWarnings(beam.environLocal)
    beams_list = signature.getBeams(elements, measureStartOffset=0.0)
    for this, following in zip(beams_list[:-1], beams_list[1:], strict=True):
        if not this or not following:
            continue
        for number in this.getNumbers():
            b = this.getByNumber(number)
            if (
                b.type == "partial"
                and b.direction == "right"
                and number in following.getNumbers()
                and following.getByNumber(number).type in ("continue", "stop")
            ):
                b.type, b.direction = "start", None
    return beams_list


def build_score(tr: Transcription) -> Any:
    """A music21 Score of the transcription (see the module docstring)."""
    from music21 import clef, instrument, layout, metadata, meter, stream, tempo

    g = place_on_grid(tr)
    placed, bpm = g.from_first_measure(), g.bpm
    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = f"Drums: {tr.source}" if tr.source else "Drums"
    score.metadata.composer = "drumscribe"
    part = stream.Part()
    part.id = "drums"
    part.partName = "Drum Set"
    kit = instrument.UnpitchedPercussion()
    kit.instrumentName = "Drum Set"
    kit.midiChannel = MIDI_DRUM_CHANNEL
    part.insert(0, kit)
    end = max((p for _, p, _ in placed), default=Fraction(0))
    beats = beats_per_bar(tr)
    n_measures = max(1, int(end // beats) + 1)
    signature = meter.TimeSignature(f"{beats}/4")
    up, down = _voice_events(placed, 1, g.articulations), _voice_events(placed, 2, g.articulations)
    up_pos, down_pos = sorted(up), sorted(down)
    for m in range(n_measures):
        measure = stream.Measure(number=m + 1)
        if m == 0:
            measure.insert(0, clef.PercussionClef())
            measure.insert(0, signature)
            measure.insert(0, tempo.MetronomeMark(number=round(bpm, 1), referent=1.0))
        start = Fraction(m * beats)
        v1, v2 = stream.Voice(id="1"), stream.Voice(id="2")
        _fill_voice(v1, up, up_pos, start, "up", beats)
        _fill_voice(v2, down, down_pos, start, "down", beats)
        for v in (v1, v2):  # beams from the one signature (music21's makeBeams looks it up per measure)
            elements = list(v.notesAndRests)
            for el, beams in zip(elements, _voice_beams(signature, elements), strict=True):
                if beams is not None:
                    el.beams = beams
        measure.insert(0, v1)
        measure.insert(0, v2)
        if m and m % 4 == 0:
            measure.insert(0, layout.SystemLayout(isNew=True))
        part.append(measure)
    score.insert(0, part)
    return score


def add_drum_instruments(xml: bytes, tr: Transcription) -> bytes:
    """Give the part one ``score-instrument`` per class (with its GM note as ``midi-unpitched``) and each
    note an ``<instrument id>``, so notation programs (MuseScore) map staff positions to drum sounds."""
    import xml.etree.ElementTree as ET

    header, sep, _ = xml.partition(b"<score-partwise")
    root = ET.fromstring(xml)
    score_part = root.find("part-list/score-part")
    if score_part is None:
        return xml
    pid = score_part.get("id", "P1")
    for tag in ("score-instrument", "midi-instrument", "midi-device"):
        for el in score_part.findall(tag):
            score_part.remove(el)
    from ..articulation import card_outputs

    notes = {c: int(n) for c, n in enumerate(tr.midi_notes)}
    for o in card_outputs(tr.model_card):  # open hi-hat and ride, when the model names them
        if o.class_name in tr.classes:
            c = tr.classes.index(o.class_name)
            key = ARTICULATION_STAFF.get((c, o.name))
            if key is not None:
                notes[key] = o.notes(tr.midi_notes[c])[0]
    ids = {key: f"{pid}-I{key + 1}" for key in notes}
    names = {
        KICK: "Bass Drum",
        SNARE: "Snare Drum",
        TOMS: "Tom",
        HIHAT: "Hi-Hat",
        CYMBALS: "Cymbal",
        OPEN_HIHAT: "Open Hi-Hat",
        RIDE: "Ride Cymbal",
    }
    insert_at = len(list(score_part))
    for c, iid in ids.items():
        si = ET.Element("score-instrument", id=iid)
        ET.SubElement(si, "instrument-name").text = names.get(c) or tr.classes[c]
        score_part.insert(insert_at, si)
        insert_at += 1
    for c, iid in ids.items():
        mi = ET.SubElement(score_part, "midi-instrument", id=iid)
        ET.SubElement(mi, "midi-channel").text = str(MIDI_DRUM_CHANNEL + 1)
        ET.SubElement(mi, "midi-unpitched").text = str(notes[c] + 1)  # MusicXML counts from 1
    # staff position -> key; an open hi-hat shares the hi-hat's place, with a circled x
    position = {f"{_staff(c)[0]}{_staff(c)[1]}": c for c in ids if c != OPEN_HIHAT}
    for note_el in root.iter("note"):
        unp = note_el.find("unpitched")
        if unp is None:
            continue
        c = position.get(f"{unp.findtext('display-step')}{unp.findtext('display-octave')}")
        if c == HIHAT and note_el.findtext("notehead") == "circle-x":
            c = OPEN_HIHAT
        if c is None or c not in ids:
            continue
        children = list(note_el)
        # schema order: ... unpitched, duration, tie*, instrument*, (editorial) voice, type ...
        after = max(i for i, el in enumerate(children) if el.tag in ("unpitched", "duration", "tie"))
        note_el.insert(after + 1, ET.Element("instrument", id=ids[c]))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return (header if sep else b'<?xml version="1.0" encoding="utf-8"?>\n') + body + b"\n"


def write_musicxml(tr: Transcription, path: str | Path) -> Path:
    """MusicXML drum score (see the module docstring)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    path = Path(path)
    exporter = GeneralObjectExporter(build_score(tr))
    # the score is complete as built (measures, voices filled with rests, beams): skipping music21's
    # makeNotation pass (a deep copy, makeRests, makeBeams) makes the export ~3x faster
    exporter.makeNotation = False
    xml = exporter.parse()
    xml = add_drum_instruments(xml, tr)
    with atomic_open(path, "wb") as fh:
        fh.write(xml)
    return path
