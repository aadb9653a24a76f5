"""The ``face-trigger`` commands but ``gallery`` (``gallery.py``); exit codes in ``common.py``."""
from __future__ import annotations

import argparse
import csv
import json
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

import face_trigger as ft
from face_trigger import (MATCH_COSINE, FacePipeline, FaceTriggerError, __version__, read_image,
                          write_image)
from face_trigger.draw import FACE_COLOUR, UNKNOWN_COLOUR, draw_faces, side_by_side
from face_trigger.enrollment import IMAGE_SUFFIXES
from face_trigger.image_io import sample_images
from face_trigger.runtime import configure_opencv, opencv_version

from .common import (DB_HELP, EXIT_DIFFERENT, EXIT_ERROR, EXIT_INPUT, EXIT_OK, EXIT_USAGE,
                     CommandError, UsageError, check_output)
from .gallery import add_gallery_commands, upgrade


# ---------------------------------------------------------------------------- inputs

def expand_inputs(paths: Sequence[str]) -> List[Tuple[str, Optional[str]]]:
    """(path, problem) for every image named or inside a named folder (not recursive),
    folders sorted by name; a missing path gives (path, "not found")."""
    out: List[Tuple[str, Optional[str]]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += [(str(p), None) for p in sorted(path.iterdir())
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            out.append((raw, None))
        else:
            out.append((raw, "not found"))
    return out


def _progress(items: Iterable[Any], what: str, total: int):
    from tqdm.auto import tqdm  # a bar on a terminal only (disable=None), never when piped
    return tqdm(items, desc=what, unit="image", total=total,
                disable=None if total > 1 else True, file=sys.stderr, leave=False)


# Worker processes of --cpus: each builds its own pipeline once (OpenCV nets cannot be shared).
_WORKER: Dict[str, Any] = {}


def _init_worker(max_side: Optional[int]) -> None:
    configure_opencv(threads=1, quiet=True)  # N processes x 1 thread, not N x 2
    _WORKER["pipeline"] = FacePipeline(ft.detector.YuNetDetector(max_side=max_side))


#: One analysed file: (path, [(box, embedding, score)...] or None, error or None).
Analysed = Tuple[str, Optional[List[Tuple[List[float], Any, float]]], Optional[str]]


def _analyze_with(pipeline: Any, path: str) -> Analysed:
    try:
        faces = pipeline.analyze(read_image(path))
    except FaceTriggerError as exc:
        return path, None, str(exc)
    return path, [(f.box.tolist(), f.vector, f.score) for f in faces], None


def _analyze_in_worker(path: str) -> Analysed:
    return _analyze_with(_WORKER["pipeline"], path)


def analyze_files(paths: Sequence[str], max_side: Optional[int], cpus: int,
                  what: str) -> Iterable[Analysed]:
    """One :data:`Analysed` per path, in input order."""
    if max_side is not None and max_side < 32:
        raise UsageError(f"--max-side must be at least 32, got {max_side}")
    if cpus < 0:
        cpus = os.cpu_count() or 1  # -1: every core, like face_recognition's --cpus -1
    if cpus <= 1 or len(paths) < 2:
        pipeline = FacePipeline(ft.detector.YuNetDetector(max_side=max_side))
        for path in _progress(paths, what, len(paths)):
            yield _analyze_with(pipeline, path)
        return
    # Workers are spawned, not forked: a fork after OpenCV's (or OpenVINO's) threads have
    # started in this process (building KNOWN's recognizer does) can leave a child waiting
    # on a lock no thread will release. Results stream in input order as they come.
    with ProcessPoolExecutor(max_workers=cpus, initializer=_init_worker, initargs=(max_side,),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(_analyze_in_worker, paths, chunksize=4)
        yield from _progress(results, what, len(paths))


# ---------------------------------------------------------------------------- commands

def _csv_row(*fields: Any) -> None:
    """One CSV line on stdout, quoted by the csv module where a field needs it (a file
    name holding a comma, quote or newline cannot forge a row)."""
    csv.writer(sys.stdout, lineterminator="\n").writerow(fields)


def _cmd_detect(args: argparse.Namespace) -> int:
    status = EXIT_OK
    inputs = expand_inputs(args.images)
    readable = [p for p, problem in inputs if problem is None]
    for path, problem in inputs:
        if problem:
            print(f"face-trigger: {path}: {problem}", file=sys.stderr)
            status = EXIT_INPUT
    if args.format == "csv" and not args.json:
        _csv_row("file", "x1", "y1", "x2", "y2", "score")
    for path, faces, error in analyze_files(readable, args.max_side, args.cpus, "detecting"):
        if error or faces is None:
            print(f"face-trigger: {path}: {error}", file=sys.stderr)
            status = EXIT_INPUT
            continue
        for box, _, score in faces:
            x1, y1, x2, y2 = box
            if args.json:
                print(json.dumps({"file": path, "box": [round(v, 1) for v in box],
                                  "score": round(float(score), 4)}))
            elif args.format == "face_recognition":  # top, right, bottom, left like the peer
                _csv_row(path, round(y1), round(x2), round(y2), round(x1))
            else:
                _csv_row(path, f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}", f"{score:.4f}")
    return status


def _known_recognizer(known: str, args: argparse.Namespace) -> Tuple[Any, List[str]]:
    """The identifier of KNOWN: a gallery (``--db``, or KNOWN is one), a saved model, or
    KNOWN/<name>.jpg files and <name>/ folders enrolled now."""
    threshold = _threshold(args)
    if args.db or ft.gallery.looks_like_gallery(known):
        # no net is built here: worker processes build their own
        gallery = ft.Gallery(args.db or known, ft.model_files.bundled_info("embedder"),
                             unknown_threshold=threshold)
        return gallery, []
    path = Path(known)
    recognizer = ft.FaceRecognizer(classifier="knn", unknown_threshold=threshold)
    if path.is_file():
        recognizer.load(path, key=args.key)
        recognizer.unknown_threshold = threshold
        return recognizer, []
    if not path.is_dir():
        raise UsageError(f"known people: {known} is neither a folder nor a saved model")
    # KNOWN/<name>.jpg or KNOWN/<name>/*.jpg; of several faces the largest is used
    enrolled = ft.enrollment.enroll_folder(path, FacePipeline(), progress=False,
                                           several_faces="largest")
    warnings = [f"{r.path}: {r.status} {r.detail}".rstrip() for r in enrolled.records
                if r.status != ft.enrollment.ENROLLED or r.detail]
    if not enrolled.labels:
        raise UsageError(f"known people: no usable face under {known}")
    recognizer.fit(enrolled.embeddings, enrolled.labels)
    return recognizer, warnings


def _threshold(args: argparse.Namespace) -> float:
    if args.tolerance is not None:
        if args.threshold is not None:
            raise UsageError("give --threshold (cosine) or --tolerance (distance), not both")
        if not 0 < args.tolerance < 2:
            raise UsageError(f"--tolerance must be in (0, 2), got {args.tolerance}")
        return 1.0 - args.tolerance ** 2 / 2.0  # L2 distance of unit vectors -> cosine
    if args.threshold is None:
        return ft.IDENTIFY_COSINE
    return _cosine_flag(args.threshold, "--threshold")


def _cosine_flag(value: float, flag: str) -> float:
    """A cosine similarity given on the command line: in [-1, 1], else a usage error."""
    if not -1.0 <= value <= 1.0:  # NaN fails too
        raise UsageError(f"{flag} is a cosine similarity in [-1, 1], got {value}")
    return value


def _cmd_identify(args: argparse.Namespace) -> int:
    if args.db:  # no KNOWN: every positional is an image
        args.images = ([args.known] if args.known else []) + list(args.images)
    elif not args.known or not args.images:
        raise UsageError("identify needs KNOWN and at least one image (or --db and images)")
    if not args.images:
        raise UsageError("identify needs at least one image")
    recognizer, warnings = _known_recognizer(args.known, args)
    for line in warnings:
        print(f"face-trigger: {line}", file=sys.stderr)
    status = EXIT_OK
    inputs = expand_inputs(args.images)
    for path, problem in inputs:
        if problem:
            print(f"face-trigger: {path}: {problem}", file=sys.stderr)
            status = EXIT_INPUT
    readable = [p for p, problem in inputs if problem is None]
    for path, faces, error in analyze_files(readable, args.max_side, args.cpus, "identifying"):
        if error or faces is None:
            print(f"face-trigger: {path}: {error}", file=sys.stderr)
            status = EXIT_INPUT
            continue
        if not faces:
            if args.json:
                print(json.dumps({"file": path, "faces": []}))
            else:
                _csv_row(path, "no_persons_found")
            continue
        who = recognizer.identify(np.stack([f[1] for f in faces]))
        if args.json:
            print(json.dumps({"file": path, "faces": [
                {"box": [round(v, 1) for v in f[0]], "name": w.name, "known": w.known,
                 "similarity": round(w.similarity, 4), "distance": round(_distance(w), 4)}
                for f, w in zip(faces, who)]}))
            continue
        for w in who:
            name = w.name if w.known else "unknown_person"
            _csv_row(path, name, *([f"{_distance(w):.4f}"] if args.show_distance else []))
    return status


def _distance(who: Any) -> float:
    """L2 distance of unit vectors with cosine similarity s (what the peer prints)."""
    return max(0.0, 2.0 - 2.0 * who.similarity) ** 0.5


def _cmd_train(args: argparse.Namespace) -> int:
    check_output(args.output)
    recognizer = ft.FaceRecognizer(classifier=args.classifier)
    result = recognizer.fit_folder(args.folder)
    recognizer.save(args.output, key=args.key)
    label_map = Path(args.label_map) if args.label_map else \
        Path(args.output).with_suffix(".labels.json")
    recognizer.save_label_mapping(label_map)
    print(result.summary(), file=sys.stderr)
    signed = bool(args.key or os.environ.get("FACE_TRIGGER_MODEL_KEY"))
    print(f"saved {args.output} ({'signed' if signed else 'unsigned: trust it like code'}) "
          f"and {label_map}", file=sys.stderr)
    return EXIT_OK


def _cmd_enroll(args: argparse.Namespace) -> int:
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


def _cmd_verify(args: argparse.Namespace) -> int:
    threshold = _cosine_flag(args.threshold, "--threshold")
    result = ft.verify(args.image1, args.image2, threshold=threshold, soft=True)
    if result.detail:  # a readable image without a face: an answer ("not verified"), exit 1
        if args.json:
            print(json.dumps({"verified": False, "similarity": None, "threshold": threshold,
                              "match_probability": 0.0, "model": result.model,
                              "error": result.detail}))
        else:
            print(f"not verified: {result.detail}")
        return EXIT_DIFFERENT
    if args.json:
        print(json.dumps({"verified": result.verified, "similarity": round(result.similarity, 4),
                          "threshold": result.threshold,
                          "match_probability": round(result.match_probability, 4),
                          "model": result.model}))
    else:
        print(f"{'same person' if result.verified else 'different people'}: similarity "
              f"{result.similarity:.3f} (threshold {result.threshold}), match probability "
              f"{result.match_probability:.3f}")
    return EXIT_OK if result.verified else EXIT_DIFFERENT


def _cmd_calibrate(args: argparse.Namespace) -> int:
    check_output(args.output)
    check_output(args.plot)
    report = ft.calibrate(args.folder, target_fmr=args.target_fmr, output=args.output,
                          plot=args.plot)
    c = report.calibration
    if report.caution:
        print(f"face-trigger: warning: {report.caution}", file=sys.stderr)
    print(report.format_table())
    print(f"threshold for FMR <= {c.target_fmr:g}: {c.threshold:.4f} (FMR {c.fmr:.2e}, FNMR "
          f"{c.fnmr:.3f}; {c.genuine_pairs} genuine, {c.impostor_pairs} impostor pairs)")
    if args.output:
        print(f"calibration written to {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_annotate(args: argparse.Namespace) -> int:
    if args.model and args.db:
        raise UsageError("annotate takes --model or --db, not both")
    single = len(args.images) == 1 and not Path(args.images[0]).is_dir()
    if single:
        check_output(args.output)
        targets: List[Tuple[str, Optional[str]]] = [(args.images[0], None)]
    else:  # a folder or several images: -o is a folder, created if its parent exists
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise UsageError(f"-o {out} must be a folder when annotating several images")
        check_output(str(out / "x.jpg") if out.is_dir() else args.output)
        targets = expand_inputs(args.images)
        out.mkdir(exist_ok=True)
    pipeline = FacePipeline()
    identifier = None
    if args.db:
        identifier = ft.Gallery(args.db, pipeline.model)
    elif args.model:
        identifier = ft.FaceRecognizer().load(args.model, key=args.key)
    status = EXIT_OK
    for path, problem in targets:
        output = args.output if single else str(Path(args.output) / _annotated_name(path))
        try:
            if problem:
                raise ft.ImageReadError(problem)
            count = _annotate_one(path, output, pipeline, identifier)
        except (ft.ImageReadError, ft.InvalidImageError) as exc:
            if single:
                raise
            print(f"face-trigger: {path}: {exc}", file=sys.stderr)
            status = EXIT_INPUT
            continue
        print(f"{path}: {count} face(s); annotated image written to {output}", file=sys.stderr)
    return status


def _annotated_name(path: str) -> str:
    """The output file name for an input: its own name, as .jpg unless it is a PNG."""
    source = Path(path)
    return source.name if source.suffix.lower() in (".jpg", ".jpeg", ".png") else \
        source.stem + ".jpg"


def _annotate_one(path: str, output: str, pipeline: FacePipeline, identifier: Any) -> int:
    """Draw the faces of one image (named when ``identifier`` is given); returns their count."""
    frame = read_image(path)
    faces = pipeline.analyze(frame)
    labels = [f"{f.score:.2f}" for f in faces]
    colours = None
    if identifier is not None and faces:
        who = identifier.identify(np.stack([f.vector for f in faces]))
        labels = [f"{w.name} {w.similarity:.2f}" for w in who]
        colours = [FACE_COLOUR if w.known else UNKNOWN_COLOUR for w in who]
    write_image(output, draw_faces(frame, faces, labels, colours=colours))
    return len(faces)


def _cmd_liveness(args: argparse.Namespace) -> int:
    from face_trigger.liveness import LivenessChecker  # noqa: PLC0415 - this command only
    threshold = ft.thresholds.LIVE_PROBABILITY if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {threshold}")
    pipeline = FacePipeline(liveness=LivenessChecker(threshold=threshold))
    status = EXIT_OK
    if not args.json:
        _csv_row("file", "x1", "y1", "x2", "y2", "live_probability", "verdict")
    for path, problem in expand_inputs(args.images):
        try:
            if problem:
                raise ft.ImageReadError(problem)
            faces = pipeline.analyze(read_image(path))
        except (ft.ImageReadError, ft.InvalidImageError) as exc:
            print(f"face-trigger: {path}: {exc}", file=sys.stderr)
            status = EXIT_INPUT
            continue
        verdicts = ["live" if (f.live or 0.0) >= threshold else "spoof" for f in faces]
        if status == EXIT_OK and (not faces or "spoof" in verdicts):
            status = EXIT_ERROR
        if args.json:
            print(json.dumps({"file": path, "threshold": threshold, "faces": [
                {"box": [round(float(v), 1) for v in f.box], "live_probability":
                 round(float(f.live or 0.0), 4), "live": v == "live"}
                for f, v in zip(faces, verdicts)]}))
            continue
        if not faces:
            _csv_row(path, "", "", "", "", "", "no_face")
        for face, verdict in zip(faces, verdicts):
            _csv_row(path, *(f"{float(v):.1f}" for v in face.box), f"{face.live:.4f}", verdict)
    return status


def _cmd_watch(args: argparse.Namespace) -> int:
    extra = list(args.set) + (["liveness.enabled=true"] if args.liveness else [])
    try:
        config = ft.load_config(args.config, ft.door.door_overrides(
            args.source, args.model, args.people, args.audit, extra, gallery=args.gallery))
    except ft.ConfigError as exc:
        raise UsageError(f"configuration: {exc}") from exc
    return ft.door.run_door(config, as_json=args.json, dry_run=args.dry_run, key=args.key)


def _cmd_bench(args: argparse.Namespace) -> int:
    pipeline = FacePipeline()
    photo = read_image(sample_images()[1])  # obama.jpg, letterboxed onto 1920x1080
    scaled = cv2.resize(photo, (round(photo.shape[1] * 1080 / photo.shape[0]), 1080),
                        interpolation=cv2.INTER_AREA)[:, :1920]
    side = (1920 - scaled.shape[1]) // 2
    frame = np.asarray(cv2.copyMakeBorder(scaled, 0, 0, side, 1920 - scaled.shape[1] - side,
                                          cv2.BORDER_CONSTANT, value=(0, 0, 0)), np.uint8)
    chips = ft.align.align_faces(frame, pipeline.detect(frame).landmarks)
    cases = {"detect (1080p)": lambda: pipeline.detect(frame),
             "embed one face": lambda: pipeline.embedder.embed_chips(chips),
             "detect_embedding (1080p, one face)": lambda: pipeline.detect_embedding(frame)}
    for fn in cases.values():
        for _ in range(3):
            fn()
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    print(f"face_trigger {__version__}, OpenCV {opencv_version()}, {os.cpu_count()} CPUs, "
          f"detector side {ft.thresholds.DETECT_MAX_SIDE}, engine {pipeline.detector.engine}")
    for name, values in times.items():
        print(f"  {name:38s} median {np.median(values) * 1e3:7.2f} ms  p90 "
              f"{np.percentile(values, 90) * 1e3:7.2f} ms  ({len(values)} runs)")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    check_output(args.output)
    pipeline = FacePipeline()
    det_model, emb_model = pipeline.detector.model, pipeline.embedder.model
    print(f"face_trigger {__version__}, OpenCV {opencv_version()}, {os.cpu_count()} CPUs")
    print(f"detector {det_model.id}, embedder {emb_model.id} (sha256 verified; engine "
          f"{pipeline.engine})")
    found = []
    panels = []
    for path in sample_images():
        frame = read_image(path)
        faces = pipeline.analyze(frame)
        print(f"{path.name} ({frame.shape[1]}x{frame.shape[0]}): {len(faces)} face(s)")
        for i, face in enumerate(faces):
            box = " ".join(f"{v:.0f}" for v in face.box)
            vector = face.vector
            head = ", ".join(f"{v:+.3f}" for v in vector[:4])
            print(f"  face {i}: box x1 y1 x2 y2 = {box}, score {face.score:.3f}, "
                  f"embedding {vector.shape[0]}-d {vector.dtype} "
                  f"norm {float((vector ** 2).sum()) ** 0.5:.3f} [{head}, ...]")
        if faces:
            found.append((path.name, faces[0]))
        panels.append(draw_faces(frame, faces, [f"{path.stem} {f.score:.2f}" for f in faces]))
    if len(found) >= 2:
        print(f"cosine similarity between faces (same person at >= {MATCH_COSINE}):")
        for a, (name_a, face_a) in enumerate(found):
            for name_b, face_b in found[a + 1:]:
                similarity = float(face_a.vector @ face_b.vector)
                verdict = "same person" if similarity >= MATCH_COSINE else "different people"
                print(f"  {name_a} vs {name_b}: {similarity:.3f} -> {verdict}")
    output = write_image(args.output, side_by_side(panels))
    print(f"annotated image written to {Path(output).resolve()}")
    print("next: see README.md for the Python API (FacePipeline, detect_embedding) and tests")
    return EXIT_OK


# ---------------------------------------------------------------------------- parser

def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="face-trigger",
        description="Face detection, embedding and recognition on the CPU (YuNet + SFace).")
    parser.add_argument("--version", action="version", version=f"face_trigger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show OpenCV warnings and Python tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument("--threads", type=int, default=None,
                        help="OpenCV threads per call (default: OpenCV's choice)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("detect", _cmd_detect, "print every face of images or folders")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--format", choices=["csv", "face_recognition"], default="csv",
                   help="csv: file,x1,y1,x2,y2,score (default); face_recognition: "
                        "file,top,right,bottom,left like face_detection")
    p.add_argument("--json", action="store_true", help="one JSON object per face")
    p.add_argument("--max-side", type=int, default=ft.thresholds.DETECT_MAX_SIDE,
                   help="detector input side; raise it for small faces (default %(default)s)")
    p.add_argument("--cpus", type=int, default=1,
                   help="worker processes for many images (-1: one per core)")

    p = command("identify", _cmd_identify,
                "name the faces of images with known people (face_recognition's CLI output)")
    p.add_argument("known", metavar="KNOWN", nargs="?",
                   help="folder of <name>.jpg files or <name>/ folders, a saved .pkl, or a "
                        "gallery (SQLite file or postgresql:// URL)")
    p.add_argument("images", nargs="*", metavar="IMAGE_OR_DIR")
    p.add_argument("--db", help="identify against this gallery (then no KNOWN): " + DB_HELP)
    p.add_argument("--threshold", type=float, default=None,
                   help=f"cosine similarity to accept a match (default {ft.IDENTIFY_COSINE})")
    p.add_argument("--tolerance", type=float, default=None,
                   help="face_recognition-style L2 distance instead: accept when the distance "
                        "of unit embeddings is <= T (threshold = 1 - T^2/2); SFace's scale "
                        "differs from dlib's, so the peer's 0.6 is far too strict: try 1.04")
    p.add_argument("--show-distance", action="store_true", help="append the distance")
    p.add_argument("--max-side", type=int, default=ft.thresholds.DETECT_MAX_SIDE,
                   help="detector input side; raise it for small faces (default %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--cpus", type=int, default=1,
                   help="worker processes for many images (-1: one per core)")
    p.add_argument("--key", help="key of a signed model (default $FACE_TRIGGER_MODEL_KEY)")

    p = command("train", _cmd_train, "train a recognizer from DIR/<person>/*.jpg")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pkl)")
    p.add_argument("--classifier", choices=["svm", "knn"], default="svm")
    p.add_argument("--key", help="signing key (default $FACE_TRIGGER_MODEL_KEY)")
    p.add_argument("--label-map", help="label map JSON (default: next to the model)")

    p = command("enroll", _cmd_enroll,
                "enrol DIR/<person>/* into a gallery database, with a quality report")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--db", required=True, help=DB_HELP)
    p.add_argument("--strictness", choices=["lenient", "normal", "strict"], default="normal",
                   help="which quality flags refuse a photo (default %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON object per photo")

    add_gallery_commands(sub)
    p = command("gallery-upgrade", upgrade, "the older name of `gallery upgrade`")
    p.add_argument("--db", required=True, help=DB_HELP)

    p = command("verify", _cmd_verify, "are two images the same person? (exit 0 same, 1 not)")
    p.add_argument("image1")
    p.add_argument("image2")
    p.add_argument("--threshold", type=float, default=MATCH_COSINE)
    p.add_argument("--json", action="store_true")

    p = command("calibrate", _cmd_calibrate, "FMR/FNMR table and threshold for DIR/<person>/*")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--target-fmr", type=float, default=1e-3)
    p.add_argument("-o", "--output", help="calibration JSON to write")
    p.add_argument("--plot", help="ROC / score distribution PNG (needs face_trigger[plot])")

    p = command("annotate", _cmd_annotate, "draw boxes, landmarks, names and scores")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("-o", "--output", required=True,
                   help="image to write for one image; a folder for a folder or several")
    p.add_argument("--model", help="saved recognizer to name the faces")
    p.add_argument("--db", help="gallery to name the faces: " + DB_HELP)
    p.add_argument("--key", help="key of a signed model")

    p = command("watch", _cmd_watch, "the door trigger on a camera, video or URL")
    p.add_argument("source", nargs="?", help="camera index, video file or URL")
    p.add_argument("--config", help="TOML configuration")
    p.add_argument("--model", help="saved recognizer")
    p.add_argument("--people", help="folder <name>/*.jpg to enrol at start")
    p.add_argument("--gallery", help="identify with a gallery: " + DB_HELP)
    p.add_argument("--audit", help="audit log path")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--json", action="store_true", help="one JSON object per decision")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--liveness", action="store_true",
                   help="fire only for live faces, not photos or screens held up "
                        "([liveness] in the config; docs/liveness.md)")
    p.add_argument("--key", help="key of a signed model")

    p = command("liveness", _cmd_liveness,
                "live or spoof (a photo or screen held up) for every face; exit 0 when all "
                "are live")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"live probability to accept (default {ft.thresholds.LIVE_PROBABILITY})")
    p.add_argument("--json", action="store_true", help="one JSON object per image")

    p = command("bench", _cmd_bench, "time the pipeline on a bundled photo")
    p.add_argument("--repeats", type=int, default=30)

    p = command("demo", _cmd_demo, "run the pipeline on the bundled sample photos")
    p.add_argument("-o", "--output", default="face_trigger_demo.jpg",
                   help="annotated image to write (default: %(default)s)")
    return parser


def _exit_code(exc: BaseException) -> int:
    """Each face_trigger error carries its exit status (``errors.py``); of the others a
    usage error exits 2, a missing file 3, the rest 1."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, FaceTriggerError):
        return exc.exit_code
    return EXIT_INPUT if isinstance(exc, FileNotFoundError) else EXIT_ERROR


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        configure_opencv(threads=args.threads, quiet=not args.verbose)
        return int(args.handler(args))
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (FaceTriggerError, OSError, ValueError, UsageError, CommandError) as exc:
        if args.verbose:
            raise
        print(f"face-trigger: error: {exc}", file=sys.stderr)
        return _exit_code(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
