"""Which runtime runs the ONNX files: OpenCV's ``cv2.dnn`` (always there) or OpenVINO (the
``[openvino]`` extra, faster on x86 CPUs). Both read the bytes that passed the model's
sha256 check; nothing reads the path a second time.

OpenVINO compiles a model for this CPU on first use (about 0.3 s for SFace) and keeps the
result in a model cache, ``$FACE_TRIGGER_CACHE_DIR`` or ``~/.cache/face_trigger/openvino``
(``$XDG_CACHE_HOME`` is honoured): later processes load it in about 0.04 s. Whoever can
write that folder can change what the model computes, as with the package itself.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, List, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from .errors import InvalidParameterError, ModelIntegrityError

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
                                    "pip install 'face_trigger[openvino]'")
    return engine


def cache_dir() -> Path:
    """Where OpenVINO keeps compiled models (created on first use)."""
    explicit = os.environ.get("FACE_TRIGGER_CACHE_DIR")
    if explicit:
        return Path(explicit) / "openvino"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "face_trigger" / "openvino"


class OpenVINONet:
    """One ONNX model compiled by OpenVINO for the CPU, from verified bytes.

    ``dynamic`` lists the input dimensions (NCHW) left free: the batch of SFace, the height
    and width of YuNet's padded frame. One compiled model serves every size, with no
    recompilation and one cache entry (a static shape was 0.8 ms faster for YuNet at
    736x416, but every new frame size cost a compile and a cache file). With
    ``uint8_nhwc`` the model takes uint8 (N, H, W, C) images and converts them inside the
    graph (1.4 ms less than ``cv2.dnn.blobFromImage`` for YuNet at 736x416, same outputs).
    ``infer`` returns the outputs in the model's order. One inference at a time per
    instance (internal lock).
    """

    def __init__(self, data: bytes, name: str, dynamic: Sequence[int] = (),
                 precision: str = "f32", uint8_nhwc: bool = False) -> None:
        import openvino as ov  # noqa: PLC0415 - optional extra, imported only when chosen

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
        self._lock = threading.Lock()

    def infer(self, blob: NDArray[Any]) -> List[NDArray[np.float32]]:
        """The outputs for one input (a float32 NCHW blob, or uint8 NHWC images), copied out
        of OpenVINO's buffers."""
        with self._lock:
            self._request.infer({0: blob})
            return [np.array(self._request.get_output_tensor(i).data, np.float32)
                    for i in range(self._outputs)]
