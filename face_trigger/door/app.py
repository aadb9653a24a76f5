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
from ..liveness import LivenessChecker
from ..pipeline import FacePipeline
from .audit import AuditLog
from .config import WEAK_GATE_BELOW, DoorConfig
from .sources import FrameSource
from .actions import Action
from .trigger import DoorEvent, DoorTrigger
from .view import VideoRecorder, Window, door_view

#: Fields of a decision printed with --json.
JSON_FIELDS = ("event_id", "source", "frame", "video_time", "time", "track_id", "box",
               "decision", "person", "similarity", "margin", "votes", "observations", "gated",
               "fired", "refused", "snapshot")


def run_door(config: DoorConfig, *, as_json: bool = False, dry_run: bool = False,
             key: Optional[str] = None, out: Optional[TextIO] = None,
             err: Optional[TextIO] = None, stop: Optional[threading.Event] = None,
             allow_failing_actions: bool = False,
             save_video: Union[str, os.PathLike, None] = None, show: bool = False) -> int:
    """Watch the configured sources until they end or SIGINT / SIGTERM.

    ``source.uri`` (a list) or ``[[sources]]`` tables may name several cameras or videos:
    one process watches them all with one pipeline and one recognizer (the models are
    loaded once), a door per source (tracks, cooldowns, events that name their source),
    one audit log whose records name their source; a source that fails does not stop the
    others.

    One line (or JSON object) per decision goes to ``out``, a firing's line once its
    actions have finished, saying which succeeded and which failed after their retries;
    a decision on which every action failed is also an error line on ``err``, as are
    enrolment reports and the closing summary. Actions that are certain to fail (a
    program that does not exist, a URL without a host) stop the start with ConfigError
    unless ``allow_failing_actions``. ``save_video`` (one source) writes every frame with
    what the door sees drawn on it (:func:`door.view.door_view`) to a .mp4, .avi or .mkv;
    ``show`` (one source) shows it in a window (ConfigError at once where none can open;
    q or Esc in the window stops the door).

    Returns 0; 1 when an action failed; 3 when a source could not be opened at all.
    """
    out = out if out is not None else sys.stdout  # the current streams, not import time's
    err = err if err is not None else sys.stderr
    s = config.sections
    sources = config.sources
    if (save_video is not None or show) and len(sources) > 1:
        raise ConfigError("--save-video and --show see one source; give one camera or video")
    window = Window(f"face-trigger: {sources[0]['uri']}") if show else None
    _preflight(config.build_actions(), allow_failing_actions, err)
    pipeline = FacePipeline(YuNetDetector(max_side=s["detector"]["max_side"],
                                          conf_threshold=s["detector"]["conf_threshold"]))
    recognizer = _recognizer(s["recognizer"], pipeline, key, err)
    stop = stop if stop is not None else threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    audit = AuditLog(s["audit"]["path"], max_bytes=s["audit"]["max_bytes"],
                     backups=s["audit"]["backups"], fsync=s["audit"]["fsync"])
    report = DecisionReport(out, err, as_json)
    settings = config.decision_settings()
    liveness = LivenessChecker(threshold=settings.live_threshold, engine=pipeline.engine) \
        if settings.liveness else None  # one checker for every source, as the pipeline
    _warn_weak_gate(s["recognizer"]["unknown_threshold"], audit, err)
    doors = [_SourceDoor(source, DoorTrigger(
        recognizer, pipeline, settings=settings, actions=config.build_actions(), audit=audit,
        snapshot_dir=s["audit"]["snapshots"] or Path(s["audit"]["path"]).parent / "snapshots",
        dry_run=dry_run, on_action_result=report.action_result, liveness=liveness,
        source=source["name"]), stop) for source in sources]
    if len(doors) == 1:
        doors[0].watch(report, save_video, window)
    else:
        threads = [threading.Thread(target=d.watch, args=(report, None, None), daemon=True,
                                    name=f"door {d.name}") for d in doors]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    return _summary(doors, report, s["audit"]["path"], err)


class _SourceDoor:
    """One source and its door, watched on one thread."""

    def __init__(self, spec: Dict[str, Any], trigger: DoorTrigger,
                 stop: threading.Event) -> None:
        """``spec``: one of :attr:`DoorConfig.sources`."""
        self.uri, self.trigger, self.error, self.stop = spec["uri"], trigger, "", stop
        self.name = spec["name"] or str(spec["uri"])
        self.source: Optional[FrameSource] = None
        try:
            self.source = FrameSource(spec["uri"], live=spec["live"],
                                      max_backoff_s=spec["max_backoff_s"],
                                      max_reopen_s=spec["give_up_after_s"],
                                      stop=stop.is_set)
        except FileNotFoundError as exc:  # a missing video: the other sources go on
            self.error = str(exc)

    def watch(self, report: "DecisionReport", save_video: Any,
              window: Optional[Window] = None) -> None:
        if self.source is None:
            self.trigger.close()
            return
        recorder = VideoRecorder(save_video) if save_video is not None else None
        try:
            for frame in self.source:
                for event in self.trigger.process(frame, healthy=self.source.stats.healthy):
                    report.decision(event)
                if recorder is not None or window is not None:
                    seen = door_view(frame.image, self.trigger)
                    if recorder is not None:
                        recorder.fps = recorder.fps if recorder.frames else self.source.fps
                        recorder.write(seen)
                    if window is not None and not window.show(seen):
                        self.stop.set()
        except OSError as exc:  # a file that cannot be opened: the other sources go on
            self.error = str(exc)
        finally:
            self.trigger.close()
            if window is not None:
                window.close()
            if recorder is not None:
                recorder.close()
                print(f"{recorder.frames} frames written to {save_video}", file=report.err)


def _summary(doors: Sequence[_SourceDoor], report: "DecisionReport", audit_path: str,
             err: TextIO) -> int:
    """The closing lines on ``err`` and the exit status."""
    status = 0
    for door in doors:
        name = f"{door.name}: " if len(doors) > 1 else ""
        stats = door.source.stats if door.source is not None else None
        print(f"{name}{door.trigger.stats.frames} frames, {door.trigger.stats.embedded_faces} "
              f"faces embedded, {stats.skipped if stats else 0} frames skipped; audit log "
              f"{audit_path}", file=err)
        if door.error or (stats is not None and stats.gave_up and stats.frames == 0):
            print(f"face-trigger: error: source {door.uri} could not be opened"
                  f" ({door.error or 'no camera at that index, or the stream is down'})",
                  file=err)
            status = EXIT_INPUT
    if report.failed_runs:
        print(f"face-trigger: error: {report.failed_runs} of {report.runs} action runs "
              "failed (the audit log has each)", file=err)
        status = status or EXIT_ERROR
    return status


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
        where = f"{event.source} " if event.source else ""
        print(f"{where}frame {event.frame:5d} ({event.video_time:6.2f} s) track "
              f"{event.track_id}: {event.person:8s} similarity {event.similarity:.2f} -> "
              f"{verdict}", file=self.out, flush=True)


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
    # scikit-learn (and SciPy) only where a classifier is used: a door on a gallery
    # imports neither (90 MB less resident; benchmarks/bench_door_memory.py)
    from ..recognizer import FaceRecognizer  # noqa: PLC0415
    recognizer = FaceRecognizer(classifier=settings["classifier"], embedder=pipeline.embedder,
                                unknown_threshold=threshold, margin=margin)
    if settings["model"]:
        recognizer.load(settings["model"], key=key,
                        require_signature=settings["require_signature"])
        recognizer.unknown_threshold, recognizer.margin = threshold, margin
    else:
        print(recognizer.fit_folder(settings["people"], pipeline=pipeline).summary(), file=err)
    return recognizer


def door_overrides(source: Union[str, Sequence[str], None], model: Optional[str],
                   people: Optional[str],
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
