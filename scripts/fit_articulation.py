"""Fit a model folder's articulation head (open/closed hi-hat, ride/crash) and export its ONNX again.

    python scripts/fit_articulation.py MODEL --store work/synth9 --store work/synth27

MODEL is a model folder or a shipped name (``default``: the packaged model, changed in place). The stores are
engine renders that record each struck piece (``hits``; renders of 2026-12-06 or later). Writes
``articulation.safetensors`` and the card's ``articulation`` entry (outputs, method, stores, the L2 weight
chosen on the validation kits and the balanced accuracies), then runs ``drumscribe export-onnx`` on the folder
so the ONNX graph gives the articulation outputs too. The class outputs do not change. See
:mod:`drumscribe.articulation`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model folder or shipped name")
    parser.add_argument("--store", type=Path, action="append", required=True, help="render store with hits")
    parser.add_argument("--no-onnx", action="store_true", help="do not export the ONNX graph again")
    args = parser.parse_args(argv)

    from drumscribe.articulation import fit_head, save_head
    from drumscribe.data.store import Store
    from drumscribe.errors import DrumscribeError
    from drumscribe.modelio import load_model

    try:
        loaded = load_model(args.model, device="cpu", backend="torch")
        state, entry = fit_head(loaded, [Store(p) for p in args.store])
        assert loaded.path is not None
        path = save_head(loaded.path, state, entry)
        print(f"wrote {path}")
        print(json.dumps(entry["fit"], indent=1))
        if not args.no_onnx:
            from drumscribe.onnxio import export_onnx

            print(f"wrote {export_onnx(loaded.path)}")
    except DrumscribeError as exc:
        print(f"fit_articulation: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
