"""face_recognition's functions, run by face_trigger's models (YuNet + SFace).

    import face_trigger.compat.face_recognition as face_recognition

Same names, arguments and return types as face_recognition 1.3: images are **RGB** uint8
arrays (as :func:`load_image_file` returns them), locations are ``(top, right, bottom,
left)`` tuples of ints, encodings are float64 (128,) arrays, distances float64.

What differs, on purpose (docs/coming-from.md has the measurements):

* **Distances are on face_recognition's scale.** :func:`face_distance` maps the cosine
  similarity of two SFace encodings onto the peer's distances (:mod:`.scale`, fitted on
  lfw_dev against dlib): 0 for the same encoding, growing as faces differ, so tolerances
  written for the peer keep their meaning. At every tolerance from 0.46 to 0.8 our false
  match rate is about a tenth of dlib's (0.6, the default, is the shipped match threshold,
  cosine 0.37: FMR 6.1e-4 against dlib's 5.8e-3) and the false non-match rate no higher.
  The Euclidean distance of the encodings themselves is not this distance.
* Encodings saved by face_recognition (dlib) are not comparable with these.
  :func:`face_distance` refuses vectors that are not unit length (dlib's are not) instead of
  returning meaningless distances: encode the photos again.
* ``model`` ("hog"/"cnn", "small"/"large") is checked and otherwise ignored: one detector and
  one five-point landmark model serve every setting.
* ``number_of_times_to_upsample``: 0 detects on the image at its own size, at most 736 px
  long; 1 (the default) at its own size up to 2048 px, which finds 40 px faces in a 2000 px
  photo; each further step enlarges the image twice more (up to 4096 px), for smaller faces.
  A quarter-size webcam frame is detected as it is, as before.
* ``known_face_locations``: each face is found again in a crop around its box (landmarks
  are needed to align it); the whole image is not searched. A box that holds no face the
  detector can find (down to score 0.5) raises :class:`~face_trigger.errors.NoFaceError`
  naming it (dlib would return an embedding of whatever is there).
* ``num_jitters`` > 1 does not jitter at random: it averages the embeddings of the face
  aligned by landmarks found at several scales (``thresholds.STILL_SCALES``), a deterministic
  and measured gain (docs/pipeline.md); larger values cost no more than 2.
* :func:`face_landmarks` has five points, not 68: the eyes' centres, the nose tip and the
  mouth's corners, under face_recognition's keys.

Models load once per process, on the first call (the module API's default pipeline).
"""
from __future__ import annotations

import os
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from ... import thresholds
from ..._validate import check_embeddings, check_range, off_unit
from ...boxes import iou_matrix
from ...errors import EmbeddingError, InvalidParameterError, NoFaceError
from ...image_io import decode_image, read_image_bytes, to_bgr
from ...pipeline import FacePipeline, default_pipeline
from ...types import Detections
from .face_recognition_cli import image_files_in_folder as _image_files_in_folder
from .scale import ENCODING_NORM, cosine_to_distance

#: face_recognition's default tolerance; on this module's scale it is MATCH_COSINE.
DEFAULT_TOLERANCE: float = 0.6

#: Longest side an image is enlarged to by number_of_times_to_upsample >= 2.
MAX_UPSAMPLED_SIDE = 4096

#: A face location: (top, right, bottom, left) in pixels, ints.
Location = Tuple[int, int, int, int]

#: Score down to which a face is looked for around a location the caller gave.
_GIVEN_LOCATION_CONF = 0.5
#: Side (px) a crop around a small given location is enlarged to before detection.
_MIN_CROP_SIDE = 160
#: Overlap at which a detection is the face at a given location (dlib's boxes are
#: squarer and tighter than YuNet's).
_GIVEN_LOCATION_IOU = 0.3


def load_image_file(file: Union[str, "os.PathLike[str]", IO[bytes]],
                    mode: str = "RGB") -> NDArray[np.uint8]:
    """An image file (path or binary file object) as uint8 RGB (H, W, 3), RGBA (H, W, 4)
    or gray (H, W) (``mode`` "RGB", "RGBA", "L"), pixels as stored: no EXIF rotation, as
    face_recognition (``face_trigger.read_image`` applies it)."""
    if mode not in ("RGB", "RGBA", "L"):
        raise InvalidParameterError(f"mode must be 'RGB', 'RGBA' or 'L', got {mode!r}")
    if hasattr(file, "read"):
        data, name = file.read(), str(getattr(file, "name", "image file object"))
    else:
        data, name = read_image_bytes(file), str(file)
    image = decode_image(data, name, exif=False, alpha=mode == "RGBA")
    if mode == "RGBA":
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA), np.uint8)
    if mode == "L":
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    return np.ascontiguousarray(image[..., ::-1])


def face_locations(img: NDArray[np.uint8], number_of_times_to_upsample: int = 1,
                   model: str = "hog") -> List[Location]:
    """(top, right, bottom, left) of every face in an RGB (or gray) image, strongest first."""
    _check_model(model, ("hog", "cnn"))
    return [_location(box) for box in _detect(_bgr(img), number_of_times_to_upsample).boxes]


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
    """A float64 (128,) encoding per face (in the order of ``known_face_locations``, or of
    :func:`face_locations` when they are not given): a unit SFace vector times
    ``scale.ENCODING_NORM`` (0.53), so that Euclidean distances are on face_recognition's
    scale up to 0.6 (see the module doc)."""
    _check_model(model, ("small", "large"))
    if isinstance(num_jitters, bool) or not isinstance(num_jitters, int) or num_jitters < 1:
        raise InvalidParameterError(f"num_jitters must be an int >= 1, got {num_jitters!r}")
    image = _bgr(face_image)
    found = _faces_at(image, known_face_locations)
    scales = thresholds.STILL_SCALES if num_jitters > 1 else None
    vectors = _pipeline().embed_detections(image, found, scales=scales)
    return [row.astype(np.float64) * ENCODING_NORM for row in vectors]


def face_distance(face_encodings: Any, face_to_compare: Any) -> NDArray[np.float64]:
    """Distance of ``face_to_compare`` (128,) to each of ``face_encodings`` (N, 128) on
    face_recognition's scale (float64 (N,); see the module doc): 0 for the same encoding;
    an empty array for no encodings.

    Raises
    ------
    EmbeddingError
        Wrong size, NaN, or a vector that is not unit length (not a face_trigger encoding:
        face_recognition's dlib encodings cannot be compared with these).
    """
    if len(face_encodings) == 0:
        return np.empty((0,), np.float64)
    known = _ours(face_encodings, "face_encodings").astype(np.float64)
    query = _ours(face_to_compare, "face_to_compare").astype(np.float64)
    if query.shape[0] != 1:
        raise EmbeddingError(f"face_to_compare must be one encoding (128,), got {query.shape}")
    return cosine_to_distance(known @ query[0])


def compare_faces(known_face_encodings: Any, face_encoding_to_check: Any,
                  tolerance: float = DEFAULT_TOLERANCE) -> List[bool]:
    """For each known encoding: is ``face_encoding_to_check`` within ``tolerance`` of it?
    Tolerances mean what they mean for face_recognition (lower is stricter); the default
    0.6 is the shipped match threshold."""
    check_range(tolerance, "tolerance", 0.0, 100.0)
    return [bool(d <= tolerance)
            for d in face_distance(known_face_encodings, face_encoding_to_check)]


def image_files_in_folder(folder: str) -> List[str]:
    """The .jpg, .jpeg and .png files directly in ``folder`` (face_recognition's helper of
    its command line, which its examples import)."""
    return _image_files_in_folder(folder)


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


def _detect(image: NDArray[np.uint8], upsample: int = 1) -> Detections:
    """Every face of a BGR image, face_recognition's ``number_of_times_to_upsample`` read
    as: 0, the image at its own size, at most DETECT_MAX_SIDE; 1 (the default), its own
    size, at most STILL_MAX_SIDE (60 px faces in 2000 px photos); n >= 2, enlarged
    2^(n-1) times (at most MAX_UPSAMPLED_SIDE), for faces under about 20 px."""
    if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 0:
        raise InvalidParameterError(
            f"number_of_times_to_upsample must be an int >= 0, got {upsample!r}")
    pipeline, longer = _pipeline(), max(image.shape[:2])
    if upsample <= 1:
        cap = thresholds.DETECT_MAX_SIDE if upsample == 0 else thresholds.STILL_MAX_SIDE
        return pipeline.detect(image, max_side=min(cap, longer))
    scale = min(2.0 ** (upsample - 1), MAX_UPSAMPLED_SIDE / longer)
    if scale <= 1.0:
        return pipeline.detect(image, max_side=min(longer, MAX_UPSAMPLED_SIDE))
    large = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    found = pipeline.detect(large, max_side=max(large.shape[:2]))
    return Detections(found.boxes / np.float32(scale), found.landmarks / np.float32(scale),
                      found.scores)


def _location(box: NDArray[np.float32]) -> Location:
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    return y1, x2, y2, x1


def _ours(encodings: Any, name: str) -> NDArray[np.float32]:
    """Encodings of this module (norm ENCODING_NORM) or unit SFace vectors (what it
    returned before 0.4), as unit vectors; anything else is refused."""
    array = check_embeddings(encodings)
    norms = np.linalg.norm(array, axis=1)
    bad = np.flatnonzero(off_unit(norms) & off_unit(norms / np.float32(ENCODING_NORM)))
    if bad.size:
        raise EmbeddingError(
            f"{name} row {bad[0]} has length {norms[bad[0]]:.3f}, not {ENCODING_NORM:.4f}: not "
            "an encoding made by face_trigger (face_recognition's dlib encodings cannot be "
            "compared with SFace's; encode the photos again with this module's face_encodings)")
    return (array / norms[:, None]).astype(np.float32)


def _faces_at(image: NDArray[np.uint8],
              locations: Optional[Sequence[Location]]) -> Detections:
    """Detections of an image's faces (as :func:`face_locations` at its default), or of the
    faces at the given locations (in order), each found again in a crop around its box
    (the whole image is not searched, unless it is no larger than such a crop: a webcam
    loop's quarter-size frame)."""
    if locations is None:
        return _detect(image)
    boxes = _boxes_of(locations)
    if len(boxes) == 0:
        return Detections.empty()
    whole = _detect(image) if max(image.shape[:2]) <= 2 * _MIN_CROP_SIDE else None
    chosen = []
    for index, box in enumerate(boxes):
        found = _best_match(whole, box) if whole is not None else None
        if found is None:
            found = _search_around(_pipeline(), image, box)
        if found is None:
            raise NoFaceError(f"no face found at location {index} {tuple(locations[index])} "
                              "(top, right, bottom, left)")
        chosen.append(found)
    return Detections(np.stack([c[0] for c in chosen]), np.stack([c[1] for c in chosen]),
                      np.array([c[2] for c in chosen], np.float32))


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


def _search_around(pipeline: FacePipeline, image: NDArray[np.uint8], box: NDArray[np.float32]
                   ) -> Optional[Tuple[NDArray[np.float32], NDArray[np.float32], float]]:
    """The face at ``box`` looked for again in a crop around it (half its longer side on
    every side), at the crop's own size (enlarged to MIN_CROP_SIDE when smaller) and down
    to a lower score (the caller says a face is there)."""
    crop_side = 2.0 * float(max(box[2] - box[0], box[3] - box[1]))
    return pipeline.redetect(image, box, margin=0.5, square=True,
                             side=None if crop_side >= _MIN_CROP_SIDE else _MIN_CROP_SIDE,
                             conf_threshold=_GIVEN_LOCATION_CONF, min_iou=_GIVEN_LOCATION_IOU)
