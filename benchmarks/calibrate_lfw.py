"""Choose the match threshold (cosine similarity) on labelled real faces.

Run by hand:  python benchmarks/calibrate_lfw.py ../shared/lfw_dev [--target-fmr 1e-3]

ROOT is laid out as ROOT/<person>/<photo>; the LFW development set in ../shared/lfw_dev
(1,468 people, none of them in the standard LFW test pairs) is the intended input. Each photo
contributes its most central face (LFW photos are centred on their subject; others may appear
in the background). Every same-person pair is a genuine pair and every cross-person pair an
impostor pair; similarities come from one matrix product, not a loop over pairs.

Prints the FMR / FNMR table and the threshold for the target false match rate. The data stays
where it is: nothing of it is copied.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import face_trigger as ft
from face_trigger.enrollment import IMAGE_SUFFIXES


def central_face(faces: list, frame: np.ndarray):
    """The face whose box centre is nearest the frame centre (LFW centres its subject)."""
    centre = np.array([frame.shape[1] / 2, frame.shape[0] / 2])
    return min(faces, key=lambda f: np.hypot(*((f.box[:2] + f.box[2:]) / 2 - centre)))


def embed_folder(root: Path, pipeline: ft.FacePipeline):
    labels, embeddings, missed = [], [], []
    people = sorted(p for p in root.iterdir() if p.is_dir())
    for person_index, person in enumerate(people):
        for photo in sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            frame = ft.read_image(photo)
            faces = pipeline.analyze(frame)
            if not faces:
                missed.append(photo.name)
                continue
            embeddings.append(central_face(faces, frame).embedding)
            labels.append(person_index)
    return np.array(labels), np.stack(embeddings), missed, len(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of <person>/<photo> (e.g. ../shared/lfw_dev)")
    parser.add_argument("--target-fmr", type=float, default=1e-3)
    args = parser.parse_args()
    ft.configure_opencv(quiet=True)
    pipeline = ft.FacePipeline()
    start = time.perf_counter()
    labels, embeddings, missed, n_people = embed_folder(args.root, pipeline)
    print(f"{len(labels)} faces of {n_people} people embedded in {time.perf_counter() - start:.1f} s "
          f"({len(missed)} photos without a face at score >= {ft.DETECT_CONF}: "
          f"{', '.join(missed[:5])}{' ...' if len(missed) > 5 else ''})")

    similarity = embeddings @ embeddings.T
    upper = np.triu(np.ones_like(similarity, dtype=bool), k=1)
    same = labels[:, None] == labels[None, :]
    genuine = np.sort(similarity[upper & same])
    impostor = np.sort(similarity[upper & ~same])
    print(f"genuine pairs: {genuine.size}, similarity min {genuine.min():.3f} / median "
          f"{np.median(genuine):.3f}; impostor pairs: {impostor.size}, similarity max "
          f"{impostor.max():.3f} / 99.9th percentile {np.percentile(impostor, 99.9):.3f}")

    def fmr(t: float) -> float:
        return float(impostor.size - np.searchsorted(impostor, t, side="left")) / impostor.size

    def fnmr(t: float) -> float:
        return float(np.searchsorted(genuine, t, side="left")) / genuine.size

    print(f"\n  {'threshold':>9s} {'FMR':>10s} {'false matches':>14s} {'FNMR':>8s} {'misses':>7s}")
    for t in (0.25, 0.28, 0.30, 0.32, 0.34, 0.36, 0.363, 0.38, 0.40, 0.42, 0.45, 0.50):
        print(f"  {t:9.3f} {fmr(t):10.2e} {round(fmr(t) * impostor.size):14d} "
              f"{fnmr(t):8.3f} {round(fnmr(t) * genuine.size):7d}")
    # Smallest threshold whose FMR does not exceed the target.
    allowed = int(np.floor(args.target_fmr * impostor.size))
    chosen = float(impostor[impostor.size - allowed - 1]) if allowed < impostor.size else -1.0
    chosen = float(np.nextafter(np.float32(chosen), np.float32(1)))
    print(f"\nthreshold for FMR <= {args.target_fmr:g}: {chosen:.4f} "
          f"(FMR {fmr(chosen):.2e}, FNMR {fnmr(chosen):.3f} on {genuine.size} genuine pairs: "
          f"coarse, one miss = {1 / genuine.size:.3f})")
    print(f"shipped MATCH_COSINE = {ft.MATCH_COSINE}: FMR {fmr(ft.MATCH_COSINE):.2e}, "
          f"FNMR {fnmr(ft.MATCH_COSINE):.3f}")


if __name__ == "__main__":
    main()
