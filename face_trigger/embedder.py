"""SFace embedder: aligned 112x112 chips -> unit-length 128-d float32 embeddings."""
from __future__ import annotations

import dataclasses
import os
import threading
from typing import Optional, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import EMBEDDING_DIM, describe
from .align import CHIP_SIZE
from .engines import OpenVINONet, resolve_engine
from .errors import InvalidImageError, InvalidParameterError, ModelIntegrityError
from .model_files import read_verified
from .types import ModelInfo

#: Chips per forward pass. Batching saves ~10 % per face on 2 cores and bounds memory.
DEFAULT_BATCH_SIZE = 32


class SFaceEmbedder:
    """Compute SFace embeddings, many chips per forward pass.

    Parameters
    ----------
    model_path : path, optional
        SFace ONNX file; ``None`` uses the bundled, checksum-verified model.
    batch_size : int
        Chips per forward pass (memory grows linearly with it).
    engine : {"auto", "opencv", "openvino"}
        Runtime (:mod:`face_trigger.engines`); "auto" = OpenVINO when installed. Both give
        the same embeddings (cosine 1.00000 on every lfw_dev photo), so they share the
        model identity.
    precision : {"f32", "bf16"}
        "bf16" (OpenVINO on a CPU with AVX512_BF16 or AMX) is about twice as fast but
        agreed with f32 only to a cosine of 0.994 on lfw_dev (2 of 1,549 photos below
        0.999): its embeddings carry another identity (``<name>+bf16@...``), so a gallery
        of f32 faceprints refuses them.
    dnn_engine : int, optional
        ``cv2.dnn.ENGINE_*`` for the opencv engine (OpenCV 5); its default otherwise.
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
                 batch_size: int = DEFAULT_BATCH_SIZE, engine: str = "auto",
                 precision: str = "f32", dnn_engine: Optional[int] = None,
                 expected_sha256: Optional[str] = None) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.engine = resolve_engine(engine)
        if precision not in ("f32", "bf16") or (precision == "bf16" and self.engine != "openvino"):
            raise InvalidParameterError(f"precision must be 'f32', or 'bf16' with the openvino "
                                        f"engine, got {precision!r} ({self.engine})")
        self.precision = precision
        self.dnn_engine = dnn_engine
        self._model_path = model_path
        data, self.model_info = read_verified("embedder", model_path, expected_sha256)
        self._lock = threading.Lock()
        self._ov: Optional[OpenVINONet] = None
        if self.engine == "openvino":
            self._ov = OpenVINONet(data, f"embedder model {self.model_info.name}",
                                   dynamic=(0,), precision=precision)
            if precision == "bf16":  # agrees with f32 only to 0.994: not the same identity
                self.model_info = dataclasses.replace(
                    self.model_info, name=self.model_info.name + "+bf16")
            return
        buffer = np.frombuffer(data, np.uint8)
        try:
            if dnn_engine is None or not hasattr(cv2.dnn, "ENGINE_AUTO"):
                self._net = cv2.dnn.readNetFromONNX(buffer)
            else:
                self._net = cv2.dnn.readNetFromONNX(buffer, dnn_engine)
        except cv2.error as exc:
            raise ModelIntegrityError(
                f"embedder model {self.model_info.name} could not be loaded by OpenCV: "
                f"{str(exc).strip().splitlines()[-1]}") from exc

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
            raw: NDArray[np.float32]
            if self._ov is not None:
                raw = self._ov.infer(blob)[0]
            else:
                with self._lock:
                    self._net.setInput(blob)
                    raw = np.asarray(self._net.forward(), np.float32)
            out[start:start + len(batch)] = raw.reshape(len(batch), EMBEDDING_DIM)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.maximum(norms, np.finfo(np.float32).tiny, out=norms)
        out /= norms
        return out, norms[:, 0]

    def __getstate__(self) -> dict:
        # The OpenCV net is not picklable: keep what rebuilds it (and re-verifies it).
        return {"model_path": self._model_path, "batch_size": self.batch_size,
                "engine": self.engine, "precision": self.precision,
                "dnn_engine": self.dnn_engine,
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
