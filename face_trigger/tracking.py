"""IoUTracker: give faces stable track ids across video frames by box overlap."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
from numpy.typing import NDArray


@dataclass
class Track:
    """One face followed across frames (mutable, owned by the tracker).

    Attributes
    ----------
    track_id : int
    box : ndarray float32 (4,)
        Latest box, x1, y1, x2, y2.
    first_frame, last_frame : int
        Frame indices of the first and latest detection.
    hits : int
        Frames in which the face was detected.
    missed : int
        Consecutive frames without a detection (0 while visible).
    """

    track_id: int
    box: NDArray[np.float32]
    first_frame: int
    last_frame: int
    hits: int = 1
    missed: int = 0
    data: Dict[str, object] = field(default_factory=dict)

    @property
    def age(self) -> int:
        """Frames since the track started."""
        return self.last_frame - self.first_frame + 1 + self.missed


def iou_matrix(a: NDArray, b: NDArray) -> NDArray[np.float32]:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


class IoUTracker:
    """Greedy IoU association of detections to tracks.

    Parameters
    ----------
    min_iou : float
        Overlap needed to continue a track. Lower values follow fast motion at low
        frame rates but risk swapping two people who pass close to each other.
    max_missed : int
        Frames a track survives without a detection (covers detector misses and
        dropped frames); a track unseen for longer has left the view and ends.
    """

    def __init__(self, min_iou: float = 0.3, max_missed: int = 10) -> None:
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        self.min_iou = float(min_iou)
        self.max_missed = int(max_missed)
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (between videos); ids start again at 1."""
        self._tracks: Dict[int, Track] = {}
        self._next_id = 1

    @property
    def tracks(self) -> List[Track]:
        """Live tracks, visible or briefly missed."""
        return list(self._tracks.values())

    def update(self, boxes: NDArray, frame_index: int) -> Tuple[List[Track], List[Track]]:
        """Associate this frame's boxes (N, 4) with tracks.

        Returns
        -------
        matched : list of Track
            One per box, in box order (new tracks for unmatched boxes).
        ended : list of Track
            Tracks that were missed for more than ``max_missed`` frames and are gone.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        live = list(self._tracks.values())
        assigned: Dict[int, Track] = {}
        if live and len(boxes):
            overlap = iou_matrix(boxes, np.stack([t.box for t in live]))
            pairs = np.argwhere(overlap >= self.min_iou)
            order = np.argsort(-overlap[pairs[:, 0], pairs[:, 1]], kind="stable")
            used_tracks = set()
            for box_index, track_index in pairs[order]:
                if box_index in assigned or track_index in used_tracks:
                    continue
                assigned[int(box_index)] = live[track_index]
                used_tracks.add(int(track_index))
        matched = []
        for i, box in enumerate(boxes):
            track = assigned.get(i)
            if track is None:
                track = Track(self._next_id, box.copy(), frame_index, frame_index)
                self._tracks[track.track_id] = track
                self._next_id += 1
            else:
                track.box = box.copy()
                track.last_frame = frame_index
                track.hits += 1
                track.missed = 0
            matched.append(track)
        seen = {t.track_id for t in matched}
        ended = []
        for track in list(self._tracks.values()):
            if track.track_id not in seen:
                track.missed += 1
                if track.missed > self.max_missed:
                    ended.append(self._tracks.pop(track.track_id))
        return matched, ended
