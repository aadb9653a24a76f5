"""The door application: configuration in, decisions out. Shared by ``face-trigger watch``
and ``examples/door_trigger.py``."""
from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Optional, Sequence, TextIO

from ..detector import YuNetDetector
from ..gallery import Gallery
from ..identity import Identifier
from ..pipeline import FacePipeline
from ..recognizer import FaceRecognizer
from .audit import AuditLog
from .config import WEAK_GATE_BELOW, DoorConfig
from .sources import FrameSource
from .trigger import DoorTrigger

#: Fields of a decision printed with --json.
JSON_FIELDS = ("event_id", "frame", "video_time", "time", "track_id", "box", "decision",
               "person", "similarity", "margin", "votes", "observations", "gated", "fired",
               "refused", "snapshot")


def run_door(config: DoorConfig, *, as_json: bool = False, dry_run: bool = False,
             key: Optional[str] = None, out: Optional[TextIO] = None,
             err: Optional[TextIO] = None, stop: Optional[threading.Event] = None) -> int:
    """Watch the configured source until it ends or SIGINT / SIGTERM; returns 0.

    One line (or JSON object) per decision goes to ``out``; enrolment reports and the
    closing summary to ``err``. Queued actions finish before it returns.
    """
    out = out if out is not None else sys.stdout  # the current streams, not import time's
    err = err if err is not None else sys.stderr
    s = config.sections
    pipeline = FacePipeline(YuNetDetector(max_side=s["detector"]["max_side"],
                                          conf_threshold=s["detector"]["conf_threshold"]))
    recognizer = _recognizer(s["recognizer"], pipeline, key, err)
    stop = stop if stop is not None else threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    source = FrameSource(s["source"]["uri"], live=s["source"]["live"],
                         max_backoff_s=s["source"]["max_backoff_s"], stop=stop.is_set)
    audit = AuditLog(s["audit"]["path"], max_bytes=s["audit"]["max_bytes"],
                     backups=s["audit"]["backups"], fsync=s["audit"]["fsync"])
    trigger = DoorTrigger(recognizer, pipeline, settings=config.decision_settings(),
                          actions=config.build_actions(), audit=audit,
                          snapshot_dir=s["audit"]["snapshots"] or
                          Path(s["audit"]["path"]).parent / "snapshots", dry_run=dry_run)
    gate = s["recognizer"]["unknown_threshold"]
    if gate < WEAK_GATE_BELOW:  # allowed by recognizer.allow_weak_gate: say so, and audit it
        warning = (f"identify gate {gate} is below {WEAK_GATE_BELOW}, the lowest the shipped "
                   "calibration supports: strangers may be identified")
        print(f"face-trigger: warning: {warning}", file=err)
        audit.append({"type": "warning", "detail": warning, "unknown_threshold": gate})
    try:
        for event in trigger.run(source, health=lambda: source.stats.healthy):
            if as_json:
                record = event.to_dict()
                print(json.dumps({k: record[k] for k in JSON_FIELDS}), file=out, flush=True)
            else:
                verdict = f"fired {', '.join(event.fired)}" if event.fired else \
                    "; ".join(f"{k}: {v}" for k, v in event.refused.items()) or "no action"
                print(f"frame {event.frame:5d} ({event.video_time:6.2f} s) track "
                      f"{event.track_id}: {event.person:8s} similarity {event.similarity:.2f} "
                      f"-> {verdict}", file=out, flush=True)
    finally:
        trigger.close()
    print(f"{trigger.stats.frames} frames, {trigger.stats.embedded_faces} faces embedded, "
          f"{source.stats.skipped} frames skipped; audit log {s['audit']['path']}", file=err)
    return 0


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
