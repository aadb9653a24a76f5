"""face_recognition's functions, run by face_trigger's models (YuNet + SFace).

    import face_trigger.compat.face_recognition as face_recognition

Same names, arguments and return types as face_recognition 1.3: images are **RGB** uint8
arrays (as :func:`load_image_file` returns them), locations are ``(top, right, bottom,
left)`` tuples of ints, encodings are float64 (128,) arrays, distances are Euclidean.

What differs, on purpose:

* **tolerance.** Encodings are SFace unit vectors, not dlib's, so distances live on another
  scale. The default tolerance is :data:`DEFAULT_TOLERANCE` = sqrt(2 - 2 x MATCH_COSINE),
  about 1.122: the distance of the shipped match threshold (cosine 0.37, false match rate
  under 1e-3 on lfw_dev). face_recognition's 0.6 is a cosine of 0.82 here and misses most
  genuine pairs: do not pass it.
* Encodings saved by face_recognition (dlib) are not comparable with these.
  :func:`face_distance` refuses vectors that are not unit length (dlib's are not) instead of
  returning meaningless distances: encode the photos again.
* ``model`` ("hog"/"cnn", "small"/"large") is checked and otherwise ignored: one detector and
  one five-point landmark model serve every setting.
* ``number_of_times_to_upsample``: 0 and 1 detect on a copy of the image at most 736 px long
  (faces down to about 1/20 of the longer side); each further step doubles that side (the
  image itself is never enlarged). Raise it for small faces in large photos.
* ``num_jitters`` > 1 does not jitter at random: it averages the embeddings of the face
  aligned by landmarks found at several scales (``thresholds.STILL_SCALES``), a deterministic
  and measured gain (docs/pipeline.md); larger values cost no more than 2.
* :func:`face_landmarks` has five points, not 68: the eyes' centres, the nose tip and the
  mouth's corners, under face_recognition's keys.
* A location given to :func:`face_encodings` or :func:`face_landmarks` must hold a face that
  the detector can find again (searched around the box down to score 0.5); if not,
  :class:`~face_trigger.errors.NoFaceError` names it (dlib would return an embedding of
  whatever is there).

Models load once per process, on the first call (the module API's default pipeline).
"""
from __future__ import annotations

import math
import os
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from .. import thresholds
from .._validate import check_embeddings, check_range, off_unit
from ..boxes import iou_matrix
from ..errors import EmbeddingError, InvalidParameterError, NoFaceError
from ..image_io import read_image, to_bgr
from ..pipeline import FacePipeline, default_pipeline
from ..types import Detections

#: Distance between two unit SFace vectors whose cosine is MATCH_COSINE (see the module doc).
DEFAULT_TOLERANCE: float = math.sqrt(2.0 - 2.0 * thresholds.MATCH_COSINE)

#: A face location: (top, right, bottom, left) in pixels, ints.
Location = Tuple[int, int, int, int]

#: Score down to which a face is looked for around a location the caller gave.
_GIVEN_LOCATION_CONF = 0.5
#: Overlap at which a detection is the face at a given location (dlib's boxes are
#: squarer and tighter than YuNet's).
_GIVEN_LOCATION_IOU = 0.3


def load_image_file(file: Union[str, "os.PathLike[str]", IO[bytes]],
                    mode: str = "RGB") -> NDArray[np.uint8]:
    """An image file (path or binary file object) as uint8 RGB (H, W, 3), or gray (H, W)
    with ``mode="L"``. EXIF orientation is applied (face_recognition does not)."""
    if mode not in ("RGB", "L"):
        raise InvalidParameterError(f"mode must be 'RGB' or 'L', got {mode!r}")
    source = file.read() if hasattr(file, "read") else file
    bgr = read_image(source)
    if mode == "L":
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
    return np.ascontiguousarray(bgr[..., ::-1])


def face_locations(img: NDArray[np.uint8], number_of_times_to_upsample: int = 1,
                   model: str = "hog") -> List[Location]:
    """(top, right, bottom, left) of every face in an RGB (or gray) image, strongest first."""
    _check_model(model, ("hog", "cnn"))
    found = _pipeline().detect(_bgr(img), max_side=_detection_side(number_of_times_to_upsample))
    return [_location(box) for box in found.boxes]


def batch_face_locations(images: Sequence[NDArray[np.uint8]],
                         number_of_times_to_upsample: int = 1,
                         batch_size: int = 128) -> List[List[Location]]:
    """:func:`face_locations` of each image (face_recognition's GPU batch call; here the
    images run one after the other and ``batch_size`` is only checked)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameterError(f"batch_size must be a positive int, got {batch_size!r}")
    return [face_locations(image, number_of_times_to_upsample) for image in images]


def face_landmarks(face_image: NDArray[np.uint8],
                   face_locations: Optional[Sequence[Location]] = None,
                   model: str = "large") -> List[Dict[str, List[Tuple[int, int]]]]:
    """The five landmarks of each face, as (x, y) int tuples under face_recognition's keys.

    ``"large"`` (default): ``left_eye``, ``right_eye`` (the eye on the image's left and
    right, one centre point each), ``nose_tip``, ``top_lip`` and ``bottom_lip`` (both
    mouth corners; face_recognition's lips start and end at them). ``"small"``: the eyes
    and the nose tip, as face_recognition's small model gives. Keys with no points here
    (chin, eyebrows, nose_bridge) are absent rather than invented.
    """
    _check_model(model, ("large", "small"))
    found = _faces_at(_bgr(face_image), face_locations)
    result = []
    for points in found.landmarks:
        eye_l, eye_r, nose, mouth_l, mouth_r = [(int(round(x)), int(round(y)))
                                                for x, y in points]
        marks = {"left_eye": [eye_l], "right_eye": [eye_r], "nose_tip": [nose]}
        if model == "large":
            marks.update(top_lip=[mouth_l, mouth_r], bottom_lip=[mouth_r, mouth_l])
        result.append(marks)
    return result


def face_encodings(face_image: NDArray[np.uint8],
                   known_face_locations: Optional[Sequence[Location]] = None,
                   num_jitters: int = 1, model: str = "small") -> List[NDArray[np.float64]]:
    """A float64 (128,) unit encoding per face (in the order of ``known_face_locations``,
    or of :func:`face_locations` when they are not given)."""
    _check_model(model, ("small", "large"))
    if isinstance(num_jitters, bool) or not isinstance(num_jitters, int) or num_jitters < 1:
        raise InvalidParameterError(f"num_jitters must be an int >= 1, got {num_jitters!r}")
    image = _bgr(face_image)
    found = _faces_at(image, known_face_locations)
    scales = thresholds.STILL_SCALES if num_jitters > 1 else None
    vectors = _pipeline().embed_detections(image, found, scales=scales)
    return [row.astype(np.float64) for row in vectors]


def face_distance(face_encodings: Any, face_to_compare: Any) -> NDArray[np.float64]:
    """Euclidean distance of ``face_to_compare`` (128,) to each of ``face_encodings`` (N, 128);
    an empty array for no encodings. 0 is the same face, 2 the opposite vector.

    Raises
    ------
    EmbeddingError
        Wrong size, NaN, or a vector that is not unit length (not a face_trigger encoding:
        face_recognition's dlib encodings cannot be compared with these).
    """
    if len(face_encodings) == 0:
        return np.empty((0,), np.float64)
    known = _ours(face_encodings, "face_encodings")
    query = _ours(face_to_compare, "face_to_compare")
    if query.shape[0] != 1:
        raise EmbeddingError(f"face_to_compare must be one encoding (128,), got {query.shape}")
    return np.linalg.norm(known - query, axis=1)


def compare_faces(known_face_encodings: Any, face_encoding_to_check: Any,
                  tolerance: float = DEFAULT_TOLERANCE) -> List[bool]:
    """For each known encoding: is ``face_encoding_to_check`` within ``tolerance`` of it?

    The default (about 1.122) is the shipped match threshold; lower is stricter. It is not
    face_recognition's 0.6, which is a different model's scale (see the module doc).
    """
    check_range(tolerance, "tolerance", 0.0, 2.0)
    return [bool(d <= tolerance)
            for d in face_distance(known_face_encodings, face_encoding_to_check)]


# ---------------------------------------------------------------------------- helpers
def _pipeline() -> FacePipeline:
    return default_pipeline()


def _bgr(image: Any) -> NDArray[np.uint8]:
    """An RGB, RGBA or gray uint8 array (face_recognition's input) as BGR."""
    return to_bgr(image, channels="rgb")


def _check_model(model: str, allowed: Tuple[str, ...]) -> None:
    if model not in allowed:
        raise InvalidParameterError(f"model must be one of {', '.join(map(repr, allowed))}, "
                                    f"got {model!r}")


def _detection_side(upsample: int) -> int:
    if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 0:
        raise InvalidParameterError(
            f"number_of_times_to_upsample must be an int >= 0, got {upsample!r}")
    return int(thresholds.DETECT_MAX_SIDE * 2 ** max(0, upsample - 1))


def _location(box: NDArray[np.float32]) -> Location:
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    return y1, x2, y2, x1


def _ours(encodings: Any, name: str) -> NDArray[np.float32]:
    array = check_embeddings(encodings)
    norms = np.linalg.norm(array, axis=1)
    bad = np.flatnonzero(off_unit(norms))
    if bad.size:
        raise EmbeddingError(
            f"{name} row {bad[0]} has length {norms[bad[0]]:.3f}, not 1: not an encoding "
            "made by face_trigger (face_recognition's dlib encodings cannot be compared with "
            "SFace's; encode the photos again with this module's face_encodings)")
    return array


def _faces_at(image: NDArray[np.uint8],
              locations: Optional[Sequence[Location]]) -> Detections:
    """Detections of an image's faces, or of the faces at the given locations (in order)."""
    pipeline = _pipeline()
    if locations is None:
        return pipeline.detect(image)
    boxes = _boxes_of(locations)
    if len(boxes) == 0:
        return Detections.empty()
    everything = pipeline.detect(image)
    chosen = []
    for index, box in enumerate(boxes):
        found = _best_match(everything, box)
        if found is None:
            found = _search_around(pipeline, image, box)
        if found is None:
            raise NoFaceError(f"no face found at location {index} {tuple(locations[index])} "
                              "(top, right, bottom, left)")
        chosen.append(found)
    return Detections(np.stack([c[0] for c in chosen]), np.stack([c[1] for c in chosen]),
                      np.array([c[2] for c in chosen], np.float32))


def _boxes_of(locations: Sequence[Location]) -> NDArray[np.float32]:
    try:
        array = np.asarray(locations, np.float32).reshape(-1, 4)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError("face locations must be (top, right, bottom, left) "
                                    f"tuples of numbers: {exc}") from None
    top, right, bottom, left = array.T
    if not np.isfinite(array).all() or np.any(bottom <= top) or np.any(right <= left):
        raise InvalidParameterError("each face location must be (top, right, bottom, left) "
                                    "with bottom > top and right > left")
    return np.stack([left, top, right, bottom], axis=1)


def _best_match(found: Detections, box: NDArray[np.float32]
                ) -> Optional[Tuple[NDArray[np.float32], NDArray[np.float32], float]]:
    """(box, landmarks, score) of the detection overlapping ``box`` most, if enough."""
    if len(found) == 0:
        return None
    overlap = iou_matrix(box[None], found.boxes)[0]
    best = int(overlap.argmax())
    if overlap[best] < _GIVEN_LOCATION_IOU:
        return None
    return found.boxes[best], found.landmarks[best], float(found.scores[best])


def _search_around(pipeline: FacePipeline, image: NDArray[np.uint8], box: NDArray[np.float32]
                   ) -> Optional[Tuple[NDArray[np.float32], NDArray[np.float32], float]]:
    """The face at ``box`` looked for again in a crop around it (half its longer side on
    every side), at the crop's own size and down to a lower score (the caller says a face
    is there)."""
    return pipeline.redetect(image, box, margin=0.5, square=True, side=None,
                             conf_threshold=_GIVEN_LOCATION_CONF, min_iou=_GIVEN_LOCATION_IOU)
