"""The door application: configuration in, decisions out. Shared by ``face-trigger watch``
and ``examples/door_trigger.py``."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, TextIO, Tuple, Union

from ..detector import YuNetDetector
from ..errors import EXIT_ERROR, EXIT_INPUT, ConfigError
from ..gallery import Gallery
from ..identity import Identifier
from ..pipeline import FacePipeline
from ..recognizer import FaceRecognizer
from .audit import AuditLog
from .config import WEAK_GATE_BELOW, DoorConfig
from .sources import FrameSource
from .actions import Action
from .trigger import DoorEvent, DoorTrigger
from .view import VideoRecorder, door_view

#: Fields of a decision printed with --json.
JSON_FIELDS = ("event_id", "frame", "video_time", "time", "track_id", "box", "decision",
               "person", "similarity", "margin", "votes", "observations", "gated", "fired",
               "refused", "snapshot")


def run_door(config: DoorConfig, *, as_json: bool = False, dry_run: bool = False,
             key: Optional[str] = None, out: Optional[TextIO] = None,
             err: Optional[TextIO] = None, stop: Optional[threading.Event] = None,
             allow_failing_actions: bool = False,
             save_video: Union[str, os.PathLike, None] = None) -> int:
    """Watch the configured source until it ends or SIGINT / SIGTERM.

    One line (or JSON object) per decision goes to ``out``, a firing's line once its
    actions have finished, saying which succeeded and which failed after their retries;
    a decision on which every action failed is also an error line on ``err``, as are
    enrolment reports and the closing summary. Actions that are certain to fail (a
    program that does not exist, a URL without a host) stop the start with ConfigError
    unless ``allow_failing_actions``. ``save_video`` writes every frame with what the door
    sees drawn on it (:func:`door.view.door_view`) to a .mp4, .avi or .mkv file.

    Returns 0; 1 when an action failed; 3 when the source could not be opened at all.
    """
    out = out if out is not None else sys.stdout  # the current streams, not import time's
    err = err if err is not None else sys.stderr
    s = config.sections
    actions = config.build_actions()
    _preflight(actions, allow_failing_actions, err)
    pipeline = FacePipeline(YuNetDetector(max_side=s["detector"]["max_side"],
                                          conf_threshold=s["detector"]["conf_threshold"]))
    recognizer = _recognizer(s["recognizer"], pipeline, key, err)
    stop = stop if stop is not None else threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    source = FrameSource(s["source"]["uri"], live=s["source"]["live"],
                         max_backoff_s=s["source"]["max_backoff_s"],
                         max_reopen_s=s["source"]["give_up_after_s"], stop=stop.is_set)
    audit = AuditLog(s["audit"]["path"], max_bytes=s["audit"]["max_bytes"],
                     backups=s["audit"]["backups"], fsync=s["audit"]["fsync"])
    report = DecisionReport(out, err, as_json)
    trigger = DoorTrigger(recognizer, pipeline, settings=config.decision_settings(),
                          actions=actions, audit=audit,
                          snapshot_dir=s["audit"]["snapshots"] or
                          Path(s["audit"]["path"]).parent / "snapshots", dry_run=dry_run,
                          on_action_result=report.action_result)
    _warn_weak_gate(s["recognizer"]["unknown_threshold"], audit, err)
    recorder = VideoRecorder(save_video) if save_video is not None else None
    try:
        for frame in source:
            for event in trigger.process(frame, healthy=source.stats.healthy):
                report.decision(event)
            if recorder is not None:
                recorder.write(door_view(frame.image, trigger))
    finally:
        trigger.close()
        if recorder is not None:
            recorder.close()
            print(f"{recorder.frames} frames written to {save_video}", file=err)
    print(f"{trigger.stats.frames} frames, {trigger.stats.embedded_faces} faces embedded, "
          f"{source.stats.skipped} frames skipped; audit log {s['audit']['path']}", file=err)
    if source.stats.gave_up and source.stats.frames == 0:
        print(f"face-trigger: error: source {s['source']['uri']} could not be opened (no "
              "camera at that index, or the stream is down)", file=err)
        return EXIT_INPUT
    if report.failed_runs:
        print(f"face-trigger: error: {report.failed_runs} of {report.runs} action runs "
              "failed (the audit log has each)", file=err)
        return EXIT_ERROR
    return 0


class DecisionReport:
    """Prints decisions as they come, a firing's once its actions have reported."""

    def __init__(self, out: TextIO, err: TextIO, as_json: bool) -> None:
        self.out, self.err, self.as_json = out, err, as_json
        self.runs = self.failed_runs = 0
        self._lock = threading.Lock()
        self._waiting: Dict[str, DoorEvent] = {}
        self._results: Dict[str, Dict[str, Tuple[bool, str]]] = {}

    def decision(self, event: DoorEvent) -> None:
        with self._lock:
            if not event.fired:
                self._print(event, {})
                return
            self._waiting[event.event_id] = event
            self._maybe_print(event.event_id)

    def action_result(self, event: Mapping[str, Any], action: Action, ok: bool,
                      detail: str) -> None:
        with self._lock:
            self.runs += 1
            self.failed_runs += 0 if ok else 1
            self._results.setdefault(str(event.get("event_id")), {})[action.name] = (ok, detail)
            self._maybe_print(str(event.get("event_id")))

    def _maybe_print(self, event_id: str) -> None:
        event = self._waiting.get(event_id)
        results = self._results.get(event_id, {})
        if event is None or len(results) < len(event.fired):
            return
        del self._waiting[event_id]
        self._results.pop(event_id, None)
        self._print(event, results)
        if results and not any(ok for ok, _ in results.values()):
            failures = "; ".join(f"{name}: {detail}" for name, (_, detail) in results.items())
            print(f"face-trigger: error: every action failed for {event.person} (event "
                  f"{event.event_id}): {failures}", file=self.err, flush=True)

    def _print(self, event: DoorEvent, results: Dict[str, Tuple[bool, str]]) -> None:
        if self.as_json:
            record = event.to_dict()
            line = {k: record[k] for k in JSON_FIELDS}
            line["results"] = {name: {"ok": ok, "detail": detail}
                               for name, (ok, detail) in results.items()}
            print(json.dumps(line), file=self.out, flush=True)
            return
        if event.fired:
            verdict = "fired " + ", ".join(
                f"{name} ok" if results[name][0] else f"{name} FAILED ({results[name][1]})"
                for name in event.fired)
        else:
            verdict = "; ".join(f"{k}: {v}" for k, v in event.refused.items()) or "no action"
        print(f"frame {event.frame:5d} ({event.video_time:6.2f} s) track {event.track_id}: "
              f"{event.person:8s} similarity {event.similarity:.2f} -> {verdict}",
              file=self.out, flush=True)


def _preflight(actions: Sequence[Action], allow_failing: bool, err: TextIO) -> None:
    """Refuse to start with an action that cannot work (ConfigError naming it), or with
    ``allow_failing`` only warn."""
    problems = [f"{a.name}: {problem}" for a in actions
                for problem in [a.preflight()] if problem]
    if not problems:
        return
    if not allow_failing:
        raise ConfigError("an action cannot work: " + "; ".join(problems)
                          + " (--allow-failing-actions starts the door anyway)")
    for problem in problems:
        print(f"face-trigger: warning: action {problem}", file=err)


def _warn_weak_gate(gate: float, audit: AuditLog, err: TextIO) -> None:
    """A gate below the shipped calibration was allowed (recognizer.allow_weak_gate): say
    so, and audit it."""
    if gate < WEAK_GATE_BELOW:
        warning = (f"identify gate {gate} is below {WEAK_GATE_BELOW}, the lowest the shipped "
                   "calibration supports: strangers may be identified")
        print(f"face-trigger: warning: {warning}", file=err)
        audit.append({"type": "warning", "detail": warning, "unknown_threshold": gate})


def _recognizer(settings: dict, pipeline: FacePipeline, key: Optional[str],
                err: TextIO) -> Identifier:
    """The configured recognizer: a saved model, a folder enrolled now, or a gallery."""
    threshold, margin = settings["unknown_threshold"], settings["margin"]
    if settings["gallery"]:
        gallery = Gallery(settings["gallery"], pipeline.model, unknown_threshold=threshold,
                          margin=margin, create=False)  # a misspelt path opens no empty door
        print(f"gallery {gallery.location}: {len(gallery)} faceprints", file=err)
        return gallery
    recognizer = FaceRecognizer(classifier=settings["classifier"],
                                unknown_threshold=threshold, margin=margin)
    if settings["model"]:
        recognizer.load(settings["model"], key=key,
                        require_signature=settings["require_signature"])
        recognizer.unknown_threshold, recognizer.margin = threshold, margin
    else:
        print(recognizer.fit_folder(settings["people"]).summary(), file=err)
    return recognizer


def door_overrides(source: Optional[str], model: Optional[str], people: Optional[str],
                   audit: Optional[str], extra: Sequence[str], gallery: Optional[str] = None
                   ) -> list:
    """``section.key=value`` overrides for the common command-line options."""
    overrides = list(extra)
    for value, key in ((source, "source.uri"), (model, "recognizer.model"),
                       (people, "recognizer.people"), (gallery, "recognizer.gallery"),
                       (audit, "audit.path")):
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    return overrides
