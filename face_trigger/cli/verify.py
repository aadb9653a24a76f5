"""``face-trigger verify``: are two images the same person? (exit 0 same, 1 not)"""
from __future__ import annotations

import argparse
import json
from typing import Any

import face_trigger as ft
from face_trigger import MATCH_COSINE

from .common import EXIT_DIFFERENT, EXIT_OK, cosine_flag, flags

HELP = "are two images the same person? (exit 0 same, 1 not)"


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help=HELP, description=HELP, parents=flags("json"))
    p.add_argument("image1")
    p.add_argument("image2")
    p.add_argument("--threshold", type=float, default=MATCH_COSINE)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    threshold = cosine_flag(args.threshold, "--threshold")
    result = ft.verify(args.image1, args.image2, threshold=threshold, soft=True)
    if result.detail:  # a readable image without a face: an answer ("not verified"), exit 1
        if args.json:
            print(json.dumps({"verified": False, "similarity": None, "threshold": threshold,
                              "match_probability": 0.0, "model": result.model,
                              "error": result.detail}))
        else:
            print(f"not verified: {result.detail}")
        return EXIT_DIFFERENT
    if args.json:
        print(json.dumps({"verified": result.verified, "similarity": round(result.similarity, 4),
                          "threshold": result.threshold,
                          "match_probability": round(result.match_probability, 4),
                          "model": result.model}))
    else:
        print(f"{'same person' if result.verified else 'different people'}: similarity "
              f"{result.similarity:.3f} (threshold {result.threshold}), match probability "
              f"{result.match_probability:.3f}")
    return EXIT_OK if result.verified else EXIT_DIFFERENT
