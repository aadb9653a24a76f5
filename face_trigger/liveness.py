"""Liveness (presentation-attack) check: is a face a live person, or a photo or a screen held
up to the camera? Two MiniFASNet classifiers (Minivision's Silent-Face-Anti-Spoofing,
Apache-2.0), each on its own crop around the face box, their softmax averaged as the original
project does. See docs/liveness.md for what was measured and what this does not stop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from . import thresholds
from ._validate import bgr_frame, check_range
from .engines import Net, open_net, resolve_engine
from .errors import InvalidParameterError
from .types import ModelInfo

#: (model role, crop scale x the face box) of the two classifiers, as the original names them.
LIVENESS_MODELS: Tuple[Tuple[str, float], ...] = (("liveness_v2", 2.7), ("liveness_v1se", 4.0))
#: Side of the square input of both classifiers.
INPUT_SIDE = 80
#: Index of the "live" class in the classifiers' three outputs (0 print, 2 replay).
LIVE_CLASS = 1


@dataclass(frozen=True)
class LivenessResult:
    """Liveness of the N faces of one frame.

    Attributes
    ----------
    probability : ndarray, float32 (N,)
        Live probability in [0, 1]: the mean of the two models' softmax "live" entries.
    live : ndarray, bool (N,)
        ``probability >= threshold``.
    threshold : float
    """

    probability: NDArray[np.float32]
    live: NDArray[np.bool_]
    threshold: float

    def __len__(self) -> int:
        return int(self.probability.shape[0])


class LivenessChecker:
    """Live probability of faces given by their boxes (from :class:`YuNetDetector`).

    Parameters
    ----------
    threshold : float
        Live probability at or above which a face is live (``thresholds.LIVE_PROBABILITY``,
        chosen on real faces: docs/liveness.md).
    box_scale : float
        YuNet's box is grown by this about its centre before the original crop rule
        (``thresholds.LIVENESS_BOX_SCALE``; the original project's detector draws wider
        boxes).
    model_dir : path, optional
        Folder holding both MiniFASNet files; default the bundled, checksum-verified ones.
    engine : {"auto", "opencv", "openvino"}
        Runtime (:mod:`face_trigger.engines`).

    Notes
    -----
    A web photo is not a camera frame: small, recompressed and tightly cropped real faces
    are called spoof more often (docs/liveness.md). One forward pass per model for all the
    faces of a call; one forward pass at a time per net (its lock). Pickles as the model
    files and their hashes.
    """

    def __init__(self, *, threshold: float = thresholds.LIVE_PROBABILITY,
                 box_scale: float = thresholds.LIVENESS_BOX_SCALE,
                 model_dir: Union[str, os.PathLike, None] = None, engine: str = "auto") -> None:
        self.threshold = check_range(threshold, "threshold", 0.0, 1.0)
        self.box_scale = check_range(box_scale, "box_scale", 0.5, 3.0)
        self.engine = resolve_engine(engine)
        self.models: List[ModelInfo] = []
        self._nets: List[Net] = []
        self._scales: List[float] = []
        for role, scale in LIVENESS_MODELS:
            net, info = open_net(role, model_dir, None, self.engine, dynamic=(0,))
            self.models.append(info)
            self._scales.append(scale)
            self._nets.append(net)

    def check(self, frame: NDArray[np.uint8], boxes: Any, *,
              channels: str = "bgr") -> LivenessResult:
        """Live probability and decision for each face box of a frame.

        Parameters
        ----------
        frame : ndarray, uint8 (H, W, 3)
            The whole frame (BGR, or RGB with ``channels="rgb"``): the crops reach far
            beyond the face, and a frame's edge and background are part of the evidence.
        boxes : array-like float (N, 4) or (4,)
            x1, y1, x2, y2 in frame pixels (``Detections.boxes``).

        Raises
        ------
        InvalidImageError
            Bad frame.
        InvalidParameterError
            Boxes of the wrong shape, not finite, empty or outside the frame.
        """
        frame = bgr_frame(frame, "frame", channels)
        boxes = _check_boxes(boxes, frame.shape)
        if len(boxes) == 0:
            return LivenessResult(np.zeros(0, np.float32), np.zeros(0, bool), self.threshold)
        total = np.zeros((len(boxes), 3), np.float32)
        for net, scale in zip(self._nets, self._scales):
            crops = np.stack([original_crop(frame, box, scale * self.box_scale)
                              for box in boxes])
            blob = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), np.float32)
            total += _softmax(net.infer(blob)[0].reshape(len(blob), 3))
        probability = (total[:, LIVE_CLASS] / len(self._nets)).astype(np.float32)
        return LivenessResult(probability, probability >= self.threshold, self.threshold)


def original_crop(frame: NDArray[np.uint8], box: NDArray[np.float32],
                  scale: float) -> NDArray[np.uint8]:
    """The original project's crop, resized to uint8 (80, 80, 3): a window of ``scale`` x the
    box (less if the frame is too small), centred on the box and shifted back inside the
    frame where it would leave it."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    box_w, box_h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    scale = min(scale, (height - 1) / box_h, (width - 1) / box_w)
    win_w, win_h = box_w * scale, box_h * scale
    cx, cy = x1 + box_w / 2, y1 + box_h / 2
    left, top = cx - win_w / 2, cy - win_h / 2
    right, bottom = cx + win_w / 2, cy + win_h / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), width - 1.0
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), height - 1.0
    window = frame[int(top):int(bottom) + 1, int(left):int(right) + 1]
    return np.asarray(cv2.resize(window, (INPUT_SIDE, INPUT_SIDE)), np.uint8)


def _softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def _check_boxes(boxes: Any, shape: Tuple[int, ...]) -> NDArray[np.float32]:
    try:
        array = np.asarray(boxes, np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"boxes must be numbers (N, 4): {exc}") from None
    if array.shape == (4,):
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise InvalidParameterError(f"boxes must have shape (N, 4), got {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidParameterError("boxes contain NaN or infinite values")
    height, width = shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(array):
        if x2 <= x1 or y2 <= y1:
            raise InvalidParameterError(f"box {i} is empty: {[x1, y1, x2, y2]}")
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise InvalidParameterError(f"box {i} {[x1, y1, x2, y2]} lies outside the "
                                        f"{width}x{height} frame")
    return array
