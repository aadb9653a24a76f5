"""``face-trigger watch``: the door trigger on a camera, video or URL, with its actions given
on the command line (``--exec``, ``--webhook``, ``--mqtt``, ``--print``), in a TOML file, or
both."""
from __future__ import annotations

import argparse
import os
import shlex
from typing import Any, Dict, List
from urllib.parse import unquote, urlsplit

import face_trigger as ft
from face_trigger.door.config import read_toml

from .common import DB_HELP, UsageError, check_output, flags

HELP = "the door trigger on a camera, video or URL"
#: The environment variable an --mqtt URL's password is read from (never an argument).
MQTT_PASSWORD_ENV = "FACE_TRIGGER_MQTT_PASSWORD"


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help=HELP, description=HELP,
                       parents=flags("json", "key", "db", "max_side", "threshold",
                                     json_help="one JSON object per decision",
                                     db_help="identify with a gallery: " + DB_HELP))
    p.set_defaults(max_side=None)  # the configuration's unless given
    p.add_argument("source", nargs="*",
                   help="camera index, video file or URL; several are watched by one process "
                        "with the models loaded once")
    p.add_argument("--config", help="TOML configuration")
    p.add_argument("--model", help="saved recognizer")
    p.add_argument("--people", help="folder <name>/*.jpg to enrol at start")
    p.add_argument("--audit", help="audit log path")
    p.add_argument("--exec", action="append", default=[], metavar="'PROGRAM ARGS...'",
                   help="run a program when an enrolled person is identified; arguments may "
                        "hold {person}, {similarity}, {event_id}, {snapshot}... (split like a "
                        "shell line but never run by a shell); repeatable")
    p.add_argument("--webhook", action="append", default=[], metavar="URL",
                   help="POST each firing as JSON to this URL; repeatable")
    p.add_argument("--mqtt", action="append", default=[], metavar="mqtt://[USER@]HOST[:PORT]"
                   "[/TOPIC]", help="publish each firing (topic default "
                   f"face_trigger/{{decision}}; password from ${MQTT_PASSWORD_ENV})")
    p.add_argument("--print", action="store_true",
                   help="one line per firing on stdout: time, person, similarity, event id")
    p.add_argument("--allow-failing-actions", action="store_true",
                   help="start even when an action cannot work (a missing program...)")
    p.add_argument("--give-up-after", type=float, metavar="S",
                   help="stop when the source cannot be (re)opened for S seconds")
    p.add_argument("--save-video", metavar="FILE",
                   help="write every frame with what the door sees drawn on it (boxes, track "
                        "ids, names, similarity; .mp4, .avi or .mkv)")
    p.add_argument("--show", action="store_true",
                   help="show what the door sees in a window (needs a display and an OpenCV "
                        "build with windows; q or Esc stops)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--allow-weak-gate", action="store_true",
                   help="run with recognizer.unknown_threshold below MATCH_COSINE (audited)")
    p.add_argument("--liveness", action="store_true",
                   help="fire only for live faces, not photos or screens held up "
                        "([liveness] in the config; docs/liveness.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.save_video)
    extra = list(args.set) + (["liveness.enabled=true"] if args.liveness else []) + (
        ["recognizer.allow_weak_gate=true"] if args.allow_weak_gate else []) + (
        ["recognizer.require_signature=false"] if args.allow_unsigned else []) + (
        [f"source.give_up_after_s={args.give_up_after}"] if args.give_up_after is not None
        else []) + (
        [f"detector.max_side={args.max_side}"] if args.max_side is not None else []) + (
        [f"recognizer.unknown_threshold={args.threshold}"] if args.threshold is not None
        else [])
    try:
        data = read_toml(args.config) if args.config else {}
        data["actions"] = list(data.get("actions", [])) + command_line_actions(args)
        config = ft.load_config(None, ft.door.door_overrides(
            _sources(args.source), args.model, args.people, args.audit, extra,
            gallery=args.db),
            data=data)
    except ft.ConfigError as exc:
        raise UsageError(f"configuration: {exc}") from exc
    return ft.door.run_door(config, as_json=args.json, dry_run=args.dry_run, key=args.key,
                            allow_failing_actions=args.allow_failing_actions,
                            save_video=args.save_video, show=args.show)


def _sources(given: List[str]) -> Any:
    """None (the configuration's), one source, or a list of them."""
    if not given:
        return None
    return given[0] if len(given) == 1 else list(given)


def command_line_actions(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """``[[actions]]`` tables for --exec, --webhook, --mqtt and --print, each named after
    what it does (the program, the host), numbered when a name repeats."""
    actions: List[Dict[str, Any]] = []
    for line in args.exec:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"--exec {line!r}: {exc}") from None
        if not argv:
            raise UsageError("--exec needs a program")
        actions.append({"type": "command", "argv": argv, "name": os.path.basename(argv[0])})
    for url in args.webhook:
        actions.append({"type": "webhook", "url": url,
                        "name": f"webhook {urlsplit(url).hostname or url}"})
    for url in args.mqtt:
        actions.append(_mqtt_action(url))
    if args.print:
        actions.append({"type": "print"})
    names: Dict[str, int] = {}
    for action in actions:
        name = action.get("name", action["type"])
        names[name] = names.get(name, 0) + 1
        action["name"] = name if names[name] == 1 else f"{name} {names[name]}"
    return actions


def _mqtt_action(url: str) -> Dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise UsageError(f"--mqtt wants mqtt://[user@]host[:port][/topic], got {url!r}")
    if parts.password is not None:
        raise UsageError(f"--mqtt: put the password in ${MQTT_PASSWORD_ENV}, not in the URL")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise UsageError(f"--mqtt {url!r}: {exc}") from None
    action: Dict[str, Any] = {"type": "mqtt", "host": parts.hostname, "port": port,
                              "name": f"mqtt {parts.hostname}"}
    if parts.path.strip("/"):
        action["topic"] = unquote(parts.path.strip("/"))
    if parts.username:
        action.update(username=unquote(parts.username), password_env=MQTT_PASSWORD_ENV)
    return action
