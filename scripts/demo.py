"""``make demo``: transcribe the bundled example clip with the shipped default model and score it.

The clip lives in ``src/drumscribe/pretrained/example/`` (an audio file rendered by the synthesis engine
with a kit the default model never saw in training, plus a JSON file with its known onsets). The demo
writes every output format to ``demo-output/`` (or ``--out``), prints where they went, and prints the
clip's micro F1 (and per-class F1) against its labels (+-50 ms, one-to-one per class).

Accepted label JSON shapes: ``{"onsets": {"kick": [t, ...], ...}}``, ``{"onsets": [[t, ...] x 5]}``,
``{"onsets": [{"time_s": t, "class": "kick"}, ...]}`` (or the same under ``"events"``), or a plain
``{"kick": [...], ...}``; class names or short names (KD, SD, TT, HH, CY).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AUDIO_EXTENSIONS = (".flac", ".wav", ".ogg", ".mp3")


class DemoError(Exception):
    pass


def example_dir() -> Path:
    from drumscribe.modelio import PRETRAINED_DIR

    return PRETRAINED_DIR / "example"


def find_example(folder: Path) -> tuple[Path, Path]:
    """(audio file, labels JSON) of the bundled example."""
    if not folder.is_dir():
        raise DemoError(f"{folder}: the bundled example clip is missing (it is added with the default model)")
    audio = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    labels = sorted(folder.glob("*.json"), key=lambda p: ("label" not in p.name.lower(), p.name))
    labels = [p for p in labels if p.name != "model.json"]
    if not audio:
        raise DemoError(f"{folder}: no example audio ({', '.join(AUDIO_EXTENSIONS)}) found")
    if not labels:
        raise DemoError(f"{folder}: no labels JSON found next to {audio[0].name}")
    return audio[0], labels[0]


def parse_labels(data: Any, classes: list[str], path: Path) -> list[np.ndarray]:
    """Onset times [s] per class from one of the accepted JSON shapes (module docstring)."""
    from drumscribe.errors import ConfigError
    from drumscribe.transcribe.cli import class_index as named_class

    def class_index(name: Any) -> int:
        if isinstance(name, int):
            return name
        try:
            return named_class(str(name), classes, "labels")
        except ConfigError:
            raise DemoError(f"{path}: unknown class {name!r} in the labels") from None

    out: list[list[float]] = [[] for _ in classes]
    body = data.get("onsets", data.get("events", data)) if isinstance(data, dict) else data
    if isinstance(body, dict):
        for name, times in body.items():
            out[class_index(name)] += [float(t) for t in times]
    elif isinstance(body, list) and body and all(isinstance(x, dict) for x in body):
        for ev in body:
            t = ev.get("time_s", ev.get("time", ev.get("onset")))
            out[class_index(ev.get("class", ev.get("label")))].append(float(t))
    elif isinstance(body, list) and len(body) == len(classes):
        out = [[float(t) for t in times] for times in body]
    else:
        raise DemoError(f"{path}: labels are not in an accepted shape (see scripts/demo.py)")
    return [np.sort(np.asarray(o, dtype=np.float64)) for o in out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("demo-output"), help="output folder (default: demo-output)"
    )
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped default)")
    args = parser.parse_args(argv)

    from drumscribe.errors import DrumscribeError
    from drumscribe.fileio import read_json
    from drumscribe.scoring import evaluate_onsets
    from drumscribe.transcribe import transcribe
    from drumscribe.transcribe.cli import DEFAULT_FORMATS, export, output_paths

    try:
        audio, labels_path = find_example(example_dir())
        tr = transcribe(audio, model=args.model)
        reference = parse_labels(read_json(labels_path), [c.lower() for c in tr.classes], labels_path)
        paths = output_paths(args.out, Path(audio.stem), DEFAULT_FORMATS)
        export(tr, paths)
    except (DemoError, DrumscribeError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    scores = evaluate_onsets(reference, tr.onsets, window_s=0.05)
    print(f"example clip: {audio.name} ({tr.duration_s:.1f} s), model: {tr.model_name}")
    tempo = f"{tr.tempo_bpm:.1f} BPM" if tr.tempo_bpm else "no tempo found"
    print(f"detected {tr.num_onsets} onsets ({sum(len(r) for r in reference)} labelled), {tempo}")
    print(f"micro F1 {scores.micro_f1:.3f} (macro {scores.macro_f1:.3f}; 50 ms window)")
    print("per class: " + ", ".join(f"{c} {f:.3f}" for c, f in zip(tr.classes, scores.class_f1)))
    print(f"outputs in {args.out.resolve()}:")
    for p in paths.values():
        print(f"  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
