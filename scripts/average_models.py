"""Average the weights of models of one lineage into a new model folder (a "model soup").

Usage: python scripts/average_models.py MODEL MODEL... --out DIR [--weights W W...]

Models are model folders, run folders (their ``best/``) or shipped names (``default``). They must share
architecture, architecture parameters, feature config and normalisation, which holds for models
fine-tuned from one another (``drumscribe train --init-from``). Interpolating a fine-tuned model's weights
with those of the model it started from often keeps what the fine-tuning gained while losing less of what
the start knew (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022); the weights of each
model default to equal. The output card is the last model's, with ``averaged_from`` recording every
source (name, weights SHA-256, weight); thresholds are the last model's (re-choose them with
``scripts/ship_default.py``). ``DIR/best/`` is written too, so ``DIR`` works as a run folder for
``ship_default.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drumscribe.errors import DrumscribeError, ModelError
from drumscribe.modelio import load_model, save_model

SAME = ("arch", "arch_params", "feature_config", "normalization", "classes")


def average_models(models: list[str], weights: list[float] | None, out: Path) -> Path:
    """Write the weighted average of ``models`` to ``out`` (and ``out/best``); returns ``out``."""
    import torch

    if len(models) < 2:
        raise ModelError("average: give at least two models")
    weights = [1.0] * len(models) if weights is None else [float(w) for w in weights]
    if len(weights) != len(models) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ModelError(
            f"average: need {len(models)} non-negative weights with a positive sum, got {weights}"
        )
    total = sum(weights)
    weights = [w / total for w in weights]
    loaded = [load_model(m, backend="torch") for m in models]
    first = loaded[0]
    for name, m in zip(models[1:], loaded[1:]):
        for key in SAME:
            if m.card.get(key) != first.card.get(key):
                raise ModelError(f"average: {name} differs from {models[0]} in {key!r}; not one lineage")
    states = [m.net.state_dict() for m in loaded]
    avg = {}
    for key, ref in states[0].items():
        if ref.is_floating_point():
            avg[key] = sum(w * s[key].double() for w, s in zip(weights, states)).to(ref.dtype)
        else:  # counters (e.g. BatchNorm's num_batches_tracked): the last model's
            avg[key] = states[-1][key].clone()
    net = loaded[-1].net
    with torch.no_grad():
        net.load_state_dict(avg)
    card = dict(loaded[-1].card)
    card.pop("onnx", None)
    card.pop("articulation", None)  # a head is fitted to one set of weights (scripts/fit_articulation.py)
    card["averaged_from"] = [
        {
            "model": str(name),
            "name": m.name,
            "weights_sha256": m.card.get("weights_sha256"),
            "weight": round(w, 6),
        }
        for name, m, w in zip(models, loaded, weights)
    ]
    save_model(net, card, out)
    save_model(net, card, out / "best")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model folders, run folders or shipped names")
    ap.add_argument("--out", type=Path, required=True, help="output model folder")
    ap.add_argument(
        "--weights", type=float, nargs="+", default=None, help="one weight per model (default equal)"
    )
    args = ap.parse_args(argv)
    try:
        out = average_models(args.models, args.weights, args.out)
    except DrumscribeError as exc:
        print(f"average_models: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
