"""End-to-end cost of ``drumscribe transcribe`` on a 3-minute stereo 44.1 kHz file.

Each repeat runs ``python -m drumscribe.cli transcribe FILE -o TMP --overwrite --format ...`` in a fresh
process and measures the wall time from process start to exit (all files written) and the process's
peak RSS (``wait4``). The per-stage times (load, features, model, input_kind, peaks, tempo, export) come
from the JSON the run writes; each stage's real-time factor is audio duration / stage time (higher is faster),
and "startup" is the wall time not spent in any stage (interpreter, imports, model loading); the backend
used (onnx or torch, from the JSON settings) and the CPU time (user + system, export processes included)
are printed too. The command starts export processes for MusicXML and PNG
(:mod:`drumscribe.transcribe.workers`), so besides the main process's own peak RSS the peak of the whole
process tree is reported, sampled from /proc every 10 ms. Medians over the repeats are reported.

Usage::

    python benchmarks/transcribe_e2e.py [--model NAME|PATH] [--repeats 5] [--formats midi,musicxml,...]
    python benchmarks/transcribe_e2e.py --duration-s 3600 --repeats 1 --formats midi,json   # 60 minutes
    python benchmarks/transcribe_e2e.py --workers-ab   # MusicXML/PNG export processes on vs off

The machine is shared: the load average is printed, and the best run is shown beside the median.

Targets (issue 6): at most 3 s and 600 MB for 3 minutes; under 1 GB peak RSS for 60 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

STAGES = ("load", "features", "model", "input_kind", "peaks", "tempo", "export")
ALL_FORMATS = "midi,musicxml,txt,csv,json,png"


def make_song(path: Path, duration_s: float, sample_rate: int = 44100, block_s: float = 60.0) -> Path:
    """A stereo 16-bit WAV with a drum-like groove at 110 BPM (kick, snare, hi-hat bursts), bass and chords,
    written block by block so an hour-long file needs little memory."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    beat = 60.0 / 110.0
    hit_len = int(0.2 * sample_rate)
    decay = np.exp(-np.arange(hit_len) / (0.03 * sample_rate))
    kick = (
        np.sin(2 * np.pi * np.cumsum(50 + 80 * np.exp(-np.arange(hit_len) / 800)) / sample_rate) * decay * 3
    )
    with sf.SoundFile(str(path), "w", sample_rate, 2, subtype="PCM_16") as f:
        n_total = int(duration_s * sample_rate)
        for start in range(0, n_total, int(block_s * sample_rate)):
            n = min(int(block_s * sample_rate), n_total - start)
            t = (start + np.arange(n + hit_len)) / sample_rate
            x = 0.05 * np.sin(2 * np.pi * 55 * t) + 0.03 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(t))
            x += 0.01 * rng.standard_normal(len(t))
            t0, t1 = start / sample_rate, (start + n) / sample_rate
            for k in range(int(np.floor(t0 / (beat / 2))), int(np.ceil(t1 / (beat / 2))) + 1):
                onset = k * beat / 2
                i = int(round(onset * sample_rate)) - start
                if i < 0 or i >= n:
                    continue
                x[i : i + hit_len] += 0.2 * rng.uniform(-1, 1, hit_len) * decay * 0.5  # hi-hat
                if k % 4 == 0:
                    x[i : i + hit_len] += 0.4 * kick
                elif k % 4 == 2:
                    x[i : i + hit_len] += 0.5 * rng.uniform(-1, 1, hit_len) * decay
            x = x[:n]
            stereo = np.stack([x, 0.9 * x], axis=1)
            f.write(np.clip(stereo * 0.8, -1, 1).astype(np.float32))
    return path


def _tree_rss_mb(pid: int) -> float:
    """Resident memory [MB] of ``pid`` and all its descendants now (0 when it is gone)."""
    total_kb, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
        todo += [int(c) for c in children]
    return total_kb / 1024.0


class TreeRssSampler(threading.Thread):
    """Peak of :func:`_tree_rss_mb` while the process runs, sampled every ``interval_s``."""

    def __init__(self, pid: int, interval_s: float = 0.01):
        super().__init__(daemon=True)
        self.pid, self.interval_s, self.peak_mb = pid, interval_s, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(self.pid))
            self.done.wait(self.interval_s)


def run_once(
    song: Path, out: Path, model: str | None, formats: str, backend: str = "auto", workers: bool = True
) -> dict:
    """One fresh ``drumscribe transcribe`` process: wall time, peak RSS and the stage timings it reports."""
    cmd = [
        sys.executable,
        "-m",
        "drumscribe.cli",
        "-q",
        "transcribe",
        str(song),
        "-o",
        str(out),
        "--overwrite",
    ]
    cmd += ["--format", formats if "json" in formats else formats + ",json"]
    if model:
        cmd += ["--model", model]
    cmd += ["--backend", backend]
    start = time.perf_counter()
    env = {**os.environ, "DRUMSCRIBE_EXPORT_WORKERS": "1" if workers else "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    sampler = TreeRssSampler(proc.pid)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"transcribe failed ({proc.returncode}):\n{stderr.decode()}{stdout.decode()}")
    data = json.loads((out / f"{song.stem}.json").read_text())
    timings = data["timings_s"]
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
        "peak_tree_rss_mb": max(sampler.peak_mb, usage.ru_maxrss / 1024.0),
        "stages_s": {k: float(timings.get(k, 0.0)) for k in (*STAGES, "model_load")},
        "duration_s": float(data["duration_s"]),
        "onsets": len(data["onsets"]),
        "model": data["model"].get("name"),
        "backend": data["settings"].get("backend", "torch"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped default)")
    parser.add_argument("--duration-s", type=float, default=180.0, help="length of the test song [s]")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--formats", default=ALL_FORMATS, help=f"output formats (default: {ALL_FORMATS})")
    parser.add_argument("--audio", type=Path, default=None, help="use this file instead of a synthetic song")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--backend",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="inference backend (default: auto)",
    )
    parser.add_argument(
        "--workers-ab",
        action="store_true",
        help="alternate runs with and without the MusicXML/PNG export processes",
    )
    args = parser.parse_args(argv)
    if args.workers_ab:
        return workers_ab(args)

    with tempfile.TemporaryDirectory(prefix="drumscribe-e2e-") as tmp:
        tmp_path = Path(tmp)
        song = args.audio or make_song(tmp_path / "song.wav", args.duration_s)
        runs = [
            run_once(song, tmp_path / "out", args.model, args.formats, args.backend)
            for _ in range(args.repeats)
        ]
    duration = runs[0]["duration_s"]
    med = {
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "peak_tree_rss_mb": statistics.median(r["peak_tree_rss_mb"] for r in runs),
        "stages_s": {k: statistics.median(r["stages_s"][k] for r in runs) for k in runs[0]["stages_s"]},
    }
    staged = sum(med["stages_s"][k] for k in STAGES)
    med["startup_s"] = med["wall_s"] - staged
    rtf = {k: (duration / v if v > 0 else float("inf")) for k, v in med["stages_s"].items() if k in STAGES}
    print(
        f"audio: {duration:.1f} s stereo 44.1 kHz; model: {runs[0]['model']}; "
        f"backend: {runs[0]['backend']}; formats: {args.formats}"
    )
    print(f"repeats: {len(runs)}; onsets: {runs[0]['onsets']}; load average: {os.getloadavg()[0]:.2f}")
    walls = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
    best = min(r["wall_s"] for r in runs)
    print(f"end-to-end wall time (median): {med['wall_s']:.2f} s, best {best:.2f} s   [all: {walls}]")
    print(f"CPU time (user + system, median): {med['cpu_s']:.2f} s")
    print(
        f"peak RSS (median): {med['peak_tree_rss_mb']:.0f} MB all processes "
        f"(main process alone {med['peak_rss_mb']:.0f} MB)"
    )
    print(
        f"startup (interpreter, imports, model load): {med['startup_s']:.2f} s "
        f"(model load {med['stages_s']['model_load']:.2f} s)"
    )
    print(f"{'stage':<10} {'time [s]':>9} {'RTF (x real time)':>18}")
    for k in STAGES:
        print(f"{k:<10} {med['stages_s'][k]:>9.3f} {rtf[k]:>18.1f}")
    if args.json:
        from drumscribe.fileio import write_json

        write_json(
            args.json,
            {"duration_s": duration, "formats": args.formats, "median": med, "rtf": rtf, "runs": runs},
        )
    return 0


def workers_ab(args: argparse.Namespace) -> int:
    """Median wall time and peak RSS with and without the export processes, runs interleaved (same load)."""
    runs: dict[bool, list[dict]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="drumscribe-e2e-") as tmp:
        tmp_path = Path(tmp)
        song = args.audio or make_song(tmp_path / "song.wav", args.duration_s)
        for _ in range(args.repeats):
            for workers in (True, False):
                runs[workers].append(
                    run_once(song, tmp_path / "out", args.model, args.formats, args.backend, workers)
                )
    print(f"formats: {args.formats}; repeats: {args.repeats} each, interleaved")
    med = {}
    for workers, label in ((True, "export processes on: "), (False, "export processes off:")):
        walls = [r["wall_s"] for r in runs[workers]]
        med[workers] = statistics.median(walls)
        rss = statistics.median(r["peak_tree_rss_mb"] for r in runs[workers])
        print(
            f"{label} median {med[workers]:.2f} s, peak RSS {rss:.0f} MB  [{', '.join(f'{w:.2f}' for w in walls)}]"
        )
    print(f"on / off: {med[True] / med[False]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
