"""Faceprint speed: similarity 1 vs 1 and 1 vs 100,000; JSON and int16 encode / decode.

Run by hand:  python benchmarks/bench_faceprint.py [--repeats 200]

Vectors are real: the faceprint of obama.jpg, compared with the faceprint of obama2.jpg and
with 100,000 synthetic unit vectors (speed does not depend on what they show). The baseline
in the same run is a bare numpy dot product of the two float32 vectors.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import face_trigger as ft
from _timing import machine_line, measure, report

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())
    pipeline = ft.FacePipeline()
    a = pipeline.largest_faceprint(ft.read_image(DATA / "obama.jpg"))
    b = pipeline.largest_faceprint(ft.read_image(DATA / "obama2.jpg"))
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(100_000, 128)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    text, packed = a.to_json(), a.to_int16()
    cases = {
        "baseline: numpy dot of two float32 vectors": lambda: float(a.vector @ b.vector),
        "Faceprint.similarity (model check)": lambda: a.similarity(b),
        "ft.verification.compare -> (probability, similarity)":
            lambda: ft.verification.compare(a, b),
        "to_json": a.to_json,
        "from_json": lambda: ft.Faceprint.from_json(text),
        "to_int16": a.to_int16,
        "from_int16": lambda: ft.Faceprint.from_int16(packed, a.model),
    }
    report(measure(cases, args.repeats, warmup=20),
           baseline="baseline: numpy dot of two float32 vectors",
           title=f"per faceprint ({args.repeats} interleaved runs)")
    many = {"ft.verification.similarities(a, 100,000 x 128)":
            lambda: ft.verification.similarities(a, gallery),
            "baseline: gallery @ a.vector": lambda: gallery @ a.vector}
    report(measure(many, 50, warmup=3), baseline="baseline: gallery @ a.vector",
           title="one against 100,000 (50 interleaved runs)")
    print(f"\nJSON size {len(text)} bytes; int16 {packed.nbytes} bytes; float32 "
          f"{a.vector.nbytes} bytes; int16 round-trip cosine error "
          f"{1 - float(ft.Faceprint.from_int16(packed, a.model).vector @ a.vector):.1e}")


if __name__ == "__main__":
    main()
