"""Door configuration: a TOML file with every setting, overridable by ``section.key=value``
strings (the command line). Unknown keys and wrong types are rejected at start with a
message that names the key.

Example (all sections optional but [source] and one of recognizer.model / .people / .gallery)::

    [source]
    uri = "0"                      # camera index, video file or rtsp:// / http:// URL
    [recognizer]
    model = "door.pkl"             # a saved FaceRecognizer (key from $FACE_TRIGGER_MODEL_KEY)
    # people = "people/"           # ...or enrol <people>/<name>/*.jpg at start
    # gallery = "postgresql://door@db.example/faces"   # ...or a shared Gallery (or .db)
    [decision]
    votes_needed = 3
    window = 5
    known_strangers = ["mallory"]
    [liveness]
    enabled = true                 # refuse photos and screens held up (docs/liveness.md)
    threshold = 0.5                # live probability of one observation
    live_needed = 3                # live observations of the window needed to fire
    [audit]
    path = "door_audit.jsonl"
    snapshots = "snapshots"        # default: a snapshots/ folder beside the audit log
    [[actions]]
    type = "command"               # command | webhook | mqtt | log
    argv = ["/usr/local/bin/open-door", "{person}", "{event_id}"]
    people = ["alice", "bob"]
    windows = ["07:00-20:00"]
"""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .. import thresholds
from .._validate import check_range
from .actions import Action, CommandAction, LogAction, MqttAction, WebhookAction
from .decision import DecisionSettings
from .policy import GrantPolicy
from ..errors import ConfigError, InvalidParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10 only
    import tomli as tomllib


_NUMBER = (int, float)
SCHEMA: Dict[str, Dict[str, Tuple[Any, Any]]] = {
    "source": {"uri": ((str, int), None), "live": (bool, None), "max_backoff_s": (_NUMBER, 5.0)},
    "recognizer": {"model": (str, None), "people": (str, None), "gallery": (str, None),
                   "classifier": (str, "svm"), "require_signature": (bool, True),
                   "unknown_threshold": (_NUMBER, thresholds.IDENTIFY_COSINE),
                   "margin": (_NUMBER, thresholds.IDENTIFY_MARGIN)},
    "detector": {"max_side": (int, thresholds.DETECT_MAX_SIDE),
                 "conf_threshold": (_NUMBER, thresholds.DETECT_CONF)},
    "decision": {"votes_needed": (int, thresholds.VOTE_K), "window": (int, thresholds.VOTE_N),
                 "min_face_px": (int, thresholds.MIN_FACE_PX), "embed_every": (int, 5),
                 "max_yaw": (_NUMBER, thresholds.DOOR_MAX_YAW),
                 "min_sharpness": (_NUMBER, thresholds.DOOR_MIN_SHARPNESS),
                 "verify_every_s": (_NUMBER, thresholds.VERIFY_EVERY_S),
                 "max_shift": (_NUMBER, 0.5), "max_resize": (_NUMBER, 1.3),
                 "cut_threshold": (_NUMBER, thresholds.CUT_THRESHOLD),
                 "cooldown_s": (_NUMBER, thresholds.COOLDOWN_S),
                 "rearm_s": (_NUMBER, thresholds.REARM_S), "idle_detect_every": (int, 4),
                 "known_strangers": (list, [])},
    "liveness": {"enabled": (bool, False), "threshold": (_NUMBER, thresholds.LIVE_PROBABILITY),
                 "live_needed": (int, thresholds.LIVE_K)},
    "audit": {"path": (str, "door_audit.jsonl"), "max_bytes": (int, 10_000_000),
              "backups": (int, 5), "snapshots": (str, None), "fsync": (bool, True)},
}
#: Allowed intervals of the numeric keys that are not checked by the objects built at
#: start (DecisionSettings and the actions check their own): (low, high, low open).
RANGES: Dict[str, Tuple[float, float, bool]] = {
    "source.max_backoff_s": (0.0, 3600.0, True),
    "recognizer.unknown_threshold": (0.0, 1.0, False),
    "recognizer.margin": (0.0, 1.0, False),
    "detector.max_side": (64, 16384, False),
    "detector.conf_threshold": (0.0, 1.0, True),
    "audit.max_bytes": (4096, 1 << 40, False),
    "audit.backups": (0, 1000, False),
}
ACTION_KEYS: Dict[str, Tuple[Any, Any]] = {
    "type": (str, None), "name": (str, None), "argv": (list, None), "url": (str, None),
    "headers": (dict, {}), "people": (list, None), "windows": (list, []),
    "timeout_s": (_NUMBER, None), "retries": (int, None), "host": (str, None),
    "port": (int, None), "topic": (str, None), "username": (str, None),
    "password_env": (str, None), "qos": (int, None), "retain": (bool, None)}


@dataclass(frozen=True)
class DoorConfig:
    """Validated settings: ``sections`` maps section -> key -> value (defaults filled)."""

    sections: Dict[str, Dict[str, Any]]
    actions: List[Dict[str, Any]]
    path: Optional[Path] = None

    def decision_settings(self) -> DecisionSettings:
        d, live = self.sections["decision"], self.sections["liveness"]
        try:
            return DecisionSettings(
                votes_needed=d["votes_needed"], window=d["window"], min_face_px=d["min_face_px"],
                embed_every=d["embed_every"], max_yaw=float(d["max_yaw"]),
                min_sharpness=float(d["min_sharpness"]), cooldown_s=float(d["cooldown_s"]),
                rearm_s=float(d["rearm_s"]), idle_detect_every=d["idle_detect_every"],
                verify_every_s=float(d["verify_every_s"]), max_shift=float(d["max_shift"]),
                max_resize=float(d["max_resize"]), cut_threshold=float(d["cut_threshold"]),
                liveness=live["enabled"], live_threshold=float(live["threshold"]),
                live_needed=live["live_needed"])
        except ValueError as exc:
            raise ConfigError(f"[decision] / [liveness]: {exc}") from exc

    def build_actions(self) -> List[Action]:
        """The configured actions with their grant policies."""
        strangers = frozenset(self.sections["decision"]["known_strangers"])
        built: List[Action] = []
        for i, spec in enumerate(self.actions):
            where = f"actions[{i}]"
            try:
                policy = GrantPolicy(
                    people=None if spec.get("people") is None else frozenset(spec["people"]),
                    windows=tuple(spec.get("windows", ())), known_strangers=strangers)
                extra = {k: spec[k] for k in ("timeout_s", "retries", "name")
                         if spec.get(k) is not None}
                kind = spec["type"]
                if kind == "command":
                    built.append(CommandAction(argv=list(spec.get("argv") or []), policy=policy,
                                               **extra))
                elif kind == "mqtt":
                    mqtt_keys = {k: spec[k] for k in ("host", "port", "topic", "username",
                                                      "password_env", "qos", "retain")
                                 if spec.get(k) is not None}
                    built.append(MqttAction(policy=policy, **mqtt_keys, **extra))
                elif kind == "webhook":
                    built.append(WebhookAction(url=spec.get("url") or "", policy=policy,
                                               headers=dict(spec.get("headers", {})), **extra))
                else:
                    built.append(LogAction(policy=policy, **extra))
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
        names = [a.name for a in built]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(f"actions: names must differ, {duplicated} appear twice; set "
                              "name = \"...\"")
        return built


def _check(value: Any, expected: Any, key: str) -> Any:
    if value is None:
        return None
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if expected == _NUMBER and (isinstance(value, bool) or not isinstance(value, _NUMBER)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if expected == (str, int) and (isinstance(value, bool) or not isinstance(value, expected)):
        raise ConfigError(f"{key} must be a string or an integer, got {value!r}")
    if expected in (str, bool, list, dict) and not isinstance(value, expected):
        raise ConfigError(f"{key} must be a {expected.__name__}, got {value!r}")
    if expected is list and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings, got {value!r}")
    return value


def _parse_override(text: str) -> Tuple[str, str, Any]:
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: take it as a string
    return section, key, value


def load_config(path: Union[str, os.PathLike, None] = None,
                overrides: Sequence[str] = (), data: Optional[Mapping[str, Any]] = None
                ) -> DoorConfig:
    """Read, merge overrides into, and validate a door configuration.

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown section or key, wrong type, missing source or
        recognizer, bad action; the message names the key.
    """
    raw: Dict[str, Any] = copy.deepcopy(dict(data)) if data is not None else {}
    if path is not None:
        try:
            with open(path, "rb") as handle:
                raw = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    for text in overrides:
        section, key, value = _parse_override(text)
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ConfigError(f"cannot override {section}.{key}: {section} is not a section")
        raw[section][key] = value
    unknown = set(raw) - set(SCHEMA) - {"actions"}
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: "
                          f"{sorted(SCHEMA) + ['actions']}")
    sections: Dict[str, Dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"[{section}] must be a table")
        extra = set(given) - set(keys)
        if extra:
            raise ConfigError(f"unknown key(s) {', '.join(f'{section}.{k}' for k in sorted(extra))}"
                              f"; known: {', '.join(sorted(keys))}")
        sections[section] = {k: _check(given.get(k, default), kind, f"{section}.{k}")
                             for k, (kind, default) in keys.items()}
    for dotted, (low, high, low_open) in RANGES.items():
        section, key = dotted.split(".")
        try:
            check_range(sections[section][key], dotted, low, high, low_open=low_open)
        except InvalidParameterError as exc:
            raise ConfigError(str(exc)) from None
    if sections["source"]["uri"] in (None, ""):
        raise ConfigError("source.uri is required (camera index, video file or URL)")
    recognizer = sections["recognizer"]
    if sum(bool(recognizer[k]) for k in ("model", "people", "gallery")) != 1:
        raise ConfigError("set exactly one of recognizer.model (a saved .pkl), "
                          "recognizer.people (a folder to enrol) and recognizer.gallery "
                          "(a gallery file or postgresql:// URL)")
    if recognizer["classifier"] not in ("svm", "knn"):
        raise ConfigError(f"recognizer.classifier must be 'svm' or 'knn', got "
                          f"{recognizer['classifier']!r}")
    actions = raw.get("actions", [])
    if not isinstance(actions, list):
        raise ConfigError("actions must be an array of tables: [[actions]]")
    checked = []
    for i, spec in enumerate(actions):
        if not isinstance(spec, dict):
            raise ConfigError(f"actions[{i}] must be a table")
        extra = set(spec) - set(ACTION_KEYS)
        if extra:
            names = ", ".join(f"actions[{i}].{k}" for k in sorted(extra))
            raise ConfigError(f"unknown key(s) {names}")
        for key, (kind, _) in ACTION_KEYS.items():
            _check(spec.get(key), kind, f"actions[{i}].{key}")
        if spec.get("type") not in ("command", "webhook", "mqtt", "log"):
            raise ConfigError(f"actions[{i}].type must be command, webhook, mqtt or log, got "
                              f"{spec.get('type')!r}")
        checked.append(dict(spec))
    config = DoorConfig(sections, checked, Path(path) if path is not None else None)
    config.decision_settings()
    config.build_actions()  # validates argv placeholders, URLs and time windows now
    return config
