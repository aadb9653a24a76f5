"""IoUTracker: give faces stable track ids across video frames by box overlap; box jumps
and picture cuts, after which a track may hold another face."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ..boxes import iou_matrix
from ..errors import InvalidParameterError


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
    previous_box : ndarray float32 (4,) or None
        The box at the detection before the latest one (None for a new track).
    """

    track_id: int
    box: NDArray[np.float32]
    first_frame: int
    last_frame: int
    hits: int = 1
    missed: int = 0
    previous_box: Optional[NDArray[np.float32]] = None

    @property
    def age(self) -> int:
        """Frames since the track started."""
        return self.last_frame - self.first_frame + 1 + self.missed


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
            raise InvalidParameterError(f"min_iou must be in (0, 1], got {min_iou}")
        if max_missed < 0:
            raise InvalidParameterError(f"max_missed must be >= 0, got {max_missed}")
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
                track.previous_box = track.box
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

    def restart(self, track: Track, frame_index: int) -> Track:
        """End ``track`` and start a new track (a new id, nothing carried over) on its
        latest box: its face may belong to someone else than the track's history."""
        self._tracks.pop(track.track_id, None)
        new = Track(self._next_id, track.box.copy(), frame_index, frame_index)
        self._tracks[new.track_id] = new
        self._next_id += 1
        return new


def box_jumped(previous: NDArray, box: NDArray, max_shift: float, max_resize: float) -> bool:
    """Whether a face box moved by more than ``max_shift`` face widths (centre to centre)
    or changed its width by more than the factor ``max_resize`` (either way)."""
    px1, py1, px2, py2 = (float(v) for v in previous)
    x1, y1, x2, y2 = (float(v) for v in box)
    width = max(px2 - px1, 1e-6)
    shift = np.hypot((x1 + x2 - px1 - px2) / 2, (y1 + y2 - py1 - py2) / 2) / width
    ratio = max(x2 - x1, 1e-6) / width
    return bool(shift > max_shift or not 1 / max_resize <= ratio <= max_resize)


class CutDetector:
    """Notice an abrupt change of the whole picture: an edit cut, a camera switched or
    knocked, the lights.

    Each frame is reduced to a 32x18 grey thumbnail; the change between two frames is
    the larger of the histogram distance (half the L1 distance of 16-bin grey
    histograms, 0-1) and the mean absolute thumbnail difference (0-1). About 0.2 ms
    per 640x360 frame on this 2-core machine.

    Parameters
    ----------
    threshold : float
        Change (0-1) above which :meth:`update` reports a cut. Lower values also flag
        large motion close to the camera (harmless: it only costs re-verification).
    """

    SIZE = (32, 18)

    def __init__(self, threshold: float) -> None:
        if not 0 < threshold <= 1:
            raise InvalidParameterError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = float(threshold)
        self._previous: Optional[Tuple[NDArray[np.float32], NDArray[np.float32]]] = None

    def reset(self) -> None:
        """Forget the previous frame (between videos)."""
        self._previous = None

    def change(self, frame: NDArray[np.uint8]) -> float:
        """Change (0-1) between ``frame`` (BGR uint8) and the frame given before it; 0 for
        the first frame. ``frame`` becomes the new reference."""
        import cv2  # noqa: PLC0415 - tracking stays importable without OpenCV

        gray = cv2.cvtColor(cv2.resize(frame, self.SIZE, interpolation=cv2.INTER_AREA),
                            cv2.COLOR_BGR2GRAY).astype(np.float32)
        hist = (np.bincount((gray // 16).astype(np.intp).ravel(), minlength=16)
                / np.float32(gray.size)).astype(np.float32)
        previous, self._previous = self._previous, (gray, hist)
        if previous is None:
            return 0.0
        histogram_distance = 0.5 * float(np.abs(hist - previous[1]).sum())
        difference = float(np.abs(gray - previous[0]).mean()) / 255.0
        return max(histogram_distance, difference)

    def update(self, frame: NDArray[np.uint8]) -> bool:
        """True when ``frame`` is a cut from the previous frame."""
        return self.change(frame) > self.threshold
