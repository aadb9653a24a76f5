"""Draw detections on a copy of a frame (for demos, debugging and the CLI)."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

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
    radius = _thickness(canvas) + 1
    for face in faces:
        for point, point_colour in zip(face.landmarks, LANDMARK_COLOURS):
            centre = (int(round(point[0])), int(round(point[1])))
            cv2.circle(canvas, centre, radius, point_colour, -1, cv2.LINE_AA)
    draw_boxes(canvas, [f.box for f in faces],
               labels if labels is not None else [f"{f.score:.2f}" for f in faces],
               colours if colours is not None else [colour] * len(faces))
    return canvas


def draw_boxes(canvas: NDArray[np.uint8], boxes: Sequence[Any], labels: Sequence[str],
               colours: Sequence[tuple]) -> NDArray[np.uint8]:
    """Draw boxes (x1, y1, x2, y2) with a label each on ``canvas`` itself (BGR uint8),
    the labels kept inside the image; returns ``canvas``."""
    thickness = _thickness(canvas)
    font_scale = max(0.4, max(canvas.shape[:2]) / 1500)
    height, width = canvas.shape[:2]
    for box, text, colour in zip(boxes, labels, colours):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        left = max(0, min(x1, width - tw - 2))
        top = max(0, min(y1 - th - base - 2, height - th - base - 2))
        cv2.rectangle(canvas, (left, top), (left + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(canvas, text, (left + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return canvas


def _thickness(canvas: NDArray[np.uint8]) -> int:
    return max(1, round(max(canvas.shape[:2]) / 400))


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
