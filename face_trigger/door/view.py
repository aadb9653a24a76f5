"""What the door sees, drawn (``watch --save-video``): every face in view with its track id,
the person it was decided to be (or "?" while undecided) and its best similarity, in the
colour of its decision."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from ..draw import FACE_COLOUR, UNKNOWN_COLOUR, draw_boxes
from ..errors import ConfigError
from ..types import UNKNOWN
from .decision import IDENTIFIED, NOT_LIVE

#: BGR box colour of each decision (None: undecided).
DECISION_COLOURS = {IDENTIFIED: FACE_COLOUR, UNKNOWN: UNKNOWN_COLOUR,
                    NOT_LIVE: (0, 140, 255), None: (0, 200, 220)}
#: Codec of each video container written.
_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def door_view(image: NDArray[np.uint8], trigger: Any) -> NDArray[np.uint8]:
    """A copy of ``image`` with the faces of ``trigger``'s latest detection drawn."""
    boxes, labels, colours = [], [], []
    for track in trigger.tracker.tracks:
        if track.missed:
            continue
        state = trigger.decider.state(track.track_id)
        decision = state.decision if state.decision in DECISION_COLOURS else None
        person = state.person if decision in (IDENTIFIED, NOT_LIVE) else (
            UNKNOWN if decision else "?")
        seen = [o.similarity for o in state.observations if person in (o.name, "?", UNKNOWN)]
        labels.append(f"#{track.track_id} {person}" + (f" {max(seen):.2f}" if seen else ""))
        boxes.append(track.box)
        colours.append(DECISION_COLOURS[decision])
    return draw_boxes(image.copy(), boxes, labels, colours)


class VideoRecorder:
    """Writes frames to a video file (.mp4, .avi or .mkv), opened at the first frame's size."""

    def __init__(self, path: Union[str, os.PathLike], fps: float = 25.0) -> None:
        self.path = Path(path)
        codec = _CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise ConfigError(f"--save-video {path}: write a .mp4, .avi or .mkv file")
        self.fps, self._codec = float(fps), codec
        self._writer: Optional[cv2.VideoWriter] = None
        self.frames = 0

    def write(self, image: NDArray[np.uint8]) -> None:
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*self._codec),
                                           self.fps, (image.shape[1], image.shape[0]))
            if not self._writer.isOpened():
                raise OSError(f"OpenCV cannot write the video {self.path}")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
