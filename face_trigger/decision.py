"""Door decisions: per-track K-of-N voting, per-person cooldown and re-arming, and the
grant policy of each action. Pure logic: no models, no I/O."""
from __future__ import annotations

import datetime as _dt
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Deque, Dict, FrozenSet, Iterable, Optional, Tuple

from . import thresholds

if TYPE_CHECKING:
    import numpy as np

UNKNOWN = "unknown"
IDENTIFIED = "identified"


@dataclass(frozen=True)
class DecisionSettings:
    """How observations of a track become a decision.

    Attributes
    ----------
    votes_needed, window : int
        K of the last N embedded observations must name the same person. Raising K
        cuts false accepts and adds latency (one embedding per frame at most).
    min_face_px : int
        Faces narrower than this are tracked but never embedded.
    embed_every : int
        Re-embed an undecided track every this many frames...
    improve_ratio : float
        ...or sooner when its face grew by this factor over the best one embedded, or
        became 1.5x sharper, or turned 0.1 more towards the camera.
    max_yaw : float
        Faces turned further than this are not embedded: the nose's horizontal offset
        from the eyes' midpoint over the eye distance (0 frontal; the test photos score
        0.01-0.22; about 0.5 is a half profile). Geometric, not fitted on data.
    min_sharpness : float
        Faces blurrier than this are not embedded: variance of the Laplacian of the
        face resized to 64 px wide. Sharp test faces score 580-1300, motion-blurred
        ones 120-620, a Gaussian blur of sigma 3 27-310 (``face_quality``).
    cooldown_s, rearm_s : float
        Per person: seconds between firings, and seconds out of view before the
        next visit may fire.
    idle_detect_every : int
        While no undecided face is in view (an empty doorway, or only people already
        recognised), run the detector on every this-many-th frame only. A newcomer
        then waits at most this many frames minus one to be seen (120 ms at 25 fps
        for 4); 1 detects on every frame.
    """

    votes_needed: int = thresholds.VOTE_K
    window: int = thresholds.VOTE_N
    min_face_px: int = thresholds.MIN_FACE_PX
    embed_every: int = 5
    improve_ratio: float = 1.15
    max_yaw: float = 0.35
    min_sharpness: float = 60.0
    cooldown_s: float = thresholds.COOLDOWN_S
    rearm_s: float = thresholds.REARM_S
    idle_detect_every: int = 4

    def __post_init__(self) -> None:
        if self.max_yaw <= 0 or self.min_sharpness < 0:
            raise ValueError("max_yaw must be > 0 and min_sharpness >= 0")
        if not 1 <= self.votes_needed <= self.window:
            raise ValueError(f"need 1 <= votes_needed <= window, got {self.votes_needed} of "
                             f"{self.window}")
        if min(self.min_face_px, self.embed_every, self.idle_detect_every) < 1 \
                or self.improve_ratio < 1.0:
            raise ValueError("min_face_px, embed_every and idle_detect_every must be >= 1, "
                             "improve_ratio >= 1")
        if self.cooldown_s < 0 or self.rearm_s < 0:
            raise ValueError("cooldown_s and rearm_s must be >= 0")


@dataclass(frozen=True)
class FaceQuality:
    """What makes one sighting of a face worth embedding: size, sharpness, yaw."""

    width: float
    sharpness: float = float("inf")
    yaw: float = 0.0


def face_quality(frame: "np.ndarray", box: "np.ndarray", landmarks: "np.ndarray") -> FaceQuality:
    """Width (px), sharpness (Laplacian variance at 64 px wide) and yaw proxy of a face."""
    import cv2  # noqa: PLC0415 - keeps the pure decision logic importable without OpenCV

    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    crop = frame[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]
    sharpness = 0.0
    if crop.size:
        gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        height = max(1, int(round(64 * gray.shape[0] / max(1, gray.shape[1]))))
        small = cv2.resize(gray, (64, height), interpolation=cv2.INTER_AREA)
        sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
    eyes_mid = (landmarks[0] + landmarks[1]) / 2.0
    eye_distance = float(((landmarks[1] - landmarks[0]) ** 2).sum() ** 0.5)
    yaw = abs(float(landmarks[2][0] - eyes_mid[0])) / max(eye_distance, 1e-6)
    return FaceQuality(width=float(x2 - x1), sharpness=sharpness, yaw=yaw)


@dataclass
class TrackState:
    """What the decider remembers about one track."""

    votes: Deque[str]
    best_width: float = 0.0
    best_sharpness: float = 0.0
    best_yaw: float = float("inf")
    last_embedded: int = -(10 ** 9)
    decision: Optional[str] = None       # None, "identified" or "unknown"
    person: Optional[str] = None
    observations: int = 0
    scores: Deque[Tuple[str, float, float]] = field(default_factory=deque)


class TrackDecider:
    """Turns per-observation identities into one decision per track."""

    def __init__(self, settings: DecisionSettings = DecisionSettings()) -> None:
        self.settings = settings
        self._states: Dict[int, TrackState] = {}

    def state(self, track_id: int) -> TrackState:
        if track_id not in self._states:
            # Bounded like the votes: a stranger who stays in view is observed for as long
            # as they stay, and must not grow the state without end.
            self._states[track_id] = TrackState(votes=deque(maxlen=self.settings.window),
                                                scores=deque(maxlen=self.settings.window))
        return self._states[track_id]

    def needs_embedding(self, track_id: int, quality: "FaceQuality | float",
                        frame_index: int) -> bool:
        """Whether this frame's face of the track is worth an embedding: good enough
        (size, sharpness, yaw gates) and new, better than before, or due."""
        if not isinstance(quality, FaceQuality):
            quality = FaceQuality(width=float(quality))
        s, cfg = self.state(track_id), self.settings
        if s.decision == IDENTIFIED or quality.width < cfg.min_face_px \
                or quality.sharpness < cfg.min_sharpness or quality.yaw > cfg.max_yaw:
            return False
        return (s.observations == 0 or quality.width >= s.best_width * cfg.improve_ratio
                or quality.sharpness >= s.best_sharpness * 1.5
                or quality.yaw <= s.best_yaw - 0.1
                or frame_index - s.last_embedded >= cfg.embed_every)

    def observe(self, track_id: int, name: str, known: bool, similarity: float,
                quality: "FaceQuality | float", frame_index: int) -> Optional[str]:
        """Add one embedded observation; returns "identified" or "unknown" when the track's
        decision is made by it (each at most once per track), else None."""
        if not isinstance(quality, FaceQuality):
            quality = FaceQuality(width=float(quality))
        face_width = quality.width
        s = self.state(track_id)
        s.observations += 1
        s.last_embedded = frame_index
        s.best_width = max(s.best_width, face_width)
        s.best_sharpness = max(s.best_sharpness, quality.sharpness)
        s.best_yaw = min(s.best_yaw, quality.yaw)
        s.votes.append(name if known else UNKNOWN)
        s.scores.append((name if known else UNKNOWN, float(similarity), float(face_width)))
        counts = Counter(v for v in s.votes if v != UNKNOWN)
        if counts:
            person, count = counts.most_common(1)[0]
            if count >= self.settings.votes_needed:
                s.decision, s.person = IDENTIFIED, person
                return IDENTIFIED
        if s.decision is None and len(s.votes) == self.settings.window:
            s.decision = UNKNOWN
            return UNKNOWN
        return None

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the state of ended tracks."""
        for track_id in track_ids:
            self._states.pop(track_id, None)


class PersonArming:
    """One firing per visit: after firing, a person is disarmed until out of view for
    ``rearm_s`` seconds, and at least ``cooldown_s`` have passed since the firing."""

    def __init__(self, cooldown_s: float, rearm_s: float) -> None:
        self.cooldown_s = cooldown_s
        self.rearm_s = rearm_s
        self._last_fire: Dict[str, float] = {}
        self._last_seen: Dict[str, float] = {}
        self._rearmed: Dict[str, bool] = {}

    def can_fire(self, person: str, now: float) -> bool:
        if person not in self._last_fire:
            return True
        return now - self._last_fire[person] >= self.cooldown_s and self._rearmed[person]

    def fired(self, person: str, now: float) -> None:
        self._last_fire[person] = now
        self._last_seen[person] = now
        self._rearmed[person] = False

    def tick(self, now: float, visible: Iterable[str]) -> None:
        """Call once per frame with the people whose tracks are identified and visible."""
        visible = set(visible)
        for person in visible:
            self._last_seen[person] = now
        for person in self._last_fire:
            if person not in visible and now - self._last_seen[person] >= self.rearm_s:
                self._rearmed[person] = True


def _parse_window(text: str) -> Tuple[_dt.time, _dt.time]:
    try:
        start, end = (part.strip() for part in text.split("-"))
        return _dt.time.fromisoformat(start), _dt.time.fromisoformat(end)
    except ValueError:
        raise ValueError(f"time window must look like '08:00-18:30', got {text!r}") from None


@dataclass(frozen=True)
class GrantPolicy:
    """Who an action may fire for, and when.

    Attributes
    ----------
    people : frozenset of str or None
        Allowed people; ``None`` means every enrolled person except known strangers.
    windows : tuple of str
        Local time windows "HH:MM-HH:MM" (may wrap midnight); empty = always.
    known_strangers : frozenset of str
        Enrolled only so that nobody is mistaken for them: never granted.
    """

    people: Optional[FrozenSet[str]] = None
    windows: Tuple[str, ...] = ()
    known_strangers: FrozenSet[str] = frozenset()

    def __post_init__(self) -> None:
        for window in self.windows:
            _parse_window(window)

    def allows(self, person: str, when: _dt.datetime) -> Tuple[bool, str]:
        """(granted, reason)."""
        if person == UNKNOWN:
            return False, "unknown person"
        if person in self.known_strangers:
            return False, "known stranger"
        if self.people is not None and person not in self.people:
            return False, "not in the allowed people"
        if self.windows and not any(_in_window(when.time(), _parse_window(w))
                                    for w in self.windows):
            return False, "outside the time windows"
        return True, "allowed"


def _in_window(now: _dt.time, window: Tuple[_dt.time, _dt.time]) -> bool:
    start, end = window
    return start <= now <= end if start <= end else (now >= start or now <= end)
