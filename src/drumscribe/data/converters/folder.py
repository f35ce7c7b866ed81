"""Your own recordings: audio files with a sidecar annotation of the same name, and a label map.

Sidecars: ``<name>.txt`` (``time<TAB>label`` per line), ``<name>.csv`` (header with ``time,label``,
optional ``velocity``) or ``<name>.mid``. Labels go through ``--label-map`` (drumscribe, enst, mdb, gm,
roland or a JSON file ``{label: class name}``). Without it, MIDI sidecars are read as General MIDI and text
sidecars with drumscribe's own class names, so the ``.txt`` and ``.csv`` that ``drumscribe transcribe``
writes, corrected by hand, convert as they are. The split comes from
``--split`` or from ``splits.json`` in the folder, either ``{"train": [names...], "test": [...]}`` or
``{name: split}``, where a name is the audio path relative to the folder, with or without extension.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import AnnotationError, ConfigError
from ..annotations import Annotation, read_annotation, resolve_label_map
from ..store import SPLITS
from .base import AUDIO_EXTENSIONS, Converter, Problem, TrackJob

SIDECAR_EXTENSIONS = (".txt", ".csv", ".mid", ".midi")
SPLITS_FILE = "splits.json"


#: how to read sidecars labelled otherwise (the end of the label errors)
OTHER_LABEL_MAP = "--label-map names another (enst, mdb, gm, roland or a JSON file)"


class FolderConverter(Converter):
    name = "folder"
    title = "annotated audio folder"
    layout = (
        "  <any/sub/folders>/<name>.wav|.flac|.ogg|.mp3|...\n"
        "  <name>.txt (time<TAB>label) | <name>.csv (time,label) | <name>.mid   beside each audio file\n"
        f'  optional {SPLITS_FILE}: {{"train": [names], "validation": [...], "test": [...]}}'
    )

    def __init__(self, src, label_map: str | None = None, split: str | None = None, **options):
        if split is not None and split not in SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
        super().__init__(src, label_map=label_map, split=split, **options)
        self.label_map_spec = label_map
        self.split = split

    def _audio_files(self) -> list[Path]:
        return sorted(
            p
            for p in self.src.rglob("*")
            if p.suffix.lower() in AUDIO_EXTENSIONS
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.src).parts)
        )

    def check_layout(self) -> None:
        super().check_layout()
        if not self._audio_files():
            raise self.layout_error(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")

    def _splits(self) -> dict[str, str]:
        path = self.src / SPLITS_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AnnotationError(f"{path}: cannot read splits ({exc})") from None
        if not isinstance(data, dict):
            raise AnnotationError(f"{path}: must be a JSON object")
        out: dict[str, str] = {}
        for key, value in data.items():
            if key in SPLITS and isinstance(value, list):
                out.update(
                    {
                        str(Path(str(n)).with_suffix(""))
                        if Path(str(n)).suffix.lower() in AUDIO_EXTENSIONS
                        else str(n): key
                        for n in value
                    }
                )
            elif isinstance(value, str) and value in SPLITS:
                name = str(Path(key).with_suffix("")) if Path(key).suffix.lower() in AUDIO_EXTENSIONS else key
                out[name] = value
            else:
                raise AnnotationError(f"{path}: entry {key!r}: expected a split name or a list of tracks")
        return out

    def list_jobs(self) -> tuple[list[TrackJob], list[Problem]]:
        splits = self._splits()
        jobs: list[TrackJob] = []
        problems: list[Problem] = []
        seen: set[str] = set()
        for audio in self._audio_files():
            track_id = audio.relative_to(self.src).with_suffix("").as_posix()
            if track_id in seen:
                problems.append(
                    Problem(track_id, self.relative(audio), "another audio file has the same name")
                )
                continue
            seen.add(track_id)
            sidecar = next(
                (audio.with_suffix(ext) for ext in SIDECAR_EXTENSIONS if audio.with_suffix(ext).is_file()),
                None,
            )
            if sidecar is None:
                problems.append(
                    Problem(
                        track_id,
                        self.relative(audio.with_suffix(".txt")),
                        "no sidecar annotation (.txt, .csv or .mid) found",
                    )
                )
                continue
            split = self.split or splits.get(track_id) or splits.get(audio.stem)
            if split is None:
                if splits:
                    problems.append(Problem(track_id, SPLITS_FILE, "track not listed in splits.json"))
                    continue
                split = "test"
            jobs.append(TrackJob(track_id, split, audio=[audio], annotation=sidecar))
        return jobs, problems

    def read_annotation(self, job: TrackJob) -> Annotation:
        assert job.annotation is not None
        if self.label_map_spec is not None:
            spec = self.label_map_spec
        elif job.annotation.suffix.lower() in (".mid", ".midi"):
            spec = "gm"
        else:
            spec = "drumscribe"
        try:
            ann = read_annotation(job.annotation, resolve_label_map(spec))
        except AnnotationError as exc:
            if self.label_map_spec is not None or spec != "drumscribe":
                raise
            raise AnnotationError(
                f"{exc}; text sidecars are read with drumscribe's class names (kick, snare, toms, hihat, "
                f"cymbals or KD, SD, TT, HH, CY) unless {OTHER_LABEL_MAP}"
            ) from None
        if ann.unknown_labels:  # a sidecar is the user's own: a map that knows none of it is a mistake
            shown = ", ".join(repr(k) for k in ann.unknown_labels[:8])
            raise AnnotationError(
                f"{job.annotation}: none of its labels is in the {spec} label map ({shown}): the track would "
                f"convert with no onsets; {OTHER_LABEL_MAP}"
            )
        return ann
