"""Copy a trained run's best model into ``src/drumscribe/pretrained/default`` with a complete model card.

Usage: python scripts/ship_default.py RUN_DIR [--epoch N] [--thresholds untuned|auto|auto-all|T1,...,T5] [--mdb DIR] [--name default]
       python scripts/ship_default.py --retune [--thresholds ...] [--name default] [--test-data STORE ...]
           (thresholds and scores only; --test-data re-measures the synthetic test-kit scores on those renders)

The card gets: training data with credits, how to regenerate the model, the synthetic validation/test
scores of the run, the per-class peak thresholds and the real-music scores on mdb-dev (computed here with
``benchmarks/mdb_dev.py``'s evaluation, at 0.5 and at the shipped thresholds). ``--thresholds untuned`` (what
the default model ships with) sets 0.5 for every class: tuned thresholds did worse on the track left out
(``benchmarks/threshold_choice.py``). ``--thresholds auto`` takes
each class's best threshold on the mdb-dev mixes (sweep 0.1-0.9 on the stored activations): mdb-dev is the
validation set, so those scores are optimistic; the 0.5 scores are reported beside them. ``auto-all`` takes
each class's best on the mixes and drum-only tracks pooled (ten recordings instead of five: a balance between
full mixes and isolated drums). With ``auto``/``auto-all`` the card also gets ``thresholds_drums_only``, each
class's best on the drum-only tracks, which transcription uses for recordings that sound like isolated drums
(:mod:`drumscribe.transcribe.inputkind`); the real-music scores are measured with that choice made per
track, as a user gets it. Absolute paths of
the training machine are removed. The weights are copied unchanged (the card keeps their SHA-256), then
exported to ``model.onnx`` (checked against torch, recorded in the card) for torch-free CPU inference; this
needs the ``onnx`` package (the ``train`` extra).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from drumscribe import modelio
from drumscribe.errors import ConfigError, DrumscribeError, ModelError
from drumscribe.features import InputLevel, check_input_level
from drumscribe.fileio import read_json, write_json
from drumscribe.modelio import CARD_NAME, PRETRAINED_DIR, WEIGHTS_NAME, load_model, resolve_model_path
from drumscribe.onnxio import ONNX_NAME, export_onnx
from drumscribe.synth.mixing import LOUDNESS_RANGE_DBFS
from drumscribe.train.evaluate import evaluate_model
from drumscribe.train.loop import CONFIG_NAME, EPOCHS_DIR, load_run_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from mdb_dev import DEFAULT_DATA, best_thresholds_per_class, evaluate_models, find_tracks  # noqa: E402

CREDITS = {
    "grooves": "Groove MIDI Dataset (Gillick et al., ICML 2019), CC BY 4.0, plus drumscribe's own groove generator",
    "drum_sounds": "Debian sampled kits: fluid-soundfont-gm (MIT), musescore-general-soundfont (MIT), "
    "timgm6mb-soundfont (GPL-2), avldrums.lv2-soundfont (CC BY-SA 4.0), hydrogen-drumkits / hydrogen-data "
    "(per-kit GPL/CC licences), freepats (GPL-2+ with exception), plus procedural kits",
    "accompaniment": "General MIDI soundfonts above, rendered with tinysoundfont",
    "accompaniment_stems": "guitar tracks of six Frets on Fire songs from Debian (scripts/fetch_stems.sh): "
    "fretsonfire-songs-muldjord (Muldjord / El Senator, CC BY-SA 3.0) and fretsonfire-songs-sectoid "
    "(Carlos Viola Iborra, MIT-style licence)",
    "real_music_for_validation_only": "MDB Drums (Southall et al., ISMIR 2017), CC BY-NC-SA 4.0: never trained on",
}


def credits_for(synth_configs: list[dict]) -> dict[str, str]:
    """:data:`CREDITS`, plus the strum recordings' credit when a render played them (``strums_share`` > 0)."""
    from drumscribe.synth.strums import STRUM_CREDIT

    credits = dict(CREDITS)
    if any(float(c.get("strums_share") or 0) > 0 for c in synth_configs):
        credits["accompaniment_strums"] = STRUM_CREDIT
    return credits


def _strip_paths(obj):
    if isinstance(obj, dict):
        return {k: _strip_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip_paths(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("/"):
        return Path(obj).name
    return obj


def _stage(card: dict) -> dict:
    """One earlier model of the warm-start chain: its epoch, training settings and data (store names, or
    a shipped card's render summary)."""
    data = card.get("training_data")
    if isinstance(data, list):
        data = [d.get("name") for d in data if isinstance(d, dict)]
    elif isinstance(data, dict):
        renders = [f"seed {c.get('seed')}: {c.get('hours')} h" for c in data.get("synth_configs") or []]
        data = {"hours": data.get("hours"), "renders": renders}
    return _strip_paths(
        {"epoch": card.get("epoch"), "train_config": card.get("train_config"), "training_data": data}
    )


def _earlier_stages(run: Path, own_sha: str | None = None) -> list[dict]:
    """The warm-start chain of a run (``--init-from``), oldest first. The run's own config resolves its
    ``init_from`` (stored relative to it); a bare ``best/`` folder's card gives it as the training was given
    it. A shipped model (``--init-from default``) ends the walk: its card holds the stages before it. When
    the walk reaches the very model being shipped (``own_sha``: shipped again, e.g. to refresh its card),
    that model's card already lists its whole chain."""
    stages: list[dict] = []
    if (run / CONFIG_NAME).is_file():
        init = load_run_config(run).init_from
    else:
        init = (read_json(run / "best" / CARD_NAME).get("train_config") or {}).get("init_from")
    seen: set[str] = set()
    while init:
        try:
            folder = resolve_model_path(init)
        except ModelError:
            break
        prev = read_json(folder / CARD_NAME)
        if own_sha and prev.get("weights_sha256") == own_sha:
            return list(prev.get("earlier_training_stages") or [])
        # a shipped name may now name a later model of this chain: the walk has come round
        came_round = prev.get("weights_sha256") in seen
        seen.add(prev.get("weights_sha256"))
        if not came_round:
            stages.insert(0, _stage(prev))
        if came_round or folder.parent.resolve() == Path(modelio.PRETRAINED_DIR).resolve():
            # a shipped card lists the stages before it; come round, only those before the ones walked here
            older = prev.get("earlier_training_stages") or []
            if came_round:
                older = older[: older.index(stages[0])] if stages and stages[0] in older else []
            stages[:0] = older
            break
        init = (prev.get("train_config") or {}).get("init_from")
    return stages


def _store_paths(data) -> list[str]:
    """The store folders a run's card lists as its training data (dicts with a ``path``) that exist here."""
    if not isinstance(data, list):
        return []
    return [d["path"] for d in data if isinstance(d, dict) and Path(d.get("path", "")).is_dir()]


def soup_ingredients(averaged_from: list[dict]) -> tuple[list[dict], list[str], list[str]]:
    """For a weight average (``scripts/average_models.py``; its card's ``averaged_from``): every ingredient's
    entry with its own stage added (epoch, training settings, data), the training stores of all ingredients
    and the stores their runs were validated on, each once and in order. An ingredient whose folder is gone
    keeps the entry it had."""
    entries, stores, val_stores = [], [], []
    for entry in averaged_from:
        entry = dict(entry)
        try:
            ing = read_json(resolve_model_path(str(entry.get("model"))) / CARD_NAME)
        except (ModelError, OSError, ValueError) as exc:
            print(
                f"  soup ingredient {entry.get('model')}: card not found ({exc}); its stage is not recorded"
            )
            entries.append(entry)
            continue
        entry["stage"] = _stage(ing)
        entries.append(entry)
        stores += [p for p in _store_paths(ing.get("training_data")) if p not in stores]
        val = (ing.get("train_config") or {}).get("val_data") or []
        val_stores += [p for p in val if Path(p).is_dir() and p not in val_stores]
    return entries, stores, val_stores


def hours_all_stages(synth_configs: list[dict], stages: list[dict]) -> float:
    """Hours of synthetic audio behind a model: its renders and those its earlier stages record (a render
    counted once, by seed, whether given by its settings or by a shipped card's "seed N: H h" summary)."""
    hours = {c.get("seed"): float(c.get("hours", 0)) for c in synth_configs}
    for stage in stages:
        data = stage.get("training_data")
        if not isinstance(data, dict):
            continue
        for c in data.get("synth_configs") or []:
            hours.setdefault(c.get("seed"), float(c.get("hours", 0)))
        for text in data.get("renders") or []:
            m = re.fullmatch(r"seed (\d+): ([\d.]+) h", text)
            if m:
                hours.setdefault(int(m.group(1)), float(m.group(2)))
    return round(sum(hours.values()), 2)


THRESHOLD_MODES = {
    "auto": "per class on the mdb-dev mixes",
    "auto-all": "per class on the mdb-dev mixes and drum-only tracks pooled",
}
#: ``--thresholds untuned``: 0.5 for every class, nothing tuned on mdb-dev
UNTUNED = (
    "0.5 for every class, untuned: on mdb-dev, per-class thresholds chosen on four tracks and scored on the "
    "fifth (micro_f1_if_tuned_per_class_held_out) scored below 0.5 on the mixes for every model shipped since "
    "stage 5, and on the drum-only tracks for most of them (benchmarks/threshold_choice.py)"
)
SCORE_KEYS = ("micro_f1", "macro_f1", "class_f1", "precision", "recall", "tp", "fp", "fn")


def choose_thresholds(at_half: list[dict], mode: str, n: int) -> tuple[list[float], list[float] | None]:
    """(mix thresholds, drum-only thresholds or None) from the mdb-dev sweeps ``at_half`` (one result per
    condition, made with ``sweep=True``). ``mode``: ``auto`` / ``auto-all`` (see :data:`THRESHOLD_MODES`) or
    ``n`` comma-separated values; the drum-only set is each class's best on the drum-only tracks (None when
    the thresholds are given)."""
    by_cond = {r["condition"]: r for r in at_half}
    if mode == "untuned":
        return [0.5] * n, None
    if mode == "auto":
        thresholds = by_cond["mix"]["best_thresholds_per_class"]
    elif mode == "auto-all":
        thresholds = best_thresholds_per_class([r["sweep_counts"] for r in at_half])
    else:
        try:
            thresholds = [float(t) for t in mode.split(",")]
        except ValueError:
            raise ValueError(
                f"--thresholds: {mode!r} is not untuned, auto, auto-all or {n} numbers"
            ) from None
    if len(thresholds) != n or not all(0 < t < 1 for t in thresholds):
        raise ValueError(f"--thresholds: need {n} values in (0, 1), got {thresholds}")
    drums = by_cond["drums"]["best_thresholds_per_class"] if mode in THRESHOLD_MODES else None
    return thresholds, drums


def real_scores(model_dir: Path, mdb: Path) -> dict[str, dict]:
    """mdb-dev scores of a model folder at its card's thresholds (input kind told per track, as a user gets
    it), per condition (mix, drums)."""
    results = evaluate_models([str(model_dir)], mdb, ("mix", "drums"), device="cpu")
    return {r["condition"]: {k: r[k] for k in SCORE_KEYS} | {"input_kind": r["input_kind"]} for r in results}


def set_thresholds(card: dict, at_half: list[dict], mode: str) -> dict:
    """Write the chosen thresholds into ``card``; returns the card's mdb-dev record of them (how they were
    chosen, the 0.5 and held-out scores; the scores at the thresholds follow from :func:`real_scores`)."""
    thresholds, drums = choose_thresholds(at_half, mode, len(card["classes"]))
    card["thresholds"] = thresholds
    if drums is None:
        card.pop("thresholds_drums_only", None)
    else:
        card["thresholds_drums_only"] = drums
    real: dict = {"thresholds": thresholds}
    real["thresholds_chosen"] = UNTUNED if mode == "untuned" else THRESHOLD_MODES.get(mode, "given")
    if drums is not None:
        real["thresholds_drums_only"] = drums
        real["thresholds_drums_only_chosen"] = (
            "per class on the mdb-dev drum-only tracks; used for recordings that sound like isolated drums "
            "(drumscribe.transcribe.inputkind)"
        )
    real["at_threshold_0.5"] = {r["condition"]: {k: r[k] for k in SCORE_KEYS} for r in at_half}
    # thresholds tuned and scored on the same five tracks are optimistic: the micro F1 with each track's
    # thresholds chosen on the other four says by how much (untuned, it is what tuning would have scored)
    key = "micro_f1_if_tuned_per_class_held_out" if mode == "untuned" else "micro_f1_held_out_thresholds"
    real[key] = {
        r["condition"]: r["micro_f1_held_out_thresholds"]
        for r in at_half
        if "micro_f1_held_out_thresholds" in r
    }
    return real


def synthetic_test_scores(model_dir: Path, stores: list[Path]) -> dict:
    """Scores of a model folder, at its card's thresholds, on the test split of synthetic ``stores``: kits
    held out of training and validation (the kit split does not depend on the render seed). The record
    names each store's render settings and its test kits, so it can be re-measured."""
    test = evaluate_model(model_dir, [str(s) for s in stores], "test", progress=False)
    record = {k: v for k, v in test.items() if k != "model"}
    renders = []
    for store in stores:
        manifest = read_json(store / "manifest.json")
        synth = manifest.get("synth") or {}
        renders.append(
            {
                "store": store.name,
                "config": synth.get("config") or {},
                "test_kits": (synth.get("kit_splits") or {}).get("test"),
            }
        )
    record["renders"] = renders
    return _strip_paths(record)


def set_input_level(card: dict, level_dbfs: InputLevel | None) -> None:
    """Write the level [dBFS], or the (low, high) range, transcription brings recordings to for this model
    into ``card`` (None: none, recordings are used at their own level); see
    :func:`drumscribe.features.input_gain_db`."""
    if level_dbfs is None:
        card.pop("input_level_dbfs", None)
        card.pop("input_level", None)
        return
    if isinstance(level_dbfs, tuple):
        card["input_level_dbfs"] = list(level_dbfs)
        how = (
            "a recording whose gated RMS level (drumscribe.audio.LevelMeter) lies in this range is heard as it "
            "is; a quieter one is raised to its low end and a louder one lowered to its high end before the "
            "model hears it"
        )
    else:
        card["input_level_dbfs"] = level_dbfs
        how = "transcription scales each recording to this gated RMS level (drumscribe.audio.LevelMeter)"
    card["input_level"] = (
        f"{how}. The synthesis engine mixes its tracks to {LOUDNESS_RANGE_DBFS[0]:g} to "
        f"{LOUDNESS_RANGE_DBFS[1]:g} dBFS, so quiet files and drum stems sound as loud as the training "
        "audio; velocities are measured on the recording as it is"
    )


def parse_input_level(value: str) -> InputLevel | None:
    """``--input-level-dbfs``: 'engine' (the engine's loudness range), 'none', a level or 'LOW,HIGH'."""
    if value == "engine":
        return tuple(float(v) for v in LOUDNESS_RANGE_DBFS)
    if value == "none":
        return None
    try:
        return check_input_level(value.split(",") if "," in value else float(value))
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(
            f"expected 'engine', 'none', a level in dBFS or LOW,HIGH, got {value!r}"
        ) from None


def retune(
    name: str,
    mdb: Path,
    mode: str,
    test_stores: list[Path] | None = None,
    input_level_dbfs: InputLevel | None = None,
) -> int:
    """Re-choose the thresholds of the shipped model ``name`` and re-score it on mdb-dev, in place (the
    weights and their ONNX export are unchanged). With ``test_stores`` the synthetic test-kit scores are
    re-measured at the new thresholds on those renders' test splits. ``input_level_dbfs``: see
    :func:`set_input_level` (written before anything is scored)."""
    out = PRETRAINED_DIR / name
    card = read_json(out / CARD_NAME)
    set_input_level(card, input_level_dbfs)
    write_json(out / CARD_NAME, card)  # the evaluations load the model from its folder
    at_half = evaluate_models([str(out)], mdb, ("mix", "drums"), threshold=0.5, sweep=True)
    # a new record (nothing of the previous thresholds' choice is kept), under the same protocol
    previous = card.setdefault("scores", {}).get("mdb_dev_real", {})
    card["scores"]["mdb_dev_real"] = {
        k: previous[k] for k in ("protocol", "tracks") if k in previous
    } | set_thresholds(card, at_half, mode)
    write_json(out / CARD_NAME, card)  # real_scores loads the model from its folder
    real = real_scores(out, mdb)
    card["scores"]["mdb_dev_real"].update(real)
    if test_stores:
        card["scores"]["synthetic_test_kits"] = synthetic_test_scores(out, test_stores)
    write_json(out / CARD_NAME, card)
    _print_real(real, card["scores"]["mdb_dev_real"]["at_threshold_0.5"])
    _print_synthetic(card)
    return 0


def _print_synthetic(card: dict) -> None:
    if "synthetic_test_kits" in card.get("scores", {}):
        pooled = card["scores"]["synthetic_test_kits"]["pooled"]
        print(f"  synthetic test kits: micro F1 {pooled['micro_f1']:.4f}")


def _print_real(real: dict, at_half: dict) -> None:
    for cond, r in real.items():
        print(f"  mdb-dev {cond}: micro F1 {r['micro_f1']:.4f} (at 0.5: {at_half[cond]['micro_f1']:.4f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, nargs="?", help="run folder (not with --retune)")
    ap.add_argument("--mdb", type=Path, default=DEFAULT_DATA, help="mdb-dev folder (validation only)")
    ap.add_argument(
        "--thresholds",
        default="untuned",
        help="'untuned' (0.5 for every class, the default), 'auto' (best per class on the mdb-dev mixes), "
        "'auto-all' (on the mixes and drum-only tracks pooled) or 5 comma-separated",
    )
    ap.add_argument("--name", default="default")
    ap.add_argument(
        "--epoch",
        type=int,
        default=None,
        help="ship RUN/epochs/epNNN (a run trained with --keep-epochs) instead of RUN/best",
    )
    ap.add_argument(
        "--retune",
        action="store_true",
        help="re-choose the thresholds of the shipped model --name and re-score it on mdb-dev, in place",
    )
    ap.add_argument(
        "--test-data",
        type=Path,
        nargs="+",
        default=None,
        metavar="STORE",
        help="with --retune: re-measure the synthetic test-kit scores on the test split of these renders",
    )
    ap.add_argument(
        "--input-level-dbfs",
        type=parse_input_level,
        default="engine",
        help="level transcription brings recordings to for this model: 'engine' (into the engine's "
        f"loudness range, {LOUDNESS_RANGE_DBFS[0]:g} to {LOUDNESS_RANGE_DBFS[1]:g} dBFS: the default), 'none' "
        "(as they are), a level (scaled to it) or LOW,HIGH (into that range; --input-level-dbfs=-25,-12)",
    )
    args = ap.parse_args(argv)
    try:  # before the shipped folder is touched: a bad --mdb must not leave it half replaced
        find_tracks(args.mdb)
    except DrumscribeError as exc:
        ap.error(f"--mdb: {exc}")
    if args.retune:
        if args.run is not None:
            ap.error("--retune works on the shipped model --name; give no run folder")
        for store in args.test_data or ():
            if not (store / "manifest.json").is_file():
                ap.error(f"--test-data {store}: not a dataset store (no manifest.json)")
        return retune(args.name, args.mdb, args.thresholds, args.test_data, args.input_level_dbfs)
    if args.test_data:
        ap.error("--test-data goes with --retune (a run is scored on the test split of its training stores)")
    if args.run is None:
        ap.error("a run folder is required (or --retune)")

    best = args.run / "best" if args.epoch is None else args.run / EPOCHS_DIR / f"ep{args.epoch:03d}"
    if not (best / CARD_NAME).is_file():
        ap.error(f"{best}: no model card (train with --keep-epochs to keep every epoch)")
    card = read_json(best / CARD_NAME)
    results = {}  # the run's best-epoch scores: only when shipping that epoch
    if args.epoch is None and (args.run / "results.json").is_file():
        results = read_json(args.run / "results.json")
    train_stores = _store_paths(card.get("training_data"))
    soup_val_stores: list[str] = []
    if card.get("averaged_from"):  # a soup: the card is its last ingredient's, so describe them all
        card["averaged_from"], soup_stores, soup_val_stores = soup_ingredients(card["averaged_from"])
        train_stores += [p for p in soup_stores if p not in train_stores]
        for key in ("epoch", "seed", "train_config"):  # the last ingredient's: each is in averaged_from
            card.pop(key, None)
    # the warm-start chain, read before the shipped folder is touched: a run fine-tuned from the model it
    # replaces (--init-from default) finds that model's card, not its own
    stages = _earlier_stages(args.run, card.get("weights_sha256"))
    # the render settings of every synthetic training store (one render per seed)
    synth_configs = [
        read_json(Path(p) / "synth_config.json")
        for p in train_stores
        if (Path(p) / "synth_config.json").is_file()
    ]
    out = PRETRAINED_DIR / args.name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best / WEIGHTS_NAME, out / WEIGHTS_NAME)
    (out / ONNX_NAME).unlink(missing_ok=True)  # never leave the previous model's export beside new weights
    set_input_level(card, args.input_level_dbfs)
    write_json(out / CARD_NAME, card)  # scored as shipped: with its input level
    at_half = evaluate_models([str(out)], args.mdb, ("mix", "drums"), threshold=0.5, sweep=True)
    run_scores = None if card.get("averaged_from") else card.get("scores")  # a soup's are measured below
    try:
        mdb_real = set_thresholds(card, at_half, args.thresholds)
    except ValueError as exc:
        ap.error(str(exc))
    card = _strip_paths(card)
    card.pop("onnx", None)  # exported afresh below
    card["name"] = args.name
    # stores that are not renders (e.g. recordings labelled by a model: scripts/pseudo_mixes.py)
    other_stores = []
    for p in train_stores:
        if not (Path(p) / "synth_config.json").is_file():
            manifest = read_json(Path(p) / "manifest.json")
            other_stores.append(
                {
                    "store": Path(p).name,
                    "tracks": len(manifest.get("tracks") or []),
                    "source": manifest.get("source"),
                }
            )
    trained = (
        "trained on synthetic audio rendered by drumscribe's synthesis engine and the stores in "
        "training_data.other_stores"
        if other_stores
        else "trained only on synthetic audio rendered by drumscribe's synthesis engine"
    )
    what = "a CRNN"
    if card.get("averaged_from"):
        what += f", the weight average of {len(card['averaged_from'])} fine-tunes (averaged_from),"
    card["description"] = (
        f"drumscribe's default model: {what} {trained}. Real-music scores are whole-track, +-50 ms, 5 classes, "
        "micro F1 (mir_eval matching)."
    )
    card["training_data"] = {
        "source": "drumscribe synth"
        + (", and the stores in other_stores" if other_stores else " (synthetic only)"),
        "synth_configs": _strip_paths(synth_configs),
        "hours": round(sum(float(c.get("hours", 0)) for c in synth_configs), 2),
        "credits": credits_for(synth_configs),
    }
    if other_stores:
        card["training_data"]["other_stores"] = _strip_paths(other_stores)
    card["regenerate"] = "scripts/train_default.sh (renders the data, trains, scores on mdb-dev, ships)"
    if stages:
        card["earlier_training_stages"] = stages
        card["training_data"]["hours_all_stages"] = hours_all_stages(synth_configs, stages)
    card["scores"] = {
        "synthetic_validation_kits": _strip_paths(
            results.get("validation") or results.get("best_validation") or run_scores
        ),
        "mdb_dev_real": {
            "protocol": "whole track, 50 ms, one-to-one per class (mir_eval), micro F1 over classes and tracks",
            "tracks": "5 MDB Drums tracks in ../shared/data/mdb-dev (validation only, never trained on)",
            **mdb_real,
        },
        "reference_public_model": {"ADTOF (Zehren et al.) on mdb-dev": {"mix": 0.935, "drums": 0.956}},
    }
    write_json(out / CARD_NAME, card)
    model = load_model(out)  # verifies checksum and architecture
    real = real_scores(out, args.mdb)
    card["scores"]["mdb_dev_real"].update(real)
    if soup_val_stores:  # a soup has no run of its own: its validation kits, at the card's thresholds
        validation = evaluate_model(out, soup_val_stores, "validation", progress=False)
        validation.pop("model", None)
        card["scores"]["synthetic_validation_kits"] = _strip_paths(validation)
    if train_stores:  # the synthetic test split: kits held out of training and validation
        card["scores"]["synthetic_test_kits"] = synthetic_test_scores(out, [Path(p) for p in train_stores])
    write_json(out / CARD_NAME, card)
    onnx_path = export_onnx(out)  # checks ONNX Runtime against torch; records the file in the card
    print(f"shipped {model.name} ({card['arch']}, {card.get('n_parameters')} parameters) to {out}")
    print(f"  ONNX export: {onnx_path.name}")
    _print_real(real, mdb_real["at_threshold_0.5"])
    _print_synthetic(card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
