"""Compact approximate search for large galleries: faiss product-quantised codes scanned
by SIMD over every vector ("fast scan", PQ64x4fs), the best candidates re-scored with 6-bit
scalar-quantised codes (SQ6).

128 bytes per vector instead of 512 (32 of 4-bit PQ codes, 96 of SQ6 codes); no clusters,
so no part of the gallery is skipped. The caller re-ranks the returned candidates exactly
(see ``gallery.sqlite``), so the index only has to put the true best match among them.
faiss-cpu is the field's standard library for this; it is an optional extra
(``pip install faiss-cpu (the [faiss] extra)``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .._fileio import atomic_write_with
from ..errors import GalleryError


#: Product quantiser of the first stage: 64 sub-vectors of 2 dimensions, 4 bits each.
PQ_SUBVECTORS = 64
#: The first stage passes this many times the requested candidates to the SQ6 re-scoring,
#: and at least FIRST_STAGE (PQ64x4 alone found the exact best among its top 1,024 for
#: 0.9997 of the 1M benchmark's queries, among its top 256 for 0.9969).
K_FACTOR = 16
FIRST_STAGE = 1024
#: Removed vectors stay in the codes, hidden, until this many (or 1 % of the index) have
#: accumulated; then the gallery rebuilds the index.
MAX_HIDDEN = 1024


def _faiss():
    try:
        import faiss  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise GalleryError("large galleries need faiss-cpu (the [faiss] extra)") \
            from exc
    return faiss


def faiss_available() -> bool:
    """Whether the optional faiss-cpu package can be imported."""
    try:
        _faiss()
    except GalleryError:
        return False
    return True


class CompactIndex:
    """Inner-product index of unit vectors with int64 ids: PQ64x4 fast scan over every
    vector, then SQ6 re-scoring of its best ``max(K_FACTOR * k, FIRST_STAGE)``.

    Why this design and not IVF, HNSW or other code sizes: docs/gallery.md, "How the compact
    index was chosen".

    Parameters
    ----------
    index : faiss.IndexRefine
        PQ fast-scan base, SQ6 refinement; faiss numbers its vectors 0..n-1 in order.
    ids : ndarray int64 (n,)
        Our id of each of those positions; -1 for a removed vector.
    """

    def __init__(self, index, ids: NDArray[np.int64]) -> None:
        if index.ntotal != ids.shape[0]:
            raise GalleryError(f"compact index holds {index.ntotal} vectors but "
                               f"{ids.shape[0]} ids")
        self.index = index
        self.ids = np.ascontiguousarray(ids, np.int64)
        self._hidden = int(np.count_nonzero(self.ids < 0))

    @classmethod
    def build(cls, vectors: NDArray[np.float32], ids: NDArray[np.int64],
              seed: int = 0) -> "CompactIndex":
        """Train on a sample of ``vectors`` (n, 128) and add them with ``ids`` (n,)."""
        faiss = _faiss()
        n, dim = vectors.shape
        base = faiss.IndexPQFastScan(dim, PQ_SUBVECTORS, 4, faiss.METRIC_INNER_PRODUCT)
        refine = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_6bit,
                                            faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexRefine(base, refine)
        index.own_fields = True
        base.this.disown()
        refine.this.disown()
        sample = vectors
        if n > 100_000:
            sample = vectors[np.random.default_rng(seed).choice(n, 100_000, replace=False)]
        index.train(np.ascontiguousarray(sample, np.float32))
        built = cls(index, np.zeros(0, np.int64))
        built.add(vectors, ids)
        return built

    def __len__(self) -> int:
        """Vectors searched (removed ones excluded)."""
        return int(self.ids.shape[0] - self.hidden)

    @property
    def hidden(self) -> int:
        """Removed vectors whose codes are still in the index."""
        return self._hidden

    @property
    def stale(self) -> bool:
        """Whether enough vectors were removed that the index should be rebuilt."""
        return self.hidden > max(MAX_HIDDEN, self.ids.shape[0] // 100)

    def add(self, vectors: NDArray[np.float32], ids: NDArray[np.int64]) -> None:
        self.index.add(np.ascontiguousarray(vectors, np.float32))
        self.ids = np.concatenate([self.ids, np.asarray(ids, np.int64)])

    def remove(self, ids: NDArray[np.int64]) -> int:
        """Hide ``ids``; returns how many were found."""
        gone = np.isin(self.ids, np.asarray(ids, np.int64)) & (self.ids >= 0)
        self.ids[gone] = -1
        self._hidden += int(gone.sum())
        return int(gone.sum())

    def search(self, queries: NDArray[np.float32], k: int
               ) -> Tuple[NDArray[np.float32], NDArray[np.int64]]:
        """SQ6 scores and ids (M, k) of the best candidates; id -1 where fewer than k."""
        faiss = _faiss()
        hidden = self.hidden
        fetch = min(int(k) + hidden, max(self.ids.shape[0], 1))
        # The first stage always passes at least FIRST_STAGE candidates on.
        k_factor = max(K_FACTOR, -(-FIRST_STAGE // fetch))
        params = faiss.IndexRefineSearchParameters(k_factor=float(k_factor))
        scores, positions = self.index.search(np.ascontiguousarray(queries, np.float32), fetch,
                                              params=params)
        ids = np.where(positions >= 0, self.ids[np.maximum(positions, 0)], -1)
        if hidden:  # drop the hidden ones, keep the order
            order = np.argsort(ids < 0, axis=1, kind="stable")
            ids = np.take_along_axis(ids, order, axis=1)
            scores = np.take_along_axis(scores, order, axis=1)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        return scores[:, :k], ids[:, :k]

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the index and its ids to ``path`` and ``path.ids.npy``, each atomically
        (temp file in the same folder, fsync, then rename). The caller records which state was
        saved, so that a pair of files from two different states is never used."""
        faiss = _faiss()
        target = Path(path)
        atomic_write_with(target, lambda tmp: faiss.write_index(self.index, tmp))
        atomic_write_with(Path(str(target) + ".ids.npy"), lambda tmp: np.save(tmp, self.ids),
                          suffix=".npy")

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "CompactIndex":
        """Read what :meth:`save` wrote; GalleryError when the two files disagree."""
        faiss = _faiss()
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexRefine):
            raise GalleryError(f"{path} is not a compact index of this version")
        return cls(index, np.load(str(path) + ".ids.npy"))
