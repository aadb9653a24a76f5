"""The one loader of ONNX nets: OpenCV's ``cv2.dnn`` (always there) or OpenVINO (the
``[openvino]`` extra, faster on x86 CPUs), behind one :class:`Net` with ``infer``. Both read
the bytes that passed the model's sha256 check; nothing reads the path a second time. The
detector, the embedders and the liveness checker keep only their pre- and post-processing.

OpenVINO compiles a model for this CPU on first use (about 0.3 s for SFace) and keeps the
result in a model cache, ``$FACE_TRIGGER_CACHE_DIR`` or ``~/.cache/face_trigger/openvino``
(``$XDG_CACHE_HOME`` is honoured): later processes load it in about 0.04 s. Whoever can
write that folder can change what the model computes, as with the package itself.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError, ModelIntegrityError
from .model_files import read_verified
from .runtime import opencv_warnings_hidden
from .types import ModelInfo

#: Accepted ``engine`` values; "auto" picks OpenVINO when it is installed.
ENGINES = ("auto", "opencv", "openvino")


def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def resolve_engine(engine: str) -> str:
    """``"opencv"`` or ``"openvino"`` for an ``engine`` setting. "auto" reads
    ``$FACE_TRIGGER_ENGINE`` when set, else picks OpenVINO when installed.
    InvalidParameterError for an unknown name, or for "openvino" without the extra."""
    if engine not in ENGINES:
        raise InvalidParameterError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "auto":
        chosen = os.environ.get("FACE_TRIGGER_ENGINE", "auto") or "auto"
        if chosen not in ENGINES:
            raise InvalidParameterError(f"$FACE_TRIGGER_ENGINE must be one of {ENGINES}, got "
                                        f"{chosen!r}")
        if chosen != "auto":
            return resolve_engine(chosen)
        return "openvino" if openvino_available() else "opencv"
    if engine == "openvino" and not openvino_available():
        raise InvalidParameterError("engine 'openvino' needs the extra: "
                                    "pip install openvino (the [openvino] extra)")
    return engine


def cache_dir() -> Path:
    """Where OpenVINO keeps compiled models (created on first use)."""
    explicit = os.environ.get("FACE_TRIGGER_CACHE_DIR")
    if explicit:
        return Path(explicit) / "openvino"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "face_trigger" / "openvino"


class Net:
    """One ONNX model ready to run on the engine chosen, from verified bytes.

    ``infer(batch)`` returns the model's outputs, float32, in the model's order. With
    ``uint8_nhwc`` it takes uint8 (N, H, W, C) images; otherwise a float32 NCHW blob.
    One inference at a time per instance (internal lock): for parallel throughput, one
    net per worker. A net made by :func:`open_net` pickles as the file it came from and
    its hash, and is read and checked again when unpickled (joblib, multiprocessing).
    """

    engine = "base"
    precision = "f32"

    def __init__(self) -> None:
        self.origin: Optional[Dict[str, Any]] = None
        self._lock = threading.Lock()

    def infer(self, batch: NDArray[Any]) -> List[NDArray[np.float32]]:
        """The outputs for one input, copied out of the engine's buffers."""
        with self._lock:
            return self._run(batch)

    def _run(self, batch: NDArray[Any]) -> List[NDArray[np.float32]]:
        raise NotImplementedError

    def __reduce__(self) -> Tuple[Any, ...]:
        if self.origin is None:
            raise TypeError("a Net loaded from bytes cannot be pickled; use open_net")
        return (_reopen, (self.origin,))


def _reopen(origin: Dict[str, Any]) -> Net:
    return open_net(**origin)[0]


class OpenCVNet(Net):
    """One ONNX model read by ``cv2.dnn`` (``dnn_engine``: a ``cv2.dnn.ENGINE_*`` of OpenCV 5,
    its default otherwise)."""

    engine = "opencv"

    def __init__(self, data: bytes, name: str, uint8_nhwc: bool = False,
                 dnn_engine: Optional[int] = None) -> None:
        super().__init__()
        try:
            with opencv_warnings_hidden(), _as_file(data) as source:
                if dnn_engine is None or not hasattr(cv2.dnn, "ENGINE_AUTO"):
                    self._net = cv2.dnn.readNetFromONNX(source)
                else:
                    self._net = cv2.dnn.readNetFromONNX(source, dnn_engine)
        except cv2.error as exc:
            raise ModelIntegrityError(f"{name} could not be loaded by OpenCV: "
                                      f"{str(exc).strip().splitlines()[-1]}") from exc
        self._uint8_nhwc = uint8_nhwc
        self._outputs = list(self._net.getUnconnectedOutLayersNames())

    def _run(self, batch: NDArray[Any]) -> List[NDArray[np.float32]]:
        if self._uint8_nhwc:  # numpy's NCHW copy: 0.6 ms for 608x736, blobFromImages 3.1 ms
            batch = batch.transpose(0, 3, 1, 2)
        self._net.setInput(np.ascontiguousarray(batch, np.float32))
        if len(self._outputs) == 1:
            return [np.asarray(self._net.forward(), np.float32)]
        return [np.asarray(o, np.float32) for o in self._net.forward(self._outputs)]


@contextlib.contextmanager
def _as_file(data: bytes) -> Iterator[Any]:
    """The verified bytes as cv2.dnn reads them with the least memory: an anonymous
    in-memory file (Linux memfd) named by its /proc path, so OpenCV parses them as a file
    instead of copying a buffer first (SFace: peak 204 MB instead of 241 in one process);
    elsewhere the buffer. The path names exactly these bytes: no other process can
    change them between the check and the load."""
    create = getattr(os, "memfd_create", None)
    fd = -1
    if create is not None:
        try:
            fd = create("face_trigger-model.onnx", getattr(os, "MFD_CLOEXEC", 0))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError:  # no memfd here (an old kernel, a sandbox): the buffer
            if fd >= 0:
                os.close(fd)
            fd = -1
    path = f"/proc/self/fd/{fd}"
    try:
        yield path if fd >= 0 and os.path.exists(path) else np.frombuffer(data, np.uint8)
    finally:
        if fd >= 0:
            os.close(fd)


class OpenVINONet(Net):
    """One ONNX model compiled by OpenVINO for the CPU, from verified bytes.

    ``dynamic`` lists the input dimensions (NCHW) left free: the batch of SFace, the height
    and width of YuNet's padded frame. One compiled model serves every size, with no
    recompilation and one cache entry (a static shape was 0.8 ms faster for YuNet at
    736x416, but every new frame size cost a compile and a cache file). With
    ``uint8_nhwc`` the model takes uint8 (N, H, W, C) images and converts them inside the
    graph (1.4 ms less than ``cv2.dnn.blobFromImage`` for YuNet at 736x416, same outputs).
    """

    engine = "openvino"

    def __init__(self, data: bytes, name: str, dynamic: Sequence[int] = (),
                 precision: str = "f32", uint8_nhwc: bool = False) -> None:
        import openvino as ov  # noqa: PLC0415 - optional extra, imported only when chosen

        super().__init__()
        self.name = name
        core = ov.Core()
        try:
            folder = cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(folder)})
        except (OSError, RuntimeError, KeyError):  # no home folder, read-only, ...
            pass  # no cache: every process compiles again, nothing else changes
        try:
            model = core.read_model(bytes(data), ov.Tensor(np.empty(0, np.uint8)))
            shape = model.inputs[0].get_partial_shape()  # a dimension may be dynamic already
            dims = [-1 if i in dynamic or shape[i].is_dynamic else shape[i].get_length()
                    for i in range(shape.rank.get_length())]
            model.reshape({model.inputs[0].get_any_name(): ov.PartialShape(dims)})
            if uint8_nhwc:  # the graph takes BGR uint8 (N, H, W, 3) and converts it itself
                from openvino.preprocess import PrePostProcessor  # noqa: PLC0415

                steps = PrePostProcessor(model)
                steps.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
                steps.input().model().set_layout(ov.Layout("NCHW"))
                steps.input().preprocess().convert_element_type(ov.Type.f32)
                model = steps.build()
            compiled = core.compile_model(model, "CPU", {
                "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision,
                # as many threads as OpenCV's setting (configure_opencv(threads=...))
                "INFERENCE_NUM_THREADS": max(1, cv2.getNumThreads())})
        except RuntimeError as exc:
            raise ModelIntegrityError(f"{name} could not be loaded by OpenVINO: "
                                      f"{str(exc).strip().splitlines()[-1]}") from exc
        self.precision = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
        self._outputs = len(compiled.outputs)
        self._request = compiled.create_infer_request()

    def _run(self, batch: NDArray[Any]) -> List[NDArray[np.float32]]:
        self._request.infer({0: batch})
        return [np.array(self._request.get_output_tensor(i).data, np.float32)
                for i in range(self._outputs)]


def load_net(data: bytes, engine: str, *, name: str = "model", dynamic: Sequence[int] = (),
             precision: str = "f32", uint8_nhwc: bool = False,
             dnn_engine: Optional[int] = None) -> Net:
    """A :class:`Net` for verified ONNX bytes on ``engine`` ("auto", "opencv", "openvino").

    ``dynamic`` (OpenVINO; cv2.dnn takes any shape): input dimensions (NCHW) left free;
    ``precision`` (OpenVINO): "f32" or "bf16"; ``uint8_nhwc``: ``infer`` takes uint8
    (N, H, W, C) images and the net converts them; ``dnn_engine`` (cv2.dnn; ignored by
    OpenVINO): a ``cv2.dnn.ENGINE_*``. ``name`` is used in errors. ModelIntegrityError when
    the engine cannot parse the bytes.
    """
    if resolve_engine(engine) == "openvino":
        return OpenVINONet(data, name, dynamic=dynamic, precision=precision,
                           uint8_nhwc=uint8_nhwc)
    if precision != "f32":
        raise InvalidParameterError(f"precision {precision!r} needs the openvino engine")
    return OpenCVNet(data, name, uint8_nhwc=uint8_nhwc, dnn_engine=dnn_engine)


def open_net(role: str, path: Union[str, os.PathLike, None] = None,
             sha256: Optional[str] = None, engine: str = "auto", **options: Any
             ) -> Tuple[Net, ModelInfo]:
    """Read a model file with its integrity check (:func:`model_files.read_verified`) and
    load it with :func:`load_net`; the net remembers where it came from, to pickle."""
    data, info = read_verified(role, path, sha256)
    net = load_net(data, engine, name=f"{role} model {info.name}", **options)
    net.origin = {"role": role, "path": path, "sha256": info.sha256, "engine": net.engine,
                  **options}
    return net, info
