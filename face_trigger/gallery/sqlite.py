"""The embedded gallery backend: an SQLite file plus an in-memory search state.

The store (stdlib ``sqlite3``, WAL mode, one transaction per change) holds people,
faceprints (unit float32 vectors as BLOBs), the model it was made for and their size. Search runs in
this process: exact float32 rows below ``compact_from`` faceprints, otherwise a faiss index
of quantised codes over every faceprint (``index.CompactIndex``, persisted as
``<path>.faiss`` and ``<path>.faiss.ids.npy``) whose candidates are re-ranked with the exact
vectors read back from the database. Searches read an immutable
snapshot, so they are safe from many threads while another thread enrols.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .._fileio import parse_json
from .._validate import EMBEDDING_DIM
from ..errors import (GalleryError, GalleryLocationError, GalleryNotFoundError,
                      GalleryUnavailableError, PersonExistsError, PersonNotFoundError)
from .backend import (IDENTIFY_POOL, ExportedPerson, SearchResult, check_model,
                      check_schema, check_unit_norms, store_dim,
                      store_errors)
from .index import CompactIndex
from .local import (COMPACT_FROM, Snapshot, appended, dropped, search as search_snapshot,
                    use_compact)

logger = logging.getLogger("face_trigger.gallery")

SCHEMA_VERSION = 1

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


class SQLiteBackend:
    """Gallery storage in one SQLite file (``":memory:"`` for tests).

    Thread safety: each thread gets its own SQLite connection; writes are serialised
    by a lock; searches use the snapshot current when they start (in compact mode the
    index itself is guarded by a lock). Other processes may read and write the same
    file (WAL), but each process's search state only sees its own changes and what was
    stored when it opened the file: for many writing processes, use PostgreSQL.
    """

    kind = "sqlite"

    def __init__(self, location: Union[str, os.PathLike], model: str, *,
                 compact_from: int = COMPACT_FROM, dim: Optional[int] = None,
                 create: bool = True) -> None:
        path = sqlite_path(os.fspath(location))
        if not create and not self.exists(path):
            raise GalleryNotFoundError(f"no gallery at {path}")
        folder = os.path.dirname(path)
        if path != ":memory:" and folder and not os.path.isdir(folder):
            raise GalleryLocationError(f"cannot create the gallery {path}: folder {folder} "
                                       "does not exist")
        self.path = path
        self.location = self.path
        self.model = model
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._shared: Optional[sqlite3.Connection] = None
        self.compact_from = int(compact_from)
        self._index_path = None if self._memory else Path(self.path + ".faiss")
        self._index_lock = threading.RLock()  # faiss: no search while the index changes
        with self._write_lock:
            self.dim = self._open_store(model, dim)
        self._snapshot = self._load_snapshot()

    def _open_store(self, model: str, dim: Optional[int]) -> int:
        """Create the schema in a new file, or check an existing gallery's; returns the
        vector size. Nothing is written to a file that is not a gallery (another
        application's SQLite file, even one with a ``meta`` table, stays as it was)."""
        try:
            db = self._db()
            tables = {r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
            stored = (dict(db.execute("SELECT key, value FROM meta").fetchall())
                      if "meta" in tables else {})
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise GalleryError(f"{self.path} is not a usable gallery: {exc}") from exc
        if not tables:
            size = store_dim(self.path, model, None, dim)
            with db:
                db.executescript(_SCHEMA)
                db.executemany("INSERT INTO meta VALUES (?, ?)",
                               [("schema_version", str(SCHEMA_VERSION)), ("model", model),
                                ("dim", str(size))])
            return size
        if not tables <= _TABLES or not {"schema_version", "model"} <= set(stored):
            raise GalleryError(f"{self.path} is an SQLite file of another application "
                               f"(tables {', '.join(sorted(tables)[:5])}), not a gallery")
        check_schema(self.path, _meta_int(self.path, stored, "schema_version", 0),
                     SCHEMA_VERSION, f"face-trigger gallery upgrade --db {self.path}")
        check_model(self.path, stored.get("model"), model)
        # galleries made before the size was recorded hold SFace's 128-d vectors
        return store_dim(self.path, model, _meta_int(self.path, stored, "dim", EMBEDDING_DIM),
                         dim)

    def _json(self, text: Any, what: str) -> Any:
        """A JSON column's value; GalleryError for one a damaged file holds."""
        return parse_json(text if isinstance(text, (str, bytes)) else "", f"{self.path}: "
                          f"{what} (damaged or altered)", GalleryError)

    @classmethod
    def exists(cls, location: str) -> bool:
        """Whether ``location`` is an SQLite file (read-only check; a FIFO is not opened)."""
        path = sqlite_path(location)
        if path == ":memory:" or not os.path.isfile(path):
            return False
        try:
            with open(path, "rb") as handle:
                return handle.read(16) == b"SQLite format 3\x00"
        except OSError:
            return False

    @classmethod
    def upgrade(cls, location: str, model: Optional[str]) -> Tuple[int, int]:
        """SQLite galleries are at schema version 1: nothing to do but check."""
        if not model:
            raise GalleryError("give the model to check an SQLite gallery against")
        backend = cls(location, model, create=False)
        version = backend.schema_version()
        backend.close()
        return version, version

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

    def schema_version(self) -> int:
        row = self._db().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    @property
    def compact(self) -> bool:
        return self._snapshot.index is not None

    def count(self) -> int:
        return int(self._snapshot.ids.shape[0])

    def identify_pool(self) -> int:
        """The top IDENTIFY_POOL faceprints, or all of a smaller gallery (0: empty)."""
        return min(self.count(), IDENTIFY_POOL)

    # ------------------------------------------------------------------ search state
    def _state_key(self, ids: NDArray[np.int64]) -> str:
        return f"{ids.size}:{int(ids.max()) if ids.size else 0}:{int(ids.sum())}"

    def _load_snapshot(self) -> Snapshot:
        """Search state from the database, read in one transaction: people, faceprints and
        vectors from the same moment although other processes may be writing."""
        db = self._db()
        if self._memory:
            return self._read_snapshot(db)
        with db:
            db.execute("BEGIN")
            return self._read_snapshot(db)

    def _read_snapshot(self, db: sqlite3.Connection) -> Snapshot:
        # Read in chunks into arrays: with a million people, Python tuples and a dict of
        # them at once cost about 250 MB of peak memory.
        person_ids: List[NDArray[np.int64]] = [np.zeros(0, np.int64)]
        person_names: List[str] = []
        for rows in _in_chunks(db.execute("SELECT id, name FROM people ORDER BY id")):
            person_ids.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
            person_names.extend(r[1] for r in rows)
        # From the (person_id, id) index: a few MB read at start instead of every vector.
        pairs = np.concatenate([np.zeros((0, 2), np.int64)] + [
            np.array(rows, np.int64).reshape(-1, 2) for rows in _in_chunks(db.execute(
                "SELECT id, person_id FROM faceprints INDEXED BY faceprints_person"))])
        pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
        ids = np.ascontiguousarray(pairs[:, 0])
        known_ids = np.concatenate(person_ids)
        of_row = np.minimum(np.searchsorted(known_ids, pairs[:, 1]), max(len(known_ids) - 1, 0))
        orphans = np.flatnonzero(known_ids[of_row] != pairs[:, 1]) if len(known_ids) else \
            np.arange(len(pairs))
        if orphans.size:  # never attribute a faceprint to the person next to its owner
            raise GalleryError(f"{self.path}: faceprint {int(pairs[orphans[0], 0])} belongs to "
                               f"person {int(pairs[orphans[0], 1])}, who is not in the gallery: "
                               "the file is damaged or was altered")
        names = tuple(person_names[i] for i in of_row)
        if use_compact(ids.size, self.compact_from, self.path, self.dim):
            return Snapshot(None, ids, names, self._open_index(ids))
        vectors = np.zeros((0, self.dim), np.float32)
        if ids.size:
            rows = db.execute("SELECT id, vector FROM faceprints ORDER BY id").fetchall()
            vectors = self._checked(np.array([r[0] for r in rows], np.int64),
                                    [r[1] for r in rows])
        return Snapshot(vectors, ids, names)

    def _open_index(self, ids: NDArray[np.int64]) -> CompactIndex:
        stored = self._db().execute(
            "SELECT value FROM meta WHERE key = 'compact_state'").fetchone()
        if self._index_path is not None and self._index_path.is_file() and stored \
                and stored[0] == self._state_key(ids):
            try:
                index = CompactIndex.load(self._index_path)
                if np.array_equal(index.ids[index.ids >= 0], ids):
                    return index
            except (GalleryError, OSError, ValueError, RuntimeError) as exc:
                logger.warning("rebuilding the compact index of %s: %s", self.path, exc)
        vectors = self._fetch_vectors(ids)
        index = CompactIndex.build(vectors, ids)
        del vectors
        self._persist(index, ids)
        return index

    def _persist(self, index: CompactIndex, ids: NDArray[np.int64]) -> None:
        if self._index_path is None:
            return
        index.save(self._index_path)
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('compact_state', ?)",
                       (self._state_key(ids),))

    def save_index(self) -> None:
        """Write the compact index next to the database (no-op in exact mode)."""
        snap = self._snapshot
        if snap.index is not None:
            with self._index_lock:
                self._persist(snap.index, snap.ids)

    def _checked(self, ids: NDArray[np.int64], blobs: Sequence[Any]) -> NDArray[np.float32]:
        """The stored vectors as float32 rows (n, dim), refusing what a tampered or damaged
        file can hold: a blob of the wrong length, NaN or infinity, a vector that is not
        unit length (one scaled x100 made every stranger match). GalleryError names the
        faceprint id."""
        size = self.dim * 4
        for fid, blob in zip(ids, blobs):
            if not isinstance(blob, bytes) or len(blob) != size:
                length = len(blob) if isinstance(blob, bytes) else type(blob).__name__
                raise GalleryError(f"{self.path}: faceprint {int(fid)} holds a vector of "
                                   f"{length} bytes, expected {size}: the file is damaged "
                                   "or was altered")
        rows = np.frombuffer(b"".join(blobs), np.float32).reshape(-1, self.dim).copy()
        check_unit_norms(str(self.path), ids, np.linalg.norm(rows, axis=1))
        return rows

    def _fetch_vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Unit rows of these faceprint ids, in the order given (checked, as at load)."""
        out = np.empty((len(ids), self.dim), np.float32)
        position = {int(i): k for k, i in enumerate(ids)}
        db = self._db()
        unique = list(position)
        for start in range(0, len(unique), 900):  # SQLite's parameter limit
            chunk = unique[start:start + 900]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(f"SELECT id, vector FROM faceprints WHERE id IN ({marks})",
                              chunk).fetchall()
            found = np.array([r[0] for r in rows], np.int64)
            vectors = self._checked(found, [r[1] for r in rows])
            out[[position[int(fid)] for fid in found]] = vectors
        return out

    # ------------------------------------------------------------------ people
    def add_person(self, name: str, metadata: Dict[str, Any]) -> int:
        with self._write_lock, self._db() as db:
            try:
                cursor = db.execute("INSERT INTO people (name, metadata, created) VALUES (?,?,?)",
                                    (name, json.dumps(metadata), time.time()))
            except sqlite3.IntegrityError:
                raise PersonExistsError(f"{name!r} is already enrolled in {self.path}") from None
            return _rowid(cursor)

    def people(self) -> List[Dict[str, Any]]:
        rows = self._db().execute(
            "SELECT p.name, p.metadata, COUNT(f.id) FROM people p LEFT JOIN faceprints f "
            "ON f.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [{"name": n, "metadata": self._json(m, f"metadata of {n!r}"), "faceprints": c}
                for n, m, c in rows]

    def rename_person(self, old: str, new: str) -> None:
        with self._write_lock, self._db() as db:
            try:
                changed = db.execute("UPDATE people SET name = ? WHERE name = ?",
                                     (new, old)).rowcount
            except sqlite3.IntegrityError:
                raise PersonExistsError(f"cannot rename to {new!r}: already enrolled in "
                                        f"{self.path}") from None
            if not changed:
                raise PersonNotFoundError(f"{old!r} is not enrolled in {self.path}")
        with self._write_lock:
            self._snapshot = self._load_snapshot()

    def remove_person(self, name: str) -> int:
        with self._write_lock, self._db() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise PersonNotFoundError(f"{name!r} is not enrolled in {self.path}")
            count = db.execute("DELETE FROM faceprints WHERE person_id = ?", (row[0],)).rowcount
            db.execute("DELETE FROM people WHERE id = ?", (row[0],))
        with self._write_lock:
            keep = np.array([n != name for n in self._snapshot.names], dtype=bool)
            self._drop(keep)
        return int(count)

    def _drop(self, keep: NDArray[np.bool_]) -> None:
        """Replace the snapshot by its rows where ``keep`` (caller holds the write lock)."""
        self._snapshot = dropped(self._snapshot, keep, self._index_lock, self._fetch_vectors,
                                 self._persist)

    # ------------------------------------------------------------------ faceprints
    def add_faceprints(self, name: str, rows: NDArray[np.float32],
                       sources: Sequence[Optional[str]], qualities: Sequence[Dict[str, Any]],
                       thumbnails: Sequence[Optional[bytes]], create: bool) -> List[int]:
        with self._write_lock:
            db = self._db()
            with db:  # one transaction: a crash leaves none of these rows
                db.execute("BEGIN IMMEDIATE")  # the write lock first: another process may
                # be creating the same person right now
                row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
                if row is None:
                    if not create:
                        raise PersonNotFoundError(f"{name!r} is not enrolled in {self.path}")
                    row = (db.execute("INSERT INTO people (name, metadata, created) "
                                      "VALUES (?, '{}', ?)", (name, time.time())).lastrowid,)
                ids = []
                for vector, source, quality, thumb in zip(rows, sources, qualities, thumbnails):
                    cursor = db.execute(
                        "INSERT INTO faceprints (person_id, vector, source_sha256, quality, "
                        "thumbnail, created) VALUES (?, ?, ?, ?, ?, ?)",
                        (row[0], vector.tobytes(), source, json.dumps(quality), thumb,
                         time.time()))
                    ids.append(_rowid(cursor))
            self._append(rows, np.array(ids, np.int64), (name,) * len(ids))
        return ids

    def _append(self, rows: NDArray[np.float32], ids: NDArray[np.int64],
                names: Tuple[str, ...]) -> None:
        """Add rows to the snapshot (caller holds the write lock); switch to the compact
        index when the gallery grows past ``compact_from``."""
        self._snapshot = appended(self._snapshot, rows, ids, names, self.compact_from,
                                  self._index_lock, self._persist)

    def bulk_add(self, names: Sequence[str], rows: NDArray[np.float32]) -> NDArray[np.int64]:
        now = time.time()
        with self._write_lock:
            db = self._db()
            with db:
                db.execute("BEGIN IMMEDIATE")  # max(id) below must not change under us
                known = dict(db.execute("SELECT name, id FROM people").fetchall())
                for name in dict.fromkeys(names):
                    if name not in known:
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
        rows = self._db().execute(
            "SELECT f.id, f.source_sha256, f.quality, f.created FROM faceprints f JOIN people p "
            "ON p.id = f.person_id WHERE p.name = ? ORDER BY f.id", (name,)).fetchall()
        return [{"id": i, "source_sha256": s, "quality": self._json(q, f"quality of {i}"),
                 "created": c}
                for i, s, q, c in rows]

    def vectors_of(self, name: str) -> NDArray[np.float32]:
        snap = self._snapshot
        rows = [i for i, n in enumerate(snap.names) if n == name]
        if snap.vectors is not None:
            return snap.vectors[rows]
        return self._fetch_vectors(snap.ids[rows])

    def export_people(self) -> Iterator[ExportedPerson]:
        db = self._db()
        for name, metadata in db.execute("SELECT name, metadata FROM people ORDER BY name"):
            prints = db.execute(
                "SELECT f.vector, f.source_sha256, f.quality FROM faceprints f JOIN people p ON "
                "p.id = f.person_id WHERE p.name = ? ORDER BY f.id", (name,)).fetchall()
            yield name, self._json(metadata, f"metadata of {name!r}"), [
                (np.frombuffer(v, np.float32), s, self._json(q, "a quality")) for v, s, q in prints]

    # ------------------------------------------------------------------ search
    def search(self, queries: NDArray[np.float32], k: int, exact: bool = False) -> SearchResult:
        return search_snapshot(self._snapshot, queries, k, exact, self._index_lock,
                               self._fetch_vectors, self.path)


#: The tables of a gallery (and SQLite's own).
_TABLES = {"meta", "people", "faceprints", "sqlite_sequence"}


def _meta_int(path: str, stored: Dict[str, Any], key: str, default: int) -> int:
    """An integer of the meta table; GalleryError for a damaged one."""
    try:
        return int(stored.get(key, default))
    except (TypeError, ValueError):
        raise GalleryError(f"{path}: meta {key} is {stored.get(key)!r}, not a number: the "
                           "file is damaged or was altered") from None


def sqlite_path(location: str) -> str:
    """The file of a plain path or ``sqlite:///path`` location; GalleryLocationError for
    an empty one."""
    path = location[len("sqlite:///"):] if location.startswith("sqlite:///") else location
    if "://" in path:
        raise GalleryLocationError(f"an SQLite gallery is sqlite:///path/gallery.db or a file "
                                   f"path, got {location!r}")
    if not path:
        raise GalleryLocationError("sqlite:/// needs a file path after it")
    return path


def _gallery_error(path: str, exc: BaseException) -> GalleryError:
    """The typed error for an SQLite failure: a database locked by another process for
    longer than the timeout is unavailable (try again), the rest names the problem."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return GalleryUnavailableError(f"{path} is locked by another process: {text}")
    if "readonly" in text or "read-only" in text:
        return GalleryError(f"{path} cannot be written (read-only file or folder): {text}")
    if "full" in text:
        return GalleryError(f"{path}: the disk is full, nothing was stored: {text}")
    return GalleryError(f"{path}: {type(exc).__name__}: {text}")


def _typed_sqlite_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: "SQLiteBackend", *args: Any, **kwargs: Any) -> Any:
        location = getattr(self, "path", None) or str(args[0] if args else "gallery")
        with store_errors((sqlite3.Error,), lambda exc: _gallery_error(location, exc)):
            return method(self, *args, **kwargs)
    return wrapper


for _name, _method in list(vars(SQLiteBackend).items()):
    if callable(_method) and (not _name.startswith("_") or _name == "__init__"):
        setattr(SQLiteBackend, _name, _typed_sqlite_errors(_method))


def _in_chunks(cursor: sqlite3.Cursor, size: int = 1 << 16) -> Iterator[List[Any]]:
    """The rows of ``cursor``, ``size`` at a time."""
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield rows


def _rowid(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote."""
    if cursor.lastrowid is None:
        raise GalleryError("the database did not report the id of a new row")
    return int(cursor.lastrowid)
