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
import json
import logging
import signal
import sys
import threading
from pathlib import Path

import face_trigger as ft
from face_trigger.audit import AuditLog, verify_chain
from face_trigger.door_config import ConfigError, load_config
from face_trigger.sources import FrameSource
from face_trigger.trigger import DoorTrigger


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="TOML configuration")
    parser.add_argument("--source", help="camera index, video file or URL")
    parser.add_argument("--model", help="saved FaceRecognizer (.pkl)")
    parser.add_argument("--people", help="folder <name>/*.jpg to enrol at start")
    parser.add_argument("--key", help="model key (default: $FACE_TRIGGER_MODEL_KEY)")
    parser.add_argument("--audit", help="audit log path")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="one JSON object per decision")
    parser.add_argument("--dry-run", action="store_true", help="show what would fire")
    parser.add_argument("--verify-audit", type=Path, help="check an audit log's hash chain")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ft.configure_opencv(quiet=not args.verbose)
    if args.verify_audit:
        ok, lines, problem = verify_chain(args.verify_audit)
        print(f"{args.verify_audit}: {lines} lines, chain {'intact' if ok else 'BROKEN'}"
              + (f" at {problem}" if problem else ""))
        return 0 if ok else 1
    overrides = list(args.set)
    demo = None
    if args.source is None and args.config is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from make_demo_video import build_demo  # noqa: PLC0415 - the demo only
        video = build_demo(Path("door_demo"))
        overrides += [f'source.uri="{video}"', 'recognizer.people="door_demo/people"',
                      'audit.path="door_demo/audit.jsonl"',
                      'audit.snapshots="door_demo/snapshots"']
        demo = {"actions": [{"type": "log"}]}
        print(f"watching the demo video {video}", file=sys.stderr)
    for option, key in (("source", "source.uri"), ("model", "recognizer.model"),
                        ("people", "recognizer.people"), ("audit", "audit.path")):
        value = getattr(args, option)
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    try:
        config = load_config(args.config, overrides, data=demo)
    except ConfigError as exc:
        print(f"door_trigger: configuration error: {exc}", file=sys.stderr)
        return 2
    s = config.sections
    pipeline = ft.FacePipeline(ft.YuNetDetector(max_side=s["detector"]["max_side"],
                                                conf_threshold=s["detector"]["conf_threshold"]))
    recognizer = ft.FaceRecognizer(classifier=s["recognizer"]["classifier"],
                                   unknown_threshold=s["recognizer"]["unknown_threshold"],
                                   margin=s["recognizer"]["margin"])
    if s["recognizer"]["model"]:
        recognizer.load(s["recognizer"]["model"], key=args.key)
    else:
        report = recognizer.fit_folder(s["recognizer"]["people"])
        print(report.summary(), file=sys.stderr)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    source = FrameSource(s["source"]["uri"], live=s["source"]["live"],
                         max_backoff_s=s["source"]["max_backoff_s"], stop=stop.is_set)
    audit = AuditLog(s["audit"]["path"], max_bytes=s["audit"]["max_bytes"],
                     backups=s["audit"]["backups"], fsync=s["audit"]["fsync"])
    trigger = DoorTrigger(recognizer, pipeline, settings=config.decision_settings(),
                          actions=config.build_actions(), audit=audit,
                          snapshot_dir=s["audit"]["snapshots"], dry_run=args.dry_run)
    try:
        for event in trigger.run(source, health=lambda: source.stats.healthy):
            if args.json:
                print(json.dumps({k: event.to_dict()[k] for k in (
                    "event_id", "frame", "video_time", "time", "track_id", "decision",
                    "person", "similarity", "margin", "votes", "fired", "refused",
                    "snapshot")}), flush=True)
            else:
                verdict = f"fired {', '.join(event.fired)}" if event.fired else \
                    "; ".join(f"{k}: {v}" for k, v in event.refused.items()) or "no action"
                print(f"frame {event.frame:5d} ({event.video_time:6.2f} s) track "
                      f"{event.track_id}: {event.person:8s} similarity {event.similarity:.2f} "
                      f"-> {verdict}", flush=True)
    finally:
        trigger.close()
    print(f"{trigger.frames} frames, {trigger.embedded_faces} faces embedded, "
          f"{source.stats.skipped} frames skipped; audit log {s['audit']['path']}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
