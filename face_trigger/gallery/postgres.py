"""The shared gallery backend: PostgreSQL with the pgvector extension.

Many processes and machines enrol into and search one gallery. Everything lives in the
schema ``face_trigger`` of the database in the URL: ``meta`` (schema version, embedder
model), ``people`` and ``faceprints`` (a ``vector(dim)`` column, its size chosen when the
gallery is created: 128 for SFace). Search runs in the
database: cosine distance (``<=>``), exact (a sequential scan) for galleries under
``exact_below`` faceprints and when asked, otherwise over an IVFFlat index (``lists`` =
2 sqrt(n) clusters of the faceprints present when it was built, ``probes`` = lists / 16 but
at least min(lists, 128) per query). Writers build the index when the gallery passes
``exact_below`` and rebuild it when it has grown fourfold since (under an advisory lock, one
process at a time; searches go on meanwhile). ``search_index`` records its parameters for
every process.

Why IVFFlat and not HNSW, and the recall measured on real-like queries: docs/gallery.md.

Needs the ``[postgres]`` extra (psycopg 3 and pgvector's Python package) and a server
where ``CREATE EXTENSION vector`` is possible (pgvector installed; the first user needs
the right to create it, or a DBA runs it once).

Connections: one per thread, opened on first use (``connect_timeout`` seconds). A lost
or refused connection raises :class:`GalleryUnavailableError` at once and is dropped;
the next call opens a new one. Every change is one transaction.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from .._secrets import redact
from ..errors import (GalleryError, GalleryLocationError, GalleryNotFoundError,
                      GalleryUnavailableError, InvalidParameterError, PersonExistsError,
                      PersonNotFoundError)
from .backend import (IDENTIFY_POOL, ExportedPerson, SearchResult, check_model,
                      check_schema, check_unit_norms, empty_result, store_dim,
                      store_errors)

try:
    import psycopg
    from pgvector.psycopg import register_vector
except ImportError as _missing:  # pragma: no cover - depends on the extra
    psycopg = None  # type: ignore[assignment]
    _IMPORT_ERROR: Optional[ImportError] = _missing
else:
    _IMPORT_ERROR = None

SCHEMA = "face_trigger"
INDEX = "faceprints_ivfflat"
#: Each step brings the schema from version i to i + 1; applied in one transaction.
MIGRATIONS: Tuple[str, ...] = (
    # 1: tables
    f"""
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE SCHEMA IF NOT EXISTS {SCHEMA};
    CREATE TABLE {SCHEMA}.meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE {SCHEMA}.people (
        id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,
        metadata jsonb NOT NULL DEFAULT '{{}}', created double precision NOT NULL);
    CREATE TABLE {SCHEMA}.faceprints (
        id bigserial PRIMARY KEY,
        person_id bigint NOT NULL REFERENCES {SCHEMA}.people(id) ON DELETE CASCADE,
        vector vector(<dim>) NOT NULL, source_sha256 text,
        quality jsonb NOT NULL DEFAULT '{{}}', thumbnail bytea,
        created double precision NOT NULL);
    CREATE INDEX faceprints_person ON {SCHEMA}.faceprints (person_id);
    """,
    # 2: the search index's parameters, shared by every process
    f"""
    CREATE TABLE {SCHEMA}.search_index (
        name text PRIMARY KEY, lists integer NOT NULL, rows_at_build bigint NOT NULL,
        built double precision NOT NULL);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
#: Serialises schema creation and upgrades between processes (pg_advisory_lock key).
_LOCK_KEY = 0x46545247  # "FTRG"
#: One index build at a time across processes (pg_try_advisory_lock key).
_BUILD_KEY = 0x46544258  # "FTBX"
#: Below this many faceprints, search scans exactly; above, the index. Up to here an exact
#: scan is as fast as an IVFFlat index that keeps its recall on real-like queries
#: (docs/gallery.md, from ``benchmarks/bench_gallery.py --lfw ... --db ...``).
EXACT_BELOW = 200_000
#: The index is rebuilt (more lists, fresh centroids) when the gallery has grown this
#: many times since it was built.
REBUILD_GROWTH = 4
#: maintenance_work_mem for index builds.
INDEX_MEMORY = "1GB"
#: Seconds the cached size class and index parameters are trusted.
_CACHE_TTL = 5.0


def index_lists(rows: int) -> int:
    """IVFFlat clusters for a gallery of ``rows`` faceprints: 2 sqrt(n), at least 16."""
    return max(16, int(2 * np.sqrt(rows)))


def default_probes(lists: int) -> int:
    """Clusters probed per query: lists / 16, but at least min(lists, 128) (measured at
    1M with 2,000 lists on the benchmark's data: 64 probes found 97 % of the planted
    near-duplicates, 125 all of 60; bench_gallery.py over 1,000 queries: 0.997)."""
    return max(lists // 16, min(lists, 128))


def _require_driver() -> None:
    if psycopg is None:
        raise GalleryError("a PostgreSQL gallery needs the [postgres] extra: "
                           "pip install 'psycopg[binary]' pgvector") from _IMPORT_ERROR


def _connect(url: str, connect_timeout: float) -> "psycopg.Connection":
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(connect_timeout)))
    except psycopg.OperationalError as exc:
        raise _unavailable(f"cannot reach the gallery database {redact(url)}", exc) from exc
    except (psycopg.Error, ValueError) as exc:  # a malformed URL: a port that is no number...
        raise GalleryLocationError(f"{redact(url)} is not a usable PostgreSQL URL: "
                                   f"{redact(_first_line(exc))}") from None
    return conn


def _unavailable(where: str, exc: BaseException) -> GalleryUnavailableError:
    """The typed error for a lost or refused connection (psycopg's OperationalError)."""
    return GalleryUnavailableError(f"{where}: {redact(_first_line(exc))}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _relation_exists(conn: "psycopg.Connection", name: str) -> bool:
    """Whether face_trigger's table or index ``name`` exists, read from pg_class with a
    fresh snapshot (to_regclass() answers from a cache that waiting on an advisory lock
    does not refresh: a process that waited while another created the schema would not
    see it)."""
    return _first(conn, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN "
                  "pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = %s AND c.relname = %s)", (SCHEMA, name))


def _stored_version(conn: "psycopg.Connection") -> int:
    """Schema version in the database; 0 when face_trigger's tables are not there."""
    if not _relation_exists(conn, "meta"):
        return 0
    row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'schema_version'"
                       ).fetchone()
    return int(row[0]) if row else 0


def _stored_dim(conn: "psycopg.Connection") -> int:
    """The size of the faceprints' ``vector(dim)`` column (pgvector's type modifier)."""
    return int(_first(conn, "SELECT a.atttypmod FROM pg_catalog.pg_attribute a "
                      "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = %s AND c.relname = 'faceprints' "
                      "AND a.attname = 'vector'", (SCHEMA,)))


def _migrate(conn: "psycopg.Connection", model: Optional[str], upto: int = SCHEMA_VERSION,
             dim: Optional[int] = None) -> Tuple[int, int]:
    """Apply migrations up to ``upto``, one process at a time (a session advisory lock
    taken before the transaction begins, so the transaction sees what the previous holder
    committed); a new database records ``model`` and makes its vectors ``dim`` long.
    Returns (version before, after)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        with conn.transaction():
            before = _stored_version(conn)
            for version in range(before, upto):
                if version == 0:
                    if not model:
                        raise GalleryError("a new gallery needs the identity of its embedder "
                                           "model")
                    size = store_dim("a new PostgreSQL gallery", model, None, dim)
                    conn.execute(MIGRATIONS[0].replace("<dim>", str(size)))
                else:
                    conn.execute(MIGRATIONS[version])
                if version == 0:
                    conn.execute(f"INSERT INTO {SCHEMA}.meta VALUES ('model', %s)", (model,))
                conn.execute(f"INSERT INTO {SCHEMA}.meta VALUES ('schema_version', %s) "
                             "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                             (str(version + 1),))
            return before, max(before, upto)
    finally:
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def upgrade(url: str, model: Optional[str] = None) -> Tuple[int, int]:
    """Upgrade the schema of the gallery at ``url`` (the explicit step a new release may
    ask for); ``model`` is checked when given. Returns (version before, version after)."""
    _require_driver()
    conn = _connect(url, 10)
    try:
        before = _stored_version(conn)
        if before == 0:
            raise GalleryError(f"{redact(url)} holds no face_trigger gallery")
        if before > SCHEMA_VERSION:
            check_schema(redact(url), before, SCHEMA_VERSION, "")
        stored = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'model'").fetchone()
        if model:
            check_model(redact(url), stored[0] if stored else None, model)
        return _migrate(conn, None)
    except psycopg.OperationalError as exc:
        raise _unavailable(f"gallery database {redact(url)}", exc) from exc
    finally:
        conn.close()


class PostgresBackend:
    """Gallery storage and search in PostgreSQL + pgvector (see the module docstring)."""

    kind = "postgresql"

    def __init__(self, url: str, model: str, *, probes: Optional[int] = None,
                 exact_below: int = EXACT_BELOW, connect_timeout: float = 5.0,
                 create: bool = True, dim: Optional[int] = None) -> None:
        _require_driver()
        self.url = url
        self.location = redact(url)
        self.model = model
        if probes is not None and int(probes) < 1:
            raise InvalidParameterError(f"probes must be at least 1, got {probes}")
        self.probes = None if probes is None else int(probes)
        self.exact_below = int(exact_below)
        self.connect_timeout = float(connect_timeout)
        self._local = threading.local()
        self._small: Tuple[float, bool] = (-1e9, True)  # (when checked, below exact_below)
        self._index: Tuple[float, Optional[Tuple[int, int]]] = (-1e9, None)  # lists, rows
        try:
            conn = self._conn()
            stored = _stored_version(conn)
            if stored == 0:
                if not create:
                    raise GalleryNotFoundError(f"{self.location} holds no face_trigger gallery")
                _migrate(conn, model, dim=dim)
                self._prepare(conn)
                stored = SCHEMA_VERSION
            check_schema(self.location, stored, SCHEMA_VERSION,
                         f"face-trigger gallery upgrade --db '{self.location}'")
            row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'model'").fetchone()
            check_model(self.location, row[0] if row else None, model)
            self.dim = store_dim(self.location, model, _stored_dim(conn), dim)
        except psycopg.OperationalError as exc:
            self._drop_connection()
            raise _unavailable(f"gallery database {self.location}", exc) from exc
        except psycopg.Error as exc:
            raise GalleryError(f"{self.location} is not a usable gallery: "
                               f"{_first_line(exc)}") from exc

    @classmethod
    def exists(cls, location: str) -> bool:
        """Whether the database at ``location`` holds a face_trigger gallery."""
        _require_driver()
        conn = _connect(location, 10)
        try:
            return _stored_version(conn) > 0
        except psycopg.OperationalError as exc:
            raise _unavailable(f"gallery database {redact(location)}", exc) from exc
        finally:
            conn.close()

    @classmethod
    def upgrade(cls, location: str, model: Optional[str]) -> Tuple[int, int]:
        """:func:`upgrade` (the schema brought to this release)."""
        return upgrade(location, model)

    # ------------------------------------------------------------------ connections
    def _conn(self) -> "psycopg.Connection":
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = _connect(self.url, self.connect_timeout)
            try:
                if _stored_version(conn):  # the vector type exists: teach psycopg about it
                    self._prepare(conn)
            except psycopg.Error:
                conn.close()
                raise
            self._local.conn = conn
        return conn

    def _prepare(self, conn: "psycopg.Connection") -> None:
        """Vector adapters, once per connection."""
        register_vector(conn)
        self._local.probes = None

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def _translate(self, exc: BaseException) -> GalleryError:
        """A lost connection (dropped, the next call reconnects) or another database error,
        typed."""
        if isinstance(exc, psycopg.OperationalError):
            self._drop_connection()
            return _unavailable(f"gallery database {self.location}", exc)
        return GalleryError(f"gallery database {self.location}: {_first_line(exc)}")

    @contextmanager
    def _session(self, write: bool = False) -> Iterator["psycopg.Connection"]:
        """This thread's connection, in a transaction when ``write``; database errors
        become GalleryUnavailableError (connection lost) or GalleryError."""
        with store_errors((psycopg.Error,), self._translate):
            conn = self._conn()
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()  # a previous call died mid-transaction
            if write:
                with conn.transaction():
                    yield conn
            else:
                yield conn

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop_connection()

    def schema_version(self) -> int:
        with self._session() as conn:
            return _stored_version(conn)

    @property
    def compact(self) -> bool:
        return not self._is_small()

    def count(self) -> int:
        with self._session() as conn:
            return int(_first(conn, f"SELECT count(*) FROM {SCHEMA}.faceprints"))

    def _index_state(self) -> Optional[Tuple[int, int]]:
        """(lists, rows when built) of the search index, or None when there is none."""
        stamp, state = self._index
        if time.monotonic() - stamp < _CACHE_TTL:
            return state
        with self._session() as conn:
            row = conn.execute(
                f"SELECT lists, rows_at_build FROM {SCHEMA}.search_index WHERE name = %s",
                (INDEX,)).fetchone()
            if row is not None and not _relation_exists(conn, INDEX):
                row = None
        state = (int(row[0]), int(row[1])) if row else None
        self._index = (time.monotonic(), state)
        return state

    def _sizes_changed(self) -> None:
        """Forget the cached size class (the next search counts again)."""
        self._small = (-1e9, True)

    def _after_write(self) -> None:
        """After an add: build or rebuild the index when the gallery needs it. One cheap
        query on the usual path: max(id) bounds the count from above (ids never return)."""
        self._sizes_changed()
        with self._session() as conn:
            bound = _first(conn, f"SELECT coalesce(max(id), 0) FROM {SCHEMA}.faceprints")
        if bound < self.exact_below:
            return  # small: searched exactly, no index needed
        state = self._index_state()
        if state is not None and bound < REBUILD_GROWTH * state[1]:
            return
        self.build_index()  # counts exactly and decides

    def build_index(self, force: bool = False) -> bool:
        """Build the IVFFlat index for the current faceprints (as a new index, swapped in
        when ready; searches go on meanwhile, writers wait). Skipped when another process
        is building, or (unless ``force``) when the gallery has not grown enough since the
        last build. Returns whether this call built it."""
        with self._session() as conn:
            if not _first(conn, "SELECT pg_try_advisory_lock(%s)", (_BUILD_KEY,)):
                return False
            try:
                rows = _first(conn, f"SELECT count(*) FROM {SCHEMA}.faceprints")
                self._index = (-1e9, None)
                state = self._index_state()
                if not force and (rows < self.exact_below or (
                        state is not None and rows < REBUILD_GROWTH * state[1])):
                    return False
                lists = index_lists(rows)
                conn.execute(f"SET maintenance_work_mem = '{INDEX_MEMORY}'")
                conn.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{INDEX}_new")
                conn.execute(f"CREATE INDEX {INDEX}_new ON {SCHEMA}.faceprints USING ivfflat "
                             f"(vector vector_cosine_ops) WITH (lists = {lists})")
                with conn.transaction():
                    conn.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{INDEX}")
                    conn.execute(f"ALTER INDEX {SCHEMA}.{INDEX}_new RENAME TO {INDEX}")
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.search_index VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (name) DO UPDATE SET lists = EXCLUDED.lists, "
                        "rows_at_build = EXCLUDED.rows_at_build, built = EXCLUDED.built",
                        (INDEX, lists, rows, time.time()))
                conn.execute("RESET maintenance_work_mem")
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_BUILD_KEY,))
        self._index = (-1e9, None)
        return True

    def _is_small(self) -> bool:
        """Fewer than exact_below faceprints? Counts at most that many rows (cheap at any
        size) and trusts the answer for a few seconds; own writes recount."""
        stamp, small = self._small
        if time.monotonic() - stamp < _CACHE_TTL:
            return small
        with self._session() as conn:
            seen = _first(conn, f"SELECT count(*) FROM (SELECT 1 FROM {SCHEMA}.faceprints "
                                "LIMIT %s) t", (self.exact_below,))
        small = seen < self.exact_below
        self._small = (time.monotonic(), small)
        return small

    def identify_pool(self) -> int:
        """The top IDENTIFY_POOL faceprints (fewer come back from a smaller gallery)."""
        return IDENTIFY_POOL

    # ------------------------------------------------------------------ people
    def add_person(self, name: str, metadata: Dict[str, Any]) -> int:
        with self._session(write=True) as conn:
            row = conn.execute(
                f"INSERT INTO {SCHEMA}.people (name, metadata, created) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING RETURNING id",
                (name, json.dumps(metadata), time.time())).fetchone()
            if row is None:
                raise PersonExistsError(f"{name!r} is already enrolled in {self.location}")
            return int(row[0])

    def people(self) -> List[Dict[str, Any]]:
        with self._session() as conn:
            rows = conn.execute(
                f"SELECT p.name, p.metadata, COUNT(f.id) FROM {SCHEMA}.people p "
                f"LEFT JOIN {SCHEMA}.faceprints f ON f.person_id = p.id "
                "GROUP BY p.id ORDER BY p.name COLLATE \"C\"").fetchall()
        return [{"name": n, "metadata": m, "faceprints": int(c)} for n, m, c in rows]

    def rename_person(self, old: str, new: str) -> None:
        with self._session(write=True) as conn:
            taken = conn.execute(f"SELECT 1 FROM {SCHEMA}.people WHERE name = %s",
                                 (new,)).fetchone()
            if taken and new != old:
                raise PersonExistsError(f"cannot rename to {new!r}: already enrolled in "
                                        f"{self.location}")
            changed = conn.execute(f"UPDATE {SCHEMA}.people SET name = %s WHERE name = %s",
                                   (new, old)).rowcount
            if not changed:
                raise PersonNotFoundError(f"{old!r} is not enrolled in {self.location}")

    def remove_person(self, name: str) -> int:
        with self._session(write=True) as conn:
            row = conn.execute(f"SELECT id FROM {SCHEMA}.people WHERE name = %s FOR UPDATE",
                               (name,)).fetchone()
            if row is None:
                raise PersonNotFoundError(f"{name!r} is not enrolled in {self.location}")
            count = conn.execute(f"DELETE FROM {SCHEMA}.faceprints WHERE person_id = %s",
                                 (row[0],)).rowcount
            conn.execute(f"DELETE FROM {SCHEMA}.people WHERE id = %s", (row[0],))
        self._sizes_changed()
        return int(count)

    def _person_id(self, conn: "psycopg.Connection", name: str, create: bool) -> int:
        """The person's id, created when missing (safe against a concurrent creator)."""
        row = conn.execute(f"SELECT id FROM {SCHEMA}.people WHERE name = %s", (name,)).fetchone()
        if row is None:
            if not create:
                raise PersonNotFoundError(f"{name!r} is not enrolled in {self.location}")
            conn.execute(f"INSERT INTO {SCHEMA}.people (name, metadata, created) "
                         "VALUES (%s, '{}', %s) ON CONFLICT (name) DO NOTHING",
                         (name, time.time()))
            row = conn.execute(f"SELECT id FROM {SCHEMA}.people WHERE name = %s",
                               (name,)).fetchone()
        return int(_first_of(row))

    # ------------------------------------------------------------------ faceprints
    def add_faceprints(self, name: str, rows: NDArray[np.float32],
                       sources: Sequence[Optional[str]], qualities: Sequence[Dict[str, Any]],
                       thumbnails: Sequence[Optional[bytes]], create: bool) -> List[int]:
        now = time.time()
        with self._session(write=True) as conn:
            person = self._person_id(conn, name, create)
            ids = []
            with conn.cursor() as cursor:
                for vector, source, quality, thumb in zip(rows, sources, qualities, thumbnails):
                    cursor.execute(
                        f"INSERT INTO {SCHEMA}.faceprints (person_id, vector, source_sha256, "
                        "quality, thumbnail, created) VALUES (%s, %s, %s, %s, %s, %s) "
                        "RETURNING id", (person, vector, source, json.dumps(quality), thumb, now))
                    ids.append(int(_first_of(cursor.fetchone())))
        self._after_write()
        return ids

    def bulk_add(self, names: Sequence[str], rows: NDArray[np.float32]) -> NDArray[np.int64]:
        """Load many rows with COPY in one transaction; then build the index if the
        gallery now needs one (or a fresh one)."""
        now = time.time()
        with self._session(write=True) as conn:
            people = {name: self._person_id(conn, name, True) for name in dict.fromkeys(names)}
            ids = np.array([r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (f"{SCHEMA}.faceprints", len(names))).fetchall()], np.int64)
            with conn.cursor().copy(
                    f"COPY {SCHEMA}.faceprints (id, person_id, vector, created) "
                    "FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int8", "vector", "float8"])
                for fid, name, row in zip(ids.tolist(), names, rows):
                    copy.write_row((fid, people[name], row, now))
        self._after_write()
        return ids

    def remove_faceprint(self, faceprint_id: int) -> None:
        with self._session(write=True) as conn:
            if not conn.execute(f"DELETE FROM {SCHEMA}.faceprints WHERE id = %s",
                                (faceprint_id,)).rowcount:
                raise GalleryError(f"no faceprint with id {faceprint_id}")
        self._sizes_changed()

    def faceprints(self, name: str) -> List[Dict[str, Any]]:
        with self._session() as conn:
            rows = conn.execute(
                f"SELECT f.id, f.source_sha256, f.quality, f.created FROM {SCHEMA}.faceprints f "
                f"JOIN {SCHEMA}.people p ON p.id = f.person_id WHERE p.name = %s ORDER BY f.id",
                (name,)).fetchall()
        return [{"id": int(i), "source_sha256": s, "quality": q, "created": c}
                for i, s, q, c in rows]

    def vectors_of(self, name: str) -> NDArray[np.float32]:
        with self._session() as conn:
            rows = conn.execute(
                f"SELECT f.id, f.vector FROM {SCHEMA}.faceprints f JOIN {SCHEMA}.people p "
                "ON p.id = f.person_id WHERE p.name = %s ORDER BY f.id", (name,)).fetchall()
        return self._checked([r[0] for r in rows], [r[1] for r in rows])

    def export_people(self) -> Iterator[ExportedPerson]:
        with self._session() as conn:
            people = conn.execute(f"SELECT id, name, metadata FROM {SCHEMA}.people "
                                  "ORDER BY name COLLATE \"C\"").fetchall()
            for pid, name, metadata in people:
                prints = conn.execute(
                    f"SELECT id, vector, source_sha256, quality FROM {SCHEMA}.faceprints "
                    "WHERE person_id = %s ORDER BY id", (pid,)).fetchall()
                vectors = self._checked([p[0] for p in prints], [p[1] for p in prints])
                yield name, metadata, [(v, p[2], p[3]) for v, p in zip(vectors, prints)]

    def _checked(self, ids: List[int], vectors: List[Any]) -> NDArray[np.float32]:
        """Stored vectors as (n, dim) float32 unit rows; GalleryError names a faceprint whose
        vector is not a finite unit vector (the column type fixes the length, and pgvector
        refuses NaN and infinity on write)."""
        rows = _matrix(vectors, self.dim)
        check_unit_norms(self.location, ids, np.linalg.norm(rows, axis=1))
        return rows

    # ------------------------------------------------------------------ search
    def search(self, queries: NDArray[np.float32], k: int, exact: bool = False) -> SearchResult:
        m = queries.shape[0]
        scores, ids, names = empty_result(m, k)
        state = None if exact or self._is_small() else self._index_state()
        exact = state is None  # small, asked for, or no index built yet
        if m == 1:  # one query: no array to unnest (about 1 ms less per call)
            query = ("SELECT 0, f.id, p.name, 1 - f.distance, vector_norm(f.vector) FROM ("
                     f"  SELECT id, person_id, vector, vector <=> %(q)s AS distance "
                     f"  FROM {SCHEMA}.faceprints ORDER BY vector <=> %(q)s LIMIT %(k)s) f "
                     f"JOIN {SCHEMA}.people p ON p.id = f.person_id ORDER BY f.distance, f.id")
            params: Dict[str, Any] = {"q": queries[0], "k": k}
        else:  # one statement for the batch: a LATERAL index search per query
            query = ("SELECT q.i - 1, f.id, p.name, 1 - f.distance, vector_norm(f.vector) "
                     "FROM unnest(%(q)s::vector[]) WITH ORDINALITY AS q(v, i) CROSS JOIN LATERAL ("
                     "  SELECT id, person_id, vector, vector <=> q.v AS distance "
                     f"  FROM {SCHEMA}.faceprints ORDER BY vector <=> q.v LIMIT %(k)s) f "
                     f"JOIN {SCHEMA}.people p ON p.id = f.person_id "
                     "ORDER BY q.i, f.distance, f.id")
            params = {"q": list(queries), "k": k}
        with self._session(write=exact) as conn:  # a transaction only for SET LOCAL
            if state is None:  # a sequential scan: every faceprint compared
                conn.execute("SET LOCAL enable_indexscan = off")
            else:
                probes = self.probes or default_probes(state[0])
                if getattr(self._local, "probes", None) != probes:
                    conn.execute(f"SET ivfflat.probes = {int(probes)}")
                    self._local.probes = probes
            rows = conn.execute(query, params).fetchall()
        # cosine scores ignore a vector's scale, but a zero or altered row is still damage
        check_unit_norms(self.location, [r[1] for r in rows], [r[4] for r in rows])
        filled = [0] * m
        for row, fid, name, score, _ in rows:
            col = filled[row]
            if col < k:
                scores[row, col], ids[row, col], names[row][col] = score, fid, name
                filled[row] = col + 1
        return scores, ids, names


def _matrix(vectors: List[Any], dim: int) -> NDArray[np.float32]:
    """pgvector ``Vector`` values as (n, dim) float32 rows."""
    if not vectors:
        return np.zeros((0, dim), np.float32)
    return np.stack([v.to_numpy() for v in vectors]).astype(np.float32)


def _first_of(row: Optional[Tuple[Any, ...]]) -> Any:
    """The first column of a row a statement must return."""
    if row is None:
        raise GalleryError("the database returned no row where one was expected")
    return row[0]


def _first(conn: "psycopg.Connection", query: str, params: Any = None) -> Any:
    """The first column of the first row of ``query``."""
    return _first_of(conn.execute(query, params).fetchone())
