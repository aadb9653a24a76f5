"""``face-trigger gallery list | rename OLD NEW | remove NAME | export FILE | import FILE |
upgrade``, each with ``--db``: a gallery kept from the command line."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

import face_trigger as ft
from face_trigger.model_files import bundled_info

from .common import EXIT_OK, check_output, flags

#: What every gallery action is handed: the parsed arguments and the open gallery.
Action = Callable[[argparse.Namespace, Any], int]


def register(sub: Any) -> None:
    """Register ``gallery`` and its actions (and the older ``gallery-upgrade``) on the
    top-level subparsers ``sub``."""
    text = "keep a gallery: list, rename, remove, export, import, upgrade (each with --db)"
    parser = sub.add_parser("gallery", help=text, description=text)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, handler: Action, help_text: str, *, create: bool = False,
               json_help: str = "") -> argparse.ArgumentParser:
        parents = flags("db", "verbosity", db_required=True)
        if json_help:
            parents += flags("json", json_help=json_help)
        p = actions.add_parser(name, help=help_text, description=help_text, parents=parents)
        p.set_defaults(handler=lambda args: _with_gallery(args, handler, create))
        return p

    p = action("list", _list, "people enrolled, their faceprints and metadata",
               json_help="one JSON object per person")
    p = action("rename", _rename, "rename a person (their faceprints stay)")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p = action("remove", _remove, "remove a person and all their faceprints")
    p.add_argument("name", metavar="NAME")
    p = action("export", _export, "write people and faceprints as JSON (for import)")
    p.add_argument("file", metavar="FILE")
    p = action("import", _import, "add the people of an export (same model; created if missing)",
               create=True)
    p.add_argument("file", metavar="FILE")
    p = actions.add_parser("upgrade", help="bring the schema to this release (back up first)",
                           description="bring the schema to this release (back up first)",
                           parents=flags("db", "verbosity", db_required=True))
    p.set_defaults(handler=upgrade)
    p = sub.add_parser("gallery-upgrade", help="the older name of `gallery upgrade`",
                       description="the older name of `gallery upgrade`",
                       parents=flags("db", db_required=True))
    p.set_defaults(handler=upgrade)


def upgrade(args: argparse.Namespace) -> int:
    """``gallery upgrade`` (and the older ``gallery-upgrade``)."""
    before, after = ft.gallery.upgrade_gallery(args.db, bundled_info("embedder").id)
    print(f"schema version {before} -> {after}" if after != before
          else f"schema version {after}: up to date")
    return EXIT_OK


def _with_gallery(args: argparse.Namespace, handler: Action, create: bool) -> int:
    # without create, a typo is not turned into a new, empty gallery
    gallery = ft.Gallery(args.db, bundled_info("embedder"), create=create)
    try:
        return handler(args, gallery)
    finally:
        gallery.close()


def _list(args: argparse.Namespace, gallery: Any) -> int:
    people = gallery.people()
    for person in people:
        if args.json:
            print(json.dumps(person))
        else:
            print(f"{person['name']}\t{person['faceprints']}")
    print(f"{gallery.location}: {len(people)} people, {len(gallery)} faceprints",
          file=sys.stderr)
    return EXIT_OK


def _rename(args: argparse.Namespace, gallery: Any) -> int:
    gallery.rename_person(args.old, args.new)  # PersonNotFoundError, PersonExistsError
    print(f"renamed {args.old} -> {args.new}", file=sys.stderr)
    return EXIT_OK


def _remove(args: argparse.Namespace, gallery: Any) -> int:
    count = gallery.remove_person(args.name)  # PersonNotFoundError
    print(f"removed {args.name} and {count} faceprint(s)", file=sys.stderr)
    return EXIT_OK


def _export(args: argparse.Namespace, gallery: Any) -> int:
    check_output(args.file)
    people = gallery.people()
    gallery.export_json(args.file)
    print(f"exported {len(people)} people, {len(gallery)} faceprints to {args.file}",
          file=sys.stderr)
    return EXIT_OK


def _import(args: argparse.Namespace, gallery: Any) -> int:
    if not os.path.isfile(args.file):
        raise FileNotFoundError(f"no gallery export at {args.file}")
    added = gallery.import_json(args.file)
    print(f"imported {added} faceprint(s) from {args.file}; {gallery.location}: "
          f"{len(gallery.people())} people, {len(gallery)} faceprints", file=sys.stderr)
    return EXIT_OK
