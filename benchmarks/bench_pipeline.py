"""Pipeline speed: our detect -> align -> embed against the plain OpenCV recipe.

Run by hand:  python benchmarks/bench_pipeline.py [--repeats 50]

Inputs are built from tests/data: the standard latency frame (obama.jpg scaled to 1080 px
high on a 1920x1080 canvas) and a 1080p frame with ten faces. The baseline, timed in the
same interleaved run, is OpenCV's own recipe: FaceDetectorYN on a 640-wide resize, then
FaceRecognizerSF.alignCrop + feature for one face at a time.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
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


OURS = f"ours: detect_embedding (detector side {ft.thresholds.DETECT_MAX_SIDE})"
SEED = "seed: ft.detect_embedding after ft.load_model() (the module API)"


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


def import_and_load_seconds(runs: int) -> list:
    code = ("import time; t = time.perf_counter(); import face_trigger as ft; "
            "ft.FacePipeline(); print(time.perf_counter() - t)")
    out = []
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True, cwd=Path(__file__).resolve().parent.parent)
        out.append(float(result.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--load-runs", type=int, default=15)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())

    pipeline = ft.FacePipeline()
    ft.load_model()  # the seed's usage: the module API's pipeline, loaded once
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
            detector = ft.detector.YuNetDetector(max_side=side)
            other = ft.FacePipeline(detector, pipeline.embedder)
            cases[f"ours: detect_embedding, detector side {side}"] = \
                (lambda p=other: p.detect_embedding(frame))
        medians = report(measure(cases, args.repeats),
                         baseline="recipe: resize+FaceDetectorYN 640 + alignCrop+feature",
                         title=f"{label} (interleaved, {args.repeats} runs each)")
        if len(det):
            print(f"  per face, ours end to end: "
                  f"{medians[OURS] / len(det) * 1e3:.2f} ms")
        print(f"  the module API against the pipeline method: {medians[SEED] / medians[OURS]:.3f}x")

    loads = import_and_load_seconds(args.load_runs)
    print(f"\nimport face_trigger + FacePipeline() in a fresh process: median "
          f"{statistics.median(loads) * 1e3:.0f} ms, p90 {np.percentile(loads, 90) * 1e3:.0f} ms "
          f"over {len(loads)} runs")


if __name__ == "__main__":
    main()
