"""MIDI velocity: how hard each stroke was, from how much its onset rises above what sounds before it.

The network's activation height ``h`` measures confidence, not loudness. The level of the onset follows how
hard a stroke was played. Per frame, the level is the mean log magnitude over all bands (:func:`level_curve`).
A stroke's level ``L`` (:func:`onset_levels`) is the highest level over the onset's frame and the next two,
minus half the lowest level over the 5 frames (50 ms) before it: in a full mix the band (and on a drum track
a ringing cymbal) lifts every frame, and the part of the onset that only carries that lift says little about
the stroke. Median within-recording Spearman correlation with real velocities (MDB Drums++ annotations of
the mdb-dev tracks; ``python benchmarks/velocity.py``, stage-8 model), this rule / the onset level alone
(the rule before it) / the activation height:

=========  ========================  ========================
class      drum-only tracks          mixes
=========  ========================  ========================
kick       0.73 / 0.66 / 0.08        0.39 / 0.27 / 0.21
snare      0.58 / 0.35 / 0.07        0.54 / 0.33 / 0.17
hi-hat     0.76 / 0.74 / -0.25       0.62 / 0.64 / 0.05
cymbals    0.33 / 0.17 / -0.35       0.82 / 0.83 / -0.52
=========  ========================  ========================

(the cymbals come from two drum-only recordings and one mix). On the engine's held-out test kits
(``--store work/synth9 --store work/synth11``) it is a little lower than the level alone, most on the kick
(synth9 0.26 against 0.37, synth11 0.16 against 0.22; the other classes within 0.08). Subtracting the whole
pre-onset level instead of half helped the drum-only tracks as much but lost on the mixes' kick and hi-hat and
on the engine's kits, so half it is (chosen by a rule written before either was scored).
The velocity of a stroke is its level against the other strokes of its class in the same recording::

    velocity = clip(round(VELOCITY_CENTER + VELOCITY_SLOPE * (L - median L of the class)), 1, 127)

so the typical stroke of each class gets VELOCITY_CENTER and accents and ghost notes lie above and below it.
The two constants are fitted on the engine's renders, not on real music (``python scripts/fit_velocity.py``):
the centre is the median of the per-track, per-class median MIDI velocities of their strokes and the slope
the least-squares slope of velocity on level within track and class. A recording's overall loudness mostly
cancels out (the spectrogram's log(1 + x) compresses a quiet file a little).

Without a level curve (a :class:`~drumscribe.transcribe.result.Transcription` built by hand), the old rule
``clip(round(40 + 87 h), 1, 127)`` (:func:`velocity_from_height`) is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: MIDI velocity of a class's median stroke, and per unit of onset level above that median
VELOCITY_CENTER = 79.0
VELOCITY_SLOPE = 105.0
#: frames (the onset's and the next ones) whose highest level is the onset's level
LEVEL_FRAMES = 3
#: frames before the onset whose lowest level, times PRE_WEIGHT, is taken from it
PRE_FRAMES = 5
PRE_WEIGHT = 0.5
#: the rule without a level curve: velocity from the activation height
VELOCITY_OFFSET = 40.0
VELOCITY_SCALE = 87.0
#: the rules as the JSON output states them
VELOCITY_RULE = (
    f"velocity = clip(round({VELOCITY_CENTER:g} + {VELOCITY_SLOPE:g} * (L - median L of the class's onsets in "
    f"the recording)), 1, 127); L = max over the onset frame and the next {LEVEL_FRAMES - 1} of the mean log "
    f"magnitude over all bands, minus {PRE_WEIGHT:g} x its min over the {PRE_FRAMES} frames before the onset"
)
HEIGHT_RULE = f"velocity = clip(round({VELOCITY_OFFSET:g} + {VELOCITY_SCALE:g} * activation_height), 1, 127)"


def level_curve(spectrogram: np.ndarray) -> np.ndarray:
    """Per frame, the mean log magnitude over all bands of a (T, bands) log spectrogram: (T,) float32."""
    spec = np.asarray(spectrogram)
    if spec.ndim != 2:
        raise ValueError(f"spectrogram must be (frames, bands), got shape {spec.shape}")
    return spec.mean(axis=1, dtype=np.float64).astype(np.float32)


def onset_levels(curve: np.ndarray, times_s: np.ndarray, fps: float) -> np.ndarray:
    """The level ``L`` of onsets at ``times_s`` [s]: the curve's highest value over the onset's frame and the
    next LEVEL_FRAMES - 1, minus PRE_WEIGHT times its lowest over the PRE_FRAMES frames before (at the start of
    the recording, the frames that exist; the first frame for an onset in it)."""
    curve = np.asarray(curve, dtype=np.float64)
    if len(curve) == 0 or len(times_s) == 0:
        return np.zeros(len(times_s))
    last = len(curve) - 1
    frames = np.clip(np.rint(np.asarray(times_s) * fps).astype(np.int64), 0, last)
    peak = curve[np.minimum(frames[:, None] + np.arange(LEVEL_FRAMES)[None, :], last)].max(axis=1)
    before = np.maximum(frames[:, None] - np.arange(1, PRE_FRAMES + 1)[None, :], 0)
    return peak - PRE_WEIGHT * curve[before].min(axis=1)


def velocities_from_levels(curve: np.ndarray, onsets: Sequence[np.ndarray], fps: float) -> list[np.ndarray]:
    """MIDI velocities (int, 1..127) per class of ``onsets`` (times [s] per class), by the module's rule."""
    out = []
    for times in onsets:
        level = onset_levels(curve, times, fps)
        rel = level - np.median(level) if len(level) else level
        out.append(np.clip(np.rint(VELOCITY_CENTER + VELOCITY_SLOPE * rel), 1, 127).astype(np.int64))
    return out


def velocity_from_height(height: np.ndarray) -> np.ndarray:
    """MIDI velocities (int, 1..127) from activation heights ``height`` (0..1): the rule without a level
    curve."""
    h = np.asarray(height, dtype=np.float64)
    return np.clip(np.rint(VELOCITY_OFFSET + VELOCITY_SCALE * h), 1, 127).astype(np.int64)
