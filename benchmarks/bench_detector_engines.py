"""YuNet on cv2.dnn: OpenCV's ``FaceDetectorYN`` (the detector of 0.2) against 0.3's
``YuNetDetector`` (the one net loader of ``engines.py``, decoded in numpy), interleaved on
the test photos at the default detection side; both must find the same faces.

    python benchmarks/bench_detector_engines.py [--rounds 40]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

import face_trigger as ft
from face_trigger.detector import YuNetDetector, detection_size
from face_trigger.model_files import read_verified

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    ours = YuNetDetector(engine="opencv")
    data, _ = read_verified("detector")
    theirs = cv2.FaceDetectorYN.create("onnx", np.frombuffer(data, np.uint8),
                                       np.zeros(0, np.uint8), (320, 320), ours.conf_threshold,
                                       ours.nms_threshold, ours.top_k)
    frames = [ft.read_image(DATA / n) for n in ("obama.jpg", "biden.jpg", "obama2.jpg",
                                                "astronaut.png")]
    for frame in frames:
        ours.detect(frame)
    old, new = [], []
    for _ in range(args.rounds):
        for frame in frames:
            start = time.perf_counter()
            width, height = detection_size(frame.shape[1], frame.shape[0], ours.max_side)
            small = frame if (width, height) == frame.shape[1::-1] else cv2.resize(
                frame, (width, height))
            theirs.setInputSize((width, height))
            _, raw = theirs.detect(small)
            middle = time.perf_counter()
            found = ours.detect(frame)
            end = time.perf_counter()
            old.append(middle - start)
            new.append(end - middle)
            assert len(found) == (0 if raw is None else len(raw))
    before, after = statistics.median(old), statistics.median(new)
    print(f"OpenCV {cv2.__version__}, {len(old)} interleaved calls: FaceDetectorYN median "
          f"{before * 1e3:.2f} ms, YuNetDetector (cv2.dnn) {after * 1e3:.2f} ms, "
          f"ratio {after / before:.2f}x")


if __name__ == "__main__":
    main()
