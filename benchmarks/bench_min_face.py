"""Smallest face found reliably, per detector input size, in 1080p frames.

Run by hand:  python benchmarks/bench_min_face.py [--positions 20]

Face crops of the five test people are pasted at random places (wholly inside) on a grey
1920x1080 frame, scaled so that the face box (as YuNet measures it on the original photo) is F
pixels wide. For each detector side (the longer side of the detection copy) the table gives the
share of frames in which exactly one face was found at the default score threshold, and the
median detection time for one frame.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import face_trigger as ft
from _timing import machine_line, measure
from face_trigger.testing import FULL_HD, paste_faces

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SIZES = (40, 50, 60, 70, 80, 100)
SIDES = (480, 640, 704, 736, 800, 960, 1280)


def _frame(crop: np.ndarray, scale: float, u: float, v: float) -> np.ndarray:
    """A 1080p frame with the scaled crop wholly inside, at fraction (u, v) of the free room."""
    width, height = FULL_HD
    x = int(u * (width - crop.shape[1] * scale - 1))
    y = int(v * (height - crop.shape[0] * scale - 1))
    return paste_faces((width, height), [(crop, x, y, scale)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())
    rng = np.random.default_rng(args.seed)
    reference = ft.detector.YuNetDetector(max_side=None)
    crops = []
    for name in ["obama", "obama2", "obama3", "biden", "astronaut"]:
        photo = ft.read_image(next(DATA.glob(name + ".*")))
        face = reference.detect(photo)[0]
        crops.append((ft.image_io.crop_around(photo, face.box, margin=0.5), face.width))
    places = rng.random((args.positions, 2))  # where in the frame, as fractions of the room
    frames = {size: [_frame(crop, size / width, u, v) for crop, width in crops
                     for u, v in places] for size in SIZES}
    print(f"\nshare of 1080p frames with the face found (score >= {ft.thresholds.DETECT_CONF}), "
          f"{len(crops) * len(places)} frames per face size")
    detectors = {side: ft.detector.YuNetDetector(max_side=side) for side in SIDES}
    frame = frames[SIZES[-1]][0]
    times = measure({side: (lambda d=d: d.detect(frame)) for side, d in detectors.items()}, 30)
    print("  side  det size " + "".join(f"{s:>7d}px" for s in SIZES)
          + "  median ms/frame (interleaved)")
    for side, detector in detectors.items():
        found = [np.mean([len(detector.detect(f)) == 1 for f in frames[s]]) for s in SIZES]
        size = ft.detector.detection_size(1920, 1080, side)
        print(f"  {side:4d}  {size[0]:4d}x{size[1]:<4d}"
              + "".join(f"{100 * v:8.0f}%" for v in found)
              + f"  {np.median(times[side]) * 1e3:8.2f}"
              + ("  <- default" if side == ft.thresholds.DETECT_MAX_SIDE else ""))


if __name__ == "__main__":
    main()
