"""``face-trigger audit verify LOG``: check a door's audit log (its chain, its checkpoint
and any anchors kept from published events)."""
from __future__ import annotations

import argparse
import os
from typing import Any, List, Tuple

import face_trigger as ft

from .common import EXIT_DIFFERENT, EXIT_OK, UsageError, flags

HELP = "check a door's audit log: verify LOG [--anchor SEQ:DIGEST] [--key-env VAR]"


def register(sub: Any) -> None:
    parser = sub.add_parser("audit", help=HELP, description=HELP)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = ("check the chain of LOG and its rotated files against its checkpoint; exit 0 "
            "intact, 1 broken (where and what is printed)")
    p = actions.add_parser("verify", help=text, description=text, parents=flags("verbosity"))
    p.add_argument("log", metavar="LOG")
    p.add_argument("--anchor", action="append", default=[], metavar="SEQ:DIGEST",
                   help="a line's anchor from a published event (its 'audit' field); "
                        "repeatable")
    p.add_argument("--key-env", metavar="VAR", default="FACE_TRIGGER_AUDIT_KEY",
                   help="environment variable holding the HMAC key of a keyed log "
                        "(default %(default)s; the key itself is never an argument)")
    p.add_argument("--backups", type=int, default=5, help="rotated files kept (.1 ... .N)")
    p.set_defaults(handler=run)


def anchors_of(values: List[str]) -> List[Tuple[int, str]]:
    out = []
    for value in values:
        seq, _, digest = value.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise UsageError(f"--anchor wants SEQ:DIGEST (a line number and 64 hex digits), "
                             f"got {value!r}")
        out.append((int(seq), digest))
    return out


def run(args: argparse.Namespace) -> int:
    key = os.environ.get(args.key_env) or None
    ok, lines, problem = ft.door.verify_chain(args.log, backups=args.backups, key=key,
                                              anchors=anchors_of(args.anchor))
    print(f"{args.log}: {lines} lines, chain {'intact' if ok else 'BROKEN'}"
          + (f" at {problem}" if problem else "") + (" (keyed)" if key else ""))
    return EXIT_OK if ok else EXIT_DIFFERENT
