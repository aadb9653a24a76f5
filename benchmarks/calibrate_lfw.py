"""Choose the match threshold (cosine similarity) and the match probability on labelled faces.

Run by hand:  python benchmarks/calibrate_lfw.py ../shared/lfw_dev [--target-fmr 1e-3]
              [--output calibration.json] [--plot roc.png]

ROOT is laid out as ROOT/<person>/<photo>; the LFW development set in ../shared/lfw_dev
(1,468 people, none of them in the standard LFW test pairs) is the intended input. This is
``face_trigger.calibrate`` (each photo gives its largest face; every same-person pair is
genuine, every cross-person pair an impostor; one matrix product per block of rows) plus the
printout the shipped constants in face_trigger/thresholds.py quote. The data stays where it
is: nothing of it is copied.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import face_trigger as ft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path,
                        help="folder of <person>/<photo> (e.g. ../shared/lfw_dev)")
    parser.add_argument("--target-fmr", type=float, default=1e-3)
    parser.add_argument("--output", type=Path, help="write the calibration JSON here")
    parser.add_argument("--plot", type=Path, help="write score distributions and ROC (PNG)")
    parser.add_argument("--scales", choices=["still", "one"], default="still",
                        help="embed as verify does (STILL_SCALES averaged, the default) or "
                             "in one pass, as a video frame")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    start = time.perf_counter()
    scales = ft.thresholds.STILL_SCALES if args.scales == "still" else None
    report = ft.calibrate(args.root, args.target_fmr, output=args.output, plot=args.plot,
                          scales=scales)
    c = report.calibration
    print(f"{len(report.enrollment.labels)} photos of {report.people} people in "
          f"{time.perf_counter() - start:.1f} s ({len(report.enrollment.skipped)} skipped); "
          f"{c.genuine_pairs} genuine pairs, {c.impostor_pairs} impostor pairs; scales "
          f"{scales}\n")
    print(report.format_table())
    print(f"\nthreshold for FMR <= {c.target_fmr:g}: {c.threshold:.4f} (FMR {c.fmr:.2e}, "
          f"FNMR {c.fnmr:.3f}: coarse, one miss = {1 / c.genuine_pairs:.3f})")
    print(f"match probability: 1 / (1 + exp(-({c.slope:.4f} * s + {c.intercept:.4f}))); "
          f"p(0.30) = {c.probability(0.30):.3f}, p({ft.MATCH_COSINE}) = "
          f"{c.probability(ft.MATCH_COSINE):.3f}, p(0.50) = {c.probability(0.50):.3f}")
    shipped = ft.calibration.default_calibration()
    print(f"shipped: MATCH_COSINE = {shipped.threshold}, logistic ({shipped.slope}, "
          f"{shipped.intercept})")


if __name__ == "__main__":
    main()
