"""The answer of 1:N identification, shared by FaceRecognizer and Gallery, and the protocol
the door accepts from either."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .types import UNKNOWN

__all__ = ["Identity", "Identifier", "open_set_gate", "UNKNOWN"]


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


@runtime_checkable
class Identifier(Protocol):
    """What :class:`~face_trigger.door.DoorTrigger` needs: FaceRecognizer and Gallery both
    are one. ``identify`` takes unit embeddings ``float32 (N, 128)`` and returns N answers;
    the two gates are the ones it applies (cosine similarity and lead over the runner-up)."""

    unknown_threshold: float
    margin: float

    def identify(self, embeddings: Any) -> List[Identity]: ...


def open_set_gate(similarity: ArrayLike, margin: ArrayLike, unknown_threshold: float,
                  min_margin: float) -> NDArray[np.bool_]:
    """The open-set decision both 1:N paths share: known where the best person's
    similarity reaches ``unknown_threshold`` and leads every other person by at least
    ``min_margin``. Arrays of shape (N,) give bool (N,); scalars give a 0-d bool."""
    return (np.asarray(similarity) >= unknown_threshold) & (np.asarray(margin) >= min_margin)
