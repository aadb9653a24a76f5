"""What a gallery store must do: the interface the SQLite and PostgreSQL backends share.

``Gallery`` (facade.py) validates input, makes the per-person decision and reads and
writes export files; a backend only stores and searches. Vectors reaching a backend are
already unit float32 rows of shape (n, dim); names are already checked.
"""
from __future__ import annotations

import unicodedata
from contextlib import contextmanager
from typing import (Any, Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple,
                    Type, Union, runtime_checkable)

import numpy as np
from numpy.typing import NDArray

from .._validate import EMBEDDING_DIM, off_unit
from ..errors import GalleryError
from ..types import UNKNOWN

#: The number of top faceprints per-person decisions look at (Gallery.identify), and the
#: most it looks at when the first pool holds one person only.
IDENTIFY_POOL = 64
IDENTIFY_POOL_MAX = 1024
#: (scores (M, k) float32 best first, ids (M, k) int64 with -1 where missing,
#: names (M lists of k str, "" where missing))
SearchResult = Tuple[NDArray[np.float32], NDArray[np.int64], List[List[str]]]
#: (name, metadata, [(vector (128,) float32, source_sha256, quality), ...])
ExportedPerson = Tuple[str, Dict[str, Any], List[Tuple[NDArray[np.float32], Optional[str],
                                                       Dict[str, Any]]]]


@runtime_checkable
class GalleryBackend(Protocol):
    """Storage and nearest-neighbour search of one gallery."""

    #: "sqlite" or "postgresql"
    kind: str
    #: Where the gallery lives, without a password.
    location: str
    #: Size of the stored vectors (fixed when the store was created).
    dim: int

    @property
    def compact(self) -> bool:
        """True when search is approximate by default (an index)."""

    def count(self) -> int:
        """Number of faceprints."""

    def identify_pool(self) -> int:
        """How many top faceprints per-person decisions look at."""

    def add_person(self, name: str, metadata: Dict[str, Any]) -> int:
        """Insert a person; GalleryError when the name is taken."""

    def people(self) -> List[Dict[str, Any]]:
        """Name, metadata and faceprint count of everyone, sorted by name."""

    def rename_person(self, old: str, new: str) -> None: ...

    def remove_person(self, name: str) -> int:
        """Delete a person and their faceprints; returns how many faceprints went."""

    def add_faceprints(self, name: str, rows: NDArray[np.float32],
                       sources: Sequence[Optional[str]], qualities: Sequence[Dict[str, Any]],
                       thumbnails: Sequence[Optional[bytes]], create: bool) -> List[int]:
        """Insert one person's rows in one transaction; returns their ids."""

    def bulk_add(self, names: Sequence[str], rows: NDArray[np.float32]) -> NDArray[np.int64]:
        """Insert rows of many people (created as needed) in one transaction."""

    def remove_faceprint(self, faceprint_id: int) -> None: ...

    def faceprints(self, name: str) -> List[Dict[str, Any]]:
        """id, source_sha256, quality and created of one person's faceprints."""

    def vectors_of(self, name: str) -> NDArray[np.float32]:
        """One person's unit rows, (n, dim) float32."""

    def search(self, queries: NDArray[np.float32], k: int, exact: bool) -> SearchResult:
        """The k most similar faceprints of each query row (cosine similarity)."""

    def export_people(self) -> Iterator[ExportedPerson]:
        """Everyone with metadata and faceprints, sorted by name."""

    def schema_version(self) -> int:
        """Version of the stored schema."""

    def close(self) -> None: ...


@contextmanager
def store_errors(kinds: Tuple[Type[BaseException], ...],
                 translate: Callable[[BaseException], GalleryError]) -> Iterator[None]:
    """The one place a backend's driver errors become typed ones: an exception of ``kinds``
    raised inside is replaced by the GalleryError (GalleryUnavailableError for a lost
    connection or a lock held too long) that ``translate`` returns; face_trigger's own
    errors pass as they are."""
    try:
        yield
    except GalleryError:
        raise
    except kinds as exc:
        raise translate(exc) from exc


def check_name(name: str) -> None:
    """A person's name: a non-empty string without surrounding spaces, control characters
    (a tab or newline forges lines of ``gallery list``) or bidirectional overrides (U+202E
    shows "alice" for another name), and not "unknown" (the answer for a stranger)."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise GalleryError(f"a person's name must be a non-empty string without surrounding "
                           f"spaces, got {name!r}")
    odd = [c for c in name if unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS]
    if odd:
        codes = ", ".join(f"U+{ord(c):04X}" for c in odd)
        raise GalleryError(f"a person's name must not hold control or bidirectional "
                           f"characters, got {name!r} ({codes})")
    if name.casefold() == UNKNOWN.casefold():
        raise GalleryError(f"{name!r} is the answer for a stranger and cannot be a person's name")


#: Characters that reorder the text around them (U+202A-U+202E, U+2066-U+2069, marks).
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069\u061c")


def empty_result(m: int, k: int) -> SearchResult:
    """A search result with no matches: scores -inf, ids -1, names ""."""
    return (np.full((m, k), -np.inf, np.float32), np.full((m, k), -1, np.int64),
            [[""] * k for _ in range(m)])


def check_schema(location: str, stored: int, current: int, upgrade_hint: str) -> None:
    """Refuse a store whose schema is newer than this code, or older (upgrade first)."""
    if stored > current:
        raise GalleryError(f"{location} has schema version {stored}; this face_trigger reads "
                           f"{current}: upgrade face_trigger")
    if stored < current:
        raise GalleryError(f"{location} has schema version {stored}, this face_trigger needs "
                           f"{current}: back it up, then run {upgrade_hint}")


def check_model(location: str, stored: Optional[str], model: str) -> None:
    """Refuse a store made for another embedder model."""
    if stored != model:
        raise GalleryError(f"{location} holds faceprints of {stored!r}, not of {model!r}: "
                           "its faceprints cannot be compared; re-enrol into a new gallery")


def store_dim(location: str, model: str, stored: Optional[int], asked: Optional[int]) -> int:
    """The vector size of a store: what it recorded (``stored``; None for a new store), which
    ``asked`` (None: whatever it holds) must equal; a new store takes ``asked``, or SFace's
    128 when nobody says. GalleryError for a mismatch."""
    if stored is not None:
        if asked is not None and asked != stored:
            raise GalleryError(f"{location} holds {stored}-d faceprints of {model!r}, not "
                               f"{asked}-d ones")
        return stored
    if asked is None:
        return EMBEDDING_DIM
    if isinstance(asked, bool) or not isinstance(asked, int) or not 2 <= asked <= MAX_DIM:
        raise GalleryError(f"dim must be an int in [2, {MAX_DIM}], got {asked!r}")
    return asked


#: Largest embedding size a gallery stores (pgvector's vector type holds up to 16,000).
MAX_DIM = 4096


def check_unit_norms(location: str, ids: Union[Sequence[int], NDArray[np.int64]],
                     norms: Any) -> None:
    """Refuse stored vectors that are not finite unit vectors (NaN, or scaled: one vector
    x100 made every stranger match in an inner-product search). ``ids`` and ``norms`` are
    parallel; GalleryError names the first bad faceprint id."""
    norms = np.asarray(norms, np.float64)
    bad = np.flatnonzero(off_unit(norms))
    if bad.size:
        raise GalleryError(f"{location}: faceprint {int(ids[bad[0]])} holds a vector of "
                           f"norm {norms[bad[0]]:.4g}, expected a finite unit vector: the "
                           "stored data is damaged or was altered")
