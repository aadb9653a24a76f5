"""A third gallery store, written outside the package: plain Python lists in this process.

It exists to show (and test) that a new store is one module, one ``register_backend`` line
and one fixture parameter: conftest.py registers it as ``memory://<name>`` and the shared
gallery tests run on it as they run on SQLite and PostgreSQL.
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from face_trigger.errors import (GalleryError, GalleryNotFoundError, PersonExistsError,
                                 PersonNotFoundError)
from face_trigger.gallery.backend import (IDENTIFY_POOL, check_model, empty_result,
                                          store_dim)

#: name -> store; a store is a dict with model, dim, people and faceprints.
_STORES: Dict[str, Dict[str, Any]] = {}


class MemoryBackend:
    """Gallery storage in this process's memory (``memory://<name>``); exact search."""

    kind = "memory"

    def __init__(self, location: str, model: str, *, dim: Optional[int] = None,
                 create: bool = True) -> None:
        self.location = location
        self.model = model
        self._lock = threading.Lock()
        store = _STORES.get(location)
        if store is None:
            if not create:
                raise GalleryNotFoundError(f"no gallery at {location}")
            store = _STORES[location] = {"model": model, "dim": store_dim(location, model, None,
                                                                          dim),
                                         "people": {}, "faceprints": {}}
        check_model(location, store["model"], model)
        self.dim = store_dim(location, model, store["dim"], dim)
        self._store = store
        self._ids = itertools.count(1 + max(store["faceprints"], default=0))

    @classmethod
    def exists(cls, location: str) -> bool:
        return location in _STORES

    @classmethod
    def upgrade(cls, location: str, model: Optional[str]) -> Tuple[int, int]:
        if location not in _STORES:
            raise GalleryNotFoundError(f"no gallery at {location}")
        return 1, 1

    @property
    def compact(self) -> bool:
        return False

    def _people(self) -> Dict[str, Dict[str, Any]]:
        return self._store["people"]

    def _prints(self) -> Dict[int, Dict[str, Any]]:
        return self._store["faceprints"]

    def count(self) -> int:
        return len(self._prints())

    def identify_pool(self) -> int:
        return min(self.count(), IDENTIFY_POOL)

    def add_person(self, name: str, metadata: Dict[str, Any]) -> int:
        with self._lock:
            if name in self._people():
                raise PersonExistsError(f"{name!r} is already enrolled in {self.location}")
            self._people()[name] = {"metadata": metadata, "created": time.time()}
            return len(self._people())

    def people(self) -> List[Dict[str, Any]]:
        counts: Dict[str, int] = {}
        for row in self._prints().values():
            counts[row["name"]] = counts.get(row["name"], 0) + 1
        return [{"name": n, "metadata": p["metadata"], "faceprints": counts.get(n, 0)}
                for n, p in sorted(self._people().items())]

    def rename_person(self, old: str, new: str) -> None:
        with self._lock:
            if old not in self._people():
                raise PersonNotFoundError(f"{old!r} is not enrolled in {self.location}")
            if new in self._people() and new != old:
                raise PersonExistsError(f"cannot rename to {new!r}: already enrolled in "
                                        f"{self.location}")
            self._people()[new] = self._people().pop(old)
            for row in self._prints().values():
                if row["name"] == old:
                    row["name"] = new

    def remove_person(self, name: str) -> int:
        with self._lock:
            if self._people().pop(name, None) is None:
                raise PersonNotFoundError(f"{name!r} is not enrolled in {self.location}")
            gone = [i for i, row in self._prints().items() if row["name"] == name]
            for i in gone:
                del self._prints()[i]
            return len(gone)

    def add_faceprints(self, name: str, rows: np.ndarray, sources: Sequence[Optional[str]],
                       qualities: Sequence[Dict[str, Any]],
                       thumbnails: Sequence[Optional[bytes]], create: bool) -> List[int]:
        with self._lock:
            if name not in self._people():
                if not create:
                    raise PersonNotFoundError(f"{name!r} is not enrolled in {self.location}")
                self._people()[name] = {"metadata": {}, "created": time.time()}
            ids = []
            for row, source, quality in zip(rows, sources, qualities):
                fid = next(self._ids)
                self._prints()[fid] = {"name": name, "vector": np.array(row, np.float32),
                                       "source": source, "quality": quality,
                                       "created": time.time()}
                ids.append(fid)
            return ids

    def bulk_add(self, names: Sequence[str], rows: np.ndarray) -> np.ndarray:
        return np.array([self.add_faceprints(n, r[None], [None], [{}], [None], True)[0]
                         for n, r in zip(names, rows)], np.int64)

    def remove_faceprint(self, faceprint_id: int) -> None:
        with self._lock:
            if self._prints().pop(faceprint_id, None) is None:
                raise GalleryError(f"no faceprint with id {faceprint_id}")

    def faceprints(self, name: str) -> List[Dict[str, Any]]:
        return [{"id": i, "source_sha256": r["source"], "quality": r["quality"],
                 "created": r["created"]}
                for i, r in sorted(self._prints().items()) if r["name"] == name]

    def vectors_of(self, name: str) -> np.ndarray:
        rows = [r["vector"] for _, r in sorted(self._prints().items()) if r["name"] == name]
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def search(self, queries: np.ndarray, k: int, exact: bool = False):
        with self._lock:
            items = sorted(self._prints().items())
        scores, ids, names = empty_result(queries.shape[0], k)
        if not items:
            return scores, ids, names
        matrix = np.stack([r["vector"] for _, r in items])
        sims = queries @ matrix.T
        for q, row in enumerate(sims):
            order = np.argsort(-row, kind="stable")[:k]
            scores[q, :len(order)] = row[order]
            ids[q, :len(order)] = [items[j][0] for j in order]
            names[q][:len(order)] = [items[j][1]["name"] for j in order]
        return scores, ids, names

    def export_people(self) -> Iterator[Tuple[str, Dict[str, Any], list]]:
        for person in self.people():
            prints = [(r["vector"], r["source"], r["quality"])
                      for _, r in sorted(self._prints().items()) if r["name"] == person["name"]]
            yield person["name"], person["metadata"], prints

    def schema_version(self) -> int:
        return 1

    def close(self) -> None:
        pass
