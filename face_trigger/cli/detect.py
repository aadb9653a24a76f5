"""``face-trigger detect``: every face of images or folders, as CSV or JSON."""
from __future__ import annotations

import argparse
import json
from typing import Any

from .analysis import analyze_files
from .common import Inputs, csv_row, flags

HELP = "print every face of images or folders"


def register(sub: Any) -> None:
    p = sub.add_parser("detect", help=HELP, description=HELP,
                       parents=flags("json", "max_side", "cpus",
                                     json_help="one JSON object per face"))
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--landmarks", action="store_true",
                   help="add the five landmarks (x, y: right eye, left eye, nose, mouth "
                        "corners)")
    p.add_argument("--format", choices=["csv", "face_recognition"], default="csv",
                   help="csv: file,x1,y1,x2,y2,score (default); face_recognition: "
                        "file,top,right,bottom,left like face_detection")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    inputs = Inputs(args.images)
    readable = inputs.paths()
    points = [f"{axis}{i}" for i in range(1, 6) for axis in "xy"] if args.landmarks else []
    if args.format == "csv" and not args.json:
        csv_row("file", "x1", "y1", "x2", "y2", "score", *points)
    for path, faces, error in analyze_files(readable, args.max_side, args.cpus, "detecting"):
        if error or faces is None:
            inputs.report(path, error)
            continue
        if not faces:  # an image without a face is a row too, not silence
            if args.json:
                print(json.dumps({"file": path, "box": None, "score": None}))
            elif args.format == "csv":
                csv_row(path, "", "", "", "", "", *([""] * len(points)))
            continue
        for box, _, score, landmarks in faces:
            x1, y1, x2, y2 = box
            flat = [f"{v:.1f}" for point in landmarks for v in point] if points else []
            if args.json:
                record = {"file": path, "box": [round(v, 1) for v in box],
                          "score": round(float(score), 4)}
                if points:
                    record["landmarks"] = [[round(x, 1), round(y, 1)] for x, y in landmarks]
                print(json.dumps(record))
            elif args.format == "face_recognition":  # top, right, bottom, left like the peer
                csv_row(path, round(y1), round(x2), round(y2), round(x1))
            else:
                csv_row(path, f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}", f"{score:.4f}",
                        *flat)
    return inputs.status
