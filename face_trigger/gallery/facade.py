"""Gallery: who is enrolled, with which faceprints, and 1:N identification over them.

One API, two stores, chosen by where the gallery lives (``registry.py``):

* a file path or ``sqlite:///path/gallery.db`` — an embedded SQLite store searched in
  this process (exact, or the compact faiss index from 200,000 faceprints); the default for
  one door;
* ``postgresql://user@host/db`` — a PostgreSQL database with pgvector, shared by many
  processes and machines, searched in the database (IVFFlat index); ``[postgres]`` extra.

This module holds what both share: input checks, the per-person decision of
:meth:`Gallery.identify`, and JSON export/import. Storage and search are the backend's.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .. import thresholds
from .._fileio import MAX_EXPORT_BYTES, atomic_write_text, read_json
from .._validate import check_embeddings, check_gate, check_int, off_unit, unit_rows
from ..errors import EmbeddingError, GalleryError, InvalidParameterError
from ..faceprint import Faceprint, check_unit_vector
from ..model_files import bundled_info
from ..identity import Identity, NamedFace, open_set_gate, query_rows, recognize_image
from ..types import UNKNOWN, ModelInfo
from .backend import IDENTIFY_POOL, IDENTIFY_POOL_MAX, SearchResult, check_name, empty_result
from .registry import open_backend, upgrade_gallery
from .local import COMPACT_FROM

EXPORT_FORMAT = "face_trigger-gallery"
EXPORT_VERSION = 1
__all__ = ["Gallery", "FaceprintRecord", "open_backend", "upgrade_gallery", "COMPACT_FROM",
           "IDENTIFY_POOL", "MAX_K"]


@dataclass(frozen=True)
class FaceprintRecord:
    """What a gallery keeps about one stored faceprint besides its vector."""

    id: int
    source_sha256: Optional[str]
    quality: Dict[str, Any]
    created: float


#: Largest k of a search: (M, k) results are allocated in full, and k = 10**12 ran out of
#: memory instead of answering.
MAX_K = 100_000


class Gallery:
    """An enrolment store and 1:N search over it.

    Parameters
    ----------
    location : path or URL
        ``gallery.db`` / ``sqlite:///gallery.db`` (created with its schema if missing;
        ``":memory:"`` for tests) or ``postgresql://user@host/db`` (needs the
        ``[postgres]`` extra and the pgvector extension in the database).
    model : FacePipeline, Embedder, ModelInfo or str, optional
        The embedder whose faceprints this gallery holds: a pipeline or embedder (its
        ``model`` and ``dim``), or its ``ModelInfo`` / ``.id``; default the bundled SFace
        model. A new store records it; an existing store made for another model is refused.
    dim : int, optional
        Embedding size. Taken from a pipeline or embedder passed as ``model``, else from
        an existing store; a new store made with only a model id holds SFace's 128.
    create : bool
        False refuses a location that holds no gallery (``GalleryNotFoundError``) instead of
        creating an empty one: for a door or a search, a misspelt path is an error.
    unknown_threshold, margin : float
        The open-set gate of :meth:`identify` (cosine similarity of the best person, and
        their lead over the runner-up); defaults measured on lfw_dev (``thresholds.py``).
    **options
        Backend settings. SQLite: ``compact_from`` (faceprint count from which search
        uses the faiss compact index, default 200,000). PostgreSQL: ``search`` ("local",
        the default: this process searches its own copy of the search state, kept current
        from the database's change log within 0.5 s; "server": in the database),
        ``compact_from`` and ``cache_dir`` (where the compact index is cached; default
        ``~/.cache/face_trigger/galleries``) for local search, ``probes`` and
        ``exact_below`` for server search, ``connect_timeout`` (s).

    Notes
    -----
    Safe for concurrent readers and one writer thread in a process (SQLite) or many
    processes and machines (PostgreSQL). With PostgreSQL, a database that cannot be
    reached raises :class:`~face_trigger.errors.GalleryUnavailableError` at once; the
    next call reconnects.
    """

    def __init__(self, location: Union[str, os.PathLike], model: Any = None, *,
                 unknown_threshold: float = thresholds.IDENTIFY_COSINE,
                 margin: float = thresholds.IDENTIFY_MARGIN, dim: Optional[int] = None,
                 create: bool = True, **options: Any) -> None:
        model_id, dim = _model_and_dim(model, dim)
        check_gate(unknown_threshold, margin)
        self.model = model_id
        self.unknown_threshold = float(unknown_threshold)
        self.margin = float(margin)
        self.backend = open_backend(location, model_id, dim=dim, create=create, **options)

    @property
    def dim(self) -> int:
        """Embedding size of the faceprints this gallery holds."""
        return self.backend.dim

    @property
    def location(self) -> str:
        """Where the gallery lives (a path, or a URL without its password)."""
        return self.backend.location

    @property
    def path(self) -> str:
        """The SQLite file (SQLite galleries only; ``location`` serves both backends)."""
        path = getattr(self.backend, "path", None)
        if path is None:
            raise AttributeError("a PostgreSQL gallery has no file path: use .location")
        return path

    @property
    def compact(self) -> bool:
        """True when search is approximate by default (the compact faiss index, or pgvector
        IVFFlat)."""
        return self.backend.compact

    def __len__(self) -> int:
        """Number of faceprints."""
        return self.backend.count()

    def close(self) -> None:
        """Persist what the backend keeps in memory and close this thread's connection."""
        self.backend.close()

    def save_index(self) -> None:
        """Write an SQLite gallery's compact index next to its file (no-op otherwise)."""
        save = getattr(self.backend, "save_index", None)
        if save is not None:
            save()

    # ------------------------------------------------------------------ people
    def add_person(self, name: str, metadata: Optional[Dict[str, Any]] = None) -> int:
        """Enrol a person (no faceprint yet); returns their id."""
        check_name(name)
        return self.backend.add_person(name, _json_object(metadata or {}, "metadata"))

    def people(self) -> List[Dict[str, Any]]:
        """Every person: name, metadata, number of faceprints; sorted by name."""
        return self.backend.people()

    def rename_person(self, old: str, new: str) -> None:
        check_name(new)
        self.backend.rename_person(old, new)

    def remove_person(self, name: str) -> int:
        """Remove a person and their faceprints; returns how many faceprints went."""
        return self.backend.remove_person(name)

    # ------------------------------------------------------------------ faceprints
    def add_faceprints(self, name: str, vectors: Sequence[Union[Faceprint, NDArray]], *,
                       sources: Optional[Sequence[Optional[str]]] = None,
                       qualities: Optional[Sequence[Dict[str, Any]]] = None,
                       thumbnails: Optional[Sequence[Optional[bytes]]] = None,
                       create: bool = True) -> List[int]:
        """Add faceprints of one person in one transaction (all or nothing); returns ids.

        ``vectors`` are Faceprints (their model must be the gallery's) or unit (dim,)
        float vectors. The person is created when missing and ``create`` is true.
        """
        rows = [self._vector_of(v) for v in vectors]
        n = len(rows)
        sources = list(sources) if sources is not None else [None] * n
        qualities = list(qualities) if qualities is not None else [{}] * n
        thumbnails = list(thumbnails) if thumbnails is not None else [None] * n
        if not len(sources) == len(qualities) == len(thumbnails) == n:
            raise InvalidParameterError("sources, qualities and thumbnails must match the vectors")
        if create:
            check_name(name)
        matrix = np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)
        return self.backend.add_faceprints(name, matrix, sources,
                                           [_json_object(q, "quality") for q in qualities],
                                           thumbnails, create)

    def bulk_add(self, names: Sequence[str], vectors: Any) -> NDArray[np.int64]:
        """Add many faceprints of many people in one transaction (people created as needed).

        ``vectors`` is (n, dim) of unit rows; ``names[i]`` owns row i. Returns the ids.
        """
        rows = check_embeddings(vectors, self.dim)
        if rows.shape[0] != len(names):
            raise InvalidParameterError(f"got {rows.shape[0]} vectors but {len(names)} names")
        if off_unit(np.linalg.norm(rows, axis=1)).any():
            raise EmbeddingError("bulk_add needs unit-length vectors (L2-normalised)")
        for name in dict.fromkeys(names):
            check_name(name)
        return self.backend.bulk_add(list(names), np.ascontiguousarray(rows, np.float32))

    def remove_faceprint(self, faceprint_id: int) -> None:
        check_int(faceprint_id, "a faceprint id")
        if not -(1 << 63) <= int(faceprint_id) < (1 << 63):  # not an id a store can hold
            raise GalleryError(f"no faceprint with id {faceprint_id}")
        self.backend.remove_faceprint(int(faceprint_id))

    def records(self, name: str) -> List[FaceprintRecord]:
        """What is kept about one person's faceprints (id, source hash, quality, time)."""
        return [FaceprintRecord(int(r["id"]), r["source_sha256"], r["quality"] or {},
                                float(r["created"])) for r in self.backend.faceprints(name)]

    def vectors_of(self, name: str) -> NDArray[np.float32]:
        """The unit vectors of one person, shape (n, dim)."""
        return self.backend.vectors_of(name)

    def best_other(self, vector: NDArray, person: str) -> Tuple[Optional[str], float]:
        """The most similar faceprint's owner other than ``person`` and its similarity."""
        top = self._top_until(check_unit_vector(vector, self.dim)[None],
                              lambda names: any(n and n != person for n in names))
        for score, name in (zip(top[0][0], top[0][2]) if top else ()):
            if name and name != person:
                return name, float(score)
        return None, float("-inf")

    def _top_until(self, q: NDArray[np.float32], settled: Callable[[List[str]], bool],
                   exact: bool = False
                   ) -> List[Tuple[NDArray[np.float32], NDArray[np.int64], List[str]]]:
        """(scores, ids, names) of each query row's most similar faceprints: the top
        ``identify_pool()`` first, four times as many (up to IDENTIFY_POOL_MAX) for rows
        whose full pool is not yet ``settled(names)``. [] for an empty gallery."""
        pool = self.backend.identify_pool()
        if not pool:
            return []
        found: Dict[int, Tuple[NDArray[np.float32], NDArray[np.int64], List[str]]] = {}
        todo = list(range(q.shape[0]))
        while todo:
            scores, ids, names = self.search(q[todo], k=pool, exact=exact)
            # a pool smaller than IDENTIFY_POOL already holds the whole gallery
            may_grow = IDENTIFY_POOL <= pool < IDENTIFY_POOL_MAX
            retry = []
            for j, row in enumerate(todo):
                if may_grow and ids[j, -1] >= 0 and not settled(names[j]):
                    retry.append(row)
                else:
                    found[row] = (scores[j], ids[j], names[j])
            todo, pool = retry, min(pool * 4, IDENTIFY_POOL_MAX)
        return [found[i] for i in range(q.shape[0])]

    def _vector_of(self, item: Union[Faceprint, NDArray]) -> NDArray[np.float32]:
        if isinstance(item, Faceprint):
            if item.model != self.model:
                raise GalleryError(f"faceprint of {item.model!r} cannot go into a gallery of "
                                   f"{self.model!r}")
            return check_unit_vector(item.vector, self.dim)
        return check_unit_vector(item, self.dim)

    # ------------------------------------------------------------------ search
    def recognize(self, image: Any, *, pipeline: Any = None,
                  channels: str = "bgr") -> List[NamedFace]:
        """Every face of an image (array, path, bytes or PIL image) with who it is:
        ``NamedFace`` (``.name``, ``.similarity``, ``.box``, ``.to_dict()``), strongest
        first; [] when there is no face. ``pipeline`` defaults to the bundled models."""
        return recognize_image(self, image, pipeline, channels)

    def search(self, queries: Any, k: int = 5, exact: bool = False) -> SearchResult:
        """The ``k`` most similar faceprints of each query.

        ``queries`` is a Faceprint, a list of them, a Face or list of Faces (from
        ``FacePipeline.analyze``), or (M, dim) / (dim,) float vectors.
        ``exact=True`` compares with every faceprint instead of using the index
        (slow on large galleries; for small ones and for checking the index's recall).

        Returns
        -------
        scores : ndarray float32 (M, k)
            Cosine similarities, best first (-inf where the gallery has fewer than k).
        ids : ndarray int64 (M, k)
            Faceprint ids (-1 where missing).
        names : list of lists of str
            Person of each id ("" where missing).
        """
        check_int(k, "k", 1, MAX_K)
        q = _unit_queries(queries, self.model, self.dim)
        if not q.shape[0]:
            return empty_result(0, int(k))
        return self.backend.search(q, int(k), exact=bool(exact))

    def identify(self, queries: Any, unknown_threshold: Optional[float] = None,
                 per_person: str = "best", margin: Optional[float] = None,
                 exact: bool = False) -> List[Identity]:
        """Best person for each query, or unknown, deciding per person, not per photo.

        ``per_person="best"`` scores a person by their most similar faceprint;
        ``"mean2"`` by the mean of their two most similar (a single lucky photo counts
        less). Unknown when the best person scores below ``unknown_threshold`` or leads
        the runner-up by less than ``margin`` (both default to the gallery's own). People
        are ranked among the query's ``IDENTIFY_POOL`` (64) most similar faceprints, or
        more (up to 1,024) when those all belong to one person, so the runner-up is
        found; ``"mean2"`` of a person with one faceprint in that pool uses that one.
        ``exact=True`` compares every faceprint (as :meth:`search`): to check an index's
        decisions.

        Returns
        -------
        list of Identity, one per query: ``similarity`` is the best person's score,
        ``margin`` its lead over the runner-up, ``faceprint_id`` the best faceprint.
        """
        gate = self.unknown_threshold if unknown_threshold is None else unknown_threshold
        lead = self.margin if margin is None else margin
        if per_person not in ("best", "mean2"):
            raise InvalidParameterError(f"per_person must be 'best' or 'mean2', got {per_person!r}")
        check_gate(gate, lead)
        q = _unit_queries(queries, self.model, self.dim)
        # a full pool of one person's faceprints hides the runner-up: look further
        top = self._top_until(q, lambda names: len(set(names)) >= 2, exact=exact)
        if not top:
            return [_NOBODY] * q.shape[0]
        return [_decide(scores, ids, names, gate, per_person, lead)
                for scores, ids, names in top]

    # ------------------------------------------------------------------ export / import
    def export_json(self, path: Union[str, os.PathLike]) -> Path:
        """Write people, metadata and faceprints (float vectors, sources, qualities) as JSON,
        atomically. Thumbnails are not exported."""
        people = [{"name": name, "metadata": metadata, "faceprints": [
            {"vector": vector.round(7).tolist(), "source_sha256": source, "quality": quality}
            for vector, source, quality in prints]}
            for name, metadata, prints in self.backend.export_people()]
        data = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "model": self.model,
                "people": people}
        return atomic_write_text(path, json.dumps(data) + "\n")

    def import_json(self, path: Union[str, os.PathLike]) -> int:
        """Add the people and faceprints of an export (same model required); returns the
        number of faceprints added. Each person is one transaction."""
        data = read_json(path, "gallery export", GalleryError, MAX_EXPORT_BYTES)
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise GalleryError(f"{path} is not a gallery export")
        if data.get("model") != self.model:
            raise GalleryError(f"{path} holds faceprints of {data.get('model')!r}, this gallery "
                               f"is for {self.model!r}")
        # Everything is checked before anything is added: a bad entry late in the file
        # must not leave half an import behind.
        people = []
        for i, person in enumerate(data.get("people", [])):
            try:
                name, prints = person["name"], person.get("faceprints", [])
                check_name(name)
                vectors = [check_unit_vector((np.asarray(p["vector"], np.float64)
                                              / np.linalg.norm(p["vector"])).astype(np.float32),
                                             self.dim)
                           for p in prints]
                people.append((name, person.get("metadata") or {}, vectors,
                               [p.get("source_sha256") for p in prints],
                               [p.get("quality", {}) for p in prints]))
            except (KeyError, TypeError, ValueError, AttributeError, GalleryError) as exc:
                raise GalleryError(f"{path}: people[{i}] is malformed "
                                   f"({type(exc).__name__}: {exc}); nothing was imported") \
                    from None
        added = 0
        enrolled = {p["name"] for p in self.people()}
        for i, (name, metadata, vectors, sources, qualities) in enumerate(people):
            try:
                if metadata and name not in enrolled:
                    self.add_person(name, metadata)
                enrolled.add(name)  # a name twice in the file: its second entry adds prints
                added += len(self.add_faceprints(name, vectors, sources=sources,
                                                 qualities=qualities))
            except GalleryError as exc:
                raise type(exc)(f"{path}: people[{i}] ({name!r}) could not be imported: {exc}; "
                                f"people[0:{i}] were ({added} faceprints), each person is one "
                                "transaction") from exc
        return added


#: The answer of an empty gallery.
_NOBODY = Identity(UNKNOWN, False, float("-inf"), float("-inf"))


def _decide(scores: NDArray[np.float32], ids: NDArray[np.int64], names: List[str],
            unknown_threshold: float, per_person: str, margin: float) -> Identity:
    """The per-person decision over one query's top faceprints (best first)."""
    per: Dict[str, List[Tuple[float, int]]] = {}
    for score, fid, name in zip(scores, ids, names):
        if fid >= 0:
            per.setdefault(name, []).append((float(score), int(fid)))
    if not per:  # an empty gallery
        return _NOBODY
    ranked = sorted(
        ((float(np.mean([s for s, _ in hits[:2]])) if per_person == "mean2" else hits[0][0],
          name, hits[0][1]) for name, hits in per.items()), reverse=True)
    best, name, best_id = ranked[0]
    lead = best - ranked[1][0] if len(ranked) > 1 else float("inf")
    known = bool(open_set_gate(best, lead, unknown_threshold, margin))
    return Identity(name if known else UNKNOWN, known, float(best), float(lead),
                    faceprint_id=best_id if known else None)


def _json_object(value: Any, what: str) -> Dict[str, Any]:
    """Metadata and quality scores: a JSON-serialisable dict (checked before storing);
    ``what`` names it in the error."""
    if not isinstance(value, dict):
        raise GalleryError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise GalleryError(f"{what} must be JSON-serialisable: {exc}") from exc
    return value


def _model_and_dim(model: Any, dim: Optional[int]) -> Tuple[str, Optional[int]]:
    """The model id and embedding size a gallery is opened with: from a pipeline or
    embedder (``.model`` and ``.dim``), else a ModelInfo or an id and ``dim`` (None: what
    an existing store holds, 128 for a new one); None is the bundled SFace model."""
    if model is None:
        model = bundled_info("embedder")
    if not isinstance(model, (str, ModelInfo)) and isinstance(
            getattr(model, "model", None), ModelInfo):
        if dim is not None and dim != model.dim:
            raise GalleryError(f"dim={dim} but the embedder makes {model.dim}-d vectors")
        dim = int(model.dim)
        model = model.model
    model_id = model.id if isinstance(model, ModelInfo) else model
    if not model_id or not isinstance(model_id, str):
        raise GalleryError(f"a gallery needs the identity of its embedder model, got {model!r}")
    return model_id, dim


def _unit_queries(queries: Any, model: str, dim: int) -> NDArray[np.float32]:
    """Query rows (M, dim): unit vectors as given, or faceprints of this gallery's ``model``
    (a faceprint of another model is refused, as :meth:`Gallery.add_faceprints` does)."""
    queries = query_rows(queries, model)
    prints = [queries] if isinstance(queries, Faceprint) else queries
    if isinstance(prints, (list, tuple)) and prints and \
            any(isinstance(q, Faceprint) for q in prints):
        for q in prints:
            if not isinstance(q, Faceprint):
                raise EmbeddingError(f"queries mix faceprints and {type(q).__name__}")
            if q.model != model:
                raise GalleryError(f"a faceprint of {q.model!r} cannot be searched in a gallery "
                                   f"of {model!r}")
        return unit_rows(np.stack([q.vector for q in prints]), dim)
    return unit_rows(queries, dim)
