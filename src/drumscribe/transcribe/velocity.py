"""MIDI velocity: how hard each stroke was, from how loud its onset is within the recording.

The network's activation height ``h`` measures confidence, not loudness. The level of the onset itself
follows how hard a stroke was played: ``L``, the highest of the frame-wise mean log magnitude over all
bands at the onset's frame and the next two (:func:`level_curve`, :func:`onset_levels`). Median
within-recording Spearman correlation with real velocities (MDB Drums++ annotations of the mdb-dev tracks;
``python benchmarks/velocity.py``), level against height:

=========  ==================  ==================
class      drum-only tracks    mixes
=========  ==================  ==================
kick       0.66 / 0.08         0.26 / 0.10
snare      0.35 / 0.12         0.33 / 0.14
hi-hat     0.74 / -0.24        0.64 / 0.07
cymbals    0.89 / -0.68        0.83 / -0.63
=========  ==================  ==================

and 0.15-0.55 against 0.01-0.31 on the engine's held-out test kits (toms only level there) (``--store work/synth9 --store
work/synth11``). The velocity of a stroke is its level against the other strokes
of its class in the same recording::

    velocity = clip(round(VELOCITY_CENTER + VELOCITY_SLOPE * (L - median L of the class)), 1, 127)
             = clip(round(79 + 107 * (L - median)), 1, 127)

so the typical stroke of each class gets 79 and accents and ghost notes lie above and below it. The two
constants are fitted on the engine's renders, not on real music (``python scripts/fit_velocity.py``): 79
is the median of the per-track, per-class median MIDI velocities of their strokes and 107 the
least-squares slope of velocity on level within track and class. A recording's overall loudness mostly
cancels out (the spectrogram's log(1 + x) compresses a quiet file a little: at -6 dB, strokes 8 dB apart
get 68-91 instead of 64-94); a band playing with a stroke can still lift it, so velocities in full mixes
are rougher than on drums alone.

Without a level curve (a :class:`~drumscribe.transcribe.result.Transcription` built by hand), the old rule
``clip(round(40 + 87 h), 1, 127)`` (:func:`velocity_from_height`) is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: MIDI velocity of a class's median stroke, and per unit of onset level above that median
VELOCITY_CENTER = 79.0
VELOCITY_SLOPE = 107.0
#: frames (the onset's and the next ones) whose highest level is the onset's level
LEVEL_FRAMES = 3
#: the rule without a level curve: velocity from the activation height
VELOCITY_OFFSET = 40.0
VELOCITY_SCALE = 87.0
#: the rules as the JSON output states them
VELOCITY_RULE = (
    f"velocity = clip(round({VELOCITY_CENTER:g} + {VELOCITY_SLOPE:g} * (L - median L of the class's onsets in "
    f"the recording)), 1, 127); L = max over the onset frame and the next {LEVEL_FRAMES - 1} of the mean log "
    "magnitude over all bands"
)
HEIGHT_RULE = f"velocity = clip(round({VELOCITY_OFFSET:g} + {VELOCITY_SCALE:g} * activation_height), 1, 127)"


def level_curve(spectrogram: np.ndarray) -> np.ndarray:
    """Per frame, the mean log magnitude over all bands of a (T, bands) log spectrogram: (T,) float32."""
    spec = np.asarray(spectrogram)
    if spec.ndim != 2:
        raise ValueError(f"spectrogram must be (frames, bands), got shape {spec.shape}")
    return spec.mean(axis=1, dtype=np.float64).astype(np.float32)


def onset_levels(curve: np.ndarray, times_s: np.ndarray, fps: float) -> np.ndarray:
    """The level ``L`` of onsets at ``times_s`` [s]: the curve's highest value over LEVEL_FRAMES frames."""
    curve = np.asarray(curve, dtype=np.float64)
    if len(curve) == 0 or len(times_s) == 0:
        return np.zeros(len(times_s))
    frames = np.clip(np.rint(np.asarray(times_s) * fps).astype(np.int64), 0, len(curve) - 1)
    window = frames[:, None] + np.arange(LEVEL_FRAMES)[None, :]
    return curve[np.minimum(window, len(curve) - 1)].max(axis=1)


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
