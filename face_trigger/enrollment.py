"""Enrolment from a folder laid out as ``<root>/<person name>/<photos>``."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from . import thresholds
from .errors import FaceTriggerError, InvalidParameterError
from .image_io import read_image
from .pipeline import FacePipeline, largest_face

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

#: Statuses of an enrolment record.
ENROLLED, NO_FACE, SEVERAL_FACES, UNREADABLE = "enrolled", "no_face", "several_faces", "unreadable"


@dataclass(frozen=True)
class EnrollmentRecord:
    """What happened to one photo: ``status`` is one of enrolled, no_face,
    several_faces, unreadable; ``detail`` says more (face count, error)."""

    path: Path
    person: str
    status: str
    detail: str = ""


@dataclass(frozen=True, eq=False)
class EnrollmentResult:
    """Embeddings of the enrolled photos and a record for every photo seen.

    Attributes
    ----------
    embeddings : ndarray, float32 (n, dim)
        One unit row per enrolled photo.
    labels : list of str
        Person name of each row.
    records : list of EnrollmentRecord
        Every photo, in scan order, including the skipped ones.
    """

    embeddings: NDArray[np.float32]
    labels: List[str]
    records: List[EnrollmentRecord] = field(default_factory=list)

    @property
    def skipped(self) -> List[EnrollmentRecord]:
        """Records of photos that were not enrolled."""
        return [r for r in self.records if r.status != ENROLLED]

    def summary(self) -> str:
        """One line per skipped photo after a count line."""
        people = len(set(self.labels))
        lines = [f"enrolled {len(self.labels)} photos of {people} people; "
                 f"skipped {len(self.skipped)}"]
        lines += [f"  {r.path}: {r.status} {r.detail}".rstrip() for r in self.skipped]
        return "\n".join(lines)


def scan_folder(root: Union[str, os.PathLike], sub_folders: bool = True
                ) -> List[Tuple[str, Path]]:
    """(person, photo path) pairs, sorted: every photo under ``root/<person>/`` (unless
    ``sub_folders`` is False), and every photo directly in ``root`` as ``<person>.jpg``
    (the face_recognition layout; both may be mixed). Hidden files are skipped.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"enrolment folder not found: {root}")
    pairs = [(photo.stem, photo) for photo in sorted(root.iterdir()) if _is_photo(photo)]
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for person in folders if sub_folders else []:
        pairs += [(person.name, photo) for photo in sorted(person.iterdir()) if _is_photo(photo)]
    return sorted(pairs)


def _is_photo(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES \
        and not path.name.startswith(".")


def enroll_folder(root: Union[str, os.PathLike], pipeline: FacePipeline,
                  progress: Optional[bool] = None,
                  several_faces: str = "skip",
                  scales: Optional[Sequence[Optional[int]]] = thresholds.STILL_SCALES,
                  sub_folders: bool = True) -> EnrollmentResult:
    """Embed the face of every photo of :func:`scan_folder` (``root/<person>/*.jpg`` or
    ``root/<person>.jpg``).

    Photos without a face are skipped and recorded, as are unreadable files.
    Photos with several faces are skipped (``several_faces="skip"``) or give
    their largest face (``"largest"``, recorded in the detail). ``progress``:
    show a progress bar (``None``: only on a terminal and for more than 20 photos).
    ``scales``: see ``FacePipeline.analyze`` (the default averages two; None: one pass).
    ``sub_folders``: False takes the photos directly in ``root`` only (face_recognition's
    command line ignores sub-folders).
    """
    if several_faces not in ("skip", "largest"):
        raise InvalidParameterError(f"several_faces must be 'skip' or 'largest', got "
                                    f"{several_faces!r}")
    from tqdm.auto import tqdm

    pairs = scan_folder(root, sub_folders)
    show = (len(pairs) > 20) if progress is None else progress
    embeddings, labels, records = [], [], []
    for person, path in tqdm(pairs, desc="enrolling", unit="photo",
                             disable=None if show else True):
        try:
            faces = pipeline.analyze(read_image(path), scales=scales)
        except FaceTriggerError as exc:
            records.append(EnrollmentRecord(path, person, UNREADABLE, str(exc)))
            continue
        if not faces:
            records.append(EnrollmentRecord(path, person, NO_FACE))
        elif len(faces) > 1 and several_faces == "skip":
            records.append(EnrollmentRecord(path, person, SEVERAL_FACES, f"{len(faces)} faces"))
        else:
            embeddings.append(largest_face(faces).vector)
            labels.append(person)
            records.append(EnrollmentRecord(
                path, person, ENROLLED, f"largest of {len(faces)} faces" if len(faces) > 1 else ""))
    matrix = np.stack(embeddings) if embeddings else np.zeros((0, pipeline.dim), np.float32)
    return EnrollmentResult(matrix.astype(np.float32), labels, records)
