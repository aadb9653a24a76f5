"""Faceprint: a portable face template — an embedding with its identity card.

JSON schema (``format`` "face_trigger-faceprint", ``version`` 1)::

    {"format": "face_trigger-faceprint", "version": 1,
     "model": "face_recognition_sface_2021dec@0ba9fbfa01b5", "dim": 128,
     "library_version": "0.1.0", "scale": 32767, "values": [int16 x dim]}

``values`` are the unit vector times ``scale``, rounded; decoding divides and
re-normalises (cosine error below 1e-8). Faceprints of different models cannot
be compared: the embedding spaces are unrelated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
from numpy.typing import NDArray

from ._validate import EMBEDDING_DIM, MAX_EMBEDDING_DIM, UNIT_TOLERANCE, off_unit
from ._version import __version__
from .errors import EmbeddingError
from .model_files import bundled_info

FORMAT = "face_trigger-faceprint"
FORMAT_VERSION = 1
INT16_SCALE = 32767
__all__ = ["Faceprint", "check_unit_vector", "check_same_model", "known_dim",
           "UNIT_TOLERANCE"]


def check_unit_vector(vector: Any, dim: Optional[int] = None) -> NDArray[np.float32]:
    """Return ``vector`` as a read-only float32 (dim,) array; it must be finite, unit length
    (``dim=None``: any size from 2 to MAX_EMBEDDING_DIM).

    Raises
    ------
    EmbeddingError
        Not a floating-point array, wrong shape, NaN/inf, or norm not 1 (within 1e-3).
    """
    array = np.asarray(vector)
    if array.dtype.kind != "f":
        raise EmbeddingError(f"a faceprint vector must be floating point, got dtype {array.dtype}")
    if (array.ndim != 1 or (dim is not None and array.shape[0] != dim)
            or not 2 <= array.shape[0] <= MAX_EMBEDDING_DIM):
        raise EmbeddingError(f"a faceprint vector must have shape ({dim or 'dim'},), "
                             f"got {array.shape}")
    if not np.isfinite(array).all():
        raise EmbeddingError("a faceprint vector contains NaN or infinite values")
    norm = float(np.linalg.norm(array.astype(np.float64)))
    if off_unit(norm):
        raise EmbeddingError(f"a faceprint vector must be unit length (L2-normalised), its norm "
                             f"is {norm:.4f}")
    out = array.astype(np.float32)  # always a copy: the caller's array stays theirs
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Faceprint:
    """A unit embedding and the model that made it.

    Attributes
    ----------
    vector : ndarray, float32 (dim,)
        L2-normalised, read-only (128 values for the bundled SFace model).
    model : str
        Embedder identity ``"<name>@<sha256 prefix>"`` (``ModelInfo.id``).
    library_version : str
        face_trigger version that produced it.
    """

    vector: NDArray[np.float32]
    model: str
    library_version: str = __version__

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise EmbeddingError("a faceprint needs the identity of the model that made it")
        object.__setattr__(self, "vector", check_unit_vector(self.vector, known_dim(self.model)))

    @property
    def dim(self) -> int:
        """Vector length (128 for SFace)."""
        return int(self.vector.shape[0])

    def similarity(self, other: "Faceprint") -> float:
        """Cosine similarity in [-1, 1]; raises EmbeddingError for another model."""
        check_same_model(self, other)
        return float(np.dot(self.vector, other.vector))

    def to_int16(self) -> NDArray[np.int16]:
        """Quantised vector: ``round(vector * 32767)`` as int16 (dim,)."""
        return np.round(self.vector * INT16_SCALE).astype(np.int16)

    @classmethod
    def from_int16(cls, values: Any, model: str,
                   library_version: str = __version__) -> "Faceprint":
        """Inverse of :meth:`to_int16` (re-normalised).

        Raises
        ------
        EmbeddingError
            Not integer values, wrong length, out of int16 range, or all zero.
        """
        array = np.asarray(values)
        if array.dtype.kind not in "iu":
            raise EmbeddingError(f"int16 faceprint values must be integers, got {array.dtype}")
        if array.ndim != 1 or not 2 <= array.shape[0] <= MAX_EMBEDDING_DIM:
            raise EmbeddingError(f"int16 faceprint values must have shape (dim,) with dim "
                                 f"in [2, {MAX_EMBEDDING_DIM}], got {array.shape}")
        if array.min() < -32768 or array.max() > 32767:
            raise EmbeddingError("int16 faceprint values are outside the int16 range")
        vector = array.astype(np.float64)
        norm = np.linalg.norm(vector)
        if norm == 0:
            raise EmbeddingError("int16 faceprint values are all zero")
        return cls((vector / norm).astype(np.float32), model, library_version)

    def to_dict(self) -> dict:
        """The JSON-ready dict of the documented schema."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "model": self.model,
                "dim": self.dim, "library_version": self.library_version,
                "scale": INT16_SCALE, "values": self.to_int16().tolist()}

    def to_json(self) -> str:
        """Serialise to the documented JSON schema (compact)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "Faceprint":
        """Parse :meth:`to_json` output.

        Raises
        ------
        EmbeddingError
            Malformed JSON, another format or version, missing fields, a dim that
            does not match the values, or bad values.
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:  # deep nesting recurses
            raise EmbeddingError(f"faceprint JSON is malformed: {type(exc).__name__}: "
                                 f"{str(exc)[:200]}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise EmbeddingError(f"not a faceprint (expected format {FORMAT!r})")
        if data.get("version") != FORMAT_VERSION:
            raise EmbeddingError(f"unsupported faceprint version {data.get('version')!r}")
        missing = {"model", "dim", "scale", "values"} - set(data)
        if missing:
            raise EmbeddingError(f"faceprint JSON lacks {sorted(missing)}")
        values = data["values"]
        if not isinstance(values, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise EmbeddingError("faceprint 'values' must be a list of integers")
        if data["dim"] != len(values):
            raise EmbeddingError(f"faceprint says dim {data['dim']} but has {len(values)} values")
        if data["scale"] != INT16_SCALE:
            raise EmbeddingError(f"unsupported faceprint scale {data['scale']!r}")
        if any(not -32768 <= v <= 32767 for v in values):  # a 20-digit int overflowed int64
            raise EmbeddingError("faceprint values must lie in the int16 range (-32768..32767)")
        if not isinstance(data["model"], str):
            raise EmbeddingError(f"faceprint 'model' must be a string, got {data['model']!r}")
        return cls.from_int16(np.array(values, dtype=np.int64), data["model"],
                              str(data.get("library_version", "")) or __version__)


def known_dim(model: str) -> Optional[int]:
    """The embedding size of a model id when it is known (the bundled SFace model's, in
    f32 or bf16: 128), else None (any size)."""
    return EMBEDDING_DIM if model.endswith("@" + bundled_info("embedder").sha256[:12]) else None


def check_same_model(a: Faceprint, b: Faceprint) -> None:
    """Raise EmbeddingError unless both faceprints come from the same model."""
    if a.model != b.model:
        raise EmbeddingError(f"cannot compare faceprints of different models: {a.model!r} vs "
                             f"{b.model!r}; re-embed both with one model")
    if a.dim != b.dim:
        raise EmbeddingError(f"faceprints of {a.model!r} with {a.dim} and {b.dim} values: one "
                             "of them is damaged")
