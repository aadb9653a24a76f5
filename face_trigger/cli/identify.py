"""``face-trigger identify``: name the faces of images with known people (the output of
face_recognition's command line)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np

import face_trigger as ft
from face_trigger import FacePipeline
from face_trigger.enrollment import IMAGE_SUFFIXES
from face_trigger.thresholds import STILL_SCALES

from .analysis import analyze_files
from .common import DB_HELP, Inputs, UsageError, cosine_flag, csv_row, flags

HELP = "name the faces of images with known people (face_recognition's CLI output)"


def register(sub: Any) -> None:
    p = sub.add_parser("identify", help=HELP, description=HELP,
                       parents=flags("json", "key", "max_side", "cpus", "db", "threshold",
                                     json_help="one JSON object per image",
                                     db_help="identify against this gallery (then no "
                                             "KNOWN): " + DB_HELP))
    p.add_argument("known", metavar="KNOWN", nargs="?",
                   help="folder of <name>.jpg files or <name>/ folders, one <name>.jpg, a "
                        "saved .pkl, or a gallery (SQLite file or postgresql:// URL)")
    p.add_argument("images", nargs="*", metavar="IMAGE_OR_DIR")
    p.add_argument("--tolerance", type=float, default=None,
                   help="face_recognition-style L2 distance instead: accept when the distance "
                        "of unit embeddings is <= T (threshold = 1 - T^2/2); SFace's scale "
                        "differs from dlib's, so the peer's 0.6 is far too strict: try 1.04")
    p.add_argument("--show-distance", action="store_true", help="append the distance")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.db:  # no KNOWN: every positional is an image
        args.images = ([args.known] if args.known else []) + list(args.images)
    elif not args.known or not args.images:
        raise UsageError("identify needs KNOWN and at least one image (or --db and images)")
    if not args.images:
        raise UsageError("identify needs at least one image")
    recognizer, warnings = known_recognizer(args.known, args)
    for line in warnings:
        print(f"face-trigger: {line}", file=sys.stderr)
    inputs = Inputs(args.images)
    for path, faces, error in analyze_files(inputs.paths(), args.max_side, args.cpus,
                                            "identifying"):
        if error or faces is None:
            inputs.report(path, error)
            continue
        if not faces:
            if args.json:
                print(json.dumps({"file": path, "faces": []}))
            else:
                csv_row(path, "no_persons_found")
            continue
        who = recognizer.identify(np.stack([f[1] for f in faces]))
        if args.json:
            print(json.dumps({"file": path, "faces": [
                {"box": [round(v, 1) for v in f[0]], "name": w.name, "known": w.known,
                 "similarity": round(w.similarity, 4), "distance": round(distance(w), 4)}
                for f, w in zip(faces, who)]}))
            continue
        for w in who:
            name = w.name if w.known else "unknown_person"
            csv_row(path, name, *([f"{distance(w):.4f}"] if args.show_distance else []))
    return inputs.status


def known_recognizer(known: str, args: argparse.Namespace) -> Tuple[Any, List[str]]:
    """The identifier of KNOWN: a gallery (``--db``, or KNOWN is one), a saved model, or
    KNOWN/<name>.jpg files and <name>/ folders enrolled now."""
    threshold = _threshold(args)
    if args.db or ft.gallery.looks_like_gallery(known):
        # no net is built here: worker processes build their own
        gallery = ft.Gallery(args.db or known, ft.model_files.bundled_info("embedder"),
                             unknown_threshold=threshold, create=False)
        return gallery, []
    path = Path(known)
    recognizer = ft.FaceRecognizer(classifier="knn", unknown_threshold=threshold)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:  # one photo: its file names it
        face = ft.pipeline.largest_face(FacePipeline().analyze(path, scales=STILL_SCALES))
        recognizer.fit(face.vector[None], [path.stem])
        return recognizer, []
    if path.is_file():
        recognizer.load(path, key=args.key, require_signature=not args.allow_unsigned)
        recognizer.unknown_threshold = threshold
        return recognizer, []
    if not path.is_dir():
        raise UsageError(f"known people: {known} is neither a folder nor a saved model")
    # KNOWN/<name>.jpg or KNOWN/<name>/*.jpg; of several faces the largest is used
    enrolled = ft.enrollment.enroll_folder(path, FacePipeline(), progress=False,
                                           several_faces="largest")
    warnings = [f"{r.path}: {r.status} {r.detail}".rstrip() for r in enrolled.records
                if r.status != ft.enrollment.ENROLLED or r.detail]
    if not enrolled.labels:
        raise UsageError(f"known people: no usable face under {known}")
    recognizer.fit(enrolled.embeddings, enrolled.labels)
    return recognizer, warnings


def _threshold(args: argparse.Namespace) -> float:
    if args.tolerance is not None:
        if args.threshold is not None:
            raise UsageError("give --threshold (cosine) or --tolerance (distance), not both")
        if not 0 < args.tolerance < 2:
            raise UsageError(f"--tolerance must be in (0, 2), got {args.tolerance}")
        return 1.0 - args.tolerance ** 2 / 2.0  # L2 distance of unit vectors -> cosine
    if args.threshold is None:
        return ft.IDENTIFY_COSINE
    return cosine_flag(args.threshold, "--threshold")


def distance(who: Any) -> float:
    """L2 distance of unit vectors with cosine similarity s (what the peer prints)."""
    return max(0.0, 2.0 - 2.0 * who.similarity) ** 0.5
