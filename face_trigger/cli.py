"""The ``face-trigger`` command line (also ``python -m face_trigger``).

Data goes to stdout, messages to stderr. Exit codes: 0 success, 1 a runtime
problem (unreadable input, model error), 2 usage error.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

from face_trigger import (MATCH_COSINE, FacePipeline, FaceTriggerError, __version__,
                          configure_opencv, draw_faces, opencv_version, read_image,
                          sample_images, side_by_side, write_image)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="face-trigger",
        description="Face detection, embedding and recognition on the CPU (YuNet + SFace).")
    parser.add_argument("--version", action="version", version=f"face_trigger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show OpenCV warnings and Python tracebacks")
    parser.add_argument("--threads", type=int, default=None,
                        help="OpenCV threads per call (default: OpenCV's choice)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the pipeline on the bundled sample photos",
                          description="Detect, align and embed the faces of the bundled sample "
                                      "photos, compare them, and write an annotated image.")
    demo.add_argument("-o", "--output", default="face_trigger_demo.jpg",
                      help="annotated image to write (default: %(default)s)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    pipeline = FacePipeline()
    det_model, emb_model = pipeline.detector.model, pipeline.embedder.model
    print(f"face_trigger {__version__}, OpenCV {opencv_version()}, {os.cpu_count()} CPUs")
    print(f"detector {det_model.id}, embedder {emb_model.id} (sha256 verified)")
    photos = sample_images()
    found = []
    panels = []
    for path in photos:
        frame = read_image(path)
        faces = pipeline.analyze(frame)
        print(f"{path.name} ({frame.shape[1]}x{frame.shape[0]}): {len(faces)} face(s)")
        for i, face in enumerate(faces):
            box = " ".join(f"{v:.0f}" for v in face.box)
            head = ", ".join(f"{v:+.3f}" for v in face.embedding[:4])
            print(f"  face {i}: box x1 y1 x2 y2 = {box}, score {face.score:.3f}, "
                  f"embedding {face.embedding.shape[0]}-d {face.embedding.dtype} "
                  f"norm {float((face.embedding ** 2).sum()) ** 0.5:.3f} [{head}, ...]")
        if faces:
            found.append((path.name, faces[0]))
        panels.append(draw_faces(frame, faces, [f"{path.stem} {f.score:.2f}" for f in faces]))
    if len(found) >= 2:
        print(f"cosine similarity between faces (same person at >= {MATCH_COSINE}):")
        for a, (name_a, face_a) in enumerate(found):
            for name_b, face_b in found[a + 1:]:
                similarity = float(face_a.embedding @ face_b.embedding)
                verdict = "same person" if similarity >= MATCH_COSINE else "different people"
                print(f"  {name_a} vs {name_b}: {similarity:.3f} -> {verdict}")
    output = write_image(args.output, side_by_side(panels))
    print(f"annotated image written to {Path(output).resolve()}")
    print("next: see README.md for the Python API (FacePipeline, detect_embedding) and tests")
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        configure_opencv(threads=args.threads, quiet=not args.verbose)
        return int(args.handler(args))
    except (FaceTriggerError, OSError, ValueError) as exc:
        if args.verbose:
            raise
        print(f"face-trigger: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
