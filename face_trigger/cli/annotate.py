"""``face-trigger annotate``: boxes, landmarks, names and scores drawn on images."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List

import numpy as np

import face_trigger as ft
from face_trigger import FacePipeline, read_image, write_image
from face_trigger.draw import FACE_COLOUR, UNKNOWN_COLOUR, draw_faces

from .common import DB_HELP, EXIT_OK, Inputs, UsageError, check_output, cosine_flag, flags

HELP = "draw boxes, landmarks, names and scores"


def register(sub: Any) -> None:
    p = sub.add_parser("annotate", help=HELP, description=HELP,
                       parents=flags("key", "db", "max_side", "threshold",
                                     db_help="gallery to name the faces: " + DB_HELP))
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("-o", "--output", required=True,
                   help="image to write for one image; a folder for a folder or several")
    p.add_argument("--model", help="saved recognizer to name the faces")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.model and args.db:
        raise UsageError("annotate takes --model or --db, not both")
    single = len(args.images) == 1 and not Path(args.images[0]).is_dir()
    if single:
        check_output(args.output)
    else:  # a folder or several images: -o is a folder, created if its parent exists
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise UsageError(f"-o {out} must be a folder when annotating several images")
        check_output(str(out / "x.jpg") if out.is_dir() else args.output)
        out.mkdir(exist_ok=True)
    pipeline = FacePipeline(ft.detector.YuNetDetector(max_side=args.max_side))
    gate = ft.IDENTIFY_COSINE
    if args.threshold is not None:
        gate = cosine_flag(args.threshold, "--threshold")
    identifier: Any = None
    if args.db:
        identifier = ft.Gallery(args.db, pipeline.model, create=False, unknown_threshold=gate)
    elif args.model:
        identifier = ft.FaceRecognizer().load(args.model, key=args.key,
                                              require_signature=not args.allow_unsigned)
        identifier.unknown_threshold = gate
    if single:  # one image: its error is the command's
        count = _annotate(read_image(args.images[0]), args.output, pipeline, identifier)
        print(f"{args.images[0]}: {count} face(s); annotated image written to {args.output}",
              file=sys.stderr)
        return EXIT_OK
    inputs = Inputs(args.images)
    for path, image in inputs.images():
        output = str(Path(args.output) / _annotated_name(path))
        count = _annotate(image, output, pipeline, identifier)
        print(f"{path}: {count} face(s); annotated image written to {output}", file=sys.stderr)
    return inputs.status


def _annotated_name(path: str) -> str:
    """The output file name for an input: its own name, as .jpg unless it is a PNG."""
    source = Path(path)
    return source.name if source.suffix.lower() in (".jpg", ".jpeg", ".png") else \
        source.stem + ".jpg"


def _annotate(frame: np.ndarray, output: str, pipeline: FacePipeline, identifier: Any) -> int:
    """Draw the faces of one image (named when ``identifier`` is given); returns their count."""
    faces = pipeline.analyze(frame)
    labels: List[str] = [f"{f.score:.2f}" for f in faces]
    colours = None
    if identifier is not None and faces:
        who = identifier.identify(np.stack([f.vector for f in faces]))
        labels = [f"{w.name} {w.similarity:.2f}" for w in who]
        colours = [FACE_COLOUR if w.known else UNKNOWN_COLOUR for w in who]
    write_image(output, draw_faces(frame, faces, labels, colours=colours))
    return len(faces)
