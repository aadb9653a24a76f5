"""Enrolment into a Gallery with quality checks: every photo gets a report of what was
found and whether it was enrolled."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import thresholds
from ..quality import face_quality, quality_flags
from ..enrollment import scan_folder
from ..errors import FaceTriggerError, InvalidParameterError
from ..faceprint import Faceprint
from .facade import Gallery
from ..image_io import decode_image, read_image, read_image_bytes
from ..pipeline import FacePipeline, largest_face

#: What each strictness refuses. Flags not refused are enrolled with a warning.
STRICTNESS = {
    "lenient": {"no_face", "unreadable"},
    "normal": {"no_face", "unreadable", "several_faces", "too_small", "blurred", "turned"},
    "strict": {"no_face", "unreadable", "several_faces", "too_small", "blurred", "turned",
               "outlier", "lookalike"},
}


@dataclass(frozen=True)
class QualityLimits:
    """Enrolment photos should be better than door sightings.

    min_face_px: face width; min_sharpness: Laplacian variance at 64 px wide (sharp test
    faces 580-1300, a Gaussian blur of sigma 3 27-310); max_yaw: nose offset over eye
    distance (test photos 0.01-0.22); outlier below: best similarity to the person's other
    faceprints; lookalike from: best similarity to another person (the 1:N gate).
    """

    min_face_px: float = 80.0
    min_sharpness: float = 100.0
    max_yaw: float = 0.3
    outlier_below: float = thresholds.MATCH_COSINE
    lookalike_from: float = thresholds.IDENTIFY_COSINE


#: The flag of a photo whose file (by sha256) is already a faceprint of the person.
ALREADY_ENROLLED = "already_enrolled"


@dataclass(frozen=True)
class PhotoReport:
    """Outcome for one photo: ``flags`` found, ``enrolled`` or not, and details."""

    path: str
    person: str
    enrolled: bool
    flags: Tuple[str, ...] = ()
    detail: str = ""
    faceprint_id: Optional[int] = None

    @property
    def outcome(self) -> str:
        """"enrolled", "skipped" (the photo was enrolled before) or "refused"."""
        if self.enrolled:
            return "enrolled"
        return "skipped" if ALREADY_ENROLLED in self.flags else "refused"


@dataclass
class GalleryEnrollment:
    """Reports of a folder enrolment."""

    reports: List[PhotoReport] = field(default_factory=list)

    def summary(self) -> str:
        enrolled = sum(r.enrolled for r in self.reports)
        again = sum(ALREADY_ENROLLED in r.flags for r in self.reports)
        lines = [f"enrolled {enrolled} of {len(self.reports)} photos"
                 + (f"; {again} already enrolled, skipped" if again else "")]
        lines += [f"  {r.path} ({r.person}): {r.outcome}; "
                  f"{', '.join(r.flags)}{'; ' + r.detail if r.detail else ''}"
                  for r in self.reports if r.flags and ALREADY_ENROLLED not in r.flags]
        return "\n".join(lines)


def enroll_photo(gallery: Gallery, person: str, photo: Union[str, os.PathLike, np.ndarray],
                 pipeline: FacePipeline, strictness: str = "normal",
                 limits: QualityLimits = QualityLimits(),
                 scales: Optional[Sequence[Optional[int]]] = thresholds.STILL_SCALES
                 ) -> PhotoReport:
    """Check one photo of ``person`` and enrol its face unless the strictness refuses it.
    The faceprint averages landmarks found at ``scales`` (``FacePipeline.analyze``; None:
    one pass, as for video)."""
    if strictness not in STRICTNESS:
        raise InvalidParameterError(f"strictness must be one of {sorted(STRICTNESS)}, got "
                                    f"{strictness!r}")
    name = str(photo) if not isinstance(photo, np.ndarray) else "<array>"
    source = None
    try:
        if isinstance(photo, np.ndarray):
            frame = read_image(photo)
        else:  # one read serves decoding and the source hash
            data = read_image_bytes(photo)
            source = hashlib.sha256(data).hexdigest()
            frame = decode_image(data, name)
    except FaceTriggerError as exc:
        return PhotoReport(name, person, False, ("unreadable",), str(exc))
    if source is not None:  # enrolling a folder again must not enrol its photos twice
        done = [r.id for r in gallery.records(person) if r.source_sha256 == source]
        if done:
            return PhotoReport(name, person, False, (ALREADY_ENROLLED,),
                               f"faceprint {done[0]} holds this photo", done[0])
    faces = pipeline.analyze(frame, scales=scales)
    if not faces:
        return PhotoReport(name, person, False, ("no_face",))
    flags, details = [], []
    if len(faces) > 1:
        flags.append("several_faces")
        details.append(f"{len(faces)} faces: the largest is the one checked")
    face = largest_face(faces)
    quality = face_quality(frame, face.box, face.landmarks)
    for flag, detail in quality_flags(quality, min_face_px=limits.min_face_px,
                                      max_yaw=limits.max_yaw,
                                      min_sharpness=limits.min_sharpness):
        flags.append(flag)
        details.append(detail)
    own = gallery.vectors_of(person)
    if len(own):
        best_own = float((own @ face.vector).max())
        if best_own < limits.outlier_below:
            flags.append("outlier")
            details.append(f"best similarity to {person}'s photos {best_own:.2f}")
    other_name, other_score = gallery.best_other(face.vector, person)
    if other_name is not None and other_score >= limits.lookalike_from:
        flags.append("lookalike")
        details.append(f"similarity {other_score:.2f} to {other_name}")
    refused = set(flags) & STRICTNESS[strictness]
    if refused:
        return PhotoReport(name, person, False, tuple(flags), "; ".join(details))
    quality_record = {"width": round(quality.width, 1), "sharpness": round(quality.sharpness, 1),
                      "yaw": round(quality.yaw, 3), "score": round(face.score, 3)}
    (faceprint_id,) = gallery.add_faceprints(person, [Faceprint(face.vector, pipeline.model.id)],
                                             sources=[source], qualities=[quality_record])
    return PhotoReport(name, person, True, tuple(flags), "; ".join(details), faceprint_id)


def enroll_folder(gallery: Gallery, root: Union[str, os.PathLike],
                  pipeline: Optional[FacePipeline] = None, strictness: str = "normal",
                  limits: QualityLimits = QualityLimits(),
                  progress: Optional[bool] = None,
                  scales: Optional[Sequence[Optional[int]]] = thresholds.STILL_SCALES
                  ) -> GalleryEnrollment:
    """Enrol ``root/<person>/*`` photo by photo (each its own transaction), with reports."""
    from tqdm.auto import tqdm  # noqa: PLC0415

    pipeline = pipeline if pipeline is not None else FacePipeline()
    pairs = scan_folder(root)
    show = (len(pairs) > 20) if progress is None else progress
    result = GalleryEnrollment()
    for person, path in tqdm(pairs, desc="enrolling", unit="photo",
                             disable=None if show else True):
        result.reports.append(enroll_photo(gallery, person, path, pipeline, strictness, limits,
                                           scales))
    return result
