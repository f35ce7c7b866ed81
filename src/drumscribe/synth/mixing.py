"""Mixing and audio augmentation: EQ, drum-bus compression (smooth, and fast-attack pumping), room reverb,
level balance and degradations.

All functions work on mono float32 arrays at 44.1 kHz, are vectorised (scipy filters and FFT
convolution; no per-sample Python loops) and take their randomness from an explicit
``np.random.Generator``, so a track's mix is reproducible from its seed. :func:`draw_mix_settings`
draws one track's settings; the renderer records them in the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.signal import butter, fftconvolve, istft, lfilter, sosfilt, stft

SR = 44100
#: drums-to-rest level range [dB] (drums relative to the accompaniment, RMS); real mixes mostly sit at
#: 0 to -6 dB, the range is widened both ways
DRUMS_TO_REST_DB = (-9.0, 2.0)


def db_to_gain(db: float | np.ndarray) -> float | np.ndarray:
    return 10.0 ** (np.asarray(db) / 20.0) if isinstance(db, np.ndarray) else 10.0 ** (db / 20.0)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


# --------------------------------------------------------------------------------------------- filters
def peaking_sos(f0_hz: float, gain_db: float, q: float, sr: int = SR) -> np.ndarray:
    """One RBJ-cookbook peaking biquad as a scipy SOS row."""
    a_gain = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * min(f0_hz, 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a_gain, -2 * np.cos(w0), 1 - alpha * a_gain])
    a = np.array([1 + alpha / a_gain, -2 * np.cos(w0), 1 - alpha / a_gain])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def shelf_sos(f0_hz: float, gain_db: float, high: bool, sr: int = SR) -> np.ndarray:
    """RBJ shelving biquad (slope 1): a high shelf when ``high`` else a low shelf."""
    a_gain = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * min(f0_hz, 0.45 * sr) / sr
    cw, sw = np.cos(w0), np.sin(w0)
    alpha = sw / 2 * np.sqrt(2.0)
    sq = 2 * np.sqrt(a_gain) * alpha
    sign = 1 if high else -1
    b0 = a_gain * ((a_gain + 1) + sign * (a_gain - 1) * cw + sq)
    b1 = -sign * 2 * a_gain * ((a_gain - 1) + sign * (a_gain + 1) * cw)
    b2 = a_gain * ((a_gain + 1) + sign * (a_gain - 1) * cw - sq)
    a0 = (a_gain + 1) - sign * (a_gain - 1) * cw + sq
    a1 = sign * 2 * ((a_gain - 1) - sign * (a_gain + 1) * cw)
    a2 = (a_gain + 1) - sign * (a_gain - 1) * cw - sq
    return np.array([[b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0]])


@dataclass
class EQ:
    """Low shelf, one peaking band and high shelf [Hz, dB]; high-pass [Hz] (0 = off)."""

    low_hz: float = 100.0
    low_db: float = 0.0
    peak_hz: float = 1000.0
    peak_db: float = 0.0
    peak_q: float = 1.0
    high_hz: float = 8000.0
    high_db: float = 0.0
    highpass_hz: float = 0.0

    def apply(self, x: np.ndarray, sr: int = SR) -> np.ndarray:
        sos = [
            shelf_sos(self.low_hz, self.low_db, False, sr),
            peaking_sos(self.peak_hz, self.peak_db, self.peak_q, sr),
        ]
        sos.append(shelf_sos(self.high_hz, self.high_db, True, sr))
        if self.highpass_hz > 0:
            sos.append(butter(2, self.highpass_hz, btype="high", fs=sr, output="sos"))
        return sosfilt(np.concatenate(sos), x).astype(np.float32)

    @classmethod
    def random(cls, rng: np.random.Generator, strength: float = 1.0) -> EQ:
        return cls(
            low_hz=float(rng.uniform(60, 250)),
            low_db=float(rng.normal(0, 3 * strength)),
            peak_hz=float(np.exp(rng.uniform(np.log(200), np.log(6000)))),
            peak_db=float(rng.normal(0, 3 * strength)),
            peak_q=float(rng.uniform(0.5, 2.0)),
            high_hz=float(rng.uniform(3000, 10000)),
            high_db=float(rng.normal(0, 3 * strength)),
            highpass_hz=float(rng.choice([0.0, rng.uniform(20, 60)])),
        )


def lowpass(x: np.ndarray, cutoff_hz: float, sr: int = SR, order: int = 4) -> np.ndarray:
    return sosfilt(butter(order, min(cutoff_hz, 0.45 * sr), btype="low", fs=sr, output="sos"), x).astype(
        np.float32
    )


# --------------------------------------------------------------------------------------------- dynamics
def compress(
    x: np.ndarray,
    threshold_db: float = -18.0,
    ratio: float = 3.0,
    time_ms: float = 30.0,
    makeup: bool = True,
    sr: int = SR,
) -> np.ndarray:
    """Feed-forward RMS compressor: a one-pole smoothed power envelope (``time_ms``) drives the gain
    reduction above ``threshold_db`` (dBFS) by ``ratio``; with ``makeup`` the RMS level is restored."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0 or ratio <= 1.0:
        return x
    a = float(np.exp(-1.0 / (time_ms * 1e-3 * sr)))
    power = lfilter([1 - a], [1, -a], np.square(x, dtype=np.float64))
    level_db = 10 * np.log10(power + 1e-12)
    over = np.maximum(level_db - threshold_db, 0.0)
    gain = 10 ** (-(over * (1 - 1 / ratio)) / 20)
    y = (x * gain).astype(np.float32)
    if makeup:
        r0, r1 = rms(x), rms(y)
        if r1 > 0:
            y *= r0 / r1
    return y


def punch_compress(
    x: np.ndarray,
    threshold_db: float,
    ratio: float,
    attack_ms: float,
    release_ms: float,
    makeup: bool = True,
    sr: int = SR,
) -> np.ndarray:
    """Fast-attack peak compressor of loud rock and pop production: every kick and snare hit pulls the
    whole signal down, cymbal wash included, which then recovers ("pumping").

    ``threshold_db`` is relative to the signal's own RMS level, so it bites the same at any input level.
    A 1 ms power detector gives the wanted gain reduction; it is held and released linearly in dB
    (``release_ms`` is the time to recover 10 dB), a running maximum that needs no per-sample loop, and
    a one-pole smoother of ``attack_ms`` rounds its onset. With ``makeup`` the RMS level is restored.
    """
    x = np.asarray(x, dtype=np.float32)
    r = rms(x)
    if len(x) == 0 or ratio <= 1.0 or r <= 0:
        return x
    a = float(np.exp(-1.0 / (1e-3 * sr)))
    level_db = 10 * np.log10(lfilter([1 - a], [1, -a], np.square(x, dtype=np.float64)) + 1e-12)
    want = np.maximum(level_db - (20 * np.log10(r) + threshold_db), 0.0) * (1 - 1 / ratio)
    slope = 10.0 / (release_ms * 1e-3 * sr)  # dB per sample
    ramp = slope * np.arange(len(x), dtype=np.float64)
    held = np.maximum.accumulate(want + ramp) - ramp
    b = float(np.exp(-1.0 / (max(attack_ms, 0.01) * 1e-3 * sr)))
    reduction = lfilter([1 - b], [1, -b], held)
    y = (x * 10 ** (-reduction / 20)).astype(np.float32)
    if makeup:
        r1 = rms(y)
        if r1 > 0:
            y *= r / r1
    return y


def peak_limit(x: np.ndarray, ceiling: float = 0.98) -> np.ndarray:
    """Soft limiter: tanh above 70 % of the ceiling, so peaks never exceed ``ceiling``."""
    knee = 0.7 * ceiling
    ax = np.abs(x)
    over = ax > knee
    if not over.any():
        return x.astype(np.float32)
    y = x.astype(np.float32).copy()
    room = ceiling - knee
    y[over] = np.sign(x[over]) * (knee + room * np.tanh((ax[over] - knee) / room))
    return y


# --------------------------------------------------------------------------------------------- reverb
def room_ir(
    rng: np.random.Generator,
    rt60_s: float,
    predelay_s: float = 0.01,
    n_early: int = 8,
    damping_hz: float = 6000.0,
    sr: int = SR,
) -> np.ndarray:
    """A synthetic room impulse response: direct-path-free, early reflections (sparse taps within
    80 ms) followed by exponentially decaying noise with decay time ``rt60_s`` (-60 dB), low-passed."""
    n = int((predelay_s + rt60_s * 1.1) * sr) + 1
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.908 * np.clip(t - predelay_s, 0, None) / rt60_s)
    tail[t < predelay_s] = 0.0
    ir = lowpass(tail, damping_hz, sr, order=2).astype(np.float64)
    taps = (predelay_s + rng.uniform(0.002, 0.08, n_early)) * sr
    amps = rng.uniform(0.3, 1.0, n_early) * rng.choice([-1.0, 1.0], n_early) * 3.0
    idx = np.clip(taps.astype(int), 0, n - 1)
    np.add.at(ir, idx, amps * np.sqrt(np.mean(ir**2)) * 10)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    return ir.astype(np.float32)


def convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """FFT convolution cut to ``len(x)``."""
    if len(x) == 0:
        return x
    return fftconvolve(x, ir, mode="full")[: len(x)].astype(np.float32)


# --------------------------------------------------------------------------------------------- degradations
def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: float, colour: str = "white") -> np.ndarray:
    """Add white or pink noise at ``snr_db`` below the signal RMS."""
    noise = rng.standard_normal(len(x))
    if colour == "pink":  # -3 dB/octave via Paul Kellet's economy filter
        noise = lfilter(
            [0.049922035, -0.095993537, 0.050612699, -0.004408786],
            [1, -2.494956002, 2.017265875, -0.522189400],
            noise,
        )
    r = rms(noise)
    if r == 0:
        return x
    return (x + noise * (rms(x) / r) * 10 ** (-snr_db / 20)).astype(np.float32)


def codec_degrade(x: np.ndarray, rng: np.random.Generator, strength: float, sr: int = SR) -> np.ndarray:
    """Lossy-codec-like damage: a band limit (11-19 kHz) and, per STFT frame, zeroing of bins more than
    ``strength``-dependent dB below the frame maximum (the spectral holes of low-bitrate MP3/AAC)."""
    if len(x) < 2048:
        return x
    cutoff = float(rng.uniform(11000, 19000))
    floor_db = 70.0 - 45.0 * float(np.clip(strength, 0, 1))
    _, _, z = stft(x, fs=sr, nperseg=1024, noverlap=512)
    freqs = np.fft.rfftfreq(1024, 1 / sr)
    z[freqs > cutoff, :] = 0
    mag = np.abs(z)
    ref = mag.max(axis=0, keepdims=True) + 1e-12
    z[20 * np.log10(mag / ref + 1e-12) < -floor_db] = 0
    _, y = istft(z, fs=sr, nperseg=1024, noverlap=512)
    y = y[: len(x)]
    if len(y) < len(x):
        y = np.pad(y, (0, len(x) - len(y)))
    return y.astype(np.float32)


def normalise_loudness(x: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Scale to an RMS level of ``target_dbfs`` (a simple loudness proxy), then limit peaks."""
    r = rms(x)
    if r <= 0:
        return x.astype(np.float32)
    return peak_limit(x * (10 ** (target_dbfs / 20) / r))


#: Range [dBFS] of the RMS level each track is mixed to (drawn uniformly; see :func:`normalise_loudness`).
LOUDNESS_RANGE_DBFS = (-22.0, -10.0)


# --------------------------------------------------------------------------------------------- settings
@dataclass
class MixSettings:
    """Everything random about one track's mix (recorded in the manifest)."""

    bus_gain_db: dict[str, float] = field(default_factory=dict)
    bus_eq: dict[str, dict[str, float]] = field(default_factory=dict)
    comp_threshold_db: float = -20.0
    comp_ratio: float = 2.0
    comp_time_ms: float = 30.0
    rt60_s: float = 0.5
    room_wet: float = 0.2
    overhead_cymbal_share: float = 0.3
    drums_to_rest_db: float = -3.0
    rest_drive_db: float | None = None  # saturation of the accompaniment (distorted-guitar-like density)
    rest_drive_lowpass_hz: float | None = None  # low-pass after the saturation (amp cabinets, tape)
    rest_reverb_wet: float = 0.0
    rest_rt60_s: float = 1.0
    noise_snr_db: float | None = None
    noise_colour: str = "white"
    lowpass_hz: float | None = None
    codec_strength: float | None = None
    master_eq: dict[str, float] = field(default_factory=dict)
    master_comp_ratio: float = 1.0  # 1 = no mix-bus compression
    master_comp_threshold_db: float = -16.0
    #: fast-attack "pumping" compression (:func:`punch_compress` arguments) of the drum bus after its
    #: room, and of the whole mix after the glue compressor; None = off
    drum_punch: dict[str, float] | None = None
    master_punch: dict[str, float] | None = None
    loudness_dbfs: float = -16.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BUSES = ("kick", "snare", "toms", "hihat", "cymbals", "other")
#: typical bus levels [dB] relative to the kick for peak-normalised one-shots: hats and cymbals sit well
#: below kick and snare in real mixes (their energy is spread over a long, bright tail)
BUS_BASE_DB = {"kick": 0.0, "snare": -1.0, "toms": -3.0, "hihat": -9.0, "cymbals": -8.0, "other": -8.0}


def draw_mix_settings(rng: np.random.Generator, intensity: float = 1.0) -> MixSettings:
    """One track's random mix; ``intensity`` in [0, 1] scales how strong EQ and degradations get."""
    s = MixSettings()
    for bus in BUSES:
        s.bus_gain_db[bus] = float(BUS_BASE_DB[bus] + rng.normal(0.0, 3.0 * intensity))
        s.bus_eq[bus] = asdict(EQ.random(rng, intensity))
    s.comp_threshold_db = float(rng.uniform(-30, -10))
    s.comp_ratio = float(rng.choice([1.0, rng.uniform(1.5, 6.0)], p=[0.25, 0.75]))
    s.comp_time_ms = float(rng.uniform(5, 80))
    s.rt60_s = float(np.exp(rng.uniform(np.log(0.15), np.log(2.5))))
    s.room_wet = float(rng.uniform(0.0, 0.5) * intensity)
    s.overhead_cymbal_share = float(rng.uniform(0.0, 0.6))
    s.drums_to_rest_db = float(rng.uniform(*DRUMS_TO_REST_DB))
    if rng.random() < 0.35:
        s.rest_drive_db = float(rng.uniform(6.0, 24.0))
        # saturation adds harmonics up to the Nyquist frequency, which real amps and cabinets do not pass:
        # left in, they would teach the model that dense high-frequency energy in a mix is not cymbals
        s.rest_drive_lowpass_hz = float(np.exp(rng.uniform(np.log(5000.0), np.log(12000.0))))
    if rng.random() < 0.5:
        s.rest_reverb_wet = float(rng.uniform(0.1, 0.6))
        s.rest_rt60_s = float(np.exp(rng.uniform(np.log(0.4), np.log(3.0))))
    if rng.random() < 0.3 * intensity:
        s.noise_snr_db = float(rng.uniform(25, 60))
        s.noise_colour = str(rng.choice(["white", "pink"]))
    if rng.random() < 0.25 * intensity:
        s.lowpass_hz = float(rng.uniform(5000, 16000))
    if rng.random() < 0.3 * intensity:
        s.codec_strength = float(rng.uniform(0.2, 1.0))
    s.master_eq = asdict(EQ.random(rng, 0.7 * intensity))
    if rng.random() < 0.5:  # mix-bus "glue" compression, as in most produced music
        s.master_comp_ratio = float(rng.uniform(1.5, 4.0))
        s.master_comp_threshold_db = float(rng.uniform(-24, -10))
    s.loudness_dbfs = float(rng.uniform(*LOUDNESS_RANGE_DBFS))
    return s


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A value drawn log-uniformly in [low, high] (one draw of ``rng``)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def draw_punch(rng: np.random.Generator, settings: MixSettings) -> MixSettings:
    """Add fast-attack pumping compression to ``settings``: on the drum bus in 45 % of tracks, on the
    whole mix in 30 %. Real rock and pop drums are often squashed so hard that each kick and snare hit
    ducks the cymbal wash by several dB for tens of milliseconds; a ridden crash then shows no rise of
    high-frequency energy at its onset. The renderer draws this from a stream of its own, so a seed's
    other choices are unchanged."""
    if rng.random() < 0.45:
        settings.drum_punch = {
            "threshold_db": float(rng.uniform(0.0, 9.0)),
            "ratio": log_uniform(rng, 3.0, 20.0),
            "attack_ms": log_uniform(rng, 0.1, 5.0),
            "release_ms": log_uniform(rng, 30.0, 300.0),
        }
    if rng.random() < 0.3:
        settings.master_punch = {
            "threshold_db": float(rng.uniform(2.0, 10.0)),
            "ratio": log_uniform(rng, 2.0, 10.0),
            "attack_ms": log_uniform(rng, 0.3, 10.0),
            "release_ms": log_uniform(rng, 40.0, 300.0),
        }
    return settings


def mix_drums(buses: dict[str, np.ndarray], settings: MixSettings, rng: np.random.Generator) -> np.ndarray:
    """Per-bus gain and EQ, drum-bus compression, room reverb (plus extra cymbals in the room mic), and
    optional pumping compression of the whole drum bus."""
    n = max(len(b) for b in buses.values())
    dry = np.zeros(n, dtype=np.float32)
    cymbals = np.zeros(n, dtype=np.float32)
    for name, x in buses.items():
        if not np.any(x):
            continue
        y = EQ(**settings.bus_eq.get(name, {})).apply(x) * db_to_gain(settings.bus_gain_db.get(name, 0.0))
        dry[: len(y)] += y
        if name in ("cymbals", "hihat"):
            cymbals[: len(y)] += y
    drums = compress(dry, settings.comp_threshold_db, settings.comp_ratio, settings.comp_time_ms)
    if settings.room_wet > 0 or settings.overhead_cymbal_share > 0:
        ir = room_ir(rng, settings.rt60_s)
        room_in = drums + settings.overhead_cymbal_share * cymbals
        wet = convolve(room_in, ir)
        r_dry, r_wet = rms(drums), rms(wet)
        if r_wet > 0:
            drums = drums + wet * (settings.room_wet * r_dry / r_wet)
    if settings.drum_punch:
        drums = punch_compress(drums, **settings.drum_punch)
    return drums.astype(np.float32)


def process_rest(rest: np.ndarray, settings: MixSettings, rng: np.random.Generator) -> np.ndarray:
    """Accompaniment treatment before the level balance: optional saturation (drive [dB] into tanh,
    the dense broadband sound of overdriven guitars and loud masters) with an optional low-pass after it,
    and its own room reverb."""
    y = rest.astype(np.float32)
    r = rms(y)
    if r <= 0:
        return y
    if settings.rest_drive_db is not None:
        y = np.tanh(y * (db_to_gain(settings.rest_drive_db) * 0.3 / r)).astype(np.float32)
        if settings.rest_drive_lowpass_hz is not None:
            y = lowpass(y, settings.rest_drive_lowpass_hz)
    if settings.rest_reverb_wet > 0:
        wet = convolve(y, room_ir(rng, settings.rest_rt60_s, predelay_s=float(rng.uniform(0.005, 0.04))))
        rw = rms(wet)
        if rw > 0:
            y = y + wet * (settings.rest_reverb_wet * rms(y) / rw)
    return y


def master(
    drums: np.ndarray,
    rest: np.ndarray | None,
    settings: MixSettings,
    rng: np.random.Generator,
    drums_rms: float | None = None,
) -> np.ndarray:
    """Balance drums against the accompaniment, apply master EQ, degradations and loudness.

    ``drums_rms`` replaces the drums' RMS level in the balance (where the drummer rests for part of the
    track: their level where they play; 0 when they never play, and the band keeps its own level)."""
    x = drums.astype(np.float32)
    ref = rms(drums) if drums_rms is None else float(drums_rms)
    if rest is not None and rms(rest) > 0 and (ref > 0 or drums_rms is not None):
        n = len(drums)
        rest = np.pad(rest[:n], (0, max(0, n - len(rest)))).astype(np.float32)
        rest = process_rest(rest, settings, rng)
        if ref > 0:
            rest = rest * (ref / max(rms(rest), 1e-12)) * db_to_gain(-settings.drums_to_rest_db)
        x = x + rest
    x = EQ(**settings.master_eq).apply(x) if settings.master_eq else x
    if settings.master_comp_ratio > 1.0:
        # the threshold is relative to the mix's own RMS level, so it bites the same at any input level
        rel = settings.master_comp_threshold_db + 20 * np.log10(rms(x) + 1e-12) + 12.0
        x = compress(x, rel, settings.master_comp_ratio, time_ms=80.0)
    if settings.master_punch:
        x = punch_compress(x, **settings.master_punch)
    if settings.noise_snr_db is not None:
        x = add_noise(x, rng, settings.noise_snr_db, settings.noise_colour)
    if settings.lowpass_hz is not None:
        x = lowpass(x, settings.lowpass_hz)
    if settings.codec_strength is not None:
        x = codec_degrade(x, rng, settings.codec_strength)
    return normalise_loudness(x, settings.loudness_dbfs)
