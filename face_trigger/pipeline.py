"""One-call face analysis: detect -> align -> embed, batched across faces and frames."""
from __future__ import annotations

import os
import threading
from typing import Any, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from . import thresholds
from ._validate import bgr_frame, bgr_frames, check_side
from .align import align_faces
from .boxes import iou_matrix
from .detector import YuNetDetector
from .embedder import Embedder, SFaceEmbedder, embed_with_norms
from .errors import InvalidParameterError, NoFaceError
from .faceprint import Faceprint
from .image_io import margin_window, read_image
from .liveness import LivenessChecker
from .types import Detections, Face, ModelInfo

PathArg = Union[str, os.PathLike, None]


#: Margin (x the face's size, per side) of the cut-out a still's face is found again in.
_STILL_MARGIN = 0.6


class FacePipeline:
    """Detector + aligner + embedder, the stages every other feature builds on.

    Parameters
    ----------
    detector : YuNetDetector, optional
        Built with defaults (bundled model, 736 px detection side) when omitted.
    embedder : Embedder, optional
        Anything with ``model``, ``dim`` and ``embed_chips`` (an :class:`OnnxEmbedder` for
        a model of your own); the bundled SFace model when omitted.
    engine : {"auto", "opencv", "openvino"}
        Runtime of the nets built here (:mod:`face_trigger.engines`); "auto" = OpenVINO
        when the ``[openvino]`` extra is installed.
    liveness : bool or LivenessChecker
        ``True`` (or a checker) adds a liveness probability to every analysed face
        (``Face.live``; docs/liveness.md). Off by default.

    Notes
    -----
    Frames are BGR (OpenCV's order) unless a call is given ``channels="rgb"``; an RGB
    frame read as BGR is still found and embedded, but about 0.1 lower in cosine
    similarity to its own BGR self, so pass the order your arrays are in.

    Thread safety: safe to share; each net is guarded by its own lock, so
    concurrent calls give the same results as serial ones but do not run their
    forward passes in parallel. For throughput, one pipeline per worker.

    Examples
    --------
    >>> pipeline = FacePipeline()
    >>> boxes, embeddings = pipeline.detect_embedding(read_image("tests/data/obama.jpg"))
    >>> boxes.shape, embeddings.shape
    ((1, 4), (1, 128))
    """

    def __init__(self, detector: Optional[YuNetDetector] = None,
                 embedder: Optional[Embedder] = None, *, engine: str = "auto",
                 liveness: Union[bool, LivenessChecker] = False) -> None:
        if embedder is not None and not isinstance(embedder, Embedder):
            raise InvalidParameterError(f"embedder must have model, dim and embed_chips, got "
                                        f"{type(embedder).__name__}")
        self.detector = detector if detector is not None else YuNetDetector(engine=engine)
        self.embedder: Embedder = (embedder if embedder is not None
                                   else SFaceEmbedder(engine=engine))
        self.liveness: Optional[LivenessChecker] = (
            liveness if isinstance(liveness, LivenessChecker)
            else LivenessChecker(engine=engine) if liveness else None)

    @property
    def model(self) -> ModelInfo:
        """Identity of the embedder model (what embeddings are comparable by)."""
        return self.embedder.model

    @property
    def dim(self) -> int:
        """Embedding size (128 for the bundled SFace model)."""
        return int(self.embedder.dim)

    @property
    def engine(self) -> str:
        """The runtime of the detector ("opencv" or "openvino")."""
        return self.detector.engine

    def detect(self, frame: Any, **overrides: Any) -> Detections:
        """Detections for one image: an array (BGR, or RGB with ``channels="rgb"``), a path,
        bytes or a PIL image (see :meth:`YuNetDetector.detect` for the overrides)."""
        channels = overrides.pop("channels", "bgr")
        return self.detector.detect(as_frame(frame, channels), **overrides)

    def embed(self, frames: Union[NDArray[np.uint8], Sequence[NDArray[np.uint8]]],
              landmarks: NDArray, *, channels: str = "bgr") -> NDArray[np.float32]:
        """Align and embed faces given by landmarks.

        Parameters
        ----------
        frames : ndarray uint8 (H, W, 3) or sequence of N of them
            One frame for all faces, or one frame per face.
        landmarks : array-like float (N, 5, 2)
        channels : {"bgr", "rgb"}
            Channel order of the frames.

        Returns
        -------
        ndarray, float32 (N, dim), unit rows.
        """
        return self.embedder.embed_chips(align_faces(bgr_frames(frames, channels), landmarks))

    def embed_with_norms(self, frame: NDArray[np.uint8], landmarks: NDArray
                         ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """:meth:`embed` for faces of one BGR frame, with each raw embedding's L2 norm
        (float32 (N,); a face-quality signal of SFace, NaN from embedders that do not
        report it)."""
        return embed_with_norms(self.embedder, align_faces(frame, landmarks))

    def analyze(self, frame: Any, *,
                conf_threshold: float = thresholds.DETECT_CONF,
                nms_threshold: float = thresholds.DETECT_NMS,
                max_count: int = thresholds.MAX_FACES, channels: str = "bgr",
                scales: Optional[Sequence[Optional[int]]] = None) -> List[Face]:
        """Detect every face of an image and embed them in one batch. ``frame`` is an array
        (BGR, or RGB with ``channels="rgb"``), a path, bytes or a PIL image.

        ``scales`` (for stills, not video): sides in px (``None``: as found) of a cut-out
        of each face in which its landmarks are found again; each face's embedding is then
        the normalised mean of the embeddings of its chips aligned by each landmark set,
        which evens out SFace's sensitivity to small landmark shifts
        (:meth:`embed_detections`). ``STILL_SCALES``
        is the measured choice (docs/pipeline.md, "Steadier embeddings for stills").

        Returns
        -------
        list of Face
            Strongest first; each with box, landmarks, score, a float32 (dim,)
            unit embedding and ``model`` set to the embedder's identity.
        """
        return self.analyze_batch([frame], conf_threshold=conf_threshold,
                                  nms_threshold=nms_threshold, max_count=max_count,
                                  channels=channels, scales=scales)[0]

    def analyze_batch(self, frames: Sequence[NDArray[np.uint8]], *,
                      conf_threshold: float = thresholds.DETECT_CONF,
                      nms_threshold: float = thresholds.DETECT_NMS,
                      max_count: int = thresholds.MAX_FACES,
                      channels: str = "bgr",
                      scales: Optional[Sequence[Optional[int]]] = None) -> List[List[Face]]:
        """:meth:`analyze` for many frames; all their faces share forward passes."""
        frames = [as_frame(f, channels, f"frames[{i}]") for i, f in enumerate(frames)]
        sides = _check_scales(scales)
        detections = [self.detector.detect(f, conf_threshold=conf_threshold,
                                           nms_threshold=nms_threshold, max_count=max_count)
                      for f in frames]
        owners = [f for f, d in zip(frames, detections) for _ in range(len(d))]
        if owners and sides:
            embeddings = np.concatenate([
                self.embed_detections(f, d, scales=sides, conf_threshold=conf_threshold,
                                      nms_threshold=nms_threshold)
                for f, d in zip(frames, detections) if len(d)])
        elif owners:
            all_landmarks = np.concatenate([d.landmarks for d in detections])
            embeddings = self.embed(owners, all_landmarks)
        else:
            embeddings = np.zeros((0, self.dim), np.float32)
        embeddings.flags.writeable = False
        model_id = self.model.id
        results: List[List[Face]] = []
        row = 0
        for frame, det in zip(frames, detections):
            lives: List[Optional[float]] = [None] * len(det)
            if self.liveness is not None and len(det):
                lives = [float(p) for p in self.liveness.check(frame, det.boxes).probability]
            faces = []
            for face, live in zip(det, lives):
                faces.append(Face(box=face.box, landmarks=face.landmarks, score=face.score,
                                  embedding=embeddings[row], model=model_id, live=live))
                row += 1
            results.append(faces)
        return results

    def embed_detections(self, frame: NDArray[np.uint8], found: Detections, *,
                         scales: Optional[Sequence[Optional[int]]] = None,
                         conf_threshold: float = thresholds.DETECT_CONF,
                         nms_threshold: float = thresholds.DETECT_NMS) -> NDArray[np.float32]:
        """float32 (N, dim) unit rows for the N faces of ``found`` on a BGR ``frame``.

        Without ``scales``: one chip per face, aligned by its own landmarks. With
        ``scales`` (see :meth:`analyze`): each face is cut out with a margin of 0.6 of its
        size per side, the cut-out resized so its longer side is each of ``scales`` (None:
        as it is) and the face found again there (IoU >= 0.5 with its box); the row is the
        normalised mean of the embeddings of the chips those landmark sets align. A face
        missed at every scale keeps its own landmarks. The cost grows with the faces, not
        with the photo's size.
        """
        frame = bgr_frame(frame)
        sides = _check_scales(scales)
        if not sides or len(found) == 0:
            return self.embed(frame, found.landmarks) if len(found) else np.zeros(
                (0, self.dim), np.float32)
        sets = [self._landmarks_again(frame, box, sides, conf_threshold, nms_threshold)
                or [landmarks] for box, landmarks in zip(found.boxes, found.landmarks)]
        owner = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
        chips = self.embed(frame, np.stack([lm for s in sets for lm in s]))
        sums = np.zeros((len(sets), self.dim), np.float32)
        np.add.at(sums, owner, chips)
        return (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)

    def _landmarks_again(self, frame: NDArray[np.uint8], box: NDArray[np.float32],
                         sides: Sequence[Optional[int]], conf: float, nms: float
                         ) -> List[NDArray[np.float32]]:
        """The (5, 2) landmark sets of the face at ``box`` found in its cut-out at each side."""
        found = []
        for side in sides:
            again = self.redetect(frame, box, margin=_STILL_MARGIN, side=side,
                                  conf_threshold=conf, nms_threshold=nms)
            if again is not None:
                found.append(again[1])
        return found

    def redetect(self, frame: NDArray[np.uint8], box: NDArray[np.float32], *,
                 margin: float = _STILL_MARGIN, square: bool = False,
                 side: Optional[int] = None, conf_threshold: float = thresholds.DETECT_CONF,
                 nms_threshold: float = thresholds.DETECT_NMS, min_iou: float = 0.5
                 ) -> Optional[Tuple[NDArray[np.float32], NDArray[np.float32], float]]:
        """The face at ``box`` found again in a cut-out around it: ``margin`` x its size per
        side (``square``: x its longer side), resized so its longer side is ``side`` (None:
        as it is), detected there with ``conf_threshold``. Returns (box (4,), landmarks
        (5, 2), score) in ``frame`` pixels of the detection overlapping ``box`` most, or
        None when none overlaps it by ``min_iou``."""
        left, top, right, bottom = margin_window(box, margin, frame.shape, square=square)
        if right - left < 2 or bottom - top < 2:
            return None
        crop = frame[top:bottom, left:right]
        factor = 1.0 if side is None else side / max(crop.shape[:2])
        size = (max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor)))
        copy = np.ascontiguousarray(crop) if factor == 1.0 else cv2.resize(
            crop, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        again = self.detector.detect(copy, conf_threshold=conf_threshold,
                                     nms_threshold=nms_threshold, max_side=None)
        if len(again) == 0:
            return None
        offset = np.array([left, top], np.float32)
        boxes = again.boxes / np.float32(factor) + np.tile(offset, 2)
        overlap = iou_matrix(np.asarray(box, np.float32)[None], boxes)[0]
        best = int(overlap.argmax())
        if overlap[best] < min_iou:
            return None
        return (boxes[best], again.landmarks[best] / np.float32(factor) + offset,
                float(again.scores[best]))

    def detect_embedding(self, frame: Any,
                         conf_threshold: float = thresholds.DETECT_CONF,
                         nms_threshold: float = thresholds.DETECT_NMS,
                         max_count: int = thresholds.MAX_FACES, *, channels: str = "bgr"
                         ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Boxes and embeddings of every face in a frame (seed API); ``channels`` is the
        frame's channel order, "bgr" (default) or "rgb".

        Returns
        -------
        boxes : ndarray, float32 (N, 4)
            x1, y1, x2, y2 in frame pixels, strongest face first.
        embeddings : ndarray, float32 (N, dim)
            Unit rows; row i belongs to box i. N may be 0: shapes (0, 4), (0, dim).
        """
        frame = as_frame(frame, channels)
        det = self.detector.detect(frame, conf_threshold=conf_threshold,
                                   nms_threshold=nms_threshold, max_count=max_count)
        if len(det) == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0, self.dim), np.float32)
        return np.array(det.boxes), self.embed(frame, det.landmarks)

    # ------------------------------------------------------------------ faceprints
    def faceprints(self, frame: Any, *, channels: str = "bgr") -> List[Faceprint]:
        """A :class:`Faceprint` for every face of a frame (one batch), strongest first."""
        return [Faceprint(f.vector, self.model.id)
                for f in self.analyze(frame, channels=channels)]

    def largest_faceprint(self, frame: Any, *,
                          channels: str = "bgr") -> Faceprint:
        """The faceprint of the largest face.

        Raises
        ------
        NoFaceError
            The frame has no face.
        """
        return Faceprint(largest_face(self.analyze(frame, channels=channels)).vector,
                         self.model.id)

    def faceprint_from_chip(self, chip: NDArray[np.uint8]) -> Faceprint:
        """The faceprint of an already aligned BGR uint8 (112, 112, 3) chip."""
        return Faceprint(self.embedder.embed_chips(chip)[0], self.model.id)

    def faceprint_at(self, frame: NDArray[np.uint8], landmarks: NDArray, *,
                     channels: str = "bgr") -> Faceprint:
        """The faceprint of the face with these five landmarks (5, 2) on a frame; use the
        ``landmarks`` of a box your own detector found."""
        return Faceprint(self.embed(as_frame(frame, channels), landmarks)[0], self.model.id)


def as_frame(image: Any, channels: str = "bgr", name: str = "frame") -> NDArray[np.uint8]:
    """An image the pipeline can take: a uint8 (H, W, 3) array in ``channels`` order (made
    BGR), or anything :func:`~face_trigger.read_image` reads (a path, bytes, a PIL image)."""
    if isinstance(image, np.ndarray):
        return bgr_frame(image, name, channels)
    return read_image(image, channels=channels)


def _check_scales(scales: Optional[Sequence[Optional[int]]]) -> List[Optional[int]]:
    """``scales`` as a list of sides (int >= 32, or None for the frame's own size)."""
    if scales is None:
        return []
    if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence) or not scales:
        raise InvalidParameterError(f"scales must be a non-empty sequence of sides in px "
                                    f"(or None for the frame's own size), got {scales!r}")
    return [check_side(side, "each of scales") for side in scales]


def largest_face(faces: Sequence[Face]) -> Face:
    """The face with the largest box area (ties: the first, i.e. the higher score)."""
    if not faces:
        raise NoFaceError("no face found")
    return max(faces, key=lambda f: f.width * f.height)


class _DefaultPipeline:
    """The one piece of process-wide state: the pipeline behind the module-level seed API
    (``load_model``, ``detect_embedding``), built on first use, guarded by a lock, and
    forgotten in a forked child (its nets and lock belong to the parent)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pipeline: Optional[FacePipeline] = None

    def get(self) -> FacePipeline:
        with self.lock:
            if self.pipeline is None:
                self.pipeline = FacePipeline()
            return self.pipeline

    def replace(self, model: Union[Embedder, YuNetDetector]) -> None:
        with self.lock:
            current = self.pipeline
            if isinstance(model, YuNetDetector):
                embedder = current.embedder if current is not None else None
                self.pipeline = FacePipeline(model, embedder)
            else:
                detector = current.detector if current is not None else None
                self.pipeline = FacePipeline(detector, model)

    def forget_after_fork(self) -> None:
        self.lock = threading.Lock()
        self.pipeline = None


_DEFAULT = _DefaultPipeline()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_DEFAULT.forget_after_fork)


def default_pipeline() -> FacePipeline:
    """The pipeline the module-level functions use: built with the bundled models on first
    use (or from what :func:`load_model` loaded), shared by every thread of the process."""
    return _DEFAULT.get()


def load_model(path: PathArg = None, role: str = "embedder"
               ) -> Union[SFaceEmbedder, YuNetDetector]:
    """Load a model with its integrity check and make the module-level functions use it
    (seed API: call once, then :func:`detect_embedding` per frame at pipeline speed).

    Parameters
    ----------
    path : path, optional
        ONNX file; ``None`` loads the bundled model for ``role``.
    role : {"embedder", "detector"}
        Which model to load; the default pipeline keeps its other model.

    Returns
    -------
    SFaceEmbedder or YuNetDetector

    Raises
    ------
    ModelNotFoundError, ModelIntegrityError
        Missing file; hash mismatch (message names the file and both hashes) or
        a file OpenCV cannot parse.
    """
    model: Union[SFaceEmbedder, YuNetDetector]
    if role == "embedder":
        model = SFaceEmbedder(path)
    elif role == "detector":
        model = YuNetDetector(path)
    else:
        raise InvalidParameterError(f"role must be 'embedder' or 'detector', got {role!r}")
    _DEFAULT.replace(model)
    return model


def detect_embedding(frame: NDArray[np.uint8],
                     conf_threshold: float = thresholds.DETECT_CONF,
                     nms_threshold: float = thresholds.DETECT_NMS,
                     max_count: int = thresholds.MAX_FACES, *,
                     pipeline: Optional[FacePipeline] = None, channels: str = "bgr"
                     ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Boxes (N, 4) and unit embeddings (N, 128), both float32, of every face (seed API).

    Uses ``pipeline``, or the process-wide :func:`default_pipeline` (models loaded once, on
    the first call or by :func:`load_model`): calling it in a loop costs what the pipeline
    method costs. ``frame`` is BGR unless ``channels="rgb"``.
    """
    if pipeline is None:
        pipeline = _DEFAULT.get()
    return pipeline.detect_embedding(frame, conf_threshold, nms_threshold, max_count,
                                     channels=channels)
