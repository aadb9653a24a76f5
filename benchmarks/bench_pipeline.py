"""Pipeline speed: our detect -> align -> embed against the plain OpenCV recipe.

Run by hand:  python benchmarks/bench_pipeline.py [--repeats 50]

Inputs are built from tests/data: the standard latency frame (obama.jpg scaled to 1080 px
high on a 1920x1080 canvas) and a 1080p frame with ten faces. The baseline, timed in the
same interleaved run, is OpenCV's own recipe: FaceDetectorYN on a 640-wide resize, then
FaceRecognizerSF.alignCrop + feature for one face at a time.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

import face_trigger as ft
from _timing import machine_line, measure, report
from face_trigger.testing import FULL_HD, full_hd_frame, paste_faces

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


class OpenCVRecipe:
    """The documented OpenCV way: FaceDetectorYN at 640 wide + alignCrop + feature per face."""

    def __init__(self, width: int = 640) -> None:
        det_bytes, _ = ft.model_files.read_verified("detector")
        rec_bytes, _ = ft.model_files.read_verified("embedder")
        empty = np.zeros(0, np.uint8)
        self.width = width
        self.detector = cv2.FaceDetectorYN.create("onnx", np.frombuffer(det_bytes, np.uint8),
                                                  empty, (width, width), ft.thresholds.DETECT_CONF,
                                                  ft.thresholds.DETECT_NMS, 5000)
        self.recognizer = cv2.FaceRecognizerSF.create("onnx", np.frombuffer(rec_bytes, np.uint8),
                                                      empty)

    def detect(self, frame):
        scale = self.width / frame.shape[1]
        size = (self.width, round(frame.shape[0] * scale))
        self.detector.setInputSize(size)
        _, faces = self.detector.detect(cv2.resize(frame, size))
        if faces is None:
            return np.zeros((0, 15), np.float32)
        faces = faces.copy()
        faces[:, :14] /= scale
        return faces

    def __call__(self, frame):
        faces = self.detect(frame)
        features = [self.recognizer.feature(self.recognizer.alignCrop(frame, row))
                    for row in faces]
        return faces, features


OURS = f"ours: detect_embedding (cv2.dnn, detector side {ft.thresholds.DETECT_MAX_SIDE})"
SEED = "seed: ft.detect_embedding after ft.load_model() (the module API)"
FAST = "openvino: detect_embedding (detector side 736)"


def ten_face_frame(pipeline: ft.FacePipeline) -> np.ndarray:
    names = ["obama", "biden", "astronaut", "obama2", "obama3"]
    photos = {n: ft.read_image(next(DATA.glob(n + ".*"))) for n in names}
    items = []
    for i in range(10):
        name = names[i % len(names)]
        face = pipeline.analyze(photos[name])[0]
        crop = ft.image_io.crop_around(photos[name], face.box, margin=0.4)
        face_px = 80 + 15 * i
        items.append((crop, 40 + (i % 5) * 375, 60 + (i // 5) * 500, face_px / face.width))
    return paste_faces(FULL_HD, items)


def cold_start_seconds(runs: int, engine: str, cache: str) -> list:
    """Fresh processes: import, FacePipeline(engine=...), first detect_embedding on a 1080p
    frame. ``cache``: "cold" empties OpenVINO's model cache before each run."""
    code = ("import time, sys; t = time.perf_counter(); import face_trigger as ft; "
            "imported = time.perf_counter() - t; "
            "from face_trigger.testing import full_hd_frame; "
            "frame = full_hd_frame(ft.read_image(sys.argv[2])); t = time.perf_counter(); "
            "ft.FacePipeline(engine=sys.argv[1]).detect_embedding(frame); "
            "print(imported + time.perf_counter() - t)")
    out = []
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, FACE_TRIGGER_CACHE_DIR=folder)
        for _ in range(runs):
            if cache == "cold":
                shutil.rmtree(Path(folder) / "openvino", ignore_errors=True)
            result = subprocess.run([sys.executable, "-c", code, engine,
                                     str(DATA / "obama.jpg")], capture_output=True, text=True,
                                    check=True, env=env,
                                    cwd=Path(__file__).resolve().parent.parent)
            out.append(float(result.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--load-runs", type=int, default=15)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())

    pipeline = ft.FacePipeline(engine="opencv")
    fast = ft.FacePipeline(engine="openvino") if ft.engines.openvino_available() else None
    ft.load_model()  # the seed's usage: the module API's pipeline (engine "auto"), loaded once
    recipe = OpenCVRecipe()
    one = full_hd_frame(ft.read_image(DATA / "obama.jpg"))
    ten = ten_face_frame(pipeline)

    for label, frame in (("1080p, one face", one), ("1080p, ten faces", ten)):
        det = pipeline.detect(frame)
        faces, _ = recipe(frame)
        print(f"\n{label}: ours finds {len(det)} faces, recipe finds {len(faces)}")
        chips = ft.align.align_faces(frame, det.landmarks)
        cases = {
            "recipe: resize+FaceDetectorYN 640 + alignCrop+feature": lambda: recipe(frame),
            "recipe stage: resize + FaceDetectorYN 640": lambda: recipe.detect(frame),
            OURS:
                lambda: pipeline.detect_embedding(frame),
            SEED: lambda: ft.detect_embedding(frame),
            "ours stage: resize + detect": lambda: pipeline.detect(frame),
            "ours stage: align": lambda: ft.align.align_faces(frame, det.landmarks),
            "ours stage: embed (batched)": lambda: pipeline.embedder.embed_chips(chips),
        }
        for side in (640, 480):
            detector = ft.detector.YuNetDetector(max_side=side, engine="opencv")
            other = ft.FacePipeline(detector, pipeline.embedder)
            cases[f"ours: detect_embedding, detector side {side}"] = \
                (lambda p=other: p.detect_embedding(frame))
        if fast is not None:
            fast_chips = ft.align.align_faces(frame, fast.detect(frame).landmarks)
            cases[FAST] = lambda: fast.detect_embedding(frame)
            cases["openvino stage: resize + detect"] = lambda: fast.detect(frame)
            cases["openvino stage: embed (batched)"] = \
                (lambda: fast.embedder.embed_chips(fast_chips))
            small = ft.detector.YuNetDetector(max_side=640, engine="openvino")
            fast640 = ft.FacePipeline(small, fast.embedder)
            cases["openvino: detect_embedding, detector side 640"] = \
                (lambda: fast640.detect_embedding(frame))
        medians = report(measure(cases, args.repeats),
                         baseline="recipe: resize+FaceDetectorYN 640 + alignCrop+feature",
                         title=f"{label} (interleaved, {args.repeats} runs each)")
        if len(det):
            print(f"  per face, ours end to end: "
                  f"{medians[OURS] / len(det) * 1e3:.2f} ms")
        same = FAST if fast is not None else OURS
        print(f"  the module API against the pipeline method on the same engine: "
              f"{medians[SEED] / medians[same]:.3f}x")

    print("\nimport face_trigger + FacePipeline() + first detect_embedding (1080p) in a fresh "
          "process (reading the photo excluded):")
    starts = [("opencv", "warm")]
    if ft.engines.openvino_available():
        starts += [("openvino", "cold"), ("openvino", "warm")]
    for engine, cache in starts:
        loads = cold_start_seconds(args.load_runs, engine, cache)
        label = engine + (f", model cache {cache}" if engine == "openvino" else "")
        print(f"  {label}: median {statistics.median(loads) * 1e3:.0f} ms, p90 "
              f"{np.percentile(loads, 90) * 1e3:.0f} ms over {len(loads)} runs")


if __name__ == "__main__":
    main()
