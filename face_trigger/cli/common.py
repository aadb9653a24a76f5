"""What every ``face-trigger`` command shares: exit codes, the usage error, output checks,
the flags that mean the same on every command (parent parsers), and reading the inputs."""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

import face_trigger as ft
from face_trigger.enrollment import IMAGE_SUFFIXES
from face_trigger.errors import EXIT_ERROR, EXIT_INPUT, EXIT_MODEL, EXIT_USAGE

EXIT_OK = 0
EXIT_DIFFERENT = 1
__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_DIFFERENT", "EXIT_USAGE", "EXIT_INPUT", "EXIT_MODEL",
           "UsageError", "CommandError", "check_output", "DB_HELP", "Inputs", "csv_row",
           "cosine_flag", "flags"]


class UsageError(Exception):
    """Bad arguments found after parsing (exit 2)."""


class CommandError(Exception):
    """The command cannot do what was asked, for a reason its message gives (exit 1)."""


def check_output(path: Optional[str]) -> None:
    """Refuse at start, as a usage error, an output whose folder does not exist or cannot
    be written (not after the work, and not as an unreadable input)."""
    if not path:
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {path}: folder {folder} is not writable")


DB_HELP = ("an SQLite file (or sqlite:///path) or postgresql://user@host/db "
           "(needs the [postgres] extra)")


def _parent(*add: Any) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    for one in add:
        one(parser)
    return parser


def flags(*names: str, json_help: str = "one JSON object per line", db_help: str = DB_HELP,
          db_required: bool = False,
          max_side: int = ft.thresholds.STILL_MAX_SIDE) -> List[argparse.ArgumentParser]:
    """Parent parsers for the flags that mean the same on every command that takes them:
    ``json``, ``key`` (with ``--allow-unsigned``), ``max_side``, ``db`` (``--db`` or its
    alias ``--gallery``), ``cpus``, ``threshold`` (the identify gate), ``verbosity`` (``-v``
    and ``-q``, also after the command). ``max_side`` is the default of --max-side: photos
    are detected at their own size up to it (STILL_MAX_SIDE; video commands pass less)."""
    known = {
        "json": lambda p: p.add_argument("--json", action="store_true", help=json_help),
        "key": lambda p: (p.add_argument(
            "--key", help="key of a signed model (default $FACE_TRIGGER_MODEL_KEY)"),
            p.add_argument("--allow-unsigned", action="store_true",
                           help="load a model saved without a key (unpickling an unsigned "
                                "file runs whatever code it holds)")),
        "max_side": lambda p: p.add_argument(
            "--max-side", type=int, default=max_side,
            help="longest side the detector sees (a larger image is shrunk to it, a smaller "
                 "one is not enlarged); raise it for small faces (default %(default)s)"),
        "db": lambda p: p.add_argument("--db", "--gallery", dest="db", required=db_required,
                                       help=db_help),
        "threshold": lambda p: p.add_argument(
            "--threshold", type=float, default=None,
            help=f"cosine similarity to accept a match (default {ft.IDENTIFY_COSINE})"),
        "verbosity": lambda p: (
            p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                           help="show OpenCV warnings and Python tracebacks"),
            p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                           help="only errors on stderr")),
        "cpus": lambda p: p.add_argument(
            "--cpus", type=int, default=1,
            help="worker processes for many images (-1: one per core)"),
    }
    return [_parent(known[name]) for name in names]


def expand_inputs(paths: Sequence[str]) -> List[Tuple[str, Optional[str]]]:
    """(path, problem) for every image named or inside a named folder (not recursive),
    folders sorted by name; a missing path gives (path, "not found")."""
    out: List[Tuple[str, Optional[str]]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += [(str(p), None) for p in sorted(path.iterdir())
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            out.append((raw, None))
        else:
            out.append((raw, "not found"))
    return out


class Inputs:
    """The images named on a command line (folders expanded, in order). Each one that
    cannot be read is reported on stderr, one line, and sets :attr:`status` to
    EXIT_INPUT; the others are processed."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.items = expand_inputs(paths)
        self.status = EXIT_OK

    def report(self, path: str, problem: Any) -> None:
        print(f"face-trigger: {path}: {problem}", file=sys.stderr)
        self.status = EXIT_INPUT

    def paths(self) -> List[str]:
        """The paths that exist (the missing ones reported now)."""
        found = []
        for path, problem in self.items:
            if problem:
                self.report(path, problem)
            else:
                found.append(path)
        return found

    def images(self) -> Iterator[Tuple[str, np.ndarray]]:
        """(path, BGR image) of every input that can be read and decoded."""
        for path in self.paths():
            try:
                image = ft.read_image(path)
            except (ft.ImageReadError, ft.InvalidImageError) as exc:
                self.report(path, exc)
                continue
            yield path, image


def csv_row(*fields: Any) -> None:
    """One CSV line on stdout, quoted by the csv module where a field needs it (a file
    name holding a comma, quote or newline cannot forge a row)."""
    csv.writer(sys.stdout, lineterminator="\n").writerow(fields)


def cosine_flag(value: float, flag: str) -> float:
    """A cosine similarity gate given on the command line: in [0, 1], else a usage error
    (a negative gate calls everyone the same person)."""
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise UsageError(f"{flag} is a cosine similarity gate in [0, 1], got {value}")
    return value
