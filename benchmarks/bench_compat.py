"""Speed of the face_recognition compat module's common loops (issue #28).

Run by hand:  python benchmarks/bench_compat.py [--rounds 15]

Median milliseconds over alternating rounds, on three inputs: obama.jpg (910x1137), a
2000x1333 photo with three faces of 40-60 px (``testing.peer_fixtures``), and a webcam loop's
quarter-size frame (160x120, face about 40 px). For each: ``face_locations`` at upsample 0
(the detection side of 0.3's default, 736 px) and 1 (the default: own size up to 2048), and
``face_encodings`` without locations against with the locations ``face_locations`` gave
(found again in crops: no whole-image detection).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import cv2
import numpy as np

import face_trigger as ft
import face_trigger.compat.face_recognition as face_recognition
from _timing import machine_line
from face_trigger.testing import peer_fixtures

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())
    fixtures = peer_fixtures(DATA, tempfile.mkdtemp(prefix="bench-compat-"))
    webcam = cv2.resize(ft.read_image(DATA / "obama.jpg"), (480, 640))
    quarter = cv2.resize(cv2.copyMakeBorder(webcam, 0, 0, 80, 80, cv2.BORDER_CONSTANT),
                         (160, 120))
    inputs = {"obama.jpg 910x1137": face_recognition.load_image_file(DATA / "obama.jpg"),
              "2000x1333, three 40-60 px faces": face_recognition.load_image_file(
                  fixtures["small_faces"]),
              "webcam quarter frame 160x120": np.ascontiguousarray(quarter[..., ::-1])}
    print(f"median ms of {args.rounds} alternating rounds")
    print("| input | locations, upsample 0 | locations, upsample 1 (default) | faces found "
          "(0 / 1) | encodings, no locations | encodings at given locations | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, image in inputs.items():
        boxes = face_recognition.face_locations(image)
        calls: Dict[str, Callable[[], object]] = {
            "loc0": lambda: face_recognition.face_locations(image, 0),
            "loc1": lambda: face_recognition.face_locations(image),
            "enc": lambda: face_recognition.face_encodings(image),
            "enc_at": lambda: face_recognition.face_encodings(image, boxes)}
        times: Dict[str, List[float]] = {k: [] for k in calls}
        for call in calls.values():
            call()  # warm-up
        for _ in range(args.rounds):
            for key, call in calls.items():
                start = time.perf_counter()
                call()
                times[key].append(1000 * (time.perf_counter() - start))
        m = {k: statistics.median(v) for k, v in times.items()}
        found = (len(face_recognition.face_locations(image, 0)), len(boxes))
        print(f"| {name} | {m['loc0']:.1f} | {m['loc1']:.1f} | {found[0]} / {found[1]} | "
              f"{m['enc']:.1f} | {m['enc_at']:.1f} | {m['enc_at'] / m['enc']:.2f}x |")


if __name__ == "__main__":
    main()
