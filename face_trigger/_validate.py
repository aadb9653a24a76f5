"""Boundary checks shared by the public functions. Each raises a typed error that
names what was expected and what was found."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .errors import EmbeddingError, InvalidImageError, InvalidLandmarksError, InvalidParameterError

#: The bundled SFace model's embedding size. Other embedders carry their own ``dim``, and
#: every check below takes the size it expects (None: any size up to MAX_EMBEDDING_DIM).
EMBEDDING_DIM = 128
MAX_EMBEDDING_DIM = 4096


def describe(value: Any) -> str:
    """Short description of a value for error messages: type, shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"ndarray shape={value.shape} dtype={value.dtype}"
    return type(value).__name__


def check_frame(frame: Any, name: str = "frame") -> np.ndarray:
    """Return ``frame`` if it is a BGR ``uint8 (H, W, 3)`` array with H, W >= 1.

    Raises
    ------
    InvalidImageError
        For any other type, dtype, shape or an empty array. Use
        :func:`face_trigger.image_io.to_bgr` to convert gray, BGRA or 16-bit arrays.
    """
    if not isinstance(frame, np.ndarray):
        raise InvalidImageError(f"{name} must be a numpy array (H, W, 3) uint8 BGR, "
                                f"got {describe(frame)}")
    if frame.dtype != np.uint8:
        raise InvalidImageError(f"{name} must have dtype uint8, got {frame.dtype} (shape "
                                f"{frame.shape}); convert it with face_trigger.image_io.to_bgr")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidImageError(f"{name} must have shape (H, W, 3), got {frame.shape}; "
                                "convert gray or BGRA images with face_trigger.image_io.to_bgr")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidImageError(f"{name} is empty: shape {frame.shape}")
    return frame


#: Channel orders a frame may be given in. BGR is OpenCV's order and the default
#: everywhere; RGB is what PIL, face_recognition, matplotlib and most notebooks hold.
CHANNEL_ORDERS = ("bgr", "rgb")


def check_channels(channels: Any) -> str:
    """``channels`` if it is "bgr" or "rgb", else InvalidParameterError."""
    if channels not in CHANNEL_ORDERS:
        raise InvalidParameterError(f"channels must be 'bgr' or 'rgb', got {channels!r}")
    return str(channels)


def bgr_frame(frame: Any, name: str = "frame", channels: str = "bgr") -> np.ndarray:
    """:func:`check_frame`, then an RGB frame (``channels="rgb"``) turned into a new
    contiguous BGR array; a BGR frame is returned as is.

    There is no way to tell RGB from BGR by looking at the pixels, so nothing is guessed:
    the caller says which order its array is in.
    """
    check_channels(channels)
    frame = check_frame(frame, name)
    if channels == "rgb":
        return np.ascontiguousarray(frame[..., ::-1])
    return frame


def bgr_frames(frames: Any, channels: str = "bgr") -> Any:
    """One frame or a sequence of frames as :func:`bgr_frame` returns them (for RGB input;
    BGR frames pass untouched and are checked where they are used)."""
    check_channels(channels)
    if channels == "bgr":
        return frames
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        return bgr_frame(frames, "frame", channels)
    return [bgr_frame(f, f"frames[{i}]", channels) for i, f in enumerate(frames)]


def check_landmarks(landmarks: Any, count: int | None = None) -> np.ndarray:
    """Return landmarks as a finite ``float32 (N, 5, 2)`` array.

    A single ``(5, 2)`` set is accepted and returned as ``(1, 5, 2)``. When
    ``count`` is given, N must equal it.

    Raises
    ------
    InvalidLandmarksError
        Wrong shape, non-numeric dtype, NaN/inf, or N != count.
    """
    try:
        array = np.asarray(landmarks)
    except Exception as exc:  # ragged nested lists and the like
        raise InvalidLandmarksError(f"landmarks could not be read as an array: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise InvalidLandmarksError(f"landmarks must be numeric, got dtype {array.dtype}")
    if array.shape == (5, 2):
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (5, 2):
        raise InvalidLandmarksError(f"landmarks must have shape (N, 5, 2), got {array.shape}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InvalidLandmarksError("landmarks contain NaN or infinite values")
    if count is not None and array.shape[0] != count:
        raise InvalidLandmarksError(
            f"got {array.shape[0]} landmark sets for {count} images; pass one (5, 2) set per image")
    return array


def check_embeddings(embeddings: Any, dim: Optional[int] = EMBEDDING_DIM) -> np.ndarray:
    """Return embeddings as a finite ``float32 (N, dim)`` array.

    A single ``(dim,)`` vector is returned as ``(1, dim)``; ``dim=None`` takes any size
    from 2 to MAX_EMBEDDING_DIM. Rows are not re-normalised here; callers that need unit
    rows normalise or check.

    Raises
    ------
    EmbeddingError
        Non-numeric dtype, wrong dimension, NaN/inf values.
    """
    try:
        array = np.asarray(embeddings)
    except Exception as exc:
        raise EmbeddingError(f"embeddings could not be read as an array: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise EmbeddingError(f"embeddings must be numeric, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[None]
    size = "dim" if dim is None else dim
    if (array.ndim != 2 or (dim is not None and array.shape[1] != dim)
            or not 2 <= array.shape[1] <= MAX_EMBEDDING_DIM):
        raise EmbeddingError(f"embeddings must have shape (N, {size}) or ({size},), "
                             f"got {np.asarray(embeddings).shape}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise EmbeddingError("embeddings contain NaN or infinite values")
    return array


def unit_rows(embeddings: Any, dim: Optional[int] = EMBEDDING_DIM) -> np.ndarray:
    """Embeddings checked by :func:`check_embeddings` and L2-normalised: float32 (N, dim).

    Raises
    ------
    EmbeddingError
        As :func:`check_embeddings`, or a row that is (almost) all zeros.
    """
    array = check_embeddings(embeddings, dim)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if np.any(norms < 1e-6):
        raise EmbeddingError("an embedding is (almost) all zeros; it cannot be compared")
    return (array / norms).astype(np.float32)


#: Largest accepted deviation of a unit vector's L2 norm from 1 (float32 rounding is about
#: 1e-7; a vector scaled or damaged by more is refused everywhere).
UNIT_TOLERANCE = 1e-3


def off_unit(norms: Any) -> np.ndarray:
    """bool mask of the ``norms`` that are not those of unit vectors (NaN and infinity
    included): the one unit-length rule of faceprints, galleries and compat encodings."""
    norms = np.asarray(norms, np.float64)
    return np.asarray(~np.isfinite(norms) | (np.abs(norms - 1.0) > UNIT_TOLERANCE), bool)


def check_range(value: Any, name: str, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """``value`` as a float if it lies in the interval (NaN never does), else
    InvalidParameterError naming ``name``, the interval and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}")
    number = float(value)
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise InvalidParameterError(f"{name} must be in {interval}, got {value!r}")
    return number


def check_int(value: Any, name: str, low: Optional[int] = None,
              high: Optional[int] = None) -> int:
    """``value`` as an int if it is one (numpy ints too, never a bool or a float) within
    [low, high] (either bound may be None), else InvalidParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
            low is not None and value < low) or (high is not None and value > high):
        bounds = (f" in [{low:,}, {high:,}]" if low is not None and high is not None
                  else f" >= {low}" if low is not None else f" <= {high}" if high is not None
                  else "")
        raise InvalidParameterError(f"{name} must be an int{bounds}, got {value!r}")
    return int(value)


def check_side(side: Any, name: str = "max_side") -> Optional[int]:
    """A detection side: an int >= 32 (px), or None (full resolution / as found); else
    InvalidParameterError naming ``name``."""
    if side is None:
        return None
    if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 32:
        raise InvalidParameterError(f"{name} must be an int >= 32 or None, got {side!r}")
    return int(side)


def check_gate(threshold: Any, margin: Any, name: str = "unknown_threshold") -> None:
    """The identify gate: a cosine ``threshold`` in [0, 1] and a ``margin`` in [0, 1]. A
    threshold of -1, NaN or 5 would let every stranger through or nobody."""
    check_range(threshold, name, 0.0, 1.0)
    check_range(margin, "margin", 0.0, 1.0)
