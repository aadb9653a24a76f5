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
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from ..boxes import iou_matrix
from .._validate import check_frame
from ..errors import AuditError, GalleryUnavailableError, InvalidParameterError
from ..identity import Identifier, Identity
from ..image_io import crop_around, write_image
from ..liveness import LivenessChecker
from ..pipeline import FacePipeline
from ..quality import FaceQuality, face_quality
from ..types import UNKNOWN, Detections
from .actions import Action, ActionRunner, ResultCallback
from .audit import AuditLog
from .decision import (DOUBT, HOLD, IDENTIFIED, NOT_LIVE, SWITCH, DecisionSettings,
                       TrackDecider, TrackState)
from .policy import PersonArming
from .sources import Frame
from .tracking import CutDetector, IoUTracker, Track, box_jumped

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoorEvent:
    """One decision about one track (JSON-ready with :meth:`to_dict`).

    ``votes`` are the names of the observations in the voting window and
    ``observations`` the same sightings with their evidence (frame, name, similarity,
    width, yaw, sharpness, SFace norm); ``gated`` counts the track's sightings that
    were not embedded, by reason ("too_small", "turned", "blurred"). ``fired`` lists
    the actions submitted for it; ``refused`` maps the other actions to the reason
    (unknown person, known stranger, outside the time window, cooldown, unhealthy
    source, dry run).
    """

    event_id: str
    time: str
    video_time: float
    frame: int
    track_id: int
    box: List[float]
    decision: str
    person: str
    similarity: float
    margin: Optional[float]
    votes: List[str]
    thresholds: Dict[str, float]
    model: str
    config: str
    observations: List[Dict[str, Any]] = field(default_factory=list)
    gated: Dict[str, int] = field(default_factory=dict)
    snapshot: Optional[str] = None
    fired: List[str] = field(default_factory=list)
    refused: Dict[str, str] = field(default_factory=dict)
    #: the camera or video it came from, when a door watches several ("" for one)
    source: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DoorStats:
    """What a door has done so far (counters only grow)."""

    frames: int = 0
    #: faces embedded (undecided ones and verifications of identified ones)
    embedded_faces: int = 0
    #: idle frames the detector was not run on
    skipped_detections: int = 0
    #: verifications of identified tracks, those that read below the keep threshold
    #: (misses: the identity is in doubt), and the identity switches they caught
    verifications: int = 0
    verification_misses: int = 0
    identity_switches: int = 0
    #: undecided tracks restarted after a cut or a jump
    track_restarts: int = 0
    cuts_seen: int = 0
    audit_failures: int = 0


@dataclass
class Outage:
    """The recognizer is unavailable since ``since`` (monotonic s); the next attempt is at
    ``retry_at``, after ``wait`` s (doubling up to the door's ``max_retry_s``)."""

    since: float
    wait: float
    failures: int = 0
    retry_at: float = 0.0


@dataclass
class EmbedPlan:
    """Which faces of one frame are embedded, and why (indices into the detections).

    ``wanted``: undecided faces that passed the gates and are new, better or due;
    ``checks``: identified faces to verify, with the reason (cut, jump, idle, crowded,
    schedule); ``qualities``: the quality of every face that was considered."""

    qualities: Dict[int, FaceQuality] = field(default_factory=dict)
    wanted: List[int] = field(default_factory=list)
    checks: Dict[int, str] = field(default_factory=dict)

    @property
    def faces(self) -> List[int]:
        """Every face to embed, in detection order."""
        return sorted(self.wanted + list(self.checks))


class DoorTrigger:
    """The door loop, frame by frame.

    Parameters
    ----------
    recognizer : Identifier
        A trained (or loaded) FaceRecognizer, or a Gallery: its ``identify`` names each
        observation and its ``unknown_threshold`` / ``margin`` are the gates. When it
        raises GalleryUnavailableError (a shared gallery's database is down) the loop
        keeps running: faces are not identified (nothing fires), the outage and the
        recovery go to the audit log, and identification is retried after ``retry_s``
        seconds, doubling up to ``max_retry_s``.
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
    liveness : LivenessChecker, optional
        Used when ``settings.liveness`` is on (default: the pipeline's, else a new one).
        Only undecided tracks' embedded faces are checked.
    on_action_result : callable, optional
        ``(event, action, ok, detail)`` after each fired action finished (its retries
        included) and was audited; called on the action worker thread.
    source : str
        The name of the camera or video, for a door that watches several: every event and
        audit record carries it.
    """

    def __init__(self, recognizer: Identifier, pipeline: Optional[FacePipeline] = None, *,
                 settings: DecisionSettings = DecisionSettings(),
                 actions: Sequence[Action] = (), audit: Optional[AuditLog] = None,
                 snapshot_dir: Union[str, os.PathLike, None] = None, dry_run: bool = False,
                 tracker: Optional[IoUTracker] = None,
                 clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now().astimezone(),
                 retry_s: float = 1.0, max_retry_s: float = 30.0,
                 liveness: Optional[LivenessChecker] = None,
                 on_action_result: Optional[ResultCallback] = None, source: str = "") -> None:
        self.recognizer = recognizer
        self.pipeline = pipeline if pipeline is not None else FacePipeline()
        self.liveness: Optional[LivenessChecker] = None
        if settings.liveness:
            self.liveness = liveness or self.pipeline.liveness or LivenessChecker(
                threshold=settings.live_threshold, engine=self.pipeline.engine)
        self.settings = settings
        self.actions = list(actions)
        self.audit = audit
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir is not None else None
        if self.snapshot_dir is not None:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        self.dry_run = dry_run
        self.clock = clock
        self.tracker = tracker if tracker is not None else IoUTracker()
        self.cuts = CutDetector(settings.cut_threshold)
        self.decider = TrackDecider(settings)
        self.arming = PersonArming(settings.cooldown_s, settings.rearm_s)
        self.on_action_result = on_action_result
        self.source = str(source)
        self.runner = ActionRunner(on_result=self._action_result) if self.actions else None
        self.stats = DoorStats()
        self.retry_s, self.max_retry_s = float(retry_s), float(max_retry_s)
        self.outage: Optional[Outage] = None
        self._skipping = False
        self.last_detected_frame = -1
        self.config_hash = hashlib.sha256(json.dumps({
            "settings": dataclasses.asdict(settings),
            "unknown_threshold": recognizer.unknown_threshold, "margin": recognizer.margin,
            "actions": [a.name for a in self.actions]}, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ per frame
    def process(self, frame: Frame, healthy: bool = True) -> List[DoorEvent]:
        """Run one frame through detect -> track -> plan -> embed and identify -> observe
        and decide -> dispatch; return the new events.

        Undecided faces are embedded when they pass the gates and are new, better or due.
        Identified faces are embedded again to verify them (:meth:`_verification_due`,
        :meth:`TrackDecider.verify`); a verification that names another enrolled person,
        or misses after a cut or jump, or the last of ``keep_misses`` misses in a row,
        ends the track: its face goes on as a new, undecided track and the switch is
        counted, logged and audited.
        """
        if not isinstance(frame, Frame):
            raise InvalidParameterError(f"process() takes a door.sources.Frame (index, time, "
                                        f"image), got {type(frame).__name__}")
        check_frame(frame.image, "frame.image")  # None, float or gray: a typed error here
        self.stats.frames += 1
        cut = self.cuts.update(frame.image)
        self.stats.cuts_seen += int(cut)
        if not cut and self._idle() and frame.index % self.settings.idle_detect_every:
            self.stats.skipped_detections += 1
            self._skipping = True
            self.arming.tick(frame.time, self._visible_people(self.tracker.tracks))
            return []
        after_skip, self._skipping = self._skipping, False
        self.last_detected_frame = frame.index
        detections = self.pipeline.detect(frame.image)
        tracks, ended = self.tracker.update(detections.boxes, frame.index)
        self.decider.forget(t.track_id for t in ended)
        plan = self._plan(frame, detections, tracks, cut, after_skip)
        identities, embeddings, norms, lives = self._embed_and_identify(frame, detections, plan)
        events = []
        for i, who, embedding, norm, live in zip(plan.faces, identities, embeddings, norms,
                                                 lives):
            event = self._observe(frame, detections, tracks, i, plan, who, embedding,
                                  float(norm), float(live), healthy)
            if event is not None:
                events.append(event)
        self.arming.tick(frame.time, self._visible_people(tracks))
        return events

    def _plan(self, frame: Frame, detections: Detections, tracks: List[Track], cut: bool,
              after_skip: bool) -> EmbedPlan:
        """Which faces to embed or verify. A face whose identity cannot be carried over
        (after a cut or jump, or when it cannot be verified) restarts its track here:
        ``tracks`` is updated in place."""
        crowded = _overlapping(detections.boxes)
        plan = EmbedPlan()
        for i, track in enumerate(tracks):
            state = self.decider.state(track.track_id)
            reason = self._verification_due(track, state, cut, after_skip, bool(crowded[i]),
                                            frame.time)
            state.crowded = bool(crowded[i])
            if state.decision == IDENTIFIED and reason is None:
                continue
            # quality (a crop, a resize and a Laplacian) only for faces that may be embedded
            quality = plan.qualities[i] = face_quality(frame.image, detections.boxes[i],
                                                       detections.landmarks[i])
            if state.decision == IDENTIFIED and reason is not None:
                if self.decider.gate(quality) is None and self.outage is None:
                    plan.checks[i] = reason
                elif reason in ("cut", "jump") or (self.outage is None and self.decider.verify(
                        track.track_id, UNKNOWN, False, frame.time) == SWITCH):
                    # Cannot verify this face (too small, or the recognizer is down after
                    # the picture changed; or too small for keep_misses checks in a row):
                    # its identity is not carried over.
                    tracks[i] = self._restart(frame, track, reason, observed=None)
            else:
                if reason in ("cut", "jump") and state.embedded:
                    tracks[i] = track = self._restart(frame, track, reason, observed=None)
                if self.decider.needs_embedding(track.track_id, quality, frame.index):
                    plan.wanted.append(i)
        if plan.wanted and self.outage is not None and time.monotonic() < self.outage.retry_at:
            plan.wanted = []  # the recognizer is down: wait for the next retry
        return plan

    def _embed_and_identify(self, frame: Frame, detections: Detections, plan: EmbedPlan
                            ) -> Tuple[List[Identity], np.ndarray, np.ndarray, np.ndarray]:
        """For each face of the plan: the recognizer's answer (none while it is down), the
        unit embedding float32 (dim,), the raw embedding norm, and the live probability
        (NaN where not checked: identified faces, or liveness off)."""
        faces = plan.faces
        lives = np.full(len(faces), np.nan, np.float32)
        if not faces:
            return [], np.zeros((0, self.pipeline.dim), np.float32), np.zeros(0, np.float32), \
                lives
        embeddings, norms = self.pipeline.embed_with_norms(frame.image,
                                                           detections.landmarks[faces])
        self.stats.embedded_faces += len(faces)
        identities = self._identify(embeddings)
        if self.liveness is not None and plan.wanted:  # undecided faces only
            rows = [row for row, i in enumerate(faces) if i not in plan.checks]
            lives[rows] = self.liveness.check(frame.image,
                                              detections.boxes[sorted(plan.wanted)]).probability
        return identities, embeddings, norms, lives

    def _observe(self, frame: Frame, detections: Detections, tracks: List[Track], i: int,
                 plan: EmbedPlan, who: Identity, embedding: np.ndarray, norm: float, live: float,
                 healthy: bool) -> Optional[DoorEvent]:
        """One identified face: a verification that holds (or only doubts) ends here;
        otherwise it is an observation of its (possibly restarted) track, which may
        decide the track."""
        track = tracks[i]
        if i in plan.checks:
            self.stats.verifications += 1
            reason = plan.checks[i]
            verdict = self.decider.verify(track.track_id, who.name, who.known, frame.time,
                                          embedding, strict=reason in ("cut", "jump"))
            if verdict == HOLD:
                return None
            if verdict == DOUBT:
                self.stats.verification_misses += 1
                logger.debug("frame %d: track %d (%s) read %s %.2f at a %s check: in doubt",
                             frame.index, track.track_id, self.decider.state(track.track_id).person,
                             who.name, who.similarity, reason)
                return None
            tracks[i] = track = self._restart(frame, track, reason, observed=who)
        state = self.decider.state(track.track_id)
        if norm > state.best_norm:
            state.best_norm = norm
            state.best_crop = crop_around(frame.image, detections.boxes[i], 0.3)
        decision = self.decider.observe(track.track_id, who.name, who.known, who.similarity,
                                        plan.qualities[i], frame.index, norm=norm,
                                        video_time=frame.time, live=live, embedding=embedding)
        return None if decision is None else self._decide(frame, track, decision, who,
                                                          healthy)

    def _verification_due(self, track: Track, state: TrackState, cut: bool, after_skip: bool,
                          crowded: bool, now: float) -> Optional[str]:
        """Why this track's face must be checked against its past now, or None: "cut" (the
        picture changed), "jump" (the box moved or resized abruptly), and, for identified
        tracks only, "idle" (first detection after skipped frames), "crowded" (its box
        touches another face's, now or at the previous detection: trackers swap faces
        there), "doubt" (the latest check missed, ``doubt_every_s`` ago) and "schedule"
        (``verify_every_s`` since the last check that held)."""
        if cut:
            return "cut"
        if track.previous_box is not None and box_jumped(
                track.previous_box, track.box, self.settings.max_shift, self.settings.max_resize):
            return "jump"
        if state.decision != IDENTIFIED:
            return None
        if after_skip:
            return "idle"
        if crowded or state.crowded:
            return "crowded"
        if state.misses and now - state.missed_at >= self.settings.doubt_every_s - 1e-6:
            return "doubt"
        if now - state.verified_at >= self.settings.verify_every_s:
            return "schedule"
        return None

    def _restart(self, frame: Frame, track: Track, reason: str,
                 observed: Optional[Identity]) -> Track:
        """End ``track`` and continue its face as a new track with no votes. When the track
        was identified this is an identity switch: counted, logged and audited."""
        state = self.decider.state(track.track_id)
        new = self.tracker.restart(track, frame.index)
        if state.decision == IDENTIFIED:
            self.stats.identity_switches += 1
            seen = "unverifiable" if observed is None else (
                f"{observed.name if observed.known else UNKNOWN} "
                f"(similarity {observed.similarity:.2f})")
            logger.warning("frame %d: track %d was %s, its face now reads %s (%s check);"
                           " it continues as track %d with no votes", frame.index,
                           track.track_id, state.person, seen, reason, new.track_id)
            self._audit({
                "type": "identity_switch",
                "time": self.clock().isoformat(timespec="milliseconds"),
                "video_time": round(frame.time, 3), "frame": frame.index,
                "track_id": track.track_id, "new_track_id": new.track_id,
                "person": state.person, "reason": reason,
                "observed": None if observed is None else
                (observed.name if observed.known else UNKNOWN),
                "similarity": None if observed is None else round(float(observed.similarity), 4)})
        else:
            self.stats.track_restarts += 1
            logger.debug("frame %d: undecided track %d restarted as %d after a %s",
                         frame.index, track.track_id, new.track_id, reason)
        self.decider.forget([track.track_id])
        return new

    def identified_tracks(self) -> List[Tuple[int, str, np.ndarray]]:
        """``(track_id, person, box)`` of every identified track seen in the latest
        detection; ``box`` is float32 (4,) x1, y1, x2, y2."""
        found = []
        for track in self.tracker.tracks:
            state = self.decider.state(track.track_id)
            if track.missed == 0 and state.decision == IDENTIFIED and state.person:
                found.append((track.track_id, state.person, track.box.copy()))
        return found

    def _identify(self, embeddings: np.ndarray) -> List[Identity]:
        """The recognizer's answers, or [] while it is unavailable (outage audited)."""
        now = time.monotonic()
        try:
            identities = self.recognizer.identify(embeddings)
        except GalleryUnavailableError as exc:
            if self.outage is None:
                self.outage = Outage(since=now, wait=self.retry_s)
                logger.error("recognizer unavailable, faces are not identified: %s", exc)
                self._audit_health("outage", error=str(exc))
            else:
                self.outage.wait = min(self.outage.wait * 2, self.max_retry_s)
            self.outage.failures += 1
            self.outage.retry_at = now + self.outage.wait
            return []
        if self.outage is not None:
            down = now - self.outage.since
            logger.warning("recognizer available again after %.1f s", down)
            self._audit_health("recovered", down_s=round(down, 3),
                               failed_attempts=self.outage.failures)
            self.outage = None
        return identities

    def _audit_health(self, kind: str, **fields: Any) -> None:
        self._audit({"type": kind, "time": self.clock().isoformat(timespec="milliseconds"),
                     **fields})

    def _audit(self, record: Dict[str, Any]) -> bool:
        """Append to the audit log; False (logged, counted) when it cannot be written."""
        return self._audit_anchored(record)[0]

    def _audit_anchored(self, record: Dict[str, Any]) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Append to the audit log: (written, the line's anchor or None without a log)."""
        if self.audit is None:
            return True, None
        if self.source:
            record = {**record, "source": self.source}
        try:
            return True, self.audit.append_anchored(record)
        except AuditError as exc:
            logger.error("%s", exc)
            self.stats.audit_failures += 1
            return False, None

    @property
    def healthy(self) -> bool:
        """False while the recognizer is unavailable."""
        return self.outage is None

    def _idle(self) -> bool:
        """No face in view that still needs a first decision (faces decided "unknown" are
        still observed, on the frames the detector runs, and may be identified later)."""
        return all(self.decider.state(t.track_id).decision is not None
                   for t in self.tracker.tracks)

    def _visible_people(self, tracks: Sequence[Track]) -> List[str]:
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
    def _decide(self, frame: Frame, track: Track, decision: str, who: Identity,
                healthy: bool) -> DoorEvent:
        """The event of a track's decision, with each action fired or refused (and why);
        audited before anything fires, then dispatched."""
        now = self.clock()
        event = self._event(frame, track, decision, who, now)
        armed = decision == IDENTIFIED and self.arming.can_fire(event.person, frame.time)
        fired, refused = [], {}
        for action in self.actions:
            reason = self.refusal(action, event, now, healthy, armed)
            if reason is None:
                fired.append(action.name)
            else:
                refused[action.name] = reason
        event = dataclasses.replace(event, fired=fired, refused=refused)
        audited, anchor = self._audit_anchored({"type": "decision", **event.to_dict()})
        if not audited and fired:  # fail closed: nothing fires that is not audited
            logger.error("decision %s not audited: no action fires", event.event_id)
            refused.update({name: "audit log unwritable (fail closed)" for name in fired})
            event = dataclasses.replace(event, fired=[], refused=refused)
        if event.fired:
            self.arming.fired(event.person, frame.time)
            self._dispatch(event, anchor)
        return event

    def refusal(self, action: Action, event: DoorEvent, now: _dt.datetime, healthy: bool,
                armed: bool) -> Optional[str]:
        """The grant policy: why ``action`` must not fire for ``event``, or None when it
        may (the person and time window of its policy, liveness, the health of the source
        and recognizer, this visit's cooldown, a dry run)."""
        granted, reason = action.policy.allows(event.person, now)
        if not granted:
            return reason
        if event.decision == NOT_LIVE:
            return (f"not live: fewer than {self.settings.live_needed} of "
                    f"{self.settings.window} observations live")
        if not healthy:
            return "source or recognizer unhealthy (fail closed)"
        if not armed:
            return "cooldown: this visit already fired"
        if self.dry_run:
            return "dry run: " + action.describe(event.to_dict() | {"action": action.name})
        return None

    def _dispatch(self, event: DoorEvent, anchor: Optional[Dict[str, Any]]) -> None:
        """Hand the fired actions to the worker, each with the event (and the audit line's
        anchor, which lets a receiver prove the log kept it)."""
        for action in self.actions:
            if action.name in event.fired and self.runner is not None:
                published = event.to_dict() | {"action": action.name}
                if anchor is not None:
                    published["audit"] = anchor
                self.runner.submit(published, action)

    def _event(self, frame: Frame, track: Track, decision: str, who: Identity,
               now: _dt.datetime) -> DoorEvent:
        """The decision of a track as an event (nothing fired or refused yet)."""
        state = self.decider.state(track.track_id)
        person = (state.person if decision in (IDENTIFIED, NOT_LIVE) else None) or UNKNOWN
        similarity = max((o.similarity for o in state.observations if o.name == person),
                         default=float(who.similarity))
        event_id = uuid.uuid4().hex
        return DoorEvent(
            event_id=event_id, time=now.isoformat(timespec="milliseconds"),
            video_time=round(frame.time, 3), frame=frame.index, track_id=track.track_id,
            box=[round(float(v), 1) for v in track.box], decision=decision, person=person,
            similarity=round(float(similarity), 4),
            margin=round(float(who.margin), 4) if np.isfinite(who.margin) else None,
            votes=state.votes, observations=[o.to_dict() for o in state.observations],
            gated=dict(state.gated),
            thresholds={"unknown_threshold": self.recognizer.unknown_threshold,
                        "margin": self.recognizer.margin,
                        "votes_needed": self.settings.votes_needed,
                        "window": self.settings.window,
                        **({"live_threshold": self.settings.live_threshold,
                            "live_needed": self.settings.live_needed}
                           if self.settings.liveness else {})},
            model=self.pipeline.model.id, config=self.config_hash,
            snapshot=self._snapshot(event_id, state.best_crop), fired=[], refused={},
            source=self.source)

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

    def _action_result(self, event: Mapping[str, Any], action: Action, ok: bool,
                       detail: str) -> None:
        self._audit({"type": "action", "event_id": event.get("event_id"),
                     "action": action.name, "ok": ok, "detail": detail,
                     "time": self.clock().isoformat(timespec="milliseconds")})
        if self.on_action_result is not None:
            self.on_action_result(event, action, ok, detail)


def _overlapping(boxes: np.ndarray) -> np.ndarray:
    """bool (N,): whether each box overlaps any other box of the same frame."""
    if len(boxes) < 2:
        return np.zeros(len(boxes), bool)
    overlap = iou_matrix(boxes, boxes) > 0
    np.fill_diagonal(overlap, False)
    return np.asarray(overlap.any(axis=1), bool)
