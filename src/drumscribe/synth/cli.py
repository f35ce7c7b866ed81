"""``drumscribe synth``: render a synthetic labelled dataset; ``drumscribe synth kits``: list the kits.

Heavy imports happen inside :func:`run`, so ``drumscribe --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields

log = logging.getLogger(__name__)


def _defaults() -> dict:
    # read the library defaults without importing numpy-heavy modules at CLI build time
    from .render import SynthConfig

    return {f.name: f.default for f in fields(SynthConfig)}


def register(subparsers: argparse._SubParsersAction) -> None:
    d = _defaults()
    p = subparsers.add_parser(
        "synth",
        help="render a synthetic labelled drum dataset (or 'synth kits' to list the installed kits)",
        description=(
            "Render HOURS of labelled drum audio (sampled + procedural kits, human/generated grooves, "
            "accompaniment, mixing) into a dataset store at OUT_DIR. 'drumscribe synth kits' lists the "
            "installed kits, their classes and their split."
        ),
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="output store folder, or the word 'kits' to list kits")
    p.add_argument(
        "--hours", type=float, default=d["hours"], help="hours of audio to render (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=d["seed"], help="random seed (default %(default)s)")
    p.add_argument(
        "--workers", type=int, default=d["workers"], help="parallel processes (default %(default)s)"
    )
    p.add_argument("--gmd", default=d["gmd"], help="Groove MIDI Dataset folder for human grooves")
    p.add_argument(
        "--drums-only-share",
        type=float,
        default=d["drums_only_share"],
        help="share of tracks without accompaniment (default %(default)s)",
    )
    p.add_argument(
        "--band-only-share",
        type=float,
        default=d["band_only_share"],
        help="share of tracks with a band in which the drummer rests for a span, up to the whole track "
        "(default %(default)s)",
    )
    p.add_argument(
        "--track-s", type=float, default=d["track_s"], help="track length [s] (default %(default)s)"
    )
    p.add_argument(
        "--kits",
        nargs="+",
        default=d["kits"],
        help="use only kits whose name contains one of these strings ('procedural' alone: synthesised kits only)",
    )
    p.add_argument(
        "--test-kits",
        nargs="+",
        default=d["test_kits"],
        help="kits (name substrings) held out for test; naming any test or validation kit replaces the automatic "
        "split: every other family trains",
    )
    p.add_argument(
        "--validation-kits",
        nargs="+",
        default=d["validation_kits"],
        help="kits (name substrings) for validation (as --test-kits: every family not named trains)",
    )
    p.add_argument(
        "--procedural-share",
        type=float,
        default=d["procedural_share"],
        help="share of tracks played on a procedural kit (default %(default)s)",
    )
    p.add_argument(
        "--styles",
        nargs="+",
        default=d["styles"],
        help="play only these styles: the generator's (rock, metal, punk, funk, jazz, ...) and/or the GMD "
        "folder's (rock, funk, latin, ...); default: all",
    )
    p.add_argument("--no-accompaniment", action="store_true", help="render drums only")
    p.add_argument(
        "--stems",
        nargs="+",
        default=d["stems"],
        metavar="PATH",
        help="files or folders of real recordings without drums (guitar, bass, vocal stems) mixed into the "
        f"band of a share of the tracks (--set stems_share=..., default {d['stems_share']})",
    )
    p.add_argument(
        "--degrade",
        type=float,
        default=d["degrade"],
        help="mix/degradation strength 0-1 (default %(default)s)",
    )
    p.add_argument(
        "--save-audio", action="store_true", help="also write each track as FLAC under OUT_DIR/audio"
    )
    p.add_argument("--address", default=d["address"], help="Ray cluster address: render as Ray tasks")
    p.add_argument(
        "--cache-dir", default=d["cache_dir"], help="kit sample cache (default ~/.cache/drumscribe/kits)"
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",  # repeated --set flags add up (a second one used to replace the first)
        default=[],
        metavar="KEY=VALUE",
        help="override any render setting for ablations, e.g. --set variant_prob=0 swap_prob=0 tempo_change=0 "
        "(settings: " + ", ".join(sorted(d)) + ")",
    )
    p.add_argument("--json", action="store_true", help="with 'kits': print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out_dir == "kits":
        return _list_kits(args)
    from .render import SynthConfig, render_dataset

    overrides = parse_overrides(args.set)
    config = SynthConfig(
        hours=args.hours,
        seed=args.seed,
        track_s=args.track_s,
        workers=args.workers,
        gmd=args.gmd,
        drums_only_share=args.drums_only_share,
        band_only_share=args.band_only_share,
        kits=args.kits,
        test_kits=args.test_kits,
        validation_kits=args.validation_kits,
        procedural_share=args.procedural_share,
        styles=args.styles,
        accompaniment=not args.no_accompaniment,
        stems=args.stems,
        degrade=args.degrade,
        save_audio=args.save_audio,
        address=args.address,
        cache_dir=args.cache_dir,
    )
    if overrides:
        config = SynthConfig.from_dict({**config.to_dict(), **overrides})
    manifest = render_dataset(args.out_dir, config, progress=not getattr(args, "quiet", False))
    counts: dict[str, int] = {}
    for t in manifest["tracks"]:
        counts[t["split"]] = counts.get(t["split"], 0) + 1
    hours = sum(t["duration_s"] for t in manifest["tracks"]) / 3600
    print(f"{args.out_dir}: {len(manifest['tracks'])} tracks, {hours:.2f} h ({counts})")
    return 0


def parse_overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` strings -> typed values of :class:`SynthConfig` fields (JSON values, or plain strings)."""
    from ..errors import ConfigError

    known = _defaults()
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in known:
            raise ConfigError(
                f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}"
            )
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        default = known[key]
        if isinstance(default, float) and isinstance(out[key], int) and not isinstance(out[key], bool):
            out[key] = float(out[key])
        if default is not None and not isinstance(out[key], type(default)):
            raise ConfigError(f"--set {key}: expected a {type(default).__name__}, got {value!r}")
    return out


def _list_kits(args: argparse.Namespace) -> int:
    from .kits import kit_coverage_table, kits_and_splits, no_kits_message

    want = [s for s in (args.kits or []) if s.lower() != "procedural"]
    kits, splits = kits_and_splits(want or None, args.test_kits, args.validation_kits)
    if not kits:
        print(no_kits_message(), file=sys.stderr)
        return 1
    split_of = {name: s for s, names in splits.items() for name in names}
    rows = kit_coverage_table(kits)
    for r in rows:
        r["split"] = split_of[r["name"]]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        missing = (
            ""
            if r["complete"]
            else "  (no "
            + ", ".join(c for c in ("kick", "snare", "toms", "hihat", "cymbals") if c not in r["classes"])
            + ")"
        )
        print(f"{r['name']:<{width}}  {r['split']:<10}  {r['family']:<24} {' '.join(r['classes'])}{missing}")
    n_complete = sum(r["complete"] for r in rows)
    print(
        f"{len(rows)} kits ({n_complete} cover all 5 classes); splits: "
        + ", ".join(f"{k} {len(v)}" for k, v in splits.items())
    )
    return 0
