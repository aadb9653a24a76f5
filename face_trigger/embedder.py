"""SFace embedder: aligned 112x112 chips -> unit-length 128-d float32 embeddings."""
from __future__ import annotations

import os
import threading
from typing import Optional, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import EMBEDDING_DIM, describe
from .align import CHIP_SIZE
from .errors import InvalidImageError, InvalidParameterError, ModelIntegrityError
from .model_files import read_verified
from .types import ModelInfo

#: Chips per forward pass. Batching saves ~10 % per face on 2 cores and bounds memory.
DEFAULT_BATCH_SIZE = 32


class SFaceEmbedder:
    """Compute SFace embeddings with OpenCV DNN, many chips per forward pass.

    Parameters
    ----------
    model_path : path, optional
        SFace ONNX file; ``None`` uses the bundled, checksum-verified model.
    batch_size : int
        Chips per forward pass (memory grows linearly with it).
    engine : int
        ``cv2.dnn.ENGINE_*`` where the OpenCV build has engines (OpenCV 5);
        ``ENGINE_AUTO`` by default.
    expected_sha256 : str, optional
        Pin a custom model file to this hash (bundled files are always checked).

    Notes
    -----
    The blob is raw 0-255 RGB (the SFace graph normalises internally); the raw
    output (norm about 12) is divided by its L2 norm here and only here.

    Thread safety: one forward pass at a time per instance (internal lock);
    use one instance per worker for parallel throughput.
    """

    def __init__(self, model_path: Union[str, os.PathLike, None] = None, *,
                 batch_size: int = DEFAULT_BATCH_SIZE, engine: Optional[int] = None,
                 expected_sha256: Optional[str] = None) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.engine = engine
        self._model_path = model_path
        data, self.model_info = read_verified("embedder", model_path, expected_sha256)
        buffer = np.frombuffer(data, np.uint8)
        try:
            if engine is None or not hasattr(cv2.dnn, "ENGINE_AUTO"):
                self._net = cv2.dnn.readNetFromONNX(buffer)
            else:
                self._net = cv2.dnn.readNetFromONNX(buffer, engine)
        except cv2.error as exc:
            raise ModelIntegrityError(
                f"embedder model {self.model_info.name} could not be loaded by OpenCV: "
                f"{str(exc).strip().splitlines()[-1]}") from exc
        self._lock = threading.Lock()

    @property
    def model(self) -> ModelInfo:
        """Identity of the loaded SFace file; recorded on every embedding."""
        return self.model_info

    @property
    def dim(self) -> int:
        """Embedding dimension (128)."""
        return EMBEDDING_DIM

    def embed_chips(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Embed aligned chips.

        Parameters
        ----------
        chips : ndarray, uint8 (N, 112, 112, 3) or (112, 112, 3)
            BGR chips from :func:`face_trigger.align_faces`.

        Returns
        -------
        ndarray, float32 (N, 128)
            L2-normalised rows, row i for chip i; (0, 128) for N = 0.

        Raises
        ------
        InvalidImageError
            Wrong type, dtype or shape.
        """
        return self.embed_chips_with_norms(chips)[0]

    def embed_chips_with_norms(self, chips: NDArray[np.uint8]
                               ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Embed aligned chips and keep the norm of each raw SFace output.

        The raw norm (about 12 for a clear frontal face, lower for blurred, small or
        turned ones) is a face-quality signal: see docs/door.md, "Quality gates".

        Returns
        -------
        embeddings : ndarray, float32 (N, 128)
            As :meth:`embed_chips`.
        norms : ndarray, float32 (N,)
            L2 norm of each row before normalisation.
        """
        chips = _check_chips(chips)
        out = np.empty((chips.shape[0], EMBEDDING_DIM), np.float32)
        for start in range(0, chips.shape[0], self.batch_size):
            batch = chips[start:start + self.batch_size]
            blob = cv2.dnn.blobFromImages(list(batch), 1.0, (CHIP_SIZE, CHIP_SIZE), (0, 0, 0),
                                          swapRB=True, crop=False)
            with self._lock:
                self._net.setInput(blob)
                raw = self._net.forward()
            out[start:start + len(batch)] = raw.reshape(len(batch), EMBEDDING_DIM)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.maximum(norms, np.finfo(np.float32).tiny, out=norms)
        out /= norms
        return out, norms[:, 0]

    def __getstate__(self) -> dict:
        # The OpenCV net is not picklable: keep what rebuilds it (and re-verifies it).
        return {"model_path": self._model_path, "batch_size": self.batch_size,
                "engine": self.engine,
                "expected_sha256": self.model_info.sha256}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]


def _check_chips(chips: object) -> NDArray[np.uint8]:
    if not isinstance(chips, np.ndarray):
        raise InvalidImageError(f"chips must be a uint8 array (N, 112, 112, 3), "
                                f"got {describe(chips)}")
    if chips.ndim == 3:
        chips = chips[None]
    if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise InvalidImageError(f"chips must be uint8 (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) BGR "
                                f"aligned faces, got {describe(chips)}")
    return chips
