"""Log-magnitude, log-frequency spectrogram: the input of every drumscribe model.

The definition is madmom's ``LogarithmicFilteredSpectrogram(num_bands=12, fmin=20, fmax=20000,
frame_size=2048, fps=100, log=np.log10, add=1, norm_filters=True)`` (SPEC section 0.9), computed either
with torch (:func:`log_spectrogram_torch`: batched, CPU or CUDA, differentiable) or with numpy
(:func:`log_spectrogram_numpy`: CPU, no torch import, for fast start-up); both share the framing
(:func:`frame_starts`, :func:`padding`, :func:`frame_blocks`) and constants below and agree to float32
rounding (about 1e-6):

- frames: frame ``i`` is centred on sample ``int(i * hop)`` with ``hop = sample_rate_hz / fps`` (441 at
  44.1 kHz), i.e. it covers samples ``[int(i * hop) - frame_size // 2, ... + frame_size)``; samples outside
  the signal are zeros (no reflection). A signal of ``N`` samples gives ``ceil(N / hop)`` frames (madmom's
  ``end='normal'``), and at least one frame, so silence and clips shorter than a frame are valid.
- window: the symmetric Hann window of numpy's ``np.hanning(frame_size)``; magnitudes of float samples in
  [-1, 1] are not rescaled (madmom scales int16 input by 1/32767, which gives the same values).
- spectrum: ``|rfft|`` with the Nyquist bin dropped (``frame_size // 2`` bins, bin ``k`` at
  ``k * sample_rate_hz / frame_size`` Hz).
- filterbank: centre frequencies ``ref_hz * 2 ** (j / num_bands)`` inside [fmin_hz, fmax_hz], each mapped
  to its nearest FFT bin (ties go up), duplicates removed; every consecutive triple of bins (start,
  centre, stop) is one triangular filter rising from 0 at ``start`` (exclusive of the peak) to 1 at
  ``centre`` and falling to the last non-zero value at ``stop - 1``; each filter is divided by its sum.
  At 44.1 kHz this gives 84 bands.
- compression: ``log10(filtered + log_add)``.

Agreement with madmom 0.17 (``tests/test_features.py``): the maximum absolute difference on interior
frames of real-looking signals (a synthetic mix, drum hits, noise, a sweep) must stay at most 0.02; it is
about 1e-6 in practice (float32 rounding), edges included. Reading 16-bit files, madmom scales by 1/32767
where libsndfile (and so drumscribe) uses 1/32768, which adds up to about 5e-4.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

#: Frames processed at once by :func:`log_spectrogram_torch`: bounds the (B, frames, frame_size) buffer;
#: small blocks stay in the CPU cache and are faster than one large one.
FRAMES_PER_BLOCK = 256
#: Block size of :func:`log_spectrogram_numpy` (at most :data:`FRAMES_PER_BLOCK`): numpy's FFT is
#: fastest on blocks that fit in the cache.
NUMPY_FRAMES_PER_BLOCK = 32


@dataclass(frozen=True)
class FeatureConfig:
    """Every setting of the log spectrogram; saved with each model and dataset."""

    sample_rate_hz: int = 44100
    frame_size: int = 2048
    fps: float = 100
    num_bands: int = 12  # bands per octave
    fmin_hz: float = 20.0
    fmax_hz: float = 20000.0
    ref_hz: float = 440.0
    log_add: float = 1.0

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0 or self.fps <= 0:
            raise ConfigError(f"FeatureConfig: sample rate and fps must be positive, got {self}")
        if self.frame_size < 4 or self.frame_size % 2:
            raise ConfigError(f"FeatureConfig: frame_size must be even and >= 4, got {self.frame_size}")
        if not 0 < self.fmin_hz < self.fmax_hz:
            raise ConfigError(
                f"FeatureConfig: need 0 < fmin_hz < fmax_hz, got {self.fmin_hz}, {self.fmax_hz}"
            )
        if self.num_bands <= 0 or self.ref_hz <= 0 or self.log_add <= 0:
            raise ConfigError(f"FeatureConfig: num_bands, ref_hz and log_add must be positive, got {self}")

    @property
    def hop_size(self) -> float:
        """Hop between frames [samples] (may be fractional, as in madmom)."""
        return self.sample_rate_hz / self.fps

    @property
    def n_fft_bins(self) -> int:
        """Number of FFT bins used (Nyquist dropped)."""
        return self.frame_size // 2

    @property
    def n_bands(self) -> int:
        """Number of filterbank bands (84 for the defaults)."""
        return filterbank(self).shape[1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; missing keys take their defaults, unknown keys raise ConfigError."""
        d = dict(d or {})
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"FeatureConfig: unknown setting(s) {sorted(unknown)}")
        return cls(**d)


def num_frames(n_samples: int, config: FeatureConfig | None = None) -> int:
    """Frames produced for ``n_samples`` samples at ``config.sample_rate_hz``: ``max(1, ceil(n / hop))``."""
    config = config or FeatureConfig()
    return max(1, math.ceil(n_samples / config.hop_size))


def log_frequencies(config: FeatureConfig) -> np.ndarray:
    """Centre frequencies [Hz]: ``ref_hz * 2 ** (j / num_bands)`` for every j inside [fmin_hz, fmax_hz]."""
    bpo = config.num_bands
    j_lo = math.floor(math.log2(config.fmin_hz / config.ref_hz) * bpo)
    j_hi = math.ceil(math.log2(config.fmax_hz / config.ref_hz) * bpo)
    freqs = config.ref_hz * 2.0 ** (np.arange(j_lo, j_hi) / bpo)
    return freqs[(freqs >= config.fmin_hz) & (freqs <= config.fmax_hz)]


def fft_bin_frequencies(config: FeatureConfig) -> np.ndarray:
    """Frequency [Hz] of each of the ``frame_size // 2`` FFT bins used."""
    return np.arange(config.n_fft_bins) * (config.sample_rate_hz / config.frame_size)


def filter_bins(config: FeatureConfig) -> np.ndarray:
    """Unique nearest FFT bin of each centre frequency (a tie goes to the upper bin)."""
    bin_freqs = fft_bin_frequencies(config)
    freqs = log_frequencies(config)
    idx = np.clip(np.searchsorted(bin_freqs, freqs), 1, len(bin_freqs) - 1)
    lower_closer = (freqs - bin_freqs[idx - 1]) < (bin_freqs[idx] - freqs)
    return np.unique(idx - lower_closer.astype(np.int64))


def band_frequencies(config: FeatureConfig) -> np.ndarray:
    """Centre frequency [Hz] of each band of the spectrogram (the peak bin of its triangular filter)."""
    return fft_bin_frequencies(config)[filter_bins(config)[1:-1]]


#: a band counts as carrying sound when its 99th-percentile level is at least this share of the median
#: such level of the bands between 200 Hz and 4 kHz; above a resampled file's wall the share is below 0.002
BANDWIDTH_FLOOR = 0.01
#: at most this many frames are read for :func:`bandwidth_hz`
BANDWIDTH_FRAMES = 5000


def bandwidth_hz(spec: np.ndarray, config: FeatureConfig) -> float | None:
    """Where the sound of a log spectrogram (T, bands) ends [Hz]: the centre of the highest band with any
    level (:data:`BANDWIDTH_FLOOR`), e.g. about 11 kHz for a song kept at 22.05 kHz, 8 kHz for a 16 kHz voice
    memo; None when the bands up to 4 kHz are silent. From at most :data:`BANDWIDTH_FRAMES` evenly spaced
    frames (every fourth of a 3-minute song), so a long file costs no more time or memory."""
    hz = band_frequencies(config)
    frames = np.asarray(spec[:: max(4, len(spec) // BANDWIDTH_FRAMES)], dtype=np.float32)
    if frames.size == 0 or frames.shape[1] != len(hz):
        return None
    level = np.percentile(frames, 99, axis=0)
    ref = float(np.median(level[(hz > 200.0) & (hz < 4000.0)])) if np.any((hz > 200) & (hz < 4000)) else 0.0
    if not ref > 0:
        return None
    return float(hz[np.flatnonzero(level >= BANDWIDTH_FLOOR * ref).max()])


def apply_gain(features: np.ndarray, gain_db: Any, log_add: float = 1.0) -> np.ndarray:
    """Log features ``log10(m + log_add)`` of the magnitudes ``m`` scaled by ``gain_db`` [dB] (a scalar, or
    one value per band): exactly what a gain on the audio before the spectrogram gives, since the STFT and
    the filterbank are linear. float32."""
    a = np.asarray(10.0 ** (np.asarray(gain_db, dtype=np.float64) / 20.0), dtype=np.float32)
    x = np.asarray(features, dtype=np.float32)
    if log_add == 1.0:  # expm1 / log1p keep the precision of quiet bands
        ln10 = np.float32(np.log(10.0))
        return (np.log1p(a * np.expm1(x * ln10)) / ln10).astype(np.float32)
    return np.log10(a * (10.0**x - log_add) + log_add).astype(np.float32)


#: The most the input level match raises or lowers a recording [dB].
MAX_INPUT_GAIN_DB = (-24.0, 40.0)


#: A model's input level: one level [dBFS], or a (low, high) range of them.
InputLevel = float | tuple[float, float]


def input_gain_db(target_dbfs: InputLevel | None, level_dbfs: float | None) -> float:
    """The gain [dB] that brings a recording at ``level_dbfs`` to a model's ``target_dbfs`` (its card's
    ``input_level_dbfs``), within :data:`MAX_INPUT_GAIN_DB`; 0 when either is unknown (silence, or a
    model that does not ask for it).

    ``target_dbfs`` is one level or a ``(low, high)`` range: a recording within the range is heard as it
    is, a quieter one is raised to ``low`` and a louder one lowered to ``high``."""
    if target_dbfs is None or level_dbfs is None:
        return 0.0
    low, high = (target_dbfs, target_dbfs) if np.isscalar(target_dbfs) else target_dbfs
    gain = low - level_dbfs if level_dbfs < low else high - level_dbfs if level_dbfs > high else 0.0
    lo, hi = MAX_INPUT_GAIN_DB
    return float(min(max(gain, lo), hi))


def check_input_level(value: Any, where: str = "input_level_dbfs") -> InputLevel | None:
    """A model card's ``input_level_dbfs`` as :func:`input_gain_db` takes it: None, a level [dBFS] or a
    ``[low, high]`` pair with low <= high; a ConfigError naming ``where`` otherwise."""
    if value is None:
        return None
    try:
        if isinstance(value, (list, tuple)):
            low, high = (float(v) for v in value)
            if math.isfinite(low) and math.isfinite(high) and low <= high:
                return (low, high)
        elif not isinstance(value, (bool, str)) and math.isfinite(float(value)):
            return float(value)
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{where}: expected a level in dBFS or a [low, high] pair, got {value!r}")


@functools.lru_cache(maxsize=16)
def _filterbank_cached(config: FeatureConfig) -> np.ndarray:
    bins = filter_bins(config)
    if len(bins) < 3:
        raise ConfigError(f"FeatureConfig: only {len(bins)} distinct filter bins, need >= 3: {config}")
    n_bins = config.n_fft_bins
    fb = np.zeros((n_bins, len(bins) - 2), dtype=np.float64)
    for band, (start, centre, stop) in enumerate(zip(bins[:-2], bins[1:-1], bins[2:])):
        start, centre, stop = int(start), int(centre), int(stop)
        if stop - start < 2:
            centre, stop = start, start + 1
        shape = np.empty(stop - start)
        shape[: centre - start] = np.linspace(0.0, 1.0, centre - start, endpoint=False)
        shape[centre - start :] = np.linspace(1.0, 0.0, stop - centre, endpoint=False)
        shape /= shape.sum()
        end = min(stop, n_bins)
        fb[start:end, band] = shape[: end - start]
    fb = fb.astype(np.float32)
    fb.setflags(write=False)
    return fb


def filterbank(config: FeatureConfig | None = None) -> np.ndarray:
    """Area-normalised triangular filterbank, shape (frame_size // 2, n_bands), float32 (read-only)."""
    return _filterbank_cached(config or FeatureConfig())


def hann_window(frame_size: int) -> np.ndarray:
    """Symmetric Hann window (``np.hanning``): ``0.5 - 0.5 cos(2 pi n / (N - 1))``."""
    return np.hanning(frame_size)


@functools.lru_cache(maxsize=16)
def _spectrum_constants(config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(window (frame_size,), filterbank trimmed to the bins below the top filter) as read-only float32."""
    fb = filterbank(config)
    n_used = int(np.flatnonzero(fb.any(axis=1))[-1]) + 1  # bins above the top filter are not needed
    window = hann_window(config.frame_size).astype(np.float32)
    trimmed = np.ascontiguousarray(fb[:n_used])
    for a in (window, trimmed):
        a.setflags(write=False)
    return window, trimmed


def frame_blocks(n_frames: int, size: int | None = None) -> list[tuple[int, int]]:
    """[first, last) frame ranges of at most ``size`` (default :data:`FRAMES_PER_BLOCK`) frames covering
    ``n_frames``."""
    size = min(size or FRAMES_PER_BLOCK, FRAMES_PER_BLOCK)
    return [(f, min(f + size, n_frames)) for f in range(0, n_frames, size)]


@functools.lru_cache(maxsize=16)
def _filter_layers(config: FeatureConfig) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The filterbank as layers of bands with disjoint, increasing supports (the triangles of every other
    band do not overlap): per layer (bins, weights, segment starts into bins, band indices), so that
    ``np.add.reduceat(mag[..., bins] * weights, starts)`` are those bands. Applying the filterbank this way
    costs ~2 multiply-adds per bin instead of a dense matmul, and needs no BLAS threads."""
    _, fb = _spectrum_constants(config)
    layers: list[list[tuple[int, int, int]]] = []
    for band in range(fb.shape[1]):
        nz = np.flatnonzero(fb[:, band])
        lo, hi = int(nz[0]), int(nz[-1]) + 1
        for layer in layers:
            if layer[-1][1] <= lo:
                layer.append((lo, hi, band))
                break
        else:
            layers.append([(lo, hi, band)])
    out = []
    for layer in layers:
        bins = np.concatenate([np.arange(lo, hi) for lo, hi, _ in layer])
        weights = np.concatenate([fb[lo:hi, band] for lo, hi, band in layer]).astype(np.float32)
        starts = np.cumsum([0] + [hi - lo for lo, hi, _ in layer[:-1]])
        out.append((bins, weights, starts, np.array([band for _, _, band in layer])))
    return out


def frame_starts(first: int, last: int, config: FeatureConfig) -> np.ndarray:
    """Start sample of frames ``first..last-1`` in the signal padded by ``frame_size // 2`` zeros at the
    left: ``int(i * hop)`` (madmom's rounding of a fractional hop)."""
    hop = config.hop_size
    if float(hop).is_integer():
        return np.arange(first, last, dtype=np.int64) * int(hop)
    return np.array([int(i * hop) for i in range(first, last)], dtype=np.int64)


def padding(config: FeatureConfig) -> tuple[int, int]:
    """Zeros added (left, right) so every frame of :func:`frame_starts` lies inside the padded signal."""
    half = config.frame_size // 2
    return half, config.frame_size - half


@functools.lru_cache(maxsize=16)
def _torch_constants(config: FeatureConfig, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    window, fb = _spectrum_constants(config)
    with torch.inference_mode(False):  # cached: must stay usable outside inference mode too
        return (
            torch.tensor(np.array(window), dtype=torch.float32, device=device),
            torch.tensor(np.array(fb), dtype=torch.float32, device=device),
        )


def log_spectrogram_torch(x: torch.Tensor, config: FeatureConfig | None = None) -> torch.Tensor:
    """Batched log spectrogram: ``x`` (B, N) or (N,) float samples at ``config.sample_rate_hz`` ->
    (B, frames, n_bands) (or (frames, n_bands)) float32 on ``x``'s device, 100 frames per second.

    Work is done in blocks of :data:`FRAMES_PER_BLOCK` frames so memory stays bounded for long signals.
    """
    import torch

    config = config or FeatureConfig()
    squeeze = x.ndim == 1
    if squeeze:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"log_spectrogram_torch expects (B, N) or (N,) samples, got shape {tuple(x.shape)}")
    x = x.to(torch.float32)
    window, fb = _torch_constants(config, str(x.device))
    fs = config.frame_size
    padded = torch.nn.functional.pad(x, padding(config))
    hop = config.hop_size
    offsets = torch.arange(fs, device=x.device)
    out = []
    for first, last in frame_blocks(num_frames(x.shape[1], config)):
        if float(hop).is_integer():  # a strided view: no gather
            h = int(hop)
            frames = padded[:, first * h : (last - 1) * h + fs].unfold(-1, fs, h)
        else:
            starts = torch.from_numpy(frame_starts(first, last, config)).to(x.device)
            frames = padded[:, starts[:, None] + offsets]
        spec = torch.view_as_real(torch.fft.rfft(frames * window, n=fs)[..., : fb.shape[0]])
        # |X| as sqrt(re^2 + im^2): ~3x faster than complex abs() on CPU
        mag = spec[..., 0].square().add_(spec[..., 1].square()).sqrt_()
        out.append(torch.log10(mag @ fb + config.log_add))
    result = torch.cat(out, dim=1)
    return result[0] if squeeze else result


def log_spectrogram_numpy(x: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """:func:`log_spectrogram_torch` with numpy (``numpy.fft.rfft`` in float32), no torch needed:
    ``x`` (B, N) or (N,) -> (B, frames, n_bands) (or (frames, n_bands)) float32, in blocks of
    :data:`FRAMES_PER_BLOCK` frames."""
    config = config or FeatureConfig()
    x = np.asarray(x, dtype=np.float32)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"log_spectrogram_numpy expects (B, N) or (N,) samples, got shape {x.shape}")
    window, fb = _spectrum_constants(config)
    fs = config.frame_size
    n_samples = x.shape[1]
    n_frames = num_frames(n_samples, config)
    left, _ = padding(config)
    hop = config.hop_size
    offsets = np.arange(fs)
    n_bins = fb.shape[0]
    layers = _filter_layers(config)
    out = np.empty((x.shape[0], n_frames, fb.shape[1]), dtype=np.float32)
    # work buffers reused by every block; the signal is padded per block (no padded copy of it all)
    blocks = frame_blocks(n_frames, NUMPY_FRAMES_PER_BLOCK)
    block = blocks[0][1]
    seg_buf = np.empty((x.shape[0], int((block - 1) * hop) + 1 + fs), dtype=np.float32)
    frames_buf = np.empty((x.shape[0], block, fs), dtype=np.float32)
    spec_buf = np.empty((x.shape[0], block, fs // 2 + 1), dtype=np.complex64)
    mag_buf = np.empty((x.shape[0], block, n_bins), dtype=np.float32)
    for first, last in blocks:
        n = last - first
        starts = frame_starts(first, last, config)
        s0, s1 = int(starts[0]), int(starts[-1]) + fs  # padded coordinates
        seg = seg_buf[:, : s1 - s0]
        a, b = max(s0 - left, 0), min(s1 - left, n_samples)  # signal coordinates inside the segment
        seg[:, : a - (s0 - left)] = 0.0
        seg[:, a - (s0 - left) : b - (s0 - left)] = x[:, a:b]
        seg[:, max(b - (s0 - left), a - (s0 - left)) :] = 0.0
        frames = frames_buf[:, :n]
        if float(hop).is_integer():  # a strided view: no gather
            view = np.lib.stride_tricks.sliding_window_view(seg, fs, axis=-1)[:, :: int(hop)]
        else:
            view = seg[:, (starts - s0)[:, None] + offsets]
        np.multiply(view, window, out=frames)
        spec = np.fft.rfft(frames, n=fs, out=spec_buf[:, :n])
        mag = np.abs(spec[..., :n_bins], out=mag_buf[:, :n])
        dest = out[:, first:last]
        for bins, weights, seg_starts, bands in layers:
            dest[..., bands] = np.add.reduceat(mag[..., bins] * weights, seg_starts, axis=-1)
        dest += np.float32(config.log_add)
        np.log10(dest, out=dest)
    return out[0] if squeeze else out


def log_spectrogram(
    samples: np.ndarray,
    sample_rate: int,
    config: FeatureConfig | None = None,
    device: str | torch.device | None = None,
    engine: str = "auto",
) -> np.ndarray:
    """Log spectrogram of one signal: (frames, n_bands) float32 at ``config.fps`` frames per second.

    ``samples`` is mono (N,) or (N, channels) float audio in [-1, 1] (channels are averaged);
    it is resampled with soxr when ``sample_rate`` [Hz] differs from ``config.sample_rate_hz``.
    Frame ``i`` is centred at ``i / fps`` seconds. ``engine``: ``"numpy"`` (no torch import),
    ``"torch"`` (on ``device``), or ``"auto"``: torch for a non-CPU ``device``, numpy otherwise.
    """
    from .audio import resample, to_mono

    config = config or FeatureConfig()
    samples = to_mono(np.asarray(samples, dtype=np.float32))
    if int(sample_rate) != config.sample_rate_hz:
        samples = resample(samples, int(sample_rate), config.sample_rate_hz)
    return log_spectrogram_cpu(samples, config, resolve_engine(engine, device), device)


def log_spectrogram_cpu(
    samples: np.ndarray, config: FeatureConfig, engine: str = "numpy", device: Any = None
) -> np.ndarray:
    """Log spectrogram (frames, n_bands) of mono samples at ``config.sample_rate_hz`` as a numpy array,
    with ``engine`` ``"numpy"`` or ``"torch"`` (on ``device``, default CPU)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if engine == "numpy":
        return log_spectrogram_numpy(samples, config)
    import torch

    x = torch.from_numpy(samples)
    if device is not None:
        x = x.to(device)
    with torch.inference_mode():
        spec = log_spectrogram_torch(x, config)
    return spec.cpu().numpy()


ENGINES = ("auto", "numpy", "torch")


def resolve_engine(engine: str, device: Any = None) -> str:
    """``"numpy"`` or ``"torch"`` for a :func:`log_spectrogram` ``engine`` (see there)."""
    if engine not in ENGINES:
        raise ConfigError(f"feature engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "numpy" if device is None or str(device) == "cpu" else "torch"
    if engine == "numpy" and device is not None and str(device) != "cpu":
        raise ConfigError(f"feature engine 'numpy' runs on the CPU only, got device {device!r}")
    return engine
