"""Compact approximate search for large galleries: faiss IVF with 4-bit product quantisation
scanned by SIMD ("fast scan", IVF-PQ32x4fs).

16 bytes per vector instead of 512, and each query scans only ``nprobe`` of ``nlist``
clusters. The approximate scores are coarse; candidates are re-ranked exactly by the
caller (see ``gallery_sqlite``), so the index only has to put the true best match among its
candidates. faiss-cpu is the field's
standard library for this; it is an optional extra (``pip install face_trigger[faiss]``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .errors import GalleryError


#: Product quantiser: 32 sub-vectors of 4 dimensions, 4 bits each (16 bytes a vector).
PQ_SUBVECTORS = 32


def _faiss():
    try:
        import faiss  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise GalleryError("large galleries need faiss: pip install 'face_trigger[faiss]'") \
            from exc
    return faiss


def faiss_available() -> bool:
    """Whether the optional faiss-cpu package can be imported."""
    try:
        _faiss()
    except GalleryError:
        return False
    return True


class IVFIndex:
    """Inner-product IVF-PQ fast-scan index of unit vectors with int64 ids.

    Parameters
    ----------
    index : faiss index
        Built by :meth:`build` or read by :meth:`load`. ``nlist`` = 2 sqrt(n) clusters.
    nprobe : int
        Clusters scanned per query. Raising it raises recall and cost linearly. The
        default, nlist / 4 but at least 128 clusters, is set for random unit vectors (no
        cluster structure: the worst case) and was chosen at 1M by a probe on the data of
        ``benchmarks/bench_gallery.py`` (1,000 near-duplicate queries; is the exact best
        match among the 64 candidates? ratio: index scan time per query in batches of 64
        against numpy's float32 product): this index, 2,000 lists, scanning 1/8 and 1/4:
        1,000 of 1,000 found at 0.11x and 0.16x. 8-bit scalar quantisation (the index
        used before, 128 bytes a vector) among 16 candidates: 4,000 lists scanning 1/16,
        1/12: 998 and 999 found at 0.43x and 0.46x; 8,000 lists, 1/16: 1,000 at 0.49x.
        At 20,000 vectors 128 of 282 lists keep recall@1 >= 0.999 (tests/test_gallery.py).
    """

    def __init__(self, index, nprobe: Optional[int] = None) -> None:
        self.index = index
        self.index.nprobe = int(nprobe or max(index.nlist // 4, min(index.nlist, 128)))

    @classmethod
    def build(cls, vectors: NDArray[np.float32], ids: NDArray[np.int64],
              nlist: Optional[int] = None, nprobe: Optional[int] = None,
              seed: int = 0) -> "IVFIndex":
        """Train on a sample of ``vectors`` (n, 128) and add them with ``ids`` (n,)."""
        faiss = _faiss()
        n, dim = vectors.shape
        nlist = int(nlist or min(8192, max(16, int(2 * np.sqrt(n)))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, PQ_SUBVECTORS, 4,
                                         faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()
        sample = vectors
        if n > 60 * nlist:
            sample = vectors[np.random.default_rng(seed).choice(n, 60 * nlist, replace=False)]
        index.train(np.ascontiguousarray(sample, np.float32))
        built = cls(index, nprobe)
        built.add(vectors, ids)
        return built

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: NDArray[np.float32], ids: NDArray[np.int64]) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32),
                                np.ascontiguousarray(ids, np.int64))

    def remove(self, ids: NDArray[np.int64]) -> int:
        faiss = _faiss()
        return int(self.index.remove_ids(faiss.IDSelectorBatch(
            np.ascontiguousarray(ids, np.int64))))

    def search(self, queries: NDArray[np.float32], k: int
               ) -> Tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Approximate scores and ids (M, k); id -1 where fewer than k were found."""
        return self.index.search(np.ascontiguousarray(queries, np.float32), int(k))

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the index atomically (temp file in the same folder, then rename)."""
        faiss = _faiss()
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: Union[str, os.PathLike], nprobe: Optional[int] = None) -> "IVFIndex":
        return cls(_faiss().read_index(str(path)), nprobe)
