"""A Clone Hero song: the drum chart, its ``song.ini`` and the song's audio, as a folder or a zip of one.

Clone Hero (and YARG) load a song from a folder holding ``notes.chart``, the audio (``song.ogg``,
``song.mp3``, ``song.wav`` or ``song.opus``) and ``song.ini``, the song's metadata. Without
``pro_drums = True`` there, the game plays a 4-lane chart's cymbal markers as toms, so the ini is not
optional for our Pro Drums charts (:mod:`drumscribe.transcribe.chart`). Its name, artist, album, genre
and year come from the audio file's tags where it has them (else the name is the file's stem), .m4a
files' included. A cover picture embedded in the audio file (MP3, FLAC, .m4a, ...) becomes the song's
``album.jpg`` or ``album.png`` (read with ffmpeg, when it is installed).

* **Folder** (``drumscribe transcribe -f clonehero``, ``OUT/<stem>-clonehero/``): put it, or the output
  folder, in the game's song folder and rescan. It is built beside its destination and renamed into place,
  so an interrupted export leaves no half-written song.
* **Zip** (:meth:`Transcription.to_clonehero` with a ``.zip`` path; the web page's download): one song
  folder inside, the usual way charts are shared.

The audio is copied byte for byte when the game can play its format (Ogg Vorbis or Opus, MP3, WAV); any
other (FLAC, AIFF, .m4a, WebM, ...) is encoded to Ogg Vorbis in blocks (bounded memory on long files), at most two
channels (more are mixed to mono) and at most 48 kHz (higher rates are resampled to 44.1 kHz).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..fileio import atomic_open
from .chart import Chart, build_chart, drum_tier, song_name

if TYPE_CHECKING:
    from ..audio import AudioInfo
    from .result import Transcription

#: the game's audio file name stem, and libsndfile format -> the suffix the game plays it under
SONG_STEM = "song"
PLAYABLE = {"WAV": ".wav", "WAVEX": ".wav", "MP3": ".mp3", "MPEG": ".mp3"}
#: the highest sample rate [Hz] kept when encoding; higher ones are resampled to ENCODE_RATE_HZ
MAX_RATE_HZ = 48000
ENCODE_RATE_HZ = 44100
#: frames per block when encoding (bounded memory; libsndfile 1.2.2's Vorbis encoder also crashed here on one
#: 197-s write, never on blocks)
BLOCK_FRAMES = 65536


def playable_suffix(info: AudioInfo) -> str | None:
    """The suffix under which the game plays the file of ``info`` as it is, or None when it must be encoded."""
    if info.format == "OGG":
        return ".opus" if info.subtype == "OPUS" else ".ogg"
    return PLAYABLE.get(info.format)


def encode_ogg(info: AudioInfo, dest: Path) -> None:
    """The file of ``info`` as Ogg Vorbis at ``dest`` (see the module docstring), read and written in blocks."""
    import soundfile as sf
    import soxr

    from ..audio import RESAMPLE_QUALITY, iter_file_blocks

    rate = info.sample_rate_hz if info.sample_rate_hz <= MAX_RATE_HZ else ENCODE_RATE_HZ
    channels = info.channels if info.channels <= 2 else 1
    stream = None
    if rate != info.sample_rate_hz:
        stream = soxr.ResampleStream(
            info.sample_rate_hz, rate, channels, dtype="float32", quality=RESAMPLE_QUALITY
        )
    with sf.SoundFile(
        str(dest), "w", samplerate=rate, channels=channels, format="OGG", subtype="VORBIS"
    ) as out:
        for block in iter_file_blocks(info.path, BLOCK_FRAMES, mono=channels == 1 and info.channels > 1):
            block = block.reshape(len(block), -1)
            if stream is not None:
                block = stream.resample_chunk(block)
            out.write(np.clip(block, -1.0, 1.0))
        if stream is not None:
            out.write(
                np.clip(stream.resample_chunk(np.zeros((0, channels), np.float32), last=True), -1.0, 1.0)
            )


#: audio file tags (lower-case, as :func:`drumscribe.audio.read_tags` gives them) -> song.ini keys
TAGS = {"title": "name", "artist": "artist", "album": "album", "genre": "genre", "date": "year"}


def audio_tags(audio: Path) -> dict[str, str]:
    """song.ini values from the audio file's tags (title, artist, album, genre, year) where it has them
    (FLAC, Ogg, WAV INFO through libsndfile; MP4/.m4a, Matroska/WebM through ffprobe); none otherwise."""
    from ..audio import read_tags

    meta = read_tags(audio)
    out = {}
    for tag, key in TAGS.items():
        value = " ".join(meta.get(tag, "").split())  # one line
        if key == "year":
            value = value[:4] if value[:4].isdigit() else ""
        if value:
            out[key] = value
    return out


def song_ini_lines(
    tr: Transcription, tags: dict[str, str] | None = None, chart: Chart | None = None
) -> list[str]:
    """``song.ini``: name (and artist, album, genre, year from ``tags``), charter, length, the song list's
    preview start and the drums' difficulty tier (from ``chart``, built here when not given), Pro Drums on,
    and where the chart came from."""
    from .. import __version__

    tags = dict(tags or {})
    chart = chart or build_chart(tr)
    return [
        "[song]",
        f"name = {tags.pop('name', song_name(tr))}",
        *(f"{key} = {value}" for key, value in tags.items()),
        "charter = drumscribe",
        f"song_length = {round(1000 * tr.duration_s)}",
        f"preview_start_time = {round(1000 * chart.preview_start_s)}",
        f"diff_drums = {drum_tier(chart.notes_per_s)}",
        f"diff_drums_real = {drum_tier(chart.notes_per_s)}",
        "pro_drums = True",
        "five_lane_drums = False",
        "delay = 0",
        f"loading_phrase = Drums transcribed by drumscribe {__version__} ({tr.model_name} model); "
        "check the chart before you share it.",
    ]


def _fill(tr: Transcription, folder: Path, audio: Path) -> dict[str, Path]:
    """Write the song's chart and ini (and its audio, when it must be encoded) into the (empty) ``folder``;
    returns the song's files by name, audio the game plays as it is given by its original path (not copied
    here: the folder or the zip takes it from there)."""
    from ..audio import audio_info, read_cover

    info = audio_info(audio)  # raises AudioError (naming the file) for missing, corrupt or non-audio files
    suffix = playable_suffix(info)
    stream = SONG_STEM + (suffix or ".ogg")
    if not suffix:
        encode_ogg(info, folder / stream)
    chart = build_chart(tr, music_stream=stream)
    with open(folder / "notes.chart", "w", encoding="utf-8", newline="\r\n") as fh:
        fh.write("\n".join(chart.lines) + "\n")
    with open(folder / "song.ini", "w", encoding="utf-8", newline="\r\n") as fh:
        fh.write("\n".join(song_ini_lines(tr, audio_tags(audio), chart)) + "\n")
    files = {
        "notes.chart": folder / "notes.chart",
        "song.ini": folder / "song.ini",
        stream: audio if suffix else folder / stream,
    }
    cover = read_cover(audio)
    if cover is not None:
        image, ext = cover
        (folder / f"album{ext}").write_bytes(image)
        files[f"album{ext}"] = folder / f"album{ext}"
    return files


@contextlib.contextmanager
def _staged(parent: Path) -> Iterator[Path]:
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".clonehero.", suffix=".part", dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_song(tr: Transcription, path: str | Path, audio: str | Path | None = None) -> Path:
    """Write ``tr`` as a Clone Hero song: a ``.zip`` path gets a zip of the song folder, any other path
    becomes the folder (replacing one there). ``audio``: the song's audio file (default:
    ``tr.audio_path``, the file that was transcribed). Returns ``path``."""
    path = Path(path)
    src = audio if audio is not None else tr.audio_path
    if src is None:
        raise ConfigError(
            f"{path}: a Clone Hero song needs the song's audio; this transcription was made from samples, "
            "so pass the audio file (to_clonehero(path, audio=...))"
        )
    src = Path(src)
    as_zip = path.suffix.lower() == ".zip"
    with _staged(path.parent) as staging:
        song = staging / "new" / (_folder_name(song_name(tr)) if as_zip else path.name)
        song.mkdir(parents=True)
        files = _fill(tr, song, src)
        if as_zip:
            with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
                for name, f in sorted(files.items()):
                    packed = zipfile.ZIP_DEFLATED if f.suffix in (".chart", ".ini") else zipfile.ZIP_STORED
                    zf.write(f, f"{song.name}/{name}", compress_type=packed)
            return path
        for name, f in files.items():
            if f.parent != song:  # audio played as it is
                shutil.copyfile(f, song / name)
        old = None
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"{path}: exists and is not a folder")
            old = staging / "old"
            os.replace(path, old)
        try:
            os.replace(song, path)
        except OSError:
            if old is not None:  # put the song that was there back
                os.replace(old, path)
            raise
    return path


def _folder_name(name: str) -> str:
    """``name`` as a folder name inside the zip: no path separators or characters Windows refuses."""
    cleaned = "".join("_" if c in '<>:"/\\|?*' or not c.isprintable() else c for c in name).strip(" .")
    return cleaned or "drums"
