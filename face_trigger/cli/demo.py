"""``face-trigger demo``: the pipeline on the bundled sample photos."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from face_trigger import MATCH_COSINE, FacePipeline, __version__, read_image, write_image
from face_trigger.draw import draw_faces, side_by_side
from face_trigger.image_io import sample_images
from face_trigger.runtime import opencv_version

from .common import EXIT_OK, check_output

HELP = "run the pipeline on the bundled sample photos"


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP)
    p.add_argument("-o", "--output", default="face_trigger_demo.jpg",
                   help="annotated image to write (default: %(default)s)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    pipeline = FacePipeline()
    det_model, emb_model = pipeline.detector.model, pipeline.embedder.model
    print(f"face_trigger {__version__}, OpenCV {opencv_version()}, {os.cpu_count()} CPUs")
    print(f"detector {det_model.id}, embedder {emb_model.id} (sha256 verified; engine "
          f"{pipeline.engine})")
    found = []
    panels = []
    for path in sample_images():
        frame = read_image(path)
        faces = pipeline.analyze(frame)
        print(f"{path.name} ({frame.shape[1]}x{frame.shape[0]}): {len(faces)} face(s)")
        for i, face in enumerate(faces):
            box = " ".join(f"{v:.0f}" for v in face.box)
            vector = face.vector
            head = ", ".join(f"{v:+.3f}" for v in vector[:4])
            print(f"  face {i}: box x1 y1 x2 y2 = {box}, score {face.score:.3f}, "
                  f"embedding {vector.shape[0]}-d {vector.dtype} "
                  f"norm {float((vector ** 2).sum()) ** 0.5:.3f} [{head}, ...]")
        if faces:
            found.append((path.name, faces[0]))
        panels.append(draw_faces(frame, faces, [f"{path.stem} {f.score:.2f}" for f in faces]))
    if len(found) >= 2:
        print(f"cosine similarity between faces (same person at >= {MATCH_COSINE}):")
        for a, (name_a, face_a) in enumerate(found):
            for name_b, face_b in found[a + 1:]:
                similarity = float(face_a.vector @ face_b.vector)
                verdict = "same person" if similarity >= MATCH_COSINE else "different people"
                print(f"  {name_a} vs {name_b}: {similarity:.3f} -> {verdict}")
    output = write_image(args.output, side_by_side(panels))
    print(f"annotated image written to {Path(output).resolve()}")
    print("next: see README.md for the Python API (FacePipeline, detect_embedding) and tests")
    return EXIT_OK
