"""``face-trigger annotate``: boxes, landmarks, names and scores drawn on images and on
every frame of video files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np

import face_trigger as ft
from face_trigger import FacePipeline, FaceTriggerError, read_image, write_image
from face_trigger.door.view import VideoRecorder
from face_trigger.draw import FACE_COLOUR, UNKNOWN_COLOUR, draw_faces

from .common import DB_HELP, EXIT_OK, Inputs, UsageError, check_output, cosine_flag, flags
from .video import is_video, open_video, video_frames

HELP = "draw boxes, landmarks, names and scores on images or videos"
#: Containers an annotated video may be written as (the input's own when it is one).
VIDEO_OUT = (".mp4", ".avi", ".mkv")


def register(sub: Any) -> None:
    p = sub.add_parser("annotate", help=HELP, description=HELP,
                       parents=flags("key", "db", "max_side", "threshold",
                                     db_help="gallery to name the faces: " + DB_HELP))
    p.add_argument("images", nargs="+", metavar="IMAGE_DIR_OR_VIDEO")
    p.add_argument("-o", "--output", required=True,
                   help="image (or .mp4, .avi, .mkv video) to write for one input; a folder "
                        "for a folder or several")
    p.add_argument("--model", help="saved recognizer to name the faces")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.model and args.db:
        raise UsageError("annotate takes --model or --db, not both")
    single = len(args.images) == 1 and not Path(args.images[0]).is_dir()
    if single:
        check_output(args.output)
        if is_video(args.images[0]) and Path(args.output).suffix.lower() not in VIDEO_OUT:
            raise UsageError(f"-o {args.output}: a video is annotated into a .mp4, .avi or "
                             ".mkv file")
    else:  # a folder or several images: -o is a folder, created if its parent exists
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise UsageError(f"-o {out} must be a folder when annotating several images")
        check_output(str(out / "x.jpg") if out.is_dir() else args.output)
        out.mkdir(exist_ok=True)
    pipeline = FacePipeline(ft.detector.YuNetDetector(max_side=args.max_side))
    gate = ft.IDENTIFY_COSINE
    if args.threshold is not None:
        gate = cosine_flag(args.threshold, "--threshold")
    identifier: Any = None
    if args.db:
        identifier = ft.Gallery(args.db, pipeline.model, create=False, unknown_threshold=gate)
    elif args.model:
        identifier = ft.FaceRecognizer().load(args.model, key=args.key,
                                              require_signature=not args.allow_unsigned)
        identifier.unknown_threshold = gate
    if single and is_video(args.images[0]):  # one input: its error is the command's
        _annotate_video(args.images[0], args.output, pipeline, identifier)
        return EXIT_OK
    if single:
        count = _annotate(read_image(args.images[0]), args.output, pipeline, identifier)
        print(f"{args.images[0]}: {count} face(s); annotated image written to {args.output}",
              file=sys.stderr)
        return EXIT_OK
    inputs = Inputs(args.images)
    for path in [p for p in inputs.paths() if is_video(p)]:
        try:
            _annotate_video(path, str(Path(args.output) / _annotated_name(path)), pipeline,
                            identifier)
        except FaceTriggerError as exc:
            inputs.report(path, exc)
    images = Inputs([p for p in args.images if not is_video(p)])
    for path, image in images.images():
        output = str(Path(args.output) / _annotated_name(path))
        count = _annotate(image, output, pipeline, identifier)
        print(f"{path}: {count} face(s); annotated image written to {output}", file=sys.stderr)
    return max(inputs.status, images.status)


def _annotated_name(path: str) -> str:
    """The output file name for an input: its own name, as .jpg unless it is a PNG."""
    source = Path(path)
    if is_video(path):
        return source.name if source.suffix.lower() in VIDEO_OUT else source.stem + ".mp4"
    return source.name if source.suffix.lower() in (".jpg", ".jpeg", ".png") else \
        source.stem + ".jpg"


def _annotate_video(path: str, output: str, pipeline: FacePipeline, identifier: Any) -> None:
    """Every frame of the video ``path`` with its faces drawn, as a video at ``output``
    (same rate; written whole or not at all)."""
    recorder = VideoRecorder(output)
    faces = frames = 0
    source = open_video(path)
    try:
        for frame in video_frames(path, source):
            if not frames:
                recorder.fps = source.fps  # declared by the file, 0 when it does not say
            drawn, count = _drawn(frame.image, pipeline, identifier)
            recorder.write(drawn)
            faces, frames = faces + count, frames + 1
    finally:
        recorder.close()
    print(f"{path}: {frames} frames, {faces} faces; annotated video written to {output}",
          file=sys.stderr)


def _annotate(frame: np.ndarray, output: str, pipeline: FacePipeline, identifier: Any) -> int:
    """Draw the faces of one image (named when ``identifier`` is given) into ``output``;
    returns their count."""
    drawn, count = _drawn(frame, pipeline, identifier)
    write_image(output, drawn)
    return count


def _drawn(frame: np.ndarray, pipeline: FacePipeline, identifier: Any) -> Tuple[np.ndarray, int]:
    """A copy of ``frame`` with its faces drawn (named when ``identifier`` is given), and
    their count."""
    faces = pipeline.analyze(frame) if identifier is not None else list(pipeline.detect(frame))
    labels: List[str] = [f"{f.score:.2f}" for f in faces]
    colours = None
    if identifier is not None and faces:
        who = identifier.identify(np.stack([f.vector for f in faces]))
        labels = [f"{w.name} {w.similarity:.2f}" for w in who]
        colours = [FACE_COLOUR if w.known else UNKNOWN_COLOUR for w in who]
    return draw_faces(frame, faces, labels, colours=colours), len(faces)
