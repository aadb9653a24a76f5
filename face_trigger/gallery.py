"""Gallery: who is enrolled, with which faceprints — an SQLite store plus an in-memory
search matrix for 1:N identification.

The store (stdlib ``sqlite3``, WAL mode, one transaction per change) holds people
(name, metadata), their faceprints (unit float32 vector, source file hash, quality scores,
optional JPEG thumbnail, time) and the embedder model it was made for; opening it with
another model raises :class:`GalleryError`. The search matrix is loaded once and updated
on every add and remove; searches read an immutable snapshot, so they are safe from many
threads while another thread enrols.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from . import thresholds
from ._fileio import atomic_write_text
from ._validate import EMBEDDING_DIM, check_embeddings
from .errors import EmbeddingError, GalleryError
from .faceprint import Faceprint, check_unit_vector

SCHEMA_VERSION = 1
EXPORT_FORMAT = "face_trigger-gallery"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS faceprints (
    id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    vector BLOB NOT NULL, source_sha256 TEXT, quality TEXT NOT NULL DEFAULT '{}',
    thumbnail BLOB, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS faceprints_person ON faceprints(person_id);
"""


@dataclass(frozen=True)
class Match:
    """The per-person decision of :meth:`Gallery.identify`.

    ``name`` is ``"unknown"`` when the best person's score is below the threshold;
    ``score`` is that person's score (best, or mean of their top matches) and
    ``runner_up`` the next person's.
    """

    name: str
    known: bool
    score: float
    runner_up: float
    faceprint_id: Optional[int]


@dataclass(frozen=True)
class _Snapshot:
    """Immutable search state: unit rows, their faceprint ids and person names."""

    vectors: NDArray[np.float32]
    ids: NDArray[np.int64]
    names: Tuple[str, ...]


class Gallery:
    """An enrolment store and its search matrix.

    Parameters
    ----------
    path : path
        SQLite file (created with its schema if missing). ``":memory:"`` for tests.
    model : str
        Identity of the embedder whose faceprints this gallery holds
        (``FacePipeline().model.id``). A new store records it; an existing store made
        for another model is refused.

    Notes
    -----
    Thread safety: each thread gets its own SQLite connection; writes are serialised
    by a lock; searches use the snapshot current when they start.
    """

    def __init__(self, path: Union[str, os.PathLike], model: str) -> None:
        if not model:
            raise GalleryError("a gallery needs the identity of its embedder model")
        self.path = str(path)
        self.model = model
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._shared: Optional[sqlite3.Connection] = None
        with self._write_lock:
            try:
                db = self._db()
                db.executescript(_SCHEMA)
                stored = dict(db.execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.DatabaseError as exc:
                raise GalleryError(f"{self.path} is not a usable gallery: {exc}") from exc
            if not stored:
                with db:
                    db.executemany("INSERT INTO meta VALUES (?, ?)",
                                   [("schema_version", str(SCHEMA_VERSION)), ("model", model)])
            else:
                if int(stored.get("schema_version", 0)) > SCHEMA_VERSION:
                    raise GalleryError(f"{self.path} has schema version "
                                       f"{stored['schema_version']}; this face_trigger reads "
                                       f"{SCHEMA_VERSION}: upgrade face_trigger")
                if stored.get("model") != model:
                    raise GalleryError(f"{self.path} holds faceprints of {stored.get('model')!r}, "
                                       f"not of {model!r}: its faceprints cannot be compared; "
                                       "re-enrol into a new gallery")
        self._snapshot = self._load_snapshot()

    # ------------------------------------------------------------------ connections
    def _db(self) -> sqlite3.Connection:
        if self._memory:  # one shared connection: every :memory: connection is a new db
            if self._shared is None:
                self._shared = sqlite3.connect(":memory:", check_same_thread=False)
                self._shared.execute("PRAGMA foreign_keys = ON")
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ------------------------------------------------------------------ search state
    def _load_snapshot(self) -> _Snapshot:
        rows = self._db().execute(
            "SELECT f.id, f.vector, p.name FROM faceprints f JOIN people p ON p.id = f.person_id "
            "ORDER BY f.id").fetchall()
        if not rows:
            return _Snapshot(np.zeros((0, EMBEDDING_DIM), np.float32), np.zeros(0, np.int64), ())
        vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, EMBEDDING_DIM)
        return _Snapshot(vectors.copy(), np.array([r[0] for r in rows], np.int64),
                         tuple(r[2] for r in rows))

    def __len__(self) -> int:
        """Number of faceprints."""
        return int(self._snapshot.ids.shape[0])

    # ------------------------------------------------------------------ people
    def add_person(self, name: str, metadata: Optional[Dict[str, Any]] = None) -> int:
        """Enrol a person (no faceprint yet); returns their id."""
        _check_name(name)
        with self._write_lock, self._db() as db:
            try:
                cursor = db.execute("INSERT INTO people (name, metadata, created) VALUES (?,?,?)",
                                    (name, json.dumps(metadata or {}), time.time()))
            except sqlite3.IntegrityError:
                raise GalleryError(f"{name!r} is already enrolled") from None
            return int(cursor.lastrowid)

    def people(self) -> List[Dict[str, Any]]:
        """Every person: name, metadata, number of faceprints; sorted by name."""
        rows = self._db().execute(
            "SELECT p.name, p.metadata, COUNT(f.id) FROM people p LEFT JOIN faceprints f "
            "ON f.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [{"name": n, "metadata": json.loads(m), "faceprints": c} for n, m, c in rows]

    def rename_person(self, old: str, new: str) -> None:
        _check_name(new)
        with self._write_lock, self._db() as db:
            try:
                changed = db.execute("UPDATE people SET name = ? WHERE name = ?",
                                     (new, old)).rowcount
            except sqlite3.IntegrityError:
                raise GalleryError(f"cannot rename to {new!r}: already enrolled") from None
            if not changed:
                raise GalleryError(f"{old!r} is not enrolled")
        with self._write_lock:
            self._snapshot = self._load_snapshot()

    def remove_person(self, name: str) -> int:
        """Remove a person and their faceprints; returns how many faceprints went."""
        with self._write_lock, self._db() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise GalleryError(f"{name!r} is not enrolled")
            count = db.execute("DELETE FROM faceprints WHERE person_id = ?", (row[0],)).rowcount
            db.execute("DELETE FROM people WHERE id = ?", (row[0],))
        with self._write_lock:
            keep = np.array([n != name for n in self._snapshot.names], dtype=bool)
            self._snapshot = _Snapshot(self._snapshot.vectors[keep], self._snapshot.ids[keep],
                                       tuple(n for n in self._snapshot.names if n != name))
        return int(count)

    # ------------------------------------------------------------------ faceprints
    def add_faceprints(self, name: str, vectors: Sequence[Union[Faceprint, NDArray]], *,
                       sources: Optional[Sequence[Optional[str]]] = None,
                       qualities: Optional[Sequence[Dict[str, Any]]] = None,
                       thumbnails: Optional[Sequence[Optional[bytes]]] = None,
                       create: bool = True) -> List[int]:
        """Add faceprints of one person in one transaction (all or nothing); returns ids.

        ``vectors`` are Faceprints (their model must be the gallery's) or unit (128,)
        float vectors. The person is created when missing and ``create`` is true.
        """
        rows = [self._vector_of(v) for v in vectors]
        n = len(rows)
        sources = list(sources) if sources is not None else [None] * n
        qualities = list(qualities) if qualities is not None else [{}] * n
        thumbnails = list(thumbnails) if thumbnails is not None else [None] * n
        if not len(sources) == len(qualities) == len(thumbnails) == n:
            raise ValueError("sources, qualities and thumbnails must match the vectors")
        with self._write_lock:
            db = self._db()
            with db:  # one transaction: a crash leaves none of these rows
                row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
                if row is None:
                    if not create:
                        raise GalleryError(f"{name!r} is not enrolled")
                    _check_name(name)
                    row = (db.execute("INSERT INTO people (name, metadata, created) "
                                      "VALUES (?, '{}', ?)", (name, time.time())).lastrowid,)
                ids = []
                for vector, source, quality, thumb in zip(rows, sources, qualities, thumbnails):
                    cursor = db.execute(
                        "INSERT INTO faceprints (person_id, vector, source_sha256, quality, "
                        "thumbnail, created) VALUES (?, ?, ?, ?, ?, ?)",
                        (row[0], vector.tobytes(), source, json.dumps(quality), thumb,
                         time.time()))
                    ids.append(int(cursor.lastrowid))
            old = self._snapshot
            self._snapshot = _Snapshot(
                np.concatenate([old.vectors, np.stack(rows)]) if rows else old.vectors,
                np.concatenate([old.ids, np.array(ids, np.int64)]),
                old.names + (name,) * n)
        return ids

    def remove_faceprint(self, faceprint_id: int) -> None:
        with self._write_lock, self._db() as db:
            if not db.execute("DELETE FROM faceprints WHERE id = ?", (int(faceprint_id),)).rowcount:
                raise GalleryError(f"no faceprint with id {faceprint_id}")
        with self._write_lock:
            keep = self._snapshot.ids != int(faceprint_id)
            self._snapshot = _Snapshot(self._snapshot.vectors[keep], self._snapshot.ids[keep],
                                       tuple(n for n, k in zip(self._snapshot.names, keep) if k))

    def faceprints(self, name: str) -> List[Dict[str, Any]]:
        """Faceprint id, source hash, quality and time of one person's faceprints."""
        rows = self._db().execute(
            "SELECT f.id, f.source_sha256, f.quality, f.created FROM faceprints f JOIN people p "
            "ON p.id = f.person_id WHERE p.name = ? ORDER BY f.id", (name,)).fetchall()
        return [{"id": i, "source_sha256": s, "quality": json.loads(q), "created": c}
                for i, s, q, c in rows]

    def vectors_of(self, name: str) -> NDArray[np.float32]:
        """The unit vectors of one person, shape (n, 128)."""
        snap = self._snapshot
        return snap.vectors[[i for i, n in enumerate(snap.names) if n == name]]

    def best_other(self, vector: NDArray, person: str) -> Tuple[Optional[str], float]:
        """The most similar faceprint's owner other than ``person`` and its similarity."""
        snap = self._snapshot
        mask = np.array([n != person for n in snap.names], dtype=bool)
        if not mask.any():
            return None, float("-inf")
        sims = snap.vectors[mask] @ check_unit_vector(vector)
        best = int(np.argmax(sims))
        return [n for n in snap.names if n != person][best], float(sims[best])

    def _vector_of(self, item: Union[Faceprint, NDArray]) -> NDArray[np.float32]:
        if isinstance(item, Faceprint):
            if item.model != self.model:
                raise GalleryError(f"faceprint of {item.model!r} cannot go into a gallery of "
                                   f"{self.model!r}")
            return item.vector
        return check_unit_vector(item)

    # ------------------------------------------------------------------ search
    def search(self, queries: Any, k: int = 5
               ) -> Tuple[NDArray[np.float32], NDArray[np.int64], List[List[str]]]:
        """The ``k`` most similar faceprints of each query.

        Returns
        -------
        scores : ndarray float32 (M, k)
            Cosine similarities, best first (-inf where the gallery has fewer than k).
        ids : ndarray int64 (M, k)
            Faceprint ids (-1 where missing).
        names : list of lists of str
            Person of each id ("" where missing).
        """
        snap = self._snapshot
        q = _unit_queries(queries)
        m, n = q.shape[0], snap.ids.shape[0]
        scores = np.full((m, k), -np.inf, np.float32)
        ids = np.full((m, k), -1, np.int64)
        if n and m:
            take = min(k, n)
            sims = q @ snap.vectors.T
            top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
            top_scores = np.take_along_axis(sims, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            scores[:, :take] = np.take_along_axis(top_scores, order, axis=1)
            ids[:, :take] = snap.ids[top]
        index = {int(i): name for i, name in zip(snap.ids, snap.names)}
        names = [[index.get(int(i), "") for i in row] for row in ids]
        return scores, ids, names

    def identify(self, queries: Any, threshold: float = thresholds.IDENTIFY_COSINE,
                 per_person: str = "best", margin: float = thresholds.IDENTIFY_MARGIN
                 ) -> List[Match]:
        """Best person for each query, or unknown, deciding per person, not per photo.

        ``per_person="best"`` scores a person by their most similar faceprint;
        ``"mean2"`` by the mean of their two most similar (a single lucky photo counts
        less). Unknown when the best person scores below ``threshold`` or leads the
        runner-up by less than ``margin``.
        """
        if per_person not in ("best", "mean2"):
            raise ValueError(f"per_person must be 'best' or 'mean2', got {per_person!r}")
        snap = self._snapshot
        q = _unit_queries(queries)
        if not snap.names:
            return [Match("unknown", False, float("-inf"), float("-inf"), None)
                    for _ in range(q.shape[0])]
        people = sorted(set(snap.names))
        owner = np.array([people.index(n) for n in snap.names])
        sims = q @ snap.vectors.T
        results = []
        for row in sims:
            person_scores = np.full(len(people), -np.inf)
            for p in range(len(people)):
                values = row[owner == p]
                if per_person == "best" or values.size == 1:
                    person_scores[p] = values.max()
                else:
                    person_scores[p] = np.sort(values)[-2:].mean()
            order = np.argsort(-person_scores)
            best = float(person_scores[order[0]])
            second = float(person_scores[order[1]]) if len(people) > 1 else float("-inf")
            known = best >= threshold and best - second >= margin
            mask = owner == order[0]
            best_id = int(snap.ids[mask][np.argmax(row[mask])])
            results.append(Match(people[order[0]] if known else "unknown", bool(known), best,
                                 second, best_id if known else None))
        return results

    # ------------------------------------------------------------------ export / import
    def export_json(self, path: Union[str, os.PathLike]) -> Path:
        """Write people, metadata and faceprints (float vectors, sources, qualities) as JSON,
        atomically. Thumbnails are not exported."""
        db = self._db()
        people = []
        for name, metadata in db.execute("SELECT name, metadata FROM people ORDER BY name"):
            prints = db.execute(
                "SELECT f.vector, f.source_sha256, f.quality FROM faceprints f JOIN people p ON "
                "p.id = f.person_id WHERE p.name = ? ORDER BY f.id", (name,)).fetchall()
            people.append({"name": name, "metadata": json.loads(metadata), "faceprints": [
                {"vector": np.frombuffer(v, np.float32).round(7).tolist(), "source_sha256": s,
                 "quality": json.loads(q)} for v, s, q in prints]})
        data = {"format": EXPORT_FORMAT, "version": SCHEMA_VERSION, "model": self.model,
                "people": people}
        return atomic_write_text(path, json.dumps(data) + "\n")

    def import_json(self, path: Union[str, os.PathLike]) -> int:
        """Add the people and faceprints of an export (same model required); returns the
        number of faceprints added. Each person is one transaction."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GalleryError(f"cannot read gallery export {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise GalleryError(f"{path} is not a gallery export")
        if data.get("model") != self.model:
            raise GalleryError(f"{path} holds faceprints of {data.get('model')!r}, this gallery "
                               f"is for {self.model!r}")
        added = 0
        for person in data.get("people", []):
            prints = person.get("faceprints", [])
            vectors = [np.asarray(p["vector"], np.float32) for p in prints]
            vectors = [v / np.linalg.norm(v) for v in vectors]
            added += len(self.add_faceprints(
                person["name"], vectors, sources=[p.get("source_sha256") for p in prints],
                qualities=[p.get("quality", {}) for p in prints]))
        return added


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise GalleryError(f"a person's name must be a non-empty string without surrounding "
                           f"spaces, got {name!r}")


def _unit_queries(queries: Any) -> NDArray[np.float32]:
    if isinstance(queries, Faceprint):
        return queries.vector[None]
    if isinstance(queries, (list, tuple)) and queries and isinstance(queries[0], Faceprint):
        return np.stack([q.vector for q in queries])
    q = check_embeddings(queries)
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    if np.any(norms < 1e-6):
        raise EmbeddingError("a query embedding is (almost) all zeros")
    return (q / norms).astype(np.float32)
