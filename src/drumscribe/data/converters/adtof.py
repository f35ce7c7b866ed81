"""ADTOF-YT: TensorFlow saved datasets of precomputed 400-frame segments, read without TensorFlow.

Features (madmom log spectrogram, 84 bands) and targets (label radiation [0.5, 1, 0.5]) are kept exactly
as shipped: nothing is remapped. The release has no track identity, so each shard file becomes store
tracks of up to ``segments_per_track`` consecutive segments; their records carry
``meta["segment_frames"] = 400`` so the loader draws training windows inside one segment. See
:mod:`drumscribe.data.converters.tfdata` for the file format.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DatasetLayoutError
from ...fileio import write_json
from ..store import SPLITS, StoreWriter, TrackRecord, file_checksum, safe_track_id
from . import DEFAULT_SEGMENTS_PER_TRACK
from .base import Converter, Problem, TrackJob, sorted_dirs
from .tfdata import decode_tensor, iter_tfrecord, snapshot_files

log = logging.getLogger(__name__)

N_CLASSES = 5


def folder_split(name: str) -> str | None:
    """The split of a saved-dataset folder name (``adtof_yt_train`` -> train), or None."""
    for split in SPLITS:
        if name == split or name.endswith(f"_{split}"):
            return split
    return None


def split_element(arrays: list[np.ndarray], where: str) -> tuple[np.ndarray, np.ndarray]:
    """(features (T, bands), targets (T, 5)) from one element's flattened components."""
    feats = [a for a in arrays if a.ndim >= 2 and a.shape[-1] != N_CLASSES]
    targs = [a for a in arrays if a.ndim == 2 and a.shape[-1] == N_CLASSES]
    if len(feats) != 1 or len(targs) != 1:
        shapes = [a.shape for a in arrays]
        raise DatasetLayoutError(
            f"{where}: expected an element ({{'x': [T, 84, 1]}}, [T, 5]), got shapes {shapes}"
        )
    x = feats[0].reshape(feats[0].shape[0], -1) if feats[0].ndim == 3 else feats[0]
    y = targs[0]
    if x.shape[0] != y.shape[0]:
        raise DatasetLayoutError(f"{where}: features have {x.shape[0]} frames but targets {y.shape[0]}")
    return x, y


class AdtofConverter(Converter):
    name = "adtof-yt"
    title = "ADTOF-YT"
    layout = (
        "  adtof_yt_train/ adtof_yt_validation/ adtof_yt_test/   (tf.data.Dataset.save folders)\n"
        "    snapshot.metadata, dataset_spec.pb, <run_id>/<NNNNNNNN>.shard/<NNNNNNNN>.snapshot"
    )

    def __init__(self, src, segments_per_track: int = DEFAULT_SEGMENTS_PER_TRACK, **options):
        super().__init__(src, segments_per_track=segments_per_track, **options)
        self.segments_per_track = int(segments_per_track)

    def _split_folders(self) -> list[tuple[Path, str]]:
        if folder_split(self.src.name) and snapshot_files(self.src):
            return [(self.src, folder_split(self.src.name) or "test")]
        out = []
        for d in sorted_dirs(self.src):
            split = folder_split(d.name)
            if split is not None and ((d / "snapshot.metadata").is_file() or snapshot_files(d)):
                out.append((d, split))
        return out

    def check_layout(self) -> None:
        super().check_layout()
        if not self._split_folders():
            raise self.layout_error("no saved-dataset folder named *_train, *_validation or *_test found")

    def list_jobs(self) -> tuple[list[TrackJob], list[Problem]]:
        jobs: list[TrackJob] = []
        problems: list[Problem] = []
        for folder, split in self._split_folders():
            files = snapshot_files(folder)
            if not files:
                problems.append(
                    Problem(folder.name, self.relative(folder), "no <run>/*.shard/*.snapshot files")
                )
            for f in files:
                # the folder's name, not only the split, keeps two *_train folders' shards apart
                job_id = f"{folder.name}/{f.parent.stem}-{f.stem}"
                jobs.append(TrackJob(job_id, split, audio=[f], meta={"folder": folder.name}))
        return jobs, problems

    def _marker(self, job: TrackJob, writer: StoreWriter) -> Path:
        return writer.root / ".convert" / f"{safe_track_id(job.track_id)}.done"

    def job_done(self, job: TrackJob, writer: StoreWriter) -> bool:
        return self._marker(job, writer).is_file()

    def convert_job(self, job: TrackJob, writer: StoreWriter, feature_config: Any) -> list[TrackRecord]:
        path = job.audio[0]
        rel = self.relative(path)
        checksum = file_checksum(path)
        records: list[TrackRecord] = []
        pending: list[np.ndarray] = []
        feats: list[np.ndarray] = []
        targs: list[np.ndarray] = []
        segment_frames = 0

        def flush() -> None:
            nonlocal feats, targs
            if not feats:
                return
            track_id = f"{job.track_id}/{len(records):04d}"
            meta = {**job.meta, "segment_frames": segment_frames, "n_segments": len(feats), "shard": rel}
            if writer.has_track(track_id):
                records.append(TrackRecord(track_id, job.split, 0, 0.0, [0] * N_CLASSES, meta=meta))
            else:
                records.append(
                    writer.write_track(
                        track_id,
                        job.split,
                        np.concatenate(feats),
                        None,
                        targets=np.concatenate(targs),
                        source_files=[rel],
                        checksums={rel: checksum},
                        meta=meta,
                    )
                )
            feats, targs = [], []

        for i, data in enumerate(iter_tfrecord(path)):
            pending.append(decode_tensor(data, f"{path}, record {i}"))
            if len(pending) < 2:
                continue
            x, y = split_element(pending, f"{path}, record {i}")
            pending = []
            if x.shape[1] != 84:
                log.warning("%s: %d feature bands, expected 84", path, x.shape[1])
            segment_frames = segment_frames or x.shape[0]
            if x.shape[0] != segment_frames:
                raise DatasetLayoutError(
                    f"{path}, record {i}: segment of {x.shape[0]} frames, not {segment_frames}"
                )
            feats.append(x)
            targs.append(y)
            if len(feats) >= self.segments_per_track:
                flush()
        if pending:
            raise DatasetLayoutError(f"{path}: truncated element at the end (odd number of tensor records)")
        flush()
        write_json(self._marker(job, writer), {"tracks": [r.id for r in records]})
        return records
