"""The dataset render: performances x kits x accompaniment x mixing -> a labelled dataset store.

:func:`render_dataset` plans ``hours`` of ``track_s``-second tracks, splits them into train / validation /
test, and renders each track with :func:`render_track` in parallel processes (or as Ray tasks when a
cluster address is given). Every track draws its randomness from generators seeded with
``(seed, track index, stream)``, so a track's audio and labels depend only on the seed, its index and the
installed kits, never on the worker that rendered it or on the order. Tracks already in the store are
skipped, so an interrupted render resumes where it stopped.

Kits are assigned to splits as whole families (:func:`drumscribe.synth.kits.assign_splits`); procedural
kits are drawn from per-split seed pools, so no kit is shared across splits. The manifest records for
every track its kit, the kits that donated pieces, the sample variants, the performance source, tempo
change, piece swaps, the accompaniment and every mix setting.
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import ConfigError, DrumscribeError
from ..vocab import CLASS_NAMES, NUM_CLASSES
from .kits import KitInfo, assign_splits, kits_and_splits, load_kit, no_kits_message
from .performance import Performance, beat_grid
from .pieces import PIECE_CLASS, PIECES
from .samples import SAMPLE_RATE_HZ, KitSamples, OneShot, eq_tilt, layer, pitch_shift, shape_decay
from .stems import Stem, add_stem, find_stems
from .strums import StrumSample, add_strums

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "validation", "test")
#: procedural kits available per split (their seeds differ per split, so the pools are disjoint)
PROCEDURAL_POOL = 500
#: which pieces may stand in for a piece the kit lacks (same class, similar sound), in order
PIECE_FALLBACKS: dict[str, tuple[str, ...]] = {
    "kick": (),
    "snare": ("snare_rimshot",),
    "snare_rimshot": ("snare",),
    "side_stick": ("snare_rimshot",),
    "clap": ("snare",),
    "tom_high": ("tom_mid", "tom_low", "tom_floor"),
    "tom_mid": ("tom_high", "tom_low", "tom_floor"),
    "tom_low": ("tom_mid", "tom_floor", "tom_high"),
    "tom_floor": ("tom_low", "tom_mid", "tom_high"),
    "hihat_closed": ("hihat_pedal",),
    "hihat_pedal": ("hihat_closed",),
    "hihat_open": (),
    "tambourine": (),
    "ride": ("ride_bell",),
    "ride_bell": ("ride",),
    "crash": ("splash", "china"),
    "china": ("crash",),
    "splash": ("crash",),
    "cowbell": (),
}
BUS_OF_CLASS = {0: "kick", 1: "snare", 2: "toms", 3: "hihat", 4: "cymbals", None: "other"}
#: piece swaps applied to a span of a track (whole track or a section) for variety, by name; the draw
#: weights are ``SynthConfig.swap_weights`` (1 each unless set)
SWAP_MENU: dict[str, dict[str, str]] = {
    "hihat_to_ride": {"hihat_closed": "ride", "hihat_open": "ride"},
    "closed_hihat_to_ride": {"hihat_closed": "ride"},
    "ride_to_hihat": {"ride": "hihat_closed", "ride_bell": "hihat_open"},
    "hihat_opened": {"hihat_closed": "hihat_open"},
    "side_stick": {"snare": "side_stick"},
    "rimshot": {"snare": "snare_rimshot"},
    "crash_to_china": {"crash": "china"},
    "crash_to_splash": {"crash": "splash"},
    "hihat_to_tambourine": {"hihat_closed": "tambourine"},
    "ride_to_crash": {"ride": "crash"},
    "toms_flipped": {"tom_high": "tom_floor", "tom_floor": "tom_high"},
    "toms_rotated": {"tom_mid": "tom_low", "tom_low": "tom_mid", "tom_high": "tom_floor"},
    # time kept on a crash (punk, loud choruses): a wash of re-struck crashes, labelled cymbals
    "ride_the_crash": {"hihat_closed": "crash", "hihat_open": "crash", "ride": "crash"},
    # time kept on the floor tom (grunge, surf, tribal grooves), often in unison with the kick
    "floor_tom_groove": {"hihat_closed": "tom_floor", "hihat_open": "tom_floor", "ride": "tom_floor"},
}
#: the menu of the engine before ``ride_the_crash`` and ``floor_tom_groove`` (renders 1-13 of the default model)
CLASSIC_SWAP_WEIGHTS = {"ride_the_crash": 0.0, "floor_tom_groove": 0.0}


@dataclass
class SynthConfig:
    """Settings of a render (CLI defaults come from here)."""

    hours: float = 1.0
    seed: int = 0
    track_s: float = 30.0
    workers: int = 1
    gmd: str | None = None
    drums_only_share: float = 0.2
    #: share of the tracks with accompaniment in which the drummer rests for a span (the whole track in a
    #: third of them, else an intro, break or outro of 25-75 % of it) while the band plays on: examples
    #: of the band's attacks with no drum hit at all
    band_only_share: float = 0.0
    kits: list[str] | None = None  # substrings of kit names; "procedural" alone renders procedural kits only
    test_kits: list[str] | None = None
    validation_kits: list[str] | None = None
    validation_share: float = 0.1
    test_share: float = 0.1
    procedural_share: float = 0.25
    gmd_share: float = 0.6
    #: play only these styles (generator styles and/or GMD top-level styles; None: all)
    styles: list[str] | None = None
    tempo_change: float = 0.15  # max relative time stretch of performances (0.15: x0.87..x1.15)
    swap_prob: float = 0.4
    #: relative draw weights of the :data:`SWAP_MENU` entries by name (unlisted: 1; 0 switches one off)
    swap_weights: dict[str, float] | None = None
    variant_prob: float = 0.7
    donor_prob: float = 0.2
    layer_prob: float = 0.15
    extra_percussion_prob: float = 0.15
    #: share of the tracks in which a tom is struck in unison with the kick and/or snare over one span (the
    #: floor tom doubling the backbeat, quarter-note stabs of kick, snare and tom): toms under louder hits.
    #: At 0 nothing is drawn, so earlier renders keep their draws
    unison_prob: float = 0.0
    #: share of the tracks in which, over one span, the hand that keeps time leaves the hi-hat or ride for a
    #: crash (or china) struck with every accented kick and snare: the punk and hardcore "crash on every beat",
    #: where the cymbal never stops ringing and each stroke sits on a louder drum (:func:`add_crash_beat`).
    #: At 0 nothing is drawn, so earlier renders keep their draws
    crash_beat_prob: float = 0.0
    #: share of the tracks in which a crash-type cymbal struck again while it still rings "blooms": above a
    #: split frequency the new stroke's sound swells in over tens of ms instead of starting at once, as the
    #: plate's high modes build up, so a ridden crash adds little to its own wash at the onset (see
    #: :func:`draw_bloom`). At 0 nothing is drawn, so earlier renders keep their draws
    crash_bloom_prob: float = 0.0
    #: share of the tracks mixed with loud cymbals over dark drums (:func:`draw_loud_wash`): the kick, snare and
    #: tom buses low-passed at 2.5-5 kHz and the cymbals bus 3-9 dB up, as in punk and garage mixes where the
    #: overheads' wash of a ridden crash covers every other hit's highs, so a re-struck crash adds almost
    #: nothing at the top of the spectrum. At 0 nothing is drawn, so earlier renders keep their draws
    loud_wash_prob: float = 0.0
    #: share of the tracks with dark cymbals (:func:`draw_dark_cymbals`): the cymbals bus (and in half of them
    #: the hi-hat bus) low-passed at 3.5-7 kHz with a resonant lift at 2-4 kHz, as dark, trashy crashes
    #: under dull overheads sound, their wash sitting at 2-5 kHz instead of spreading to the top. At 0
    #: nothing is drawn, so earlier renders keep their draws
    dark_cymbals_prob: float = 0.0
    #: share of the tracks with accompaniment whose bass line does not follow the kick (root eighths or
    #: quarters, octaves, walking: :data:`~drumscribe.synth.accompaniment.FREE_BASS_MODES`): low note starts
    #: with no kick under them, which real bands play and kick-locked bass lines never give. At 0 nothing is
    #: drawn, so earlier renders keep their draws
    free_bass_prob: float = 0.0
    #: share of the tracks with accompaniment whose bass is lifted by a low shelf (:func:`draw_loud_bass`):
    #: its note starts then carry as much 30-90 Hz energy as a kick drum, or more, as real basses do in rock
    #: mixes, so a low note start alone must not read as a kick. At 0 nothing is drawn, so earlier renders
    #: keep their draws
    loud_bass_prob: float = 0.0
    #: share of the tracks whose toms are retuned into a real kit's order (:func:`tune_toms`): high above mid
    #: above low above floor, 2-5 semitones apart. Toms drawn from different kits, fallbacks and pitch variants
    #: otherwise come in any order, and two toms may share one sample. At 0 nothing is drawn, so earlier renders
    #: keep their draws
    tuned_toms_prob: float = 0.0
    #: share of the tracks in which the drummer leaves strokes out of the groove at random
    #: (:func:`draw_hit_dropout`): in each of 1-5 drawn classes, 10-50 % of the strokes are neither played nor
    #: labelled, so the pattern no longer tells where the next stroke is and the model has to hear it. At 0
    #: nothing is drawn, so earlier renders keep their draws
    hit_dropout_prob: float = 0.0
    #: share of the tracks with a band that also get a strummed acoustic guitar from real recordings, along
    #: the band's chords on the beat grid, unlabelled (:mod:`drumscribe.synth.strums`; needs Debian's
    #: hydrogen-drumkits-effects). At 0 nothing is drawn, so earlier renders keep their draws
    strums_share: float = 0.0
    #: kit pieces that are played and heard but not labelled (their hits become negatives), for an annotation
    #: convention: ``["hihat_pedal"]`` leaves the foot's hi-hat chicks out of the hi-hat class, as real
    #: annotations mostly do. Their times stay in each track's ``hits``
    unlabelled_pieces: list[str] | None = None
    max_shots_per_piece: int = 8
    accompaniment: bool = True
    #: files or folders of real recordings without drums (guitars, bass, vocals, ...) mixed into the band
    #: of a share ``stems_share`` of the tracks with accompaniment (:mod:`drumscribe.synth.stems`)
    stems: list[str] | None = None
    stems_share: float = 0.5
    #: stems played up to this much faster or slower (0.1: x0.9..x1.1, pitch and tempo together; 0: as recorded)
    stems_varispeed: float = 0.0
    degrade: float = 1.0  # scales EQ and degradation strength (0 = clean)
    save_audio: bool = False
    address: str | None = None
    cache_dir: str | None = None
    name: str = "synth"

    def __post_init__(self) -> None:
        for name in ("kits", "test_kits", "validation_kits", "styles", "stems", "unlabelled_pieces"):
            value = getattr(self, name)
            if isinstance(value, str):  # one name given alone (--set styles=rock), not its letters
                setattr(self, name, [value])
            elif value is not None and not (
                isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
            ):
                raise ConfigError(f"{name} must be a list of names, got {value!r}")
        if not (self.hours > 0 and math.isfinite(self.hours)):
            raise ConfigError(f"hours must be a finite number > 0, got {self.hours!r}")
        if not (self.track_s >= 2 and math.isfinite(self.track_s)):
            raise ConfigError(f"track_s must be a finite number >= 2 s, got {self.track_s!r}")
        if self.max_shots_per_piece < 1:
            raise ConfigError(f"max_shots_per_piece must be >= 1, got {self.max_shots_per_piece!r}")
        if not 0 <= self.tempo_change < 1:
            raise ConfigError(f"tempo_change must lie in [0, 1), got {self.tempo_change!r}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers!r}")
        for name in (
            "drums_only_share",
            "band_only_share",
            "procedural_share",
            "gmd_share",
            "validation_share",
            "test_share",
            "stems_share",
            "unison_prob",
            "crash_beat_prob",
            "crash_bloom_prob",
            "loud_wash_prob",
            "dark_cymbals_prob",
            "free_bass_prob",
            "loud_bass_prob",
            "tuned_toms_prob",
            "hit_dropout_prob",
            "strums_share",
            "swap_prob",
            "variant_prob",
            "donor_prob",
            "layer_prob",
            "extra_percussion_prob",
            "degrade",
        ):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ConfigError(f"{name} must lie in [0, 1], got {v!r}")
        if not 0 <= self.stems_varispeed < 0.5:
            raise ConfigError(f"stems_varispeed must lie in [0, 0.5), got {self.stems_varispeed!r}")
        unknown = sorted(set(self.unlabelled_pieces or ()) - set(PIECES))
        if unknown:
            raise ConfigError(f"unlabelled_pieces: unknown kit pieces {unknown}; known: {', '.join(PIECES)}")
        if self.validation_share + self.test_share >= 1:
            raise ConfigError("validation_share + test_share must be < 1")
        self.swap_draw()  # checks swap_weights

    def swap_draw(self) -> tuple[list[str], np.ndarray | None]:
        """The swap names that can be drawn and their probabilities (None: uniform)."""
        if not isinstance(self.swap_weights or {}, dict):
            raise ConfigError(f"swap_weights must map swap names to weights, got {self.swap_weights!r}")
        weights = dict(self.swap_weights or {})
        unknown = sorted(set(weights) - set(SWAP_MENU))
        if unknown:
            raise ConfigError(f"swap_weights: unknown swaps {unknown}; known: {', '.join(SWAP_MENU)}")
        for name, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ConfigError(f"swap_weights: {name} must be a finite weight >= 0, got {w!r}")
        names = [n for n in SWAP_MENU if weights.get(n, 1.0) > 0]
        if not names:
            raise ConfigError("swap_weights: every swap has weight 0 (use swap_prob=0 to switch swaps off)")
        w = np.array([float(weights.get(n, 1.0)) for n in names])
        return names, None if np.all(w == w[0]) else w / w.sum()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynthConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def n_tracks(self) -> int:
        return max(1, int(math.ceil(self.hours * 3600.0 / self.track_s)))


def track_id(index: int) -> str:
    return f"synth-{index:06d}"


#: tracks are split in blocks of this many consecutive indices
SPLIT_BLOCK = 20


def track_split(seed: int, index: int, validation_share: float, test_share: float) -> str:
    """The split of track ``index``.

    Indices are grouped in blocks of :data:`SPLIT_BLOCK`; inside a block a seeded permutation gives
    ``round(test_share * block)`` tracks to test and ``round(validation_share * block)`` to validation, so
    every complete block has exact shares, and adding hours never moves an existing track.
    """
    block, pos = divmod(index, SPLIT_BLOCK)
    rank = int(np.random.default_rng([seed, block, 99]).permutation(SPLIT_BLOCK)[pos])
    n_test = int(round(test_share * SPLIT_BLOCK))
    n_val = int(round(validation_share * SPLIT_BLOCK))
    if rank < n_test:
        return "test"
    if rank < n_test + n_val:
        return "validation"
    return "train"


# ------------------------------------------------------------------------------------------ context
class RenderContext:
    """What every worker needs: kit lists per split, a small cache of loaded kits, groove libraries."""

    def __init__(self, config: SynthConfig, kit_infos: Sequence[KitInfo], kit_splits: dict[str, list[str]]):
        self.config = config
        self.infos = {k.name: k for k in kit_infos}
        self.kit_splits = kit_splits
        self._kits: OrderedDict[str, KitSamples] = OrderedDict()
        self._grooves: dict[str, Any] = {}
        self._soundfonts: list[Path] | None = None
        self._stems: list[Stem] | None = None
        self._strums: list[StrumSample] | None = None

    def kit(self, name: str) -> KitSamples:
        if name in self._kits:
            self._kits.move_to_end(name)
            return self._kits[name]
        if name.startswith("procedural-"):
            split, k = name.split("-")[1], int(name.split("-")[2])
            from .drumsynth import procedural_kit

            kit = procedural_kit([SPLIT_NAMES.index(split), k, 7], name=name, family=name, lazy=True)
        else:
            kit = load_kit(self.infos[name], self.config.cache_dir)
        self._kits[name] = kit
        while len(self._kits) > 12:
            self._kits.popitem(last=False)
        return kit

    def grooves(self, split: str) -> Any | None:
        if not self.config.gmd:
            return None
        if split not in self._grooves:
            from .gmd import GrooveLibrary

            try:
                self._grooves[split] = GrooveLibrary(self.config.gmd, split=split)
            except DrumscribeError as exc:
                log.warning("GMD split %s unusable (%s); using all GMD files", split, exc)
                self._grooves[split] = GrooveLibrary(self.config.gmd)
        return self._grooves[split]

    def soundfonts(self) -> list[Path]:
        if self._soundfonts is None:
            try:
                from .accompaniment import find_gm_soundfonts

                self._soundfonts = list(find_gm_soundfonts())
            except ImportError:
                self._soundfonts = []
        return self._soundfonts

    def stems(self) -> list[Stem]:
        """The readable stem files of ``config.stems`` (none when unset)."""
        if self._stems is None:
            self._stems = find_stems(self.config.stems) if self.config.stems else []
        return self._stems

    def strum_samples(self) -> list[StrumSample]:
        """The strum recordings (:mod:`drumscribe.synth.strums`); ConfigError when none is installed."""
        if self._strums is None:
            from .strums import require_strum_samples, split_takes

            self._strums = split_takes(require_strum_samples())[0]  # the held-out take is never played
        return self._strums


def sampled_kits_for(ctx: RenderContext, split: str) -> list[str]:
    return list(ctx.kit_splits.get(split, []))


def draw_sampled_kit(ctx: RenderContext, split: str, rng: np.random.Generator) -> str | None:
    """A sampled kit of ``split``: a family first (weighted by the share of the 5 classes its kits play,
    squared, so incomplete kits rarely lead), then a kit of that family. Drawing families, not kits, keeps
    a soundfont with 30 near-identical presets from dominating the handful of real acoustic kits."""
    pool = sampled_kits_for(ctx, split)
    if not pool:
        return None
    families: dict[str, list[str]] = {}
    for name in pool:
        info = ctx.infos.get(name)
        families.setdefault(info.family if info else name, []).append(name)
    fams = sorted(families)
    weights = np.array(
        [
            np.mean(
                [
                    (len(ctx.infos[n].classes()) / NUM_CLASSES) ** 2 if n in ctx.infos else 1.0
                    for n in families[f]
                ]
            )
            for f in fams
        ]
    )
    fam = fams[int(rng.choice(len(fams), p=weights / weights.sum()))]
    members = families[fam]
    return members[int(rng.integers(len(members)))]


# ------------------------------------------------------------------------------------------ performance
def fallback_performance(rng: np.random.Generator, duration_s: float) -> Performance:
    """A plain generated groove (used only when the groove generator module is unavailable)."""
    bpm = float(rng.uniform(70, 180))
    beats, downs = beat_grid(duration_s, bpm)
    eighth = 30.0 / bpm
    times, pieces, vels = [], [], []
    hat = str(rng.choice(["hihat_closed", "ride"]))
    for b in beats:
        for k in range(2):
            times.append(b + k * eighth)
            pieces.append(hat)
            vels.append(int(rng.integers(60, 110)))
    for i, b in enumerate(beats):
        pieces.append("kick" if i % 2 == 0 else "snare")
        times.append(b)
        vels.append(int(rng.integers(80, 127)))
    for d in downs[::4]:
        times.append(d)
        pieces.append("crash")
        vels.append(int(rng.integers(90, 127)))
    t = np.asarray(times) + rng.normal(0, 0.005, len(times))
    keep = (t >= 0) & (t < duration_s)
    return Performance(
        times_s=t[keep],
        pieces=[p for p, k in zip(pieces, keep) if k],
        velocities=np.asarray(vels)[keep],
        duration_s=duration_s,
        tempo_bpm=bpm,
        beats_s=beats,
        downbeats_s=downs,
        meta={"source": "fallback", "style": "basic"},
    )


def make_performance(ctx: RenderContext, split: str, rng: np.random.Generator) -> Performance:
    """A human (GMD) or generated performance, time-stretched, swapped and cropped to ``track_s``."""
    cfg = ctx.config
    stretch = 1.0
    if cfg.tempo_change > 0:
        stretch = float(np.exp(rng.uniform(-np.log1p(cfg.tempo_change), np.log1p(cfg.tempo_change))))
    need = cfg.track_s / stretch + 0.5
    lib = ctx.grooves(split)
    # the style is drawn only when restricted, so renders without --styles keep their random draws
    style = str(rng.choice(cfg.styles)) if cfg.styles else None
    generator_style = None
    use_gmd = lib is not None and rng.random() < cfg.gmd_share
    if style is not None:
        from .grooves import STYLES

        # a style only GMD plays comes from GMD; one GMD lacks (in this split) from the generator
        use_gmd = lib is not None and style in lib.styles and (use_gmd or style not in STYLES)
        generator_style = style if style in STYLES else None
    if use_gmd:
        perf = lib.sample(rng, need, style=style)
    else:
        try:
            from .grooves import generate_performance
        except ImportError:
            perf = fallback_performance(rng, need)
        else:
            perf = generate_performance(rng, need, style=generator_style)
    if abs(stretch - 1.0) > 1e-6:
        perf = perf.time_stretch(stretch)
    if rng.random() < cfg.swap_prob:
        perf = swap_span(perf, draw_swap(cfg, rng), rng)
    if rng.random() < cfg.extra_percussion_prob and "tambourine" not in perf.pieces:
        perf = add_percussion(perf, rng)  # GMD has no tambourine; the generator plays one in some styles
    if cfg.unison_prob > 0 and rng.random() < cfg.unison_prob:
        perf = add_unison(perf, rng)
    if cfg.crash_beat_prob > 0 and rng.random() < cfg.crash_beat_prob:
        perf = add_crash_beat(perf, rng)
    return perf.crop(0.0, cfg.track_s) if perf.duration_s > cfg.track_s else perf


def draw_swap(cfg: SynthConfig, rng: np.random.Generator) -> str:
    """The name of a :data:`SWAP_MENU` entry drawn with ``cfg.swap_weights``.

    Equal weights draw with ``rng.integers``, as the engine did before the menu had weights, so the classic
    menu (:data:`CLASSIC_SWAP_WEIGHTS`) reproduces earlier renders draw for draw.
    """
    names, p = cfg.swap_draw()
    return names[int(rng.integers(len(names)))] if p is None else names[int(rng.choice(len(names), p=p))]


def swap_span(perf: Performance, name: str, rng: np.random.Generator) -> Performance:
    """Apply the :data:`SWAP_MENU` swap ``name`` to the whole track (half the time) or to one random span."""
    if rng.random() < 0.5 or perf.duration_s <= 4:
        return perf.swap_pieces(SWAP_MENU[name], name=name)
    return perf.swap_pieces(SWAP_MENU[name], span_s=draw_span(perf.duration_s, rng), name=name)


def draw_span(duration_s: float, rng: np.random.Generator) -> tuple[float, float]:
    """A span of a track for a swap or unison part: it starts in the first 60 % and lasts at least 4 s
    (or to the end; a track shorter than 4 s: its length)."""
    a = float(rng.uniform(0, duration_s * 0.6))
    return a, float(min(duration_s, a + rng.uniform(min(4.0, duration_s), duration_s)))


def add_percussion(perf: Performance, rng: np.random.Generator) -> Performance:
    """Overdub a tambourine (or cowbell) part on beats or off-beats over one span."""
    if len(perf.beats_s) < 2:
        return perf
    piece = "tambourine" if rng.random() < 0.8 else "cowbell"
    beats = perf.beats_s
    period = float(np.median(np.diff(beats)))
    mode = rng.choice(["beats", "backbeats", "eighths", "offbeats"], p=[0.3, 0.25, 0.2, 0.25])
    if mode == "beats":
        t = beats
    elif mode == "backbeats":
        t = beats[1::2]
    elif mode == "eighths":
        t = np.sort(np.concatenate([beats, beats + period / 2]))
    else:
        t = beats + period / 2
    a = float(rng.uniform(0, perf.duration_s * 0.5))
    b = float(min(perf.duration_s, a + rng.uniform(perf.duration_s * 0.3, perf.duration_s)))
    t = t[(t >= a) & (t < b)]
    t = t + rng.normal(0, 0.006, len(t))
    t = t[(t >= 0) & (t < perf.duration_s)]
    v = np.clip(rng.normal(85, 15, len(t)), 30, 127).astype(int)
    overdub = {"piece": piece, "mode": str(mode), "span_s": [a, b], "hits": len(t)}
    return perf.with_hits(t, [piece] * len(t), v, overdub=overdub)


#: how :func:`add_unison` places the tom: on the kicks, on the snares, on both, or as quarter-note stabs
#: (kick, snare and tom together on every beat)
UNISON_MODES = ("kick", "snare", "kick_snare", "stabs")
#: at most one doubling tom per this many seconds (no floor tom on every stroke of a fast double bass)
UNISON_MIN_GAP_S = 0.12


def spaced(times_s: np.ndarray, min_gap_s: float) -> np.ndarray:
    """Which of the sorted ``times_s`` to keep, first come first kept, so that none follows the last kept one
    by less than ``min_gap_s`` (one limb cannot double every stroke of a fast roll)."""
    keep = np.ones(len(times_s), bool)
    last = -np.inf
    for i, t in enumerate(times_s):
        keep[i] = t - last >= min_gap_s
        last = t if keep[i] else last
    return keep


def add_unison(perf: Performance, rng: np.random.Generator) -> Performance:
    """Strike a tom (mostly the floor tom) in unison with the kick and/or snare over one span.

    Drummers double the backbeat or the kick on the floor tom and end phrases with stabs of kick, snare and
    tom together; the tom then sits under two louder drums, a case the grooves alone rarely give. Each added
    stroke follows its partner by a few ms (two limbs never land at once) at a similar velocity.
    """
    mode = str(rng.choice(UNISON_MODES, p=[0.25, 0.3, 0.2, 0.25]))
    tom = str(rng.choice(["tom_floor", "tom_low", "tom_mid"], p=[0.65, 0.25, 0.1]))
    a, b = draw_span(perf.duration_s, rng)
    pieces = np.asarray(perf.pieces)
    add_t: list[np.ndarray] = [np.zeros(0)]
    add_p: list[str] = []
    add_v: list[np.ndarray] = [np.zeros(0)]
    if mode == "stabs":
        beats = perf.beats_s[(perf.beats_s >= a) & (perf.beats_s < b)]
        v = np.clip(rng.normal(110, 10, len(beats)), 70, 127)
        for piece in ("kick", "snare", tom):
            own = perf.times_s[pieces == piece]
            # a kick or snare the groove already plays on the beat stays as it is
            free = np.array([own.size == 0 or np.min(np.abs(own - x)) > 0.03 for x in beats], bool)
            add_t.append(beats[free] + rng.normal(0, 0.004, int(free.sum())))
            add_p += [piece] * int(free.sum())
            add_v.append(v[free] * rng.uniform(0.85, 1.0, int(free.sum())))
    else:
        partners = {"kick": ("kick",), "snare": ("snare",), "kick_snare": ("kick", "snare")}[mode]
        # accented strokes only: ghost notes are not doubled
        sel = np.isin(pieces, partners) & (perf.velocities >= 60) & (perf.times_s >= a) & (perf.times_s < b)
        t, v = perf.times_s[sel], perf.velocities[sel].astype(float)
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        keep = spaced(t, UNISON_MIN_GAP_S)  # one tom per stroke, none closer than that to the last
        t, v = t[keep], v[keep]
        add_t.append(t + np.abs(rng.normal(0, 0.004, len(t))))
        add_p += [tom] * len(t)
        add_v.append(v * rng.uniform(0.8, 1.1, len(t)))
    t, v = np.concatenate(add_t), np.concatenate(add_v)
    ok = (t >= 0) & (t < perf.duration_s)
    t, v = t[ok], v[ok]
    add_p = [p for p, k in zip(add_p, ok) if k]
    unison = {"mode": mode, "tom": tom, "span_s": [a, b], "hits": int(len(t))}
    return perf.with_hits(t, add_p, v, unison=unison)


#: the pieces a drummer's hand keeps time on; in a crash-beat span (:func:`add_crash_beat`) that hand is on a crash
TIME_KEEPERS = ("hihat_closed", "hihat_open", "ride", "ride_bell")


def add_crash_beat(perf: Performance, rng: np.random.Generator) -> Performance:
    """Over one span, a crash (or china) struck with every accented kick and snare instead of the hi-hat or ride.

    Punk and hardcore drummers keep time on a crash that never stops ringing, each stroke doubling the kick or
    the snare, so every crash onset sits under a louder drum and adds little to a wash already there (the case
    of MusicDelta_Punk). The time-keeping hand's hi-hat and ride strokes in the span are removed (the foot's
    hi-hat stays); each crash follows its partner by a few ms at a loud velocity, at most one per
    :data:`UNISON_MIN_GAP_S`.
    """
    piece = "crash" if rng.random() < 0.85 else "china"
    a, b = draw_span(perf.duration_s, rng)
    pieces = np.asarray(perf.pieces)
    inside = (perf.times_s >= a) & (perf.times_s < b)
    sel = np.isin(pieces, ("kick", "snare")) & (perf.velocities >= 60) & inside
    t = np.unique(np.round(perf.times_s[sel], 3))  # a kick and snare struck together take one crash
    t = t[spaced(t, UNISON_MIN_GAP_S)]
    t = t + np.abs(rng.normal(0, 0.004, len(t)))
    t = t[t < perf.duration_s]
    v = np.clip(rng.normal(112, 8, len(t)), 85, 127)
    hand = inside & np.isin(pieces, TIME_KEEPERS)
    record = {"piece": piece, "span_s": [a, b], "hits": int(len(t)), "removed": int(hand.sum())}
    return perf.select(~hand).with_hits(t, [piece] * len(t), v, crash_beat=record)


# ------------------------------------------------------------------------------------------ kit realisation
@dataclass
class TrackKit:
    """The sounds of one track: one-shot lists per piece, and where each piece came from."""

    pieces: dict[str, list[OneShot]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)

    def choose(self, piece: str, velocity: int, rng: np.random.Generator) -> OneShot:
        return KitSamples("track", "track", "track", {piece: self.pieces[piece]}).choose(piece, velocity, rng)


def _variant(
    shots: list[OneShot], piece: str, rng: np.random.Generator
) -> tuple[list[OneShot], dict[str, float]]:
    cls = PIECE_CLASS[piece]
    max_st = 2.0 if cls in (3, 4) else 3.0
    params: dict[str, float] = {"pitch_st": float(rng.uniform(-max_st, max_st))}
    if rng.random() < 0.5:
        params["tilt_db"] = float(rng.uniform(-6, 6))
    if rng.random() < 0.3:
        base = {0: 0.25, 1: 0.15, 2: 0.35, 3: 0.3, 4: 1.2}.get(cls, 0.3)
        params["decay_s"] = float(base * rng.uniform(0.3, 1.5))
    out = []
    for s in shots:
        y = pitch_shift(s, params["pitch_st"])
        if "tilt_db" in params:
            y = eq_tilt(y, params["tilt_db"])
        if "decay_s" in params:
            y = shape_decay(y, params["decay_s"])
        out.append(y)
    return out, params


def _soft_layer(shot: OneShot, rng: np.random.Generator) -> OneShot:
    """A darker, quieter copy of a single-layer sample, used for soft hits (real drums get duller when
    played softly)."""
    from scipy.signal import butter, sosfilt

    cutoff = float(rng.uniform(2500, 6000))
    y = sosfilt(butter(1, cutoff, btype="low", fs=SAMPLE_RATE_HZ, output="sos"), shot.audio).astype(
        np.float32
    )
    y *= 0.5 * float(np.abs(shot.audio).max()) / (float(np.abs(y).max()) + 1e-9)
    return OneShot(y, max(1, int(round(shot.velocity * 0.45))), shot.onset_s, shot.source + "|soft")


def realise_kit(
    ctx: RenderContext, split: str, main: KitSamples, needed: Sequence[str], rng: np.random.Generator
) -> TrackKit:
    """Pick, per needed piece, the one-shots of this track: the main kit's (or a fallback piece), a donor
    kit of the same split for missing pieces (and sometimes by choice), then variants and layering."""
    cfg = ctx.config
    pool = sampled_kits_for(ctx, split)
    track = TrackKit()

    def donor_kit() -> KitSamples:
        if pool and rng.random() < 0.7:
            return ctx.kit(str(draw_sampled_kit(ctx, split, rng)))
        return ctx.kit(f"procedural-{split}-{int(rng.integers(PROCEDURAL_POOL))}")

    for piece in needed:
        source_kit, source_piece = main, None
        for cand in (piece, *PIECE_FALLBACKS.get(piece, ())):
            if cand in main.pieces:
                source_piece = cand
                break
        donated = source_piece is None or rng.random() < cfg.donor_prob
        if donated:
            for _ in range(4):
                d = donor_kit()
                cand = next((c for c in (piece, *PIECE_FALLBACKS.get(piece, ())) if c in d.pieces), None)
                if cand is not None:
                    source_kit, source_piece = d, cand
                    break
        if source_piece is None:
            d = ctx.kit(f"procedural-{split}-{int(rng.integers(PROCEDURAL_POOL))}")
            source_kit, source_piece = d, piece
        shots = list(source_kit.pieces[source_piece])
        if len(shots) > cfg.max_shots_per_piece:
            idx = np.sort(rng.choice(len(shots), cfg.max_shots_per_piece, replace=False))
            shots = [shots[i] for i in idx]
        prov: dict[str, Any] = {"kit": source_kit.name, "piece": source_piece}
        if rng.random() < cfg.variant_prob:
            shots, params = _variant(shots, piece, rng)
            prov["variant"] = params
        if rng.random() < cfg.layer_prob:
            other = donor_kit()
            cand = next((c for c in (piece, *PIECE_FALLBACKS.get(piece, ())) if c in other.pieces), None)
            if cand is not None:
                mix = float(rng.uniform(0.2, 0.5))
                partner = other.pieces[cand]
                shots = [layer(s, partner[int(rng.integers(len(partner)))], mix) for s in shots]
                prov["layer"] = {"kit": other.name, "piece": cand, "mix": mix}
        if len({s.velocity for s in shots}) == 1 and rng.random() < 0.8:
            shots = shots + [_soft_layer(s, rng) for s in shots]
            prov["soft_layer"] = True
        # one level per piece: loudest layer at peak 1 (velocity dynamics come from gains and layers)
        peak = max(float(np.abs(s.audio).max()) for s in shots) + 1e-9
        track.pieces[piece] = [
            OneShot((s.audio / peak).astype(np.float32), s.velocity, s.onset_s, s.source) for s in shots
        ]
        track.provenance[piece] = prov
    return track


#: the toms from the highest to the lowest, as a kit is tuned
TOM_ORDER = ("tom_high", "tom_mid", "tom_low", "tom_floor")
#: range of a tom's fundamental [Hz] searched by :func:`tom_pitch_hz`
TOM_PITCH_RANGE_HZ = (40.0, 500.0)


def band_peak_hz(
    segment: np.ndarray,
    sample_rate_hz: float,
    band_hz: tuple[float, float],
    fft_size: int = 1 << 15,
    before: np.ndarray | None = None,
) -> float:
    """Frequency [Hz] of the strongest peak within ``band_hz`` of ``segment``'s Hann-windowed power spectrum;
    with ``before`` (a segment of the same length, what was sounding already), of what the segment adds: its
    power less ``before``'s, floored at 0."""
    window = np.hanning(len(segment))
    power = np.abs(np.fft.rfft(segment * window, fft_size)) ** 2
    if before is not None:
        power = np.maximum(power - np.abs(np.fft.rfft(before * window, fft_size)) ** 2, 0.0)
    freqs = np.fft.rfftfreq(fft_size, 1.0 / sample_rate_hz)
    band = (freqs >= band_hz[0]) & (freqs <= band_hz[1])
    return float(freqs[band][np.argmax(power[band])])


def tom_pitch_hz(shots: Sequence[OneShot]) -> float:
    """A tom's pitch: the strongest spectral peak in :data:`TOM_PITCH_RANGE_HZ` of its loudest one-shot, over
    10-160 ms after the onset (past the stick)."""
    shot = max(shots, key=lambda s: float(np.abs(s.audio).max()))
    a = int(round((shot.onset_s + 0.01) * SAMPLE_RATE_HZ))
    seg = shot.audio[a : a + int(0.15 * SAMPLE_RATE_HZ)].astype(np.float64)
    if len(seg) < 64:
        seg = shot.audio.astype(np.float64)
    return band_peak_hz(seg, SAMPLE_RATE_HZ, TOM_PITCH_RANGE_HZ)


def draw_tom_tuning(rng: np.random.Generator) -> dict[str, float]:
    """One track's tom tuning (``SynthConfig.tuned_toms_prob``): the smallest interval [semitones] between
    neighbouring toms."""
    return {"interval_st": round(float(rng.uniform(2.0, 5.0)), 2)}


def tune_toms(kit: TrackKit, tuning: dict[str, float]) -> TrackKit:
    """``kit`` with its toms in :data:`TOM_ORDER`: the track's tom sounds are handed out by pitch (the lowest
    to the lowest tom), then, from the lowest up, each is raised (never lowered) until it lies at least
    ``tuning["interval_st"]`` semitones above the next lower one; the lowest keeps its pitch. Each tom's
    provenance records the sound it got (``from``), that sound's pitch and the shift."""
    present = [p for p in reversed(TOM_ORDER) if p in kit.pieces]  # lowest first
    if len(present) < 2:
        return kit
    out = TrackKit(dict(kit.pieces), {k: dict(v) for k, v in kit.provenance.items()})
    pitch = {p: tom_pitch_hz(kit.pieces[p]) for p in present}
    below = None  # pitch of the next lower tom [semitones]
    for piece, source in zip(present, sorted(present, key=pitch.__getitem__)):
        st = 12.0 * float(np.log2(pitch[source]))
        shift = 0.0 if below is None else max(0.0, below + tuning["interval_st"] - st)
        shots = kit.pieces[source]
        out.pieces[piece] = [pitch_shift(s, shift) for s in shots] if shift > 0 else shots
        out.provenance[piece] = {
            **kit.provenance.get(source, {}),
            "tuning": {"from": source, "pitch_hz": round(pitch[source], 1), "shift_st": round(shift, 2)},
        }
        below = st + shift
    return out


# ------------------------------------------------------------------------------------------ placement
#: crash-type cymbals (a re-stroke while one rings may bloom) and how long one rings [s] for that
BLOOM_PIECES = ("crash", "china", "splash")
BLOOM_RING_S = 1.5


def draw_bloom(rng: np.random.Generator) -> dict[str, float]:
    """One track's bloom of re-struck crashes: split frequency [Hz], the level the part above it starts at
    (0-1), the swell's length [s] and a gain [dB] on the whole re-stroke (ridden crashes are played lighter)."""
    return {
        "split_hz": float(rng.uniform(1000.0, 3000.0)),
        "floor": float(rng.uniform(0.0, 0.15)),
        "swell_s": float(rng.uniform(0.1, 0.3)),
        "gain_db": float(rng.uniform(-8.0, 0.0)),
    }


def draw_loud_wash(rng: np.random.Generator) -> dict[str, float]:
    """One track's loud-wash mix (``SynthConfig.loud_wash_prob``): the low-pass [Hz] of the kick, snare and
    tom buses and the cymbals bus's boost [dB]."""
    return {
        "lowpass_hz": float(np.exp(rng.uniform(np.log(2500.0), np.log(5000.0)))),
        "cymbal_boost_db": float(rng.uniform(3.0, 9.0)),
    }


def apply_loud_wash(
    buses: dict[str, np.ndarray], settings: Any, wash: dict[str, float], sample_rate_hz: int
) -> dict[str, np.ndarray]:
    """The drum buses with :func:`draw_loud_wash`'s mix: kick, snare and toms low-passed (4th order), and
    ``settings`` (a :class:`~drumscribe.synth.mixing.MixSettings`) with the cymbals bus raised."""
    from . import mixing

    out = dict(buses)
    for name in ("kick", "snare", "toms"):
        if name in out and np.any(out[name]):
            out[name] = mixing.lowpass(out[name], wash["lowpass_hz"], sample_rate_hz)  # float32
    settings.bus_gain_db["cymbals"] = settings.bus_gain_db.get("cymbals", 0.0) + wash["cymbal_boost_db"]
    return out


def draw_dark_cymbals(rng: np.random.Generator) -> dict[str, Any]:
    """One track's dark cymbals (``SynthConfig.dark_cymbals_prob``): the low-pass [Hz] (2nd order) and the
    resonant lift (centre [Hz], gain [dB], Q) of the cymbals bus, and whether the hi-hat bus gets them too."""
    return {
        "lowpass_hz": float(np.exp(rng.uniform(np.log(3500.0), np.log(7000.0)))),
        "peak_hz": float(np.exp(rng.uniform(np.log(2000.0), np.log(4000.0)))),
        "peak_db": float(rng.uniform(0.0, 6.0)),
        "peak_q": float(rng.uniform(1.0, 3.0)),
        "hihat": bool(rng.random() < 0.5),
    }


def apply_dark_cymbals(
    buses: dict[str, np.ndarray], dark: dict[str, Any], sample_rate_hz: int
) -> dict[str, np.ndarray]:
    """The drum buses with :func:`draw_dark_cymbals`'s cymbals (and hi-hats): lifted, then low-passed."""
    from scipy.signal import sosfilt

    from . import mixing

    out = dict(buses)
    peak = mixing.peaking_sos(dark["peak_hz"], dark["peak_db"], dark["peak_q"], sample_rate_hz)
    for name in ("cymbals", "hihat") if dark["hihat"] else ("cymbals",):
        if name in out and np.any(out[name]):
            lifted = sosfilt(peak, out[name]).astype(np.float32)
            out[name] = mixing.lowpass(lifted, dark["lowpass_hz"], sample_rate_hz, order=2)
    return out


def bloomed(audio: np.ndarray, onset_s: float, bloom: dict[str, float], sr: int) -> np.ndarray:
    """``audio`` with the part above ``split_hz`` swelling from ``floor`` to 1 over ``swell_s`` after the
    onset, slowly at first (a quadratic ramp); a zero-phase split, so low + high == audio."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, bloom["split_hz"], btype="low", fs=sr, output="sos")
    low = sosfiltfilt(sos, audio).astype(np.float32)
    high = audio - low
    env = np.ones(len(audio), dtype=np.float32)
    start = max(0, int(round(onset_s * sr)))
    n = max(1, int(round(bloom["swell_s"] * sr)))
    ramp = (bloom["floor"] + (1.0 - bloom["floor"]) * np.linspace(0.0, 1.0, n) ** 2).astype(np.float32)
    env[start : start + n] = ramp[: max(0, len(env) - start)]
    env[:start] = bloom["floor"]
    return (low + high * env) * np.float32(10 ** (bloom["gain_db"] / 20))


def place_hits(
    perf: Performance,
    kit: TrackKit,
    rng: np.random.Generator,
    n_samples: int,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    bloom: dict[str, float] | None = None,
    unlabelled: Collection[str] = (),
    hits: dict[str, list[float]] | None = None,
) -> tuple[dict[str, np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Mix every hit into per-class buses so that its audible onset lands on its time.

    Returns (buses, onsets per class [s], velocities per class [0-1]). Open hi-hats are choked by the
    next closed or pedal hi-hat; each hit gets a random +-1.5 dB gain variation and a round-robin sample.
    With ``bloom`` (:func:`draw_bloom`), a crash-type cymbal struck within :data:`BLOOM_RING_S` of the
    previous stroke of the same piece is :func:`bloomed`. Hits of the ``unlabelled`` pieces are mixed in but
    get no label. ``hits``, when given, receives the onset time [s] of every placed hit of a piece of the five
    classes, by piece (unlabelled pieces included): the articulations behind the labels (closed, open or pedal
    hi-hat; ride, bell or crash; each tom; ...), stored with each track.
    """
    from . import mixing

    buses = {name: np.zeros(n_samples, dtype=np.float32) for name in mixing.BUSES}
    onsets: list[list[float]] = [[] for _ in range(NUM_CLASSES)]
    vels: list[list[float]] = [[] for _ in range(NUM_CLASSES)]
    times = perf.times_s
    hat_close = [t for t, p in zip(times, perf.pieces) if p in ("hihat_closed", "hihat_pedal")]
    hat_close_arr = np.asarray(hat_close)
    fade = int(0.008 * sample_rate_hz)
    last_struck: dict[str, float] = {}
    bloom_cache: dict[int, np.ndarray] = {}
    for t, piece, v in zip(times, perf.pieces, perf.velocities):
        if t < 0 or t >= n_samples / sample_rate_hz or piece not in kit.pieces:
            continue
        shot = kit.choose(piece, int(v), rng)
        ratio = float(np.clip(v / max(shot.velocity, 1), 0.2, 3.0))
        gain = ratio**0.8 * (v / 127.0) ** 0.5 * 10 ** (rng.normal(0, 1.5) / 20)
        audio = shot.audio
        if bloom is not None and piece in BLOOM_PIECES:
            if t - last_struck.get(piece, -np.inf) < BLOOM_RING_S:
                key = id(shot.audio)
                if key not in bloom_cache:
                    bloom_cache[key] = bloomed(shot.audio, shot.onset_s, bloom, sample_rate_hz)
                audio = bloom_cache[key]
            last_struck[piece] = float(t)
        if piece == "hihat_open" and len(hat_close_arr):
            j = np.searchsorted(hat_close_arr, t, side="right")
            if j < len(hat_close_arr):
                keep = int((hat_close_arr[j] - t + shot.onset_s) * sample_rate_hz)
                if keep < len(audio):
                    audio = audio[: max(keep, fade + 1)].copy()
                    audio[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        start = int(round((t - shot.onset_s) * sample_rate_hz))
        a0 = max(0, -start)
        s0 = max(0, start)
        s1 = min(n_samples, start + len(audio))
        if s1 <= s0:
            continue
        cls = PIECE_CLASS[piece]
        buses[BUS_OF_CLASS[cls]][s0:s1] += gain * audio[a0 : a0 + (s1 - s0)]
        if cls is None:
            continue
        if hits is not None:
            hits.setdefault(piece, []).append(round(float(t), 5))
        if piece not in unlabelled:
            onsets[cls].append(float(t))
            vels[cls].append(float(v) / 127.0)
    on = [np.asarray(o, dtype=np.float64) for o in onsets]
    ve = [np.asarray(x, dtype=np.float64) for x in vels]
    return buses, on, ve


# ------------------------------------------------------------------------------------------ one track
@dataclass
class RenderedTrack:
    audio: np.ndarray
    onsets: list[np.ndarray]
    velocities: list[np.ndarray]
    meta: dict[str, Any]


def choose_main_kit(ctx: RenderContext, split: str, rng: np.random.Generator) -> str:
    if not sampled_kits_for(ctx, split) or rng.random() < ctx.config.procedural_share:
        return f"procedural-{split}-{int(rng.integers(PROCEDURAL_POOL))}"
    return str(draw_sampled_kit(ctx, split, rng))


def tacet_span(rng: np.random.Generator, track_s: float) -> tuple[float, float]:
    """A span [s] in which the drummer rests: the whole track in a third of the draws, else an intro,
    a break or an outro of 25-75 % of the track."""
    if rng.random() < 1 / 3:
        return 0.0, float(track_s)
    length = float(rng.uniform(0.25, 0.75)) * track_s
    where = int(rng.integers(3))
    if where == 0:  # intro
        start = 0.0
    elif where == 1:  # break
        start = float(rng.uniform(0, track_s - length))
    else:  # outro
        start = track_s - length
    return start, start + length


T = TypeVar("T")


def draw_free_bass(rng: np.random.Generator) -> str:
    """One track's bass line that does not follow the kick (``SynthConfig.free_bass_prob``)."""
    from .accompaniment import FREE_BASS_MODES

    return str(rng.choice(list(FREE_BASS_MODES), p=list(FREE_BASS_MODES.values())))


def draw_loud_bass(rng: np.random.Generator) -> dict[str, float]:
    """One track's bass lift (``SynthConfig.loud_bass_prob``): a low shelf's gain [dB] and corner [Hz], drawn
    uniformly in :data:`~drumscribe.synth.accompaniment.LOUD_BASS_DB` and log-uniformly in
    :data:`~drumscribe.synth.accompaniment.LOUD_BASS_CORNER_HZ`."""
    from .accompaniment import LOUD_BASS_CORNER_HZ, LOUD_BASS_DB
    from .mixing import log_uniform

    return {
        "gain_db": round(float(rng.uniform(*LOUD_BASS_DB)), 2),
        "corner_hz": round(log_uniform(rng, *LOUD_BASS_CORNER_HZ), 1),
    }


def draw_hit_dropout(rng: np.random.Generator) -> dict[str, Any]:
    """One track's hit dropout (``SynthConfig.hit_dropout_prob``): the share of strokes [0.1, 0.5] left out in
    each of 1-5 classes (each class drawn with probability 0.5, at least one), and the seed of which ones."""
    chosen = rng.random(NUM_CLASSES) < 0.5
    if not chosen.any():
        chosen[int(rng.integers(NUM_CLASSES))] = True
    shares = rng.uniform(0.1, 0.5, NUM_CLASSES)
    return {
        "shares": {CLASS_NAMES[c]: round(float(shares[c]), 4) for c in range(NUM_CLASSES) if chosen[c]},
        "seed": int(rng.integers(2**31)),
    }


def drop_hits(perf: Performance, dropout: dict[str, Any]) -> Performance:
    """``perf`` without a random share of each class's strokes (:func:`draw_hit_dropout`); the grid stays."""
    rng = np.random.default_rng(dropout["seed"])
    u = rng.random(len(perf))
    share = np.array(
        [
            0.0 if (c := PIECE_CLASS[p]) is None else dropout["shares"].get(CLASS_NAMES[c], 0.0)
            for p in perf.pieces
        ]
    )
    return perf.select(u >= share, hit_dropout=dropout)


def track_draw(
    cfg: SynthConfig, index: int, stream: int, share: float, draw: Callable[[np.random.Generator], T]
) -> T | None:
    """``draw(rng)`` for a ``share`` of the tracks, else None, from the track's own random stream ``stream``:
    a setting at 0 draws nothing, and no setting moves another's draws, so earlier renders stay as they were."""
    if share <= 0:
        return None
    rng = np.random.default_rng([cfg.seed, index, stream])
    return draw(rng) if rng.random() < share else None


def render_track(ctx: RenderContext, index: int, split: str) -> RenderedTrack:
    """Render track ``index``: deterministic from (config.seed, index) and the installed kits."""
    from . import mixing

    cfg = ctx.config
    sr = SAMPLE_RATE_HZ
    streams = [np.random.default_rng([cfg.seed, index, s]) for s in range(7)]
    rng_perf, rng_kit, rng_hits, rng_mix, rng_acc, rng_choice, rng_punch = streams
    perf = make_performance(ctx, split, rng_perf)
    n = int(round(cfg.track_s * sr))
    main_name = choose_main_kit(ctx, split, rng_kit)
    main = ctx.kit(main_name)
    needed = sorted(set(perf.pieces), key=PIECES.index)
    kit = realise_kit(ctx, split, main, needed, rng_kit)
    tuning = track_draw(cfg, index, 16, cfg.tuned_toms_prob, draw_tom_tuning)
    if tuning is not None:
        kit = tune_toms(kit, tuning)
    drums_only = bool(rng_choice.random() < cfg.drums_only_share) or not cfg.accompaniment
    fonts = [] if drums_only else ctx.soundfonts()
    acc_meta: dict[str, Any] = {}
    if not drums_only and not fonts:
        drums_only = True
        acc_meta = {"skipped": "no accompaniment renderer or GM soundfont"}
    played_perf = perf  # what the drummer plays; the band follows ``perf``
    rest_span = track_draw(
        cfg, index, 7, 0.0 if drums_only else cfg.band_only_share, lambda r: tacet_span(r, cfg.track_s)
    )
    if rest_span is not None:
        played_perf = perf.without_span(*rest_span)
    dropout = track_draw(cfg, index, 13, cfg.hit_dropout_prob, draw_hit_dropout)
    if dropout is not None:
        played_perf = drop_hits(played_perf, dropout)
    bloom = track_draw(cfg, index, 9, cfg.crash_bloom_prob, draw_bloom)
    unlabelled = frozenset(cfg.unlabelled_pieces or ())
    hits: dict[str, list[float]] = {}
    buses, onsets, vels = place_hits(
        played_perf, kit, rng_hits, n, sr, bloom=bloom, unlabelled=unlabelled, hits=hits
    )
    settings = mixing.draw_punch(rng_punch, mixing.draw_mix_settings(rng_mix, cfg.degrade))
    wash = track_draw(cfg, index, 10, cfg.loud_wash_prob, draw_loud_wash)
    if wash is not None:
        buses = apply_loud_wash(buses, settings, wash, sr)
    dark = track_draw(cfg, index, 11, cfg.dark_cymbals_prob, draw_dark_cymbals)
    if dark is not None:
        buses = apply_dark_cymbals(buses, dark, sr)
    drums = mixing.mix_drums(buses, settings, rng_mix)
    rest = None
    if not drums_only:
        from .accompaniment import render_accompaniment

        played: dict[str, Any] = {}  # the soundfont(s) used, genre, programs, chords, clicks, ...
        free_bass = track_draw(cfg, index, 12, cfg.free_bass_prob, draw_free_bass)
        loud_bass = track_draw(cfg, index, 15, cfg.loud_bass_prob, draw_loud_bass)
        rest = render_accompaniment(
            perf, rng_acc, sr, fonts, info=played, bass_mode=free_bass, bass_shelf=loud_bass
        )  # mono
        acc_meta = {"soundfonts": [Path(f).name for f in fonts], **played}
        rng_stem = np.random.default_rng([cfg.seed, index, 8])
        if ctx.stems() and rng_stem.random() < cfg.stems_share:
            rest, acc_meta["stem"] = add_stem(rest, ctx.stems(), rng_stem, sr, n, cfg.stems_varispeed)
        strummed = track_draw(
            cfg,
            index,
            14,
            cfg.strums_share,
            lambda r: add_strums(rest, ctx.strum_samples(), played["chords"], perf.beats_s, r, n),
        )
        if strummed is not None:
            rest, acc_meta["strums"] = strummed
    tacet = played_perf.meta.get("tacet_s")
    drums_rms = None
    if tacet:  # balance the band against the drums where they play (none: the band's own level)
        playing = 1.0 - (tacet[1] - tacet[0]) / cfg.track_s
        drums_rms = mixing.rms(drums) / np.sqrt(playing) if playing > 0.05 else 0.0
    audio = mixing.master(drums, rest, settings, rng_mix, drums_rms=drums_rms)
    meta = {
        "index": index,
        "seed": cfg.seed,
        "kit": main_name,
        "kit_family": main.family,
        "kit_kind": main.kind,
        "pieces": kit.provenance,
        "performance": {
            "source": perf.meta.get("source"),
            "style": perf.meta.get("style"),
            "file": perf.meta.get("file") or perf.meta.get("files"),
            "tempo_bpm": perf.tempo_bpm,
            "time_stretch": perf.meta.get("time_stretch", 1.0),
            "swaps": perf.meta.get("swaps", []),
            "overdub": perf.meta.get("overdub"),
            "unison": perf.meta.get("unison"),
            "crash_beat": perf.meta.get("crash_beat"),
            "piece_counts": played_perf.piece_counts(),
            # the beat grid the drummer played to (for scoring tempo, beat and downbeat tracking)
            "beats_s": _times_in(perf.beats_s, n / sr),
            "downbeats_s": _times_in(perf.downbeats_s, n / sr),
        },
        "hits": hits,
        "drums_only": drums_only,
        "tacet_s": tacet,
        "crash_bloom": bloom,
        "loud_wash": wash,
        "dark_cymbals": dark,
        "hit_dropout": dropout,
        "accompaniment": acc_meta,
        "mix": settings.to_dict(),
    }
    return RenderedTrack(audio, onsets, vels, meta)


def _times_in(times_s: np.ndarray, duration_s: float) -> list[float]:
    """The times [s] within [0, duration_s), rounded to 0.1 ms, as a JSON list."""
    t = np.asarray(times_s, dtype=np.float64)
    return [round(float(x), 4) for x in t[(t >= 0) & (t < duration_s)]]


# ------------------------------------------------------------------------------------------ dataset
_WORKER: dict[str, Any] = {}


def _init_worker(
    config: dict[str, Any], infos: list[dict[str, Any]], kit_splits: dict[str, list[str]], out: str
) -> None:
    """Build a process's render context (Pool initializer and lazy Ray-task setup)."""
    cfg = SynthConfig.from_dict(config)
    kit_infos = [
        KitInfo(
            d["name"],
            d["kind"],
            d["path"],
            d["family"],
            d["bank"],
            d["preset"],
            {k: tuple(v) for k, v in d["sources"].items()},
        )
        for d in infos
    ]
    _WORKER["ctx"] = RenderContext(cfg, kit_infos, kit_splits)
    _WORKER["out"] = out
    _WORKER["key"] = (out, cfg.seed)


def _render_one(job: tuple[int, str]) -> str | None:
    """Render and store one track in a worker; returns its id, or None when a data problem (an unreadable
    groove or sample file, ...) made the track fail: it is logged and skipped so a long render goes on,
    and a re-run retries it."""
    try:
        return _render_one_unsafe(job)
    except DrumscribeError as exc:
        log.warning("track %s skipped: %s", track_id(job[0]), exc)
        return None


def _render_one_unsafe(job: tuple[int, str]) -> str:
    from ..data.store import StoreWriter
    from ..features import FeatureConfig, log_spectrogram

    index, split = job
    ctx: RenderContext = _WORKER["ctx"]
    out = Path(_WORKER["out"])
    fc = FeatureConfig()
    writer = StoreWriter(out, ctx.config.name, fc.to_dict())
    tid = track_id(index)
    if writer.has_track(tid):
        return tid
    track = render_track(ctx, index, split)
    feats = log_spectrogram(track.audio, SAMPLE_RATE_HZ, fc)
    audio_file = None
    if ctx.config.save_audio:
        audio_file = save_track_audio(out / "audio" / f"{tid}.flac", track.audio)
    writer.write_track(
        tid,
        split,
        feats,
        track.onsets,
        velocities=track.velocities,
        source_files=[str(audio_file.relative_to(out))] if audio_file else [],
        meta=track.meta,
    )
    return tid


def save_track_audio(path: Path, audio: np.ndarray) -> Path:
    import soundfile as sf

    from ..fileio import atomic_path

    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(audio, -1, 1), SAMPLE_RATE_HZ, format="FLAC", subtype="PCM_16")
    return path


def resolve_kits(
    config: SynthConfig, kit_infos: Sequence[KitInfo] | None = None
) -> tuple[list[KitInfo], dict[str, list[str]]]:
    """The sampled kits to use and their split assignment (procedural-only when asked or none found)."""
    want = [s for s in (config.kits or []) if s.lower() != "procedural"]
    procedural_only = bool(config.kits) and not want
    if procedural_only:
        kit_infos, splits = [], {s: [] for s in SPLIT_NAMES}
    elif kit_infos is None:  # splits drawn over every installed kit, so --kits moves no kit out of test
        kit_infos, splits = kits_and_splits(want or None, config.test_kits, config.validation_kits)
    else:
        kit_infos = list(kit_infos)
        splits = (
            assign_splits(kit_infos, config.test_kits, config.validation_kits)
            if kit_infos
            else {s: [] for s in SPLIT_NAMES}
        )
    if not kit_infos and not procedural_only:
        from ..errors import DatasetLayoutError

        raise DatasetLayoutError(no_kits_message())
    if kit_infos:
        for s in SPLIT_NAMES:
            if not splits[s]:
                log.warning("no sampled kit in the %s split: its tracks use procedural kits only", s)
    return kit_infos, splits


def check_gmd_and_styles(config: SynthConfig) -> None:
    """A ``config.gmd`` folder must hold the Groove MIDI Dataset, and every style of ``config.styles`` must
    be one the generator or the GMD folder plays in every split (a style GMD has in one split only, such as
    its gospel, would otherwise be played by the generator in another style there)."""
    if not config.gmd and not config.styles:
        return
    from .gmd import SPLITS, GrooveLibrary
    from .grooves import STYLES

    per_split = {}
    if config.gmd:
        every = GrooveLibrary(config.gmd)  # errors name the folder now, not in a worker
        for split in SPLITS:
            # a split without grooves: RenderContext.grooves falls back to every file
            per_split[split] = {e.top_style for e in every.beats if e.split == split} or set(every.styles)
    if not config.styles:
        return
    known = set(STYLES).union(*per_split.values())
    unknown = [s for s in config.styles if s not in known]
    if unknown:
        raise ConfigError(f"unknown style(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    shares = {"train": 1.0, "validation": config.validation_share, "test": config.test_share}
    for style in config.styles:
        missing = [
            split
            for split, styles in per_split.items()
            if shares[split] > 0 and style not in STYLES and style not in styles
        ]
        if missing:
            raise ConfigError(
                f"style {style!r}: only the Groove MIDI Dataset plays it, and not in its {' and '.join(missing)} "
                f"split{'s' if len(missing) > 1 else ''}, whose tracks could not play it; choose other styles"
            )


#: settings a render may resume with changed: how much, where and how it runs, not what a track holds
RESUMABLE_SETTINGS = frozenset({"hours", "workers", "address", "cache_dir", "save_audio"})
#: settings holding paths: the same folder spelled another way (relative, absolute) is the same setting
PATH_SETTINGS = frozenset({"gmd", "stems"})


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _same_path(a: Any, b: Any) -> bool:
    if a == b or os.path.normpath(str(a)) == os.path.normpath(str(b)):
        return True
    try:
        return os.path.samefile(str(a), str(b))
    except OSError:
        return False


def changed_settings(old: dict[str, Any], config: SynthConfig) -> list[str]:
    """``"name: old -> new"`` for each setting of ``config`` that differs from a store's ``old``
    ``synth_config.json`` (settings it lacks count as their defaults, as when it was rendered) and would change
    what its tracks hold (not :data:`RESUMABLE_SETTINGS`)."""
    defaults = SynthConfig().to_dict()
    out = []
    for name, value in config.to_dict().items():
        before = old.get(name, defaults[name])
        if name in RESUMABLE_SETTINGS or before == value:
            continue
        if name in PATH_SETTINGS and before is not None and value is not None:
            a, b = _as_list(before), _as_list(value)
            if len(a) == len(b) and all(map(_same_path, a, b)):
                continue
        out.append(f"{name}: {before!r} -> {value!r}")
    return out


def render_dataset(
    out_dir: str | Path,
    config: SynthConfig,
    kit_infos: Sequence[KitInfo] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Render ``config.hours`` of audio into the store at ``out_dir`` (resumable) and write its manifest."""
    from tqdm import tqdm

    from ..data.store import StoreWriter
    from ..features import FeatureConfig
    from ..fileio import read_json, write_json

    out = Path(out_dir)
    infos, kit_splits = resolve_kits(config, kit_infos)
    settings_path = out / "synth_config.json"
    if settings_path.is_file():
        changed = changed_settings(read_json(settings_path), config)
        if changed:
            raise ConfigError(
                f"{out}: holds a render with other settings ({'; '.join(changed)}), so its tracks and new ones "
                "would not belong together; use another folder, or the same settings to resume (only hours, "
                "workers, address, cache_dir and save_audio may change)"
            )
    check_gmd_and_styles(config)
    if config.stems and config.accompaniment:
        stems = find_stems(config.stems)  # errors name the path now, not in a worker
        log.info("%d stems: %.1f min", len(stems), sum(s.info.duration_s for s in stems) / 60)
    if config.strums_share > 0 and config.accompaniment:
        from .strums import require_strum_samples

        require_strum_samples()  # the missing package is named now, not in a worker
    out.mkdir(parents=True, exist_ok=True)
    write_json(settings_path, config.to_dict())
    # extract every kit once in this process (cached on disk), so workers only read the cache
    for info in tqdm(infos, desc="kits", disable=not progress or not infos):
        load_kit(info, config.cache_dir)
    jobs = [
        (i, track_split(config.seed, i, config.validation_share, config.test_share))
        for i in range(config.n_tracks)
    ]
    writer = StoreWriter(
        out, config.name, FeatureConfig().to_dict(), source={"kind": "synth", "config": config.to_dict()}
    )
    todo = [j for j in jobs if not writer.has_track(track_id(j[0]))]
    log.info("%d tracks planned, %d to render", len(jobs), len(todo))
    init_args = (config.to_dict(), [k.to_dict() for k in infos], kit_splits, str(out))
    bar = tqdm(
        total=len(jobs), initial=len(jobs) - len(todo), desc="render", unit="track", disable=not progress
    )
    failed = 0
    if config.address:
        failed = _run_ray(config.address, todo, init_args, bar)
    elif config.workers <= 1 or len(todo) <= 1:
        _init_worker(*init_args)
        for job in todo:
            failed += _render_one(job) is None
            bar.update(1)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn" if os.environ.get("DRUMSCRIBE_SPAWN") else "fork")
        with ctx.Pool(config.workers, initializer=_init_worker, initargs=init_args) as pool:
            for tid in pool.imap_unordered(_render_one, todo, chunksize=1):
                failed += tid is None
                bar.update(1)
    bar.close()
    if failed:
        log.warning(
            "%d of %d tracks failed (see the warnings above); run the command again to retry",
            failed,
            len(todo),
        )
    extra = {
        "synth": {
            "config": config.to_dict(),
            "kit_splits": kit_splits,
            "kits": [k.to_dict() for k in infos],
            "procedural_pool": {s: f"procedural-{s}-0..{PROCEDURAL_POOL - 1}" for s in SPLIT_NAMES},
        }
    }
    return writer.finalize(extra=extra)


def _run_ray(address: str, todo: list[tuple[int, str]], init_args: tuple, bar: Any) -> int:
    """Render ``todo`` as Ray tasks; returns the number of failed tracks."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--address needs Ray: pip install 'ray[default]'") from exc
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)

    @ray.remote(num_cpus=1)
    def task(job: tuple[int, str], args: tuple) -> str | None:
        if _WORKER.get("key") != (args[3], args[0]["seed"]):
            _init_worker(*args)
        return _render_one(job)

    args_ref = ray.put(init_args)
    pending = [task.remote(j, args_ref) for j in todo]
    failed = 0
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        failed += sum(r is None for r in ray.get(done))
        bar.update(len(done))
    return failed
