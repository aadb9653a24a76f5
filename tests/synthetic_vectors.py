"""Random unit vectors for the gallery tests (the benchmark's kind of data, smaller)."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 128) float32 random unit vectors."""
    rows = rng.standard_normal((n, 128)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def planted(n: int, queries: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` gallery vectors and ``queries`` near-duplicates of some of them (noise 0.05
    per dimension, renormalised)."""
    rng = np.random.default_rng(seed)
    vectors = unit_rows(rng, n)
    targets = rng.choice(n, queries, replace=False)
    noisy = vectors[targets] + 0.05 * rng.standard_normal((queries, 128)).astype(np.float32)
    return vectors, noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
