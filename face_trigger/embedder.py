"""Embedders: aligned 112x112 chips -> unit-length float32 embeddings. :class:`SFaceEmbedder`
runs the bundled SFace model (128-d); :class:`OnnxEmbedder` runs a user's own ONNX model
(an ArcFace-family 512-d one, say) with its own pre-processing. Anything with ``model``,
``dim`` and ``embed_chips`` (the :class:`Embedder` protocol) can stand in a
:class:`~face_trigger.FacePipeline`."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional, Protocol, Sequence, Tuple, Union, runtime_checkable

import cv2
import numpy as np
from numpy.typing import NDArray

from ._validate import EMBEDDING_DIM, check_channels, check_int, describe
from .align import CHIP_SIZE
from .engines import Net, open_net, resolve_engine
from .errors import InvalidImageError, InvalidParameterError, ModelIntegrityError
from .types import ModelInfo

#: Chips per forward pass. Batching saves ~10 % per face on 2 cores and bounds memory.
DEFAULT_BATCH_SIZE = 32


@runtime_checkable
class Embedder(Protocol):
    """What a :class:`~face_trigger.FacePipeline` needs of an embedder.

    ``model`` is the identity recorded on every embedding (faceprints, galleries and
    recognizer files refuse vectors of another model); ``dim`` the embedding size;
    ``embed_chips`` turns aligned BGR uint8 chips (N, 112, 112, 3) into float32 (N, dim)
    unit rows.
    """

    @property
    def model(self) -> ModelInfo: ...

    @property
    def dim(self) -> int: ...

    def embed_chips(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]: ...


def embed_with_norms(embedder: Embedder, chips: NDArray[np.uint8]
                     ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Unit rows and each raw output's L2 norm (a face-quality signal) from any embedder;
    an embedder that does not report norms gives NaN norms (quality gates on the norm then
    pass every face)."""
    method = getattr(embedder, "embed_chips_with_norms", None)
    if method is not None:
        return method(chips)  # type: ignore[no-any-return]
    rows = embedder.embed_chips(chips)
    return rows, np.full(len(rows), np.nan, np.float32)


class OnnxEmbedder:
    """An embedding model of your own, as an ONNX file, on the same engines as the bundled
    one.

    Parameters
    ----------
    path : path
        The ONNX file. Its input is a float32 (N, 3, H, W) batch, its output (N, dim).
    sha256 : str, optional
        Refuse the file unless its SHA-256 is this (recommended for anything deployed).
    dim : int, optional
        Embedding size; read from the model (one forward pass at load) when omitted; when
        given, every forward pass checks that the model's output has this size.
    input_size : (int, int)
        (width, height) the model takes; the 112x112 aligned chips are resized to it.
    mean, std : float or 3 floats
        The model's input is ``(pixel - mean) / std``, per channel in the model's order.
        The defaults (127.5, 127.5) are insightface's ArcFace convention.
    channels : {"bgr", "rgb"}
        Channel order the model expects (insightface's ArcFace models: "rgb").
    batch_size : int
        Chips per forward pass.
    engine : {"auto", "opencv", "openvino"}
        Runtime (:mod:`face_trigger.engines`).
    precision : {"f32", "bf16"}
        "bf16" only with OpenVINO; its embeddings carry another identity
        (``<name>+bf16@...``).
    dnn_engine : int, optional
        ``cv2.dnn.ENGINE_*`` for the opencv engine (OpenCV 5).

    The identity (:attr:`model`) is the file's name and SHA-256. Pickles as the file and
    its hash: unpickling reads and checks it again.
    """

    def __init__(self, path: Union[str, os.PathLike, None], sha256: Optional[str] = None,
                 dim: Optional[int] = None, input_size: Tuple[int, int] = (CHIP_SIZE, CHIP_SIZE),
                 mean: Union[float, Sequence[float]] = 127.5,
                 std: Union[float, Sequence[float]] = 127.5, channels: str = "bgr", *,
                 batch_size: int = DEFAULT_BATCH_SIZE, engine: str = "auto",
                 precision: str = "f32", dnn_engine: Optional[int] = None) -> None:
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.engine = resolve_engine(engine)
        if precision not in ("f32", "bf16") or (precision == "bf16" and self.engine != "openvino"):
            raise InvalidParameterError(f"precision must be 'f32', or 'bf16' with the openvino "
                                        f"engine, got {precision!r} ({self.engine})")
        self.precision = precision
        self.dnn_engine = dnn_engine
        self.channels = check_channels(channels)
        self.input_size = _check_size(input_size)
        self.mean = _per_channel(mean, "mean")
        self.std = _per_channel(std, "std")
        if np.any(self.std == 0):
            raise InvalidParameterError("std must not be 0")
        if dim is not None:
            check_int(dim, "dim", 1)
        self._net: Net
        self._net, self.model_info = open_net("embedder", path, sha256, self.engine,
                                              dynamic=(0,), precision=precision,
                                              dnn_engine=dnn_engine)
        if precision == "bf16":  # agrees with f32 only to 0.994: not the same identity
            self.model_info = dataclasses.replace(self.model_info,
                                                  name=self.model_info.name + "+bf16")
        self._dim = self._probe_dim() if dim is None else int(dim)

    def _probe_dim(self) -> int:
        out = self._net.infer(self._blob(np.zeros((1, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)))[0]
        if out.ndim < 2 or out.shape[0] != 1 or out.size < 2:
            raise ModelIntegrityError(f"embedder model {self.model_info.name} gives an output "
                                      f"of shape {out.shape} for one chip, not (1, dim)")
        return int(out.size)

    @property
    def model(self) -> ModelInfo:
        """Identity of the loaded file; recorded on every embedding."""
        return self.model_info

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self._dim

    def _blob(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        if self.input_size != (CHIP_SIZE, CHIP_SIZE):
            chips = np.stack([cv2.resize(c, self.input_size, interpolation=cv2.INTER_LINEAR)
                              for c in chips])
        if self.channels == "rgb":
            chips = chips[..., ::-1]
        blob = (chips.astype(np.float32) - self.mean) / self.std
        return np.ascontiguousarray(blob.transpose(0, 3, 1, 2))

    def embed_chips(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Embed aligned chips.

        Parameters
        ----------
        chips : ndarray, uint8 (N, 112, 112, 3) or (112, 112, 3)
            BGR chips from :func:`face_trigger.align.align_faces`.

        Returns
        -------
        ndarray, float32 (N, dim)
            L2-normalised rows, row i for chip i; (0, dim) for N = 0.

        Raises
        ------
        InvalidImageError
            Wrong type, dtype or shape.
        """
        return self.embed_chips_with_norms(chips)[0]

    def embed_chips_with_norms(self, chips: NDArray[np.uint8]
                               ) -> Tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Embed aligned chips and keep the norm of each raw output.

        For SFace the raw norm (about 12 for a clear frontal face, lower for blurred, small
        or turned ones) is a face-quality signal: see docs/door.md, "Quality gates".

        Returns
        -------
        embeddings : ndarray, float32 (N, dim)
            As :meth:`embed_chips`.
        norms : ndarray, float32 (N,)
            L2 norm of each row before normalisation.
        """
        chips = _check_chips(chips)
        out = np.empty((chips.shape[0], self._dim), np.float32)
        for start in range(0, chips.shape[0], self.batch_size):
            batch = chips[start:start + self.batch_size]
            raw = self._net.infer(self._blob(batch))[0]
            if raw.size != len(batch) * self._dim:
                raise ModelIntegrityError(
                    f"embedder model {self.model_info.name} gave an output of shape "
                    f"{raw.shape} for {len(batch)} chips, not ({len(batch)}, {self._dim})")
            out[start:start + len(batch)] = raw.reshape(len(batch), self._dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.maximum(norms, np.finfo(np.float32).tiny, out=norms)
        out /= norms
        return out, norms[:, 0]


class SFaceEmbedder(OnnxEmbedder):
    """The bundled SFace model (MobileFaceNet, 128-d), many chips per forward pass.

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
        agreed with f32 only to a cosine of 0.994 on lfw_dev: its embeddings carry another
        identity (``<name>+bf16@...``), so a gallery of f32 faceprints refuses them.
    dnn_engine : int, optional
        ``cv2.dnn.ENGINE_*`` for the opencv engine (OpenCV 5); its default otherwise.
    expected_sha256 : str, optional
        Pin a custom model file to this hash (bundled files are always checked).

    Notes
    -----
    The input is raw 0-255 RGB (the SFace graph normalises internally); the raw output
    (norm about 12) is divided by its L2 norm here and only here. One forward pass at a
    time per instance (internal lock); one instance per worker for parallel throughput.
    """

    def __init__(self, model_path: Union[str, os.PathLike, None] = None, *,
                 batch_size: int = DEFAULT_BATCH_SIZE, engine: str = "auto",
                 precision: str = "f32", dnn_engine: Optional[int] = None,
                 expected_sha256: Optional[str] = None) -> None:
        super().__init__(model_path, expected_sha256, EMBEDDING_DIM, mean=0.0, std=1.0,
                         channels="rgb", batch_size=batch_size, engine=engine,
                         precision=precision, dnn_engine=dnn_engine)


def _per_channel(value: Any, name: str) -> NDArray[np.float32]:
    try:
        array = np.asarray(value, np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a number or 3 numbers, "
                                    f"got {value!r}") from None
    if array.size not in (1, 3) or not np.isfinite(array).all():
        raise InvalidParameterError(f"{name} must be a number or 3 finite numbers, "
                                    f"got {value!r}")
    return np.broadcast_to(array, (3,)).astype(np.float32)


def _check_size(size: Any) -> Tuple[int, int]:
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 16
                       for v in size)):
        raise InvalidParameterError(f"input_size must be (width, height) ints >= 16, "
                                    f"got {size!r}")
    return int(size[0]), int(size[1])


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
