"""Name every face in some images with a saved recognizer (the five-line app, plus output).

    python examples/recognize.py model.pkl IMAGE... [--key SECRET]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import face_trigger as ft


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--key", help="HMAC key (default: $FACE_TRIGGER_MODEL_KEY)")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    recognizer = ft.FaceRecognizer().load(args.model, key=args.key)
    pipeline = ft.FacePipeline()
    for path in args.images:
        frame = ft.read_image(path)
        boxes, embeddings = pipeline.detect_embedding(frame)
        if len(boxes) == 0:
            print(f"{path}: no face")
        for box, who in zip(boxes, recognizer.identify(embeddings) if len(boxes) else []):
            print(f"{path}: {who.name} (similarity {who.similarity:.2f}, "
                  f"probability {who.probability:.2f}) at {box.round().astype(int).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
