"""MDB Drums (full mixes + subclass annotations, SPEC split lists) and the ``mdb-dev`` validation folder."""

from __future__ import annotations

import logging

from ..annotations import Annotation, read_mdb
from .base import AUDIO_EXTENSIONS, Converter, Problem, TrackJob

log = logging.getLogger(__name__)

MDB_TRAIN = (
    "Punk",
    "CoolJazz",
    "Disco",
    "SwingJazz",
    "Rockabilly",
    "Gospel",
    "BebopJazz",
    "FunkJazz",
    "FreeJazz",
    "Reggae",
    "LatinJazz",
    "Britpop",
    "FusionJazz",
    "Shadows",
    "80sRock",
)
MDB_VALIDATION = ("Beatles", "Grunge", "Zeppelin", "ModalJazz")
MDB_TEST = ("Country1", "SpeedMetal", "Rock", "Hendrix")
MDB_PREFIX = "MusicDelta_"

#: (track name, split) for all 23 tracks, in list order.
MDB_SPLITS: tuple[tuple[str, str], ...] = (
    *((MDB_PREFIX + t, "train") for t in MDB_TRAIN),
    *((MDB_PREFIX + t, "validation") for t in MDB_VALIDATION),
    *((MDB_PREFIX + t, "test") for t in MDB_TEST),
)


class MdbConverter(Converter):
    name = "mdb"
    title = "MDB Drums"
    layout = (
        "  audio/full_mix/MusicDelta_<name>_MIX.wav\n"
        "  annotations/subclass/MusicDelta_<name>_subclass.txt   (time<TAB>LABEL per line)"
    )

    def check_layout(self) -> None:
        super().check_layout()
        for sub in ("audio/full_mix", "annotations/subclass"):
            if not (self.src / sub).is_dir():
                raise self.layout_error(f"folder {sub}/ not found")

    def list_jobs(self) -> tuple[list[TrackJob], list[Problem]]:
        jobs: list[TrackJob] = []
        problems: list[Problem] = []
        for name, split in MDB_SPLITS:
            audio = self.src / "audio" / "full_mix" / f"{name}_MIX.wav"
            ann = self.src / "annotations" / "subclass" / f"{name}_subclass.txt"
            problem = self.missing(name, audio, ann)
            if problem is not None:
                problems.append(problem)
                continue
            jobs.append(TrackJob(name, split, audio=[audio], annotation=ann))
        listed = {n for n, _ in MDB_SPLITS}
        for p in sorted((self.src / "audio" / "full_mix").glob("*_MIX.wav")):
            if p.name[: -len("_MIX.wav")] not in listed:
                log.warning("MDB: %s is not in the split lists; skipped", p.name)
        return jobs, problems

    def read_annotation(self, job: TrackJob) -> Annotation:
        assert job.annotation is not None
        return read_mdb(job.annotation)


class MdbDevConverter(Converter):
    """The ``mdb-dev`` folder: ``mix/<Track>.flac`` (or ``drums/``) + ``annotations/<Track>.txt``, all test."""

    name = "mdb-dev"
    title = "mdb-dev (MDB Drums validation excerpt)"
    layout = (
        "  mix/<Track>.flac          (full mix; or drums/<Track>.flac with --stem drums)\n"
        "  annotations/<Track>.txt   (MDB subclass labels, time<TAB>LABEL per line)"
    )

    def __init__(self, src, stem: str = "mix", **options):
        if stem not in ("mix", "drums"):
            raise ValueError(f"mdb-dev: stem must be 'mix' or 'drums', not {stem!r}")
        super().__init__(src, stem=stem, **options)
        self.stem = stem

    def check_layout(self) -> None:
        super().check_layout()
        for sub in (self.stem, "annotations"):
            if not (self.src / sub).is_dir():
                raise self.layout_error(f"folder {sub}/ not found")

    def list_jobs(self) -> tuple[list[TrackJob], list[Problem]]:
        jobs: list[TrackJob] = []
        problems: list[Problem] = []
        for ann in sorted((self.src / "annotations").glob("*.txt")):
            name = ann.stem
            candidates = [self.src / self.stem / f"{name}{ext}" for ext in AUDIO_EXTENSIONS]
            audio = next((p for p in candidates if p.is_file()), None)
            if audio is None:
                problems.append(Problem(name, self.relative(candidates[0]), "file not found"))
                continue
            jobs.append(TrackJob(name, "test", audio=[audio], annotation=ann, meta={"stem": self.stem}))
        return jobs, problems

    def read_annotation(self, job: TrackJob) -> Annotation:
        assert job.annotation is not None
        return read_mdb(job.annotation)
