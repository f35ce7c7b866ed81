"""Audio file suffixes drumscribe reads (dependency-free, so CLIs can import it without loading the decoder)."""

from __future__ import annotations

from pathlib import Path

#: Suffixes (lower case, with the dot) of the audio files that :mod:`drumscribe.audio` can decode.
AUDIO_EXTENSIONS = frozenset(
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


def audio_files_under(folder: Path) -> list[Path]:
    """The files under ``folder`` (recursive) with an audio suffix, in sorted order."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
