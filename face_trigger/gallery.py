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
import logging
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
from ._validate import EMBEDDING_DIM, check_embeddings, unit_rows
from .errors import EmbeddingError, GalleryError
from .faceprint import Faceprint, check_unit_vector
from .vector_index import IVFIndex, faiss_available

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
EXPORT_FORMAT = "face_trigger-gallery"
#: From this many faceprints on (and with faiss installed) search runs on an IVF index with
#: 8-bit vectors and exact re-ranking; below it, on an exact float32 matrix. Chosen by
#: ``python benchmarks/bench_gallery.py`` (README, "Gallery").
COMPACT_FROM = 200_000
#: Candidates the compact index returns per query before exact re-ranking (at least 4 k),
#: and the number of top faceprints per-person decisions look at in compact mode.
CANDIDATES = 16
IDENTIFY_POOL = 64

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
    """Search state: faceprint ids (ascending), the person of each, and either the unit
    rows (exact mode) or an IVF index (compact mode, vectors stay in the database)."""

    vectors: Optional[NDArray[np.float32]]
    ids: NDArray[np.int64]
    names: Tuple[str, ...]
    index: Optional[IVFIndex] = None


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

    compact_from : int
        Faceprint count from which search uses the compact IVF index (needs faiss).
    nprobe : int, optional
        IVF clusters scanned per query in compact mode (default nlist / 8).

    Notes
    -----
    Thread safety: each thread gets its own SQLite connection; writes are serialised
    by a lock; searches use the snapshot current when they start (in compact mode the
    index itself is guarded by a lock).

    In compact mode the index is persisted next to the database (``<path>.ivf``) by
    :meth:`save_index` and :meth:`close`, and loaded at the next start instead of
    rebuilt, when the database still holds the same faceprints.
    """

    def __init__(self, path: Union[str, os.PathLike], model: str, *,
                 compact_from: int = COMPACT_FROM, nprobe: Optional[int] = None) -> None:
        if not model:
            raise GalleryError("a gallery needs the identity of its embedder model")
        self.path = str(path)
        self.model = model
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._shared: Optional[sqlite3.Connection] = None
        self.compact_from = int(compact_from)
        self.nprobe = nprobe
        self._index_path = None if self._memory else Path(self.path + ".ivf")
        self._index_lock = threading.RLock()  # faiss: no search while the index changes
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
        """Persist the compact index (if any) and close this thread's connection."""
        self.save_index()
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @property
    def compact(self) -> bool:
        """True when search runs on the IVF index."""
        return self._snapshot.index is not None

    # ------------------------------------------------------------------ search state
    def _state_key(self, ids: NDArray[np.int64]) -> str:
        return f"{ids.size}:{int(ids.max()) if ids.size else 0}:{int(ids.sum())}"

    def _load_snapshot(self) -> _Snapshot:
        db = self._db()
        people = dict(db.execute("SELECT id, name FROM people").fetchall())
        rows = db.execute("SELECT id, person_id FROM faceprints ORDER BY id").fetchall()
        ids = np.array([r[0] for r in rows], np.int64)
        names = tuple(people[r[1]] for r in rows)
        if ids.size >= self.compact_from:
            if faiss_available():
                return _Snapshot(None, ids, names, self._open_index(ids))
            logger.warning("%s holds %d faceprints: without faiss they are searched exactly in "
                           "memory (%d MB); pip install 'face_trigger[faiss]' for the compact "
                           "index", self.path, ids.size, ids.size * EMBEDDING_DIM * 4 // 10**6)
        vectors = np.zeros((0, EMBEDDING_DIM), np.float32)
        if ids.size:
            blobs = db.execute("SELECT vector FROM faceprints ORDER BY id").fetchall()
            vectors = np.frombuffer(b"".join(b[0] for b in blobs),
                                    np.float32).reshape(-1, EMBEDDING_DIM).copy()
        return _Snapshot(vectors, ids, names)

    def _open_index(self, ids: NDArray[np.int64]) -> IVFIndex:
        stored = self._db().execute("SELECT value FROM meta WHERE key = 'ivf_state'").fetchone()
        if self._index_path is not None and self._index_path.is_file() and stored \
                and stored[0] == self._state_key(ids):
            return IVFIndex.load(self._index_path, self.nprobe)
        vectors = self._fetch_vectors(ids)
        index = IVFIndex.build(vectors, ids, nprobe=self.nprobe)
        del vectors
        self._persist(index, ids)
        return index

    def _persist(self, index: IVFIndex, ids: NDArray[np.int64]) -> None:
        if self._index_path is None:
            return
        index.save(self._index_path)
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('ivf_state', ?)",
                       (self._state_key(ids),))

    def save_index(self) -> None:
        """Write the compact index next to the database (no-op in exact mode)."""
        snap = self._snapshot
        if snap.index is not None:
            with self._index_lock:
                self._persist(snap.index, snap.ids)

    def _fetch_vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Unit rows of these faceprint ids, in the order given."""
        out = np.empty((len(ids), EMBEDDING_DIM), np.float32)
        position = {int(i): k for k, i in enumerate(ids)}
        db = self._db()
        unique = list(position)
        for start in range(0, len(unique), 900):  # SQLite's parameter limit
            chunk = unique[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for fid, blob in db.execute(f"SELECT id, vector FROM faceprints WHERE id IN ({marks})",
                                        chunk):
                out[position[fid]] = np.frombuffer(blob, np.float32)
        return out

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
            self._drop(keep)
        return int(count)

    def _drop(self, keep: NDArray[np.bool_]) -> None:
        """Replace the snapshot by its rows where ``keep`` (caller holds the write lock)."""
        old = self._snapshot
        if old.index is not None:
            with self._index_lock:
                old.index.remove(old.ids[~keep])
        self._snapshot = _Snapshot(None if old.vectors is None else old.vectors[keep],
                                   old.ids[keep], tuple(n for n, k in zip(old.names, keep) if k),
                                   old.index)

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
            self._append(np.stack(rows) if rows else np.zeros((0, EMBEDDING_DIM), np.float32),
                         np.array(ids, np.int64), (name,) * n)
        return ids

    def _append(self, rows: NDArray[np.float32], ids: NDArray[np.int64],
                names: Tuple[str, ...]) -> None:
        """Add rows to the snapshot (caller holds the write lock); switch to the compact
        index when the gallery grows past ``compact_from``."""
        old = self._snapshot
        all_ids = np.concatenate([old.ids, ids])
        if old.index is not None:
            with self._index_lock:
                old.index.add(rows, ids)
            self._snapshot = _Snapshot(None, all_ids, old.names + names, old.index)
            return
        vectors = np.concatenate([old.vectors, rows])
        if all_ids.size >= self.compact_from and faiss_available():
            index = IVFIndex.build(vectors, all_ids, nprobe=self.nprobe)
            self._persist(index, all_ids)
            self._snapshot = _Snapshot(None, all_ids, old.names + names, index)
        else:
            self._snapshot = _Snapshot(vectors, all_ids, old.names + names)

    def bulk_add(self, names: Sequence[str], vectors: Any) -> NDArray[np.int64]:
        """Add many faceprints of many people in one transaction (people created as needed).

        ``vectors`` is (n, 128) of unit rows; ``names[i]`` owns row i. Returns the ids.
        """
        rows = check_embeddings(vectors)
        norms = np.linalg.norm(rows, axis=1)
        if rows.shape[0] != len(names):
            raise ValueError(f"got {rows.shape[0]} vectors but {len(names)} names")
        if np.any(np.abs(norms - 1.0) > 1e-3):
            raise EmbeddingError("bulk_add needs unit-length vectors (L2-normalised)")
        now = time.time()
        with self._write_lock:
            db = self._db()
            with db:
                known = dict(db.execute("SELECT name, id FROM people").fetchall())
                for name in dict.fromkeys(names):
                    if name not in known:
                        _check_name(name)
                        known[name] = db.execute("INSERT INTO people (name, metadata, created) "
                                                 "VALUES (?, '{}', ?)", (name, now)).lastrowid
                first = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM faceprints").fetchone()[0]
                ids = np.arange(first, first + rows.shape[0], dtype=np.int64)
                db.executemany(
                    "INSERT INTO faceprints (id, person_id, vector, quality, created) "
                    "VALUES (?, ?, ?, '{}', ?)",
                    ((int(i), known[n], r.tobytes(), now) for i, n, r in zip(ids, names, rows)))
            self._append(rows, ids, tuple(names))
        return ids

    def remove_faceprint(self, faceprint_id: int) -> None:
        with self._write_lock, self._db() as db:
            if not db.execute("DELETE FROM faceprints WHERE id = ?", (int(faceprint_id),)).rowcount:
                raise GalleryError(f"no faceprint with id {faceprint_id}")
        with self._write_lock:
            self._drop(self._snapshot.ids != int(faceprint_id))

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
        rows = [i for i, n in enumerate(snap.names) if n == name]
        if snap.vectors is not None:
            return snap.vectors[rows]
        return self._fetch_vectors(snap.ids[rows])

    def best_other(self, vector: NDArray, person: str) -> Tuple[Optional[str], float]:
        """The most similar faceprint's owner other than ``person`` and its similarity."""
        scores, _, names = self.search(check_unit_vector(vector), k=self._pool())
        for score, name in zip(scores[0], names[0]):
            if name and name != person:
                return name, float(score)
        return None, float("-inf")

    def _pool(self) -> int:
        """How many top matches per-person decisions look at: all (exact) or IDENTIFY_POOL."""
        return max(1, IDENTIFY_POOL if self.compact else len(self))

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
            if snap.index is None:
                sims, pool = q @ snap.vectors.T, snap.ids
                take = min(k, n)
                top = np.argmax(sims, axis=1)[:, None] if take == 1 else \
                    np.argpartition(-sims, take - 1, axis=1)[:, :take]
                top_ids = pool[top]
            else:  # compact: approximate candidates, then exact scores from the database
                with self._index_lock:
                    _, candidates = snap.index.search(q, max(CANDIDATES, 4 * k))
                unique = np.unique(candidates[candidates >= 0])
                exact = q @ self._fetch_vectors(unique).T if unique.size else np.zeros((m, 0))
                position = np.searchsorted(unique, np.maximum(candidates, 0))
                sims = np.where(candidates >= 0, np.take_along_axis(
                    exact, np.minimum(position, max(unique.size - 1, 0)), axis=1), -np.inf)
                take = min(k, candidates.shape[1])
                top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
                top_ids = np.take_along_axis(candidates, top, axis=1)
            top_scores = np.take_along_axis(sims, top, axis=1).astype(np.float32)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            scores[:, :take] = np.take_along_axis(top_scores, order, axis=1)
            ids[:, :take] = np.take_along_axis(top_ids, order, axis=1)
            ids[~np.isfinite(scores)] = -1
        rows = np.searchsorted(snap.ids, np.maximum(ids, 0))
        names = [[snap.names[r] if i >= 0 else "" for r, i in zip(row_r, row_i)]
                 for row_r, row_i in zip(rows, ids)]
        return scores, ids, names

    def identify(self, queries: Any, threshold: float = thresholds.IDENTIFY_COSINE,
                 per_person: str = "best", margin: float = thresholds.IDENTIFY_MARGIN
                 ) -> List[Match]:
        """Best person for each query, or unknown, deciding per person, not per photo.

        ``per_person="best"`` scores a person by their most similar faceprint;
        ``"mean2"`` by the mean of their two most similar (a single lucky photo counts
        less). Unknown when the best person scores below ``threshold`` or leads the
        runner-up by less than ``margin``. In compact mode the people are ranked among
        the top ``IDENTIFY_POOL`` faceprints.
        """
        if per_person not in ("best", "mean2"):
            raise ValueError(f"per_person must be 'best' or 'mean2', got {per_person!r}")
        q = _unit_queries(queries)
        if not len(self):
            return [Match("unknown", False, float("-inf"), float("-inf"), None)
                    for _ in range(q.shape[0])]
        scores, ids, names = self.search(q, k=self._pool())
        results = []
        for row_scores, row_ids, row_names in zip(scores, ids, names):
            per: Dict[str, List[Tuple[float, int]]] = {}
            for score, fid, name in zip(row_scores, row_ids, row_names):
                if fid >= 0:
                    per.setdefault(name, []).append((float(score), int(fid)))
            ranked = sorted(
                ((np.mean([s for s, _ in hits[:2]]) if per_person == "mean2" else hits[0][0],
                  name, hits[0][1]) for name, hits in per.items()), reverse=True)
            best, name, best_id = ranked[0]
            second = ranked[1][0] if len(ranked) > 1 else float("-inf")
            known = best >= threshold and best - second >= margin
            results.append(Match(name if known else "unknown", bool(known), float(best),
                                 float(second), best_id if known else None))
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
    return unit_rows(queries)
