"""face_recognition's distance scale for SFace encodings, so that a tolerance written for
the peer (0.6, 0.5...) keeps its meaning.

The encodings of this module are unit SFace vectors times ENCODING_NORM: their Euclidean
distance is 0.6 at the shipped match threshold (MATCH_COSINE), where dlib's default is,
and below it follows dlib's genuine pairs closely (lfw_dev: FNMR 0.200 / 0.036 at 0.5 /
0.55, dlib 0.221 / 0.057), so code that measures distances itself (a scikit-learn KNN with
``distance_threshold=0.6``) works. Above 0.6 the Euclidean distance of SFace encodings
would crowd every stranger near 0.76, so :func:`cosine_to_distance` continues along knots
matched on false match rates instead (``thresholds.PEER_DISTANCE_KNOTS``: a tenth of
dlib's at each tolerance up to 0.8). Chosen by ``benchmarks/compat_distance_lfw.py``.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ... import thresholds

#: Norm of the encodings: Euclidean distance 0.6 at MATCH_COSINE (about 0.5345).
ENCODING_NORM: float = 0.6 / math.sqrt(2.0 - 2.0 * thresholds.MATCH_COSINE)
#: Cosines this close to 1 are the same encoding (float32 rounding of a unit vector).
SAME_FACE_EPS = 1e-6
#: Distance of opposite encodings (cosine -1), the end of the scale.
MAX_DISTANCE = 1.4

Knots = Sequence[Tuple[float, float]]


def cosine_to_distance(cosine: ArrayLike, knots: Knots = thresholds.PEER_DISTANCE_KNOTS
                       ) -> NDArray[np.float64]:
    """float64 distances, strictly decreasing in the cosine: the Euclidean distance of the
    encodings down to the first knot (MATCH_COSINE, 0.6), then piecewise linear through
    the knots ``(cosine, distance)`` to MAX_DISTANCE at cosine -1; 0 at cosine 1 (and
    within float32 rounding of it: the same encoding is at distance 0)."""
    c = np.clip(np.asarray(cosine, np.float64), -1.0, 1.0)
    c = np.where(c > 1.0 - SAME_FACE_EPS, 1.0, c)
    near = ENCODING_NORM * np.sqrt(np.maximum(2.0 - 2.0 * c, 0.0))
    cosines = np.array([-1.0] + [k for k, _ in reversed(knots)])
    distances = np.array([MAX_DISTANCE] + [d for _, d in reversed(knots)])
    return np.where(c >= knots[0][0], near, np.interp(c, cosines, distances))


def distance_to_cosine(distance: float, knots: Knots = thresholds.PEER_DISTANCE_KNOTS
                       ) -> float:
    """The cosine similarity at which ``distance`` is reached (the inverse map; past
    MAX_DISTANCE, cosine -1)."""
    d = min(max(float(distance), 0.0), MAX_DISTANCE)
    if d <= knots[0][1]:
        return 1.0 - (d / ENCODING_NORM) ** 2 / 2.0
    return float(np.interp(d, [k for _, k in knots] + [MAX_DISTANCE],
                           [c for c, _ in knots] + [-1.0]))
