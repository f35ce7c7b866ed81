"""Transcription jobs for the web app: a bounded queue feeding a fixed pool of worker threads.

Each worker thread loads the model once and then takes jobs from the queue; a job decodes its uploaded
file, computes waveform peaks for drawing, and runs :func:`drumscribe.transcribe.transcribe`. Any
exception fails only that job (its message is kept for the page). A cleanup thread deletes uploads and
results once a job has been finished for longer than the retention period.

Files live under ``workdir/<job id>/``; job ids are random hex strings made here, never taken from the
client, so no path is ever built from user input.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DrumscribeError

log = logging.getLogger(__name__)

#: Waveform peaks kept per second of audio (min and max per bucket) [Hz].
WAVEFORM_RATE_HZ = 400.0
#: First guess of transcription speed before any job has been timed [seconds of audio per second].
INITIAL_SPEED = 20.0
JOB_ID_BYTES = 16


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class QueueFullError(DrumscribeError):
    """The job queue is full; the client should try again later."""


@dataclass
class Job:
    """One uploaded file and its transcription. ``name`` is for display only (sanitised client name)."""

    id: str
    name: str
    folder: Path
    upload_path: Path
    media_type: str = "application/octet-stream"
    seq: int = 0
    state: JobState = JobState.QUEUED
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    expected_s: float | None = None  # expected model run time, for the progress estimate [s]
    model_started_at: float | None = None
    transcription: Any = None  # drumscribe.transcribe.Transcription once done
    waveform: tuple[np.ndarray, np.ndarray] | None = None  # (min, max) per bucket of the waveform
    waveform_rate_hz: float = WAVEFORM_RATE_HZ  # buckets per second (bucket_rate_hz: about WAVEFORM_RATE_HZ)

    def current_progress(self, now: float | None = None) -> float:
        """Fraction done in [0, 1]: 0.05 after decoding starts, 0.1 when the model starts, 1 when done.

        While the model runs, the fraction is the elapsed time over the time expected from the speed of
        earlier jobs (an estimate: ``transcribe`` has no progress callback), capped at 0.95.
        """
        if self.state in (JobState.DONE, JobState.FAILED):
            return 1.0
        if self.model_started_at is None:
            return self.progress
        frac = ((now or time.time()) - self.model_started_at) / self.expected_s if self.expected_s else 0.0
        return 0.1 + 0.85 * float(min(max(frac, 0.0), 1.0))


def new_job_id() -> str:
    return secrets.token_hex(JOB_ID_BYTES)


def is_job_id(text: str) -> bool:
    return len(text) == 2 * JOB_ID_BYTES and all(c in "0123456789abcdef" for c in text)


def bucket_samples(sample_rate: int, rate_hz: float = WAVEFORM_RATE_HZ) -> int:
    """Samples per bucket of :func:`waveform_peaks`: a whole number near ``sample_rate / rate_hz``."""
    return max(1, int(round(sample_rate / rate_hz)))


def bucket_rate_hz(sample_rate: int, rate_hz: float = WAVEFORM_RATE_HZ) -> float:
    """Buckets per second of :func:`waveform_peaks` (400.9 at 44.1 kHz: 110 samples each), what a drawing
    must use to keep the waveform on the hits."""
    return sample_rate / bucket_samples(sample_rate, rate_hz)


def waveform_peaks(
    samples: np.ndarray, sample_rate: int, rate_hz: float = WAVEFORM_RATE_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``samples`` per bucket of :func:`bucket_samples` samples (float32 arrays)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    bucket = bucket_samples(sample_rate, rate_hz)
    n = int(np.ceil(samples.size / bucket))
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    padded = np.zeros(n * bucket, np.float32)
    padded[: samples.size] = samples
    blocks = padded.reshape(n, bucket)
    lo, hi = blocks.min(axis=1), blocks.max(axis=1)
    tail = samples.size - (n - 1) * bucket  # the last bucket may be partial: ignore its zero padding
    lo[-1], hi[-1] = samples[-tail:].min(), samples[-tail:].max()
    return lo, hi


def reduce_peaks(lo: np.ndarray, hi: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge groups of ``factor`` buckets (min of minima, max of maxima)."""
    if factor <= 1 or lo.size == 0:
        return lo, hi
    n = int(np.ceil(lo.size / factor))
    pad = n * factor - lo.size
    lo2 = np.concatenate([lo, np.full(pad, lo[-1], lo.dtype)]).reshape(n, factor).min(axis=1)
    hi2 = np.concatenate([hi, np.full(pad, hi[-1], hi.dtype)]).reshape(n, factor).max(axis=1)
    return lo2, hi2


def _default_runner(model_name: str | None, device: str) -> Callable[[], Callable[[Job, JobManager], Any]]:
    """A factory run once per worker thread: loads the model, returns ``process(job) -> Transcription``."""

    def factory() -> Callable[[Job], Any]:
        from ..audio import load_audio
        from ..modelio import load_model
        from ..transcribe import transcribe

        model = load_model(model_name, device=device)

        def process(job: Job, manager: JobManager) -> Any:
            job.stage = "decoding audio"
            job.progress = 0.05
            samples, sr = load_audio(job.upload_path)
            job.duration_s = samples.size / sr
            job.waveform = waveform_peaks(samples, sr)
            job.waveform_rate_hz = bucket_rate_hz(sr)
            job.stage = "transcribing"
            job.expected_s = job.duration_s / manager.speed
            job.model_started_at = time.time()
            # the spectrogram is only needed for PNG plots: do not keep it in memory
            result = transcribe(samples, sample_rate=sr, model=model, device=device, keep_spectrogram=False)
            elapsed = time.time() - job.model_started_at
            manager.record_speed(job.duration_s, elapsed)
            with contextlib.suppress(AttributeError):  # a frozen result keeps its own source
                result.source = job.name
                result.audio_path = job.upload_path  # what a Clone Hero song download plays
            return result

        return process

    return factory


class JobManager:
    """A bounded queue of jobs processed by ``workers`` threads, with retention-based cleanup.

    At most ``max_finished`` finished jobs are kept (their results live in memory); older ones are
    deleted early when more finish.

    ``runner_factory`` is called once in each worker thread and returns ``process(job, manager)``;
    the default loads ``model_name`` and transcribes with it.
    """

    def __init__(
        self,
        workdir: str | Path | None = None,
        workers: int = 1,
        queue_size: int = 64,
        retention_s: float = 3600.0,
        max_finished: int = 200,
        model_name: str | None = None,
        device: str = "cpu",
        runner_factory: Callable[[], Callable[[Job, JobManager], Any]] | None = None,
    ):
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if queue_size < 1:
            raise ConfigError(f"queue size must be at least 1, got {queue_size}")
        if max_finished < 1:
            raise ConfigError(f"max finished jobs must be at least 1, got {max_finished}")
        if retention_s <= 0:
            raise ConfigError(f"retention must be positive, got {retention_s} s")
        self._own_workdir = workdir is None
        # a temporary work folder is made by start(), so that a server that never starts leaves none
        self.workdir = Path("") if workdir is None else Path(workdir)
        self.workers = workers
        self.queue_size = queue_size
        self.retention_s = float(retention_s)
        self.max_finished = int(max_finished)
        self.model_name = model_name
        self._factory = runner_factory or _default_runner(model_name, device)
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=queue_size)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._receiving: set[str] = set()  # job folders whose upload is still arriving
        self._speed = INITIAL_SPEED
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._started = False

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._own_workdir:
            self.workdir = Path(tempfile.mkdtemp(prefix="drumscribe-serve-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"drumscribe-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._cleaner, name="drumscribe-cleanup", daemon=True)
        t.start()
        self._threads.append(t)

    def close(self, timeout_s: float | None = None) -> None:
        """Stop the workers and delete a work folder made by us. Queued jobs are dropped; running ones
        finish first (a transcription cannot be cut short: a thread killed inside torch aborts the process),
        for at most ``timeout_s`` seconds when given, after which the work folder is kept for them."""
        self._stop.set()
        for _ in range(self.workers):
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        running = [j.name for j in self.jobs() if j.state is JobState.RUNNING]
        if running:
            log.info(
                "waiting for %d running transcription(s) to finish: %s", len(running), ", ".join(running)
            )
        deadline = None if timeout_s is None else time.time() + timeout_s
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.time()))
        if self._own_workdir and self._started and not any(t.is_alive() for t in self._threads):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- jobs ------------------------------------------------------------------------------------
    @property
    def speed(self) -> float:
        """Recent transcription speed [seconds of audio per second of compute]."""
        return self._speed

    def record_speed(self, audio_s: float, elapsed_s: float) -> None:
        if audio_s > 0 and elapsed_s > 0:
            with self._lock:
                self._speed = 0.5 * self._speed + 0.5 * (audio_s / elapsed_s)

    def queue_full(self) -> bool:
        return self._queue.full()

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (created) folder."""
        if not self._started:
            raise RuntimeError("JobManager.start() must run before jobs are made")
        job_id = new_job_id()
        folder = self.workdir / job_id
        with self._lock:
            self._receiving.add(job_id)  # cleanup() leaves it alone, however long the upload takes
        folder.mkdir(parents=True)
        return job_id, folder

    def abandon(self, job_id: str) -> None:
        """Delete the folder of an upload that did not become a job (refused, failed, cut off)."""
        with self._lock:
            self._receiving.discard(job_id)
        shutil.rmtree(self.workdir / job_id, ignore_errors=True)

    def submit(self, job_id: str, name: str, upload_path: Path, media_type: str) -> Job:
        """Queue an uploaded file; raises :class:`QueueFullError` (and deletes the upload) when full."""
        with self._lock:
            self._receiving.discard(job_id)
            self._seq += 1
            job = Job(
                id=job_id,
                name=name,
                folder=upload_path.parent,
                upload_path=upload_path,
                media_type=media_type,
                seq=self._seq,
            )
            self._jobs[job_id] = job
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self._jobs.pop(job_id, None)
            shutil.rmtree(job.folder, ignore_errors=True)
            raise QueueFullError(
                f"{name}: the server is busy ({self.queue_size} jobs queued); try again in a minute"
            ) from None
        log.info("job %s queued (%s)", job_id, name)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def queue_position(self, job: Job) -> int:
        """Number of queued jobs ahead of ``job`` (0 when it is next or running)."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state is JobState.QUEUED and j.seq < job.seq)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def _worker(self) -> None:
        process: Callable[[Job, JobManager], Any] | None = None
        load_error: str | None = None
        try:
            process = self._factory()
        except Exception as exc:  # reported on every job this worker takes
            load_error = f"the model could not be loaded: {exc}"
            log.error("worker %s: %s", threading.current_thread().name, load_error)
        while True:
            job = self._queue.get()
            if job is None or self._stop.is_set():  # shutting down: leave queued jobs alone
                return
            if self.get(job.id) is None:  # deleted while queued
                continue
            job.state = JobState.RUNNING
            job.stage = "starting"
            job.started_at = time.time()
            try:
                if process is None:
                    raise DrumscribeError(load_error or "the model is not available")
                job.transcription = process(job, self)
                job.state = JobState.DONE
                job.stage = "done"
                log.info("job %s done in %.1f s", job.id, time.time() - job.started_at)
            except DrumscribeError as exc:
                self._fail(job, str(exc).replace(str(job.upload_path), job.name))
            except Exception as exc:  # one bad job must not take the worker down
                log.exception("job %s failed", job.id)
                self._fail(
                    job, f"{job.name}: internal error while transcribing ({type(exc).__name__}: {exc})"
                )
            finally:
                job.finished_at = time.time()
            if len(self._jobs) > self.max_finished:
                self.cleanup()

    def _fail(self, job: Job, message: str) -> None:
        log.warning("job %s failed: %s", job.id, message)
        job.error = message
        job.state = JobState.FAILED
        job.stage = "failed"
        job.upload_path.unlink(missing_ok=True)

    # ---- retention -------------------------------------------------------------------------------
    def cleanup(self, now: float | None = None) -> list[str]:
        """Delete jobs finished longer than the retention period ago, and the oldest finished jobs beyond
        ``max_finished`` (results are held in memory); returns their ids."""
        now = time.time() if now is None else now
        with self._lock:
            finished = sorted(
                (j for j in self._jobs.values() if j.finished_at is not None), key=lambda j: j.finished_at
            )
            surplus = max(0, len(finished) - self.max_finished)  # oldest first beyond the cap
            expired = [
                j for i, j in enumerate(finished) if i < surplus or now - j.finished_at > self.retention_s
            ]
            for j in expired:
                del self._jobs[j.id]
        for j in expired:
            shutil.rmtree(j.folder, ignore_errors=True)
            log.info("job %s expired and was deleted", j.id)
        # folders of uploads that never became jobs (a failed upload, a crash) are removed too
        with self._lock:
            known = set(self._jobs) | self._receiving
        for d in self.workdir.iterdir():
            if d.is_dir() and d.name not in known and is_job_id(d.name):
                try:
                    age = now - d.stat().st_mtime
                except FileNotFoundError:
                    continue
                if age > self.retention_s:
                    shutil.rmtree(d, ignore_errors=True)
        return [j.id for j in expired]

    def _cleaner(self) -> None:
        period = min(60.0, max(0.2, self.retention_s / 4))
        while not self._stop.wait(period):
            try:
                self.cleanup()
            except Exception:  # keep cleaning on the next tick
                log.exception("cleanup failed")
