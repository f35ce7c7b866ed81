"""The drum vocabulary: the five output classes, their General MIDI notes, and every dataset's label map.

Everything about classes lives here as data, so a larger vocabulary can be added without touching the
pipeline: a :class:`Vocabulary` names its classes and output notes, and a :class:`LabelMap` maps a
source label (a string or a MIDI pitch) to a class index or to "ignored".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from .errors import AnnotationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vocabulary:
    """Output classes in index order, with the MIDI note written for each."""

    names: tuple[str, ...]
    midi_notes: tuple[int, ...]
    short: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        key = name.lower()
        for i, (n, s) in enumerate(zip(self.names, self.short)):
            if key in (n, s.lower()):
                return i
        raise KeyError(f"unknown class {name!r}; known: {', '.join(self.names)}")


#: The five classes of the thesis and of ADTOF: kick, snare, toms, hi-hat, cymbals (crash + ride).
DEFAULT_VOCAB = Vocabulary(
    names=("kick", "snare", "toms", "hihat", "cymbals"),
    midi_notes=(36, 38, 47, 42, 49),
    short=("KD", "SD", "TT", "HH", "CY"),
)
CLASS_NAMES = DEFAULT_VOCAB.names
NUM_CLASSES = len(DEFAULT_VOCAB)
KICK, SNARE, TOMS, HIHAT, CYMBALS = range(NUM_CLASSES)


@dataclass(frozen=True)
class LabelMap:
    """Maps source labels to class indices.

    ``classes`` maps a label to its class index; labels in ``ignored`` are dropped silently. Any other
    label raises :class:`AnnotationError` when ``strict`` is true, or is dropped with one warning per
    label otherwise (the General MIDI behaviour of the thesis).
    """

    name: str
    classes: Mapping[Hashable, int]
    ignored: frozenset = field(default_factory=frozenset)
    strict: bool = True
    normalise: str | None = None  # "enst": strip a trailing "-" or one trailing digit

    def _key(self, label: Hashable) -> Hashable:
        if isinstance(label, str):
            label = label.strip()
            if self.normalise == "enst":
                label = re.sub(r"(-|\d)$", "", label)
        return label

    def lookup(self, label: Hashable) -> int | None:
        """Class index of ``label``, or None when it is ignored (or unknown and not strict)."""
        key = self._key(label)
        if key in self.classes:
            return self.classes[key]
        if key in self.ignored:
            return None
        if self.strict:
            raise AnnotationError(f"{self.name} label map: unknown label {label!r}")
        if (self.name, key) not in _warned:
            _warned.add((self.name, key))
            log.warning("%s label map: skipping unmapped label %r", self.name, label)
        return None

    def known(self, label: Hashable) -> bool:
        key = self._key(label)
        return key in self.classes or key in self.ignored


_warned: set[tuple[str, Hashable]] = set()


def _invert(groups: Mapping[int, Iterable[Hashable]]) -> dict[Hashable, int]:
    return {label: cls for cls, labels in groups.items() for label in labels}


ENST_MAP = LabelMap(
    name="ENST-Drums",
    classes=_invert(
        {
            KICK: ["bd"],
            SNARE: ["sd", "sweep", "rs", "sticks", "cs"],
            TOMS: ["mt", "mtr", "lmt", "lt", "ltr", "lft"],
            HIHAT: ["chh", "ohh"],
            CYMBALS: ["cr", "spl", "ch", "rc", "c", "cb"],
        }
    ),
    normalise="enst",
)

MDB_MAP = LabelMap(
    name="MDB Drums",
    classes=_invert(
        {
            KICK: ["KD"],
            SNARE: ["SD", "SDB", "SDD", "SDF", "SDG", "SDNS", "SST"],
            TOMS: ["HIT", "MHT", "HFT", "LFT"],
            HIHAT: ["CHH", "OHH", "PHH", "TMB"],
            CYMBALS: ["RDC", "RDB", "CRC", "CHC", "SPC"],
        }
    ),
)

_GM_GROUPS = {
    KICK: [35, 36],
    SNARE: [37, 38, 39, 40],
    TOMS: [41, 43, 45, 47, 48, 50],
    HIHAT: [42, 44, 46, 54],
    CYMBALS: [49, 51, 52, 53, 55, 56, 57, 59],
}
_GM_IGNORED = frozenset([*range(27, 35), 58, *range(60, 88)])

GM_MAP = LabelMap(name="General MIDI", classes=_invert(_GM_GROUPS), ignored=_GM_IGNORED, strict=False)

#: Roland TD-11 (E-GMD, SADTP, Groove MIDI Dataset): GM plus 58 -> toms (floor-tom rim),
#: 22 -> hi-hat (open edge), 26 -> hi-hat (closed edge).
ROLAND_MAP = LabelMap(
    name="Roland TD-11",
    classes={**_invert(_GM_GROUPS), 58: TOMS, 22: HIHAT, 26: HIHAT},
    ignored=_GM_IGNORED - {58},
    strict=False,
)

#: drumscribe's own outputs (``transcribe --format txt`` or ``csv``): the class names and short codes, so a
#: transcription corrected by hand reads back as an annotation.
DRUMSCRIBE_MAP = LabelMap(
    name="drumscribe",
    classes={
        label: i
        for i, (name, short) in enumerate(zip(DEFAULT_VOCAB.names, DEFAULT_VOCAB.short))
        for label in (name, short, short.lower())
    },
)

LABEL_MAPS: dict[str, LabelMap] = {
    "drumscribe": DRUMSCRIBE_MAP,
    "enst": ENST_MAP,
    "mdb": MDB_MAP,
    "gm": GM_MAP,
    "roland": ROLAND_MAP,
}


def get_label_map(name: str) -> LabelMap:
    try:
        return LABEL_MAPS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown label map {name!r}; known: {', '.join(LABEL_MAPS)}") from None
