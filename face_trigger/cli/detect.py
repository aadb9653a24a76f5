"""``face-trigger detect``: every face of images, folders or video files, as CSV or JSON."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List, Tuple

import face_trigger as ft
from face_trigger import FacePipeline, FaceTriggerError

from .analysis import analyze_files
from .common import Inputs, csv_row, flags
from .video import is_video, video_frames

HELP = "print every face of images, folders or video files (one row per face per frame)"


def register(sub: Any) -> None:
    p = sub.add_parser("detect", help=HELP, description=HELP,
                       parents=flags("json", "max_side", "cpus",
                                     json_help="one JSON object per face"))
    p.add_argument("images", nargs="+", metavar="IMAGE_DIR_OR_VIDEO")
    p.add_argument("--landmarks", action="store_true",
                   help="add the five landmarks (x, y: right eye, left eye, nose, mouth "
                        "corners)")
    p.add_argument("--format", choices=["csv", "face_recognition"], default="csv",
                   help="csv: file,x1,y1,x2,y2,score (default); face_recognition: "
                        "file,top,right,bottom,left like face_detection")
    p.add_argument("--model", choices=["hog", "cnn"], default=None,
                   help="accepted for face_recognition's face_detection; face_trigger's one "
                        "detector is used")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.model is not None:
        print(f"face-trigger: --model {args.model}: face_trigger's own detector (YuNet) is "
              "used", file=sys.stderr)
    inputs = Inputs(args.images)
    readable = inputs.paths()
    videos = any(is_video(path) for path in readable)
    points = [f"{axis}{i}" for i in range(1, 6) for axis in "xy"] if args.landmarks else []
    # with a video among the inputs every row says which frame (empty for an image)
    where = ["frame", "time"] if videos else []
    if args.format == "csv" and not args.json:
        csv_row("file", *where, "x1", "y1", "x2", "y2", "score", *points)
    pipeline = None
    for group in _runs(readable):  # images in batches (--cpus), videos one by one, in order
        if not is_video(group[0]):
            for path, faces, error in analyze_files(group, args.max_side, args.cpus,
                                                    "detecting"):
                if error or faces is None:
                    inputs.report(path, error)
                    continue
                rows = [(box, score, landmarks) for box, _, score, landmarks in faces]
                _print_faces(args, path, [""] * len(where), rows, points)
            continue
        path = group[0]
        pipeline = pipeline or FacePipeline(ft.detector.YuNetDetector(max_side=args.max_side))
        try:
            for frame in video_frames(path):
                found = pipeline.detect(frame.image)
                rows = [(box.tolist(), float(score), landmarks.tolist()) for box, score,
                        landmarks in zip(found.boxes, found.scores, found.landmarks)]
                _print_faces(args, path, [frame.index, round(frame.time, 3)], rows, points)
        except FaceTriggerError as exc:
            inputs.report(path, exc)
    return inputs.status


def _runs(paths: List[str]) -> List[List[str]]:
    """``paths`` cut into runs of consecutive images and single videos, in order."""
    runs: List[List[str]] = []
    for path in paths:
        if runs and not is_video(path) and not is_video(runs[-1][0]):
            runs[-1].append(path)
        else:
            runs.append([path])
    return runs


def _print_faces(args: argparse.Namespace, path: str, where: List[Any],
                 faces: List[Tuple[List[float], float, List[List[float]]]],
                 points: List[str]) -> None:
    """The rows of one image or video frame: ``where`` is [frame, time] (a video), or
    [] / ["", ""] (an image, without or with videos among the inputs)."""
    at = {"frame": where[0], "time": where[1]} if where and where[0] != "" else {}
    if not faces:  # an image without a face is a row too, not silence
        if args.json:
            print(json.dumps({"file": path, **at, "box": None, "score": None}))
        elif args.format == "csv":
            csv_row(path, *where, "", "", "", "", "", *([""] * len(points)))
        return
    for box, score, landmarks in faces:
        x1, y1, x2, y2 = box
        flat = [f"{v:.1f}" for point in landmarks for v in point] if points else []
        if args.json:
            record = {"file": path, **at, "box": [round(v, 1) for v in box],
                      "score": round(float(score), 4)}
            if points:
                record["landmarks"] = [[round(x, 1), round(y, 1)] for x, y in landmarks]
            print(json.dumps(record))
        elif args.format == "face_recognition":  # top, right, bottom, left like the peer
            csv_row(path, *where, round(y1), round(x2), round(y2), round(x1))
        else:
            csv_row(path, *where, f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}",
                    f"{score:.4f}", *flat)
