"""YuNet face detector on a downscaled copy of the frame: the network on either engine
(:mod:`face_trigger.engines`), decoded as OpenCV's ``FaceDetectorYN`` decodes it (the same
rows to 1.5e-5 px on the test photos)."""
from __future__ import annotations

import os
from typing import Optional, Tuple, Union

import cv2
import numpy as np

from . import thresholds
from ._validate import bgr_frame, check_int, check_range, check_side
from .engines import Net, open_net, resolve_engine
from .types import Detections, ModelInfo

_YUNET_COLUMNS = 15  # x, y, w, h, 5 x (x, y) landmarks, score


def detection_size(width: int, height: int, max_side: Optional[int]) -> Tuple[int, int]:
    """Size (w, h) the detector runs at: the frame scaled so that its longer side
    is at most ``max_side``; never upscaled. ``None`` means full resolution."""
    longer = max(width, height)
    if max_side is None or longer <= max_side:
        return width, height
    scale = max_side / longer
    return max(1, round(width * scale)), max(1, round(height * scale))


class YuNetDetector:
    """Find faces, their five landmarks and confidence scores.

    Parameters
    ----------
    model_path : path, optional
        YuNet ONNX file; ``None`` uses the bundled, checksum-verified model.
    conf_threshold : float
        Minimum score in [0, 1]. Raising it drops doubtful faces (fewer false
        detections, e.g. faces in posters); lowering it finds smaller, blurrier
        or turned faces at the cost of more false ones.
    nms_threshold : float
        IoU in [0, 1] above which overlapping boxes are merged.
    max_count : int
        Faces returned at most, strongest first.
    max_side : int or None
        Longest side of the detection copy (default 736). Frames larger than this
        are downscaled before detection: much faster, and at 736 faces 60 px wide
        and more in a 1080p frame are still found. For smaller faces raise it
        (960: faces down to 50 px; 1280: 40 px) or pass ``None`` for full
        resolution (5-10x slower at 1080p); lower it (480, about twice as fast)
        when faces are large (100 px and more). Frames are never upscaled. See
        ``benchmarks/bench_min_face.py`` for the measured table.
    top_k : int
        Candidates kept before non-maximum suppression.
    expected_sha256 : str, optional
        Pin a custom model file to this hash (bundled files are always checked).
    engine : {"auto", "opencv", "openvino"}
        Runtime (:mod:`face_trigger.engines`); "auto" = OpenVINO when installed, with
        OpenCV's decoding and non-maximum suppression reproduced (boxes within about a
        pixel, embeddings of the faces found agree to a cosine of 0.9998).

    Notes
    -----
    Thread safety: an OpenCV detector holds per-call state (input size, blob).
    ``detect`` takes an internal lock, so one instance may be shared between
    threads, but calls then run one at a time; for parallel throughput use one
    instance per thread or process.
    """

    def __init__(self, model_path: Union[str, os.PathLike, None] = None, *,
                 conf_threshold: float = thresholds.DETECT_CONF,
                 nms_threshold: float = thresholds.DETECT_NMS,
                 max_count: int = thresholds.MAX_FACES,
                 max_side: Optional[int] = thresholds.DETECT_MAX_SIDE,
                 top_k: int = thresholds.DETECT_TOP_K,
                 expected_sha256: Optional[str] = None, engine: str = "auto") -> None:
        _check_params(conf_threshold, nms_threshold, max_count)
        check_side(max_side)
        self.conf_threshold = float(conf_threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_count = int(max_count)
        self.max_side = None if max_side is None else int(max_side)
        self.top_k = check_int(top_k, "top_k", 1)
        self.engine = resolve_engine(engine)
        # f32 on OpenVINO: in bf16 the landmarks moved by up to 1 px and end-to-end
        # embeddings by a cosine of up to 0.015 from cv2.dnn's (docs/pipeline.md)
        self._net: Net
        self._net, self.model_info = open_net("detector", model_path, expected_sha256,
                                              self.engine, uint8_nhwc=True,
                                              dynamic=(2, 3))

    @property
    def model(self) -> ModelInfo:
        """Identity of the loaded YuNet file."""
        return self.model_info

    def detect(self, frame: np.ndarray, *, conf_threshold: Optional[float] = None,
               nms_threshold: Optional[float] = None,
               max_count: Optional[int] = None, max_side: Union[int, None, str] = "instance",
               channels: str = "bgr") -> Detections:
        """Detect faces in one frame.

        Parameters
        ----------
        frame : ndarray, uint8 (H, W, 3)
            BGR image (RGB with ``channels="rgb"``); not modified.
        conf_threshold, nms_threshold, max_count : optional
            Override the instance's settings for this call.
        max_side : int or None, optional
            Override the instance's detection side for this call (``None``: full
            resolution); by default the instance's.
        channels : {"bgr", "rgb"}
            Channel order of ``frame``.

        Returns
        -------
        Detections
            boxes float32 (N, 4) x1, y1, x2, y2 clipped to the frame; landmarks
            float32 (N, 5, 2) (not clipped); scores float32 (N,) descending;
            N <= max_count, possibly 0.

        Raises
        ------
        InvalidImageError
            ``frame`` is not a non-empty uint8 (H, W, 3) array.
        """
        frame = bgr_frame(frame, "frame", channels)
        conf = self.conf_threshold if conf_threshold is None else conf_threshold
        nms = self.nms_threshold if nms_threshold is None else nms_threshold
        count = self.max_count if max_count is None else max_count
        _check_params(conf, nms, count)
        side = (self.max_side if isinstance(max_side, str) and max_side == "instance"
                else check_side(max_side))
        height, width = frame.shape[:2]
        det_w, det_h = detection_size(width, height, side)
        small = frame if (det_w, det_h) == (width, height) else cv2.resize(
            frame, (det_w, det_h), interpolation=cv2.INTER_LINEAR)
        raw = _yunet_decode(self._net, small, float(conf), float(nms), self.top_k)
        if len(raw) == 0:
            return Detections.empty()
        raw = raw.reshape(-1, _YUNET_COLUMNS).astype(np.float32)
        raw = raw[np.argsort(-raw[:, 14], kind="stable")][:count]
        scale = np.array([width / det_w, height / det_h], np.float32)
        xy = raw[:, 0:2] * scale
        wh = raw[:, 2:4] * scale
        boxes = np.concatenate([xy, xy + wh], axis=1)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        landmarks = raw[:, 4:14].reshape(-1, 5, 2) * scale
        return Detections(boxes, landmarks, np.asarray(raw[:, 14], np.float32))


def _check_params(conf: float, nms: float, count: int) -> None:
    check_range(conf, "conf_threshold", 0.0, 1.0)
    check_range(nms, "nms_threshold", 0.0, 1.0)
    check_int(count, "max_count", 1)


#: YuNet's feature strides; its input is padded to a multiple of the largest.
_STRIDES = (8, 16, 32)


def _yunet_decode(net: Net, image: np.ndarray, conf: float, nms: float,
                  top_k: int) -> np.ndarray:
    """What ``FaceDetectorYN.detect`` returns, float32 (M, 15), with OpenCV's own decoding:
    the image padded right and bottom to a multiple of 32, scores sqrt(cls * obj) of the
    clipped outputs, boxes and landmarks from each stride's grid, then non-maximum
    suppression on integer boxes, as OpenCV does."""
    height, width = image.shape[:2]
    pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
    padded = cv2.copyMakeBorder(image, 0, pad_h - height, 0, pad_w - width,
                                cv2.BORDER_CONSTANT, value=0)
    outputs = net.infer(padded[None])
    rows = []
    for i, stride in enumerate(_STRIDES):
        cls, obj, bbox, kps = (outputs[i + 3 * k][0] for k in range(4))
        score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
        keep = np.flatnonzero(score >= conf)
        if not keep.size:
            continue
        cols = pad_w // stride
        grid = np.stack([keep % cols, keep // cols], axis=1).astype(np.float32)
        centre = (grid + bbox[keep, :2]) * stride
        size = np.exp(bbox[keep, 2:4]) * stride
        points = (kps[keep].reshape(-1, 5, 2) + grid[:, None, :]) * stride
        rows.append(np.concatenate([centre - size / 2, size, points.reshape(-1, 10),
                                    score[keep, None]], axis=1))
    if not rows:
        return np.zeros((0, _YUNET_COLUMNS), np.float32)
    faces = np.concatenate(rows).astype(np.float32)
    if len(faces) > 1:
        boxes = [[int(v) for v in row[:4]] for row in faces]
        kept = cv2.dnn.NMSBoxes(boxes, faces[:, 14].tolist(), conf, nms, 1.0, top_k)
        faces = faces[np.asarray(kept, np.int64).reshape(-1)]
    return faces
