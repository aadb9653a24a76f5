"""Faces of many image files, in this process or in worker processes (``--cpus``): what
``detect`` and ``identify`` share."""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import face_trigger as ft
from face_trigger import FacePipeline, FaceTriggerError, read_image
from face_trigger.runtime import configure_opencv

from .common import UsageError

#: One analysed file: (path, [(box, embedding, score, landmarks)...] or None, error or None).
Analysed = Tuple[str, Optional[List[Tuple[List[float], Any, float, List[List[float]]]]],
                 Optional[str]]

#: Sides of the re-detection crops of ``FacePipeline.analyze(scales=)``, or None.
Scales = Optional[Sequence[Optional[int]]]

# Worker processes of --cpus: each builds its own pipeline once (OpenCV nets cannot be shared).
_WORKER: Dict[str, Any] = {}


def _init_worker(max_side: Optional[int], scales: Scales) -> None:
    configure_opencv(threads=1, quiet=True)  # N processes x 1 thread, not N x 2
    _WORKER["pipeline"] = FacePipeline(ft.detector.YuNetDetector(max_side=max_side))
    _WORKER["scales"] = scales


def _analyze_with(pipeline: Any, path: str, scales: Scales = None) -> Analysed:
    try:
        faces = pipeline.analyze(read_image(path), scales=scales)
    except FaceTriggerError as exc:
        return path, None, str(exc)
    return path, [(f.box.tolist(), f.vector, f.score, f.landmarks.tolist()) for f in faces], None


def _analyze_in_worker(path: str) -> Analysed:
    return _analyze_with(_WORKER["pipeline"], path, _WORKER["scales"])


def progress(items: Iterable[Any], what: str, total: int) -> Iterable[Any]:
    """``items`` with a progress bar on a terminal (never when piped, nor for one item)."""
    from tqdm.auto import tqdm  # noqa: PLC0415 - only commands that show one
    return tqdm(items, desc=what, unit="image", total=total,
                disable=None if total > 1 else True, file=sys.stderr, leave=False)


def analyze_files(paths: Sequence[str], max_side: Optional[int], cpus: int,
                  what: str, scales: Scales = None) -> Iterable[Analysed]:
    """One :data:`Analysed` per path, in input order; ``scales`` as in
    ``FacePipeline.analyze`` (None: one pass)."""
    if max_side is not None and max_side < 32:
        raise UsageError(f"--max-side must be at least 32, got {max_side}")
    if cpus < 0:
        cpus = os.cpu_count() or 1  # -1: every core, like face_recognition's --cpus -1
    if cpus <= 1 or len(paths) < 2:
        pipeline = FacePipeline(ft.detector.YuNetDetector(max_side=max_side))
        for path in progress(paths, what, len(paths)):
            yield _analyze_with(pipeline, path, scales)
        return
    # Workers are spawned, not forked: a fork after OpenCV's (or OpenVINO's) threads have
    # started in this process (building KNOWN's recognizer does) can leave a child waiting
    # on a lock no thread will release. Results stream in input order as they come.
    with ProcessPoolExecutor(max_workers=cpus, initializer=_init_worker,
                             initargs=(max_side, scales),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(_analyze_in_worker, paths, chunksize=4)
        yield from progress(results, what, len(paths))
