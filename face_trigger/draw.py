"""Draw detections on a copy of a frame (for demos, debugging and the CLI)."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import check_frame
from .errors import InvalidParameterError
from .types import Face

#: BGR colours of the five landmarks: right eye, left eye, nose, right mouth, left mouth.
LANDMARK_COLOURS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))
#: BGR box colours: a face, and a face identified as nobody enrolled.
FACE_COLOUR, UNKNOWN_COLOUR = (0, 200, 0), (0, 0, 220)


def draw_faces(frame: NDArray[np.uint8], faces: Iterable[Face],
               labels: Optional[Sequence[str]] = None,
               colour: tuple = FACE_COLOUR,
               colours: Optional[Sequence[tuple]] = None) -> NDArray[np.uint8]:
    """Return a copy of ``frame`` with boxes, landmarks and labels drawn.

    Parameters
    ----------
    frame : ndarray, uint8 (H, W, 3)
        BGR image; not modified.
    faces : iterable of Face
    labels : sequence of str, optional
        One text per face; defaults to the detector score.
    colour : (B, G, R)
        Box and text colour.
    colours : sequence of (B, G, R), optional
        One colour per face instead (e.g. ``UNKNOWN_COLOUR`` for strangers).

    Returns
    -------
    ndarray, uint8 (H, W, 3)
    """
    canvas = check_frame(frame).copy()
    faces = list(faces)
    if labels is not None and len(labels) != len(faces):
        raise InvalidParameterError(f"got {len(labels)} labels for {len(faces)} faces")
    if colours is not None and len(colours) != len(faces):
        raise InvalidParameterError(f"got {len(colours)} colours for {len(faces)} faces")
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    font_scale = max(0.4, max(canvas.shape[:2]) / 1500)
    for i, face in enumerate(faces):
        colour = colours[i] if colours is not None else colour
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        for point, point_colour in zip(face.landmarks, LANDMARK_COLOURS):
            centre = (int(round(point[0])), int(round(point[1])))
            cv2.circle(canvas, centre, thickness + 1, point_colour, -1, cv2.LINE_AA)
        text = labels[i] if labels is not None else f"{face.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = max(0, y1 - th - base - 2)
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(canvas, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return canvas


def side_by_side(images: Sequence[NDArray[np.uint8]], height: int = 480) -> NDArray[np.uint8]:
    """Scale BGR uint8 images to ``height`` pixels and join them left to right.

    Returns
    -------
    ndarray, uint8 (height, W, 3)
    """
    if not images:
        raise InvalidParameterError("side_by_side needs at least one image")
    if height < 1:
        raise InvalidParameterError(f"height must be positive, got {height}")
    scaled = []
    for i, image in enumerate(images):
        image = check_frame(image, f"images[{i}]")
        width = max(1, round(image.shape[1] * height / image.shape[0]))
        scaled.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    return np.concatenate(scaled, axis=1)
