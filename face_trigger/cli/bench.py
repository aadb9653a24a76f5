"""``face-trigger bench``: time the pipeline on a bundled photo."""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Dict, List

import cv2
import numpy as np

import face_trigger as ft
from face_trigger import FacePipeline, __version__, read_image
from face_trigger.image_io import sample_images
from face_trigger.runtime import opencv_version

from .common import EXIT_OK, UsageError

HELP = "time the pipeline on a bundled photo"


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help=HELP, description=HELP)
    p.add_argument("--repeats", type=int, default=30)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {args.repeats}")
    pipeline = FacePipeline()
    photo = read_image(sample_images()[1])  # obama.jpg, letterboxed onto 1920x1080
    scaled = cv2.resize(photo, (round(photo.shape[1] * 1080 / photo.shape[0]), 1080),
                        interpolation=cv2.INTER_AREA)[:, :1920]
    side = (1920 - scaled.shape[1]) // 2
    frame = np.asarray(cv2.copyMakeBorder(scaled, 0, 0, side, 1920 - scaled.shape[1] - side,
                                          cv2.BORDER_CONSTANT, value=(0, 0, 0)), np.uint8)
    chips = ft.align.align_faces(frame, pipeline.detect(frame).landmarks)
    cases = {"detect (1080p)": lambda: pipeline.detect(frame),
             "embed one face": lambda: pipeline.embedder.embed_chips(chips),
             "detect_embedding (1080p, one face)": lambda: pipeline.detect_embedding(frame)}
    for fn in cases.values():
        for _ in range(3):
            fn()
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    print(f"face_trigger {__version__}, OpenCV {opencv_version()}, {os.cpu_count()} CPUs, "
          f"detector side {ft.thresholds.DETECT_MAX_SIDE}, engine {pipeline.engine}")
    for name, values in times.items():
        print(f"  {name:38s} median {np.median(values) * 1e3:7.2f} ms  p90 "
              f"{np.percentile(values, 90) * 1e3:7.2f} ms  ({len(values)} runs)")
    return EXIT_OK
