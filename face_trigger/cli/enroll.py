"""``face-trigger enroll``: photos of DIR/<person>/ into a gallery, with a quality report."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import face_trigger as ft
from face_trigger import FacePipeline

from .common import EXIT_OK, flags

HELP = "enrol DIR/<person>/* into a gallery database, with a quality report"


def register(sub: Any) -> None:
    p = sub.add_parser("enroll", help=HELP, description=HELP,
                       parents=flags("json", "db", db_required=True,
                                     json_help="one JSON object per photo"))
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--strictness", choices=["lenient", "normal", "strict"], default="normal",
                   help="which quality flags refuse a photo (default %(default)s)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    pipeline = FacePipeline()
    gallery = ft.Gallery(args.db, pipeline.model.id)
    result = ft.gallery.enroll_folder(gallery, args.folder, pipeline, strictness=args.strictness)
    if args.json:
        for report in result.reports:
            print(json.dumps({"file": report.path, "person": report.person,
                              "enrolled": report.enrolled, "flags": list(report.flags),
                              "detail": report.detail, "faceprint_id": report.faceprint_id}))
    else:
        print(result.summary())
    people = gallery.people()
    print(f"{gallery.location}: {len(people)} people, {len(gallery)} faceprints",
          file=sys.stderr)
    return EXIT_OK
