"""``face-trigger verify``: are two photos the same person? Every face of the first is
compared with every face of the second; the best pair answers (exit 0 same, 1 not, 3 when a
photo has no face)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

import face_trigger as ft
from face_trigger import MATCH_COSINE, FacePipeline
from face_trigger.thresholds import STILL_SCALES

from .common import EXIT_DIFFERENT, EXIT_INPUT, EXIT_OK, cosine_flag, flags

HELP = "are two images the same person? (exit 0 same, 1 not, 3 a photo without a face)"


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help=HELP, description=HELP, parents=flags("json"))
    p.add_argument("image1")
    p.add_argument("image2")
    p.add_argument("--threshold", type=float, default=MATCH_COSINE)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    threshold = cosine_flag(args.threshold, "--threshold")
    pipeline = FacePipeline()
    faces = [pipeline.analyze(image, scales=STILL_SCALES) for image in (args.image1, args.image2)]
    counts = [len(f) for f in faces]
    missing = [str(image) for image, f in zip((args.image1, args.image2), faces) if not f]
    if missing:
        message = f"no face found in {' and '.join(missing)}"
        if args.json:
            print(json.dumps({"verified": False, "similarity": None, "threshold": threshold,
                              "faces": counts, "model": pipeline.model.id, "error": message}))
        print(f"face-trigger: {message}", file=sys.stderr)
        return EXIT_INPUT
    similarities = np.stack([f.vector for f in faces[0]]) @ np.stack([f.vector for f in faces[1]]).T
    i, j = np.unravel_index(int(np.argmax(similarities)), similarities.shape)
    similarity = float(similarities[i, j])
    verified = similarity >= threshold
    probability = float(ft.calibration.default_calibration().probability(similarity))
    if args.json:
        print(json.dumps({"verified": verified, "similarity": round(similarity, 4),
                          "threshold": threshold, "match_probability": round(probability, 4),
                          "faces": counts, "best_pair": [int(i), int(j)],
                          "boxes": [faces[0][i].to_dict()["box"], faces[1][j].to_dict()["box"]],
                          "model": pipeline.model.id}))
    else:
        several = (f"; best of {counts[0]} x {counts[1]} faces (face {i + 1} and face {j + 1}, "
                   "strongest first)" if counts != [1, 1] else "")
        print(f"{'same person' if verified else 'different people'}: similarity "
              f"{similarity:.3f} (threshold {threshold}), match probability "
              f"{probability:.3f}{several}")
    return EXIT_OK if verified else EXIT_DIFFERENT
