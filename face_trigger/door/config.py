"""Door configuration: a TOML file with every setting, overridable by ``section.key=value``
strings (the command line). Unknown keys and wrong types are rejected at start with a
message that names the key.

Example (all sections optional but [source] and one of recognizer.model / .people / .gallery)::

    [source]
    uri = "0"                      # camera index, video file or rtsp:// / http:// URL
    # ...or several cameras in one process, each its own [[sources]] table:
    # [[sources]]
    # uri = "rtsp://cam-front/stream"
    # name = "front"               # names the source in events and the audit log
    # [[sources]]
    # uri = "rtsp://cam-back/stream"
    # give_up_after_s = 60         # any [source] key but uri may be set per source
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
    type = "command"               # command | webhook | mqtt | log (actions.ACTION_TYPES)
    argv = ["/usr/local/bin/open-door", "{person}", "{event_id}"]
    people = ["alice", "bob"]
    windows = ["07:00-20:00"]
"""
from __future__ import annotations

import copy
import dataclasses
import os
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .. import thresholds
from .._fileio import MAX_CONFIG_BYTES, read_regular_file
from .._validate import check_range
from .actions import ACTION_TYPES, Action
from .decision import DecisionSettings
from .policy import GrantPolicy
from ..errors import ConfigError, InvalidParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10 only
    import tomli as tomllib


_NUMBER = (int, float)


def _toml_kind(hint: Any) -> Any:
    """What a TOML value of a setting must be, from the field's type: int, a number (an
    int is taken for a float), str, bool, a list of strings, a table."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is Union and len(args) == 1:  # Optional[X]
        hint = args[0]
    origin = typing.get_origin(hint) or hint
    if origin is float:
        return _NUMBER
    if origin in (list, tuple, Sequence, typing.get_origin(Sequence[str])):
        return list
    if origin in (dict, Mapping, typing.get_origin(Mapping[str, str])):
        return dict
    return origin


def _settings_of(cls: Any, skip: Sequence[str] = ()) -> Dict[str, Tuple[Any, Any]]:
    """{field: (TOML kind, default)} of a dataclass, from its fields: one place for the
    defaults."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else None)
        out[f.name] = (_toml_kind(hints[f.name]), default)
    return out


#: A door's identify gate below this (the 1:1 calibration's MATCH_COSINE) needs
#: ``recognizer.allow_weak_gate``: the shipped calibration supports nothing lower.
WEAK_GATE_BELOW = thresholds.MATCH_COSINE

#: [liveness] key -> DecisionSettings field.
LIVENESS_FIELDS = {"enabled": "liveness", "threshold": "live_threshold",
                   "live_needed": "live_needed"}
#: Every DecisionSettings field: those of [liveness] and, the rest, [decision].
_SETTINGS = _settings_of(DecisionSettings)
_DECISION = {k: v for k, v in _SETTINGS.items() if k not in LIVENESS_FIELDS.values()}
SCHEMA: Dict[str, Dict[str, Tuple[Any, Any]]] = {
    # uri: one camera index, video file or URL, or a list of them (one process, one door each)
    "source": {"uri": ((str, int, list), None), "live": (bool, None),
               "max_backoff_s": (_NUMBER, 5.0),
               "give_up_after_s": (_NUMBER, None)},
    "recognizer": {"model": (str, None), "people": (str, None), "gallery": (str, None),
                   "classifier": (str, "svm"), "require_signature": (bool, True),
                   "unknown_threshold": (_NUMBER, thresholds.IDENTIFY_COSINE),
                   "margin": (_NUMBER, thresholds.IDENTIFY_MARGIN),
                   "allow_weak_gate": (bool, False)},
    "detector": {"max_side": (int, thresholds.DETECT_MAX_SIDE),
                 "conf_threshold": (_NUMBER, thresholds.DETECT_CONF)},
    # every DecisionSettings field, with its default; known_strangers goes to the policies
    "decision": {**_DECISION, "known_strangers": (list, [])},
    "liveness": {key: _SETTINGS[field] for key, field in LIVENESS_FIELDS.items()},
    "audit": {"path": (str, "door_audit.jsonl"), "max_bytes": (int, 10_000_000),
              "backups": (int, 5), "snapshots": (str, None), "fsync": (bool, True)},
}
#: Keys of a [[sources]] table: the [source] keys (their values the defaults) and a name.
SOURCE_KEYS = ("uri", "name", "live", "max_backoff_s", "give_up_after_s")
#: Allowed intervals of the numeric keys that are not checked by the objects built at
#: start (DecisionSettings and the actions check their own): (low, high, low open).
RANGES: Dict[str, Tuple[float, float, bool]] = {
    "source.max_backoff_s": (0.0, 3600.0, True),
    "source.give_up_after_s": (0.0, 1e9, False),
    "recognizer.unknown_threshold": (0.0, 1.0, False),
    "recognizer.margin": (0.0, 1.0, False),
    "detector.max_side": (64, 16384, False),
    "detector.conf_threshold": (0.0, 1.0, True),
    "audit.max_bytes": (4096, 1 << 40, False),
    "audit.backups": (0, 1000, False),
}
#: Keys of every [[actions]] table (the grant policy); the others are the fields of the
#: action class its ``type`` names (actions.ACTION_TYPES).
POLICY_KEYS: Dict[str, Tuple[Any, Any]] = {"type": (str, None), "people": (list, None),
                                           "windows": (list, [])}


def action_keys(kind: str) -> Dict[str, Tuple[Any, Any]]:
    """{key: (TOML kind, default)} an ``[[actions]]`` table of ``type = kind`` takes."""
    return {**POLICY_KEYS, **_settings_of(ACTION_TYPES[kind], skip=("policy",))}


@dataclass(frozen=True)
class DoorConfig:
    """Validated settings: ``sections`` maps section -> key -> value (defaults filled)."""

    sections: Dict[str, Dict[str, Any]]
    actions: List[Dict[str, Any]]
    path: Optional[Path] = None
    #: [[sources]] tables as given (checked); empty when [source] names the sources
    source_tables: List[Dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def sources(self) -> List[Dict[str, Any]]:
        """Every source to watch: ``uri``, ``name`` ("" for a lone source without one),
        ``live``, ``max_backoff_s``, ``give_up_after_s`` ([source]'s values where a
        [[sources]] table leaves them out)."""
        base = self.sections["source"]
        tables = self.source_tables or [
            {"uri": uri} for uri in (base["uri"] if isinstance(base["uri"], list)
                                     else [base["uri"]])]
        named = len(tables) > 1
        return [{**{k: base[k] for k in SOURCE_KEYS if k not in ("uri", "name")},
                 "name": str(t.get("name") or (t["uri"] if named else "")), **{
                     k: v for k, v in t.items() if k != "name"}} for t in tables]

    def decision_settings(self) -> DecisionSettings:
        d, live = self.sections["decision"], self.sections["liveness"]
        values = {name: d[name] for name in _DECISION}
        values.update({field: live[key] for key, field in LIVENESS_FIELDS.items()})
        values = {name: float(v) if _SETTINGS[name][0] == _NUMBER else v
                  for name, v in values.items()}
        try:
            return DecisionSettings(**values)
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
                settings = {k: v for k, v in spec.items()
                            if k not in POLICY_KEYS and v is not None}
                action_class: Any = ACTION_TYPES[spec["type"]]
                built.append(action_class(policy=policy, **settings))
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
    if expected == (str, int, list):  # a source, or several
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(v, bool) or not isinstance(v, (str, int)) for v in items):
            raise ConfigError(f"{key} must be a string or an integer (camera index), or a list "
                              f"of them, got {value!r}")
    if expected in (str, bool, list, dict) and not isinstance(value, expected):
        raise ConfigError(f"{key} must be a {expected.__name__}, got {value!r}")
    if expected is list and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings, got {value!r}")
    return value


def read_toml(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """A configuration file: a regular file of at most 1 MB (a FIFO or a device is refused
    at once), UTF-8 TOML, not nested too deeply; else ConfigError."""
    try:
        data = read_regular_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be read") from None


def _override_action(raw: Dict[str, Any], dotted: str, value: Any) -> None:
    """``actions.<index>.<key>=value``: a key of the index-th [[actions]] table (from 0)."""
    index, _, key = dotted.partition(".")
    actions = raw.get("actions")
    if not index.isdigit() or not key:
        raise ConfigError(f"cannot override actions.{dotted}: write actions.<index>.<key>, "
                          "e.g. actions.0.people=[\"alice\"]")
    if not isinstance(actions, list) or int(index) >= len(actions):
        count = len(actions) if isinstance(actions, list) else 0
        raise ConfigError(f"cannot override actions.{dotted}: there are {count} actions "
                          "(numbered from 0)")
    if not isinstance(actions[int(index)], dict):
        raise ConfigError(f"actions[{index}] must be a table")
    actions[int(index)][key] = value


def _parse_override(text: str) -> Tuple[str, str, Any]:
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
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
        raw = read_toml(path)
    for text in overrides:
        section, key, value = _parse_override(text)
        if (section, key) == ("source", "uri"):
            raw.pop("sources", None)  # sources named on the command line replace the file's
        if section == "actions":  # actions.<index>.<key>: one [[actions]] table's key
            _override_action(raw, key, value)
            continue
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ConfigError(f"cannot override {section}.{key}: {section} is not a section")
        raw[section][key] = value
    tables = _check_sources(raw)
    sections = _check_sections(raw, bool(tables))
    checked = _check_actions(raw.get("actions", []))
    config = DoorConfig(sections, checked, Path(path) if path is not None else None, tables)
    config.decision_settings()
    config.build_actions()  # validates argv placeholders, URLs and time windows now
    return config


def _check_sources(raw: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The [[sources]] tables: each with a uri, keys of [source] (plus ``name``) checked
    like there, names unique; none when absent."""
    tables = raw.get("sources", [])
    if not isinstance(tables, list):
        raise ConfigError("sources must be an array of tables: [[sources]]")
    if tables and (raw.get("source") or {}).get("uri") not in (None, "", []):
        raise ConfigError("give the sources as source.uri or as [[sources]] tables, not both")
    checked = []
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(f"sources[{i}] must be a table")
        extra = set(table) - set(SOURCE_KEYS)
        if extra:
            names = ", ".join(f"sources[{i}].{k}" for k in sorted(extra))
            raise ConfigError(f"unknown key(s) {names}; known: {', '.join(SOURCE_KEYS)}")
        uri = table.get("uri")
        if isinstance(uri, bool) or not isinstance(uri, (str, int)) or uri == "":
            raise ConfigError(f"sources[{i}].uri must be a camera index, video file or URL, "
                              f"got {uri!r}")
        for key in ("live", "max_backoff_s", "give_up_after_s"):
            value = _check(table.get(key), SCHEMA["source"][key][0], f"sources[{i}].{key}")
            low_high = RANGES.get(f"source.{key}")
            if value is not None and low_high is not None:
                try:
                    check_range(value, f"sources[{i}].{key}", low_high[0], low_high[1],
                                low_open=low_high[2])
                except InvalidParameterError as exc:
                    raise ConfigError(str(exc)) from None
        _check(table.get("name"), str, f"sources[{i}].name")
        checked.append(dict(table))
    labels = [str(t.get("name") or t["uri"]) for t in checked]
    if len(set(labels)) < len(labels):
        raise ConfigError(f"sources: each needs its own name (or uri), got {labels}")
    return checked


def _check_sections(raw: Mapping[str, Any], has_sources: bool = False
                    ) -> Dict[str, Dict[str, Any]]:
    """Every section of SCHEMA with its defaults filled, each key's type and range checked,
    and the source (unless [[sources]] name them) and recognizer settings that must be
    there."""
    unknown = set(raw) - set(SCHEMA) - {"actions", "sources"}
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: "
                          f"{sorted(SCHEMA) + ['actions', 'sources']}")
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
        if sections[section][key] is None:  # an optional setting left unset
            continue
        try:
            check_range(sections[section][key], dotted, low, high, low_open=low_open)
        except InvalidParameterError as exc:
            raise ConfigError(str(exc)) from None
    if sections["source"]["uri"] in (None, "", []) and not has_sources:
        raise ConfigError("source.uri (or [[sources]] tables) is required: camera index, "
                          "video file or URL")
    recognizer = sections["recognizer"]
    if sum(bool(recognizer[k]) for k in ("model", "people", "gallery")) != 1:
        raise ConfigError("set exactly one of recognizer.model (a saved .pkl), "
                          "recognizer.people (a folder to enrol) and recognizer.gallery "
                          "(a gallery file or postgresql:// URL)")
    if recognizer["unknown_threshold"] < WEAK_GATE_BELOW and not recognizer["allow_weak_gate"]:
        raise ConfigError(
            f"recognizer.unknown_threshold {recognizer['unknown_threshold']} is below "
            f"{WEAK_GATE_BELOW}, where the shipped calibration measured a false match rate of "
            f"{thresholds.MATCH_FMR:.1e} per compared pair: strangers would open the door "
            "(docs/thresholds.md). Set recognizer.allow_weak_gate = true (watch "
            "--allow-weak-gate) to run with it anyway; the door then audits a warning")
    if recognizer["classifier"] not in ("svm", "knn"):
        raise ConfigError(f"recognizer.classifier must be 'svm' or 'knn', got "
                          f"{recognizer['classifier']!r}")
    return sections


def _check_actions(actions: Any) -> List[Dict[str, Any]]:
    """The [[actions]] tables, each of a registered type with that type's keys."""
    if not isinstance(actions, list):
        raise ConfigError("actions must be an array of tables: [[actions]]")
    checked = []
    for i, spec in enumerate(actions):
        if not isinstance(spec, dict):
            raise ConfigError(f"actions[{i}] must be a table")
        if spec.get("type") not in ACTION_TYPES:
            raise ConfigError(f"actions[{i}].type must be one of {', '.join(ACTION_TYPES)}, "
                              f"got {spec.get('type')!r}")
        keys = action_keys(spec["type"])
        extra = set(spec) - set(keys)
        if extra:
            names = ", ".join(f"actions[{i}].{k}" for k in sorted(extra))
            raise ConfigError(f"unknown key(s) {names}; a {spec['type']} action takes "
                              f"{', '.join(sorted(keys))}")
        for key, (kind, _) in keys.items():
            _check(spec.get(key), kind, f"actions[{i}].{key}")
        checked.append(dict(spec))
    return checked
