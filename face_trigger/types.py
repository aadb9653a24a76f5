"""Result types shared by every stage: frozen, validated, numpy-backed.

Array conventions (see ARCHITECTURE.md §2):

* boxes ``float32 (N, 4)``: x1, y1, x2, y2 in pixels of the input frame.
* landmarks ``float32 (N, 5, 2)``: right eye, left eye, nose tip, right and left
  mouth corner (the subject's right is the image's left), x then y.
* scores ``float32 (N,)``: detector confidence in [0, 1], descending.
* embeddings ``float32 (N, 128)``: unit-length rows; cosine similarity = dot product.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Union, overload

import numpy as np
from numpy.typing import NDArray

from .errors import EmbeddingError, InvalidParameterError

#: The name given to a face that matches nobody enrolled.
UNKNOWN = "unknown"

Frame = NDArray[np.uint8]
"""A BGR image, ``uint8 (H, W, 3)``."""

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class ModelInfo:
    """Identity of a loaded model file.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"face_recognition_sface_2021dec"``.
    sha256 : str
        Hex digest of the exact bytes that were loaded.
    bundled : bool
        True when the hash is one of the models shipped with face_trigger.
    """

    name: str
    sha256: str
    bundled: bool

    @property
    def id(self) -> str:
        """Short identity ``"<name>@<first 12 hex of sha256>"`` recorded on embeddings."""
        return f"{self.name}@{self.sha256[:12]}"


def _as_readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    if array.flags.writeable:
        array = array.copy()
        array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    Attributes
    ----------
    box : ndarray, float32 (4,)
        x1, y1, x2, y2 in frame pixels.
    landmarks : ndarray, float32 (5, 2)
        The five YuNet landmarks in frame pixels.
    score : float
        Detector confidence.
    embedding : ndarray, float32 (128,) or None
        Unit-length SFace embedding, when computed.
    model : str or None
        ``ModelInfo.id`` of the embedder that produced ``embedding``.
    track_id : int or None
        Set by a tracker.
    live : float or None
        Liveness probability, from a ``FacePipeline(liveness=True)``.
    """

    box: FloatArray
    landmarks: FloatArray
    score: float
    embedding: Optional[FloatArray] = None
    model: Optional[str] = None
    track_id: Optional[int] = None
    live: Optional[float] = None

    @property
    def vector(self) -> FloatArray:
        """The embedding, for a face that went through the embedder (``analyze``,
        ``faceprints``); EmbeddingError for a face that was only detected."""
        if self.embedding is None:
            raise EmbeddingError("this face was detected but not embedded: use "
                                 "FacePipeline.analyze (or embed) to get its embedding")
        return self.embedding

    # insightface's names (``FaceAnalysis.get`` faces), read-only, for code ported from it
    @property
    def bbox(self) -> FloatArray:
        """insightface's name for ``box``."""
        return self.box

    @property
    def kps(self) -> FloatArray:
        """insightface's name for ``landmarks`` (the same five points and order)."""
        return self.landmarks

    @property
    def det_score(self) -> float:
        """insightface's name for ``score``."""
        return self.score

    @property
    def normed_embedding(self) -> FloatArray:
        """insightface's name for the unit embedding (``vector``)."""
        return self.vector

    def to_dict(self, embedding: bool = False) -> Dict[str, Any]:
        """JSON-ready (plain floats and lists): box, landmarks, score, model, track id,
        live probability; the embedding only when asked (``embedding=True``)."""
        out: Dict[str, Any] = {
            "box": [round(float(v), 1) for v in self.box],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "score": round(float(self.score), 4), "model": self.model,
            "track_id": self.track_id,
            "live": None if self.live is None else round(float(self.live), 4)}
        if embedding:
            out["embedding"] = None if self.embedding is None else [
                float(v) for v in self.embedding]
        return out

    def __repr__(self) -> str:
        box = ", ".join(f"{float(v):.0f}" for v in self.box)
        vector = "none" if self.embedding is None else f"{self.embedding.shape[0]}-d"
        extra = "" if self.live is None else f", live={self.live:.2f}"
        return f"Face(box=[{box}], score={self.score:.3f}, embedding={vector}{extra})"

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return float(self.box[3] - self.box[1])


@dataclass(frozen=True, eq=False)
class Detections:
    """Columnar detector output for one frame; ``N`` may be 0.

    Indexing with an int returns a :class:`Face`; with a slice, an index array or
    a boolean mask it returns ``Detections``. Iterating yields ``Face`` objects.
    Arrays are read-only copies.
    """

    boxes: FloatArray
    landmarks: FloatArray
    scores: FloatArray

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32)
        landmarks = np.asarray(self.landmarks, dtype=np.float32)
        scores = np.asarray(self.scores, dtype=np.float32)
        n = boxes.shape[0] if boxes.ndim == 2 else -1
        expected = {"boxes": ((n, 4), boxes), "landmarks": ((n, 5, 2), landmarks),
                    "scores": ((n,), scores)}
        for name, (shape, array) in expected.items():
            if n < 0 or array.shape != shape:
                raise InvalidParameterError(
                    f"Detections.{name} must have shape {shape if n >= 0 else '(N, 4)'}, "
                    f"got {array.shape}")
        object.__setattr__(self, "boxes", _as_readonly(boxes))
        object.__setattr__(self, "landmarks", _as_readonly(landmarks))
        object.__setattr__(self, "scores", _as_readonly(scores))

    @classmethod
    def empty(cls) -> "Detections":
        """Zero detections with correctly shaped, typed arrays."""
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32),
                   np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @overload
    def __getitem__(self, index: Union[int, np.integer]) -> Face: ...

    @overload
    def __getitem__(self, index: Union[slice, NDArray]) -> "Detections": ...

    def __getitem__(self, index: Union[int, np.integer, slice, NDArray]
                    ) -> Union[Face, "Detections"]:
        if isinstance(index, (int, np.integer)):
            return self.face(int(index))
        return Detections(self.boxes[index], self.landmarks[index], self.scores[index])

    def face(self, i: int) -> Face:
        """Detection ``i`` as a Face (no embedding)."""
        return Face(box=self.boxes[i], landmarks=self.landmarks[i], score=float(self.scores[i]))

    def __iter__(self) -> Iterator[Face]:
        for i in range(len(self)):
            yield self.face(i)
