"""``face-trigger identify``: name the faces of images with known people (the output and
the flags of face_recognition's command line)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List, Sequence, Tuple

import numpy as np

import face_trigger as ft
from face_trigger import FacePipeline
from face_trigger.enrollment import IMAGE_SUFFIXES
from face_trigger.compat.face_recognition.scale import cosine_to_distance, distance_to_cosine
from face_trigger.thresholds import STILL_SCALES

from .analysis import analyze_files
from .common import DB_HELP, Inputs, UsageError, cosine_flag, csv_row, flags

HELP = "name the faces of images with known people (face_recognition's CLI output)"
RULE = ("Each face is named after the known person whose nearest photo is most similar, when "
        "that similarity reaches the gate (--threshold, cosine; or --tolerance, a distance on "
        "face_recognition's scale) and leads every other person by the margin; else "
        "unknown_person. --all-matches prints every known person within the gate instead, "
        "one line each, as face_recognition does.")


#: click's boolean words, as face_recognition's ``--show-distance true|false`` takes them.
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "y": True, "t": True, "on": True,
               "false": False, "0": False, "no": False, "n": False, "f": False, "off": False}


def peer_argv(argv: Sequence[str]) -> List[str]:
    """``identify`` arguments with face_recognition's ``--show-distance true|false`` read as
    the flag or its absence (our ``--show-distance`` takes no value)."""
    out: List[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        word = item.split("=", 1)[1] if item.startswith("--show-distance=") else (
            items[i + 1] if item == "--show-distance" and i + 1 < len(items) else None)
        if word is not None and word.lower() in _BOOL_WORDS:
            if _BOOL_WORDS[word.lower()]:
                out.append("--show-distance")
            i += 1 if "=" in item else 2
            continue
        out.append(item)
        i += 1
    return out


def register(sub: Any) -> None:
    p = sub.add_parser("identify", help=HELP, description=f"{HELP}. {RULE}",
                       parents=flags("json", "key", "max_side", "cpus", "db", "threshold",
                                     json_help="one JSON object per image",
                                     db_help="identify against this gallery (then no "
                                             "KNOWN): " + DB_HELP))
    p.add_argument("known", metavar="KNOWN", nargs="?",
                   help="folder of <name>.jpg files (its sub-folders are ignored, as by "
                        "face_recognition, unless --folders), one <name>.jpg, a saved .pkl, "
                        "or a gallery (SQLite file or postgresql:// URL)")
    p.add_argument("images", nargs="*", metavar="IMAGE_OR_DIR")
    p.add_argument("--tolerance", type=float, default=None,
                   help="the gate as a distance on face_recognition's scale, any value >= 0, "
                        "lower is stricter: 0.6 (the peer's default) is cosine 0.37, the 1:1 "
                        "match threshold; our default gate, cosine 0.46, is 0.555")
    p.add_argument("--show-distance", action="store_true",
                   help="append the distance (face_recognition's scale; its "
                        "'--show-distance true|false' is accepted too)")
    p.add_argument("--all-matches", action="store_true",
                   help="print every known person within the gate, as face_recognition does")
    p.add_argument("--folders", action="store_true",
                   help="also enrol KNOWN/<name>/*.jpg sub-folders, one person each")
    p.add_argument("--model", choices=["hog", "cnn"], default=None,
                   help="accepted for face_recognition's command line; face_trigger's one "
                        "detector is used")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.db:  # no KNOWN: every positional is an image
        args.images = ([args.known] if args.known else []) + list(args.images)
    elif not args.known or not args.images:
        raise UsageError("identify needs KNOWN and at least one image (or --db and images)")
    if not args.images:
        raise UsageError("identify needs at least one image")
    if args.model is not None:
        print(f"face-trigger: --model {args.model}: face_trigger's own detector (YuNet) is "
              "used", file=sys.stderr)
    args.gate = _threshold(args)
    recognizer, warnings = known_recognizer(args.known, args)
    for line in warnings:
        print(f"face-trigger: {line}", file=sys.stderr)
    inputs = Inputs(args.images)
    # queries are embedded as the known photos are (two scales): a known photo given as a
    # query is at distance 0
    for path, faces, error in analyze_files(inputs.paths(), args.max_side, args.cpus,
                                            "identifying", scales=STILL_SCALES):
        if error or faces is None:
            inputs.report(path, error)
            continue
        if not faces:
            if args.json:
                print(json.dumps({"file": path, "faces": []}))
            else:
                csv_row(path, "no_persons_found")
            continue
        vectors = np.stack([f[1] for f in faces])
        if args.all_matches:
            _print_all_matches(path, vectors, recognizer, args)
            continue
        who = recognizer.identify(vectors)
        if args.json:
            print(json.dumps({"file": path, "faces": [
                {"box": [round(v, 1) for v in f[0]], "name": w.name, "known": w.known,
                 "similarity": round(w.similarity, 4), "distance": round(distance(w), 4)}
                for f, w in zip(faces, who)]}))
            continue
        for w in who:
            name = w.name if w.known else "unknown_person"
            csv_row(path, name, *([f"{distance(w):.4f}"] if args.show_distance else []))
    return inputs.status


def known_recognizer(known: str, args: argparse.Namespace) -> Tuple[Any, List[str]]:
    """The identifier of KNOWN: a gallery (``--db``, or KNOWN is one), a saved model, or
    KNOWN/<name>.jpg files and <name>/ folders enrolled now."""
    threshold = args.gate
    if args.db or ft.gallery.looks_like_gallery(known):
        # no net is built here: worker processes build their own
        gallery = ft.Gallery(args.db or known, ft.model_files.bundled_info("embedder"),
                             unknown_threshold=threshold, create=False)
        return gallery, []
    path = Path(known)
    recognizer = ft.FaceRecognizer(classifier="knn", unknown_threshold=threshold)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:  # one photo: its file names it
        face = ft.pipeline.largest_face(_pipeline(args).analyze(path, scales=STILL_SCALES))
        recognizer.fit(face.vector[None], [path.stem])
        return recognizer, []
    if path.is_file():
        recognizer.load(path, key=args.key, require_signature=not args.allow_unsigned)
        recognizer.unknown_threshold = threshold
        return recognizer, []
    if not path.is_dir():
        raise UsageError(f"known people: {known} is neither a folder nor a saved model")
    # KNOWN/<name>.jpg or KNOWN/<name>/*.jpg; of several faces the largest is used
    enrolled = ft.enrollment.enroll_folder(path, _pipeline(args), progress=False,
                                           several_faces="largest",
                                           sub_folders=bool(args.folders))
    warnings = [f"{r.path}: {r.status} {r.detail}".rstrip() for r in enrolled.records
                if r.status != ft.enrollment.ENROLLED or r.detail]
    if not enrolled.labels:
        raise UsageError(f"known people: no usable face under {known}")
    recognizer.fit(enrolled.embeddings, enrolled.labels)
    return recognizer, warnings


def _pipeline(args: argparse.Namespace) -> FacePipeline:
    """The pipeline the known photos are embedded with: the queries' detection side."""
    return FacePipeline(ft.detector.YuNetDetector(max_side=args.max_side))


def _threshold(args: argparse.Namespace) -> float:
    if args.tolerance is not None:
        if args.threshold is not None:
            raise UsageError("give --threshold (cosine) or --tolerance (distance), not both")
        if not args.tolerance >= 0:  # NaN too
            raise UsageError(f"--tolerance is a distance >= 0, got {args.tolerance}")
        gate = distance_to_cosine(args.tolerance)
        if gate < 0:  # the gate of an identifier is a cosine in [0, 1]
            print(f"face-trigger: --tolerance {args.tolerance} is past cosine 0 "
                  f"(distance {float(cosine_to_distance(0.0)):.3f}): a face matches every "
                  "known person who is not its opposite", file=sys.stderr)
        return max(gate, 0.0)
    if args.threshold is None:
        return ft.IDENTIFY_COSINE
    return cosine_flag(args.threshold, "--threshold")


def distance(who: Any) -> float:
    """The distance on face_recognition's scale of an answer's similarity."""
    return float(cosine_to_distance(who.similarity))


def _print_all_matches(path: str, vectors: np.ndarray, recognizer: Any,
                       args: argparse.Namespace) -> None:
    """face_recognition's rule: every known person within the gate, one line each, most
    similar first (unknown_person when none)."""
    gate = args.gate
    for vector in vectors:
        matches = [(name, sim) for name, sim in _best_per_person(recognizer, vector)
                   if sim >= gate]
        if args.json:
            print(json.dumps({"file": path, "matches": [
                {"name": n, "similarity": round(s, 4),
                 "distance": round(float(cosine_to_distance(s)), 4)} for n, s in matches]}))
            continue
        if not matches:
            csv_row(path, "unknown_person")
        for name, sim in matches:
            csv_row(path, name, *([f"{float(cosine_to_distance(sim)):.4f}"]
                                  if args.show_distance else []))


def _best_per_person(recognizer: Any, vector: np.ndarray) -> List[Tuple[str, float]]:
    """(person, similarity of their nearest enrolled face), most similar first."""
    if isinstance(recognizer, ft.Gallery):
        scores, _, names = recognizer.search(vector[None], k=64)
        best: dict = {}
        for name, score in zip(names[0], scores[0]):
            if name and name not in best:
                best[name] = float(score)
        return sorted(best.items(), key=lambda item: -item[1])
    sims = recognizer.enrolled_ @ vector
    people = [(str(recognizer.classes_[code]), float(sims[recognizer.enrolled_codes_ == code]
                                                     .max()))
              for code in np.unique(recognizer.enrolled_codes_)]
    return sorted(people, key=lambda item: -item[1])
