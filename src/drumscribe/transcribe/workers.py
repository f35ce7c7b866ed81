"""Export processes for the two slow formats of ``drumscribe transcribe``: MusicXML and PNG.

Writing the score (music21) and the picture (matplotlib) costs ~0.5 s each on a 3-minute song, after ~0.4 s
and ~0.3 s of importing those libraries; in one process all of it follows the analysis, one step after
the other, on one core. With a spare core each of these formats gets its own process (``spawn``: no
copy of the parent's model or thread pools), started before the model loads so the library import
overlaps the analysis, and the two writers then run side by side while the main process writes MIDI,
text, CSV and JSON. The result is byte-for-byte what the in-process writer produces (same code, same
Transcription). A writer's error comes back as the same exception, named by file; if a process dies
(killed, out of memory), the format is written in the main process instead.

``DRUMSCRIBE_EXPORT_WORKERS=0`` (or a machine with one core) keeps everything in the main process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import Transcription

log = logging.getLogger(__name__)

#: formats written in their own process, and the modules that process imports as soon as it starts
WORKER_MODULES = {
    "musicxml": ("music21", "music21.musicxml.m21ToXml"),
    "png": ("matplotlib.figure", "matplotlib.backends.backend_agg"),
}

#: niceness added to the export processes
WORKER_NICE = 10


def workers_enabled() -> bool:
    """Export processes are used unless ``DRUMSCRIBE_EXPORT_WORKERS=0`` or the machine has one core."""
    return os.environ.get("DRUMSCRIBE_EXPORT_WORKERS", "1") != "0" and (os.cpu_count() or 1) > 1


#: how often an export process checks that the process that started it is still there [s]
PARENT_CHECK_S = 0.5


def _exit_with_parent(parent: int) -> None:
    """End this process once ``parent`` is gone (killed, SIGTERM): the pool's queue it waits on is held
    open by this very process, so it would otherwise wait forever."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _init(fmt: str) -> None:
    """Process start: Ctrl-C is the main process's to handle, and the process ends with its parent; import
    the format's libraries now, at a lower priority than the analysis they overlap (on 2 cores the main
    process and two imports compete)."""
    import importlib
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    for name in WORKER_MODULES[fmt]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the writer itself reports a missing library, with the file name
            log.debug("importing %s failed", name, exc_info=True)


def write_format(fmt: str, tr: Transcription, path: Path) -> float:
    """Run the format's writer (``tr.to_<fmt>``) on ``tr``; returns its wall time [s]. The export processes
    and the main process both write through this."""
    t0 = time.perf_counter()
    getattr(tr, f"to_{fmt}")(path)
    return time.perf_counter() - t0


def _payload(fmt: str, tr: Transcription) -> Transcription:
    """What the writer needs: the spectrogram (~6 MB for 3 minutes) only travels to the PNG process, and
    only the part the picture shows (the first :data:`~drumscribe.transcribe.plot.MAX_PLOT_S` seconds)."""
    if fmt != "png":
        return dataclasses.replace(tr, spectrogram=None)
    from .plot import MAX_PLOT_S

    shown = int(math.ceil(MAX_PLOT_S * tr.fps)) + 1
    if len(tr.activations) <= shown:
        return tr
    spec = tr.spectrogram[:shown] if tr.spectrogram is not None else None
    art = tr.articulation[:shown] if tr.articulation is not None else None
    return dataclasses.replace(tr, spectrogram=spec, activations=tr.activations[:shown], articulation=art)


class ExportWorkers:
    """One export process per slow format among ``formats`` (none when :func:`workers_enabled` is false)."""

    def __init__(self, formats: list[str] | tuple[str, ...]):
        self.pools: dict[str, ProcessPoolExecutor] = {}
        self.writing: dict[str, Path] = {}  # format -> the file its process is writing now
        if not workers_enabled():
            return
        ctx = multiprocessing.get_context("spawn")
        for fmt in formats:
            if fmt in WORKER_MODULES:
                pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init, initargs=(fmt,))
                pool.submit(int)  # start the process (and its imports) now, not at the first export
                self.pools[fmt] = pool

    def submit(self, fmt: str, tr: Transcription, path: Path) -> Future | None:
        """Start writing ``fmt`` in its process; None when that format is written in this one."""
        pool = self.pools.get(fmt)
        if pool is None:
            return None
        self.writing[fmt] = path  # before the submit: an abort between the two still knows the file
        try:
            future = pool.submit(write_format, fmt, _payload(fmt, tr), path)
        except RuntimeError:  # the pool broke earlier (BrokenProcessPool is a RuntimeError)
            self._written(fmt, path)
            self._drop(fmt)
            return None
        future.add_done_callback(lambda _f: self._written(fmt, path))
        return future

    def _written(self, fmt: str, path: Path) -> None:
        """A writer finished: its file is no longer in the making (unless the next one already is)."""
        if self.writing.get(fmt) == path:
            del self.writing[fmt]

    def result(self, fmt: str, future: Future, tr: Transcription, path: Path) -> float:
        """The writer's time [s]; its exception is raised here. A dead process: write in this one."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            return float(future.result())
        except BrokenProcessPool:
            log.warning("the %s export process stopped; writing %s in the main process", fmt, path)
            self._drop(fmt)
            return write_format(fmt, tr, path)

    def _drop(self, fmt: str) -> None:
        pool = self.pools.pop(fmt, None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        for fmt in list(self.pools):
            self.pools.pop(fmt).shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Stop the export processes now (Ctrl-C, SIGTERM): a writer cut off publishes nothing, and its
        temporary file (:func:`drumscribe.fileio.atomic_path`) is removed here."""
        # read before the kill: a killed writer's future ends, and its callback forgets the file
        unfinished = list(self.writing.values())
        for fmt in list(self.pools):
            pool = self.pools.pop(fmt)
            processes = list(getattr(pool, "_processes", {}).values())  # no public handle before 3.14
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                proc.kill()
            for proc in processes:
                proc.join(5)
        for path in unfinished:
            for tmp in path.parent.glob(f".{path.name}.*.part"):
                tmp.unlink(missing_ok=True)
        self.writing.clear()

    def __enter__(self) -> ExportWorkers:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            self.abort()
        else:
            self.close()
