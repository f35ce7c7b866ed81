"""``drumscribe convert NAME SRC OUT`` and ``drumscribe datasets info DIR``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .converters import CONVERTERS, DEFAULT_SEGMENTS_PER_TRACK, DEFAULT_WORKERS

#: converter-specific options: flag dest -> converters accepting it
_OPTIONS = {
    "stem": ("mdb-dev",),
    "label_map": ("folder",),
    "split": ("folder",),
    "segments_per_track": ("adtof-yt",),
}


def register(subparsers: Any) -> None:
    names = "\n".join(f"  {name:9s} {help_}" for name, (_, _, help_) in CONVERTERS.items())
    p = subparsers.add_parser(
        "convert",
        help="convert a dataset release (or your own annotated audio) into a drumscribe store",
        description="Convert a dataset folder into a drumscribe store (manifest + memory-mapped features).\n"
        f"Datasets:\n{names}\n\nA re-run skips finished tracks; unreadable or missing files are listed in a "
        "summary (also saved as conversion.json) and the rest is converted. Exit code 1 if any failed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=list(CONVERTERS), metavar="NAME", help="dataset: " + ", ".join(CONVERTERS))
    p.add_argument("src", type=Path, metavar="SRC", help="the dataset folder as downloaded")
    p.add_argument("out", type=Path, metavar="OUT", help="the store folder to write")
    p.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="parallel processes (default %(default)s)"
    )
    p.add_argument("--overwrite", action="store_true", help="convert every track again, replacing the store")
    p.add_argument(
        "--stem", choices=("mix", "drums"), default=None, help="mdb-dev: audio folder (default mix)"
    )
    p.add_argument(
        "--label-map",
        default=None,
        help="folder: drumscribe, enst, mdb, gm, roland or a JSON file {label: class}; default: gm for "
        "MIDI sidecars, drumscribe (kick, snare, toms, hihat, cymbals, as transcribe writes them) for text",
    )
    p.add_argument(
        "--split",
        choices=("train", "validation", "test"),
        default=None,
        help="folder: split of every track (default: from splits.json, else test)",
    )
    p.add_argument(
        "--segments-per-track",
        type=int,
        default=None,
        help=f"adtof-yt: 400-frame segments per store track (default {DEFAULT_SEGMENTS_PER_TRACK})",
    )
    p.set_defaults(func=run_convert)

    d = subparsers.add_parser("datasets", help="inspect dataset stores")
    dsub = d.add_subparsers(dest="datasets_command", metavar="ACTION")
    info = dsub.add_parser("info", help="tracks, hours and onsets per class and split of a store")
    info.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="store folder(s)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=run_info)


def run_convert(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from .converters import get_converter
    from .converters.base import convert

    options: dict[str, Any] = {}
    for dest, accepted in _OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if args.name not in accepted:
            flag = "--" + dest.replace("_", "-")
            raise ConfigError(f"{flag} applies to {', '.join(accepted)} only, not {args.name}")
        options[dest] = value
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    converter = get_converter(args.name)(args.src, **options)
    summary = convert(converter, args.out, workers=args.workers, overwrite=args.overwrite)
    print(summary.format())
    return 0 if not summary.failed else 1


def store_summary(path: str | Path) -> dict[str, Any]:
    """Tracks, hours and onsets per class, per split and in total, of the store at ``path``."""
    from .store import SPLITS, Store

    store = Store(path)
    n_classes = len(store.classes)
    splits: dict[str, dict[str, Any]] = {}
    for split in (*SPLITS, *sorted({r.split for r in store.records.values()} - set(SPLITS))):
        recs = [r for r in store.records.values() if r.split == split]
        if not recs:
            continue
        onsets = [sum(r.n_onsets[c] for r in recs) for c in range(n_classes)]
        splits[split] = {
            "tracks": len(recs),
            "hours": sum(r.duration_s for r in recs) / 3600.0,
            "frames": sum(r.n_frames for r in recs),
            "onsets": dict(zip(store.classes, onsets)),
        }
    total_onsets = {c: sum(s["onsets"][c] for s in splits.values()) for c in store.classes}
    stats = dict(store.stats or {})
    if stats and not store.track_ids(stats.get("split", "train")):
        stats["split"] = "all tracks"  # the store has no training split; its statistics cover every track
    return {
        "path": str(store.root),
        "name": store.name,
        "format_version": store.manifest.get("format_version"),
        "tracks": len(store),
        "hours": sum(s["hours"] for s in splits.values()),
        "onsets": total_onsets,
        "splits": splits,
        "stats": {k: stats.get(k) for k in ("split", "mean", "std", "class_weights")} if stats else None,
        "feature_config": store.feature_config,
    }


def format_summary(info: dict[str, Any]) -> str:
    classes = list(info["onsets"])
    head = f"{'split':<11}{'tracks':>7}{'hours':>9}" + "".join(f"{c:>9}" for c in classes)
    lines = [f"{info['name']}  ({info['path']})", head]
    rows = [
        *info["splits"].items(),
        ("total", {"tracks": info["tracks"], "hours": info["hours"], "onsets": info["onsets"]}),
    ]
    for split, s in rows:
        lines.append(
            f"{split:<11}{s['tracks']:>7}{s['hours']:>9.3f}"
            + "".join(f"{s['onsets'][c]:>9}" for c in classes)
        )
    if info.get("stats"):
        st = info["stats"]
        weights = ", ".join(f"{w:.2f}" for w in st["class_weights"])
        lines.append(
            f"normalisation ({st['split']}): mean {st['mean']:.4f}, std {st['std']:.4f}; weights {weights}"
        )
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    infos = [store_summary(d) for d in args.dirs]
    if args.json:
        json.dump(infos if len(infos) > 1 else infos[0], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(format_summary(i) for i in infos))
    return 0
