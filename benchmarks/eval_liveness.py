"""What the liveness check says of real faces, of the samples and of simulated attacks.

Run by hand:  python benchmarks/eval_liveness.py ../shared/lfw_dev
                  [--samples ../shared/testdata/antispoof] [--attacks 200]

Prints, for each box scale (YuNet's box grown about its centre before the original crops):

* the project's three samples (two spoofs, one live) and the photos of tests/data;
* BPCER (real faces called spoof) at several thresholds on every lfw_dev photo (web photos:
  small, recompressed, tightly cropped: not camera frames) and on every 4th frame of the door
  demo video of examples/make_demo_video.py (tests/data photos pasted on a plain background,
  noise, blur, video compression: closer to a camera, but still a photo of a photo);
* APCER (attacks called live) on simulated attacks built from lfw_dev and tests/data photos
  (``testing.presented_photo``: a print or a phone screen held up, re-shot). They exercise
  the code; real attacks may score otherwise.

Then the time per face with both engines, batched, interleaved in one run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

import face_trigger as ft
from face_trigger.door.sources import FrameSource
from face_trigger.liveness import LivenessChecker
from face_trigger.testing import presented_photo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from make_demo_video import build_demo  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9)
BOX_SCALES = (1.0, 1.2, 1.4)


def largest(pipeline: ft.FacePipeline, image: np.ndarray):
    """The box of the largest face, or None."""
    found = pipeline.detect(image)
    return ft.pipeline.largest_face(list(found)).box if len(found) else None


def scores(checker: LivenessChecker, frames: Sequence[np.ndarray],
           boxes: Sequence[np.ndarray]) -> np.ndarray:
    return np.array([checker.check(f, b).probability[0] for f, b in zip(frames, boxes)])


def rate_line(name: str, values: np.ndarray, below: bool) -> str:
    """Share of ``values`` below (BPCER of live faces) or at/above (APCER) each threshold."""
    shares = [np.mean(values < t) if below else np.mean(values >= t) for t in THRESHOLDS]
    return f"  {name:34} n={len(values):5}  " + "  ".join(
        f"{t:.1f}: {s * 100:5.1f} %" for t, s in zip(THRESHOLDS, shares))


def demo_frames() -> List[np.ndarray]:
    """Every 4th frame of the door demo video of examples/make_demo_video.py."""
    with tempfile.TemporaryDirectory() as folder:
        video = build_demo(Path(folder))
        return [frame.image for frame in FrameSource(video) if frame.index % 4 == 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="lfw_dev: <person>/<photo>")
    parser.add_argument("--samples", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "testdata"
                        / "antispoof")
    parser.add_argument("--attacks", type=int, default=200,
                        help="lfw_dev photos turned into simulated attacks (each kind)")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    pipeline = ft.FacePipeline(engine="opencv")
    photos = sorted(args.root.glob("*/*.jpg"))
    lfw = [(img, largest(pipeline, img)) for img in (ft.read_image(p) for p in photos)]
    lfw = [(img, box) for img, box in lfw if box is not None]
    ours = {p.name: ft.read_image(p) for p in sorted(DATA.glob("*.jpg")) if "partial" not in p.name}
    ours["astronaut.png"] = ft.read_image(DATA / "astronaut.png")
    samples = {p.name: ft.read_image(p) for p in sorted(args.samples.glob("*.jpg"))}
    frames = [(f, largest(pipeline, f)) for f in demo_frames()]
    frames = [(f, b) for f, b in frames if b is not None and b[2] - b[0] >= 60]
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(lfw), size=min(args.attacks, len(lfw)), replace=False)
    sources = [lfw[i] for i in chosen] + [(img, largest(pipeline, img)) for img in ours.values()]
    attacks: Dict[str, List] = {}
    for kind in ("print", "screen"):
        built = [presented_photo(img, box, kind, seed=i) for i, (img, box) in enumerate(sources)]
        attacks[kind] = [(f, largest(pipeline, f)) for f in built]
        attacks[kind] = [(f, b) for f, b in attacks[kind] if b is not None]
    print(f"{len(lfw)} lfw_dev photos with a face; {len(frames)} demo frames with a face >= 60 "
          f"px; simulated attacks: {', '.join(f'{len(v)} {k}' for k, v in attacks.items())}")
    for box_scale in BOX_SCALES:
        checker = LivenessChecker(engine="opencv", box_scale=box_scale)
        print(f"\nbox scale {box_scale}:")
        line = []
        for name, image in list(samples.items()) + list(ours.items()):
            box = largest(pipeline, image)
            line.append(f"{name} {checker.check(image, box).probability[0]:.3f}")
        print("  " + ", ".join(line))
        print("  BPCER (live called spoof) below threshold:")
        print(rate_line("lfw_dev photos", scores(checker, *zip(*lfw)), True))
        print(rate_line("door demo frames", scores(checker, *zip(*frames)), True))
        print("  APCER (simulated attack called live) at or above threshold:")
        for kind, items in attacks.items():
            print(rate_line(f"{kind} (built from real photos)", scores(checker, *zip(*items)),
                            False))
    print("\ntime per face (median of 30 calls, both models, one frame):")
    image, box = ours["obama.jpg"], largest(pipeline, ours["obama.jpg"])
    checkers = {engine: LivenessChecker(engine=engine) for engine in ("opencv", "openvino")
                if engine == "opencv" or ft.engines.openvino_available()}
    for faces in (1, 4, 8):
        boxes = np.repeat(box[None], faces, axis=0)
        times: Dict[str, List[float]] = {e: [] for e in checkers}
        for _ in range(30):
            for engine, checker in checkers.items():  # interleaved
                start = time.perf_counter()
                checker.check(image, boxes)
                times[engine].append(time.perf_counter() - start)
        base = statistics.median(times["opencv"]) / faces
        print(f"  {faces} face(s): " + ", ".join(
            f"{e} {statistics.median(t) / faces * 1000:.2f} ms/face "
            f"({statistics.median(t) / faces / base:.2f}x)" for e, t in times.items()))


if __name__ == "__main__":
    main()
