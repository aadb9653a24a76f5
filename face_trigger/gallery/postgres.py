"""The shared gallery backend: PostgreSQL with the pgvector extension.

Many processes and machines enrol into and search one gallery. Everything lives in the
schema ``face_trigger`` of the database in the URL: ``meta`` (schema version, embedder
model), ``people``, ``faceprints`` (a ``vector(dim)`` column, its size chosen when the
gallery is created: 128 for SFace), ``search_index`` and ``changes``, a log of every
statement that added or removed faceprints or renamed people, written by triggers whoever
writes, with a NOTIFY on ``face_trigger_changes``.

Search (``search="local"``, the default) runs in each process that identifies, as in an
SQLite gallery: the search state of :mod:`.local` (exact rows below ``compact_from``
faceprints, else the compact faiss index, cached in ``cache_dir`` and used again when it
holds exactly the database's faceprints), loaded on the first search and kept current from
the change log: a listener thread wakes on the notification, and a search looks at the log
at least every POLL_S seconds anyway, so a change committed by any process is seen within
that. The compact index's candidates are re-ranked with the exact vectors read from
PostgreSQL. ``exact=True`` scans in the database. ``search="server"`` keeps the earlier
design: search in the database (exact below ``exact_below`` faceprints, else an IVFFlat
index that writers build and rebuild). Why local: docs/gallery.md (1M faceprints).

Needs the ``[postgres]`` extra (psycopg 3 and pgvector's Python package) and a server
where ``CREATE EXTENSION vector`` is possible (pgvector installed; the first user needs
the right to create it, or a DBA runs it once); the compact index needs faiss-cpu.

Connections: one per thread, opened on first use (``connect_timeout`` seconds), and one
for the listener. A lost or refused connection raises :class:`GalleryUnavailableError` at
once and is dropped; the next call opens a new one. Every change is one transaction.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .._secrets import redact
from ..errors import (GalleryError, GalleryLocationError, GalleryNotFoundError,
                      GalleryUnavailableError, InvalidParameterError, PersonExistsError,
                      PersonNotFoundError)
from .backend import (IDENTIFY_POOL, ExportedPerson, SearchResult, check_model,
                      check_schema, check_unit_norms, empty_result, store_dim,
                      store_errors)
from .index import CompactIndex
from .local import (COMPACT_FROM, Snapshot, appended, dropped, renamed,
                    search as search_local, use_compact)

logger = logging.getLogger("face_trigger.gallery")

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
#: LISTEN/NOTIFY channel of the change log.
CHANNEL = "face_trigger_changes"
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
    # 3: the change log every process's local search state follows: one row per statement
    # that added or removed faceprints (their ids) or renamed people (their ids), written
    # by triggers whoever writes, and a notification to wake the listeners
    f"""
    CREATE TABLE {SCHEMA}.changes (
        seq bigserial PRIMARY KEY, op text NOT NULL, ids bigint[] NOT NULL,
        at double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()));
    CREATE FUNCTION {SCHEMA}.log_faceprints() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO {SCHEMA}.changes (op, ids)
                SELECT 'add', array_agg(id ORDER BY id) FROM added HAVING count(*) > 0;
        ELSE
            INSERT INTO {SCHEMA}.changes (op, ids)
                SELECT 'remove', array_agg(id ORDER BY id) FROM removed HAVING count(*) > 0;
        END IF;
        PERFORM pg_notify('{CHANNEL}', '');
        RETURN NULL;
    END $$;
    CREATE TRIGGER faceprints_added AFTER INSERT ON {SCHEMA}.faceprints
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT
        EXECUTE FUNCTION {SCHEMA}.log_faceprints();
    CREATE TRIGGER faceprints_removed AFTER DELETE ON {SCHEMA}.faceprints
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
        EXECUTE FUNCTION {SCHEMA}.log_faceprints();
    CREATE FUNCTION {SCHEMA}.log_renames() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {SCHEMA}.changes (op, ids)
            SELECT 'rename', array_agg(a.id) FROM renamed_after a
            JOIN renamed_before b ON a.id = b.id WHERE a.name <> b.name HAVING count(*) > 0;
        PERFORM pg_notify('{CHANNEL}', '');
        RETURN NULL;
    END $$;
    CREATE TRIGGER people_renamed AFTER UPDATE ON {SCHEMA}.people
        REFERENCING OLD TABLE AS renamed_before NEW TABLE AS renamed_after
        FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.log_renames();
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
#: Where searches run: "local" (default): each process keeps the search state of
#: ``gallery.local`` (exact rows, or the compact index from COMPACT_FROM faceprints, cached
#: in ``cache_dir``), follows the database's change log and re-ranks candidates with the
#: vectors stored in PostgreSQL; "server": in the database (exact scans, IVFFlat above
#: ``exact_below``). docs/gallery.md compares the two at 1M.
SEARCH_MODES = ("local", "server")
#: A local search state asks the change log for news at least this often (seconds) even
#: without a notification (a lost LISTEN connection): a change is seen within this.
POLL_S = 0.5
#: A sequence number missing from the change log (a transaction that took it and has not
#: committed yet, or rolled back) is looked for again during this many seconds.
GAP_WAIT_S = 120.0
#: Rows per chunk when a local search state reads faceprints.
_READ_CHUNK = 50_000


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
                 create: bool = True, dim: Optional[int] = None, search: str = "local",
                 compact_from: int = COMPACT_FROM,
                 cache_dir: Union[str, os.PathLike, None] = None) -> None:
        _require_driver()
        if search not in SEARCH_MODES:
            raise InvalidParameterError(f"search must be one of {SEARCH_MODES}, got {search!r}")
        self.url = url
        self.location = redact(url)
        self.model = model
        self.search_mode = search
        self.compact_from = int(compact_from)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._state_lock = threading.Lock()  # one load or catch-up at a time
        self._index_lock = threading.RLock()  # faiss: no search while the index changes
        self._snapshot: Optional[Snapshot] = None
        self._seq = 0
        self._gaps: Dict[int, float] = {}
        self._last_poll = -1e9
        self._notified = threading.Event()
        self._closed = threading.Event()
        self._listener: Optional[threading.Thread] = None
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
        """Close this thread's connection (and stop listening for changes)."""
        self._closed.set()
        self._drop_connection()

    def schema_version(self) -> int:
        with self._session() as conn:
            return _stored_version(conn)

    @property
    def compact(self) -> bool:
        if self.search_mode == "local":
            return self._fresh_snapshot().index is not None
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
        if self.search_mode == "local":  # searched here: no server index to keep
            return
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

    def _changed(self) -> None:
        """After this process wrote: its next search reads the change log first."""
        self._sizes_changed()
        self._notified.set()

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
        self._changed()

    def remove_person(self, name: str) -> int:
        with self._session(write=True) as conn:
            row = conn.execute(f"SELECT id FROM {SCHEMA}.people WHERE name = %s FOR UPDATE",
                               (name,)).fetchone()
            if row is None:
                raise PersonNotFoundError(f"{name!r} is not enrolled in {self.location}")
            count = conn.execute(f"DELETE FROM {SCHEMA}.faceprints WHERE person_id = %s",
                                 (row[0],)).rowcount
            conn.execute(f"DELETE FROM {SCHEMA}.people WHERE id = %s", (row[0],))
        self._changed()
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
        self._changed()
        self._after_write()
        return ids

    def bulk_add(self, names: Sequence[str], rows: NDArray[np.float32]) -> NDArray[np.int64]:
        """Load many rows with COPY in one transaction; then build the index if the
        gallery now needs one (or a fresh one)."""
        now = time.time()
        with self._session(write=True) as conn:
            unique = list(dict.fromkeys(names))
            conn.execute(f"INSERT INTO {SCHEMA}.people (name, metadata, created) "
                         "SELECT n, '{}', %s FROM unnest(%s::text[]) AS n "
                         "ON CONFLICT (name) DO NOTHING", (now, unique))
            people = dict(conn.execute(f"SELECT name, id FROM {SCHEMA}.people "
                                       "WHERE name = ANY(%s)", (unique,)).fetchall())
            ids = np.array([r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (f"{SCHEMA}.faceprints", len(names))).fetchall()], np.int64)
            with conn.cursor().copy(
                    f"COPY {SCHEMA}.faceprints (id, person_id, vector, created) "
                    "FROM STDIN WITH (FORMAT BINARY)") as copy:
                person_ids = np.array([people[name] for name in names], np.int64)
                copy.write(_COPY_SIGNATURE)
                for start in range(0, len(ids), _READ_CHUNK):  # numpy, not a row at a time
                    end = start + _READ_CHUNK
                    copy.write(_copy_rows(ids[start:end], person_ids[start:end],
                                          rows[start:end], now))
                copy.write(b"\xff\xff")  # end of data
        self._changed()
        self._after_write()
        return ids

    def remove_faceprint(self, faceprint_id: int) -> None:
        with self._session(write=True) as conn:
            if not conn.execute(f"DELETE FROM {SCHEMA}.faceprints WHERE id = %s",
                                (faceprint_id,)).rowcount:
                raise GalleryError(f"no faceprint with id {faceprint_id}")
        self._changed()

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
        """Local mode: over this process's search state, brought up to date with the change
        log first; an exact search (and server mode) runs in the database."""
        if self.search_mode == "local" and not exact:
            try:
                return search_local(self._fresh_snapshot(), queries, k, False,
                                    self._index_lock, self._fetch_vectors, self.location)
            except _VectorsGone:  # a candidate was removed meanwhile: catch up, once
                self._notified.set()
                return search_local(self._fresh_snapshot(), queries, k, False,
                                    self._index_lock, self._fetch_vectors, self.location)
        return self._server_search(queries, k, exact)

    def _server_search(self, queries: NDArray[np.float32], k: int, exact: bool
                       ) -> SearchResult:
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

    # ------------------------------------------------------------------ local search state
    def _fresh_snapshot(self) -> Snapshot:
        """The local search state, loaded on first use, then brought up to date with the
        change log when a notification came or POLL_S has passed."""
        with self._state_lock:
            if self._snapshot is None:
                self._snapshot = self._load_snapshot()
                self._start_listener()
            elif self._notified.is_set() or time.monotonic() - self._last_poll >= POLL_S:
                self._notified.clear()
                self._catch_up()
            return self._snapshot

    def _load_snapshot(self) -> Snapshot:
        """Every faceprint's id and person, and the rows (or the compact index: from the
        cache folder when it holds exactly these ids, else built and cached), read in one
        consistent snapshot of the database, with the change log position it reflects."""
        with self._session(write=True) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            seq = int(_first(conn, f"SELECT coalesce(max(seq), 0) FROM {SCHEMA}.changes"))
            recent = {int(r[0]) for r in conn.execute(
                f"SELECT seq FROM {SCHEMA}.changes WHERE seq > %s", (seq - 1000,))}
            ids, person_ids = _read_pairs(conn)
            names = self._names_of(conn, person_ids)
            now = time.monotonic()
            # transactions that took a number before ours and commit after it
            self._gaps = {g: now for g in range(max(1, seq - 999), seq + 1) if g not in recent}
            self._seq, self._last_poll = seq, now
            if use_compact(ids.size, self.compact_from, self.location, self.dim):
                return Snapshot(None, ids, names, self._open_index(conn, ids))
            return Snapshot(self._read_vectors(conn, ids), ids, names)

    def _names_of(self, conn: "psycopg.Connection", person_ids: NDArray[np.int64]
                  ) -> Tuple[str, ...]:
        """The name of each person id (people read once, in order of id)."""
        people, names = [], []
        with conn.cursor().copy(f"COPY (SELECT id, name FROM {SCHEMA}.people ORDER BY id) "
                                "TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text"])
            for pid, name in copy.rows():
                people.append(pid)
                names.append(name)
        known = np.array(people, np.int64)
        rows = np.searchsorted(known, person_ids)
        if person_ids.size and (rows.max() >= known.size or
                                not np.array_equal(known[rows], person_ids)):
            raise GalleryError(f"{self.location}: a faceprint belongs to a person who is not "
                               "in the gallery")
        return tuple(names[r] for r in rows)

    def _open_index(self, conn: "psycopg.Connection", ids: NDArray[np.int64]) -> CompactIndex:
        """The cached compact index brought to exactly ``ids`` (faceprints removed since it
        was saved are hidden, new ones read from the database and added; saved again when
        it changed), else a new one built from every vector."""
        path = self._cache_path()
        if path is not None and path.is_file():
            try:
                index = CompactIndex.load(path)
                if index.hidden == 0 and np.array_equal(index.ids, ids):
                    return index  # saved in this very state: nothing to compare further
                cached = np.sort(index.ids[index.ids >= 0])
                gone, new = np.setdiff1d(cached, ids), np.setdiff1d(ids, cached)
                if gone.size + new.size < max(1024, ids.size // 10):  # else: build afresh
                    index.remove(gone)
                    if new.size:
                        index.add(self._read_vectors(conn, new), new)
                    if gone.size or new.size:
                        if index.stale:
                            raise GalleryError("too many removed faceprints in the cache")
                        self._persist(index, ids)
                    return index
            except (GalleryError, OSError, ValueError, RuntimeError) as exc:
                logger.warning("rebuilding the compact index of %s: %s", self.location, exc)
        index = CompactIndex.build(self._read_vectors(conn, ids), ids)
        self._persist(index, ids)
        return index

    def _cache_path(self) -> Optional[Path]:
        """The compact index file of this gallery in the cache folder (None: no folder)."""
        key = hashlib.sha256(f"{self.location}|{self.model}".encode()).hexdigest()[:24]
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            logger.warning("no cache folder for the compact index (%s): it is rebuilt by "
                           "every process", exc)
            return None
        return self.cache_dir / f"gallery-{key}.faiss"

    def _persist(self, index: CompactIndex, ids: NDArray[np.int64]) -> None:
        path = self._cache_path()
        if path is not None:
            try:
                index.save(path)
            except OSError as exc:
                logger.warning("cannot cache the compact index in %s: %s", path, exc)

    def _catch_up(self) -> None:
        """Apply the change log since the last look (and any number still missing)."""
        assert self._snapshot is not None
        with self._session() as conn:
            rows = conn.execute(
                f"SELECT seq, op, ids FROM {SCHEMA}.changes WHERE seq > %s OR seq = ANY(%s) "
                "ORDER BY seq", (self._seq, list(self._gaps))).fetchall()
            for seq, op, ids in rows:
                self._apply(conn, op, np.array(sorted(ids), np.int64))
                self._gaps.pop(int(seq), None)
        now = time.monotonic()
        seen = {int(r[0]) for r in rows}
        newest = max(seen | {self._seq})
        self._gaps.update({g: now for g in range(self._seq + 1, newest) if g not in seen})
        self._gaps = {g: t for g, t in self._gaps.items() if now - t < GAP_WAIT_S}
        self._seq, self._last_poll = newest, now

    def _apply(self, conn: "psycopg.Connection", op: str, ids: NDArray[np.int64]) -> None:
        """One change: faceprints added or removed, or people renamed (their ids). Applying
        one twice changes nothing."""
        snap = self._snapshot
        assert snap is not None
        if op == "remove":
            keep = ~np.isin(snap.ids, ids)
            if not keep.all():
                self._snapshot = dropped(snap, keep, self._index_lock, self._fetch_vectors,
                                         self._persist)
            return
        if op == "rename":
            rows = conn.execute(
                f"SELECT f.id, p.name FROM {SCHEMA}.faceprints f JOIN {SCHEMA}.people p "
                "ON p.id = f.person_id WHERE p.id = ANY(%s) ORDER BY f.id",
                (ids.tolist(),)).fetchall()
            self._snapshot = renamed(snap, np.array([r[0] for r in rows], np.int64),
                                     [r[1] for r in rows])
            return
        new = ids[~np.isin(ids, snap.ids)]
        for start in range(0, new.size, _READ_CHUNK):
            chunk = new[start:start + _READ_CHUNK]
            rows = conn.execute(
                f"SELECT f.id, p.name FROM {SCHEMA}.faceprints f JOIN {SCHEMA}.people p "
                "ON p.id = f.person_id WHERE f.id = ANY(%s) ORDER BY f.id",
                (chunk.tolist(),)).fetchall()
            present = np.array([r[0] for r in rows], np.int64)  # not removed since
            if present.size:
                snap = appended(snap, self._read_vectors(conn, present),
                                present, tuple(r[1] for r in rows),
                                self.compact_from, self._index_lock, self._persist)
        self._snapshot = snap

    def _fetch_vectors(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """The unit rows of these faceprint ids (ascending), from the database."""
        with self._session() as conn:
            return self._read_vectors(conn, ids)

    def _read_vectors(self, conn: "psycopg.Connection", ids: NDArray[np.int64]
                      ) -> NDArray[np.float32]:
        """Rows of ``ids`` (ascending) as (n, dim) float32 unit vectors, read with binary
        COPY in chunks; GalleryError when one is missing or is not a unit vector."""
        out = np.zeros((ids.size, self.dim), np.float32)
        for start in range(0, ids.size, _READ_CHUNK):
            chunk = ids[start:start + _READ_CHUNK]
            if chunk.size == ids.size or chunk.size < 1024:
                where = "id = ANY('{" + ",".join(map(str, chunk.tolist())) + "}'::bigint[])"
            else:  # a range: ids are ascending
                where = f"id BETWEEN {int(chunk[0])} AND {int(chunk[-1])}"
            got_ids, rows = _read_id_vectors(conn, where, self.dim)
            if got_ids.size != chunk.size or not np.array_equal(got_ids, chunk):
                keep = np.isin(got_ids, chunk)
                got_ids, rows = got_ids[keep], rows[keep]
                if not np.array_equal(got_ids, chunk):
                    missing = np.setdiff1d(chunk, got_ids)
                    raise _VectorsGone(f"{self.location}: faceprint {int(missing[0])} is gone "
                                       "(removed by another process); search again")
            out[start:start + chunk.size] = rows
        check_unit_norms(self.location, ids.tolist(), np.linalg.norm(out, axis=1))
        return out

    def _start_listener(self) -> None:
        """Wake this process's search state on the change log's notifications (a thread
        with its own connection, which ends with this backend; polling every POLL_S covers
        a lost notification)."""
        if self._listener is None:
            self._listener = threading.Thread(
                target=_listen, args=(weakref.ref(self), self.url, self.connect_timeout,
                                      self._notified, self._closed),
                daemon=True, name="face_trigger gallery changes")
            self._listener.start()


def _listen(owner: "weakref.ref[PostgresBackend]", url: str, timeout: float,
            notified: threading.Event, closed: threading.Event) -> None:
    """LISTEN on the change log's channel and set ``notified`` on each notification, until
    ``closed`` or the backend is gone; reconnects after a lost connection."""
    while not closed.is_set() and owner() is not None:
        conn = None
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
            conn.execute(f"LISTEN {CHANNEL}")
            notified.set()  # (re)connected: something may have happened meanwhile
            while not closed.is_set() and owner() is not None:
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    notified.set()
        except psycopg.Error:
            closed.wait(1.0)  # the database is away: polling covers it meanwhile
        finally:
            if conn is not None:
                conn.close()


class _VectorsGone(GalleryError):
    """Faceprints of the local search state were removed from the database meanwhile."""


def default_cache_dir() -> Path:
    """Where compact indexes of PostgreSQL galleries are cached:
    ``$FACE_TRIGGER_CACHE/galleries``, else ``$XDG_CACHE_HOME/face_trigger/galleries``,
    else ``~/.cache/face_trigger/galleries``."""
    if os.environ.get("FACE_TRIGGER_CACHE"):
        return Path(os.environ["FACE_TRIGGER_CACHE"]) / "galleries"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "face_trigger" / "galleries"


#: Binary COPY of (bigint, bigint): field count, then length and value of each column.
_PAIR = np.dtype([("n", ">i2"), ("l1", ">i4"), ("a", ">i8"), ("l2", ">i4"), ("b", ">i8")])
#: Binary COPY header: signature, flags, header extension length (0).
_COPY_HEADER = 19
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8


def _copy_rows(ids: NDArray[np.int64], person_ids: NDArray[np.int64],
               rows: NDArray[np.float32], created: float) -> bytes:
    """Binary COPY tuples of (id, person_id, vector, created): field count, then the
    length and big-endian value of each (pgvector's vector: dim, 0, dim floats)."""
    dim = rows.shape[1]
    layout = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"),
                       ("pid", ">i8"), ("l3", ">i4"), ("dim", ">u2"), ("unused", ">u2"),
                       ("v", ">f4", (dim,)), ("l4", ">i4"), ("created", ">f8")])
    out = np.zeros(len(ids), layout)
    out["n"], out["l1"], out["l2"], out["l3"], out["l4"] = 4, 8, 8, 4 + 4 * dim, 8
    out["id"], out["pid"], out["dim"], out["v"], out["created"] = ids, person_ids, dim, rows, \
        created
    return out.tobytes()


def _read_pairs(conn: "psycopg.Connection") -> Tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(faceprint ids ascending, person id of each), read with binary COPY."""
    data = _copy_bytes(conn, f"COPY (SELECT id, person_id FROM {SCHEMA}.faceprints ORDER BY id) "
                             "TO STDOUT (FORMAT BINARY)")
    rows = np.frombuffer(data, _PAIR, count=(len(data) - _COPY_HEADER - 2) // _PAIR.itemsize,
                         offset=_COPY_HEADER)
    return rows["a"].astype(np.int64), rows["b"].astype(np.int64)


def _read_id_vectors(conn: "psycopg.Connection", where: str, dim: int
                     ) -> Tuple[NDArray[np.int64], NDArray[np.float32]]:
    """(ids, rows (n, dim) float32) of the faceprints ``where`` selects, by id, read with
    binary COPY (pgvector's binary form: dim, 0, then dim big-endian floats)."""
    row = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"),
                    ("dim", ">u2"), ("unused", ">u2"), ("v", ">f4", (dim,))])
    data = _copy_bytes(conn, f"COPY (SELECT id, vector FROM {SCHEMA}.faceprints WHERE {where} "
                             "ORDER BY id) TO STDOUT (FORMAT BINARY)")
    rows = np.frombuffer(data, row, count=(len(data) - _COPY_HEADER - 2) // row.itemsize,
                         offset=_COPY_HEADER)
    if rows.size and (np.any(rows["dim"] != dim) or np.any(rows["l2"] != 4 + 4 * dim)):
        raise GalleryError(f"a stored vector is not {dim} long: the gallery is damaged")
    return rows["id"].astype(np.int64), rows["v"].astype(np.float32)


def _copy_bytes(conn: "psycopg.Connection", statement: str) -> bytes:
    """Everything a COPY ... TO STDOUT writes."""
    parts = []
    with conn.cursor().copy(statement) as copy:
        for chunk in copy:
            parts.append(bytes(chunk))
    return b"".join(parts)


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
