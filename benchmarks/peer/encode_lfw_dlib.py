"""Encode every lfw_dev photo with face_recognition (dlib), for the distance mapping of the
compat module (benchmarks/compat_distance_lfw.py). Runs in a separate environment that has
the peer installed: it is never a dependency of face_trigger.

    python3 -m venv /tmp/peer
    /tmp/peer/bin/pip install dlib-bin face_recognition_models numpy pillow click
    /tmp/peer/bin/pip install --no-deps face_recognition
    /tmp/peer/bin/python benchmarks/peer/encode_lfw_dlib.py ../shared/lfw_dev dlib_lfw.npz

Each photo: face_recognition.face_locations at the peer's defaults (HOG, upsample 1), the
largest face, face_encodings at that box (num_jitters 1, model "small"). Photos where dlib
finds no face are listed with an empty encoding. About 5 minutes on 2 cores.
"""
from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def encode(path: str):
    import face_recognition as fr

    image = fr.load_image_file(path)
    boxes = fr.face_locations(image)
    if not boxes:
        return None
    box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    return fr.face_encodings(image, [box])[0]


def main() -> None:
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    photos = sorted(str(p.relative_to(root)) for p in root.glob("*/*.jpg"))
    with ProcessPoolExecutor(2) as pool:
        found = list(pool.map(encode, [str(root / p) for p in photos], chunksize=8))
    ok = np.array([f is not None for f in found])
    encodings = np.stack([f if f is not None else np.zeros(128) for f in found])
    np.savez(out, photos=np.array(photos), found=ok, encodings=encodings)
    print(f"{ok.sum()} of {len(photos)} photos encoded by dlib; written to {out}")


if __name__ == "__main__":
    main()
