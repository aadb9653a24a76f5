"""Steadier embeddings for stills: do landmarks found at several scales, averaged, help?

Each setting is ``FacePipeline.analyze(scales=...)``: a face's cut-out (its box grown by 0.6
of its size per side) is resized to each side (None: as it is), the face found again there,
and the embeddings of the chips aligned by each landmark set averaged.

Run by hand:  python benchmarks/eval_scales.py ../shared/lfw_dev [--limit N]

For each setting of ``FacePipeline.analyze(scales=...)`` this embeds the largest face of every
photo of ROOT/<person>/<photo> and prints, on these real photos:

* genuine pairs: mean cosine, and misses (FNMR) at the cosine where the impostor pairs give a
  false match rate of 1e-3 and 1e-4 (lfw_dev: 140 genuine pairs, so one miss is 0.7 %);
* steadiness: the mean and 1st percentile cosine between a photo's embedding and that of the
  same photo re-shot (shifted by 3 px, scaled by 0.9, JPEG quality 70), i.e. how far the
  embedding moves for nothing but capture noise;
* the false match rate of the shipped MATCH_COSINE under each setting (a setting that raised
  impostor scores would need its own threshold);
* time per photo (median), and its ratio to the one-scale default in the same run.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

import face_trigger as ft
from face_trigger.testing import reshot

SETTINGS: Dict[str, Optional[Sequence[Optional[int]]]] = {
    "one scale (default)": None,
    "as found + 400": (None, 400),
    "256 + 400": (256, 400),
    "as found + 320 + 480": (None, 320, 480),
}


def fnmr_at(genuine: np.ndarray, impostor: np.ndarray, fmr: float) -> Tuple[float, float]:
    """(threshold, FNMR) at the cosine where the impostor share above it is ``fmr``."""
    threshold = float(np.quantile(impostor, 1 - fmr))
    return threshold, float(np.mean(genuine < threshold))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of <person>/<photo> (../shared/lfw_dev)")
    parser.add_argument("--limit", type=int, default=0, help="people at most (0: all)")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    people = sorted(p for p in args.root.iterdir() if p.is_dir())
    if args.limit:
        # keep every multi-photo person (the genuine pairs) and fill up with the others
        multi = [p for p in people if len(list(p.glob("*.jpg"))) > 1]
        people = multi + [p for p in people if p not in multi][:max(0, args.limit - len(multi))]
    photos = [(person.name, path) for person in people for path in sorted(person.glob("*.jpg"))]
    images = [ft.read_image(path) for _, path in photos]
    reshots = [reshot(image) for image in images]
    pipeline = ft.FacePipeline()
    print(f"{len(photos)} photos of {len(people)} people from {args.root}; "
          f"engine {pipeline.embedder.engine}")
    results = {}
    for name, scales in SETTINGS.items():
        vectors: List[np.ndarray] = []
        steady: List[float] = []
        times: List[float] = []
        labels: List[str] = []
        for (person, _), image, again in zip(photos, images, reshots):
            start = time.perf_counter()
            faces = pipeline.analyze(image, scales=scales)
            times.append(time.perf_counter() - start)
            other = pipeline.analyze(again, scales=scales)
            if not faces or not other:
                continue
            first = ft.pipeline.largest_face(faces).vector
            vectors.append(first)
            labels.append(person)
            steady.append(float(first @ ft.pipeline.largest_face(other).vector))
        matrix = np.stack(vectors)
        names = np.array(labels)
        upper = np.triu_indices(len(names), 1)
        scores = (matrix @ matrix.T)[upper]
        same = (names[:, None] == names[None, :])[upper]
        genuine, impostor = scores[same], scores[~same]
        results[name] = (genuine, impostor, np.array(steady), statistics.median(times))
    base_time = results["one scale (default)"][3]
    print(f"{'setting':24} {'genuine':>8} {'cut@1e-3':>9} {'FNMR@1e-3':>10} {'FNMR@1e-4':>10} "
          f"{'FMR@' + str(ft.MATCH_COSINE):>9} {'steady':>7} {'p1':>6} {'ms/photo':>9} "
          f"{'ratio':>6}")
    for name, (genuine, impostor, steady, median) in results.items():
        cut, fnmr3 = fnmr_at(genuine, impostor, 1e-3)
        _, fnmr4 = fnmr_at(genuine, impostor, 1e-4)
        shipped_fmr = float(np.mean(impostor >= ft.MATCH_COSINE))
        print(f"{name:24} {genuine.mean():8.4f} {cut:9.4f} {fnmr3:10.3f} {fnmr4:10.3f} "
              f"{shipped_fmr:9.2e} {steady.mean():7.4f} {np.percentile(steady, 1):6.3f} "
              f"{median * 1000:9.1f} {median / base_time:6.2f}x")
    genuine = results["one scale (default)"][0]
    print(f"({len(genuine)} genuine pairs: one miss = {1 / len(genuine):.3f}; "
          f"{len(results['one scale (default)'][1]):,} impostor pairs)")


if __name__ == "__main__":
    main()
