"""Decode audio files to float32 mono at one sample rate.

Every container libsndfile reads (wav, flac, ogg, mp3, aiff, ...) is accepted (SPEC section 0.1). Samples
are float32 in [-1, 1], channels are averaged to mono, and the result is resampled with soxr (``HQ``) to
the requested rate (44 100 Hz by default). Files libsndfile does not read (.m4a, .aac, .webm, .mp4, .wma,
...: :data:`~drumscribe.audioformats.FFMPEG_EXTENSIONS`) are decoded by the ``ffmpeg`` command, streamed
through a pipe in blocks, when it is on the PATH; so are ``.mp3`` files when the installed libsndfile
cannot decode MP3, files whose content is one of those containers whatever their suffix (an upload stored
without it), and Ogg Opus files, many of which libsndfile stops decoding partway. Their header comes from
``ffprobe`` (the frame count is its duration estimate).

Bad input raises :class:`~drumscribe.errors.AudioError` naming the file: missing, a directory, not audio,
corrupt or truncated, or zero-length. Silence and clips shorter than one feature frame are valid.

Long files can be streamed with :func:`iter_audio_blocks` (bounded memory).
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .audioformats import FFMPEG_EXTENSIONS
from .errors import AudioError

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100
#: soxr quality used everywhere (one-shot and streamed resampling give the same result).
RESAMPLE_QUALITY = "HQ"
#: An MP3's frame count in its header is an estimate; decoding fewer than this fraction of it is an error.
MP3_MIN_DECODED_FRACTION = 0.9
#: More channels than this in an array means it was given as (channels, samples) by mistake.
MAX_CHANNELS = 64


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, from its header."""

    path: Path
    sample_rate_hz: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        """Duration [s]."""
        return self.frames / self.sample_rate_hz


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(N,) stays as is; (N, channels) becomes the channel mean; float32 (integers are not rescaled)."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        n_channels = samples.shape[1]
        if n_channels > MAX_CHANNELS:
            raise ValueError(
                f"audio of shape {samples.shape} has {n_channels} channels; pass (samples, channels), "
                "not (channels, samples)"
            )
        if n_channels == 1:
            return samples[:, 0].astype(np.float32, copy=False)
        mono = samples[:, 0].astype(np.float32)  # column sums: much faster than mean(axis=1)
        for c in range(1, n_channels):
            mono += samples[:, c]
        mono *= np.float32(1.0 / n_channels)
        return mono
    if samples.ndim != 1:
        raise ValueError(f"audio must be (samples,) or (samples, channels), got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)


def resample(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono float32 ``samples`` from ``sample_rate`` to ``target_rate`` [Hz] with soxr."""
    samples = np.asarray(samples, dtype=np.float32)
    if int(sample_rate) == int(target_rate) or len(samples) == 0:
        return samples
    out = soxr.resample(samples, int(sample_rate), int(target_rate), quality=RESAMPLE_QUALITY)
    return np.asarray(out, dtype=np.float32)


#: Block length [s], absolute gate [dBFS] and relative gate [dB below the absolute-gated level] of
#: :class:`LevelMeter` (the gating of ITU-R BS.1770, without its K-weighting: the synthesis engine sets
#: each track's plain RMS level, so the meter measures the same quantity).
LEVEL_BLOCK_S = 0.4
LEVEL_ABSOLUTE_GATE_DBFS = -70.0
LEVEL_RELATIVE_GATE_DB = -20.0


class LevelMeter:
    """The gated RMS level [dBFS] of mono audio fed in consecutive pieces (a whole file at once or a
    stream's blocks): mean squares of 0.4-s blocks, blocks below -70 dBFS dropped, then blocks more than
    20 dB below the mean of the rest, so silent lead-ins and pauses do not lower the level."""

    def __init__(self, sample_rate: int, block_s: float = LEVEL_BLOCK_S) -> None:
        self.block = max(1, int(round(sample_rate * block_s)))
        self._carry = np.zeros(0, dtype=np.float32)
        self._powers: list[np.ndarray] = []

    def add(self, samples: np.ndarray) -> None:
        """Feed the next mono samples."""
        x = np.asarray(samples, dtype=np.float32)
        if len(self._carry):
            x = np.concatenate([self._carry, x])
        k = len(x) // self.block * self.block
        if k:
            blocks = x[:k].reshape(-1, self.block)
            self._powers.append(np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / self.block)
        self._carry = x[k:].copy()

    def level_dbfs(self) -> float | None:
        """The gated level, or None when no block passes the absolute gate (silence, near-silence)."""
        powers = np.concatenate(self._powers) if self._powers else np.zeros(0)
        if len(self._carry) and (not len(powers) or len(self._carry) * 2 >= self.block):
            tail = np.float64(np.mean(np.square(self._carry, dtype=np.float64)))
            powers = np.append(powers, tail)
        loud = powers[powers >= 10 ** (LEVEL_ABSOLUTE_GATE_DBFS / 10)]
        if not len(loud):
            return None
        loud = loud[loud >= np.mean(loud) * 10 ** (LEVEL_RELATIVE_GATE_DB / 10)]
        return float(10 * np.log10(np.mean(loud)))


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes), not audio")


def _ffmpeg_reason(path: Path) -> str | None:
    """Why ``path`` is decoded by ffmpeg, or None when libsndfile decodes it: ``"suffix"`` (its suffix says
    so), ``"container"`` (its content says MP4/M4A, Matroska/WebM or raw AAC: an upload stored without its
    suffix, an M4A named .wav) or ``"opus"`` (Ogg Opus, when ffmpeg is installed: libsndfile's Opus decoder
    stops partway through many Opus files other encoders write, ffmpeg's and yt-dlp's among them: "Supported
    file format but file is malformed")."""
    suffix = path.suffix.lower()
    if suffix in FFMPEG_EXTENSIONS or (suffix == ".mp3" and "MP3" not in sf.available_formats()):
        return "suffix"
    kind = _content_kind(path)
    return kind if kind == "container" or (kind == "opus" and _have_ffmpeg()) else None


def _use_ffmpeg(path: Path) -> bool:
    """Whether ``path`` is decoded by ffmpeg (:func:`_ffmpeg_reason`)."""
    return _ffmpeg_reason(path) is not None


def _content_kind(path: Path) -> str | None:
    """What a file's first bytes say: ``"container"`` for one only ffmpeg decodes here (MP4/M4A ``ftyp``,
    Matroska/WebM, raw AAC's ADTS header), ``"opus"`` for Ogg Opus (``OpusHead`` in the first page), else None
    (also when it cannot be read: _check_path and the decoder report that)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if (
        head[4:8] == b"ftyp"
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0)
    ):
        return "container"
    if head[:4] == b"OggS" and b"OpusHead" in head:
        return "opus"
    return None


def _have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _libsndfile_error(path: Path, exc: Exception) -> AudioError:
    """The error for samples libsndfile could not decode (an Opus file: how to get it read)."""
    hint = ""
    if _content_kind(path) == "opus" and not _have_ffmpeg():
        hint = "; libsndfile cannot decode every Opus file: install ffmpeg, which is then used for them"
    return AudioError(path, f"corrupt audio data ({exc}){hint}")


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        msg = str(exc)
        if "not recognised" in msg or "unimplemented format" in msg:
            problem = "not an audio file libsndfile can read (format not recognised)"
        elif "does not exist" in msg:  # libsndfile's MP3 reader says this for any undecodable file
            problem = "not audio, or corrupt: libsndfile could not decode it"
        else:
            problem = f"corrupt or unreadable audio ({msg.split(':', 1)[-1].strip() or msg})"
        raise AudioError(path, problem) from exc


def _wav_truncated(path: Path) -> str | None:
    """For a RIFF/WAVE file: a message when its data chunk is shorter than its header declares."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed writer: size unknown
                    return None
                available = size - pos - 8
                if available < chunk_size:
                    return f"truncated WAV: data chunk declares {chunk_size} bytes, file holds {available}"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def audio_info(path: str | Path) -> AudioInfo:
    """Header information of an audio file; raises AudioError like :func:`load_audio`."""
    path = Path(path)
    _check_path(path)
    if _use_ffmpeg(path):
        info = _ffprobe(path)
    else:
        truncated = _wav_truncated(path)
        if truncated:
            raise AudioError(path, truncated)
        with _open(path) as f:
            info = AudioInfo(path, int(f.samplerate), int(f.channels), int(f.frames), f.format, f.subtype)
    if info.frames <= 0:
        raise AudioError(path, "zero-length audio (no samples)")
    return info


def _read_all(path: Path) -> tuple[np.ndarray, int]:
    """All samples (frames, channels) float32 and the file's sample rate."""
    if _use_ffmpeg(path):
        sr, ch, _ = _audio_stream(path)
        blocks = list(_ffmpeg_blocks(path, ch))
        return (np.concatenate(blocks) if blocks else np.zeros((0, ch), np.float32)), sr
    truncated = _wav_truncated(path)
    if truncated:
        raise AudioError(path, truncated)
    with _open(path) as f:
        declared = int(f.frames)
        sr = int(f.samplerate)
        fmt = f.format
        subtype = f.subtype
        try:
            if subtype == "PCM_16":  # reading int16 and scaling in numpy is ~5x faster than libsndfile's
                data = f.read(dtype="int16", always_2d=True)
            else:
                data = f.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise _libsndfile_error(path, exc) from exc
    n = len(data)
    if fmt == "MPEG":
        if declared > 0 and n < MP3_MIN_DECODED_FRACTION * declared:
            raise AudioError(path, f"truncated or corrupt MP3: decoded {n} of {declared} frames")
    elif n < declared:
        raise AudioError(path, f"truncated or corrupt: decoded {n} of {declared} frames")
    return data, sr


def _ffmpeg_tools(path: Path) -> tuple[str, str]:
    exe, probe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if exe is None or probe is None:
        suffix = path.suffix.lower()
        if suffix == ".mp3":
            what = "MP3"
        elif suffix in FFMPEG_EXTENSIONS:
            what = f"{path.suffix} files"
        else:  # told by its content (an M4A named .wav, an upload without a suffix)
            what = "this file (an MP4/M4A, Matroska/WebM or AAC file, whatever its name says)"
        raise AudioError(
            path,
            f"decoding {what} needs ffmpeg, which is not on the PATH; install ffmpeg "
            "(apt install ffmpeg, brew install ffmpeg) or convert the file to WAV or FLAC",
        )
    return exe, probe


def _ffmpeg_message(path: Path, stderr: str) -> str:
    """The last line ffmpeg or ffprobe printed, without the path it starts with (our error names the file)
    and with the file's name for its path elsewhere (a server's folders stay private)."""
    lines = stderr.strip().splitlines()
    last = lines[-1].strip() if lines else ""
    prefix = f"{path}: "
    last = last[len(prefix) :] if last.startswith(prefix) else last
    return last.replace(str(path), path.name)


#: what one ffprobe run reads of a file: the container, its tags and every stream (audio header, cover)
_PROBE_ENTRIES = (
    "format=format_name,duration:format_tags"
    ":stream=index,codec_type,codec_name,sample_rate,channels,duration:stream_disposition=attached_pic"
)


def _probe(path: Path) -> dict:
    """``ffprobe``'s JSON of ``path`` (:data:`_PROBE_ENTRIES`), run once per file version: the header, the
    tags and the cover all come from it (a transcription asks for the header several times)."""
    st = path.stat()
    return _probe_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _probe_cached(path_str: str, mtime_ns: int, size: int) -> dict:
    path = Path(path_str)
    _, probe = _ffmpeg_tools(path)
    proc = subprocess.run(
        [probe, "-v", "error", "-show_entries", _PROBE_ENTRIES, "-of", "json", path_str],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        meta = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        meta = {}
    if proc.returncode != 0 or not meta.get("format"):
        detail = _ffmpeg_message(path, proc.stderr) or "unknown format"
        raise AudioError(path, f"not an audio file ffmpeg can read ({detail})")
    return meta


def _audio_stream(path: Path) -> tuple[int, int, dict]:
    """Sample rate [Hz], channels and ffprobe's record of the file's first audio stream."""
    stream = next((st for st in _probe(path).get("streams") or [] if st.get("codec_type") == "audio"), None)
    if stream is None:
        raise AudioError(path, "has no audio stream (a video without sound?)")
    try:
        sr, ch = int(stream["sample_rate"]), int(stream["channels"])
    except (KeyError, ValueError):
        raise AudioError(
            path, "not an audio file ffmpeg can read (no sample rate or channel count)"
        ) from None
    if sr <= 0 or ch <= 0:
        raise AudioError(path, f"invalid audio stream ({sr} Hz, {ch} channels)")
    return sr, ch, stream


def _ffprobe(path: Path) -> AudioInfo:
    """Header of the file's first audio stream from ``ffprobe``: rate, channels, frames (from its duration),
    container (``format``, e.g. MOV, MATROSKA, MP3) and codec (``subtype``, e.g. AAC)."""
    sr, ch, stream = _audio_stream(path)
    fmt = _probe(path)["format"]
    duration = next(
        (d for d in (stream.get("duration"), fmt.get("duration")) if d not in (None, "N/A")), None
    )
    if duration is None:  # no duration in the header (e.g. a raw AAC stream): count the decoded frames
        frames = sum(len(b) for b in _ffmpeg_blocks(path, ch))
    else:
        frames = int(round(float(duration) * sr))
    container = str(fmt.get("format_name", "ffmpeg")).split(",")[0].upper()
    return AudioInfo(path, sr, ch, frames, container, str(stream.get("codec_name", "")).upper())


def _ffmpeg_blocks(
    path: Path, channels: int, read_frames: int = 65536, start_s: float = 0.0
) -> Iterator[np.ndarray]:
    """The first audio stream decoded by ``ffmpeg`` at its own rate, streamed through a pipe as float32
    (frames, channels) blocks of ``read_frames`` frames (bounded memory); errors name the file. With
    ``start_s`` > 0 ffmpeg seeks there in the file first (decoding only from the seek point before it):
    the audio starts at it in MP4 and raw AAC, within 2 ms of it in Matroska and WebM, which keep their times
    to the millisecond (measured: FLAC in .mka up to 40 samples off, Opus in WebM up to 83 at 48 kHz)."""
    exe, _ = _ffmpeg_tools(path)
    seek = ["-ss", f"{start_s:.6f}"] if start_s > 0 else []
    cmd = [exe, "-nostdin", "-v", "error", *seek, "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn"]
    cmd += ["-f", "f32le", "-acodec", "pcm_f32le", "-"]
    frame_bytes = 4 * channels
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty decoder cannot block on it
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            while True:
                raw = proc.stdout.read(read_frames * frame_bytes)
                if not raw:
                    break
                usable = len(raw) - len(raw) % frame_bytes
                block = np.frombuffer(raw[:usable], dtype="<f4").astype(np.float32).reshape(-1, channels)
                if not np.isfinite(block).all():
                    raise AudioError(path, "corrupt audio: contains NaN or infinite samples")
                yield block
            if proc.wait() != 0:
                err.seek(0)
                detail = _ffmpeg_message(path, err.read().decode(errors="replace")) or "no message"
                raise AudioError(path, f"ffmpeg could not decode it ({detail})")
        finally:
            if proc.poll() is None:  # the caller stopped early, or an error: do not leave ffmpeg running
                proc.kill()
            proc.wait()
            proc.stdout.close()


def read_tags(path: str | Path) -> dict[str, str]:
    """The file's text tags (title, artist, album, genre, date, ...; lower-case keys), read by libsndfile
    (FLAC, Ogg, WAV INFO, ...) or ``ffprobe`` (MP4, Matroska, ...); empty when it has none or cannot be read
    (tags are optional: decoding the file reports its problem)."""
    path = Path(path)
    try:
        # Ogg Opus keeps its comments on the stream in ffprobe's terms: libsndfile reads them
        if _ffmpeg_reason(path) in ("suffix", "container"):
            tags = _probe(path)["format"].get("tags") or {}
        else:
            with sf.SoundFile(str(path)) as f:
                tags = f.copy_metadata()
    except Exception:  # noqa: BLE001 - see the docstring
        return {}
    return {str(k).lower(): str(v) for k, v in tags.items() if str(v).strip()}


#: ffprobe's codec names of embedded pictures the image is kept as (others are converted to PNG)
COVER_SUFFIXES = {"mjpeg": ".jpg", "png": ".png"}


def read_cover(path: str | Path) -> tuple[bytes, str] | None:
    """The cover picture embedded in an audio file (MP3 APIC, FLAC PICTURE, MP4 covr, ...) as (image bytes,
    ".jpg" or ".png"), read with ffmpeg; None when the file has none, or ffmpeg is not installed (covers are
    optional: decoding the file reports its problems)."""
    path = Path(path)
    try:
        streams = _probe(path).get("streams") or []
        pic = next((st for st in streams if (st.get("disposition") or {}).get("attached_pic") == 1), None)
        if pic is None:
            return None
        codec = str(pic.get("codec_name"))
        exe, _ = _ffmpeg_tools(path)
        out = subprocess.run(
            [exe, "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{int(pic['index'])}"]
            + [
                "-c:v",
                "copy" if codec in COVER_SUFFIXES else "png",
                "-frames:v",
                "1",
                "-f",
                "image2pipe",
                "-",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (AudioError, OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout:
        return None
    return out.stdout, COVER_SUFFIXES.get(codec, ".png")


def load_audio(path: str | Path, sample_rate: int = DEFAULT_SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Decode ``path`` to float32 mono (channel mean) at ``sample_rate`` [Hz]: returns (samples, sample_rate)."""
    path = Path(path)
    _check_path(path)
    data, sr = _read_all(path)
    if data.size == 0:
        raise AudioError(path, "zero-length audio (no samples)")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise AudioError(path, "corrupt audio: contains NaN or infinite samples")
    mono = to_mono(data)
    if data.dtype == np.int16:
        mono *= np.float32(1.0 / 32768.0)  # libsndfile's int16 -> float scaling
    return resample(mono, sr, sample_rate), int(sample_rate)


def read_excerpt(path: str | Path, start: int, frames: int) -> np.ndarray:
    """Mono float32 samples ``[start, start + frames)`` of ``path`` at its own sample rate (fewer at its
    end), read by seeking; raises AudioError like :func:`load_audio`. Through ffmpeg the seek is ffmpeg's
    own, so the excerpt starts within 2 ms of ``start`` (see :func:`_ffmpeg_blocks`) and lossy audio
    differs from a decode from the start over its first 2048 samples (the decoder's warm-up); a random
    excerpt, its one use (the synth's stems), needs no more. A decode from the start took a 5-minute file's
    whole decoding time for an excerpt near its end."""
    path = Path(path)
    _check_path(path)
    if _use_ffmpeg(path):
        sr, ch, _ = _audio_stream(path)
        parts, got = [], 0
        for block in _ffmpeg_blocks(path, ch, start_s=max(0, int(start)) / sr):
            parts.append(to_mono(block[: int(frames) - got]))
            got += len(parts[-1])
            if got >= int(frames):
                break
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
    with _open(path) as f:
        try:
            f.seek(max(0, min(int(start), f.frames)))
            block = f.read(int(frames), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise _libsndfile_error(path, exc) from exc
    if not np.isfinite(block).all():
        raise AudioError(path, "corrupt audio: contains NaN or infinite samples")
    return to_mono(block)


def iter_audio_blocks(
    path: str | Path,
    block_s: float,
    overlap_s: float,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    read_frames: int = 65536,
) -> Iterator[np.ndarray]:
    """Stream a long file as overlapping float32 mono blocks at ``sample_rate`` [Hz], with bounded memory.

    With ``L = round(block_s * sample_rate)`` and ``O = round(overlap_s * sample_rate)``, block ``k``
    holds samples ``[k * (L - O), k * (L - O) + L)`` of what :func:`load_audio` returns (up to soxr's
    streaming rounding, below 1e-4). Every block has ``L`` samples except the last, which is shorter
    and always holds new samples beyond the previous block; a file shorter than ``L`` gives one block.
    """
    path = Path(path)
    block_len = round(block_s * sample_rate)
    overlap_len = round(overlap_s * sample_rate)
    if block_len <= 0 or not 0 <= overlap_len < block_len:
        raise ValueError(f"need block_s > overlap_s >= 0, got block_s={block_s}, overlap_s={overlap_s}")
    info = audio_info(path)  # errors surface here, at call time, not at the first block
    return _iter_blocks(path, info, block_len, overlap_len, sample_rate, read_frames)


def _iter_blocks(
    path: Path, info: AudioInfo, block_len: int, overlap_len: int, sample_rate: int, read_frames: int
) -> Iterator[np.ndarray]:
    chunks = iter_file_blocks(path, read_frames)
    stream = None
    if info.sample_rate_hz != sample_rate:
        stream = soxr.ResampleStream(
            info.sample_rate_hz, sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
        )
    step = block_len - overlap_len
    buf = np.zeros(0, dtype=np.float32)
    emitted_end = 0  # absolute end (exclusive) of the last yielded block
    buf_start = 0  # absolute index of buf[0]
    done = False
    while not done:
        try:
            chunk = next(chunks)
        except StopIteration:
            chunk = np.zeros(0, dtype=np.float32)
            done = True
        if stream is not None:
            chunk = np.asarray(stream.resample_chunk(chunk, last=done), dtype=np.float32)
        buf = np.concatenate([buf, chunk]) if len(buf) else chunk
        while len(buf) >= block_len:
            yield buf[:block_len].copy()
            emitted_end = buf_start + block_len
            buf = buf[step:]
            buf_start += step
    if len(buf) and (emitted_end == 0 or buf_start + len(buf) > emitted_end):
        yield buf.copy()


def iter_file_blocks(path: str | Path, read_frames: int = 65536, mono: bool = True) -> Iterator[np.ndarray]:
    """float32 chunks of ``read_frames`` frames straight from libsndfile, at the file's own rate: mono (N,),
    or (N, channels) with ``mono=False``; through ``ffmpeg`` for the files libsndfile does not read. Errors
    name the file (:class:`AudioError`)."""
    path = Path(path)
    if _use_ffmpeg(path):
        for block in _ffmpeg_blocks(path, _audio_stream(path)[1], read_frames):
            yield to_mono(block) if mono else block
        return
    with _open(path) as f:
        try:
            for block in f.blocks(blocksize=read_frames, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    raise AudioError(path, "corrupt audio: contains NaN or infinite samples")
                yield to_mono(block) if mono else block
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise _libsndfile_error(path, exc) from exc
