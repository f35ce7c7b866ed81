"""The common machinery of every converter: layout check, job list, parallel conversion, summary.

A converter lists the tracks of a release as :class:`TrackJob` objects (plus a :class:`Problem` for every
track whose files are missing, so a partial download converts what is there) and turns one job into store
tracks. :func:`convert` runs the jobs in worker processes with a progress bar, skips tracks a previous
run finished (their ``.track.json`` record exists; files are written atomically, record last) but refuses to
resume a store whose tracks another dataset, other feature settings or other converter options made (the
run's settings are written to ``.convert/run.json`` before the first track), collects
every failure by track and file name without stopping the rest, and finally writes ``manifest.json``
with the training statistics and ``conversion.json`` with the summary.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ... import audioformats
from ...errors import AnnotationError, DatasetLayoutError, DrumscribeError, OutputExistsError
from ...fileio import json_default, read_json, write_json
from ...vocab import CLASS_NAMES, LabelMap
from ..annotations import Annotation
from ..store import MANIFEST, SPLITS, StoreWriter, TrackRecord, file_checksum, safe_track_id
from . import DEFAULT_WORKERS

log = logging.getLogger(__name__)

REPORT_NAME = "conversion.json"
#: written before the first track, so a resumed run can check it converts the same thing the same way
RUN_RECORD = Path(".convert") / "run.json"
#: the suffixes :mod:`drumscribe.audio` decodes, WAV and FLAC first (the order a converter tries them in)
AUDIO_EXTENSIONS = (".wav", ".flac", *sorted(audioformats.AUDIO_EXTENSIONS - {".wav", ".flac"}))


@dataclass
class TrackJob:
    """One unit of work: usually one track (ADTOF-YT: one shard file, written as several store tracks)."""

    track_id: str
    split: str
    audio: list[Path] = field(default_factory=list)  # mixed 1:1 when there are several
    annotation: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Problem:
    """A track that could not be converted: its id, the file at fault and what went wrong."""

    track_id: str
    path: str
    message: str

    def __str__(self) -> str:
        if self.path and self.path in self.message:
            return f"{self.track_id}: {self.message}"
        return f"{self.track_id}: {self.path}: {self.message}"


@dataclass
class ConversionSummary:
    """What a conversion did; also saved as ``conversion.json`` in the store folder."""

    dataset: str
    out: str
    jobs: int = 0
    converted: int = 0
    skipped: int = 0
    failed: list[Problem] = field(default_factory=list)
    missing: list[Problem] = field(default_factory=list)
    tracks: int = 0
    hours: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def format(self) -> str:
        lines = [
            f"{self.dataset}: {self.converted} converted, {self.skipped} already done, "
            f"{len(self.failed)} failed, {len(self.missing)} missing; store {self.out} holds "
            f"{self.tracks} tracks, {self.hours:.2f} h"
        ]
        if self.failed:
            lines.append("failed:")
            lines += [f"  {p}" for p in self.failed]
        if self.missing:
            lines.append("missing files (partial download?):")
            lines += [f"  {p}" for p in self.missing]
        return "\n".join(lines)


class Converter:
    """Base class of the dataset converters. Subclasses set the class variables and :meth:`list_jobs`."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: The expected folder layout, quoted by :meth:`layout_error`.
    layout: ClassVar[str] = ""
    label_map: LabelMap | None = None

    def __init__(self, src: str | Path, **options: Any):
        self.src = Path(src)
        self.options = options

    # -- to override -------------------------------------------------------------------------------
    def check_layout(self) -> None:
        """Raise :class:`DatasetLayoutError` unless ``src`` looks like this release."""
        if self.src.is_file():
            raise self.layout_error("a file, not the dataset's folder")
        if not self.src.is_dir():
            raise self.layout_error("folder not found")

    def list_jobs(self) -> tuple[list[TrackJob], list[Problem]]:
        """All tracks to convert, and a problem for every track whose files are missing."""
        raise NotImplementedError

    def read_annotation(self, job: TrackJob) -> Annotation:
        raise NotImplementedError

    def job_done(self, job: TrackJob, writer: StoreWriter) -> bool:
        return writer.has_track(job.track_id)

    def convert_job(self, job: TrackJob, writer: StoreWriter, feature_config: Any) -> list[TrackRecord]:
        """Default: load and mix the audio files, compute features, read the annotation, store one track
        (its record's ``level_dbfs``: the mixed audio's gated level, :class:`~drumscribe.audio.LevelMeter`)."""
        from ...audio import LevelMeter, load_audio
        from ...features import log_spectrogram

        signal = None
        for path in job.audio:
            samples, _ = load_audio(path, sample_rate=feature_config.sample_rate_hz)
            signal = samples if signal is None else mix_signals(signal, samples)
        if signal is None:
            raise DrumscribeError(f"{job.track_id}: no audio file given")
        features = log_spectrogram(signal, feature_config.sample_rate_hz, feature_config)
        meter = LevelMeter(feature_config.sample_rate_hz)
        meter.add(signal)
        level = meter.level_dbfs()
        annotation = self.read_annotation(job)
        files = [*job.audio, *([job.annotation] if job.annotation is not None else [])]
        record = writer.write_track(
            job.track_id,
            job.split,
            features,
            annotation.onsets,
            velocities=annotation.velocities,
            source_files=[self.relative(p) for p in files],
            checksums={self.relative(p): file_checksum(p) for p in files},
            meta={**job.meta, "level_dbfs": None if level is None else round(level, 3)},
        )
        return [record]

    # -- helpers -----------------------------------------------------------------------------------
    def layout_error(self, problem: str) -> DatasetLayoutError:
        return DatasetLayoutError(
            f"{self.src}: {problem}; this is not a {self.title} folder. Expected layout:\n{self.layout}"
        )

    def relative(self, path: Path) -> str:
        """``path`` relative to the source folder (manifests hold no absolute paths)."""
        try:
            return Path(path).relative_to(self.src).as_posix()
        except ValueError:
            return Path(path).name

    def missing(self, track_id: str, *paths: Path) -> Problem | None:
        """A :class:`Problem` naming the first of ``paths`` that does not exist, else None."""
        for p in paths:
            if not Path(p).is_file():
                return Problem(track_id, self.relative(p), "file not found")
        return None

    def source_info(self) -> dict[str, Any]:
        return {
            "converter": self.name,
            "title": self.title,
            "src_name": self.src.name,
            "options": self.options,
        }


def mix_signals(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sample-by-sample sum (1:1, no gain, no clipping); the shorter signal is padded with zeros."""
    n = max(len(a), len(b))
    out = np.zeros(n, dtype=np.float32)
    out[: len(a)] += a
    out[: len(b)] += b
    return out


def check_split(split: str, where: str) -> str:
    if split not in SPLITS:
        raise DatasetLayoutError(f"{where}: split {split!r} is not one of {', '.join(SPLITS)}")
    return split


# -- running ---------------------------------------------------------------------------------------


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def _run_job(
    converter: Converter, job: TrackJob, out: str, name: str, feature_config: dict[str, Any]
) -> tuple[str, list[dict[str, Any]] | None, Problem | None]:
    """Convert one job; never raises (errors come back as a :class:`Problem`)."""
    from ...features import FeatureConfig

    fc = FeatureConfig.from_dict(feature_config)
    writer = StoreWriter(out, name, feature_config, classes=CLASS_NAMES)
    try:
        records = converter.convert_job(job, writer, fc)
    except Exception as exc:  # noqa: BLE001 - any failure is reported by track, the rest goes on
        path = getattr(exc, "path", None)
        if path is None and isinstance(exc, AnnotationError):
            path = job.annotation
        if path is None:
            path = job.audio[0] if job.audio else (job.annotation or Path(job.track_id))
        message = str(exc) if isinstance(exc, DrumscribeError) else f"{type(exc).__name__}: {exc}"
        return job.track_id, None, Problem(job.track_id, converter.relative(Path(path)), message)
    return job.track_id, [r.to_dict() for r in records], None


_STORE_FILES = ("*.features.npy", "*.targets.npy", "*.onsets.json", "*.track.json", ".*.part")


def _clear_tracks(out: Path) -> None:
    """Remove the track files of a store (only files named as the store names them)."""
    tracks = out / "tracks"
    if tracks.is_dir():
        for pattern in _STORE_FILES:
            for p in tracks.glob(pattern):
                if p.is_file():
                    p.unlink()
    marks = out / ".convert"
    if marks.is_dir():
        for p in marks.glob("*.done"):
            p.unlink()


def convert(
    converter: Converter,
    out: str | Path,
    workers: int = DEFAULT_WORKERS,
    overwrite: bool = False,
    feature_config: Any = None,
    progress: bool = True,
) -> ConversionSummary:
    """Convert ``converter.src`` into the store ``out``; see the module docstring."""
    from tqdm import tqdm

    from ...features import FeatureConfig

    out = Path(out)
    fc = feature_config or FeatureConfig()
    fc_dict = fc.to_dict()
    converter.check_layout()
    jobs, missing = converter.list_jobs()
    jobs = _distinct_file_names(jobs, missing)
    if not jobs:
        first = "; ".join(str(p) for p in missing[:3])
        raise converter.layout_error(
            "no tracks found"
            + (f" ({len(missing)} listed tracks have problems; the first: {first})" if missing else "")
        )
    run = {"name": converter.name, "feature_config": fc_dict, "options": _plain(converter.options)}
    _check_existing(out, run, overwrite)
    if overwrite:
        _clear_tracks(out)
    elif (out / "tracks").is_dir():
        for stale in (out / "tracks").glob(".*.part"):  # left by a killed run: never a finished file
            stale.unlink(missing_ok=True)
    write_json(out / RUN_RECORD, run)
    writer = StoreWriter(out, converter.name, fc_dict, classes=CLASS_NAMES, source=converter.source_info())
    summary = ConversionSummary(dataset=converter.name, out=str(out), jobs=len(jobs), missing=list(missing))
    todo = [j for j in jobs if overwrite or not converter.job_done(j, writer)]
    summary.skipped = len(jobs) - len(todo)
    if summary.skipped:
        log.info(
            "%s: %d of %d tracks already converted, skipping them", converter.name, summary.skipped, len(jobs)
        )
    bar = tqdm(total=len(todo), desc=f"convert {converter.name}", unit="track", disable=not progress)
    args = (str(out), converter.name, fc_dict)

    def handle(result: tuple[str, list[dict[str, Any]] | None, Problem | None]) -> None:
        _, records, problem = result
        if problem is not None:
            log.warning("%s", problem)
            summary.failed.append(problem)
        else:
            summary.converted += 1
        bar.update(1)

    try:
        if workers <= 1 or len(todo) <= 1:
            for job in todo:
                handle(_run_job(converter, job, *args))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
                pending = {pool.submit(_run_job, converter, job, *args) for job in todo}
                try:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            handle(fut.result())
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
    finally:
        bar.close()
    manifest = writer.finalize(extra={"conversion": {"jobs": len(jobs), "source": converter.source_info()}})
    summary.tracks = len(manifest["tracks"])
    summary.hours = sum(t["duration_s"] for t in manifest["tracks"]) / 3600.0
    summary.failed.sort(key=lambda p: p.track_id)
    write_json(out / REPORT_NAME, summary.to_dict())
    return summary


def _plain(obj: Any) -> Any:
    """``obj`` as its JSON form reads back (paths as strings, tuples as lists), for comparing runs."""
    return json.loads(json.dumps(obj, default=json_default))


def _distinct_file_names(jobs: list[TrackJob], problems: list[Problem]) -> list[TrackJob]:
    """The jobs whose store file names (:func:`~drumscribe.data.store.safe_track_id`) differ; a later job
    whose files would overwrite an earlier one's ("my song" and "my_song", "a/b" and "a__b") becomes a
    problem instead."""
    owner: dict[str, str] = {}
    kept = []
    for job in jobs:
        key = safe_track_id(job.track_id)
        if key in owner and owner[key] != job.track_id:
            problems.append(
                Problem(
                    job.track_id,
                    job.track_id,
                    f"its store files would be named like those of {owner[key]!r} ({key}); rename one of them",
                )
            )
            continue
        owner.setdefault(key, job.track_id)
        kept.append(job)
    return kept


def _check_existing(out: Path, run: dict[str, Any], overwrite: bool) -> None:
    """Refuse to add to a store that another dataset or other feature settings (``run``: name, feature_config)
    wrote, or whose tracks other converter options (``run["options"]``) made, finished (its manifest) or
    interrupted (its run record); with ``overwrite`` anything goes but a file in the way."""
    if out.is_file():
        raise OutputExistsError(f"{out}: exists and is a file, not a store folder")
    if overwrite:
        return
    has_tracks = any((out / "tracks").glob("*.track.json"))
    if (out / RUN_RECORD).is_file():
        before = read_json(out / RUN_RECORD)
    elif (out / MANIFEST).is_file():
        manifest = read_json(out / MANIFEST)
        source = (manifest.get("conversion") or {}).get("source") or {}
        before = {k: manifest.get(k) for k in ("name", "feature_config")}
        if "options" in source:
            before["options"] = source["options"]
    elif has_tracks:
        raise OutputExistsError(
            f"{out}: holds tracks but no record of the conversion that wrote them (no manifest.json, no "
            f"{RUN_RECORD.as_posix()}); choose another folder or pass --overwrite"
        )
    else:
        return
    if before.get("name") != run["name"]:
        raise OutputExistsError(
            f"{out}: holds the store of {before.get('name')!r}, not {run['name']!r}; choose another folder "
            "or pass --overwrite"
        )
    if before.get("feature_config") != run["feature_config"]:
        raise OutputExistsError(
            f"{out}: was converted with other feature settings ({before.get('feature_config')}); "
            "pass --overwrite to convert again"
        )
    if "options" not in before or not has_tracks:
        return  # an older record without options, or no track to disagree with (every track failed)
    old, new = before["options"] or {}, run["options"]
    changed = [
        f"{k}: {old.get(k)!r} then, {new.get(k)!r} now"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
    if changed:
        raise OutputExistsError(
            f"{out}: was converted with other options ({', '.join(changed)}); its tracks would not match them. "
            "Pass --overwrite to convert again, or choose another folder"
        )


def sorted_dirs(folder: Path, pattern: str = "*") -> list[Path]:
    """Visible sub-folders of ``folder`` matching ``pattern``, sorted by name."""
    return sorted(p for p in folder.glob(pattern) if p.is_dir() and not p.name.startswith("."))


def describe(paths: Sequence[Path], limit: int = 8) -> str:
    names = [p.name for p in paths[:limit]]
    return ", ".join(names) + (", ..." if len(paths) > limit else "") if names else "nothing"
