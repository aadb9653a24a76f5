"""The search state a process keeps for a gallery whose faceprints live in a store (the
SQLite file, or PostgreSQL): an immutable :class:`Snapshot` of faceprint ids (ascending),
the person of each, and either the unit rows (exact mode) or a compact index whose
candidates are re-ranked with exact vectors read back from the store. Changes give a new
snapshot; searches read the one current when they start."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from ..errors import GalleryError
from .backend import SearchResult, empty_result
from .index import CompactIndex, faiss_available

logger = logging.getLogger("face_trigger.gallery")

#: From this many faceprints on (and with faiss installed) search runs on the compact index
#: (index.py: 128 bytes a vector) with exact re-ranking; below it, on an exact float32
#: matrix. Chosen by ``python benchmarks/bench_gallery.py`` (docs/gallery.md).
COMPACT_FROM = 200_000
#: Candidates the compact index returns per query before exact re-ranking (at least 4 k):
#: its SQ6 scores rank almost exactly (on the 1M real-like benchmark the exact best was
#: always among the top 8 of them), the exact vectors decide (index.py).
CANDIDATES = 16
#: Rows per chunk when an exact search reads a compact gallery's vectors from the store.
EXACT_CHUNK = 100_000

#: Reads the unit rows of the given faceprint ids (ascending, present) from the store.
Fetch = Callable[[NDArray[np.int64]], NDArray[np.float32]]
#: Called with a newly built compact index and its ids (to persist it).
Persist = Callable[[CompactIndex, NDArray[np.int64]], None]


def use_compact(count: int, compact_from: int, where: str, dim: int) -> bool:
    """Whether a gallery of ``count`` faceprints is searched on the compact index: from
    ``compact_from`` on, when faiss is installed (without it, a warning says what the exact
    rows in memory cost)."""
    if count < compact_from:
        return False
    if faiss_available():
        return True
    logger.warning("%s holds %d faceprints: without faiss they are searched exactly in "
                   "memory (%d MB); pip install faiss-cpu for the compact index", where, count,
                   count * dim * 4 // 10**6)
    return False


@dataclass(frozen=True)
class Snapshot:
    """Search state: faceprint ids (ascending), the person of each, and either the unit
    rows (exact mode) or the compact index (compact mode, vectors stay in the store)."""

    vectors: Optional[NDArray[np.float32]]
    ids: NDArray[np.int64]
    names: Tuple[str, ...]
    index: Optional[CompactIndex] = None


def appended(old: Snapshot, rows: NDArray[np.float32], ids: NDArray[np.int64],
             names: Tuple[str, ...], compact_from: int, lock: "object",
             persist: Persist) -> Snapshot:
    """``old`` with rows added (ids not in it; usually above every id in it, but a shared
    store may commit a lower id later: the rows are then merged in order); switches to the
    compact index when the gallery reaches ``compact_from`` (and faiss is installed).
    ``lock`` (a context manager) guards the index while it changes."""
    all_ids = np.concatenate([old.ids, ids])
    all_names = old.names + names
    order = None
    if ids.size and old.ids.size and int(ids.min()) < int(old.ids[-1]):
        order = np.argsort(all_ids, kind="stable")
        all_ids = all_ids[order]
        all_names = tuple(all_names[i] for i in order)
    if old.index is not None:
        with lock:  # type: ignore[attr-defined]
            old.index.add(rows, ids)  # the index maps its own positions to ids
        return Snapshot(None, all_ids, all_names, old.index)
    vectors = np.concatenate([old.vectors if old.vectors is not None else
                              np.zeros((0, rows.shape[1]), np.float32), rows])
    if order is not None:
        vectors = vectors[order]
    if all_ids.size >= compact_from and faiss_available():
        index = CompactIndex.build(vectors, all_ids)
        persist(index, all_ids)
        return Snapshot(None, all_ids, all_names, index)
    return Snapshot(vectors, all_ids, all_names)


def dropped(old: Snapshot, keep: NDArray[np.bool_], lock: "object", fetch: Fetch,
            persist: Persist) -> Snapshot:
    """``old`` with only the rows where ``keep``; a compact index hides the others and is
    rebuilt once too many are hidden."""
    index = old.index
    if index is not None:
        with lock:  # type: ignore[attr-defined]
            index.remove(old.ids[~keep])
        if index.stale:  # many removed codes are still scanned: start afresh
            index = CompactIndex.build(fetch(old.ids[keep]), old.ids[keep])
            persist(index, old.ids[keep])
    return Snapshot(None if old.vectors is None else old.vectors[keep], old.ids[keep],
                    tuple(n for n, k in zip(old.names, keep) if k), index)


def renamed(old: Snapshot, ids: NDArray[np.int64], names: Sequence[str]) -> Snapshot:
    """``old`` with the faceprints ``ids`` (those present) now of ``names``."""
    listed = list(old.names)
    rows = np.searchsorted(old.ids, ids)
    for row, fid, name in zip(rows, ids, names):
        if row < old.ids.size and old.ids[row] == fid:
            listed[row] = name
    return Snapshot(old.vectors, old.ids, tuple(listed), old.index)


def search(snap: Snapshot, queries: NDArray[np.float32], k: int, exact: bool, lock: "object",
           fetch: Fetch, where: str) -> SearchResult:
    """The k most similar faceprints of each query row: exactly over the rows in memory,
    or over the compact index's candidates re-ranked exactly (``exact``: every vector,
    read from the store in chunks)."""
    m, n = queries.shape[0], snap.ids.shape[0]
    scores, ids, _ = empty_result(m, k)
    if n and m:
        if snap.vectors is not None:  # exact mode: the rows are in memory
            top_scores, top_ids = top_k(queries @ snap.vectors.T, snap.ids, k)
        elif snap.index is None:
            raise GalleryError(f"{where}: search state has neither rows nor an index")
        elif exact:
            top_scores, top_ids = _exact_scan(queries, snap.ids, k, fetch)
        else:  # compact: approximate candidates, then exact scores from the store
            with lock:  # type: ignore[attr-defined]
                _, candidates = snap.index.search(queries, max(CANDIDATES, 4 * k))
            unique = np.unique(candidates[candidates >= 0])
            fetched = (fetch(unique) if unique.size
                       else np.zeros((1, queries.shape[1]), np.float32))
            position = np.minimum(np.searchsorted(unique, np.maximum(candidates, 0)),
                                  fetched.shape[0] - 1)
            # Each query against its own candidates only, with einsum rather than a BLAS
            # product of all queries with all candidates: 64 queries at 1M went from about
            # 80 to 50 ms on 2 cores (the BLAS call slowed the faiss search that followed).
            exact_sims = np.einsum("mcd,md->mc", fetched[position], queries)
            sims = np.where(candidates >= 0, exact_sims, -np.inf)
            top_scores, top_ids = top_k(sims, candidates, k)
        take = top_scores.shape[1]
        scores[:, :take], ids[:, :take] = top_scores, top_ids
        ids[~np.isfinite(scores)] = -1
    rows = np.searchsorted(snap.ids, np.maximum(ids, 0))
    names = [[snap.names[r] if i >= 0 else "" for r, i in zip(row_r, row_i)]
             for row_r, row_i in zip(rows, ids)]
    return scores, ids, names


def _exact_scan(queries: NDArray[np.float32], ids: NDArray[np.int64], k: int, fetch: Fetch
                ) -> Tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact top k of a compact gallery, reading its vectors in chunks."""
    best_scores = np.full((queries.shape[0], 0), -np.inf, np.float32)
    best_ids = np.zeros((queries.shape[0], 0), np.int64)
    for start in range(0, ids.size, EXACT_CHUNK):
        chunk = ids[start:start + EXACT_CHUNK]
        sims = queries @ fetch(chunk).T
        pool = np.broadcast_to(chunk, sims.shape)
        best_scores, best_ids = top_k(np.hstack([best_scores, sims]),
                                      np.hstack([best_ids, pool]), k)
    return best_scores, best_ids


def top_k(sims: NDArray, pool: NDArray[np.int64], k: int
          ) -> Tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Best ``min(k, columns)`` scores of each row, best first, and their ids. ``pool`` is
    the id of each column, (n,) for all rows or (M, n) per row."""
    take = min(k, sims.shape[1])
    top = np.argmax(sims, axis=1)[:, None] if take == 1 else \
        np.argpartition(-sims, take - 1, axis=1)[:, :take]
    top_ids = pool[top] if pool.ndim == 1 else np.take_along_axis(pool, top, axis=1)
    top_scores = np.take_along_axis(sims, top, axis=1).astype(np.float32)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return (np.take_along_axis(top_scores, order, axis=1),
            np.take_along_axis(top_ids, order, axis=1))
