"""Door decisions per track: the settings, the quality gates, K-of-N voting and the
verification of a decision. Pure logic: no models, no I/O."""
from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Iterable, List, Optional

import numpy as np
from numpy.typing import NDArray

from .. import thresholds
from ..errors import InvalidParameterError
from ..quality import FaceQuality, quality_flags
from ..types import UNKNOWN

IDENTIFIED = "identified"
#: The votes named a person but too few of the observations were live (a photo or a
#: screen held up, or a real face the liveness check doubted): final for the track.
NOT_LIVE = "not_live"
#: What a verification of an identified track concluded (:meth:`TrackDecider.verify`).
HOLD, DOUBT, SWITCH = "hold", "doubt", "switch"


@dataclass(frozen=True)
class DecisionSettings:
    """How observations of a track become a decision, and how a decision stays true.

    Attributes
    ----------
    votes_needed, window : int
        K of the last N embedded observations must name the same person. Raising K
        cuts false accepts and adds latency (one embedding per frame at most).
    min_face_px : int
        Faces narrower than this (box width in frame pixels) are tracked but never
        embedded. The default comes from real faces (``thresholds.MIN_FACE_PX``).
    embed_every : int
        Re-embed an undecided track every this many frames...
    improve_ratio : float
        ...or sooner when its face grew by this factor over the best one embedded, or
        became 1.5x sharper, or turned 0.1 more towards the camera.
    max_yaw : float
        Faces turned further than this are not embedded (yaw proxy: the nose's
        horizontal offset from the eyes' midpoint over the eye distance; 0 frontal).
        Off by default (``inf``): on real faces neither the true accept rate nor the
        false match rate justified a yaw gate up to 1.2 (``thresholds.DOOR_MAX_YAW``).
    min_sharpness : float
        Faces blurrier than this are not embedded (variance of the Laplacian of the
        face resized to 64 px wide). Off by default (0): see ``thresholds.DOOR_MIN_SHARPNESS``.
    cooldown_s, rearm_s : float
        Per person: seconds between firings, and seconds out of view before the
        next visit may fire.
    idle_detect_every : int
        While no undecided face is in view (an empty doorway, or only faces already
        decided), run the detector on every this-many-th frame only. A newcomer
        then waits at most this many frames minus one to be seen (120 ms at 25 fps
        for 4); 1 detects on every frame. An identified face is verified again on
        the first detection after skipped frames.
    verify_every_s : float
        An identified track is embedded again at least this often (seconds of video) to
        check that its face is still the person's. Lower values catch a swap sooner and
        cost an embedding per identified face per interval.
    keep_threshold, keep_misses, doubt_every_s : float, int, float
        The hysteresis of an identity. Acquiring one needs K of N votes above the
        recognizer's gate and margin; keeping it needs less. A verification that names
        another enrolled person ends the track at once; one that reads at least
        ``keep_threshold`` (cosine to the face that earned the decision) keeps it; one
        below is a miss. After a cut or a box jump one miss ends the track; otherwise
        it ends after ``keep_misses`` misses in a row, counted at least ``doubt_every_s``
        apart (the face is checked again that often while in doubt), so a face that
        turns away for a moment keeps its identity and another face standing in is
        caught within ``(keep_misses - 1) * doubt_every_s`` of its first check. An
        ended track's face goes on as a new, undecided track. Chosen on lfw_dev
        (``thresholds.DOOR_KEEP_COSINE``).
    max_shift : float
        A track's box "jumps" when its centre moves more than this many face widths
        between two detections...
    max_resize : float
        ...or its width changes by more than this factor. An identified track is then
        verified at once; an undecided one loses its votes (they may be another face's).
    cut_threshold : float
        A frame whose grey-level thumbnail differs from the previous one by more than
        this (0-1, see :class:`face_trigger.tracking.CutDetector`) is a cut: every track
        is treated as if its box had jumped.
    liveness : bool
        Check every embedded observation of an undecided track for liveness; then a track
        is identified only when ``live_needed`` of the observations in its window are
        live (probability >= ``live_threshold``). A track whose votes name someone while
        its full window holds fewer live observations is decided ``not_live``: nothing
        fires, the event and audit line say so.
    """

    votes_needed: int = thresholds.VOTE_K
    window: int = thresholds.VOTE_N
    min_face_px: int = thresholds.MIN_FACE_PX
    embed_every: int = 5
    improve_ratio: float = 1.15
    max_yaw: float = thresholds.DOOR_MAX_YAW
    min_sharpness: float = thresholds.DOOR_MIN_SHARPNESS
    cooldown_s: float = thresholds.COOLDOWN_S
    rearm_s: float = thresholds.REARM_S
    idle_detect_every: int = 4
    verify_every_s: float = thresholds.VERIFY_EVERY_S
    keep_threshold: float = thresholds.DOOR_KEEP_COSINE
    keep_misses: int = thresholds.DOOR_KEEP_MISSES
    doubt_every_s: float = thresholds.DOOR_DOUBT_EVERY_S
    max_shift: float = 0.5
    max_resize: float = 1.3
    cut_threshold: float = thresholds.CUT_THRESHOLD
    liveness: bool = False
    live_threshold: float = thresholds.LIVE_PROBABILITY
    live_needed: int = thresholds.LIVE_K

    def __post_init__(self) -> None:
        if not 1 <= self.live_needed <= self.window or not 0 <= self.live_threshold <= 1:
            raise InvalidParameterError(f"need 1 <= live_needed <= window and 0 <= "
                                        f"live_threshold <= 1, got {self.live_needed} of "
                                        f"{self.window}, {self.live_threshold}")
        if not self.max_yaw > 0 or not self.min_sharpness >= 0 or math.isnan(self.max_yaw):
            raise InvalidParameterError("max_yaw must be > 0 (inf: no yaw gate) and "
                                        "min_sharpness >= 0")
        if not 1 <= self.votes_needed <= self.window:
            raise InvalidParameterError(f"need 1 <= votes_needed <= window, got "
                                        f"{self.votes_needed} of {self.window}")
        if min(self.min_face_px, self.embed_every, self.idle_detect_every) < 1 \
                or not self.improve_ratio >= 1.0:
            raise InvalidParameterError("min_face_px, embed_every and idle_detect_every must be "
                                        ">= 1, improve_ratio >= 1")
        if not (-1 <= self.keep_threshold <= 1 and self.keep_misses >= 1
                and 0 < self.doubt_every_s < math.inf):
            raise InvalidParameterError(
                f"need -1 <= keep_threshold <= 1, keep_misses >= 1 and doubt_every_s > 0, "
                f"got {self.keep_threshold}, {self.keep_misses}, {self.doubt_every_s}")
        if not (self.cooldown_s >= 0 and self.rearm_s >= 0):
            raise InvalidParameterError("cooldown_s and rearm_s must be >= 0")
        if not (0 < self.verify_every_s < math.inf and 0 < self.max_shift < math.inf
                and 1 < self.max_resize < math.inf and 0 < self.cut_threshold <= 1):
            raise InvalidParameterError(
                f"need verify_every_s > 0, max_shift > 0, max_resize > 1 and 0 < cut_threshold "
                f"<= 1, got {self.verify_every_s}, {self.max_shift}, {self.max_resize}, "
                f"{self.cut_threshold}")


@dataclass(frozen=True)
class Observation:
    """One embedded sighting of a track's face: what it said and how good it was.

    ``name`` is the person the recognizer named, or "unknown" below its gate;
    ``norm`` is the raw SFace feature norm (a quality signal; NaN when not measured);
    ``live`` the liveness probability (NaN when liveness is off).
    """

    frame: int
    name: str
    similarity: float
    width: float
    yaw: float
    sharpness: float
    norm: float = float("nan")
    live: float = float("nan")

    def to_dict(self) -> Dict[str, object]:
        """JSON-ready, rounded."""
        return {"frame": self.frame, "name": self.name,
                "similarity": round(self.similarity, 4), "width": round(self.width, 1),
                "yaw": round(self.yaw, 3), "sharpness": round(min(self.sharpness, 1e9), 1),
                "norm": None if math.isnan(self.norm) else round(self.norm, 3),
                "live": None if math.isnan(self.live) else round(self.live, 4)}


@dataclass
class TrackState:
    """What the decider remembers about one track.

    ``observations`` holds the last ``window`` embedded sightings (the votes);
    ``gated`` counts sightings that were not embedded, by reason ("too_small",
    "turned", "blurred"); ``verified_at`` is the video time of the identification or
    of the latest verification that kept it; ``crowded``: the box touched another
    face's at the latest detection; ``best_crop`` (BGR uint8) is the embedded sighting with
    the highest SFace feature norm ``best_norm``, the event's snapshot. ``embeddings``
    (float32 (dim,) each) go with ``observations``; ``anchor`` (float32 (dim,), unit) is
    the mean of those that earned the decision, what verifications are compared with;
    ``misses`` counts the verifications in a row that read below the keep threshold,
    the latest at video time ``missed_at``.
    """

    observations: Deque[Observation]
    best_width: float = 0.0
    best_sharpness: float = 0.0
    best_yaw: float = float("inf")
    last_embedded: int = -(10 ** 9)
    decision: Optional[str] = None       # None, "identified", "unknown" or "not_live"
    person: Optional[str] = None
    embedded: int = 0
    verified_at: float = float("-inf")
    gated: "Counter[str]" = field(default_factory=Counter)
    crowded: bool = False
    best_norm: float = -1.0
    best_crop: Optional[Any] = None
    embeddings: Deque[Optional[NDArray[np.float32]]] = field(default_factory=deque)
    anchor: Optional[NDArray[np.float32]] = None
    misses: int = 0
    missed_at: float = float("-inf")

    @property
    def votes(self) -> List[str]:
        """The names of the observations in the window ("unknown" below the gate)."""
        return [o.name for o in self.observations]


class TrackDecider:
    """Turns per-observation identities into one decision per track."""

    def __init__(self, settings: DecisionSettings = DecisionSettings()) -> None:
        self.settings = settings
        self._states: Dict[int, TrackState] = {}

    def state(self, track_id: int) -> TrackState:
        if track_id not in self._states:
            # Bounded like the votes: a stranger who stays in view is observed for as long
            # as they stay, and must not grow the state without end.
            self._states[track_id] = TrackState(
                observations=deque(maxlen=self.settings.window),
                embeddings=deque(maxlen=self.settings.window))
        return self._states[track_id]

    def gate(self, quality: FaceQuality) -> Optional[str]:
        """Why this sighting may not be embedded ("too_small", "turned", "blurred"), or None."""
        cfg = self.settings
        flags = quality_flags(quality, min_face_px=cfg.min_face_px, max_yaw=cfg.max_yaw,
                              min_sharpness=cfg.min_sharpness)
        return flags[0][0] if flags else None

    def needs_embedding(self, track_id: int, quality: "FaceQuality | float",
                        frame_index: int) -> bool:
        """Whether this frame's face of an undecided track is worth an embedding: it passes
        the gates (a gated sighting is counted in the track's ``gated``) and is new,
        better than before, or due."""
        if not isinstance(quality, FaceQuality):
            quality = FaceQuality(width=float(quality))
        s, cfg = self.state(track_id), self.settings
        if s.decision in (IDENTIFIED, NOT_LIVE):
            return False
        reason = self.gate(quality)
        if reason is not None:
            s.gated[reason] += 1
            return False
        return (s.embedded == 0 or quality.width >= s.best_width * cfg.improve_ratio
                or quality.sharpness >= s.best_sharpness * 1.5
                or quality.yaw <= s.best_yaw - 0.1
                or frame_index - s.last_embedded >= cfg.embed_every)

    def observe(self, track_id: int, name: str, known: bool, similarity: float,
                quality: "FaceQuality | float", frame_index: int, *,
                norm: float = float("nan"), video_time: float = float("nan"),
                live: float = float("nan"),
                embedding: Optional[NDArray[np.float32]] = None) -> Optional[str]:
        """Add one embedded observation; returns "identified", "unknown" or "not_live" when
        the track's decision is made by it (each at most once per track), else None.
        ``live`` is the observation's liveness probability (needed when the settings
        check liveness; NaN counts as not live); ``embedding`` (float32 (dim,), unit) the
        face's, kept for the verifications of an identity it helps earn."""
        if not isinstance(quality, FaceQuality):
            quality = FaceQuality(width=float(quality))
        s = self.state(track_id)
        s.embedded += 1
        s.last_embedded = frame_index
        s.best_width = max(s.best_width, quality.width)
        s.best_sharpness = max(s.best_sharpness, quality.sharpness)
        s.best_yaw = min(s.best_yaw, quality.yaw)
        s.observations.append(Observation(frame_index, name if known else UNKNOWN,
                                          float(similarity), quality.width, quality.yaw,
                                          quality.sharpness, float(norm), float(live)))
        s.embeddings.append(None if embedding is None else np.asarray(embedding, np.float32))
        # A decision belongs to the face that earned it: only an observation that itself
        # names the person can complete the K votes (older votes may be another face's,
        # e.g. after two people crossed).
        latest = s.observations[-1].name
        cfg = self.settings
        if latest != UNKNOWN and s.decision not in (IDENTIFIED, NOT_LIVE) \
                and s.votes.count(latest) >= cfg.votes_needed:
            live = sum(o.live >= cfg.live_threshold for o in s.observations)  # NaN: False
            if not cfg.liveness or live >= cfg.live_needed:
                s.decision, s.person, s.verified_at = IDENTIFIED, latest, video_time
                s.anchor = _anchor(s, latest)
                return IDENTIFIED
            if len(s.observations) < cfg.window:
                return None  # not live enough yet: wait for the window to fill
            s.decision, s.person = NOT_LIVE, latest
            return NOT_LIVE
        if s.decision is None and len(s.votes) == self.settings.window:
            s.decision = UNKNOWN
            return UNKNOWN
        return None

    def verify(self, track_id: int, name: str, known: bool, video_time: float,
               embedding: Optional[NDArray[np.float32]] = None, strict: bool = False) -> str:
        """Check an identified track against a new observation of its face (``embedding``
        float32 (dim,), unit; None when the face could not be embedded). Returns HOLD
        (the identity stands; ``verified_at`` updated), DOUBT (a miss: check again in
        ``doubt_every_s``) or SWITCH (the face is not the person's: end the track).
        ``strict`` (after a cut or a box jump): one miss is a switch."""
        s, cfg = self.state(track_id), self.settings
        if s.decision != IDENTIFIED:
            return SWITCH
        if known and name == s.person:
            return self._hold(s, video_time)
        if known:  # another enrolled person, above the gate and the margin
            return SWITCH
        if embedding is not None and s.anchor is not None and \
                float(np.dot(np.asarray(embedding, np.float32), s.anchor)) >= cfg.keep_threshold:
            return self._hold(s, video_time)
        if strict:
            return SWITCH
        if video_time - s.missed_at >= cfg.doubt_every_s - 1e-6:
            s.misses, s.missed_at = s.misses + 1, video_time
        return SWITCH if s.misses >= cfg.keep_misses else DOUBT

    @staticmethod
    def _hold(s: TrackState, video_time: float) -> str:
        s.verified_at, s.misses, s.missed_at = video_time, 0, float("-inf")
        return HOLD

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the state of ended tracks."""
        for track_id in track_ids:
            self._states.pop(track_id, None)


def _anchor(s: TrackState, person: str) -> Optional[NDArray[np.float32]]:
    """Unit mean of the embeddings of ``s``'s observations that named ``person``, or None
    when none was kept."""
    kept = [e for o, e in zip(s.observations, s.embeddings) if o.name == person and e is not None]
    if not kept:
        return None
    mean = np.mean(kept, axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None
