"""Annotation readers: ENST txt, MDB subclass txt, generic txt/csv and MIDI -> onsets per class.

Every reader returns an :class:`Annotation`: one array of onset times [s] per class, in the order of the
vocabulary, plus velocities (0-1, MIDI velocity / 127) where the source has them. Source labels go
through a :class:`~drumscribe.vocab.LabelMap`; an unknown label raises
:class:`~drumscribe.errors.AnnotationError` naming the file and line (strict maps) or is skipped with
one warning (General MIDI and Roland maps, as in the thesis).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AnnotationError
from ..vocab import CLASS_NAMES, DEFAULT_VOCAB, LabelMap, get_label_map

log = logging.getLogger(__name__)

#: Column names accepted for the time and the label of a generic csv file (first match wins).
TIME_COLUMNS = ("time", "time_s", "onset", "onset_s", "onset_time", "seconds", "start")
LABEL_COLUMNS = ("label", "class", "instrument", "drum", "pitch", "note", "name")
VELOCITY_COLUMNS = ("velocity", "vel")


@dataclass
class Annotation:
    """Onset times [s] per class and, optionally, velocities in [0, 1] per onset."""

    onsets: list[np.ndarray]
    velocities: list[np.ndarray] | None = None
    #: when no event mapped to a class: the labels the map did not know (a hint that it is the wrong map)
    unknown_labels: tuple[str, ...] = ()

    @property
    def n_onsets(self) -> list[int]:
        return [len(o) for o in self.onsets]


def _collect(
    events: Iterable[tuple[float, Hashable, float | None]],
    label_map: LabelMap,
    path: Path,
    n_classes: int = len(CLASS_NAMES),
) -> Annotation:
    """Map (time [s], label, velocity or None) events to an :class:`Annotation`, sorted by time."""
    times: list[list[float]] = [[] for _ in range(n_classes)]
    vels: list[list[float]] = [[] for _ in range(n_classes)]
    any_velocity = False
    unknown: dict[str, None] = {}  # labels the map neither maps nor ignores, in order of appearance
    for t, label, v in events:
        try:
            cls = label_map.lookup(label)
        except AnnotationError as exc:
            raise AnnotationError(f"{path}: {exc}") from None
        if cls is None:
            if not label_map.known(label):
                unknown[str(label)] = None
            continue
        times[cls].append(float(t))
        vels[cls].append(float(v) if v is not None else np.nan)
        any_velocity = any_velocity or v is not None
    onsets = []
    velocities = []
    for c in range(n_classes):
        t = np.asarray(times[c], dtype=np.float64)
        order = np.argsort(t, kind="stable")
        onsets.append(t[order])
        velocities.append(np.asarray(vels[c], dtype=np.float64)[order])
    return Annotation(
        onsets, velocities if any_velocity else None, unknown_labels=() if any(times) else tuple(unknown)
    )


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise AnnotationError(f"{path}: annotation file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot read annotation file ({exc})") from None


def _parse_time(text: str, path: Path, lineno: int) -> float:
    try:
        t = float(text)
    except ValueError:
        raise AnnotationError(f"{path}, line {lineno}: {text!r} is not a time in seconds") from None
    if not np.isfinite(t) or t < 0:
        raise AnnotationError(f"{path}, line {lineno}: onset time {text!r} is negative or not finite")
    return t


def _label_key(label: str, label_map: LabelMap) -> Hashable:
    """Use an integer key for numeric labels when the map is keyed by MIDI pitches."""
    if label.lstrip("-").isdigit() and any(isinstance(k, int) for k in label_map.classes):
        return int(label)
    return label


def read_time_label_txt(path: str | Path, label_map: LabelMap) -> Annotation:
    """Text file with one ``time label`` pair per line (tab or spaces between; blank and ``#`` lines skipped).

    This covers ENST-Drums (``0.123 bd``), MDB Drums subclass files (``0.123<TAB>KD``, sometimes padded
    with spaces) and user ``.txt`` sidecars (``time<TAB>label``).
    """
    path = Path(path)
    events = []
    for lineno, line in enumerate(_read_lines(path), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise AnnotationError(f"{path}, line {lineno}: expected 'time<TAB>label', got {line!r}")
        t = _parse_time(parts[0], path, lineno)
        label = parts[1]
        velocity = None
        if len(parts) >= 3 and _is_number(parts[2]):
            velocity = _velocity(float(parts[2]))
        events.append((t, _label_key(label, label_map), velocity))
    return _collect(events, label_map, path)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _velocity(value: float) -> float:
    """A velocity in [0, 1]: values above 1 are taken as MIDI velocities (1-127)."""
    return float(np.clip(value / 127.0 if value > 1.0 else value, 0.0, 1.0))


def read_enst(path: str | Path) -> Annotation:
    """ENST-Drums annotation (``time label`` per line) with the ENST label map (SPEC section 2)."""
    return read_time_label_txt(path, get_label_map("enst"))


def read_mdb(path: str | Path) -> Annotation:
    """MDB Drums subclass annotation (``time<TAB>LABEL`` per line) with the MDB label map."""
    return read_time_label_txt(path, get_label_map("mdb"))


def read_csv(path: str | Path, label_map: LabelMap) -> Annotation:
    """CSV with a header naming a time column and a label column (e.g. ``time,label``), optional velocity."""
    path = Path(path)
    lines = _read_lines(path)
    if not lines:
        raise AnnotationError(f"{path}: empty csv file")
    reader = csv.DictReader(lines)
    fields = {(f or "").strip().lower(): f for f in (reader.fieldnames or [])}
    time_col = next((fields[c] for c in TIME_COLUMNS if c in fields), None)
    label_col = next((fields[c] for c in LABEL_COLUMNS if c in fields), None)
    vel_col = next((fields[c] for c in VELOCITY_COLUMNS if c in fields), None)
    if time_col is None or label_col is None:
        raise AnnotationError(
            f"{path}: csv header must name a time column ({', '.join(TIME_COLUMNS)}) and a label column "
            f"({', '.join(LABEL_COLUMNS)}); found {list(fields)}"
        )
    events = []
    for lineno, row in enumerate(reader, start=2):
        t_text = (row.get(time_col) or "").strip()
        label = (row.get(label_col) or "").strip()
        if not t_text and not label:
            continue
        t = _parse_time(t_text, path, lineno)
        velocity = None
        if vel_col is not None and (row.get(vel_col) or "").strip():
            v_text = row[vel_col].strip()
            if not _is_number(v_text):
                raise AnnotationError(f"{path}, line {lineno}: velocity {v_text!r} is not a number")
            velocity = _velocity(float(v_text))
        events.append((t, _label_key(label, label_map), velocity))
    return _collect(events, label_map, path)


#: the General MIDI percussion channel (channel 10, numbered from 0)
GM_DRUM_CHANNEL = 9


def read_midi(path: str | Path, label_map: LabelMap) -> Annotation:
    """The strokes of a MIDI file, mapped by pitch; velocities are MIDI velocity / 127.

    Every note-on (velocity > 0) that a note-off (or a note-on of velocity 0) of its channel and pitch ends,
    at the same tick or later, is a stroke: a stroke whose note-off shares its tick counts too (pretty_midi
    drops such notes). As in the thesis (partitura), a note-on that never ends is dropped. When any note
    is on the General MIDI percussion channel (10), only that channel is read, so a song file's piano or
    bass notes are not taken for drums; files with their drums on other channels (MDB Drums++ uses channel
    1) are read whole. Tempo changes are honoured (pretty_midi's tick-to-time map).
    """
    import mido
    import pretty_midi

    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: MIDI file not found")
    try:
        pm = pretty_midi.PrettyMIDI(str(path))
        # (tick, channel, pitch, velocity) of every ended note-on
        notes: list[tuple[int, int, int, int]] = []
        for track in mido.MidiFile(str(path)).tracks:
            tick = 0
            open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for msg in track:
                tick += msg.time
                if msg.type == "note_on" and msg.velocity > 0:
                    open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                elif msg.type in ("note_on", "note_off"):
                    for start, velocity in open_notes.pop((msg.channel, msg.note), []):
                        notes.append((start, msg.channel, msg.note, velocity))
        if any(ch == GM_DRUM_CHANNEL for _, ch, _, _ in notes):
            notes = [n for n in notes if n[1] == GM_DRUM_CHANNEL]
        events = [(float(pm.tick_to_time(t)), pitch, velocity / 127.0) for t, _, pitch, velocity in notes]
    except Exception as exc:  # pretty_midi/mido raise many kinds of errors on corrupt files
        raise AnnotationError(f"{path}: cannot read MIDI file ({type(exc).__name__}: {exc})") from None
    return _collect(events, label_map, path)


def read_annotation(path: str | Path, label_map: LabelMap) -> Annotation:
    """Read ``.txt``/``.tsv``/``.lab``, ``.csv`` or ``.mid``/``.midi`` by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".mid", ".midi"):
        return read_midi(path, label_map)
    if suffix == ".csv":
        return read_csv(path, label_map)
    if suffix in (".txt", ".tsv", ".lab"):
        return read_time_label_txt(path, label_map)
    raise AnnotationError(f"{path}: unknown annotation format {suffix!r} (expected .txt, .csv or .mid)")


def label_map_from_json(path: str | Path, strict: bool = True) -> LabelMap:
    """A label map from a JSON object ``{label: class name or index or null}``; null means "ignore".

    Class names are those of :data:`~drumscribe.vocab.DEFAULT_VOCAB` (``kick``, ``snare``, ``toms``,
    ``hihat``, ``cymbals``) or their short forms (``KD``, ``SD``, ``TT``, ``HH``, ``CY``). Keys that are
    integers (as strings) are also registered as MIDI pitches.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(f"{path}: label map file not found") from None
    except (OSError, ValueError) as exc:
        raise AnnotationError(f"{path}: cannot read label map JSON ({exc})") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: label map must be a JSON object {{label: class}}")
    classes: dict[Hashable, int] = {}
    ignored: set[Hashable] = set()
    for label, target in data.items():
        keys: list[Hashable] = [label]
        if label.lstrip("-").isdigit():
            keys.append(int(label))
        if target is None:
            ignored.update(keys)
            continue
        if isinstance(target, int) and 0 <= target < len(DEFAULT_VOCAB):
            cls = target
        else:
            try:
                cls = DEFAULT_VOCAB.index(str(target))
            except KeyError as exc:
                raise AnnotationError(f"{path}: label {label!r}: {exc.args[0]}") from None
        for k in keys:
            classes[k] = cls
    return LabelMap(name=path.name, classes=classes, ignored=frozenset(ignored), strict=strict)


def resolve_label_map(spec: str | Path) -> LabelMap:
    """A built-in label map by name (enst, mdb, gm, roland) or a JSON file (see :func:`label_map_from_json`)."""
    text = str(spec)
    try:
        return get_label_map(text)
    except KeyError:
        pass
    if Path(text).suffix.lower() == ".json" or Path(text).is_file():
        return label_map_from_json(text)
    raise AnnotationError(f"unknown label map {text!r}: use enst, mdb, gm, roland or a JSON file path")
