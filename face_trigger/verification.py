"""1:1 verification: is this the same person? Similarity, match probability, verify()."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from . import thresholds
from ._validate import check_range
from .calibration import MatchCalibration, default_calibration
from .errors import EmbeddingError, NoFaceError
from .faceprint import Faceprint, check_same_model, check_unit_vector
from .image_io import ImageSource, read_image
from .pipeline import FacePipeline, default_pipeline, largest_face
from .types import Face

Vector = Union[Faceprint, NDArray[np.float32]]


def similarity(a: Vector, b: Vector) -> float:
    """Cosine similarity of two faceprints (same model required) or two unit vectors
    (dim,) of one size.

    Raises
    ------
    EmbeddingError
        Faceprints of different models; vectors that are not finite unit floats of one size.
    """
    if isinstance(a, Faceprint) and isinstance(b, Faceprint):
        return a.similarity(b)
    if isinstance(a, Faceprint) or isinstance(b, Faceprint):
        raise EmbeddingError("compare a faceprint with a faceprint (its model is checked), "
                             "or two plain unit vectors")
    first = check_unit_vector(a)
    return float(np.dot(first, check_unit_vector(b, first.shape[0])))


def similarities(query: Vector, gallery: Any) -> NDArray[np.float32]:
    """Cosine similarity of one unit vector (dim,) against many unit rows (N, dim): one
    matmul."""
    vector = query.vector if isinstance(query, Faceprint) else check_unit_vector(query)
    matrix = np.asarray(gallery, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != vector.shape[0]:
        raise EmbeddingError(f"gallery must have shape (N, {vector.shape[0]}), got {matrix.shape}")
    return matrix @ vector


def compare(a: Vector, b: Vector,
            calibration: Optional[MatchCalibration] = None) -> Tuple[float, float]:
    """``(match_probability, similarity)`` of two faces (seed SDK order).

    The probability comes from ``calibration`` (default: the shipped lfw_dev fit).
    """
    if isinstance(a, Faceprint) and isinstance(b, Faceprint):
        check_same_model(a, b)
    calibration = calibration if calibration is not None else default_calibration()
    _check_calibration_model(calibration, a, b)
    value = similarity(a, b)
    return float(calibration.probability(value)), value


def _check_calibration_model(calibration: MatchCalibration, *prints: Any) -> None:
    for item in prints:
        if isinstance(item, Faceprint) and item.model != calibration.model:
            raise EmbeddingError(f"the calibration is for {calibration.model!r}, the faceprint "
                                 f"comes from {item.model!r}")


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`.

    Attributes
    ----------
    verified : bool
        ``similarity >= threshold``.
    similarity : float
        Cosine similarity of the two largest faces (NaN in a soft result without a face).
    threshold : float
    match_probability : float
    boxes : (box1, box2)
        float32 (4,) x1, y1, x2, y2 of the faces used, ``None`` where none was found.
    model : str
        Embedder identity.
    detail : str
        Why a soft result is not verified (which image had no face), else "".
    """

    verified: bool
    similarity: float
    threshold: float
    match_probability: float
    boxes: Tuple[Optional[NDArray[np.float32]], Optional[NDArray[np.float32]]]
    model: str
    detail: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: plain floats and lists (a similarity that is NaN becomes None)."""
        similarity = None if not np.isfinite(self.similarity) else round(self.similarity, 4)
        return {"verified": bool(self.verified), "similarity": similarity,
                "threshold": float(self.threshold),
                "match_probability": round(float(self.match_probability), 4),
                "boxes": [None if b is None else [round(float(v), 1) for v in b]
                          for b in self.boxes],
                "model": self.model, "detail": self.detail}


def verify(img1: ImageSource, img2: ImageSource, *, pipeline: Optional[FacePipeline] = None,
           threshold: float = thresholds.MATCH_COSINE,
           calibration: Optional[MatchCalibration] = None, soft: bool = False,
           channels: str = "bgr",
           scales: Optional[Sequence[Optional[int]]] = thresholds.STILL_SCALES) -> VerifyResult:
    """Are the largest faces of two images the same person?

    Parameters
    ----------
    img1, img2 : path, bytes, uint8 array or PIL image
        Arrays are BGR unless ``channels="rgb"`` (see :func:`read_image`).
    pipeline : FacePipeline, optional
        Default: the process-wide pipeline of the module API (models load once).
    threshold : float
        Cosine similarity for "same person" (default MATCH_COSINE, FMR about 1e-3).
    calibration : MatchCalibration, optional
        Source of the match probability (default: the shipped one).
    soft : bool
        Return an unverified result instead of raising when an image has no face.
    scales : optional
        Each face's embedding averages landmarks found at these sides
        (``FacePipeline.analyze``); the default ``STILL_SCALES`` is steadier and about
        1.6x slower; ``None`` embeds once, as video frames are.

    Raises
    ------
    InvalidParameterError
        ``threshold`` outside [0, 1] (NaN included).
    NoFaceError
        An image has no face (the message names its file, or ``img1`` / ``img2`` for
        bytes and arrays), unless ``soft``.
    ImageReadError, InvalidImageError
        An image cannot be read.
    """
    threshold = check_range(threshold, "threshold", 0.0, 1.0)  # -1 or NaN: everyone or nobody
    pipeline = pipeline if pipeline is not None else default_pipeline()
    calibration = calibration if calibration is not None else default_calibration()
    faces: List[Optional[Face]] = []
    for image in (img1, img2):
        found = pipeline.analyze(read_image(image, channels=channels), scales=scales)
        faces.append(largest_face(found) if found else None)
    first, second = faces
    boxes = (None if first is None else np.array(first.box),
             None if second is None else np.array(second.box))
    missing = [str(image) if isinstance(image, (str, os.PathLike)) else name
               for name, image, f in zip(("img1", "img2"), (img1, img2), faces) if f is None]
    if first is None or second is None:
        message = f"no face found in {' and '.join(missing)}"
        if not soft:
            raise NoFaceError(message)
        return VerifyResult(False, float("nan"), threshold, 0.0, boxes, pipeline.model.id,
                            message)
    a = Faceprint(first.vector, pipeline.model.id)
    b = Faceprint(second.vector, pipeline.model.id)
    probability, value = compare(a, b, calibration)
    return VerifyResult(value >= threshold, value, threshold, probability, boxes,
                        pipeline.model.id)
