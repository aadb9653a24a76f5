"""The answer of 1:N identification, shared by FaceRecognizer and Gallery, and the protocol
the door accepts from either."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import EmbeddingError
from .types import UNKNOWN, Face

__all__ = ["Identity", "Identifier", "NamedFace", "open_set_gate", "query_rows",
           "recognize_image", "UNKNOWN"]


@dataclass(frozen=True)
class Identity:
    """Who one query face is, or ``"unknown"``.

    Attributes
    ----------
    name : str
        The person, or ``"unknown"`` when the open-set gate rejected the query.
    known : bool
        False when rejected.
    similarity : float
        Cosine similarity of the query to the best-scoring person's nearest enrolled
        face (the person the classifier picked, for FaceRecognizer); ``-inf`` when nobody
        is enrolled.
    margin : float
        ``similarity`` minus the best similarity to any other person (``inf`` with one
        person enrolled).
    probability : float or None
        Classifier probability of that person (FaceRecognizer only).
    faceprint_id : int or None
        The best-matching stored faceprint (Gallery only, when known).
    """

    name: str
    known: bool
    similarity: float
    margin: float
    probability: Optional[float] = None
    faceprint_id: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: infinities become None."""
        def finite(value: Optional[float]) -> Optional[float]:
            return None if value is None or not np.isfinite(value) else round(float(value), 4)
        return {"name": self.name, "known": self.known, "similarity": finite(self.similarity),
                "margin": finite(self.margin), "probability": finite(self.probability),
                "faceprint_id": self.faceprint_id}


@dataclass(frozen=True)
class NamedFace:
    """A face of an image and who it is: what ``Gallery.recognize`` and
    ``FaceRecognizer.recognize`` return, one per face, strongest first."""

    face: Face
    identity: Identity

    @property
    def name(self) -> str:
        """The person, or "unknown"."""
        return self.identity.name

    @property
    def known(self) -> bool:
        return self.identity.known

    @property
    def similarity(self) -> float:
        return self.identity.similarity

    @property
    def box(self) -> NDArray[np.float32]:
        return self.face.box

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: the face (without its embedding) and the identity, in one object."""
        return {**self.face.to_dict(), **self.identity.to_dict()}

    def __repr__(self) -> str:
        return (f"NamedFace({self.name!r}, similarity={self.similarity:.3f}, "
                f"box=[{', '.join(f'{float(v):.0f}' for v in self.box)}])")


def query_rows(queries: Any, model: Optional[str] = None) -> Any:
    """Queries as the identify methods take them: a Face or a list of Faces (from
    ``FacePipeline.analyze``) become their embeddings stacked (N, dim), refused when a face
    was not embedded or was embedded by another model than ``model``; anything else is
    returned as it is (arrays, Faceprints)."""
    faces = [queries] if isinstance(queries, Face) else queries
    if not isinstance(faces, (list, tuple)) or not faces or not all(
            isinstance(f, Face) for f in faces):
        if isinstance(faces, (list, tuple)) and any(isinstance(f, Face) for f in faces):
            raise EmbeddingError("queries mix Faces and other values")
        return queries
    for face in faces:
        if model is not None and face.model is not None and face.model != model:
            raise EmbeddingError(f"a face embedded by {face.model!r} cannot be compared with "
                                 f"faces of {model!r}")
    return np.stack([face.vector for face in faces])


def recognize_image(identifier: Any, image: Any, pipeline: Any = None, channels: str = "bgr"
                    ) -> List[NamedFace]:
    """Every face of ``image`` (an array, a path, bytes or a PIL image) with who it is by
    ``identifier``, strongest first; ``pipeline`` defaults to the process-wide one of the
    bundled models (it must make the identifier's embeddings)."""
    from .pipeline import default_pipeline  # noqa: PLC0415 - the nets load on first use

    pipeline = pipeline if pipeline is not None else default_pipeline()
    faces = pipeline.analyze(image, channels=channels)
    if not faces:
        return []
    return [NamedFace(face, who) for face, who in zip(faces, identifier.identify(faces))]


@runtime_checkable
class Identifier(Protocol):
    """What :class:`~face_trigger.door.DoorTrigger` needs: FaceRecognizer and Gallery both
    are one. ``identify`` takes unit embeddings ``float32 (N, dim)`` (or the Faces of
    ``FacePipeline.analyze``) and returns N answers; the two gates are the ones it applies
    (cosine similarity and lead over the runner-up)."""

    unknown_threshold: float
    margin: float

    def identify(self, embeddings: Any) -> List[Identity]: ...


def open_set_gate(similarity: ArrayLike, margin: ArrayLike, unknown_threshold: float,
                  min_margin: float) -> NDArray[np.bool_]:
    """The open-set decision both 1:N paths share: known where the best person's
    similarity reaches ``unknown_threshold`` and leads every other person by at least
    ``min_margin``. Arrays of shape (N,) give bool (N,); scalars give a 0-d bool."""
    return (np.asarray(similarity) >= unknown_threshold) & (np.asarray(margin) >= min_margin)
