"""``face-trigger enroll``: photos of DIR/<person>/ (or one photo of --name) into a gallery,
with a quality report."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import face_trigger as ft
from face_trigger import FacePipeline
from face_trigger.gallery.enrollment import GalleryEnrollment

from .common import EXIT_ERROR, EXIT_OK, flags

HELP = ("enrol DIR/<person>/* (or one PHOTO of --name) into a gallery database, with a "
        "quality report; exit 1 when a photo was refused")


def register(sub: Any) -> None:
    p = sub.add_parser("enroll", help=HELP, description=HELP,
                       parents=flags("json", "db", db_required=True,
                                     json_help="one JSON object per photo"))
    p.add_argument("folder", metavar="DIR_OR_PHOTO")
    p.add_argument("--name", help="the person of a single PHOTO (default: its file name)")
    p.add_argument("--strictness", choices=["lenient", "normal", "strict"], default="normal",
                   help="which quality flags refuse a photo (default %(default)s)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    pipeline = FacePipeline()
    gallery = ft.Gallery(args.db, pipeline.model.id)
    source = Path(args.folder)
    if source.is_file():  # one photo: its person is --name, or the file's name
        result = GalleryEnrollment([ft.gallery.enroll_photo(
            gallery, args.name or source.stem, source, pipeline, strictness=args.strictness)])
    else:
        result = ft.gallery.enroll_folder(gallery, args.folder, pipeline,
                                          strictness=args.strictness)
    reports = result.reports
    if args.json:
        for report in reports:
            print(json.dumps({"file": report.path, "person": report.person,
                              "enrolled": report.enrolled, "flags": list(report.flags),
                              "detail": report.detail, "faceprint_id": report.faceprint_id}))
    else:
        print(result.summary())
    people = gallery.people()
    print(f"{gallery.location}: {len(people)} people, {len(gallery)} faceprints",
          file=sys.stderr)
    refused = sum(r.outcome == "refused" for r in reports)
    if refused:
        print(f"face-trigger: error: {refused} of {len(reports)} photos were refused (the "
              "report says why)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
