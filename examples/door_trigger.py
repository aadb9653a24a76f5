"""The door trigger: watch a camera or video, recognise enrolled people, fire actions.

    python examples/door_trigger.py                       # builds and watches the demo video
    python examples/door_trigger.py --config door.toml    # everything from a TOML file
    python examples/door_trigger.py --source 0 --model door.pkl --json
    python examples/door_trigger.py --source rtsp://cam/stream --people people/ \\
        --set decision.votes_needed=4 --dry-run
    python examples/door_trigger.py --verify-audit door_audit.jsonl

Command-line options override the file; ``--set section.key=value`` reaches every setting.
With --json, one JSON object per decision goes to stdout (event id, frame index and time,
person or "unknown", scores, fired actions). SIGINT / SIGTERM stop cleanly: queued actions
finish, the audit log is complete.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import face_trigger as ft


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="TOML configuration")
    parser.add_argument("--source", help="camera index, video file or URL")
    parser.add_argument("--model", help="saved FaceRecognizer (.pkl)")
    parser.add_argument("--people", help="folder <name>/*.jpg to enrol at start")
    parser.add_argument("--gallery", help="a gallery instead: file or postgresql:// URL")
    parser.add_argument("--key", help="model key (default: $FACE_TRIGGER_MODEL_KEY)")
    parser.add_argument("--audit", help="audit log path")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="one JSON object per decision")
    parser.add_argument("--dry-run", action="store_true", help="show what would fire")
    parser.add_argument("--verify-audit", type=Path, help="check an audit log's hash chain")
    parser.add_argument("--anchor", action="append", default=[], metavar="SEQ:DIGEST",
                        help="with --verify-audit: a line's anchor from a published event "
                             "(its 'audit' field); repeatable")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ft.runtime.configure_opencv(quiet=not args.verbose)
    if args.verify_audit:
        try:
            anchors = [(int(a.split(":")[0]), a.split(":")[1]) for a in args.anchor]
        except (ValueError, IndexError):
            print(f"--anchor wants SEQ:DIGEST, got {args.anchor}", file=sys.stderr)
            return 2
        ok, lines, problem = ft.door.verify_chain(args.verify_audit, anchors=anchors)
        print(f"{args.verify_audit}: {lines} lines, chain {'intact' if ok else 'BROKEN'}"
              + (f" at {problem}" if problem else ""))
        return 0 if ok else 1
    demo = None
    extra = list(args.set)
    if args.source is None and args.config is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from make_demo_video import build_demo  # noqa: PLC0415 - the demo only
        video = build_demo(Path("door_demo"))
        extra += [f'source.uri="{video}"', 'recognizer.people="door_demo/people"',
                  'audit.path="door_demo/audit.jsonl"', 'audit.snapshots="door_demo/snapshots"']
        demo = {"actions": [{"type": "log"}]}
        print(f"watching the demo video {video}", file=sys.stderr)
    try:
        config = ft.load_config(args.config, ft.door.door_overrides(
            args.source, args.model, args.people, args.audit, extra, gallery=args.gallery),
            data=demo)
    except ft.ConfigError as exc:
        print(f"door_trigger: configuration error: {exc}", file=sys.stderr)
        return 2
    return ft.door.run_door(config, as_json=args.json, dry_run=args.dry_run, key=args.key)


if __name__ == "__main__":
    sys.exit(main())
