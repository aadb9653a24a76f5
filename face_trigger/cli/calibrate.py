"""``face-trigger calibrate``: FMR/FNMR table and a threshold for DIR/<person>/*."""
from __future__ import annotations

import argparse
import sys
from typing import Any

import face_trigger as ft

from .common import EXIT_OK, check_output

HELP = "FMR/FNMR table and threshold for DIR/<person>/*"


def register(sub: Any) -> None:
    p = sub.add_parser("calibrate", help=HELP, description=HELP)
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--target-fmr", type=float, default=1e-3)
    p.add_argument("-o", "--output", help="calibration JSON to write")
    p.add_argument("--plot", help="ROC / score distribution PNG (needs matplotlib)")
    p.add_argument("--force", action="store_true",
                   help="write -o even when too few impostor pairs support the target FMR")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    check_output(args.plot)
    report = ft.calibrate(args.folder, target_fmr=args.target_fmr, output=args.output,
                          plot=args.plot, force=args.force)
    c = report.calibration
    if report.caution:
        print(f"face-trigger: warning: {report.caution}", file=sys.stderr)
    print(report.format_table())
    print(f"threshold for FMR <= {c.target_fmr:g}: {c.threshold:.4f} (FMR {c.fmr:.2e}, FNMR "
          f"{c.fnmr:.3f}; {c.genuine_pairs} genuine, {c.impostor_pairs} impostor pairs)")
    if args.output:
        print(f"calibration written to {args.output}", file=sys.stderr)
    return EXIT_OK
