"""Face quality: what makes one sighting of a face worth embedding (size, sharpness, yaw)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceQuality:
    """What makes one sighting of a face worth embedding: size, sharpness, yaw."""

    width: float
    sharpness: float = float("inf")
    yaw: float = 0.0


def face_quality(frame: "np.ndarray", box: "np.ndarray", landmarks: "np.ndarray") -> FaceQuality:
    """Width (px), sharpness (Laplacian variance at 64 px wide) and yaw proxy of a face."""
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


def quality_flags(quality: FaceQuality, *, min_face_px: float, max_yaw: float,
                  min_sharpness: float) -> List[Tuple[str, str]]:
    """What keeps a sighting from being embedded or enrolled, as (flag, detail) pairs in
    the order "too_small", "turned", "blurred"; [] when it passes every gate."""
    flags = []
    if quality.width < min_face_px:
        flags.append(("too_small", f"face {quality.width:.0f} px < {min_face_px:.0f}"))
    if quality.yaw > max_yaw:
        flags.append(("turned", f"yaw {quality.yaw:.2f} > {max_yaw}"))
    if quality.sharpness < min_sharpness:
        flags.append(("blurred", f"sharpness {quality.sharpness:.0f} < {min_sharpness:.0f}"))
    return flags
