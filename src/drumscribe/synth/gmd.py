"""Human drum performances from the Groove MIDI Dataset (GMD) layout.

GMD: J. Gillick, A. Roberts, J. Engel, D. Eck, D. Bamman, "Learning to Groove with Inverse Sequence
Transformations", ICML 2019. 1,150 MIDI files of 10 drummers on a Roland TD-11 kit, licensed CC BY 4.0
(attribution required). Layout: ``info.csv`` (columns drummer, session, id, style, bpm, beat_type,
time_signature, midi_filename, duration, split) beside ``drummerN/<session>/*.mid``.

Notes use the TD-11 numbering, mapped to kit pieces by :data:`drumscribe.synth.pieces.ROLAND_NOTE_PIECE`.

Pedal hi-hat policy (GMD key 44, about 12% of all notes): real annotations rarely mark the foot "chick"
(MDB marks PHH once in 5 songs; ADTOF charts never), so a model taught to report every chick as hi-hat
produces false positives on real music, while one that never hears a chick may fire on it anyway.
:class:`GrooveLibrary` therefore (``pedal_hihat="sometimes"``, the default):

1. drops pedal notes within :data:`PEDAL_MERGE_S` of a hand-played hi-hat stroke (the pedal closing
   under a stick hit adds nothing audible of its own, and the stroke is labelled anyway);
2. keeps the remaining pedal notes in a share ``pedal_keep_prob`` of the sampled performances, as
   ``hihat_pedal`` (labelled hi-hat, rendered at velocity scaled by ``pedal_velocity_scale``: quieter, as
   in a mix), and drops them from the others (neither rendered nor labelled).

``"keep"`` keeps every pedal note as played, ``"drop"`` removes them all.
"""

from __future__ import annotations

import csv
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AnnotationError, ConfigError, DatasetLayoutError
from .performance import Performance, beat_grid, read_midi_notes
from .pieces import ROLAND_NOTE_PIECE

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("drummer", "session", "style", "bpm", "beat_type", "time_signature", "midi_filename")
SPLITS = ("train", "validation", "test")
PEDAL_POLICIES = ("sometimes", "keep", "drop")
#: a pedal note this close to a hand-played hi-hat stroke is merged into it [s]
PEDAL_MERGE_S = 0.05
_HAND_HIHAT = ("hihat_closed", "hihat_open")
#: bars kept of a fill file (its last bars hold the fill)
_MAX_FILL_BARS = 2


@dataclass(frozen=True)
class GrooveEntry:
    """One row of ``info.csv``."""

    drummer: str
    session: str
    style: str
    bpm: float
    beat_type: str  # "beat" or "fill"
    beats_per_bar: int
    midi_path: Path
    duration_s: float
    split: str

    @property
    def top_style(self) -> str:
        return self.style.split("/")[0]

    @property
    def bar_s(self) -> float:
        return self.beats_per_bar * 60.0 / self.bpm


def _beats_per_bar(sig: str) -> int:
    try:
        num, den = (int(x) for x in sig.replace("/", "-").split("-"))
    except ValueError:
        return 4
    return max(1, round(num * 4 / den))


class GrooveLibrary:
    """The grooves and fills of a folder in the GMD layout, optionally restricted to splits.

    Args:
        folder: the dataset folder (holding ``info.csv``).
        split: "train", "validation", "test", a sequence of them, or None for all files.
        pedal_hihat: "sometimes" (default), "keep" or "drop"; see the module docstring.
        pedal_keep_prob: share of sampled performances that keep isolated pedal hi-hat notes.
        pedal_velocity_scale: velocity factor of kept isolated pedal notes.
        four_four_only: use 4/4 files only (1,138 of 1,150).
    """

    def __init__(
        self,
        folder: str | Path,
        split: str | Sequence[str] | None = None,
        pedal_hihat: str = "sometimes",
        pedal_keep_prob: float = 0.25,
        pedal_velocity_scale: float = 0.7,
        four_four_only: bool = True,
    ):
        self.folder = Path(folder)
        if pedal_hihat not in PEDAL_POLICIES:
            raise ConfigError(f"pedal_hihat must be one of {PEDAL_POLICIES}, got {pedal_hihat!r}")
        self.pedal_hihat = pedal_hihat
        self.pedal_keep_prob = float(pedal_keep_prob)
        self.pedal_velocity_scale = float(pedal_velocity_scale)
        splits = SPLITS if split is None else ((split,) if isinstance(split, str) else tuple(split))
        bad = sorted(set(splits) - set(SPLITS))
        if bad:
            raise ConfigError(f"unknown GMD split(s) {bad}; known: {', '.join(SPLITS)}")
        self.splits = splits
        all_entries = read_info(self.folder)
        self.entries = [
            e
            for e in all_entries
            if e.split in splits and (not four_four_only or e.beats_per_bar == 4) and e.midi_path.is_file()
        ]
        missing = sum(not e.midi_path.is_file() for e in all_entries)
        if missing:
            log.warning("%s: %d MIDI files listed in info.csv are missing", self.folder, missing)
        self.beats = [e for e in self.entries if e.beat_type == "beat"]
        self.fills = [e for e in self.entries if e.beat_type == "fill"]
        if not self.beats:
            raise DatasetLayoutError(
                f"{self.folder}: no groove ('beat') MIDI files found for splits {splits}"
            )
        self._fills_by_key: dict[tuple[str, str, float], list[GrooveEntry]] = {}
        for e in self.fills:
            self._fills_by_key.setdefault((e.drummer, e.top_style, e.bpm), []).append(e)
        self._load = functools.lru_cache(maxsize=256)(self._load_uncached)
        self._broken: set[GrooveEntry] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"GrooveLibrary({str(self.folder)!r}, splits={self.splits}, beats={len(self.beats)}, fills={len(self.fills)})"

    @property
    def styles(self) -> list[str]:
        return sorted({e.top_style for e in self.beats})

    # ------------------------------------------------------------------ loading
    def _load_uncached(self, entry: GrooveEntry) -> Performance:
        times, notes, vels, _, length = read_midi_notes(entry.midi_path)
        keep = np.array([int(n) in ROLAND_NOTE_PIECE for n in notes], dtype=bool)
        if (~keep).any():
            log.debug("%s: skipped %d notes with unknown Roland keys", entry.midi_path, int((~keep).sum()))
        last = float(times.max()) if len(times) else 0.0
        # info.csv's duration is the recording's: 58 of GMD's 1150 MIDI files end 2-100 s after it (their
        # end-of-track comes late), and bars cut from that tail would be silence
        duration = max(entry.duration_s, last) if entry.duration_s > 0 else max(length, last)
        beats, downs = beat_grid(duration, entry.bpm, entry.beats_per_bar)
        return Performance(
            times_s=times[keep],
            pieces=[ROLAND_NOTE_PIECE[int(n)] for n in notes[keep]],
            velocities=vels[keep],
            duration_s=duration,
            tempo_bpm=entry.bpm,
            beats_s=beats,
            downbeats_s=downs,
            meta={
                "source": "gmd",
                "style": entry.style,
                "drummer": entry.drummer,
                "beats_per_bar": entry.beats_per_bar,
                "files": [str(entry.midi_path.relative_to(self.folder))],
            },
        )

    def _readable(self, entry: GrooveEntry) -> bool:
        """Whether ``entry``'s MIDI file parses; a broken file is reported once and skipped."""
        if entry in self._broken:
            return False
        try:
            self.load(entry)
        except AnnotationError as exc:
            log.warning("skipping unreadable GMD file: %s", exc)
            self._broken.add(entry)
            return False
        return True

    def load(self, entry: GrooveEntry) -> Performance:
        """One file as a performance (pedal hi-hat as played; cached)."""
        return self._load(entry)

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        rng: np.random.Generator,
        duration_s: float,
        beat_type: str | None = None,
        style: str | None = None,
        fill_prob: float = 0.6,
        crash_after_fill_prob: float = 0.7,
    ) -> Performance:
        """A performance of ``duration_s`` seconds stitched from whole bars of one drummer, style and tempo.

        A groove file is chosen (longer files more likely), phrases of 2-8 bars are cut from it at random
        bar positions, and with probability ``fill_prob`` each phrase ends with a 1-2 bar fill from a fill
        file of the same drummer, style and tempo. ``beat_type="beat"`` uses grooves only, ``"fill"``
        strings fills together (falling back to grooves when there are none). After a stitched fill, the
        next downbeat gets a crash (with kick) with probability ``crash_after_fill_prob`` unless a cymbal is
        already there, as drummers play it (GMD's separate fill files end before that downbeat).
        """
        if duration_s <= 0:
            raise ConfigError(f"duration must be > 0 s, got {duration_s!r}")
        if beat_type not in (None, "beat", "fill"):
            raise ConfigError(f"beat_type must be None, 'beat' or 'fill', got {beat_type!r}")
        pool = self.beats
        if style is not None:
            pool = [e for e in pool if e.top_style == style]
            if not pool:
                raise ConfigError(f"no GMD grooves of style {style!r}; known: {', '.join(self.styles)}")
        weights = np.array([min(e.duration_s, 120.0) for e in pool])
        for _ in range(4 * len(pool)):  # draws depend only on rng and which files are readable
            main = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
            if self._readable(main):
                break
        else:
            raise DatasetLayoutError(f"{self.folder}: no readable groove MIDI files among {len(pool)}")
        fills = self._fills_by_key.get((main.drummer, main.top_style, main.bpm), [])
        if not fills:
            fills = [e for e in self.fills if e.bpm == main.bpm and e.drummer == main.drummer]
        fills = [e for e in fills if self._readable(e)]
        if beat_type == "fill" and fills:
            sources, fill_prob = fills, 0.0
        else:
            sources = [main]
        if beat_type == "beat":
            fill_prob = 0.0

        parts: list[Performance] = []
        sections: list[dict] = []
        after_fill, crashes_added = False, 0
        total, bar_s = 0.0, main.bar_s
        while total < duration_s:
            src = sources[int(rng.integers(len(sources)))]
            perf = self.load(src)
            n_bars = max(1, int(np.floor(perf.duration_s / bar_s + 1e-6)))
            want = int(rng.integers(2, 9))
            length = min(want, n_bars)
            first = int(rng.integers(0, n_bars - length + 1))
            part = _cut_bars(perf, first, length, bar_s)
            if after_fill and crash_after_fill_prob > 0 and rng.random() < crash_after_fill_prob:
                part, added = _crash_on_downbeat(part, rng)
                crashes_added += added
            after_fill = False
            kind = "fill" if src.beat_type == "fill" else "groove"
            sections.append(
                {"name": kind, "start_s": total, "end_s": total + part.duration_s, "intensity": 0.5}
            )
            parts.append(part)
            total += part.duration_s
            if fills and fill_prob > 0 and rng.random() < fill_prob and total < duration_s:
                fsrc = fills[int(rng.integers(len(fills)))]
                fperf = self.load(fsrc)
                f_bars = max(1, int(np.floor(fperf.duration_s / bar_s + 1e-6)))
                f_len = min(f_bars, int(rng.integers(1, _MAX_FILL_BARS + 1)))
                fpart = _cut_bars(fperf, f_bars - f_len, f_len, bar_s)
                sections.append(
                    {"name": "fill", "start_s": total, "end_s": total + fpart.duration_s, "intensity": 0.7}
                )
                parts.append(fpart)
                total += fpart.duration_s
                after_fill = True
        files = sorted({f for p in parts for f in p.meta.get("files", [])})
        meta = {
            "source": "gmd",
            "style": main.style,
            "drummer": main.drummer,
            "split": main.split,
            "beats_per_bar": main.beats_per_bar,
            "files": files,
            "credit": "Groove MIDI Dataset (Gillick et al. 2019), CC BY 4.0",
            "crashes_added": crashes_added,
        }
        perf = Performance.concatenate(parts, meta=meta)
        perf.meta["sections"] = sections
        perf.meta["fills"] = [[s["start_s"], s["end_s"]] for s in sections if s["name"] == "fill"]
        perf = perf.crop(0.0, duration_s)
        return self._apply_pedal_policy(perf, rng)

    def _apply_pedal_policy(self, perf: Performance, rng: np.random.Generator) -> Performance:
        keep_isolated = self.pedal_hihat == "keep" or (
            self.pedal_hihat == "sometimes" and rng.random() < self.pedal_keep_prob
        )
        is_pedal = np.array([p == "hihat_pedal" for p in perf.pieces], dtype=bool)
        if not is_pedal.any():
            perf.meta["pedal_hihat"] = {"policy": self.pedal_hihat, "kept": 0, "dropped": 0}
            return perf
        if self.pedal_hihat == "keep":
            drop = np.zeros_like(is_pedal)
        elif self.pedal_hihat == "drop" or not keep_isolated:
            drop = is_pedal
        else:
            hand = np.array([p in _HAND_HIHAT for p in perf.pieces], dtype=bool)
            hand_t = perf.times_s[hand]
            drop = is_pedal.copy()
            if len(hand_t):
                idx = np.searchsorted(hand_t, perf.times_s)
                lo = np.abs(perf.times_s - hand_t[np.clip(idx - 1, 0, len(hand_t) - 1)])
                hi = np.abs(perf.times_s - hand_t[np.clip(idx, 0, len(hand_t) - 1)])
                near = np.minimum(lo, hi) <= PEDAL_MERGE_S
                drop = is_pedal & near
            else:
                drop = np.zeros_like(is_pedal)
        keep = ~drop
        vels = perf.velocities.astype(np.float64)
        if self.pedal_hihat == "sometimes":
            vels[is_pedal] = vels[is_pedal] * self.pedal_velocity_scale
        out = perf._with(
            times_s=perf.times_s[keep],
            pieces=[p for p, k in zip(perf.pieces, keep) if k],
            velocities=vels[keep],
        )
        out.meta["pedal_hihat"] = {
            "policy": self.pedal_hihat,
            "kept": int((is_pedal & keep).sum()),
            "dropped": int(drop.sum()),
        }
        return out


def _crash_on_downbeat(part: Performance, rng: np.random.Generator) -> tuple[Performance, int]:
    """Add a crash (and a kick, when missing) at the start of ``part`` unless a cymbal is already there."""
    near = part.times_s < 0.06
    have = {p for p, n in zip(part.pieces, near) if n}
    if have & {"crash", "china", "splash"}:
        return part, 0
    t0 = float(max(0.0, rng.normal(0.0, 0.005)))
    times, pieces, vels = [t0], ["crash"], [int(rng.integers(90, 128))]
    if "kick" not in have:
        times.append(t0)
        pieces.append("kick")
        vels.append(int(rng.integers(80, 120)))
    out = part._with(
        times_s=np.concatenate([part.times_s, times]),
        pieces=part.pieces + pieces,
        velocities=np.concatenate([part.velocities, vels]),
    )
    return out, 1


def _cut_bars(perf: Performance, first_bar: int, n_bars: int, bar_s: float) -> Performance:
    """Bars [first_bar, first_bar + n_bars) of ``perf``; hits played up to 30 ms early still count."""
    early = 0.03
    start = first_bar * bar_s
    end = start + n_bars * bar_s
    out = perf.crop(max(0.0, start - early), end - early)
    shift = start - max(0.0, start - early)
    times = np.maximum(out.times_s - shift, 0.0)
    beats, downs = beat_grid(n_bars * bar_s, perf.tempo_bpm, int(perf.meta.get("beats_per_bar", 4)))
    return out._with(times_s=times, duration_s=n_bars * bar_s, beats_s=beats, downbeats_s=downs)


def read_info(folder: str | Path) -> list[GrooveEntry]:
    """Rows of ``folder/info.csv``; raises :class:`DatasetLayoutError` when the folder is not GMD-shaped."""
    folder = Path(folder)
    info = folder / "info.csv"
    if not folder.is_dir():
        raise DatasetLayoutError(f"{folder}: not a folder (expected the Groove MIDI Dataset layout)")
    if not info.is_file():
        raise DatasetLayoutError(
            f"{folder}: no info.csv; expected the Groove MIDI Dataset layout (info.csv + drummerN/<session>/*.mid)"
        )
    try:
        with open(info, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = set(reader.fieldnames or [])
            missing = [c for c in REQUIRED_COLUMNS if c not in cols]
            if missing:
                raise DatasetLayoutError(
                    f"{info}: missing columns {missing} of the Groove MIDI Dataset layout"
                )
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise DatasetLayoutError(f"{info}: not a text CSV file ({exc})") from exc
    entries = []
    for i, r in enumerate(rows, start=2):
        try:
            bpm = float(r["bpm"])
            duration = float(r.get("duration") or 0.0)
        except ValueError as exc:
            raise DatasetLayoutError(f"{info}, line {i}: bad bpm/duration ({exc})") from exc
        if bpm <= 0:
            raise DatasetLayoutError(f"{info}, line {i}: bpm must be > 0")
        entries.append(
            GrooveEntry(
                drummer=r["drummer"],
                session=r["session"],
                style=r["style"],
                bpm=bpm,
                beat_type=r["beat_type"].strip().lower(),
                beats_per_bar=_beats_per_bar(r["time_signature"]),
                midi_path=folder / r["midi_filename"],
                duration_s=duration,
                split=(r.get("split") or "train").strip().lower(),
            )
        )
    if not entries:
        raise DatasetLayoutError(f"{info}: no rows")
    return entries
