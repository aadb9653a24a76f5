"""Choose the compat module's distance scale on real faces: face_recognition's tolerances
(0.6, 0.5...) must keep meaning what they meant with dlib.

Run by hand:  python benchmarks/compat_distance_lfw.py ../shared/lfw_dev dlib_lfw.npz
              [--cache ours.npz] [--write]

``dlib_lfw.npz`` comes from ``benchmarks/peer/encode_lfw_dlib.py`` (run in a separate
environment with face_recognition 1.3 and dlib-bin; never a dependency). Our encodings are
made by ``face_trigger.compat.face_recognition`` itself (``face_encodings`` of
``load_image_file``, the largest face), so the figures are what a migrating script gets.
Pairs: every two photos both libraries found a face in; genuine = same person, impostor =
different people.

The mapping from our cosine similarity c to a distance d (``compat.face_recognition.scale``)
is the Euclidean distance of the encodings (unit vectors times the norm that puts 0.6 on
MATCH_COSINE) up to 0.6, then piecewise linear through knots that match false match rates:
for each tolerance t of a grid over [0.6, 0.8], the cosine c(t) at which our impostor pairs
pass RATE times as often as dlib's pass at t (``--rate pin``, the default: the ratio at 0.6,
so the knots continue the Euclidean part without a jump), then linearly to 1.4 at c = -1.
Printed: dlib's FMR and FNMR beside ours at tolerances 0.3-0.8 with this mapping, with a
plain scaling (the Euclidean distance all the way) and with FMR-matched knots at rate 1 (the
same rate as dlib everywhere), and the knots as the literal
``thresholds.PEER_DISTANCE_KNOTS`` holds.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

import face_trigger as ft

GRID = np.round(np.arange(0.60, 0.801, 0.02), 3)


def our_encodings(root: Path, photos: List[str]) -> Tuple[np.ndarray, np.ndarray]:
    import face_trigger.compat.face_recognition as face_recognition

    found, rows = [], []
    for name in photos:
        image = face_recognition.load_image_file(str(root / name))
        boxes = face_recognition.face_locations(image)
        if not boxes:
            found.append(False)
            rows.append(np.zeros(128))
            continue
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        rows.append(face_recognition.face_encodings(image, [box])[0])
        found.append(True)
    return np.array(found), np.stack(rows)


def pair_values(encodings: np.ndarray, people: np.ndarray, cosine: bool
                ) -> Tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) values of every pair: cosine, or Euclidean distance."""
    upper = np.triu_indices(len(encodings), 1)
    if cosine:
        values = (encodings @ encodings.T)[upper]
    else:
        sq = (encodings ** 2).sum(1)
        values = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * encodings @ encodings.T,
                                    0))[upper]
    same = (people[:, None] == people[None, :])[upper]
    return values[same], values[~same]


def knots(dlib_impostor: np.ndarray, our_impostor: np.ndarray, rate: float
          ) -> List[Tuple[float, float]]:
    """(cosine, distance) knots: our impostors pass at c(t) rate x as often as dlib's at t."""
    ours_sorted = np.sort(our_impostor)[::-1]
    out = []
    for t in GRID:
        passing = float((dlib_impostor <= t).mean()) * rate
        k = int(round(passing * len(ours_sorted)))
        if k < 5:  # too few pairs to place a knot
            continue
        out.append((float(ours_sorted[min(k, len(ours_sorted) - 1)]), float(t)))
    # monotone: cosine falls as the distance grows
    cleaned: List[Tuple[float, float]] = []
    for c, t in out:
        if not cleaned or c < cleaned[-1][0]:
            cleaned.append((round(c, 4), t))
    return cleaned


def to_distance(cosine: np.ndarray, table: List[Tuple[float, float]]) -> np.ndarray:
    """The compat module's mapping with these knots (the first must be (MATCH_COSINE, 0.6))."""
    from face_trigger.compat.face_recognition.scale import cosine_to_distance

    return cosine_to_distance(cosine, tuple(table))


def rates(genuine: np.ndarray, impostor: np.ndarray, tolerance: float) -> Dict[str, float]:
    return {"fmr": float((impostor <= tolerance).mean()),
            "fnmr": float((genuine > tolerance).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("dlib", type=Path, help="npz of benchmarks/peer/encode_lfw_dlib.py")
    parser.add_argument("--cache", type=Path, help="reuse/write our encodings (.npz)")
    parser.add_argument("--rate", default="pin",
                        help="our FMR at each tolerance over dlib's: a number (1: the same), "
                             "or 'pin' (default): the ratio that puts 0.6 on MATCH_COSINE")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    peer = np.load(args.dlib)
    photos = [str(p) for p in peer["photos"]]
    start = time.perf_counter()
    if args.cache and args.cache.exists():
        cached = np.load(args.cache)
        found, ours = cached["found"], cached["encodings"]
    else:
        found, ours = our_encodings(args.root, photos)
        if args.cache:
            np.savez(args.cache, found=found, encodings=ours)
    both = peer["found"] & found
    people = np.array([p.split("/")[0] for p in photos])[both]
    dlib_gen, dlib_imp = pair_values(peer["encodings"][both], people, cosine=False)
    our_gen, our_imp = pair_values(ours[both].astype(np.float32), people, cosine=True)
    print(f"{both.sum()} photos with a face for both (dlib found {peer['found'].sum()}, we "
          f"{found.sum()} of {len(photos)}); {dlib_gen.size} genuine and {dlib_imp.size:,} "
          f"impostor pairs ({time.perf_counter() - start:.0f} s)\n")
    default_c = ft.thresholds.MATCH_COSINE
    rate = (float((our_imp >= default_c).mean()) / float((dlib_imp <= 0.6).mean())
            if args.rate == "pin" else float(args.rate))
    table = knots(dlib_imp, our_imp, rate)
    table[0] = (default_c, 0.6) if args.rate == "pin" else table[0]
    same_rate = knots(dlib_imp, our_imp, 1.0)
    from face_trigger.compat.face_recognition.scale import ENCODING_NORM  # noqa: PLC0415

    def scaled(c: np.ndarray) -> np.ndarray:
        return ENCODING_NORM * np.sqrt(np.maximum(2.0 - 2.0 * c, 0.0))

    def fmr_matched(c: np.ndarray) -> np.ndarray:
        cs = np.array([-1.0] + [k for k, _ in reversed(same_rate)] + [1.0])
        ds = np.array([1.4] + [d for _, d in reversed(same_rate)] + [0.0])
        return np.interp(c, cs, ds)

    mappings = {"shipped": lambda c: to_distance(c, table), "scaled": scaled,
                "FMR-matched": fmr_matched}
    print("| tolerance | dlib FMR / FNMR | " + " | ".join(
        f"face_trigger {name} FMR / FNMR" for name in mappings) + " |")
    print("|---|---|" + "---|" * len(mappings))
    for t in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
        d = rates(dlib_gen, dlib_imp, t)
        cells = []
        for mapping in mappings.values():
            o = rates(mapping(our_gen), mapping(our_imp), t)
            cells.append(f"{o['fmr']:.1e} / {o['fnmr']:.3f}")
        print(f"| {t} | {d['fmr']:.1e} / {d['fnmr']:.3f} | " + " | ".join(cells) + " |")
    print(f"\nface_trigger at MATCH_COSINE {default_c} (cosine): FMR "
          f"{float((our_imp >= default_c).mean()):.1e}, FNMR "
          f"{float((our_gen < default_c).mean()):.3f}; encoding norm {ENCODING_NORM:.4f}")
    print(f"\nPEER_DISTANCE_KNOTS = {tuple(table)}  # rate {rate:.4f} ({args.rate})")


if __name__ == "__main__":
    main()
