"""DoorTrigger: watch frames, track faces, decide per person over several frames, fire
actions — only for enrolled, allowed people, once per visit — and audit everything."""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np

from .actions import Action, ActionRunner
from .audit import AuditLog
from .decision import IDENTIFIED, DecisionSettings, PersonArming, TrackDecider, face_quality
from .errors import GalleryUnavailableError
from .image_io import write_image
from .pipeline import FacePipeline
from .sources import Frame
from .synthetic import crop_around
from .tracking import IoUTracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoorEvent:
    """One decision about one track (JSON-ready with :meth:`to_dict`).

    ``fired`` lists the actions submitted for it; ``refused`` maps the other actions
    to the reason (unknown person, known stranger, outside the time window, cooldown,
    unhealthy source, dry run).
    """

    event_id: str
    time: str
    video_time: float
    frame: int
    track_id: int
    decision: str
    person: str
    similarity: float
    margin: Optional[float]
    votes: List[str]
    thresholds: Dict[str, float]
    model: str
    config: str
    snapshot: Optional[str] = None
    fired: List[str] = field(default_factory=list)
    refused: Dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class DoorTrigger:
    """The door loop, frame by frame.

    Parameters
    ----------
    recognizer : FaceRecognizer or GalleryRecognizer
        Trained (or loaded) recognizer, or a gallery: its ``identify`` names each
        observation. When it raises GalleryUnavailableError (a shared gallery's database
        is down) the loop keeps running: faces are not identified (nothing fires), the
        outage and the recovery go to the audit log, and identification is retried after
        ``retry_s`` seconds, doubling up to ``max_retry_s``.
    pipeline : FacePipeline, optional
    settings : DecisionSettings
        K-of-N voting, minimum face, cooldown and re-arming.
    actions : sequence of Action
        Each with its own :class:`GrantPolicy`.
    audit : AuditLog, optional
        Every decision and every action result is appended.
    snapshot_dir : path, optional
        JPEG of the best face of each decided track, written atomically.
    dry_run : bool
        Decide and audit, but only describe the actions.
    clock : callable
        Wall clock for events and time windows (``datetime.now`` by default).
    retry_s, max_retry_s : float
        First and longest wait before retrying an unavailable recognizer.
    """

    def __init__(self, recognizer: Any, pipeline: Optional[FacePipeline] = None, *,
                 settings: DecisionSettings = DecisionSettings(),
                 actions: Sequence[Action] = (), audit: Optional[AuditLog] = None,
                 snapshot_dir: Union[str, os.PathLike, None] = None, dry_run: bool = False,
                 tracker: Optional[IoUTracker] = None,
                 clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now().astimezone(),
                 retry_s: float = 1.0, max_retry_s: float = 30.0) -> None:
        self.recognizer = recognizer
        self.pipeline = pipeline if pipeline is not None else FacePipeline()
        self.settings = settings
        self.actions = list(actions)
        self.audit = audit
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir is not None else None
        if self.snapshot_dir is not None:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        self.dry_run = dry_run
        self.clock = clock
        self.tracker = tracker if tracker is not None else IoUTracker()
        self.decider = TrackDecider(settings)
        self.arming = PersonArming(settings.cooldown_s, settings.rearm_s)
        self.runner = ActionRunner(on_result=self._action_result) if self.actions else None
        self.embedded_faces = 0
        self.frames = 0
        self.retry_s, self.max_retry_s = float(retry_s), float(max_retry_s)
        self.outage: Optional[Dict[str, Any]] = None  # since, next retry, wait, failures
        self.skipped_detections = 0
        self.config_hash = hashlib.sha256(json.dumps({
            "settings": dataclasses.asdict(settings),
            "unknown_threshold": recognizer.unknown_threshold, "margin": recognizer.margin,
            "actions": [a.name for a in self.actions]}, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ per frame
    def process(self, frame: Frame, healthy: bool = True) -> List[DoorEvent]:
        """Run one frame through detect -> track -> (embed) -> decide; return new events."""
        self.frames += 1
        if self._idle() and frame.index % self.settings.idle_detect_every:
            self.skipped_detections += 1
            self.arming.tick(frame.time, self._visible_people(self.tracker.tracks))
            return []
        detections = self.pipeline.detect(frame.image)
        tracks, ended = self.tracker.update(detections.boxes, frame.index)
        # Quality (a crop, a resize and a Laplacian per face) only for faces still undecided.
        qualities = {i: face_quality(frame.image, detections.boxes[i], detections.landmarks[i])
                     for i, t in enumerate(tracks)
                     if self.decider.state(t.track_id).decision != IDENTIFIED}
        wanted = [i for i, quality in qualities.items()
                  if self.decider.needs_embedding(tracks[i].track_id, quality, frame.index)]
        events: List[DoorEvent] = []
        if wanted and self.outage is not None and time.monotonic() < self.outage["retry_at"]:
            wanted = []  # the recognizer is down: wait for the next retry
        identities: List[Any] = []
        if wanted:
            embeddings = self.pipeline.embed(frame.image, detections.landmarks[wanted])
            self.embedded_faces += len(wanted)
            identities = self._identify(embeddings)
        for i, who in zip(wanted, identities):
            track = tracks[i]
            state = self.decider.state(track.track_id)
            if qualities[i].width > state.best_width:
                track.data["best_crop"] = crop_around(frame.image, detections.boxes[i], 0.3)
            decision = self.decider.observe(track.track_id, who.name, who.known,
                                            who.similarity, qualities[i], frame.index)
            if decision is not None:
                events.append(self._decide(frame, track, decision, who, healthy))
        self.arming.tick(frame.time, self._visible_people(tracks))
        self.decider.forget(t.track_id for t in ended)
        return events

    def _identify(self, embeddings: np.ndarray) -> List[Any]:
        """The recognizer's answers, or [] while it is unavailable (outage audited)."""
        now = time.monotonic()
        try:
            identities = self.recognizer.identify(embeddings)
        except GalleryUnavailableError as exc:
            if self.outage is None:
                self.outage = {"since": now, "wait": self.retry_s, "failures": 0}
                logger.error("recognizer unavailable, faces are not identified: %s", exc)
                self._audit_health("outage", error=str(exc))
            else:
                self.outage["wait"] = min(self.outage["wait"] * 2, self.max_retry_s)
            self.outage["failures"] += 1
            self.outage["retry_at"] = now + self.outage["wait"]
            return []
        if self.outage is not None:
            down = now - self.outage["since"]
            logger.warning("recognizer available again after %.1f s", down)
            self._audit_health("recovered", down_s=round(down, 3),
                               failed_attempts=self.outage["failures"])
            self.outage = None
        return identities

    def _audit_health(self, kind: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append({"type": kind, "time": self.clock().isoformat(
                timespec="milliseconds"), **fields})

    @property
    def healthy(self) -> bool:
        """False while the recognizer is unavailable."""
        return self.outage is None

    def _idle(self) -> bool:
        """No face in view that still needs a decision."""
        return all(self.decider.state(t.track_id).decision == IDENTIFIED
                   for t in self.tracker.tracks)

    def _visible_people(self, tracks: Sequence[Any]) -> List[str]:
        """People of identified tracks seen in the latest detection (missed ones have left
        or are hidden: they must not keep their person's re-arming clock at zero)."""
        states = [self.decider.state(t.track_id) for t in tracks if t.missed == 0]
        return [s.person for s in states if s.decision == IDENTIFIED and s.person]

    def run(self, frames: Iterable[Frame], health: Callable[[], bool] = lambda: True
            ) -> Iterator[DoorEvent]:
        """Process every frame of ``frames`` (e.g. a FrameSource) and yield events."""
        for frame in frames:
            yield from self.process(frame, healthy=health())

    def close(self) -> None:
        """Wait for queued actions and stop the action worker."""
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    # ------------------------------------------------------------------ decisions
    def _decide(self, frame: Frame, track: Any, decision: str, who: Any,
                healthy: bool) -> DoorEvent:
        state = self.decider.state(track.track_id)
        person = state.person if decision == IDENTIFIED else "unknown"
        best = max((s for s in state.scores if s[0] == person), key=lambda s: s[1],
                   default=(person, who.similarity, 0.0))
        event_id = uuid.uuid4().hex
        snapshot = self._snapshot(event_id, track.data.get("best_crop"))
        now = self.clock()
        fired, refused = [], {}
        armed = decision == IDENTIFIED and self.arming.can_fire(person, frame.time)
        for action in self.actions:
            granted, reason = action.policy.allows(person, now)
            if granted and not healthy:
                granted, reason = False, "source or recognizer unhealthy (fail closed)"
            if granted and not armed:
                granted, reason = False, "cooldown: this visit already fired"
            if granted and self.dry_run:
                granted, reason = False, "dry run: " + action.describe({"person": person})
            if granted:
                fired.append(action.name)
            else:
                refused[action.name] = reason
        if fired:
            self.arming.fired(person, frame.time)
        event = DoorEvent(
            event_id=event_id, time=now.isoformat(timespec="milliseconds"),
            video_time=round(frame.time, 3), frame=frame.index, track_id=track.track_id,
            decision=decision, person=person, similarity=round(float(best[1]), 4),
            margin=round(float(who.margin), 4) if np.isfinite(who.margin) else None,
            votes=list(state.votes),
            thresholds={"unknown_threshold": self.recognizer.unknown_threshold,
                        "margin": self.recognizer.margin,
                        "votes_needed": self.settings.votes_needed,
                        "window": self.settings.window},
            model=self.pipeline.model.id, config=self.config_hash, snapshot=snapshot,
            fired=fired, refused=refused)
        if self.audit is not None:
            self.audit.append({"type": "decision", **event.to_dict()})
        for action in self.actions:
            if action.name in fired and self.runner is not None:
                self.runner.submit(event.to_dict() | {"action": action.name}, action)
        return event

    def _snapshot(self, event_id: str, crop: Optional[np.ndarray]) -> Optional[str]:
        if self.snapshot_dir is None or crop is None or crop.size == 0:
            return None
        path = self.snapshot_dir / f"{event_id}.jpg"
        try:
            write_image(path, crop)
        except OSError as exc:  # a full disk must not stop the door
            logger.error("cannot write snapshot %s: %s", path, exc)
            return None
        return str(path)

    def _action_result(self, event: Dict[str, Any], action: Action, ok: bool,
                       detail: str) -> None:
        if self.audit is not None:
            self.audit.append({"type": "action", "event_id": event.get("event_id"),
                               "action": action.name, "ok": ok, "detail": detail,
                               "time": self.clock().isoformat(timespec="milliseconds")})
