"""``face-trigger train``: a recognizer (.pkl) from DIR/<person>/*.jpg."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import face_trigger as ft

from .common import EXIT_OK, UsageError, check_output, flags

HELP = "train a recognizer from DIR/<person>/*.jpg"


def register(sub: Any) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP, parents=flags("key"))
    p.add_argument("--unsigned", action="store_true",
                   help="save without a key (the door and the command line refuse such a "
                        "model unless told --allow-unsigned)")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pkl)")
    p.add_argument("--classifier", choices=["svm", "knn"], default="svm")
    p.add_argument("--label-map", help="label map JSON (default: next to the model)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    signed = bool(args.key or os.environ.get("FACE_TRIGGER_MODEL_KEY"))
    if not signed and not args.unsigned:
        raise UsageError("the door and the command line load only signed models: give --key "
                         "KEY (or set $FACE_TRIGGER_MODEL_KEY), or --unsigned to save one "
                         "anyway")
    recognizer = ft.FaceRecognizer(classifier=args.classifier)
    result = recognizer.fit_folder(args.folder)
    recognizer.save(args.output, key=args.key)
    label_map = Path(args.label_map) if args.label_map else \
        Path(args.output).with_suffix(".labels.json")
    recognizer.save_label_mapping(label_map)
    print(result.summary(), file=sys.stderr)
    print(f"saved {args.output} ({'signed' if signed else 'unsigned: trust it like code'}) "
          f"and {label_map}", file=sys.stderr)
    return EXIT_OK
