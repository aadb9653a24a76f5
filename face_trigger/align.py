"""Face alignment: five landmarks -> 112x112 chip by a similarity transform.

The template is the standard ArcFace five-point layout that OpenCV's
``FaceRecognizerSF.alignCrop`` uses, so chips match OpenCV's to within one grey
level and SFace sees the geometry it was trained on.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import check_frame, check_landmarks
from .errors import InvalidLandmarksError

CHIP_SIZE = 112

#: Destination of (right eye, left eye, nose, right mouth, left mouth) in a 112x112 chip.
ARCFACE_TEMPLATE_112: NDArray[np.float32] = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
ARCFACE_TEMPLATE_112.flags.writeable = False


def similarity_matrix(landmarks: NDArray, template: NDArray = ARCFACE_TEMPLATE_112
                      ) -> NDArray[np.float64]:
    """Least-squares similarity transforms (Umeyama, 1991) from landmarks to template.

    Parameters
    ----------
    landmarks : array-like, float (N, 5, 2) or (5, 2)
        Source points in frame pixels.
    template : ndarray, float (5, 2)
        Destination points.

    Returns
    -------
    ndarray, float64 (N, 2, 3)
        Affine matrices for :func:`cv2.warpAffine` (rotation, uniform scale, shift).

    Raises
    ------
    InvalidLandmarksError
        Bad shape or values, or all five points coincide (no transform exists).
    """
    src = check_landmarks(landmarks).astype(np.float64)
    dst = np.asarray(template, dtype=np.float64)
    src_mean = src.mean(axis=1)
    dst_mean = dst.mean(axis=0)
    src_c = src - src_mean[:, None, :]
    dst_c = dst - dst_mean
    norm = (src_c ** 2).sum(axis=(1, 2))
    if np.any(norm <= 1e-12 * src.shape[1]):
        raise InvalidLandmarksError("landmarks are degenerate: all five points coincide")
    # Umeyama's solution for a 2-D similarity without reflection, in closed form: the
    # linear part is [[a, -b], [b, a]] with a = sum(x . y) / |x|^2 and
    # b = sum(x cross y) / |x|^2 over the centred points (no SVD per face).
    a = np.einsum("npi,pi->n", src_c, dst_c) / norm
    b = (src_c[:, :, 0] @ dst_c[:, 1] - src_c[:, :, 1] @ dst_c[:, 0]) / norm
    linear = np.stack([np.stack([a, -b], axis=1), np.stack([b, a], axis=1)], axis=1)
    shift = dst_mean[None, :] - np.einsum("nij,nj->ni", linear, src_mean)
    return np.concatenate([linear, shift[:, :, None]], axis=2)


def align_faces(frames: Sequence[NDArray[np.uint8]] | NDArray[np.uint8],
                landmarks: NDArray) -> NDArray[np.uint8]:
    """Cut aligned 112x112 chips out of frames.

    Parameters
    ----------
    frames : ndarray uint8 (H, W, 3) or sequence of them
        One frame shared by all faces, or one frame per landmark set.
    landmarks : array-like, float (N, 5, 2) or (5, 2)
        Five landmarks per face in the pixels of its frame.

    Returns
    -------
    ndarray, uint8 (N, 112, 112, 3)
        BGR chips (bilinear interpolation, black border).

    Raises
    ------
    InvalidImageError, InvalidLandmarksError
        Bad frames or landmarks, or a frame count that differs from N.
    """
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        frame_list = None
        single = check_frame(frames)
        points = check_landmarks(landmarks)
    else:
        frame_list = [check_frame(f, f"frames[{i}]") for i, f in enumerate(frames)]
        points = check_landmarks(landmarks, count=len(frame_list))
    sizes = (np.array([single.shape[1::-1]], np.float32) if frame_list is None else
             np.array([f.shape[1::-1] for f in frame_list], np.float32))
    _check_inside(points, sizes)
    matrices = similarity_matrix(points)
    chips = np.empty((points.shape[0], CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    for i, matrix in enumerate(matrices):
        source = single if frame_list is None else frame_list[i]
        cv2.warpAffine(source, matrix, (CHIP_SIZE, CHIP_SIZE), dst=chips[i],
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return chips


def _check_inside(points: NDArray[np.float32], sizes: NDArray[np.float32]) -> None:
    """Refuse landmarks whose centre lies further outside the frame than the face is wide:
    the chip would be black, and its embedding garbage. A face cut by the frame's edge
    (centre inside, or just outside) is kept. ``sizes``: (width, height) per face, or one
    row for all."""
    centres = points.mean(axis=1)
    spread = np.maximum(np.ptp(points, axis=1).max(axis=1), 1.0)[:, None]
    outside = np.any((centres < -spread) | (centres > sizes + spread), axis=1)
    if outside.any():
        index = int(np.flatnonzero(outside)[0])
        width, height = (int(v) for v in sizes[min(index, len(sizes) - 1)])
        raise InvalidLandmarksError(
            f"landmark set {index} lies outside the {width}x{height} frame (centre "
            f"{centres[index, 0]:.0f}, {centres[index, 1]:.0f}): nothing of the face would be "
            "aligned")
