"""Changes at inference time only, scored on the real tracks of ``../shared/data/mdb-dev`` (validation only).

Each variant runs one model on each track's level-matched features (as ``drumscribe transcribe`` hears them)
and is scored like ``benchmarks/mdb_dev.py`` (whole track, +-50 ms, micro F1 over the five classes) at one
threshold for every class. A variant is written ``NAME=KIND:ARGS``:

- ``window:CHUNK_S:CONTEXT_S``: the recurrent layers run over windows of CHUNK_S seconds, CONTEXT_S seconds
  discarded at each side (transcription's default is ``window:30:2.5``; the model trained on 4-s windows);
- ``percussive:BELOW_HZ``: below BELOW_HZ, each band keeps only what a median-filter harmonic/percussive split
  (Fitzgerald 2010; the constants of ``drumscribe.transcribe.inputkind``: 31 frames along time, 9 bands along
  frequency, a power-2 soft mask) calls percussive, so the band's sustained notes leave the input; above it the
  bands are as they are;
- ``model:PATH``: another model (a folder, a run folder or a shipped name) on the same features, level-matched
  by the first model's card, at transcription's windows; it must share the first model's feature config and
  classes;
- ``mean:A+B``: the mean of the activations of the variants named A and B (defined before it).

``default`` (transcription's own settings) is always scored first, as the check against ``mdb_dev.py``.

Usage::

    python benchmarks/inference_variants.py                       # the six variants of docs/default-model.md
    python benchmarks/inference_variants.py --variant short=window:4:1 --variant avg=mean:default+short
    python benchmarks/inference_variants.py --variant other=model:RUN/best --variant ens=mean:default+other

Figures (docs/default-model.md): "Not shipped: changes at inference time" for the default variants; "Not
shipped: training windows of 12 s" for run64's combinations with stage 8 (``model:`` and ``mean:``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdb_dev import level_matched_tracks, model_data_parser  # noqa: E402

DEFAULT_VARIANTS = (
    "percussive=percussive:3000",
    "default+percussive=mean:default+percussive",
    "window4=window:4:1",
    "window6=window:6:1",
    "default+window4=mean:default+window4",
)


def parse_variants(specs: list[str]) -> dict[str, tuple[str, list[str]]]:
    """``NAME=KIND:ARGS`` strings -> {name: (kind, args)}, ``default`` first; ValueError on a bad one."""
    out: dict[str, tuple[str, list[str]]] = {"default": ("default", [])}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        kind, _, args = rest.partition(":")
        if not sep or not name or name in out:
            raise ValueError(f"variant {spec!r}: need a new NAME=KIND:ARGS")
        parts = args.split("+") if kind == "mean" else [args] if kind == "model" else args.split(":")
        if kind == "window" and len(parts) == 2:
            [float(p) for p in parts]
        elif kind == "percussive" and len(parts) == 1:
            float(parts[0])
        elif (kind == "mean" and len(parts) == 2 and all(p in out for p in parts)) or (
            kind == "model" and parts[0]  # the whole rest: a path may hold ':'
        ):
            pass
        else:
            raise ValueError(f"variant {spec!r}: unknown kind or wrong arguments (see --help)")
        out[name] = (kind, parts)
    return out


def percussive_features(features: np.ndarray, below_hz: float, config: Any, log_add: float) -> np.ndarray:
    """Log features whose bands below ``below_hz`` keep only their percussive part (see the module doc)."""
    from drumscribe.features import band_frequencies
    from drumscribe.transcribe.inputkind import median_powers

    mag = np.maximum(10.0 ** features.astype(np.float64) - log_add, 0.0)
    h2, p2 = median_powers(mag)
    low = band_frequencies(config) < below_hz
    out = mag.copy()
    out[:, low] = (mag * p2 / (h2 + p2 + 1e-20))[:, low]
    return np.log10(out + log_add).astype(np.float32)


def score_variants(
    model_name: str, data: Path, variants: dict[str, tuple[str, list[str]]], threshold: float
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({condition: {variant: OnsetScores summed over the tracks}}, the model's classes)."""
    from drumscribe.errors import ModelError
    from drumscribe.scoring import OnsetScores, evaluate_onsets
    from drumscribe.transcribe.inference import InferenceConfig, get_model, run_model
    from drumscribe.transcribe.result import pick_onsets

    model = get_model(model_name, "cpu")
    fc = model.feature_config
    base = InferenceConfig()
    thresholds = np.full(len(model.classes), threshold)
    runs_on = {name: get_model(args[0], "cpu") for name, (kind, args) in variants.items() if kind == "model"}
    for name, other in runs_on.items():
        if other.feature_config != fc or list(other.classes) != list(model.classes):
            raise ModelError(
                f"variant {name}: {variants[name][1][0]} differs from {model_name} in features or classes"
            )
    scores: dict[str, dict[str, list[Any]]] = {}
    for cond, level_matched, reference in level_matched_tracks(model, data, base):
        acts: dict[str, np.ndarray] = {}
        for name, (kind, args) in variants.items():
            if kind == "mean":
                acts[name] = (acts[args[0]] + acts[args[1]]) / 2
                continue
            config, spec = base, level_matched
            if kind == "window":
                config = InferenceConfig(chunk_s=float(args[0]), context_s=float(args[1]))
            elif kind == "percussive":
                spec = percussive_features(level_matched, float(args[0]), fc, fc.log_add)
            m = runs_on.get(name, model)
            # the classes only: a card's articulation outputs follow them (drumscribe.articulation)
            acts[name] = run_model(m.net, spec, m.mean, m.std, fc.fps, config)[:, : len(m.classes)]
        per_variant = scores.setdefault(cond, {name: [] for name in variants})
        for name, act in acts.items():
            onsets = pick_onsets(act, thresholds, fc.fps)[0]
            per_variant[name].append(evaluate_onsets(reference, onsets, window_s=0.05))
    results = {c: {name: OnsetScores.sum(s) for name, s in v.items()} for c, v in scores.items()}
    return results, list(model.classes)


def main(argv: list[str] | None = None) -> int:
    parser = model_data_parser(__doc__)
    parser.add_argument(
        "--variant",
        action="append",
        help="NAME=KIND:ARGS (repeatable; default: the six variants of docs/default-model.md)",
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="one threshold for all classes")
    args = parser.parse_args(argv)
    try:
        variants = parse_variants(args.variant or list(DEFAULT_VARIANTS))
    except ValueError as exc:
        parser.error(str(exc))

    import torch

    from drumscribe.errors import DrumscribeError

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    try:
        results, classes = score_variants(args.model, args.data, variants, args.threshold)
    except DrumscribeError as exc:
        print(f"inference_variants: error: {exc}", file=sys.stderr)
        return 1
    print(f"{'variant':<24} {'mixes':>7} {'drums':>7} {'sum':>7}   per class (mixes | drums)")
    for name in variants:
        mix, drums = results["mix"][name], results["drums"][name]
        per_class = " ".join(
            f"{c[:5]} {a:.2f}|{b:.2f}" for c, a, b in zip(classes, mix.class_f1, drums.class_f1)
        )
        print(
            f"{name:<24} {mix.micro_f1:>7.4f} {drums.micro_f1:>7.4f} {mix.micro_f1 + drums.micro_f1:>7.4f}   {per_class}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
