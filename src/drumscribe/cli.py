"""The ``drumscribe`` command line: ``main(argv=None)`` dispatches subcommands.

Each subcommand lives next to the code it drives, in a module with a ``register(subparsers)`` function
that adds its parser and sets ``func`` (a callable taking the parsed namespace and returning an exit
code). Those modules import heavy libraries only inside ``func``, so ``drumscribe --help`` is instant.
Library code raises :class:`~drumscribe.errors.DrumscribeError`; only this module turns errors into
exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .errors import DrumscribeError

#: Modules that register subcommands (in the order they appear in ``--help``) and the commands each adds.
#: ``drumscribe COMMAND ...`` imports only COMMAND's module, so e.g. ``transcribe`` starts fast.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "drumscribe.transcribe.cli": ("transcribe",),
    "drumscribe.onnxio": ("export-onnx",),
    "drumscribe.web.cli": ("serve",),
    "drumscribe.data.cli": ("convert", "datasets"),
    "drumscribe.synth.cli": ("synth",),
    "drumscribe.train.cli": ("train", "evaluate"),
    "drumscribe.tune.cli": ("tune",),
    "drumscribe.studies.cli": ("study",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``drumscribe`` parser with every subcommand, or only the module that adds ``command``."""
    modules = [m for m, commands in COMMAND_MODULES.items() if command in commands] or list(COMMAND_MODULES)
    parser = argparse.ArgumentParser(
        prog="drumscribe",
        description="Automatic drum transcription: kick, snare, toms, hi-hat and cymbals from audio.",
    )
    parser.add_argument("--version", action="version", version=f"drumscribe {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a part not installed in this build
            if exc.name and exc.name.startswith("drumscribe"):
                continue
            raise
        module.register(sub)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


#: how to install the packages of drumscribe's optional parts (pyproject.toml's extras; make setup)
OPTIONAL_PACKAGES = {
    "fastapi": "pip install 'drumscribe[web]'",
    "uvicorn": "pip install 'drumscribe[web]'",
    "multipart": "pip install 'drumscribe[web]'",
    "ray": "pip install 'drumscribe[train]'",
    "optuna": "pip install 'drumscribe[train]'",
    "pandas": "pip install 'drumscribe[train]'",
    "onnx": "pip install 'drumscribe[train]'",
    "tfrecord": "pip install 'drumscribe[datasets]'",
    "tinysoundfont": "pip install --no-deps tinysoundfont, as make setup does",
}


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand of an argument list: the first argument that is not a top-level option."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except DrumscribeError as exc:
        print(f"drumscribe {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"drumscribe {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:  # an optional part not installed: say which, not a traceback
        top = (exc.name or "").split(".")[0]
        if not top or top == "drumscribe":
            raise
        how = OPTIONAL_PACKAGES.get(top, f"pip install {top}")
        print(
            f"drumscribe {args.command}: error: needs the Python package {top!r}, not installed ({how})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
