"""Audio file suffixes drumscribe reads (dependency-free, so CLIs can import it without loading the decoder)."""

from __future__ import annotations

from pathlib import Path

#: Suffixes (lower case, with the dot) of the files libsndfile decodes (MP3 too since libsndfile 1.1).
LIBSNDFILE_EXTENSIONS = frozenset(
    [
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".snd",
        ".caf",
        ".w64",
        ".rf64",
        ".wv",
        ".sd2",
        ".voc",
    ]
)
#: Suffixes of the files :mod:`drumscribe.audio` decodes with the ``ffmpeg`` command (libsndfile reads none of
#: them): AAC or ALAC in MP4 (.m4a, the usual bought or ripped song), Matroska/WebM and MP4/QuickTime video with
#: an audio track (downloaded videos), and raw AAC (ADTS). The first audio stream is decoded. A raw .aac file
#: has no record of its encoder's delay, so its audio (and every onset) comes out that much late: 1024-2048
#: samples, 21-46 ms at 48 kHz; in MP4 the delay is recorded and removed.
FFMPEG_EXTENSIONS = frozenset([".m4a", ".m4b", ".mp4", ".m4v", ".mov", ".aac", ".mka", ".mkv", ".webm"])
#: Suffixes of every audio file :mod:`drumscribe.audio` decodes.
AUDIO_EXTENSIONS = LIBSNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS


def audio_files_under(folder: Path) -> list[Path]:
    """The files under ``folder`` (recursive) with an audio suffix, in sorted order."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
