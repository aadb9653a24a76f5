"""Do cv2.dnn and OpenVINO compute the same embeddings? Run by hand:

    python benchmarks/engines_agree.py ../shared/lfw_dev

Every photo of the folder (``<person>/<photo>``, e.g. lfw_dev) goes through both engines;
for each face found by both it prints the cosine between the two embeddings end to end
(each engine's own detection and landmarks) and on the same aligned chip (SFace alone), as
min / p0.1 / p1 / median, and how many pairs are below 0.999. It also times one 1080p frame
per engine. Needs the ``[openvino]`` extra.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import face_trigger as ft
from _timing import machine_line
from face_trigger.detector import YuNetDetector
from face_trigger.embedder import SFaceEmbedder
from face_trigger.enrollment import scan_folder
from face_trigger.testing import full_hd_frame


def pipeline(engine: str, precision: str = "f32") -> ft.FacePipeline:
    return ft.FacePipeline(YuNetDetector(engine=engine),
                           SFaceEmbedder(engine=engine, precision=precision))


def summary(name: str, values: np.ndarray) -> None:
    print(f"  {name}: n {len(values)}, min {values.min():.5f}, p0.1 "
          f"{np.percentile(values, 0.1):.5f}, p1 {np.percentile(values, 1):.5f}, median "
          f"{np.median(values):.5f}, below 0.999: {(values < 0.999).sum()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of <person>/<photo> (e.g. lfw_dev)")
    parser.add_argument("--precision", choices=("f32", "bf16"), default="f32",
                        help="OpenVINO's SFace precision (the detector runs in f32)")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())
    cv, ov = pipeline("opencv"), pipeline("openvino", args.precision)
    print(f"OpenVINO precision: detector {ov.detector._net.precision}, embedder "
          f"{ov.embedder._net.precision} (bf16: --precision bf16)")
    end_to_end, same_chip = [], []
    for _, path in scan_folder(args.root):
        frame = ft.read_image(path)
        a, b = cv.analyze(frame), ov.analyze(frame)
        if not a or not b:
            continue
        fa = ft.pipeline.largest_face(a)
        fb = ft.pipeline.largest_face(b)
        end_to_end.append(float(fa.vector @ fb.vector))
        chip = ft.align.align_faces(frame, fa.landmarks[None])
        same_chip.append(float(cv.embedder.embed_chips(chip)[0] @ ov.embedder.embed_chips(chip)[0]))
    print(f"{args.root}: {len(end_to_end)} photos with a face found by both engines")
    summary("end to end (each engine's own landmarks)", np.array(end_to_end))
    summary("same aligned chip (SFace alone)", np.array(same_chip))
    frame = full_hd_frame(ft.read_image(Path(__file__).resolve().parent.parent
                                        / "tests" / "data" / "obama.jpg"))
    times = {"opencv": [], "openvino": []}
    for _ in range(3):
        cv.detect_embedding(frame), ov.detect_embedding(frame)
    for _ in range(30):  # interleaved
        for name, p in (("opencv", cv), ("openvino", ov)):
            start = time.perf_counter()
            p.detect_embedding(frame)
            times[name].append(time.perf_counter() - start)
    med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    print(f"1080p one face, detect_embedding median of 30: cv2.dnn {med['opencv']:.1f} ms, "
          f"OpenVINO {med['openvino']:.1f} ms ({med['openvino'] / med['opencv']:.2f}x)")


if __name__ == "__main__":
    main()
