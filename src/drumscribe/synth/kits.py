"""Drum kit discovery, hand-checked piece tables, sample extraction and kit -> split assignment.

Kits come from the Debian packages listed in :data:`DEBIAN_PACKAGES`:

- SoundFont drum presets (sf2/sf3): every preset of bank 128 of a General MIDI soundfont (Standard, Room,
  Power, Electronic, TR-808, Jazz, Brush; the Orchestra and Marching sets and the Metronome are left out
  because their keys are timpani/marching sounds, not a drum kit), mapped with the GM table of
  :data:`GM_KEY_PIECES`; and the AVL drum kits (bank 0, preset 0) mapped with :data:`AVL_KEY_PIECES`.
  One-shots are rendered note by note with tinysoundfont at several velocities (every velocity layer).
- Hydrogen drum kits (``drumkit.xml`` + samples), mapped by the per-kit instrument tables of
  :data:`HYDROGEN_TABLES` (checked by hand against each kit's instrument names and sample files).
- FreePats' GUS patch drum set (:func:`discover_freepats_kits`) and eXaDrums' Default kit
  (:func:`discover_exadrums_kits`, mapped by :data:`EXADRUMS_PIECES`).

Kits that share recordings form one *family* (:func:`kit_family`), and whole families are assigned to
train / validation / test (:func:`assign_splits`), so test scores measure kits never heard in training.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DatasetLayoutError
from .pieces import GM_NOTE_PIECE, PIECE_CLASS
from .samples import (
    SAMPLE_RATE_HZ,
    KitSamples,
    default_cache_dir,
    load_kit_samples,
    prepare_oneshot,
    read_sample_file,
    save_kit_samples,
)

log = logging.getLogger(__name__)

DEBIAN_PACKAGES = (
    "fluid-soundfont-gm",
    "musescore-general-soundfont",
    "timgm6mb-soundfont",
    "avldrums.lv2-soundfont",
    "hydrogen-drumkits",
    "hydrogen-data",
    "freepats",
    "csound-soundfont",
    "exadrums",
)
#: kit families read after the automatic split was fixed (csound-soundfont's public-domain GM bank and
#: eXaDrums' Default kit, added 2026-12-07). They train unless ``--test-kits`` / ``--validation-kits`` name them and are left out of the
#: count that sizes the held-out splits, so every earlier render's held-out kits (the demo clip's among them)
#: stay held out when they are installed.
LATE_FAMILIES = frozenset({"sf-gmbank", "exadrums"})
SOUNDFONT_DIRS = (
    "/usr/share/sounds/sf2",
    "/usr/share/sounds/sf3",
    "/usr/share/soundfonts",
    "/usr/lib/lv2/avldrums.lv2",
    "/usr/share/avldrums.lv2",
)
HYDROGEN_DIRS = ("/usr/share/hydrogen/data/drumkits",)
#: GUS patch drum sets (freepats: one ``NNN_Name.pat`` file per General MIDI key)
FREEPATS_DIRS = ("/usr/share/midi/freepats",)
#: eXaDrums kits: an XML file with a ``kitName`` beside its samples (Debian's exadrums ships one, Default,
#: recorded by Phill Mason; its XML names samples in subfolders that the package installs flat)
EXADRUMS_DIRS = ("/usr/share/exadrums",)
#: (eXaDrums instrument name, sound type) -> piece, checked by hand against the Default kit's samples
EXADRUMS_PIECES: dict[tuple[str, str], str] = {
    ("Kick", "DrumHead"): "kick",
    ("Snare", "DrumHead"): "snare",
    ("HiHat", "DrumHead"): "hihat_closed",
    ("Tom", "DrumHead"): "tom_high",
    ("Floor Tom", "DrumHead"): "tom_floor",
    ("Crash", "DrumHead"): "crash",
    ("Ride", "DrumHead"): "ride",
    ("Ride", "RimShot"): "ride_bell",
}

#: velocities at which soundfont notes are rendered (soundfonts switch samples and filters by velocity)
SF_VELOCITIES = (35, 70, 100, 127)
#: render length per piece [s] (long enough for the natural decay; tails below -60 dB are cut)
SF_RENDER_S = {"crash": 4.0, "ride": 4.0, "ride_bell": 3.5, "china": 3.5, "splash": 2.5, "hihat_open": 2.0}
SF_RENDER_DEFAULT_S = 1.5

#: General MIDI drum keys -> piece: :data:`~.pieces.GM_NOTE_PIECE`, except that key 40 ("Electric Snare")
#: is a second snare sound in most GM sets, so it is sampled as ``snare`` rather than ``snare_rimshot``.
#: 35/36 kicks, 41/43 floor toms, 49/57 crashes, 51/59 rides are alternatives of one piece (both
#: rendered, for round robin).
GM_KEY_PIECES: dict[int, str] = {**GM_NOTE_PIECE, 40: "snare"}
#: AVL drum kits (4-piece Black Pearl and Red Zeppelin): their key layout differs from GM. 43 and 47 are
#: the floor-tom and rack-tom *edge* hits (still toms, but not extra drums), 46 is a semi-open and 48 a
#: swished hi-hat, 50/58 are choked crashes, 52 a choked ride. Checked by rendering every key and
#: comparing decay and spectral centroid (hats > 9 kHz, toms 1.6-2.5 kHz and > 0.6 s, cymbals > 2 s).
AVL_KEY_PIECES: dict[int, str] = {
    36: "kick",
    37: "side_stick",
    38: "snare",
    39: "clap",
    40: "snare",  # snare edge
    41: "tom_floor",
    42: "hihat_closed",
    43: "tom_floor",  # floor tom edge
    44: "hihat_pedal",
    45: "tom_mid",
    46: "hihat_open",  # semi-open
    47: "tom_mid",  # rack tom edge
    48: "hihat_open",  # swish
    49: "crash",
    50: "crash",  # choked crash
    51: "ride",
    53: "ride_bell",
    54: "tambourine",
    55: "splash",
    56: "cowbell",
    57: "crash",
    58: "crash",  # choked crash 2
    59: "ride",  # ride shank
    60: "crash",  # long-decay crash/ride
}
_SKIP_PRESET = re.compile(r"orchestra|marching|metronome|sfx|sound ?effect", re.I)

#: Hydrogen kits: folder name -> {instrument name -> piece}. Instruments not listed are not used
#: (effects, djembes, waterglasses, shakers, duplicates, empty slots).
# The Millo kits share one instrument list (the v.1 kit's low tom is a rack tom, the others' a floor tom).
_MILLO_TABLE: dict[str, str] = {
    "Kick": "kick",
    "Stick": "side_stick",
    "Snare Jazz": "snare",
    "Hand Clap": "clap",
    "Snare Rock": "snare",
    "Tom Low": "tom_floor",
    "Closed HH": "hihat_closed",
    "Tom Mid": "tom_mid",
    "Pedal HH": "hihat_pedal",
    "Tom Hi": "tom_high",
    "Open HH": "hihat_open",
    "Cowbell": "cowbell",
    "Ride Jazz": "ride",
    "Crash": "crash",
    "Ride Rock": "ride",
    "Crash Jazz": "crash",
}

HYDROGEN_TABLES: dict[str, dict[str, str]] = {
    "Audiophob": {
        # "Kick" is a tom sample (86335__zgump__tom-0105) and "Pedal HH" a shaker: both left out
        "Stick": "side_stick",
        "Snare Jazz": "snare",
        "Hand Clap": "clap",
        "Snare Rock": "snare",
        "Tom Low": "tom_low",
        "Closed HH": "hihat_closed",
        "Tom Mid": "tom_mid",
        "Tom Hi": "tom_high",
        "Open HH": "hihat_open",
        # its "Cowbell" is a 70 Hz synth hit (trimo-c3.wav), not a cowbell: left out
        "Ride Jazz": "ride",
        "Crash": "crash",
    },
    "BJA_Pacific": {
        "BassDrum": "kick",
        "Snare": "snare",
        "Hi Hat Closed": "hihat_closed",
        "Hi Hat Opened": "hihat_open",
        "Tom": "tom_mid",
        "Floor Tom": "tom_floor",
        "Crash Left": "crash",
        "Crash Right": "crash",
        "Ride Bell": "ride_bell",
        "Ride": "ride",
        "Ride 2": "ride",
        "Snare Dry": "snare",
        "Hi Hat Free": "hihat_open",
    },
    "ColomboAcousticDrumkit": {
        "BassDrum": "kick",
        "Stick": "side_stick",
        "Snare1": "snare_rimshot",
        "redo super opaco": "snare",
        "Snare Rock": "snare",
        "Tom Low": "tom_low",
        "Closed HH": "hihat_closed",
        "Tom Mid": "tom_mid",
        "Pedal HH": "hihat_open",  # the sample is a semi-open hat
        "Tom Hi": "tom_high",
        "Open HH": "hihat_open",
        "crash16inch": "crash",
        "ride-crash20inch": "ride",
        "crash20inch--2": "crash",
        "ride-cup": "ride_bell",
    },
    "ElectricEmpireKit": {
        "Kick Lite 1": "kick",
        "Kick Lite 2": "kick",
        "Kick Low 1": "kick",
        "Kick Low 2": "kick",
        "Kick Old": "kick",
        "Kick Power": "kick",
        "Kick Stomp": "kick",
        "Kick Hard 1": "kick",
        "Kick Hard 2": "kick",
        "Snare 1": "snare",
        "Snare 2": "snare",
        "Snare 3": "snare",
        "Snare Low": "snare",
        "Snare Ring": "snare",
        "Clap": "clap",
        "Clap Hard": "clap",
        "Hat Closed Bs": "hihat_closed",
        "Hat Closed Dirty": "hihat_closed",
        "Hat Low": "hihat_closed",
        "Hat Op Dirty": "hihat_open",
        "Hat Op Phaser": "hihat_open",
    },
    "ForzeeStereo": {
        'Kick (Tama Superstar 22")': "kick",
        'Tom Low (Tama Superstar 16")': "tom_floor",
        'Tom Mid (Tama Superstar 13")': "tom_mid",
        'Tom High (Tama Superstar 12")': "tom_high",
        "Snare (Pearl Free Floating Maple 14x3.5)": "snare",
        "Snare Rimshot (Pearl Free Floating Maple 14x3.5)": "snare_rimshot",
        "Snare 2 (Pearl Free Floating Maple 14x3.5)": "snare",
        "Snare 2 Rimshot (Pearl Free Floating Maple 14x3.5)": "snare_rimshot",
        "Rim Click (Pearl Free Floating Maple 14x3.5)": "side_stick",
        'Hi-Hat Closed (Paiste Alpha Metal edge 14")': "hihat_closed",
        'Hi-Hat Open (Paiste Alpha Metal edge 14")': "hihat_open",
        'Hi-Hat Semiopen (Paiste Alpha Metal edge 14")': "hihat_open",
        'Hi-Hat Pedal (Paiste Alpha Metal edge 14")': "hihat_pedal",
        'Ride (Custom, Zagrebin 22")': "ride",
        'Ride Bell (Custom, Zagrebin 22")': "ride_bell",
        'Ride Bow (Custom, Zagrebin 22")': "ride",
        'China (Paiste Alpha 18")': "china",
        'Crash/Ride (Paiste Rude Crash/Ride 18")': "crash",
        'Crash/Ride Bell (Paiste Rude Crash/Ride 18")': "ride_bell",
        'Crash/Ride Bow (Paiste Rude Crash/Ride 18")': "ride",
        'Crash (Paiste Rude Thin 18")': "crash",
        'Splash (Paiste Rude 10")': "splash",
        "Tambourine (Pearl PTM-10GH)": "tambourine",
    },
    "GMRockKit": {
        "Kick": "kick",
        "Stick": "side_stick",
        "Snare": "snare",
        "Hand Clap": "clap",
        "Snare Rimshot": "snare_rimshot",
        "Floor Tom": "tom_floor",
        "Hat Closed": "hihat_closed",
        "Tom 2": "tom_mid",
        "Hat Pedal": "hihat_pedal",
        "Tom 1": "tom_high",
        "Hat Open": "hihat_open",
        "Cowbell": "cowbell",
        "Ride": "ride",
        "Crash": "crash",
        "Ride 2": "ride",
        "Splash": "splash",
        "Hat Semi-Open": "hihat_open",
        "Bell": "ride_bell",
    },
    "Gimme A Hand 1.0": {"Hand Clap": "clap", "Tambourine": "tambourine", "Cowbell": "cowbell"},
    "HardElectro1": {
        "Kick 1": "kick",
        "Kick 2": "kick",
        "Kick 3": "kick",
        "Snare": "snare",
        "Clap 1": "clap",
        "Clap 2": "clap",
        "Closed HH 1": "hihat_closed",
        "Closed HH 2": "hihat_closed",
        "Closed HH 3": "hihat_closed",
        "Closed HH 4": "hihat_closed",
        "Open HH": "hihat_open",
        "Side HH": "hihat_closed",
        "Side OHH": "hihat_open",
    },
    "Millo-Drums_v.1": {**_MILLO_TABLE, "Tom Low": "tom_low"},
    "Millo_MultiLayered2": _MILLO_TABLE,
    "Millo_MultiLayered3": {
        "Kick": "kick",
        "Stick": "side_stick",
        "Snare Rock": "snare",
        "Tom Low": "tom_floor",
        "Closed HH": "hihat_closed",
        "Tom Mid": "tom_mid",
        "Pedal HH": "hihat_pedal",
        "Tom Hi": "tom_high",
        "Open HH": "hihat_open",
        "Cowbell": "cowbell",
        "Ride Jazz": "ride",
        "Crash": "crash",
    },
    "TR808EmulationKit": {
        "Kick Long": "kick",
        "Kick Short": "kick",
        "Snare 1": "snare",
        "Snare 2": "snare",
        "Clap": "clap",
        "Tom Low": "tom_low",
        "Tom Mid": "tom_mid",
        "Tom Hi": "tom_high",
        "Closed Hat": "hihat_closed",
        "Pedal Hat": "hihat_pedal",
        "Open Hat": "hihat_open",
        "Cymbal": "crash",
        "Cowbell": "cowbell",
    },
    "The Black Pearl 1.0": {
        "Pearl Kick": "kick",
        "Pearl Side Stick": "side_stick",
        "Pearl Snare": "snare",
        "Hand Clap": "clap",
        "Pearl Snare Rimshot": "snare_rimshot",
        "Pearl Tom Floor": "tom_floor",
        "Sabian Hat Closed": "hihat_closed",
        "Pearl Tom 2": "tom_mid",
        "Sabian Hat Pedal": "hihat_pedal",
        "Pearl Tom 1": "tom_high",
        "Sabian Hat Semi-Open": "hihat_open",
        "Sabian Hat Open": "hihat_open",
        "Cowbell": "cowbell",
        "Paiste Ride": "ride",
        "Paiste Bell": "ride_bell",
        "Sabian Crash": "crash",
        "Zildjian Splash": "splash",
    },
    "VariBreaks": {
        "VariBreaks Kick 1": "kick",
        "VariBreaks Kick 2": "kick",
        "VariBreaks Kick 3": "kick",
        "VariBreaks Snare 1": "snare",
        "VariBreaks Snare 2": "snare",
        "VariBreaks Snare 3": "snare",
        "VariBreaks Tom Low": "tom_low",
        "VariBreaks Tom Mid": "tom_mid",
        "VariBreaks Tom Hi": "tom_high",
        "VariBreaks Hat 1 Cl": "hihat_closed",
        "VariBreaks Hat 1 Pd": "hihat_pedal",
        "VariBreaks Hat 1 Op": "hihat_open",
        "VariBreaks Hat 2 Cl": "hihat_closed",
        "VariBreaks Hat 3 Cl": "hihat_closed",
    },
    "rumpf_kit_z01_h2": {
        "c3 - bass drum 1": "kick",
        "c#3 - stick": "side_stick",
        "d3 - snare 1": "snare",
        "d#3 - clap": "clap",
        "e3 - snare 2": "snare",
        "f3 - bass drum 2": "kick",
        "f#3 - hi-hat closed": "hihat_closed",
        "g3 - bass drum 3": "kick",
        "g#3 - hi-hat pedal": "hihat_pedal",
        "a3 - bass drum 4": "kick",
        "a#3 - hi-hat open": "hihat_open",
        "b3 - low tom": "tom_low",
        "c4 - middle tom": "tom_mid",
        # its "crash", "cymbal 1/2" and "ride bell" are not cymbals (spectral centroids 30-1500 Hz, no energy
        # above 5 kHz): mapped, they taught cymbal labels on thumps; left out, the kit plays no cymbals
        "d4 - high tom": "tom_high",
        "g#4 - cowbell": "cowbell",
    },
}

#: Kits that share recordings (same source sessions) -> family name; others are their own family.
FAMILY_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"fluidr3|musescore", re.I), "fluid-musescore"),  # MuseScore General derives from FluidR3
    (re.compile(r"black.?pearl", re.I), "black-pearl"),  # AVL and Hydrogen Black Pearl: same recordings
    (re.compile(r"millo", re.I), "millo"),
    (re.compile(r"^exadrums:", re.I), "exadrums"),
)

#: Families that are kept apart by name but share sample files (Hydrogen's GMRockKit holds 81 of The Black
#: Pearl's): they always go to one split together.
SHARED_SAMPLES: tuple[frozenset[str], ...] = (frozenset({"gmrockkit", "black-pearl"}),)


@dataclass(frozen=True)
class KitInfo:
    """A discovered kit (cheap to build: nothing is decoded).

    ``sources`` maps each piece to what plays it: MIDI keys for soundfont kits, instrument names for
    Hydrogen kits.
    """

    name: str
    kind: str  # "soundfont" | "hydrogen" | "gus" | "exadrums" | "procedural"
    path: str
    family: str
    bank: int = 0
    preset: int = 0
    sources: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def classes(self) -> list[int]:
        return sorted({c for p in self.sources if (c := PIECE_CLASS[p]) is not None})

    def cache_key(self) -> str:
        """A file-safe key that changes when the kit's file or mapping changes."""
        h = hashlib.sha1()
        p = Path(self.path)
        stat = p.stat() if p.exists() else None
        h.update(repr((self.name, self.kind, str(p.resolve()), self.bank, self.preset)).encode())
        h.update(repr(sorted(self.sources.items())).encode())
        if stat is not None:
            h.update(f"{stat.st_size}:{int(stat.st_mtime)}".encode())
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("_")
        return f"{safe}-{h.hexdigest()[:10]}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sources"] = {k: list(v) for k, v in self.sources.items()}
        d["classes"] = self.classes()
        return d


def sampled_kit(name: str, kind: str, path: Path, family: str, sources: dict[str, list[str]]) -> KitInfo:
    """A discovered sample-file kit: ``sources`` maps each piece to the files or instruments that play it."""
    return KitInfo(name, kind, str(path), family, sources={p: tuple(v) for p, v in sources.items()})


def kit_family(name: str) -> str:
    for pattern, family in FAMILY_RULES:
        if pattern.search(name):
            return family
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ----------------------------------------------------------------------------------------- SoundFonts
def _riff_chunks(data: bytes, start: int, end: int) -> Iterable[tuple[str, int, int]]:
    off = start
    while off + 8 <= end:
        cid = data[off : off + 4].decode("latin1")
        size = struct.unpack("<I", data[off + 4 : off + 8])[0]
        yield cid, off + 8, size
        off += 8 + size + (size & 1)


def soundfont_presets(path: str | Path) -> list[tuple[int, int, str]]:
    """(bank, preset, name) of every preset of an sf2/sf3 file, read from its ``phdr`` chunk."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
                raise DatasetLayoutError(f"{path}: not a SoundFont (no RIFF sfbk header)")
            data = head + fh.read()
    except OSError as exc:
        raise DatasetLayoutError(f"{path}: cannot read SoundFont ({exc})") from exc
    for cid, off, size in _riff_chunks(data, 12, len(data)):
        if cid == "LIST" and data[off : off + 4] == b"pdta":
            for cid2, off2, size2 in _riff_chunks(data, off + 4, off + size):
                if cid2 == "phdr":
                    out = []
                    for i in range(off2, off2 + size2 - 38, 38):  # the last record is the EOP terminator
                        name, preset, bank = struct.unpack("<20sHH", data[i : i + 24])
                        out.append((bank, preset, name.split(b"\0")[0].decode("latin1").strip()))
                    return sorted(out)
    raise DatasetLayoutError(f"{path}: SoundFont has no preset headers")


def _is_avl(path: Path) -> bool:
    return bool(re.search(r"_LV2\.sf2$", path.name)) or "avldrums" in str(path).lower()


def discover_soundfont_kits(dirs: Sequence[str | Path] | None = None) -> list[KitInfo]:
    files: dict[Path, Path] = {}
    for d in SOUNDFONT_DIRS if dirs is None else dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix.lower() in (".sf2", ".sf3") and f.is_file():
                files.setdefault(f.resolve(), f)
    kits: list[KitInfo] = []
    for real in sorted(files):
        try:
            presets = soundfont_presets(real)
        except DatasetLayoutError as exc:
            log.warning("%s", exc)
            continue
        stem = real.stem
        if _is_avl(real):
            for bank, preset, _name in presets:
                if bank == 0:
                    sources = _invert_keys(AVL_KEY_PIECES)
                    kits.append(
                        KitInfo(
                            f"avl:{stem}:{preset}",
                            "soundfont",
                            str(real),
                            kit_family(stem),
                            bank,
                            preset,
                            sources,
                        )
                    )
            continue
        sources = _invert_keys(GM_KEY_PIECES)
        for bank, preset, name in presets:
            if bank != 128 or _SKIP_PRESET.search(name):
                continue
            label = re.sub(r"\s+", "_", name)
            kits.append(
                KitInfo(f"sf:{stem}:{label}", "soundfont", str(real), kit_family(stem), bank, preset, sources)
            )
    return kits


def _invert_keys(table: dict[int, str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, list[int]] = {}
    for key, piece in sorted(table.items()):
        out.setdefault(piece, []).append(key)
    return {p: tuple(k) for p, k in out.items()}


_SYNTHS: dict[str, Any] = {}


def extract_soundfont_kit(info: KitInfo, velocities: Sequence[int] = SF_VELOCITIES) -> KitSamples:
    """Render every mapped key of a soundfont drum preset at every velocity with tinysoundfont."""
    try:
        import tinysoundfont
    except ImportError as exc:  # pragma: no cover - dependency problem
        raise ConfigError(
            "tinysoundfont is needed to read SoundFont kits: pip install tinysoundfont"
        ) from exc
    if info.path not in _SYNTHS:  # loading a large sf3 takes seconds: keep one synth per file
        _SYNTHS.clear()
        synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE_HZ, gain=0.0)
        _SYNTHS[info.path] = (synth, synth.sfload(info.path))
    synth, sfid = _SYNTHS[info.path]
    synth.program_select(0, sfid, info.bank, info.preset, True)
    kit = KitSamples(
        info.name, info.family, info.kind, meta={"path": info.path, "bank": info.bank, "preset": info.preset}
    )
    for piece, keys in info.sources.items():
        dur = SF_RENDER_S.get(piece, SF_RENDER_DEFAULT_S)
        n = int(dur * SAMPLE_RATE_HZ)
        seen: list[np.ndarray] = []
        for key in keys:
            for vel in velocities:
                synth.sounds_off()
                synth.generate(4096)  # flush any release tail
                synth.noteon(0, int(key), int(vel))
                buf = np.frombuffer(synth.generate(n), dtype=np.float32).reshape(-1, 2).mean(axis=1)
                synth.noteoff(0, int(key))
                if any(len(s) == len(buf) and np.allclose(s, buf, atol=1e-6) for s in seen):
                    continue  # an identical layer (the preset has fewer layers than we probe)
                seen.append(buf.copy())
                shot = prepare_oneshot(
                    buf, vel, f"{Path(info.path).name}:{info.bank}:{info.preset}:{key}:v{vel}"
                )
                if shot is not None:
                    kit.add(piece, shot)
    return kit


# ----------------------------------------------------------------------------------------- Hydrogen
def _xml_ns(root: ET.Element) -> str:
    m = re.match(r"\{.*\}", root.tag)
    return m.group(0) if m else ""


def _hydrogen_instruments(folder: Path) -> list[tuple[str, list[tuple[str, float, float]]]]:
    """(instrument name, [(sample file, min velocity 0-1, max velocity 0-1), ...]) of a drumkit.xml."""
    xml = folder / "drumkit.xml"
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DatasetLayoutError(f"{xml}: cannot parse Hydrogen drumkit ({exc})") from exc
    ns = _xml_ns(root)
    out = []
    for ins in root.iter(f"{ns}instrument"):
        name = (ins.findtext(f"{ns}name") or "").strip()
        layers = []
        for lay in ins.iter(f"{ns}layer"):
            fn = lay.findtext(f"{ns}filename")
            if fn:
                layers.append(
                    (fn, float(lay.findtext(f"{ns}min") or 0), float(lay.findtext(f"{ns}max") or 1))
                )
        if not layers and ins.findtext(f"{ns}filename"):
            layers.append((ins.findtext(f"{ns}filename") or "", 0.0, 1.0))
        out.append((name, layers))
    return out


def discover_hydrogen_kits(dirs: Sequence[str | Path] | None = None) -> list[KitInfo]:
    kits: list[KitInfo] = []
    for d in HYDROGEN_DIRS if dirs is None else dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for folder in sorted(p for p in d.iterdir() if (p / "drumkit.xml").is_file()):
            table = HYDROGEN_TABLES.get(folder.name)
            if table is None:
                log.info("%s: no hand-checked piece table for this Hydrogen kit; skipped", folder)
                continue
            try:
                instruments = _hydrogen_instruments(folder)
            except DatasetLayoutError as exc:
                log.warning("%s", exc)
                continue
            sources: dict[str, list[str]] = {}
            for name, layers in instruments:
                if name in table and layers:
                    sources.setdefault(table[name], []).append(name)
            if sources:
                kits.append(
                    sampled_kit(
                        f"hydrogen:{folder.name}", "hydrogen", folder, kit_family(folder.name), sources
                    )
                )
    return kits


def extract_hydrogen_kit(info: KitInfo) -> KitSamples:
    folder = Path(info.path)
    by_name = dict(_hydrogen_instruments(folder))
    kit = KitSamples(info.name, info.family, info.kind, meta={"path": info.path})
    for piece, names in info.sources.items():
        for name in names:
            for fn, vmin, vmax in by_name.get(name, []):
                path = folder / fn
                if not path.is_file():
                    log.warning("%s: sample %s of %r is missing; skipped", folder, fn, name)
                    continue
                try:
                    audio = read_sample_file(path)
                except DatasetLayoutError as exc:
                    log.warning("%s", exc)
                    continue
                vel = int(round(np.clip(127 * (vmin + vmax) / 2, 1, 127)))
                shot = prepare_oneshot(audio, vel, f"{folder.name}/{fn}")
                if shot is not None:
                    kit.add(piece, shot)
    return kit


# ----------------------------------------------------------------------------------------- eXaDrums
def _exadrums_sounds(xml: Path) -> tuple[str, list[tuple[str, str, str]]] | None:
    """(kit name, [(instrument name, sound type, sample path), ...]) of an eXaDrums kit file; None for
    the package's other XML files (no ``kitName``)."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DatasetLayoutError(f"{xml}: cannot parse eXaDrums kit ({exc})") from exc
    name = (root.findtext("kitName") or "").strip()
    if not name:
        return None
    sounds = []
    for ins in root.iter("Instrument"):
        ins_name = (ins.findtext("instrumentName") or "").strip()
        for snd in ins.iter("sound"):
            sounds.append((ins_name, snd.get("type", ""), (snd.text or "").strip()))
    return name, sounds


def _exadrums_sample(folder: Path, rel: str) -> Path:
    path = folder / rel
    return path if path.is_file() else folder / Path(rel).name


def discover_exadrums_kits(dirs: Sequence[str | Path] | None = None) -> list[KitInfo]:
    kits: list[KitInfo] = []
    for d in EXADRUMS_DIRS if dirs is None else dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for xml in sorted(d.glob("*.xml")):
            try:
                found = _exadrums_sounds(xml)
            except DatasetLayoutError as exc:
                log.warning("%s", exc)
                continue
            if found is None:
                continue
            kit_name, sounds = found
            sources: dict[str, list[str]] = {}
            for ins_name, sound_type, rel in sounds:
                piece = EXADRUMS_PIECES.get((ins_name, sound_type))
                if piece and rel and _exadrums_sample(d, rel).is_file():
                    sources.setdefault(piece, []).append(rel)
            if sources:
                name = f"exadrums:{kit_name}"
                kits.append(sampled_kit(name, "exadrums", d, kit_family(name), sources))
    return kits


def extract_exadrums_kit(info: KitInfo) -> KitSamples:
    """One sample per sound (eXaDrums kits have one velocity layer), read as a full-range layer."""
    folder = Path(info.path)

    def read(rel: str) -> list[tuple[np.ndarray, int]]:
        return [(read_sample_file(_exadrums_sample(folder, rel)), 64)]

    return extract_sample_files(info, read)


def extract_sample_files(info: KitInfo, read: Any) -> KitSamples:
    """A kit whose ``sources`` name sample files: ``read(file)`` gives [(mono samples at the kit sample
    rate, velocity 1-127), ...]; a file it cannot read (DatasetLayoutError) is logged and skipped."""
    folder = Path(info.path)
    kit = KitSamples(info.name, info.family, info.kind, meta={"path": info.path})
    for piece, files in info.sources.items():
        for fn in files:
            try:
                shots = read(fn)
            except DatasetLayoutError as exc:
                log.warning("%s", exc)
                continue
            for audio, velocity in shots:
                shot = prepare_oneshot(audio, velocity, f"{folder.name}/{fn}")
                if shot is not None:
                    kit.add(piece, shot)
    return kit


# ----------------------------------------------------------------------------------------- GUS patches
def read_gus_patch(path: str | Path) -> list[tuple[np.ndarray, int]]:
    """The waveforms of a Gravis UltraSound ``.pat`` file as (float32 mono samples, sample rate [Hz])."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetLayoutError(f"{path}: cannot read GUS patch ({exc})") from exc
    if not data.startswith(b"GF1PATCH1"):
        raise DatasetLayoutError(f"{path}: not a GUS patch (no GF1PATCH header)")
    n_waves = struct.unpack_from("<H", data, 85)[0]
    off = 239  # file header (129) + instrument header (63) + layer header (47)
    out = []
    for _ in range(n_waves):
        if off + 96 > len(data):
            raise DatasetLayoutError(f"{path}: truncated GUS patch")
        length = struct.unpack_from("<I", data, off + 8)[0]
        rate = struct.unpack_from("<H", data, off + 20)[0]
        modes = data[off + 55]
        raw = data[off + 96 : off + 96 + length]
        if len(raw) < length or rate <= 0:
            raise DatasetLayoutError(f"{path}: truncated or invalid waveform")
        if modes & 1:  # 16 bit
            x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2" if modes & 2 else "<i2").astype(
                np.float32
            )
            x = (x - 32768.0 if modes & 2 else x) / 32768.0
        else:
            x = np.frombuffer(raw, dtype=np.uint8 if modes & 2 else np.int8).astype(np.float32)
            x = (x - 128.0 if modes & 2 else x) / 128.0
        out.append((x, int(rate)))
        off += 96 + length
    return out


def discover_freepats_kits(dirs: Sequence[str | Path] | None = None) -> list[KitInfo]:
    """Drum sets of GUS patches named ``NNN_*.pat`` (NNN = General MIDI key), e.g. freepats' Drum_000."""
    kits = []
    for d in FREEPATS_DIRS if dirs is None else dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for folder in sorted(p for p in d.iterdir() if p.is_dir() and p.name.lower().startswith("drum")):
            sources: dict[str, list[str]] = {}
            for f in sorted(folder.glob("*.pat")):
                m = re.match(r"(\d{3})_", f.name)
                if m and int(m.group(1)) in GM_KEY_PIECES:
                    sources.setdefault(GM_KEY_PIECES[int(m.group(1))], []).append(f.name)
            if sources:
                name = f"freepats:{folder.name}"
                kits.append(sampled_kit(name, "gus", folder, kit_family(name), sources))
    return kits


def extract_gus_kit(info: KitInfo) -> KitSamples:
    import soxr

    folder = Path(info.path)

    def read(fn: str) -> list[tuple[np.ndarray, int]]:
        return [
            (x if rate == SAMPLE_RATE_HZ else soxr.resample(x, rate, SAMPLE_RATE_HZ).astype(np.float32), 100)
            for x, rate in read_gus_patch(folder / fn)
        ]

    return extract_sample_files(info, read)


# ----------------------------------------------------------------------------------------- all kits
def discover_kits(
    soundfont_dirs: Sequence[str | Path] | None = None,
    hydrogen_dirs: Sequence[str | Path] | None = None,
    include: Sequence[str] | None = None,
) -> list[KitInfo]:
    """Every sampled kit installed on this machine (sorted by name); ``include`` keeps kits whose name
    contains one of the given substrings (case-insensitive). Folders default to :data:`SOUNDFONT_DIRS`
    and :data:`HYDROGEN_DIRS`. Raises :class:`ConfigError` when kits exist but none matches ``include``."""
    kits = discover_soundfont_kits(soundfont_dirs) + discover_hydrogen_kits(hydrogen_dirs)
    defaults = soundfont_dirs is None and hydrogen_dirs is None
    kits += discover_freepats_kits(None if defaults else [])
    kits += discover_exadrums_kits(None if defaults else [])
    return filter_kits(sorted(kits, key=lambda k: k.name), include)


def filter_kits(kits: Sequence[KitInfo], include: Sequence[str] | None) -> list[KitInfo]:
    """The ``kits`` whose name contains one of the ``include`` substrings (case-insensitive; all without
    ``include``); a ConfigError when there are kits but none matches."""
    if not include or not kits:
        return list(kits)
    subs = [s.lower() for s in include]
    chosen = [k for k in kits if any(s in k.name.lower() for s in subs)]
    if not chosen:
        raise ConfigError(
            f"--kits {' '.join(include)}: no installed kit matches; installed kits: "
            + ", ".join(k.name for k in sorted(kits, key=lambda k: k.name))
        )
    return chosen


def kits_and_splits(
    include: Sequence[str] | None,
    test_kits: Sequence[str] | None = None,
    validation_kits: Sequence[str] | None = None,
) -> tuple[list[KitInfo], dict[str, list[str]]]:
    """The installed kits ``include`` keeps (all without it) and their splits. The splits are drawn over
    every installed kit, then kept for the chosen ones, so ``--kits`` never moves a held-out kit into
    training."""
    every = discover_kits()
    chosen = filter_kits(every, include)
    splits = assign_splits(every, test_kits, validation_kits) if every else {}
    names = {k.name for k in chosen}
    return chosen, {s: [n for n in splits.get(s, []) if n in names] for s in ("train", "validation", "test")}


def no_kits_message() -> str:
    return (
        "no sampled drum kits found (looked in "
        + ", ".join([*SOUNDFONT_DIRS, *HYDROGEN_DIRS, *FREEPATS_DIRS, *EXADRUMS_DIRS])
        + "). Install them with: sudo apt-get install "
        + " ".join(DEBIAN_PACKAGES)
        + "  (or render procedural kits only with --kits procedural)"
    )


def load_kit(info: KitInfo, cache_dir: str | Path | None = None) -> KitSamples:
    """The sample library of ``info``, extracted once and cached (npz + JSON) in ``cache_dir``."""
    if info.kind == "procedural":
        from .drumsynth import procedural_kit

        return procedural_kit(int(info.preset), name=info.name, family=info.family)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    key = info.cache_key()
    kit = load_kit_samples(cache, key)
    if kit is not None:
        return kit
    log.info("extracting kit %s from %s", info.name, info.path)
    extract = {
        "soundfont": extract_soundfont_kit,
        "hydrogen": extract_hydrogen_kit,
        "gus": extract_gus_kit,
        "exadrums": extract_exadrums_kit,
    }
    kit = extract[info.kind](info)
    kit.meta["classes"] = kit.classes()
    try:
        save_kit_samples(kit, cache, key)
    except OSError as exc:
        log.warning("cannot cache kit %s in %s (%s)", info.name, cache, exc)
    return kit


def assign_splits(
    kits: Sequence[KitInfo],
    test_kits: Sequence[str] | None = None,
    validation_kits: Sequence[str] | None = None,
    test_share: float = 0.15,
    validation_share: float = 0.1,
    salt: str = "drumscribe-kit-split-v1",
    late_families: frozenset[str] = LATE_FAMILIES,
) -> dict[str, list[str]]:
    """Kit names per split; whole families go to one split.

    With ``test_kits`` / ``validation_kits`` (substrings of kit names) the families of the matching kits
    go there. Otherwise families are ordered by a salted SHA-1 of their name (deterministic, independent of
    the render seed) and ``round(share * number of families)`` (at least one) are taken for test, then for
    validation. Families holding more than 20 % of all kits always train, and only families whose kits
    all play kick, snare and hi-hat are held out automatically. ``late_families`` (default
    :data:`LATE_FAMILIES`) train and do not count, so installing them moves no other family.
    """
    families: dict[str, list[KitInfo]] = {}
    for k in kits:
        families.setdefault(k.family, []).append(k)
    split_of: dict[str, str] = {}

    def claim(patterns: Sequence[str] | None, split: str) -> None:
        for pat in patterns or ():
            hits = [k for k in kits if pat.lower() in k.name.lower()]
            if not hits:
                raise ConfigError(f"--{split}-kits: no kit name contains {pat!r}")
            for k in hits:
                prev = split_of.get(k.family)
                if prev is not None and prev != split:
                    raise ConfigError(f"kit family {k.family!r} requested for both {prev} and {split}")
                split_of[k.family] = split

    claim(test_kits, "test")
    claim(validation_kits, "validation")
    counted = {f: members for f, members in families.items() if f not in late_families}
    total = sum(len(members) for members in counted.values())
    if not test_kits and not validation_kits and len(counted) > 2:
        order = sorted(counted, key=lambda f: hashlib.sha1(f"{salt}:{f}".encode()).hexdigest())
        eligible = [
            f
            for f in order
            if len(counted[f]) <= 0.2 * total and all({0, 1, 3} <= set(m.classes()) for m in counted[f])
        ]
        for split, share in (("test", test_share), ("validation", validation_share)):
            want = max(1, int(round(share * len(counted))))
            for fam in [f for f in eligible if f not in split_of][:want]:
                split_of[fam] = split
    for group in SHARED_SAMPLES:  # families that share samples follow the one held out
        held = sorted({split_of[f] for f in group if split_of.get(f, "train") != "train"})
        if len(held) > 1:
            raise ConfigError(
                f"kit families {', '.join(sorted(group))} share samples: give them one split, not {held}"
            )
        if held:
            split_of.update(dict.fromkeys(group, held[0]))
    out: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for k in kits:
        out[split_of.get(k.family, "train")].append(k.name)
    return out


def kit_coverage_table(kits: Sequence[KitInfo]) -> list[dict[str, Any]]:
    """One row per kit: name, kind, family, pieces and the classes it covers (for ``synth kits``)."""
    from ..vocab import CLASS_NAMES

    rows = []
    for k in kits:
        cls = k.classes()
        rows.append(
            {
                "name": k.name,
                "kind": k.kind,
                "family": k.family,
                "pieces": sorted(k.sources),
                "classes": [CLASS_NAMES[c] for c in cls],
                "complete": len(cls) == len(CLASS_NAMES),
            }
        )
    return rows
