"""``face-trigger liveness``: live or spoof (a photo or screen held up) for every face."""
from __future__ import annotations

import argparse
import json
from typing import Any

import face_trigger as ft
from face_trigger import FacePipeline

from .common import EXIT_ERROR, EXIT_OK, Inputs, UsageError, csv_row, flags

HELP = ("live or spoof (a photo or screen held up) for every face; exit 0 when all are "
        "live")


def register(sub: Any) -> None:
    p = sub.add_parser("liveness", help=HELP, description=HELP,
                       parents=flags("json", json_help="one JSON object per image"))
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"live probability to accept (default {ft.thresholds.LIVE_PROBABILITY})")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from face_trigger.liveness import LivenessChecker  # noqa: PLC0415 - this command only
    threshold = ft.thresholds.LIVE_PROBABILITY if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {threshold}")
    pipeline = FacePipeline(liveness=LivenessChecker(threshold=threshold))
    inputs = Inputs(args.images)
    spoofed = False
    if not args.json:
        csv_row("file", "x1", "y1", "x2", "y2", "live_probability", "verdict")
    for path, image in inputs.images():
        faces = pipeline.analyze(image)
        verdicts = ["live" if (f.live or 0.0) >= threshold else "spoof" for f in faces]
        spoofed = spoofed or not faces or "spoof" in verdicts
        if args.json:
            print(json.dumps({"file": path, "threshold": threshold, "faces": [
                {"box": [round(float(v), 1) for v in f.box], "live_probability":
                 round(float(f.live or 0.0), 4), "live": v == "live"}
                for f, v in zip(faces, verdicts)]}))
            continue
        if not faces:
            csv_row(path, "", "", "", "", "", "no_face")
        for face, verdict in zip(faces, verdicts):
            csv_row(path, *(f"{float(v):.1f}" for v in face.box), f"{face.live:.4f}", verdict)
    if inputs.status != EXIT_OK:
        return inputs.status
    return EXIT_ERROR if spoofed else EXIT_OK
