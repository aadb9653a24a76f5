"""Timing helpers shared by the benchmarks: interleaved repeats, medians, machine line."""
from __future__ import annotations

import os
import platform
import time
from typing import Callable, Dict, List

import numpy as np


def machine_line() -> str:
    import cv2
    return (f"python {platform.python_version()}, OpenCV {cv2.__version__}, "
            f"numpy {np.__version__}, "
            f"{os.cpu_count()} CPUs, cv2 threads {cv2.getNumThreads()}, {platform.machine()}")


def measure(cases: Dict[str, Callable[[], object]], repeats: int = 50,
            warmup: int = 5, settle_s: float = 0.0) -> Dict[str, List[float]]:
    """Run every case ``warmup`` times, then ``repeats`` rounds in which each case runs once.

    Interleaving the cases round by round spreads the machine's noise over all of
    them, so ratios between cases measured in one call are fair. ``settle_s`` of idle
    before every timed call keeps one case's aftermath off the next (a numpy product of
    64 queries with a million faceprints allocates a 256 MB result; whatever ran in the
    next 0.1 s ran up to 1.8x slower on this machine). Returns seconds.
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            if settle_s:
                time.sleep(settle_s)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def report(times: Dict[str, List[float]], baseline: str | None = None,
           title: str = "") -> Dict[str, float]:
    """Print median / p90 in ms and the ratio of medians to ``baseline``; return medians."""
    medians = {name: float(np.median(v)) for name, v in times.items()}
    if title:
        print(f"\n{title}")
    print(f"  {'case':44s} {'median ms':>10s} {'p90 ms':>8s} {'runs':>5s}"
          + (f" {'vs ' + baseline:>16s}" if baseline else ""))
    for name, values in times.items():
        digits = 2 if medians[name] >= 1e-3 else 4  # sub-millisecond cases: 0.1 us steps
        line = (f"  {name:44s} {medians[name] * 1e3:10.{digits}f} "
                f"{np.percentile(values, 90) * 1e3:8.{digits}f} {len(values):5d}")
        if baseline:
            line += f" {medians[name] / medians[baseline]:15.2f}x"
        print(line)
    return medians
