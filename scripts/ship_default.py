"""Copy a trained run's best model into ``src/drumscribe/pretrained/default`` with a complete model card.

Usage: python scripts/ship_default.py RUN_DIR --mdb-json MDB_DEV_JSON [--name default]

The card gets: training data with credits, how to regenerate the model, the synthetic validation/test
scores of the run and the real-music scores from ``benchmarks/mdb_dev.py --json``. Absolute paths of the
training machine are removed. The weights are copied unchanged (the card keeps their SHA-256), then
exported to ``model.onnx`` (checked against torch, recorded in the card) for torch-free CPU inference; this
needs the ``onnx`` package (the ``train`` extra).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from drumscribe.fileio import read_json, write_json
from drumscribe.modelio import CARD_NAME, PRETRAINED_DIR, WEIGHTS_NAME, load_model
from drumscribe.onnxio import ONNX_NAME, export_onnx

CREDITS = {
    "grooves": "Groove MIDI Dataset (Gillick et al., ICML 2019), CC BY 4.0, plus drumscribe's own groove generator",
    "drum_sounds": "Debian sampled kits: fluid-soundfont-gm (MIT), musescore-general-soundfont (MIT), "
    "timgm6mb-soundfont (GPL-2), avldrums.lv2-soundfont (CC BY-SA 4.0), hydrogen-drumkits / hydrogen-data "
    "(per-kit GPL/CC licences), freepats (GPL-2+ with exception), plus procedural kits",
    "accompaniment": "General MIDI soundfonts above, rendered with tinysoundfont",
    "real_music_for_validation_only": "MDB Drums (Southall et al., ISMIR 2017), CC BY-NC-SA 4.0: never trained on",
}


def _strip_paths(obj):
    if isinstance(obj, dict):
        return {k: _strip_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip_paths(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/"):
        return Path(obj).name
    return obj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--mdb-json", type=Path, required=True)
    ap.add_argument("--name", default="default")
    args = ap.parse_args(argv)

    best = args.run / "best"
    card = read_json(best / CARD_NAME)
    results = read_json(args.run / "results.json") if (args.run / "results.json").is_file() else {}
    synth_manifest = None
    data = card.get("training_data") or []
    if (
        data
        and isinstance(data[0], dict)
        and Path(data[0].get("path", "")).joinpath("synth_config.json").is_file()
    ):
        synth_manifest = read_json(Path(data[0]["path"]) / "synth_config.json")
    mdb = read_json(args.mdb_json)
    real = {
        r["condition"]: {
            k: r[k] for k in ("micro_f1", "macro_f1", "class_f1", "precision", "recall", "tp", "fp", "fn")
        }
        for r in mdb["results"]
    }
    run_scores = card.get("scores")
    card = _strip_paths(card)
    card.pop("onnx", None)  # exported afresh below
    card["name"] = args.name
    card["description"] = (
        "drumscribe's default model: a CRNN trained only on synthetic audio rendered by drumscribe's synthesis "
        "engine. Real-music scores are whole-track, +-50 ms, 5 classes, micro F1 (mir_eval matching)."
    )
    card["training_data"] = {
        "source": "drumscribe synth (synthetic only)",
        "synth_config": _strip_paths(synth_manifest) if synth_manifest else None,
        "credits": CREDITS,
    }
    card["regenerate"] = "scripts/train_default.sh (renders the data, trains, scores on mdb-dev, ships)"
    card["scores"] = {
        "synthetic_validation_kits": _strip_paths(
            results.get("validation") or results.get("best_validation") or run_scores
        ),
        "mdb_dev_real": {
            "protocol": "whole track, 50 ms, one-to-one per class (mir_eval), micro F1 over classes and tracks",
            "tracks": "5 MDB Drums tracks in ../shared/data/mdb-dev (validation only, never trained on)",
            **real,
        },
        "reference_public_model": {"ADTOF (Zehren et al.) on mdb-dev": {"mix": 0.935, "drums": 0.956}},
    }
    out = PRETRAINED_DIR / args.name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best / WEIGHTS_NAME, out / WEIGHTS_NAME)
    write_json(out / CARD_NAME, card)
    (out / ONNX_NAME).unlink(missing_ok=True)  # never leave the previous model's export beside new weights
    model = load_model(out)  # verifies checksum and architecture
    onnx_path = export_onnx(out)  # checks ONNX Runtime against torch; records the file in the card
    print(f"shipped {model.name} ({card['arch']}, {card.get('n_parameters')} parameters) to {out}")
    print(f"  ONNX export: {onnx_path.name}")
    for cond, r in real.items():
        print(f"  mdb-dev {cond}: micro F1 {r['micro_f1']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
