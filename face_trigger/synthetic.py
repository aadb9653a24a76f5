"""Build test frames from photos: the inputs of the tests, benchmarks and demos.

Real faces, synthetic layouts: a photo scaled onto a full-HD canvas, or several
face crops pasted at chosen sizes and places.
"""
from __future__ import annotations

from typing import Iterable, Tuple

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import check_frame

FULL_HD = (1920, 1080)


def full_hd_frame(image: NDArray[np.uint8], size: Tuple[int, int] = FULL_HD) -> NDArray[np.uint8]:
    """``image`` scaled to the canvas height and centred on a black (width, height) canvas.

    With the default size and ``obama.jpg`` this is the standard latency input.

    Returns
    -------
    ndarray, uint8 (height, width, 3)
    """
    image = check_frame(image, "image")
    width, height = size
    factor = height / image.shape[0]
    scaled = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    used = min(width, scaled.shape[1])
    x0 = (width - used) // 2
    src0 = (scaled.shape[1] - used) // 2
    canvas[:, x0:x0 + used] = scaled[:height, src0:src0 + used]
    return canvas


def crop_around(image: NDArray[np.uint8], box: NDArray, margin: float = 0.6) -> NDArray[np.uint8]:
    """Copy of the region of ``box`` (x1, y1, x2, y2) grown by ``margin`` x its size per side."""
    image = check_frame(image, "image")
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    left, top = int(max(0, x1 - margin * w)), int(max(0, y1 - margin * h))
    right = int(min(image.shape[1], x2 + margin * w))
    bottom = int(min(image.shape[0], y2 + margin * h))
    return np.ascontiguousarray(image[top:bottom, left:right])


def paste_faces(size: Tuple[int, int],
                items: Iterable[Tuple[NDArray[np.uint8], int, int, float]],
                background: int = 40) -> NDArray[np.uint8]:
    """A (width, height) frame with scaled crops pasted on a flat grey background.

    Parameters
    ----------
    size : (width, height)
    items : iterable of (crop, x, y, scale)
        Each crop is resized by ``scale`` and its top-left corner put at (x, y);
        what falls outside the frame is cut off.

    Returns
    -------
    ndarray, uint8 (height, width, 3)
    """
    width, height = size
    canvas = np.full((height, width, 3), background, np.uint8)
    for crop, x, y, scale in items:
        crop = check_frame(crop, "crop")
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation)
        h = min(small.shape[0], height - y)
        w = min(small.shape[1], width - x)
        if h > 0 and w > 0:
            canvas[y:y + h, x:x + w] = small[:h, :w]
    return canvas
