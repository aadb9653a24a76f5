"""``face-trigger watch``: the door trigger on a camera, video or URL."""
from __future__ import annotations

import argparse
from typing import Any

import face_trigger as ft

from .common import DB_HELP, UsageError, flags

HELP = "the door trigger on a camera, video or URL"


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help=HELP, description=HELP,
                       parents=flags("json", "key", json_help="one JSON object per decision"))
    p.add_argument("source", nargs="?", help="camera index, video file or URL")
    p.add_argument("--config", help="TOML configuration")
    p.add_argument("--model", help="saved recognizer")
    p.add_argument("--people", help="folder <name>/*.jpg to enrol at start")
    p.add_argument("--gallery", help="identify with a gallery: " + DB_HELP)
    p.add_argument("--audit", help="audit log path")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--allow-weak-gate", action="store_true",
                   help="run with recognizer.unknown_threshold below MATCH_COSINE (audited)")
    p.add_argument("--liveness", action="store_true",
                   help="fire only for live faces, not photos or screens held up "
                        "([liveness] in the config; docs/liveness.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    extra = list(args.set) + (["liveness.enabled=true"] if args.liveness else []) + (
        ["recognizer.allow_weak_gate=true"] if args.allow_weak_gate else []) + (
        ["recognizer.require_signature=false"] if args.allow_unsigned else [])
    try:
        config = ft.load_config(args.config, ft.door.door_overrides(
            args.source, args.model, args.people, args.audit, extra, gallery=args.gallery))
    except ft.ConfigError as exc:
        raise UsageError(f"configuration: {exc}") from exc
    return ft.door.run_door(config, as_json=args.json, dry_run=args.dry_run, key=args.key)
