"""Harmonic accompaniment for a drum performance, rendered from General MIDI soundfonts.

:func:`plan_accompaniment` writes an arrangement that follows a :class:`Performance`'s tempo, bars and
sections: a key and chord progressions per section (pop, rock, blues, jazz, minor, latin, ...), a bass line
that plays on the kick hits plus passing and approach notes (or walks, in jazz), keys/piano comping, guitars
(clean strums and arpeggios, muted funk chops, overdriven/distorted power chords for rock and metal), pads,
strings, brass stabs and a lead melody (synth lead, sax, flute, or "choir aahs"/"voice oohs" with vibrato,
standing in for the vocals of real mixes). Breaks drop instruments out. No percussion program is used and
nothing is played on MIDI channel 10.

Realism beyond the notes, all drawn per track from the rng: instruments from one or two soundfonts, a
band tuning up to +-25 cents off A440, amp-like distortion of rock/metal guitars (:func:`overdrive`),
consonant noises (sibilants, plosives) before notes of voice-like leads, and a high-shelf boost
(:func:`high_shelf`), because GM soundfonts hold ~10x less energy above 5 kHz than the non-drum part of
real mixes (measured on mdb-dev).

:func:`render_arrangement` renders it with tinysoundfont, block by block between events, with one cached
synthesiser per soundfont and process. :func:`render_accompaniment` does both.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DrumscribeError
from .performance import Performance

log = logging.getLogger(__name__)

#: folders searched for General MIDI soundfonts (Debian: fluid-soundfont-gm, musescore-general-soundfont,
#: timgm6mb-soundfont)
SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/sounds/sf3"), Path("/usr/share/soundfonts"))
#: file-name parts of drum-only soundfonts that are not General MIDI sets (AVL drum kits)
_NOT_GM = ("lv2", "drum", "avl")
DRUM_CHANNEL = 9
#: GM programs never used: chromatic percussion (8-15), timpani (47), percussive and sound effects (112-127)
PERCUSSIVE_PROGRAMS = frozenset(range(8, 16)) | frozenset(range(112, 128)) | {47}
#: share of tracks whose instruments come from two soundfonts (when several are given)
MIX_SOUNDFONTS_PROB = 0.5
#: polyphony limit of the synthesiser (voices); older voices are cut beyond it
MAX_VOICES = 24
#: RMS level the rendered accompaniment is normalised to [dBFS]
TARGET_RMS_DB = -20.0
#: lead vibrato: rate [Hz], depth [semitones], update interval [s]
VIBRATO_HZ = 5.5
VIBRATO_SEMITONES = 0.3
VIBRATO_STEP_S = 0.012

#: GM programs sung-like enough to get consonant noises: choir aahs, voice oohs, synth voice
VOICE_PROGRAMS = frozenset({52, 53, 54})
#: share of voice-lead notes preceded by a consonant
CONSONANT_PROB = 0.35
#: share of tracks whose band plays unannotated snare-like clicks on the backbeat (slap-bass clicks, muted
#: guitar scratches, rim-like piano stabs): a model trained without them called them snares on real
#: rockabilly and funk; per click: probability, level range [dB re. the accompaniment RMS], decay [s] and
#: band centre [Hz] ranges
BACKBEAT_CLICK_PROB = 0.25
BACKBEAT_CLICK_HIT_PROB = 0.85
BACKBEAT_CLICK_DB = (-22.0, -8.0)
BACKBEAT_CLICK_DECAY_S = (0.015, 0.06)
BACKBEAT_CLICK_HZ = (900.0, 4000.0)
#: share of tracks whose guitar (and, in some, bass) notes start with an audible pick attack: a short
#: band-passed noise burst at each note onset (strums count once). GM samples start softly, while the pick
#: and string noise of real guitars coincide with the drummer's hi-hat eighths and, with the hi-hat, look
#: like a snare to a model that never heard them (the main false snares on real rock mixes); per track:
#: level range [dB re. the accompaniment RMS], decay [s] and band centre [Hz] ranges, bass share
PICK_ATTACK_PROB = 0.4
PICK_ATTACK_DB = (-24.0, -8.0)
PICK_ATTACK_DECAY_S = (0.004, 0.025)
PICK_ATTACK_HZ = (700.0, 4000.0)
PICK_ATTACK_BASS_PROB = 0.4
#: a loud bass (``SynthConfig.loud_bass_prob``): a low shelf of this many dB [low, high] at a corner drawn in
#: LOUD_BASS_CORNER_HZ lifts the bass, so that its note starts reach the 30-90 Hz level of the kick drum or
#: above, as a real DI or amp bass does in a rock mix (the GM soundfont basses are thin down there)
LOUD_BASS_DB = (6.0, 15.0)
LOUD_BASS_CORNER_HZ = (70.0, 140.0)
#: bass lines that do not follow the kick, with their draw weights (``SynthConfig.free_bass_prob``): driving
#: root eighths, root quarters, octave eighths and walking quarters. Most genres' bass plays on the kick, so a
#: model trained only on those hears every low note start as a kick; real bands also play bass notes where
#: the drummer plays none (the false kicks under ride-only beats of a surf-rock mix)
FREE_BASS_MODES = {"pedal": 0.35, "quarters": 0.3, "octaves": 0.15, "walking": 0.2}
#: range of the high-shelf boost [dB]: GM soundfonts hold ~10x less energy above 5 kHz than the
#: non-drum part of real mixes (measured on mdb-dev: 0.1-1.2 % of the energy vs 0.01-0.1 % rendered)
SHELF_DB_RANGE = (0.0, 14.0)

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim": (0, 3, 6),
    "sus4": (0, 5, 7),
    "pow": (0, 7),
}

# Progressions: (root semitones above the tonic, quality) per chord; the mode tells which scale the melody uses.
_P = dict[str, list[list[tuple[int, str]]]]
PROGRESSIONS: _P = {
    "pop": [
        [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")],
        [(9, "min"), (5, "maj"), (0, "maj"), (7, "maj")],
        [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")],
        [(0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")],
        [(5, "maj"), (0, "maj"), (7, "maj"), (9, "min")],
    ],
    "rock": [
        [(0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")],
        [(0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")],
        [(0, "maj"), (7, "maj"), (5, "maj"), (5, "maj")],
        [(0, "maj"), (3, "maj"), (5, "maj"), (0, "maj")],
    ],
    "minor": [
        [(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")],
        [(0, "min"), (5, "min"), (7, "min"), (0, "min")],
        [(0, "min"), (10, "maj"), (8, "maj"), (7, "maj")],
        [(0, "min"), (8, "maj"), (10, "maj"), (0, "min")],
        [(0, "m7"), (5, "m7"), (0, "m7"), (7, "7")],
    ],
    "metal": [
        [(0, "pow"), (8, "pow"), (10, "pow"), (0, "pow")],
        [(0, "pow"), (1, "pow"), (0, "pow"), (10, "pow")],
        [(0, "pow"), (3, "pow"), (5, "pow"), (8, "pow")],
    ],
    "blues": [
        [(0, "7")] * 4 + [(5, "7")] * 2 + [(0, "7")] * 2 + [(7, "7"), (5, "7"), (0, "7"), (7, "7")],
        [(0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"), (0, "7"), (0, "7")]
        + [(7, "7"), (5, "7"), (0, "7"), (7, "7")],
    ],
    "jazz": [
        [(2, "m7"), (7, "7"), (0, "maj7"), (9, "7")],
        [(0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")],
        [(4, "m7"), (9, "7"), (2, "m7"), (7, "7")],
        [(0, "maj7"), (2, "7"), (2, "m7"), (7, "7")],
        [(2, "m7b5"), (7, "7"), (0, "m7"), (0, "m7")],
    ],
    "funk": [
        [(0, "m7")] * 2 + [(5, "7")] * 2,
        [(0, "7"), (0, "7"), (0, "7"), (5, "7")],
        [(0, "m7"), (0, "m7"), (3, "maj7"), (5, "m7")],
    ],
    "latin": [
        [(0, "maj7"), (0, "maj7"), (2, "7"), (2, "7"), (2, "m7"), (7, "7"), (0, "maj7"), (7, "7")],
        [(0, "m7"), (5, "m7"), (7, "7"), (0, "m7")],
        [(0, "min"), (7, "7"), (7, "7"), (0, "min")],
    ],
    "reggae": [
        [(0, "maj"), (5, "maj")],
        [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")],
        [(0, "min"), (10, "maj")],
    ],
    "country": [
        [(0, "maj"), (0, "maj"), (5, "maj"), (0, "maj"), (7, "maj"), (7, "maj"), (0, "maj"), (0, "maj")],
        [(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")],
    ],
    "edm": [
        [(0, "min"), (8, "maj"), (3, "maj"), (10, "maj")],
        [(9, "min"), (5, "maj"), (0, "maj"), (7, "maj")],
        [(0, "m7"), (0, "m7"), (5, "m7"), (5, "m7")],
        [(0, "min")] * 2 + [(10, "maj")] * 2,
    ],
}
_MINOR_FAMILIES = {"minor", "metal", "edm"}


@dataclass(frozen=True)
class Genre:
    """Arrangement habits of a style: progression families, instrument programs and playing patterns."""

    families: tuple[str, ...]
    bass: str  # "kick", "walking", "octaves", "tumbao" (a track may play one of FREE_BASS_MODES instead)
    bass_programs: tuple[int, ...]
    keys_programs: tuple[int, ...]
    keys_patterns: tuple[str, ...]
    guitar_programs: tuple[int, ...]
    guitar_patterns: tuple[str, ...]
    lead_programs: tuple[int, ...]
    pad_programs: tuple[int, ...] = (48, 49, 50, 88, 89, 91, 92, 94, 95)
    brass_prob: float = 0.2
    guitar_prob: float = 0.6
    keys_prob: float = 0.7


_VOICES = (52, 53, 54, 52, 53, 54)  # choir aahs, voice oohs, synth voice (vocals stand-in)
GENRES: dict[str, Genre] = {
    "rock": Genre(
        ("rock", "pop", "minor"),
        "kick",
        (33, 34, 33),
        (0, 16, 17, 18, 4),
        ("whole", "quarters", "eighths", "backbeat"),
        (29, 30, 29, 27, 25),
        ("power8", "strum", "power_kick", "chop", "chug16"),
        _VOICES + (81, 30, 65, 29, 27, 30),
        guitar_prob=0.95,
    ),
    "pop": Genre(
        ("pop", "pop", "rock", "minor"),
        "kick",
        (33, 34, 38, 39),
        (0, 1, 4, 5),
        ("eighths", "whole", "syncopated", "arpeggio"),
        (25, 27, 24, 26),
        ("strum", "arp"),
        _VOICES + (80, 81, 73, 65),
        brass_prob=0.15,
    ),
    "metal": Genre(
        ("metal", "minor"),
        "kick",
        (33, 34),
        (48, 49, 19, 16),
        ("whole",),
        (30, 29, 30),
        ("power_kick", "power8", "chug16", "gallop"),
        _VOICES + (30, 81, 48, 30, 29),
        guitar_prob=1.0,
        keys_prob=0.3,
    ),
    "punk": Genre(
        ("rock", "pop"),
        "kick",
        (34, 33),
        (0, 16),
        ("quarters",),
        (29, 30),
        ("power8",),
        _VOICES + (81, 29, 30),
        guitar_prob=1.0,
        keys_prob=0.2,
    ),
    "funk": Genre(
        ("funk", "minor"),
        "kick",
        (36, 37, 33, 38),
        (7, 4, 5, 16, 17),
        ("syncopated", "comp"),
        (28, 27, 26),
        ("funk16", "skank"),
        _VOICES + (65, 66, 61, 80),
        brass_prob=0.55,
    ),
    "soul": Genre(
        ("pop", "funk", "jazz"),
        "kick",
        (33, 32, 35),
        (4, 5, 16, 0),
        ("syncopated", "whole", "comp", "backbeat"),
        (27, 26, 28),
        ("skank", "arp", "funk16", "chop"),
        _VOICES + _VOICES + (65, 66),
        brass_prob=0.45,
    ),
    "jazz": Genre(
        ("jazz",),
        "walking",
        (32, 32, 35),
        (0, 0, 1, 4, 26),
        ("comp", "charleston"),
        (26, 26, 24),
        ("comp",),
        (65, 66, 64, 56, 73, 52, 53, 26),
        guitar_prob=0.35,
        brass_prob=0.35,
    ),
    "swing": Genre(
        ("jazz", "blues"),
        "walking",
        (32, 35),
        (0, 1, 16),
        ("comp", "charleston"),
        (26,),
        ("quarters4",),
        (56, 65, 66, 57, 71, 52, 53),
        guitar_prob=0.5,
        brass_prob=0.7,
    ),
    "shuffle": Genre(
        ("blues",),
        "kick",
        (33, 32, 34),
        (0, 16, 17, 4),
        ("quarters", "comp", "backbeat"),
        (26, 27, 29),
        ("shuffle", "power8", "chop"),
        (65, 66, 22, 29, 52, 53, 26, 27, 29),
    ),
    "latin": Genre(
        ("latin", "jazz", "minor"),
        "tumbao",
        (32, 33, 35),
        (0, 1, 4, 21),
        ("montuno", "syncopated"),
        (24, 25, 26),
        ("arp", "skank"),
        (73, 65, 56, 52, 53, 71, 22),
        brass_prob=0.5,
        guitar_prob=0.5,
    ),
    "reggae": Genre(
        ("reggae",),
        "kick",
        (33, 38, 32),
        (16, 17, 0, 4),
        ("skank",),
        (27, 28, 26),
        ("skank",),
        _VOICES + (65, 80),
        brass_prob=0.3,
    ),
    "hiphop": Genre(
        ("minor", "funk", "edm"),
        "kick",
        (38, 39, 33, 36),
        (4, 0, 5, 88, 89),
        ("whole", "syncopated"),
        (27, 26, 24),
        ("arp", "skank"),
        _VOICES + (80, 81, 73, 82),
        guitar_prob=0.3,
    ),
    "electronic": Genre(
        ("edm", "minor", "pop"),
        "kick",
        (38, 39, 87, 81),
        (81, 80, 4, 88, 90),
        ("eighths", "offbeat"),
        (27, 29),
        ("arp",),
        _VOICES + (80, 81, 82, 84, 85),
        guitar_prob=0.2,
    ),
    "disco": Genre(
        ("edm", "pop", "funk"),
        "octaves",
        (33, 38, 34),
        (4, 0, 5, 16),
        ("offbeat", "syncopated"),
        (28, 27),
        ("funk16", "skank"),
        _VOICES + (48, 61, 65, 80),
        brass_prob=0.6,
    ),
    "ballad": Genre(
        ("pop", "minor", "jazz"),
        "kick",
        (32, 33, 35),
        (0, 1, 4, 5),
        ("arpeggio", "whole", "halves"),
        (24, 25, 27),
        ("arp", "strum"),
        _VOICES + _VOICES + (40, 73, 65, 68),
        keys_prob=0.9,
    ),
    "country": Genre(
        ("country", "pop"),
        "kick",
        (32, 33, 34),
        (0, 1, 2),
        ("quarters", "halves", "backbeat"),
        (25, 24, 27),
        ("strum", "skank", "chop"),
        (22, 40, 105, 25, 52, 53, 25, 27),
        guitar_prob=0.95,
    ),
}
#: style names of the generator and of GMD -> genre
STYLE_GENRE: dict[str, str] = {
    "rock": "rock", "pop": "pop", "funk": "funk", "metal": "metal", "jazz": "jazz", "swing": "swing",
    "shuffle": "shuffle", "bossa": "latin", "samba": "latin", "latin": "latin", "reggae": "reggae",
    "hiphop": "hiphop", "disco": "disco", "house": "electronic", "electronic": "electronic", "punk": "punk",
    "ballad": "ballad", "country": "country", "soul": "soul", "afrocuban": "latin", "neworleans": "funk",
    "gospel": "soul", "afrobeat": "funk", "dance": "disco", "blues": "shuffle", "highlife": "latin",
    "middleeastern": "rock", "waltz": "country", "sixeight": "ballad",
    "trap": "hiphop", "dnb": "electronic",
}  # fmt: skip

# MIDI channels: bass, keys, guitar, pad, strings, brass, lead (never 9, the GM drum channel)
CH_BASS, CH_KEYS, CH_GUITAR, CH_PAD, CH_STRINGS, CH_BRASS, CH_LEAD = 0, 1, 2, 3, 4, 5, 6
PART_CHANNELS = {
    "bass": CH_BASS, "keys": CH_KEYS, "guitar": CH_GUITAR, "pad": CH_PAD, "strings": CH_STRINGS,
    "brass": CH_BRASS, "lead": CH_LEAD,
}  # fmt: skip


@dataclass
class Note:
    """One note: onset and release [s], channel, MIDI key and velocity; ``vibrato`` adds pitch-bend vibrato."""

    start_s: float
    end_s: float
    channel: int
    key: int
    velocity: int
    vibrato: bool = False
    locked: bool = False  # placed on a drum hit (bass on the kick): no swing or timing jitter


@dataclass
class Chord:
    """A chord over [start_s, end_s): root pitch class (0 = C), quality name and its pitch classes."""

    start_s: float
    end_s: float
    root: int
    quality: str

    @property
    def pitch_classes(self) -> list[int]:
        return sorted({(self.root + i) % 12 for i in QUALITIES[self.quality]})


@dataclass
class Arrangement:
    """Notes, programs and chords of an accompaniment of ``duration_s`` seconds."""

    duration_s: float
    notes: list[Note]
    programs: dict[int, int]  # channel -> GM program (0-based)
    channel_volumes: dict[int, int]  # channel -> CC7 volume
    chords: list[Chord]
    key: int
    mode: str
    genre: str
    parts: dict[str, list[str]] = field(default_factory=dict)  # section label -> parts playing
    #: sung-consonant stand-ins of a voice-like lead: (time [s], length [s], level [dB re. the mix RMS])
    consonants: list[tuple[float, float, float]] = field(default_factory=list)
    #: snare-like clicks of the band (not drums, not annotated): (time [s], decay [s], level [dB re. the
    #: mix RMS], band centre [Hz])
    clicks: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: pick attacks of guitar/bass notes (not annotated), in the format of ``clicks``
    picks: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: high-shelf "air" of the whole accompaniment: gain [dB] and corner [Hz] (soundfonts are dull above 5 kHz)
    shelf_db: float = 0.0
    shelf_hz: float = 4000.0
    noise_seed: int = 0
    #: the band's tuning away from A = 440 Hz [semitones] (recordings are rarely tuned exactly)
    tuning_semitones: float = 0.0
    #: guitar distortion drive [dB] (0: clean) and its cabinet low-pass corner [Hz]
    guitar_drive_db: float = 0.0
    guitar_cabinet_hz: float = 6000.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON summary (for manifests): key, mode, genre, programs, chords and note counts per channel."""
        counts: dict[str, int] = {}
        for n in self.notes:
            counts[str(n.channel)] = counts.get(str(n.channel), 0) + 1
        return {
            "key": self.key,
            "mode": self.mode,
            "genre": self.genre,
            "programs": {str(k): v for k, v in self.programs.items()},
            "chords": [[c.start_s, c.end_s, c.root, c.quality] for c in self.chords],
            "notes_per_channel": counts,
            "parts": self.parts,
            "consonants": len(self.consonants),
            "backbeat_clicks": len(self.clicks),
            "pick_attacks": len(self.picks),
            "shelf_db": self.shelf_db,
            "shelf_hz": self.shelf_hz,
            "tuning_semitones": self.tuning_semitones,
            "guitar_drive_db": self.guitar_drive_db,
        }


# ---------------------------------------------------------------------- soundfonts
def find_gm_soundfonts(extra_dirs: Sequence[str | Path] = ()) -> list[Path]:
    """General MIDI soundfonts (.sf2/.sf3) installed on this machine, quickest to load first.

    Searches :data:`SOUNDFONT_DIRS`, ``extra_dirs`` and the TimGM6mb copy inside the pretty_midi package;
    symlinks and copies of the same file are listed once; drum-only soundfonts (AVL kits) are left out.
    Install more with ``apt-get install fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont``.
    """
    dirs = [Path(d) for d in extra_dirs] + list(SOUNDFONT_DIRS)
    try:
        import pretty_midi

        dirs.append(Path(pretty_midi.__file__).parent)
    except ImportError:  # pragma: no cover - pretty_midi is a dependency
        pass
    found: dict[str, Path] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.suffix.lower() not in (".sf2", ".sf3") or any(x in p.name.lower() for x in _NOT_GM):
                continue
            try:
                real = p.resolve(strict=True)
                size = real.stat().st_size
            except OSError:
                continue
            key = real.name.lower()  # one copy of each soundfont (e.g. TimGM6mb in Debian and pretty_midi)
            if key not in found and size > 0:
                found[key] = real
    return sorted(found.values(), key=_load_cost)


def _load_cost(path: Path) -> tuple[bool, int, str]:
    """Sort key: sf2 before sf3 (whose Vorbis samples take ~30 s to decode), then by size."""
    return (path.suffix.lower() == ".sf3", path.stat().st_size, str(path))


class _SynthPool:
    """One tinysoundfont synthesiser per sample rate and process, holding the soundfonts used so far.

    Beyond ``size`` loaded soundfonts the least recently used one not needed now is unloaded.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self._synths: dict[int, Any] = {}
        self._loaded: dict[int, OrderedDict[str, int]] = {}

    def get(self, paths: Sequence[Path], sample_rate_hz: int) -> tuple[Any, dict[str, int]]:
        import tinysoundfont

        sr = int(sample_rate_hz)
        if sr not in self._synths:
            self._synths[sr] = tinysoundfont.Synth(samplerate=sr)
            self._loaded[sr] = OrderedDict()
        synth, loaded = self._synths[sr], self._loaded[sr]
        wanted = [str(p) for p in paths]
        for p in wanted:
            if p in loaded:
                loaded.move_to_end(p)
                continue
            try:
                loaded[p] = synth.sfload(p, max_voices=MAX_VOICES)
            except Exception as exc:  # tinysoundfont raises plain Exceptions for unreadable files
                raise DrumscribeError(f"{p}: cannot load soundfont ({exc})") from exc
        for p in list(loaded):
            if len(loaded) <= max(self.size, len(wanted)):
                break
            if p not in wanted:
                synth.sfunload(loaded.pop(p))
        return synth, {p: loaded[p] for p in wanted}


_POOL = _SynthPool(size=int(os.environ.get("DRUMSCRIBE_SOUNDFONT_CACHE", "8")))


# ---------------------------------------------------------------------- planning
def _bars(perf: Performance) -> np.ndarray:
    """Bar start times [s] covering the performance (from its downbeats, else from its tempo)."""
    bar_s = 60.0 / perf.tempo_bpm * int(perf.meta.get("beats_per_bar", 4))
    downs = perf.downbeats_s[perf.downbeats_s < perf.duration_s]
    if len(downs) == 0:
        return np.arange(0.0, perf.duration_s, bar_s)
    before = np.arange(downs[0] - bar_s, -1e-9, -bar_s)[::-1]
    after = np.arange(downs[-1] + bar_s, perf.duration_s, bar_s)
    return np.concatenate([before, downs, after])


def _section_at(sections: list[dict[str, Any]], t: float) -> dict[str, Any]:
    for s in sections:
        if s["start_s"] - 1e-6 <= t < s["end_s"] - 1e-6:
            return s
    return sections[-1] if sections else {"name": "verse", "intensity": 0.5}


def _label(name: str) -> str:
    """Section name -> harmonic section (which progression it uses)."""
    return {"intro": "verse", "outro": "chorus", "break": "verse", "fill": "verse", "groove": "verse"}.get(
        name, name
    )


def _voice(pcs: Sequence[int], low: int, high: int, prev: list[int] | None, n: int = 4) -> list[int]:
    """A close voicing of pitch classes ``pcs`` in [low, high], near the previous voicing (voice leading)."""
    candidates = []
    for base in range(low, high - 6):
        if base % 12 not in pcs:
            continue
        chord = [base]
        for _ in range(1, n):
            nxt = chord[-1] + 1
            while nxt % 12 not in pcs:
                nxt += 1
            chord.append(nxt)
        if chord[-1] <= high:
            candidates.append(chord)
    if not candidates:
        return [low + pcs[0]]
    if prev is None:
        return candidates[len(candidates) // 2]
    centre = float(np.mean(prev))
    return min(candidates, key=lambda c: abs(float(np.mean(c)) - centre))


def plan_accompaniment(
    perf: Performance, rng: np.random.Generator, bass_mode: str | None = None
) -> Arrangement:
    """An arrangement that follows ``perf``'s tempo, bars, sections and kick drum (see module docstring);
    ``bass_mode`` (one of :data:`FREE_BASS_MODES`) replaces the genre's bass line."""
    style = str(perf.meta.get("style", "rock")).split("/")[0]
    genre_name = STYLE_GENRE.get(style, "rock")
    genre = GENRES[genre_name]
    if bass_mode is not None and bass_mode not in FREE_BASS_MODES:
        raise ConfigError(f"bass_mode must be one of {sorted(FREE_BASS_MODES)}, not {bass_mode!r}")
    bass_line = bass_mode or genre.bass
    beats_per_bar = int(perf.meta.get("beats_per_bar", 4))
    beat_s = 60.0 / perf.tempo_bpm
    key = int(rng.integers(12))
    families = list(genre.families)
    fam_verse = str(rng.choice(families))
    fam_chorus = fam_verse if rng.random() < 0.6 else str(rng.choice(families))
    mode = "minor" if fam_verse in _MINOR_FAMILIES else "major"
    progs = {
        "verse": PROGRESSIONS[fam_verse][int(rng.integers(len(PROGRESSIONS[fam_verse])))],
        "chorus": PROGRESSIONS[fam_chorus][int(rng.integers(len(PROGRESSIONS[fam_chorus])))],
    }
    bridge_shift = int(rng.choice([5, 7, 9, 0])) if mode == "major" else int(rng.choice([8, 5, 3]))
    progs["bridge"] = [((r + bridge_shift) % 12, q) for r, q in progs["verse"][:2]] + progs["chorus"][-2:]
    bars_per_chord = 2 if perf.tempo_bpm > 165 and genre.bass != "walking" else 1
    if genre.bass == "walking" and rng.random() < 0.3:
        bars_per_chord = 1

    programs = {
        CH_BASS: int(rng.choice(genre.bass_programs)),
        CH_KEYS: int(rng.choice(genre.keys_programs)),
        CH_GUITAR: int(rng.choice(genre.guitar_programs)),
        CH_PAD: int(rng.choice(genre.pad_programs)),
        CH_STRINGS: int(rng.choice([48, 49, 44, 45, 40, 42])),
        CH_BRASS: int(rng.choice([61, 62, 63, 56, 57])),
        CH_LEAD: int(rng.choice(genre.lead_programs)),
    }
    volumes = {
        CH_BASS: int(rng.integers(95, 125)),
        CH_KEYS: int(rng.integers(70, 105)),
        CH_GUITAR: int(rng.integers(75, 115)),
        CH_PAD: int(rng.integers(50, 80)),
        CH_STRINGS: int(rng.integers(55, 85)),
        CH_BRASS: int(rng.integers(70, 100)),
        CH_LEAD: int(rng.integers(85, 120)),
    }
    keys_pattern = str(rng.choice(genre.keys_patterns))
    guitar_pattern = str(rng.choice(genre.guitar_patterns))

    sections = perf.sections()
    bars = _bars(perf)
    bar_ends = np.append(
        bars[1:], max(perf.duration_s, bars[-1] + beats_per_bar * beat_s) if len(bars) else 0.0
    )
    kicks = np.array([t for t, p in zip(perf.times_s, perf.pieces) if p == "kick"])
    # GMD performances have no verse/chorus: alternate every 8 bars
    generic = all(s["name"] in ("groove", "fill") for s in sections)

    # parts per section occurrence
    section_parts: dict[int, list[str]] = {}
    notes: list[Note] = []
    chords: list[Chord] = []
    prev_voicing: dict[str, list[int] | None] = {"keys": None, "guitar": None, "pad": None, "strings": None}
    melody_state = {"pitch": 67}
    bar_in_label: dict[str, int] = {}
    last_label = None
    with_clicks = rng.random() < BACKBEAT_CLICK_PROB
    click_bars: list[int] = []

    for bi, (b0, b1) in enumerate(zip(bars, bar_ends)):
        sec = _section_at(sections, float(b0) + 1e-3)
        sec_id = sections.index(sec) if sec in sections else 0
        name = sec.get("name", "verse")
        if generic:
            name = "chorus" if (bi // 8) % 2 else "verse"
        label = _label(name)
        if label != last_label:
            bar_in_label[label] = 0
            last_label = label
        intensity = float(sec.get("intensity", 0.5))
        mode_break = sec.get("break_mode", "")
        key_sec = sec_id if not generic else bi // 8
        if key_sec not in section_parts:
            section_parts[key_sec] = _choose_parts(rng, genre, name, intensity, mode_break)
        parts = section_parts[key_sec]
        prog = progs.get(label, progs["verse"])
        chord_idx = (bar_in_label[label] // bars_per_chord) % len(prog)
        bar_in_label[label] += 1
        root_off, quality = prog[chord_idx]
        next_root_off, _ = prog[((bar_in_label[label]) // bars_per_chord) % len(prog)]
        chord = Chord(float(b0), float(b1), (key + root_off) % 12, quality)
        chords.append(chord)
        if not parts:
            continue
        pcs = chord.pitch_classes
        bar_len = float(b1 - b0)
        bbeat = bar_len / beats_per_bar
        vel_scale = 0.75 + 0.3 * intensity
        next_root = (key + next_root_off) % 12

        stops = mode_break == "stops"
        if with_clicks and not stops and ("bass" in parts or "guitar" in parts):
            click_bars.append(bi)
        if "bass" in parts:
            notes += _bass_bar(
                rng, bass_line, chord, next_root, b0, b1, bbeat, beats_per_bar, kicks, vel_scale, stops
            )
        if "keys" in parts:
            v = _voice(pcs, 55, 79, prev_voicing["keys"])
            prev_voicing["keys"] = v
            notes += _comp_bar(
                rng, keys_pattern if not stops else "stab", CH_KEYS, v, b0, bbeat, beats_per_bar, vel_scale
            )
        if "guitar" in parts:
            gpat = guitar_pattern if not stops else "stab"
            if quality == "pow" or gpat in POWER_CHORD_PATTERNS:
                root_pitch = 40 + (chord.root - 40) % 12
                v = [root_pitch, root_pitch + 7, root_pitch + 12]
            else:
                v = _voice(pcs, 52, 76, prev_voicing["guitar"], n=min(4, len(pcs) + 1))
                prev_voicing["guitar"] = v
            notes += _guitar_bar(rng, gpat, v, b0, b1, bbeat, beats_per_bar, kicks, vel_scale)
        if "pad" in parts:
            v = _voice(pcs, 48, 72, prev_voicing["pad"], n=3)
            prev_voicing["pad"] = v
            notes += [Note(b0, b1 - 0.02, CH_PAD, k, int(60 * vel_scale)) for k in v]
        if "strings" in parts:
            v = _voice(pcs, 55, 84, prev_voicing["strings"], n=3)
            prev_voicing["strings"] = v
            half = int(rng.integers(2))
            if half:
                notes += [Note(b0 + i * bar_len / 2, b0 + (i + 1) * bar_len / 2 - 0.03, CH_STRINGS, k, int(70 * vel_scale))
                          for i in range(2) for k in v]  # fmt: skip
            else:
                notes += [Note(b0, b1 - 0.02, CH_STRINGS, k, int(70 * vel_scale)) for k in v]
        if "brass" in parts:
            notes += _brass_bar(rng, pcs, b0, bbeat, beats_per_bar, vel_scale)
        if "lead" in parts:
            notes += _melody_bar(
                rng, chord, key, mode, b0, bbeat, beats_per_bar, vel_scale, melody_state, programs[CH_LEAD]
            )

    clicks = _backbeat_clicks(rng, bars, bar_ends, beats_per_bar, click_bars) if click_bars else []
    _swing_and_humanise(notes, bars, beats_per_bar, _swing_feel(perf, genre_name), rng)
    notes = [n for n in notes if 0.0 <= n.start_s < perf.duration_s and n.end_s > n.start_s]
    _end_before_repeats(notes)
    notes.sort(key=lambda n: (n.start_s, n.channel, n.key))
    used = {n.channel for n in notes}
    consonants = []
    if programs[CH_LEAD] in VOICE_PROGRAMS:
        for n in notes:
            if n.channel == CH_LEAD and rng.random() < CONSONANT_PROB:
                if rng.random() < 0.6:  # sibilant ("s", "sh") just before the vowel
                    length = float(rng.uniform(0.06, 0.18))
                    consonants.append((n.start_s - 0.7 * length, length, float(rng.uniform(-26, -14))))
                else:  # plosive ("t", "k")
                    consonants.append(
                        (n.start_s - 0.01, float(rng.uniform(0.012, 0.03)), float(rng.uniform(-24, -12)))
                    )
    arr = Arrangement(
        duration_s=perf.duration_s,
        notes=notes,
        programs={c: p for c, p in programs.items() if c in used},
        channel_volumes={c: v for c, v in volumes.items() if c in used},
        chords=chords,
        key=key,
        mode=mode,
        genre=genre_name,
        parts={str(k): v for k, v in section_parts.items()},
        consonants=[c for c in consonants if 0.0 <= c[0] < perf.duration_s],
        clicks=[c for c in clicks if 0.0 <= c[0] < perf.duration_s],
        shelf_db=float(rng.uniform(*SHELF_DB_RANGE)),
        shelf_hz=float(rng.uniform(2500.0, 6000.0)),
        noise_seed=int(rng.integers(2**31)),
        tuning_semitones=float(rng.uniform(-0.25, 0.25)) if rng.random() < 0.6 else 0.0,
        guitar_drive_db=_guitar_drive(rng, programs[CH_GUITAR], genre_name),
        guitar_cabinet_hz=float(rng.uniform(4000.0, 8000.0)),
    )
    if rng.random() < PICK_ATTACK_PROB:  # drawn last: every other draw of a seed stays as it was
        arr.picks = _pick_attacks(rng, arr.notes, perf.duration_s)
    return arr


def _pick_attacks(
    rng: np.random.Generator, notes: Sequence[Note], duration_s: float
) -> list[tuple[float, float, float, float]]:
    """Pick attacks at the guitar's note onsets (and the bass's in a share of tracks): one sound per
    instrument (level, decay, band), varied per attack with the note's velocity; the notes of a strum
    (onsets within 30 ms) share one attack."""
    channels = [(CH_GUITAR, PICK_ATTACK_HZ)]
    if rng.random() < PICK_ATTACK_BASS_PROB:
        channels.append((CH_BASS, (PICK_ATTACK_HZ[0] * 0.7, PICK_ATTACK_HZ[1] * 0.5)))
    out = []
    for channel, hz in channels:
        level = float(rng.uniform(*PICK_ATTACK_DB))
        decay = float(rng.uniform(*PICK_ATTACK_DECAY_S))
        centre = float(np.exp(rng.uniform(*np.log(hz))))
        last = -1.0
        for n in sorted((n for n in notes if n.channel == channel), key=lambda n: n.start_s):
            if n.start_s - last < 0.03 or not 0.0 <= n.start_s < duration_s:
                continue
            last = n.start_s
            vel_db = 20.0 * np.log10(max(n.velocity, 1) / 100.0)
            out.append(
                (
                    n.start_s,
                    decay * float(rng.uniform(0.8, 1.25)),
                    level + vel_db + float(rng.normal(0.0, 2.0)),
                    centre,
                )
            )
    return sorted(out)


def _backbeat_clicks(
    rng: np.random.Generator,
    bars: np.ndarray,
    bar_ends: np.ndarray,
    beats_per_bar: int,
    bar_indices: list[int],
) -> list[tuple[float, float, float, float]]:
    """Clicks on beats 2 and 4 (2 in 3/4) of the given bars: one sound per track (level, decay, band),
    varied per click, placed by the band's clock (beat +- a few ms), not at the drummer's snare hits."""
    level = float(rng.uniform(*BACKBEAT_CLICK_DB))
    decay = float(rng.uniform(*BACKBEAT_CLICK_DECAY_S))
    centre = float(np.exp(rng.uniform(*np.log(BACKBEAT_CLICK_HZ))))
    beats = range(1, beats_per_bar, 2) if beats_per_bar >= 4 else (1,)
    out = []
    for bi in bar_indices:
        bbeat = float(bar_ends[bi] - bars[bi]) / beats_per_bar
        for beat in beats:
            if rng.random() < BACKBEAT_CLICK_HIT_PROB:
                t = float(bars[bi]) + beat * bbeat + float(rng.normal(0.0, 0.006))
                out.append(
                    (t, decay * float(rng.uniform(0.8, 1.25)), level + float(rng.normal(0.0, 2.0)), centre)
                )
    return out


def _guitar_drive(rng: np.random.Generator, program: int, genre: str) -> float:
    """Distortion drive [dB] of the guitar: heavy for overdriven/distortion programs and loud genres."""
    if program in (29, 30) or genre in ("metal", "punk"):
        return float(rng.uniform(14.0, 30.0))
    if genre in ("rock", "shuffle") and rng.random() < 0.5:
        return float(rng.uniform(6.0, 18.0))  # crunch
    return 0.0


def _end_before_repeats(notes: list[Note]) -> None:
    """Release each note before the next onset of the same key on the same channel (in place)."""
    notes.sort(key=lambda n: (n.channel, n.key, n.start_s))
    for cur, nxt in zip(notes, notes[1:]):
        if cur.channel == nxt.channel and cur.key == nxt.key and cur.end_s > nxt.start_s - 0.005:
            cur.end_s = max(cur.start_s + 0.01, nxt.start_s - 0.005)


def _swing_feel(perf: Performance, genre: str) -> tuple[float, float]:
    """(eighth-note, sixteenth-note) delays [beats] of off-beats that match the drummer's swing."""
    style = str(perf.meta.get("style", "")).split("/")[0]
    triplet = (
        perf.meta.get("grid") == 3
        or style in ("jazz", "swing", "shuffle", "blues")
        or genre in ("jazz", "swing")
    )
    eighth = 2 / 3 - 0.5 if triplet else 0.0
    sixteenth = float(perf.meta.get("swing", 0.0)) / 12.0 if perf.meta.get("grid", 4) == 4 else 0.0
    return eighth, sixteenth


def _swing_and_humanise(
    notes: list[Note],
    bars: np.ndarray,
    beats_per_bar: int,
    feel: tuple[float, float],
    rng: np.random.Generator,
) -> None:
    """Delay off-beat notes to the drummer's swing and add 5 ms timing jitter, in place (not locked notes)."""
    eighth, sixteenth = feel
    if len(bars) == 0:
        return
    bar_len = np.diff(np.append(bars, bars[-1] + (bars[-1] - bars[-2] if len(bars) > 1 else 2.0)))
    for n in notes:
        if n.locked:
            continue
        i = max(0, int(np.searchsorted(bars, n.start_s + 1e-9, side="right")) - 1)
        bbeat = bar_len[i] / beats_per_bar
        frac = ((n.start_s - bars[i]) / bbeat) % 1.0
        shift = 0.0
        if eighth and abs(frac - 0.5) < 0.04:
            shift = eighth
        elif sixteenth and (abs(frac - 0.25) < 0.03 or abs(frac - 0.75) < 0.03):
            shift = sixteenth
        dt = shift * bbeat + float(rng.normal(0.0, 0.005))
        n.start_s += dt
        n.end_s += dt


def _choose_parts(
    rng: np.random.Generator, genre: Genre, name: str, intensity: float, break_mode: str
) -> list[str]:
    if break_mode in ("solo", "silence"):
        return []
    if break_mode == "tacet":  # drums rest, the band plays: an instrumental intro
        return [p for p in ("bass", "keys", "guitar", "pad") if rng.random() < 0.6] or ["keys"]
    if break_mode == "sparse":
        return [str(rng.choice(["pad", "keys", "strings"]))]
    parts = []
    if rng.random() < 0.95:
        parts.append("bass")
    if rng.random() < genre.keys_prob:
        parts.append("keys")
    if rng.random() < genre.guitar_prob:
        parts.append("guitar")
    if rng.random() < 0.2 + 0.5 * intensity:  # one sustained layer at a time keeps polyphony low
        parts.append("pad" if rng.random() < 0.55 else "strings")
    if name in ("chorus", "bridge", "outro") and rng.random() < genre.brass_prob:
        parts.append("brass")
    if name not in ("intro", "break") and rng.random() < 0.8:
        parts.append("lead")
    if break_mode == "stops":
        parts = [p for p in parts if p in ("bass", "keys", "guitar")] or ["bass"]
    if not parts:
        parts.append("keys")
    return parts


def _bass_bar(
    rng: np.random.Generator,
    mode: str,
    chord: Chord,
    next_root: int,
    b0: float,
    b1: float,
    bbeat: float,
    beats: int,
    kicks: np.ndarray,
    vel_scale: float,
    stops: bool,
) -> list[Note]:
    """Bass notes of one bar: on the kick hits (plus passing and approach notes), walking, octaves or tumbao."""
    low = 28 + (chord.root - 28) % 12  # E1..D#2
    fifth = (
        low + QUALITIES[chord.quality][min(2, len(QUALITIES[chord.quality]) - 1)]
        if chord.quality != "pow"
        else low + 7
    )
    third = low + QUALITIES[chord.quality][1]
    approach = 28 + (next_root - 28) % 12
    approach = approach - 1 if rng.random() < 0.5 else approach + 1
    vel = int(np.clip(95 * vel_scale, 1, 127))
    onsets: list[tuple[float, int]] = []
    kept: list[float] = []  # kick times the bass plays on
    if stops:
        onsets = [(b0, low)]
    elif mode == "walking":
        tones = [low, third, fifth, approach]
        if rng.random() < 0.5:
            tones[1] = low + (2 if chord.quality in ("maj", "maj7", "7") else 3)
        onsets = [(b0 + i * bbeat, tones[i % 4]) for i in range(beats)]
    elif mode == "octaves":
        onsets = [(b0 + i * bbeat / 2, low + (12 if i % 2 else 0)) for i in range(beats * 2)]
    elif mode == "pedal":  # driving root eighths, the bar's last two on the fifth in some bars
        turn = rng.random() < 0.3
        onsets = [
            (b0 + i * bbeat / 2, fifth if turn and i >= beats * 2 - 2 else low) for i in range(beats * 2)
        ]
    elif mode == "quarters":
        onsets = [(b0 + i * bbeat, fifth if i % 2 and rng.random() < 0.3 else low) for i in range(beats)]
    elif mode == "tumbao":
        onsets = [
            (b0, low),
            (b0 + 1.5 * bbeat, fifth),
            (b0 + 3 * bbeat, low + 12 if rng.random() < 0.3 else fifth),
        ]
    else:
        bar_kicks = kicks[(kicks >= b0 - 0.03) & (kicks < b1 - 0.03)]
        # thin out double-kick runs: at most one bass note per eighth
        for k in bar_kicks:
            if not kept or k - kept[-1] >= bbeat / 2 - 0.02:
                kept.append(float(k))
        for i, k in enumerate(kept):
            pitch = low if i == 0 or rng.random() < 0.7 else (fifth if rng.random() < 0.6 else low + 12)
            onsets.append((k, pitch))
        # passing notes on empty beats, and an approach note before the next chord
        for i in range(1, beats):
            t = b0 + i * bbeat
            if all(abs(t - k) > bbeat / 2 for k in kept) and rng.random() < 0.3:
                onsets.append((t, fifth if rng.random() < 0.5 else third))
        if rng.random() < 0.35 and all(abs(b1 - bbeat / 2 - k) > bbeat / 4 for k in kept):
            onsets.append((b1 - bbeat / 2, approach))
        if not onsets:
            onsets = [(b0, low)]
    onsets.sort()
    out = []
    for i, (t, p) in enumerate(onsets):
        nxt = onsets[i + 1][0] if i + 1 < len(onsets) else b1
        length = min(nxt - t, 1.5 * bbeat) * (0.9 if rng.random() < 0.7 else 0.5)
        if stops:
            length = 0.8 * bbeat
        v = int(np.clip(vel + rng.normal(0, 6), 30, 127))
        out.append(Note(t, t + max(0.05, length), CH_BASS, int(p), v, locked=t in kept))
    return out


def _comp_bar(
    rng: np.random.Generator,
    pattern: str,
    ch: int,
    voicing: list[int],
    b0: float,
    bbeat: float,
    beats: int,
    vs: float,
) -> list[Note]:
    """Keyboard comping of one bar; positions in beats and lengths in beats per pattern."""
    hits: list[tuple[float, float]]
    if pattern == "whole":
        hits = [(0.0, beats - 0.05)]
    elif pattern == "halves":
        hits = [(0.0, beats / 2 - 0.05), (beats / 2, beats / 2 - 0.05)]
    elif pattern == "quarters":
        hits = [(float(i), 0.85) for i in range(beats)]
    elif pattern == "eighths":
        hits = [(i / 2, 0.45) for i in range(beats * 2)]
    elif pattern == "offbeat":
        hits = [(i + 0.5, 0.4) for i in range(beats)]
    elif pattern == "syncopated":
        hits = [(0.0, 1.4), (1.5, 1.0), (2.5, 0.9), (3.5, 0.45)][: beats + 0]
    elif pattern == "charleston":
        hits = [(0.0, 0.5), (1.5, 0.4)] + ([(2.0, 0.4)] if rng.random() < 0.3 else [])
    elif pattern == "comp":
        hits = [
            (float(x), float(rng.choice([0.3, 0.6, 1.0])))
            for x in np.arange(0, beats, 0.5)
            if rng.random() < 0.3
        ]
        hits = hits or [(0.0, 1.0)]
    elif pattern == "montuno":
        hits = [(x, 0.35) for x in (0.0, 0.5, 1.5, 2.0, 3.0, 3.5) if x < beats]
    elif pattern == "skank":
        hits = [(i + 0.5, 0.25) for i in range(beats)]
    elif pattern == "arpeggio":
        seq = voicing + voicing[-2:0:-1]
        return [
            Note(
                b0 + i * bbeat / 2,
                b0 + (i + 1.6) * bbeat / 2,
                ch,
                seq[i % len(seq)],
                int(70 * vs + rng.normal(0, 5)),
            )
            for i in range(beats * 2)
        ]
    elif pattern == "stab":
        hits = [(0.0, 0.5)]
    elif pattern == "backbeat":  # rock'n'roll / gospel piano: short chords on 2 and 4
        hits = [(float(x), 0.3) for x in range(1, beats, 2)]
    else:
        raise ConfigError(f"unknown comping pattern {pattern!r}")
    out = []
    for pos, length in hits:
        if pos >= beats:
            continue
        v = int(np.clip(75 * vs + rng.normal(0, 6), 20, 127))
        t = b0 + pos * bbeat + float(rng.normal(0, 0.004))
        out += [Note(max(b0, t), t + length * bbeat, ch, k, v) for k in voicing]
    return out


def _guitar_bar(
    rng: np.random.Generator,
    pattern: str,
    voicing: list[int],
    b0: float,
    b1: float,
    bbeat: float,
    beats: int,
    kicks: np.ndarray,
    vs: float,
) -> list[Note]:
    """Guitar part of one bar; strums spread their strings over 5-25 ms like a pick stroke."""
    ch = CH_GUITAR
    hits: list[tuple[float, float, float]] = []  # (time [s], length [s], accent)
    if pattern == "power8":
        hits = [(b0 + i * bbeat / 2, bbeat * 0.4, 1.0 if i % 2 == 0 else 0.85) for i in range(beats * 2)]
    elif pattern == "power_kick":
        ks = kicks[(kicks >= b0 - 0.02) & (kicks < b1 - 0.02)]
        hits = [(float(k), min(bbeat * 0.45, 0.25), 1.0) for k in ks] or [(b0, bbeat * beats * 0.95, 1.0)]
        return _strum(rng, hits, voicing, vs, locked=True)
    elif pattern == "strum":
        pat = [(0.0, 1.0), (1.0, 0.8), (1.5, 0.7), (2.5, 0.75), (3.0, 0.8), (3.5, 0.7)]
        hits = [(b0 + p * bbeat, bbeat * 0.9, a) for p, a in pat if p < beats]
    elif pattern == "funk16":
        hits = [
            (b0 + i * bbeat / 4, 0.06, 1.0 if i % 4 == 0 else 0.7)
            for i in range(beats * 4)
            if rng.random() < 0.55
        ]
    elif pattern in ("skank", "comp"):
        hits = [(b0 + (i + 0.5) * bbeat, bbeat * 0.25, 0.9) for i in range(beats)]
    elif pattern == "quarters4":  # Freddie Green style: short quarter-note chords
        hits = [(b0 + i * bbeat, bbeat * 0.4, 0.8) for i in range(beats)]
    elif pattern == "shuffle":
        hits = [
            (b0 + i * bbeat + off * bbeat, bbeat * 0.3, a)
            for i in range(beats)
            for off, a in ((0, 1), (2 / 3, 0.7))
        ]
    elif pattern == "arp":
        seq = voicing + voicing[-2:0:-1]
        return [
            Note(
                b0 + i * bbeat / 2,
                b0 + (i + 2) * bbeat / 2,
                ch,
                seq[i % len(seq)],
                int(72 * vs + rng.normal(0, 5)),
            )
            for i in range(beats * 2)
        ]
    elif pattern == "stab":
        hits = [(b0, bbeat * 0.6, 1.0)]
    elif pattern == "chug16":  # palm-muted sixteenths of metal: dense percussive attacks between the drums
        step = bbeat / 4
        hits = [
            (b0 + i * step, min(0.07, 0.8 * step), 1.0 if i % 4 == 0 else 0.75)
            for i in range(beats * 4)
            if i % 4 == 0 or rng.random() < 0.75
        ]
    elif pattern == "gallop":  # eighth + two sixteenths per beat
        hits = [
            (b0 + (i + off) * bbeat, min(0.1, 0.2 * bbeat), a)
            for i in range(beats)
            for off, a in ((0.0, 1.0), (0.5, 0.8), (0.75, 0.8))
        ]
    elif pattern == "chop":  # short accented chords on the backbeat (2 and 4), not tied to the snare
        hits = [(b0 + i * bbeat, min(0.12, bbeat * 0.2), 1.0) for i in range(1, beats, 2)]
    else:
        raise ConfigError(f"unknown guitar pattern {pattern!r}")
    return _strum(rng, hits, voicing, vs)


#: guitar patterns played as power chords (root, fifth, octave) whatever the chord
POWER_CHORD_PATTERNS = frozenset({"power8", "power_kick", "chug16", "gallop"})


def _strum(
    rng: np.random.Generator,
    hits: list[tuple[float, float, float]],
    voicing: list[int],
    vs: float,
    locked: bool = False,
) -> list[Note]:
    """Guitar chords at (time [s], length [s], accent), strings spread over 4-20 ms, down or up."""
    ch = CH_GUITAR
    out = []
    for t, length, acc in hits:
        up = rng.random() < 0.3
        spread = float(rng.uniform(0.004, 0.02)) / max(1, len(voicing) - 1)
        order = voicing[::-1] if up else voicing
        v = int(np.clip(85 * vs * acc + rng.normal(0, 5), 20, 127))
        for j, k in enumerate(order):
            s = t + j * spread
            out.append(Note(s, s + length, ch, k, v, locked=locked))
    return out


def _brass_bar(
    rng: np.random.Generator, pcs: list[int], b0: float, bbeat: float, beats: int, vs: float
) -> list[Note]:
    voicing = _voice(pcs, 60, 82, None, n=3)
    positions = [0.0] + [
        float(x) for x in rng.choice(np.arange(0.5, beats, 0.5), size=int(rng.integers(0, 3)), replace=False)
    ]
    out = []
    for pos in sorted(positions):
        v = int(np.clip(95 * vs + rng.normal(0, 6), 30, 127))
        out += [Note(b0 + pos * bbeat, b0 + pos * bbeat + 0.35 * bbeat, CH_BRASS, k, v) for k in voicing]
    return out


_RHYTHMS = (  # lead rhythms: (start beat, length in beats) per bar
    ((0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 2.0)),
    ((0.5, 0.5), (1.0, 1.0), (2.0, 0.5), (2.5, 1.5)),
    ((0.0, 1.5), (1.5, 0.5), (2.0, 1.0), (3.0, 1.0)),
    ((0.0, 3.5),),
    ((1.0, 0.5), (1.5, 0.5), (2.0, 0.5), (2.5, 0.5), (3.0, 1.0)),
    ((0.0, 0.5), (0.5, 0.5), (1.0, 0.5), (1.5, 1.5)),
    ((0.0, 2.0), (2.0, 2.0)),
)


#: guitar-lead licks: fast picked runs (eighths, sixteenths, triplets) with rests, (start beat, length)
_LICKS = (
    tuple((i / 2, 0.5) for i in range(8)),
    tuple((i / 4, 0.25) for i in range(8)) + ((2.0, 1.0), (3.0, 0.5), (3.5, 0.5)),
    tuple((i / 3, 1 / 3) for i in range(6)) + ((2.0, 0.5), (2.5, 0.5), (3.0, 1.0)),
    ((0.5, 0.5), (1.0, 0.25), (1.25, 0.25), (1.5, 0.5), (2.5, 0.25), (2.75, 0.25), (3.0, 0.5), (3.5, 0.5)),
    tuple((2 + i / 4, 0.25) for i in range(8)),
)
#: GM guitar programs (nylon .. distortion), whose leads play licks
GUITAR_PROGRAMS = frozenset(range(24, 32))
#: share of a guitar lead's bars played as licks
LICK_PROB = 0.7


def _melody_bar(
    rng: np.random.Generator,
    chord: Chord,
    key: int,
    mode: str,
    b0: float,
    bbeat: float,
    beats: int,
    vs: float,
    state: dict[str, int],
    program: int,
) -> list[Note]:
    """A bar of lead melody: scale steps, chord tones on strong beats, rests between phrases; a guitar
    lead mostly plays fast licks (:data:`_LICKS`), picked notes that a drum model must not take for drums."""
    if rng.random() < 0.2:  # breathe
        return []
    scale = [(key + s) % 12 for s in (MINOR if mode == "minor" else MAJOR)]
    chord_pcs = chord.pitch_classes
    vibrato = program in (52, 53, 54, 40, 41, 42, 64, 65, 66, 67, 68, 71, 73, 74, 75, 56, 57)
    if program in GUITAR_PROGRAMS and rng.random() < LICK_PROB:
        rhythm = _LICKS[int(rng.integers(len(_LICKS)))]
    else:
        rhythm = _RHYTHMS[int(rng.integers(len(_RHYTHMS)))]
    out = []
    pitch = state["pitch"]
    for pos, length in rhythm:
        if pos >= beats:
            continue
        strong = pos == int(pos)
        step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
        cand = pitch + step
        pcs = chord_pcs if strong else scale
        # nearest allowed pitch to the candidate, inside the vocal range
        options = [p for p in range(58, 82) if p % 12 in pcs]
        cand = min(options, key=lambda p: (abs(p - cand), p))
        if cand > 78:
            cand -= 12
        pitch = cand
        v = int(np.clip(90 * vs + rng.normal(0, 6), 30, 127))
        end = b0 + min(pos + length, beats) * bbeat - 0.03
        out.append(Note(b0 + pos * bbeat, end, CH_LEAD, int(pitch), v, vibrato=vibrato))
    state["pitch"] = pitch
    return out


# ---------------------------------------------------------------------- rendering
def render_arrangement(
    arr: Arrangement,
    sample_rate_hz: int,
    soundfont: str | Path | Mapping[int, str | Path],
    bass_shelf: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Render ``arr`` with tinysoundfont: float32 mono (N,) with N = round(duration_s * sample_rate_hz).

    ``soundfont`` is one soundfont for every channel, or a mapping channel -> soundfont (at most two
    different ones, so that the mix is bit-identical whatever the process rendered before). With
    ``arr.guitar_drive_db`` > 0 the guitar is rendered in a second pass and distorted (:func:`overdrive`).
    With ``bass_shelf`` ({"gain_db", "corner_hz"}, :data:`LOUD_BASS_DB`) the bass is rendered in a pass of its
    own and lifted by a low shelf, so that its note starts carry the low end a kick drum would.
    The output is normalised to :data:`TARGET_RMS_DB` RMS (unless silent), with peaks kept below 0.99.
    """
    if isinstance(soundfont, Mapping):
        per_channel = {int(c): str(Path(p)) for c, p in soundfont.items()}
        default = per_channel[min(per_channel)] if per_channel else None
    else:
        per_channel, default = {}, str(Path(soundfont))
    fonts = sorted({*per_channel.values(), *([default] if default else [])})
    if not fonts:
        raise ConfigError("render_arrangement: no soundfont given")
    if len(fonts) > 2:
        raise ConfigError(f"render_arrangement: at most two soundfonts per track, got {len(fonts)}")
    for ch, prog in arr.programs.items():
        if ch == DRUM_CHANNEL or prog in PERCUSSIVE_PROGRAMS:
            raise ConfigError(
                f"accompaniment must not use the drum channel or percussive programs ({ch}, {prog})"
            )
    synth, sfids = _POOL.get([Path(f) for f in fonts], sample_rate_hz)
    sfid_of = {ch: sfids[per_channel.get(ch, default)] for ch in arr.programs}
    n_total = int(round(arr.duration_s * sample_rate_hz))
    drive = arr.guitar_drive_db > 0 and any(n.channel == CH_GUITAR for n in arr.notes)
    has_bass = any(n.channel == CH_BASS for n in arr.notes)
    boost = bass_shelf if bass_shelf is not None and has_bass else None
    # channels rendered in passes of their own, for their own treatment
    apart = {ch for ch, on in ((CH_GUITAR, drive), (CH_BASS, boost is not None)) if on}

    def channel_pass(keep: Any) -> np.ndarray:
        notes = [n for n in arr.notes if keep(n.channel)]
        return _render_pass(synth, sfid_of, arr, notes, n_total, sample_rate_hz)

    mono = channel_pass(lambda ch: ch not in apart)
    if drive:
        guitar = channel_pass(lambda ch: ch == CH_GUITAR)
        mono += overdrive(guitar, sample_rate_hz, arr.guitar_drive_db, arr.guitar_cabinet_hz)
    if boost is not None:
        from scipy.signal import sosfilt

        from .mixing import shelf_sos

        sos = shelf_sos(boost["corner_hz"], boost["gain_db"], high=False, sr=sample_rate_hz)
        mono += sosfilt(sos, channel_pass(lambda ch: ch == CH_BASS))
    if arr.shelf_db > 0:
        mono = high_shelf(mono, sample_rate_hz, arr.shelf_hz, arr.shelf_db)
    rms = float(np.sqrt(np.mean(mono**2))) if n_total else 0.0
    if rms > 1e-6:
        mono *= 10 ** (TARGET_RMS_DB / 20.0) / rms
        if arr.consonants:
            mono += _consonant_noise(arr, sample_rate_hz, n_total, 10 ** (TARGET_RMS_DB / 20.0))
        if arr.clicks:
            mono += _click_noise(
                arr.clicks, arr.noise_seed + 1, sample_rate_hz, n_total, 10 ** (TARGET_RMS_DB / 20.0)
            )
        if arr.picks:
            mono += _click_noise(
                arr.picks, arr.noise_seed + 2, sample_rate_hz, n_total, 10 ** (TARGET_RMS_DB / 20.0)
            )
    peak = float(np.max(np.abs(mono))) if n_total else 0.0
    if peak > 0.99:  # scale rather than clip: a crest factor above 20 dB lowers the RMS a little
        mono *= 0.99 / peak
    return mono.astype(np.float32)


def _render_pass(
    synth: Any,
    sfid_of: dict[int, int],
    arr: Arrangement,
    notes: Sequence[Note],
    n_total: int,
    sample_rate_hz: int,
) -> np.ndarray:
    """Render ``notes`` with the arrangement's programs: float64 mono (n_total,), block by block between events."""
    # the synthesiser is shared: start from silence and default channels, so that the output depends only
    # on the inputs. reset() only fades voices out quickly: render that fade into a scratch buffer.
    for sf_obj in synth.soundfonts.values():
        sf_obj.reset()
    synth.generate_simple(int(0.2 * sample_rate_hz))
    for ch, prog in arr.programs.items():
        try:
            synth.program_select(ch, sfid_of[ch], 0, prog)
        except RuntimeError:
            synth.program_select(ch, sfid_of[ch], 0, 0)  # preset missing in this soundfont: piano
        synth.control_change(ch, 7, arr.channel_volumes.get(ch, 100))
        synth.pitchbend_range(ch, 2.0)
        synth.pitchbend(ch, 8192)
        synth.set_tuning(ch, arr.tuning_semitones)

    # event list: (sample, order, kind, channel, a, b); note-offs before note-ons at the same sample
    events: list[tuple[int, int, str, int, int, int]] = []
    for n in notes:
        on = int(round(n.start_s * sample_rate_hz))
        off = int(round(n.end_s * sample_rate_hz))
        if on >= n_total:
            continue
        events.append((on, 2, "on", n.channel, n.key, n.velocity))
        events.append((max(off, on + 1), 0, "off", n.channel, n.key, 0))
        if n.vibrato and n.end_s - n.start_s > 0.3:
            onset_delay = 0.18
            t = n.start_s + onset_delay
            while t < n.end_s:
                depth = min(1.0, (t - n.start_s - onset_delay) / 0.3)  # vibrato fades in
                bend = VIBRATO_SEMITONES / 2.0 * depth * np.sin(2 * np.pi * VIBRATO_HZ * (t - n.start_s))
                events.append(
                    (int(round(t * sample_rate_hz)), 1, "bend", n.channel, int(8192 + 8191 * bend), 0)
                )
                t += VIBRATO_STEP_S
            events.append((max(off, on + 1), 1, "bend", n.channel, 8192, 0))
    events.sort()
    out = np.zeros(2 * n_total, dtype=np.float32)
    buf = memoryview(out).cast("B")
    pos = 0
    for sample, _, kind, ch, a, b in events:
        sample = min(sample, n_total)
        if sample > pos:
            synth.generate_simple(sample - pos, buffer=buf[pos * 8 : sample * 8])
            pos = sample
        if kind == "on":
            synth.noteon(ch, a, b)
        elif kind == "off":
            synth.noteoff(ch, a)
        else:
            synth.pitchbend(ch, a)
    if pos < n_total:
        synth.generate_simple(n_total - pos, buffer=buf[pos * 8 : n_total * 8])
    return out.reshape(-1, 2).mean(axis=1).astype(np.float64)


def overdrive(x: np.ndarray, sample_rate_hz: float, drive_db: float, cabinet_hz: float) -> np.ndarray:
    """Amp-like distortion: tanh soft clipping driven ``drive_db`` above the signal's RMS, then a 4th-order
    "cabinet" low-pass at ``cabinet_hz`` and an 80 Hz high-pass; the output keeps the input's RMS.

    GM distortion-guitar samples are dull; this adds the dense 1-7 kHz harmonics of real rock guitars.
    """
    from scipy.signal import butter, sosfilt

    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    if rms < 1e-9:
        return x
    y = np.tanh(x * (10 ** (drive_db / 20.0) / (3.0 * rms)))
    sos = np.vstack(
        [
            butter(
                4, min(cabinet_hz, 0.45 * sample_rate_hz), btype="lowpass", fs=sample_rate_hz, output="sos"
            ),
            butter(2, 80.0, btype="highpass", fs=sample_rate_hz, output="sos"),
        ]
    )
    y = sosfilt(sos, y)
    return y * (rms / max(1e-12, float(np.sqrt(np.mean(y**2)))))


def high_shelf(x: np.ndarray, sample_rate_hz: float, corner_hz: float, gain_db: float) -> np.ndarray:
    """A second-order high-shelf filter (RBJ audio-EQ cookbook, shelf slope 1) of ``gain_db`` above ``corner_hz``."""
    from scipy.signal import lfilter

    a_gain = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * min(corner_hz, 0.45 * sample_rate_hz) / sample_rate_hz
    cos_w, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2.0)
    sq = 2 * np.sqrt(a_gain) * alpha
    b = [
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos_w + sq),
        -2 * a_gain * ((a_gain - 1) + (a_gain + 1) * cos_w),
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos_w - sq),
    ]
    a = [
        (a_gain + 1) - (a_gain - 1) * cos_w + sq,
        2 * ((a_gain - 1) - (a_gain + 1) * cos_w),
        (a_gain + 1) - (a_gain - 1) * cos_w - sq,
    ]
    return lfilter(np.asarray(b) / a[0], np.asarray(a) / a[0], x)


def _add_noise_burst(
    out: np.ndarray,
    rng: np.random.Generator,
    sos: np.ndarray,
    start: int,
    env: np.ndarray,
    level_rms: float,
    pad: int,
    level_len: int | None = None,
) -> None:
    """Add band-passed noise (``sos``, after ``pad`` samples of filter settling) shaped by ``env`` to ``out``
    from sample ``start``, scaled so that its RMS over the first ``level_len`` samples (all: None) is
    ``level_rms``. Bursts starting past the end draw no noise."""
    from scipy.signal import sosfilt

    n = len(env)
    start = max(0, start)
    stop = min(len(out), start + n)
    if stop <= start:
        return
    burst = sosfilt(sos, rng.standard_normal(n + pad))[pad:] * env
    head = burst[:level_len] if level_len else burst
    burst *= level_rms / max(1e-9, float(np.sqrt(np.mean(head**2))))
    out[start:stop] += burst[: stop - start]


def _consonant_noise(arr: Arrangement, sample_rate_hz: int, n_total: int, ref_rms: float) -> np.ndarray:
    """Band-passed (3-11 kHz) noise bursts at ``arr.consonants``: sibilants fade in, plosives start at once."""
    from scipy.signal import butter

    rng = np.random.default_rng(arr.noise_seed)
    out = np.zeros(n_total)
    sos = butter(
        4, [3000.0, min(11000.0, 0.45 * sample_rate_hz)], btype="bandpass", fs=sample_rate_hz, output="sos"
    )
    for t, length, level_db in arr.consonants:
        n = max(8, int(length * sample_rate_hz))
        attack = max(1, int((0.4 if length > 0.05 else 0.05) * n))
        env = np.ones(n)
        env[:attack] = np.linspace(0.0, 1.0, attack)
        env[attack:] = np.linspace(1.0, 0.0, n - attack) ** 1.5
        _add_noise_burst(out, rng, sos, int(t * sample_rate_hz), env, ref_rms * 10 ** (level_db / 20.0), 256)
    return out


def _click_noise(
    clicks: Sequence[tuple[float, float, float, float]],
    noise_seed: int,
    sample_rate_hz: int,
    n_total: int,
    ref_rms: float,
) -> np.ndarray:
    """Clicks (time [s], decay [s], level [dB], centre [Hz]): noise band-passed an octave around the
    centre, instant attack, exponential decay; the level is the click's RMS over its first decay time
    re. ``ref_rms``."""
    from scipy.signal import butter

    rng = np.random.default_rng(noise_seed)
    out = np.zeros(n_total)
    filters: dict[float, np.ndarray] = {}  # one band per sound: design it once
    for t, decay_s, level_db, centre_hz in clicks:
        if centre_hz not in filters:
            band = [centre_hz / 2.0, min(2.0 * centre_hz, 0.45 * sample_rate_hz)]
            filters[centre_hz] = butter(2, band, btype="bandpass", fs=sample_rate_hz, output="sos")
        n = max(16, int(5 * decay_s * sample_rate_hz))
        env = np.exp(-np.arange(n) / (decay_s * sample_rate_hz))
        level_len = max(8, int(decay_s * sample_rate_hz))
        level = ref_rms * 10 ** (level_db / 20.0)
        _add_noise_burst(out, rng, filters[centre_hz], int(t * sample_rate_hz), env, level, 128, level_len)
    return out


def render_accompaniment(
    performance: Performance,
    rng: np.random.Generator,
    sample_rate_hz: int,
    soundfonts: Sequence[str | Path],
    info: dict[str, Any] | None = None,
    bass_mode: str | None = None,
    bass_shelf: Mapping[str, float] | None = None,
) -> np.ndarray:
    """A harmonically coherent accompaniment of ``performance``: float32 mono (N,) at ``sample_rate_hz``;
    ``bass_mode`` replaces the genre's bass line (:func:`plan_accompaniment`); ``bass_shelf`` lifts the bass's
    low end (:func:`render_arrangement`).

    One soundfont is drawn from ``soundfonts`` with ``rng`` (or, in a share :data:`MIX_SOUNDFONTS_PROB` of
    tracks, two, each instrument from either); the output depends only on ``rng`` and the inputs. Normalised to :data:`TARGET_RMS_DB` RMS. When ``info`` is given it receives the soundfont name
    and :meth:`Arrangement.to_dict` (for the manifest). Raises :class:`ConfigError` without soundfonts.

    Loaded soundfonts stay cached per process (FluidR3 ~0.3 GB, MuseScore_General_Full.sf3 ~0.8 GB and
    ~30 s to decode); ``DRUMSCRIBE_SOUNDFONT_CACHE`` sets how many.
    """
    if not soundfonts:
        raise ConfigError(
            "no General MIDI soundfont given; install one with "
            "`apt-get install fluid-soundfont-gm` (or timgm6mb-soundfont, musescore-general-soundfont)"
        )
    fonts = [Path(f) for f in soundfonts]
    main = fonts[int(rng.integers(len(fonts)))]
    second = (
        fonts[int(rng.integers(len(fonts)))]
        if len(fonts) > 1 and rng.random() < MIX_SOUNDFONTS_PROB
        else main
    )
    arr = plan_accompaniment(performance, rng, bass_mode)
    if second != main:  # instruments from two soundfonts: more timbres per track
        choice: Mapping[int, Path] | Path = {
            ch: (second if rng.random() < 0.5 else main) for ch in arr.programs
        }
    else:
        choice = main
    audio = render_arrangement(arr, sample_rate_hz, choice, bass_shelf)
    if info is not None:
        info["soundfont"] = (
            {str(c): p.name for c, p in choice.items()} if isinstance(choice, Mapping) else choice.name
        )
        info.update(arr.to_dict())
        if bass_mode is not None:
            info["free_bass"] = bass_mode
        if bass_shelf is not None:
            info["loud_bass"] = dict(bass_shelf)
    return audio


@functools.cache
def default_soundfonts() -> tuple[Path, ...]:
    """:func:`find_gm_soundfonts`, computed once per process."""
    return tuple(find_gm_soundfonts())
