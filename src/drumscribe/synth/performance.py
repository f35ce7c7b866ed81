"""A drum performance: timed, velocity-annotated hits of kit pieces, plus the beat grid and song sections.

A :class:`Performance` is what the synthesis engine renders and labels. It is produced by the groove
generator (:mod:`drumscribe.synth.grooves`) or read from human MIDI grooves (:mod:`drumscribe.synth.gmd`),
and it is followed by the accompaniment (:mod:`drumscribe.synth.accompaniment`), which reads its tempo,
beats, downbeats and ``meta["sections"]``.

``meta`` conventions (all JSON-serialisable):

- ``source``: "generator", "gmd" or "midi"; ``style``: style name.
- ``sections``: list of ``{"name", "start_s", "end_s", "intensity"}`` (intensity in [0, 1]); names are
  intro, verse, chorus, bridge, break, outro, groove, fill.
- ``fills``: list of ``[start_s, end_s]`` spans where the drummer plays a fill.
- ``beats_per_bar``: int.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnnotationError, ConfigError
from ..midi import write_drum_midi
from ..vocab import NUM_CLASSES
from .pieces import PIECE_CLASS, PIECE_GM_NOTE, PIECES

log = logging.getLogger(__name__)

#: MIDI note length written by :meth:`Performance.to_midi` [s] (drums are one-shots; only note-on matters)
MIDI_NOTE_LENGTH_S = 0.05
#: ticks per quarter note of exported MIDI files
MIDI_TICKS_PER_BEAT = 960


@dataclass
class Performance:
    """Drum hits of one track.

    Attributes:
        times_s: hit times [s], float64, sorted ascending.
        pieces: kit piece of each hit (names from :data:`drumscribe.synth.pieces.PIECES`).
        velocities: MIDI velocity of each hit, int 1..127.
        duration_s: length of the track [s] (hits lie in [0, duration_s)).
        tempo_bpm: nominal tempo [quarter notes per minute].
        beats_s: beat times [s].
        downbeats_s: bar start times [s] (a subset of ``beats_s``).
        meta: style, source, sections, fills and other JSON-serialisable facts.
    """

    times_s: np.ndarray
    pieces: list[str]
    velocities: np.ndarray
    duration_s: float
    tempo_bpm: float
    beats_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downbeats_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        vels = np.asarray(self.velocities).reshape(-1)
        pieces = [str(p) for p in self.pieces]
        if not (len(times) == len(vels) == len(pieces)):
            raise ConfigError(
                f"performance: {len(times)} times, {len(pieces)} pieces and {len(vels)} velocities differ"
            )
        unknown = sorted(set(pieces) - set(PIECES))
        if unknown:
            raise ConfigError(f"performance: unknown kit pieces {unknown}; known: {', '.join(PIECES)}")
        if not np.all(np.isfinite(times)):
            raise ConfigError("performance: hit times must be finite")
        if not np.isfinite(self.duration_s) or self.duration_s < 0:
            raise ConfigError(f"performance: invalid duration {self.duration_s!r} s")
        if not np.isfinite(self.tempo_bpm) or self.tempo_bpm <= 0:
            raise ConfigError(f"performance: invalid tempo {self.tempo_bpm!r} BPM")
        order = np.argsort(times, kind="stable")
        self.times_s = times[order]
        self.pieces = [pieces[i] for i in order]
        self.velocities = np.clip(np.rint(vels[order].astype(np.float64)), 1, 127).astype(np.int64)
        self.duration_s = float(self.duration_s)
        self.tempo_bpm = float(self.tempo_bpm)
        self.beats_s = np.sort(np.asarray(self.beats_s, dtype=np.float64).reshape(-1))
        self.downbeats_s = np.sort(np.asarray(self.downbeats_s, dtype=np.float64).reshape(-1))
        self.meta = dict(self.meta)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.times_s)

    def class_onsets(self) -> list[np.ndarray]:
        """Onset times [s] per class (5 sorted arrays) via :data:`~drumscribe.synth.pieces.PIECE_CLASS`."""
        out: list[list[float]] = [[] for _ in range(NUM_CLASSES)]
        for t, p in zip(self.times_s, self.pieces):
            c = PIECE_CLASS[p]
            if c is not None:
                out[c].append(float(t))
        return [np.asarray(sorted(x), dtype=np.float64) for x in out]

    def piece_counts(self) -> dict[str, int]:
        """Number of hits per kit piece (pieces that occur only)."""
        counts: dict[str, int] = {}
        for p in self.pieces:
            counts[p] = counts.get(p, 0) + 1
        return counts

    def events(self) -> list[tuple[float, str, int]]:
        """(time [s], piece, velocity) per hit, in time order."""
        return [(float(t), p, int(v)) for t, p, v in zip(self.times_s, self.pieces, self.velocities)]

    def sections(self) -> list[dict[str, Any]]:
        """The song sections of ``meta["sections"]``, or one section spanning the track."""
        secs = self.meta.get("sections")
        if secs:
            return [dict(s) for s in secs]
        return [{"name": "verse", "start_s": 0.0, "end_s": self.duration_s, "intensity": 0.5}]

    # ------------------------------------------------------------------ transforms
    def _with(self, **changes: Any) -> Performance:
        kw = {
            "times_s": self.times_s.copy(),
            "pieces": list(self.pieces),
            "velocities": self.velocities.copy(),
            "duration_s": self.duration_s,
            "tempo_bpm": self.tempo_bpm,
            "beats_s": self.beats_s.copy(),
            "downbeats_s": self.downbeats_s.copy(),
            "meta": copy.deepcopy(self.meta),
        }
        kw.update(changes)
        return Performance(**kw)

    def without_span(self, start_s: float, end_s: float) -> Performance:
        """The drummer rests in [start_s, end_s): the hits there are removed (the tempo, beats and sections,
        which the band follows, stay); the span is recorded in ``meta["tacet_s"]``."""
        if not end_s > start_s:
            raise ConfigError(f"without_span: need start < end, got {start_s!r}, {end_s!r}")
        keep = (self.times_s < start_s) | (self.times_s >= end_s)
        return self.select(keep, tacet_s=[round(float(start_s), 4), round(float(end_s), 4)])

    def select(self, keep: np.ndarray, **meta: Any) -> Performance:
        """The hits where the boolean array ``keep`` is True (the grid stays); ``meta`` entries are added to a
        copy of its meta."""
        keep = np.asarray(keep, dtype=bool).reshape(-1)
        if len(keep) != len(self):
            raise ConfigError(f"select: {len(keep)} flags for {len(self)} hits")
        return self._with(
            times_s=self.times_s[keep],
            pieces=[p for p, k in zip(self.pieces, keep) if k],
            velocities=self.velocities[keep],
            meta={**copy.deepcopy(self.meta), **meta},
        )

    def time_stretch(self, factor: float) -> Performance:
        """Scale every time by ``factor`` (> 1 plays slower: the tempo becomes ``tempo_bpm / factor``)."""
        if not np.isfinite(factor) or factor <= 0:
            raise ConfigError(f"time_stretch: factor must be > 0, got {factor!r}")
        meta = copy.deepcopy(self.meta)
        _scale_meta_times(meta, factor)
        meta["time_stretch"] = float(meta.get("time_stretch", 1.0)) * float(factor)
        return self._with(
            times_s=self.times_s * factor,
            duration_s=self.duration_s * factor,
            tempo_bpm=self.tempo_bpm / factor,
            beats_s=self.beats_s * factor,
            downbeats_s=self.downbeats_s * factor,
            meta=meta,
        )

    def swap_pieces(
        self,
        mapping: Mapping[str, str],
        span_s: tuple[float, float] | None = None,
        name: str | None = None,
    ) -> Performance:
        """Replace kit pieces by others, e.g. ``{"hihat_closed": "ride"}`` (unlisted pieces stay).

        With ``span_s = (a, b)`` only the hits at ``a <= t < b`` change. The swap is recorded in
        ``meta["swaps"]`` as ``{"name", "map", "span_s"}`` (``span_s`` None for the whole performance; read
        records of any age with :func:`swap_record`).
        """
        bad = sorted({*mapping, *mapping.values()} - set(PIECES))
        if bad:
            raise ConfigError(f"swap_pieces: unknown kit pieces {bad}; known: {', '.join(PIECES)}")
        if span_s is None:
            pieces = [mapping.get(p, p) for p in self.pieces]
        else:
            a, b = float(span_s[0]), float(span_s[1])
            pieces = [mapping.get(p, p) if a <= t < b else p for t, p in zip(self.times_s, self.pieces)]
        meta = copy.deepcopy(self.meta)
        record = {"name": name, "map": dict(mapping), "span_s": None if span_s is None else [a, b]}
        meta.setdefault("swaps", []).append(record)
        return self._with(pieces=pieces, meta=meta)

    def with_hits(
        self, times_s: Sequence[float], pieces: Sequence[str], velocities: Sequence[float], **meta: Any
    ) -> Performance:
        """This performance with extra hits overdubbed (same duration and beat grid); ``meta`` entries are
        added to a copy of its meta."""
        return self._with(
            times_s=np.concatenate([self.times_s, np.asarray(times_s, dtype=np.float64).reshape(-1)]),
            pieces=[*self.pieces, *pieces],
            velocities=np.concatenate(
                [self.velocities, np.asarray(velocities, dtype=np.float64).reshape(-1)]
            ),
            meta={**copy.deepcopy(self.meta), **meta},
        )

    def crop(self, start_s: float, end_s: float) -> Performance:
        """The hits in [start_s, end_s), shifted so that ``start_s`` becomes 0."""
        start_s, end_s = float(start_s), float(end_s)
        if not end_s > start_s:
            raise ConfigError(f"crop: end {end_s} s must be after start {start_s} s")
        keep = (self.times_s >= start_s) & (self.times_s < end_s)
        idx = np.flatnonzero(keep)

        def window(a: np.ndarray) -> np.ndarray:
            return a[(a >= start_s) & (a < end_s)] - start_s

        meta = copy.deepcopy(self.meta)
        if "sections" in meta:
            secs = []
            for s in meta["sections"]:
                a, b = max(s["start_s"], start_s), min(s["end_s"], end_s)
                if b > a:
                    secs.append({**s, "start_s": a - start_s, "end_s": b - start_s})
            meta["sections"] = secs
        if "fills" in meta:
            meta["fills"] = [
                [max(a, start_s) - start_s, min(b, end_s) - start_s]
                for a, b in meta["fills"]
                if min(b, end_s) > max(a, start_s)
            ]
        if "tempo_map" in meta:
            tm = [[t - start_s, bpm] for t, bpm in meta["tempo_map"] if t < end_s]
            first = [[0.0, bpm] for t, bpm in tm if t <= 0][-1:]
            meta["tempo_map"] = first + [x for x in tm if x[0] > 0]
        return self._with(
            times_s=self.times_s[idx] - start_s,
            pieces=[self.pieces[i] for i in idx],
            velocities=self.velocities[idx],
            duration_s=end_s - start_s,
            beats_s=window(self.beats_s),
            downbeats_s=window(self.downbeats_s),
            meta=meta,
        )

    @classmethod
    def concatenate(
        cls, performances: Sequence[Performance], meta: dict[str, Any] | None = None
    ) -> Performance:
        """Play performances one after another; each starts where the previous one's duration ends.

        The tempo is the duration-weighted mean; ``meta["tempo_map"]`` records each part's start and tempo.
        Sections and fills are shifted and joined; other meta comes from the first part unless ``meta`` is given.
        """
        if not performances:
            raise ConfigError("concatenate: no performances given")
        offset = 0.0
        times, pieces, vels, beats, downs = [], [], [], [], []
        sections: list[dict[str, Any]] = []
        fills: list[list[float]] = []
        tempo_map: list[list[float]] = []
        for p in performances:
            times.append(p.times_s + offset)
            pieces.extend(p.pieces)
            vels.append(p.velocities)
            beats.append(p.beats_s + offset)
            downs.append(p.downbeats_s + offset)
            for s in p.meta.get("sections", []):
                sections.append({**s, "start_s": s["start_s"] + offset, "end_s": s["end_s"] + offset})
            fills.extend([[a + offset, b + offset] for a, b in p.meta.get("fills", [])])
            for t, bpm in p.meta.get("tempo_map", [[0.0, p.tempo_bpm]]):
                if not tempo_map or tempo_map[-1][1] != bpm:
                    tempo_map.append([t + offset, bpm])
            offset += p.duration_s
        total = offset
        weights = np.array([p.duration_s for p in performances])
        tempos = np.array([p.tempo_bpm for p in performances])
        tempo = float(np.average(tempos, weights=weights) if weights.sum() > 0 else tempos[0])
        new_meta = copy.deepcopy(dict(performances[0].meta) if meta is None else dict(meta))
        new_meta["sections"] = sections
        new_meta["fills"] = fills
        new_meta["tempo_map"] = tempo_map
        return cls(
            times_s=np.concatenate(times),
            pieces=pieces,
            velocities=np.concatenate(vels),
            duration_s=total,
            tempo_bpm=tempo,
            beats_s=np.concatenate(beats),
            downbeats_s=np.concatenate(downs),
            meta=new_meta,
        )

    # ------------------------------------------------------------------ I/O
    def to_midi(self, path: str | Path) -> Path:
        """Write a type-0 General MIDI file: every hit on the drum channel (10) via ``PIECE_GM_NOTE``."""
        return write_drum_midi(
            path,
            [
                (max(t, 0.0), PIECE_GM_NOTE[p], v)
                for t, p, v in zip(self.times_s, self.pieces, self.velocities)
            ],
            bpm=self.tempo_bpm,
            ticks_per_beat=MIDI_TICKS_PER_BEAT,
            note_s=MIDI_NOTE_LENGTH_S,
            track_name="drums",
            beats_per_bar=int(self.meta.get("beats_per_bar", 4)),
            off_velocity=64,
        )

    @classmethod
    def from_midi(
        cls,
        path: str | Path,
        note_map: Mapping[int, str] | None = None,
        tempo_bpm: float | None = None,
        beats_per_bar: int = 4,
        meta: dict[str, Any] | None = None,
    ) -> Performance:
        """Read drum hits from a MIDI file (all channels); ``note_map`` maps keys to pieces (default GM).

        The beat grid starts at 0 s with the first tempo of the file (or ``tempo_bpm``). Keys not in the
        map are skipped and counted in ``meta["skipped_notes"]``.
        """
        from .pieces import GM_NOTE_PIECE

        note_map = GM_NOTE_PIECE if note_map is None else note_map
        times, notes, vels, file_bpm, length = read_midi_notes(path)
        bpm = float(tempo_bpm or file_bpm)
        keep = np.array([n in note_map for n in notes], dtype=bool)
        skipped: dict[str, int] = {}
        for n in notes[~keep]:
            skipped[str(int(n))] = skipped.get(str(int(n)), 0) + 1
        duration = max(length, float(times.max()) + 0.5 if len(times) else 0.0)
        beats, downs = beat_grid(duration, bpm, beats_per_bar)
        m = {
            "source": "midi",
            "file": Path(path).name,
            "beats_per_bar": beats_per_bar,
            "skipped_notes": skipped,
        }
        m.update(meta or {})
        return cls(
            times_s=times[keep],
            pieces=[note_map[int(n)] for n in notes[keep]],
            velocities=vels[keep],
            duration_s=duration,
            tempo_bpm=bpm,
            beats_s=beats,
            downbeats_s=downs,
            meta=m,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (for manifests)."""
        return {
            "times_s": self.times_s.tolist(),
            "pieces": list(self.pieces),
            "velocities": self.velocities.tolist(),
            "duration_s": self.duration_s,
            "tempo_bpm": self.tempo_bpm,
            "beats_s": self.beats_s.tolist(),
            "downbeats_s": self.downbeats_s.tolist(),
            "meta": copy.deepcopy(self.meta),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Performance:
        return cls(
            **{k: d[k] for k in ("times_s", "pieces", "velocities", "duration_s", "tempo_bpm")},
            beats_s=d.get("beats_s", []),
            downbeats_s=d.get("downbeats_s", []),
            meta=d.get("meta", {}),
        )


def _scale_meta_times(meta: dict[str, Any], factor: float) -> None:
    if "sections" in meta:
        meta["sections"] = [
            {**s, "start_s": s["start_s"] * factor, "end_s": s["end_s"] * factor} for s in meta["sections"]
        ]
    if "fills" in meta:
        meta["fills"] = [[a * factor, b * factor] for a, b in meta["fills"]]
    if "tempo_map" in meta:
        meta["tempo_map"] = [[t * factor, bpm / factor] for t, bpm in meta["tempo_map"]]


def beat_grid(duration_s: float, tempo_bpm: float, beats_per_bar: int = 4, start_s: float = 0.0):
    """Beat and downbeat times [s] of a constant tempo from ``start_s`` up to ``duration_s`` (exclusive)."""
    period = 60.0 / tempo_bpm
    n = max(0, int(np.ceil((duration_s - start_s) / period - 1e-9)))
    beats = start_s + period * np.arange(n)
    return beats, beats[::beats_per_bar].copy()


def read_midi_notes(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Note-ons of a MIDI file: (times [s], keys, velocities, first tempo [BPM], file length [s]).

    Raises :class:`~drumscribe.errors.AnnotationError` naming the file when it cannot be parsed.
    """
    import mido

    path = Path(path)
    try:
        mid = mido.MidiFile(str(path))
        now = 0.0
        times, notes, vels = [], [], []
        tempo_us: int | None = None
        for msg in mid:  # merged tracks, delta times in seconds (tempo changes applied)
            now += msg.time
            if msg.type == "set_tempo" and tempo_us is None:
                tempo_us = msg.tempo
            elif msg.type == "note_on" and msg.velocity > 0:
                times.append(now)
                notes.append(msg.note)
                vels.append(msg.velocity)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise AnnotationError(f"{path}: cannot read MIDI file ({exc})") from exc
    bpm = 60_000_000 / tempo_us if tempo_us else 120.0
    return (
        np.asarray(times, dtype=np.float64),
        np.asarray(notes, dtype=np.int64),
        np.asarray(vels, dtype=np.int64),
        float(bpm),
        float(now),
    )


def swap_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A ``meta["swaps"]`` entry as ``{"name", "map", "span_s"}``, whatever its age.

    Renders made before swaps were recorded by name stored a whole-performance swap as the bare mapping and a
    span as ``{"map", "span_s"}``; both come back in today's shape, with ``name`` None.
    """
    if "map" in record:
        span = record.get("span_s")
        return {
            "name": record.get("name"),
            "map": dict(record["map"]),
            "span_s": None if span is None else [float(span[0]), float(span[1])],
        }
    return {"name": None, "map": dict(record), "span_s": None}
