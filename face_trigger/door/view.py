"""What the door sees, drawn (``watch --save-video``, ``--show``): every face in view with
its track id, the person it was decided to be (or "?" while undecided) and its best
similarity, in the colour of its decision."""
from __future__ import annotations

import os
import sys
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
    """Writes BGR uint8 frames to a video file (.mp4, .avi or .mkv), opened at the first
    frame's size and ``fps`` (settable until then). The frames go to a hidden file beside
    ``path`` that replaces it at :meth:`close`: a reader never sees half a video."""

    def __init__(self, path: Union[str, os.PathLike], fps: float = 25.0) -> None:
        self.path = Path(path)
        codec = _CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise ConfigError(f"{path}: write a .mp4, .avi or .mkv video")
        self.fps, self._codec = float(fps), codec
        self._partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer: Optional[cv2.VideoWriter] = None
        self.frames = 0

    def write(self, image: NDArray[np.uint8]) -> None:
        if self._writer is None:
            fps = self.fps if 0 < self.fps <= 1000 else 25.0  # a file may not know its rate
            self._writer = cv2.VideoWriter(str(self._partial),
                                           cv2.VideoWriter.fourcc(*self._codec), fps,
                                           (image.shape[1], image.shape[0]))
            if not self._writer.isOpened():
                raise OSError(f"OpenCV cannot write the video {self.path}")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and put it in place (nothing is written without a frame)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self._partial, self.path)


def display_problem() -> Optional[str]:
    """Why no window can be shown here (no display, or an OpenCV build without window
    support, as the headless wheel this package installs), or None."""
    gui = next((line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
                if line.strip().startswith("GUI:")), "")
    if gui.upper() in ("", "NONE"):
        return ("this OpenCV build has no window support (the -headless wheel): install "
                "opencv-contrib-python in its place to use --show")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


class Window:
    """An OpenCV window showing what the door sees (``watch --show``); q or Esc in it asks
    the door to stop. ConfigError at creation when no window can be shown here."""

    def __init__(self, title: str) -> None:
        problem = display_problem()
        if problem is not None:
            raise ConfigError(f"--show: {problem}; --save-video FILE records what the door "
                              f"sees instead")
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise ConfigError(f"--show: OpenCV could not open a window ({exc}); "
                              f"--save-video FILE records what the door sees instead") from exc

    def show(self, image: NDArray[np.uint8]) -> bool:
        """Draw ``image`` (BGR uint8); False when q or Esc was pressed."""
        cv2.imshow(self.title, image)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:  # already closed by the user
            pass
