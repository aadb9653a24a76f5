"""FaceRecognizer speed: infer, train and load with 1,000 enrolled people.

Run by hand:  python benchmarks/bench_recognizer.py [--people 1000] [--per-person 10]

Synthetic unit vectors stand in for faces (speed does not depend on what they show): each
person is a random direction, their photos and queries are noisy copies of it. Prints medians
of interleaved runs; the baseline in the same run is a plain numpy nearest-neighbour scan
(``argmax(queries @ enrolled.T)``) over the same enrolled matrix.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import face_trigger as ft
from _timing import machine_line, measure, report


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--per-person", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(machine_line())
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(args.people, 128)))
    labels = np.repeat(np.arange(args.people), args.per_person)
    enrolled = unit(centres[labels] + 0.08 * rng.normal(size=(labels.size, 128)))
    queries = unit(centres[rng.integers(0, args.people, 10_000)]
                   + 0.08 * rng.normal(size=(10_000, 128)))
    print(f"{args.people} people x {args.per_person} photos = {labels.size} enrolled embeddings")

    recognizers = {}
    for classifier in ("knn", "svm"):
        start = time.perf_counter()
        recognizers[classifier] = ft.FaceRecognizer(classifier=classifier).fit(enrolled, labels)
        print(f"train {classifier}: {time.perf_counter() - start:.2f} s")

    for batch in (1, 64, 10_000):
        q = queries[:batch]
        cases = {"baseline: numpy argmax(q @ enrolled.T)":
                 lambda q=q: np.argmax(q @ enrolled.T, axis=1)}
        for name, recognizer in recognizers.items():
            cases[f"infer, {name}"] = lambda q=q, r=recognizer: r.infer(q)
        repeats = args.repeats if batch < 10_000 else 5
        medians = report(measure(cases, repeats, warmup=2),
                         baseline="baseline: numpy argmax(q @ enrolled.T)",
                         title=f"infer on {batch} embedding(s), {repeats} runs")
        if batch > 1:
            for name in recognizers:
                print(f"  per embedding, {name}: {medians[f'infer, {name}'] / batch * 1e3:.4f} ms")
        accuracy = {n: float((r.infer(q) == labels[0] * 0 + np.argmax(q @ centres.T, axis=1))
                             .mean()) for n, r in recognizers.items()} if batch == 64 else None
        if accuracy:
            print(f"  (sanity: share named as their own person: {accuracy})")

    with tempfile.TemporaryDirectory() as folder:
        for name, recognizer in recognizers.items():
            path = Path(folder) / f"{name}.pkl"
            recognizer.save(path, key="bench")
            loads = measure({"load": lambda p=path: ft.FaceRecognizer().load(p, key="bench")},
                            10, warmup=1)["load"]
            print(f"load {name} ({os.path.getsize(path) / 1e6:.1f} MB): median "
                  f"{np.median(loads) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
