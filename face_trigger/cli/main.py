"""The ``face-trigger`` parser and entry point: each command is a module with
``register(subparsers)`` and ``run(args)``; this one only lists them."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, List, Optional

from face_trigger import FaceTriggerError, __version__
from face_trigger.runtime import configure_opencv

from . import (annotate, audit, bench, calibrate, demo, detect, enroll, gallery, identify,
               liveness, train, verify, watch)
from .common import (EXIT_ERROR, EXIT_INPUT, EXIT_OK, EXIT_USAGE, CommandError, UsageError,
                     flags)

#: The commands, in the order ``--help`` lists them.
COMMANDS = (detect, identify, train, enroll, gallery, verify, calibrate, annotate, watch,
            audit, liveness, bench, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="face-trigger",
        description="Face detection, embedding and recognition on the CPU (YuNet + SFace).")
    parser.add_argument("--version", action="version", version=f"face_trigger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show OpenCV warnings and Python tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument("--threads", type=int, default=None,
                        help="OpenCV threads per call (default: OpenCV's choice)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(_EveryCommand(sub))
    return parser


class _EveryCommand:
    """The subparsers, handing every command the flags that mean the same everywhere and
    may follow the command too (``detect -q ...``)."""

    def __init__(self, sub: Any) -> None:
        self._sub = sub

    def add_parser(self, name: str, **options: Any) -> argparse.ArgumentParser:
        options["parents"] = list(options.get("parents", [])) + flags("verbosity")
        parser: argparse.ArgumentParser = self._sub.add_parser(name, **options)
        return parser


def exit_code(exc: BaseException) -> int:
    """Each face_trigger error carries its exit status (``errors.py``); of the others a
    usage error exits 2, a missing file 3, the rest 1."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, FaceTriggerError):
        return exc.exit_code
    return EXIT_INPUT if isinstance(exc, FileNotFoundError) else EXIT_ERROR


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((i for i, item in enumerate(argv) if not item.startswith("-")), None)
    if command is not None and argv[command] == "identify":  # --show-distance true|false
        argv = argv[:command + 1] + identify.peer_argv(argv[command + 1:])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not args.quiet:  # the door's `log` action writes at INFO: an action the user asked for
        logging.getLogger("face_trigger.door.actions").setLevel(logging.INFO)
    try:
        configure_opencv(threads=args.threads, quiet=not args.verbose)
        return int(args.handler(args))
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (FaceTriggerError, OSError, ValueError, UsageError, CommandError) as exc:
        if args.verbose:
            raise
        print(f"face-trigger: error: {exc}", file=sys.stderr)
        return exit_code(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
