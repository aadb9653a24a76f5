"""Print every face in one or more images, and optionally save annotated copies.

    python examples/detect_faces.py tests/data/obama.jpg tests/data/biden.jpg --out annotated/

One CSV line per face: file, x1, y1, x2, y2, score, and the first embedding values.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import face_trigger as ft


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="folder for annotated copies")
    parser.add_argument("--max-side", type=int, default=ft.thresholds.DETECT_MAX_SIDE,
                        help="detector input side; raise it for small faces")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    pipeline = ft.FacePipeline(ft.detector.YuNetDetector(max_side=args.max_side))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    print("file,x1,y1,x2,y2,score,embedding_head")
    for path in args.images:
        try:
            frame = ft.read_image(path)
        except ft.FaceTriggerError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        faces = pipeline.analyze(frame)
        for face in faces:
            box = ",".join(f"{v:.1f}" for v in face.box)
            head = " ".join(f"{v:+.3f}" for v in face.embedding[:3])
            print(f"{path},{box},{face.score:.3f},{head}")
        if args.out:
            ft.write_image(args.out / (path.stem + "_faces.jpg"), ft.draw.draw_faces(frame, faces))
    return status


if __name__ == "__main__":
    sys.exit(main())
