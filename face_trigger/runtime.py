"""Process-wide OpenCV settings. Nothing here runs at import: applications (the
CLI, benchmarks) call :func:`configure_opencv` once, explicitly."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Optional

import cv2

from .errors import InvalidParameterError


def configure_opencv(threads: Optional[int] = None, quiet: Optional[bool] = None) -> None:
    """Set OpenCV's process-wide thread count and/or log verbosity.

    Parameters
    ----------
    threads : int, optional
        Threads OpenCV may use per call (``cv2.setNumThreads``); 0 disables
        threading. OpenVINO nets built afterwards use as many (at least one), so
        N worker processes with ``threads=1`` do not oversubscribe the cores.
        ``None`` leaves the setting alone.
    quiet : bool, optional
        True shows only OpenCV errors (hides e.g. the OpenCV 5 warning
        "Targets are not supported by the new graph engine" that the YuNet
        detector prints once when created); False restores warnings.
    """
    if threads is not None:
        if threads < 0:
            raise InvalidParameterError(f"threads must be >= 0, got {threads}")
        cv2.setNumThreads(int(threads))
    if quiet is not None:
        log = getattr(getattr(cv2, "utils", None), "logging", None)
        if log is not None:
            log.setLogLevel(log.LOG_LEVEL_ERROR if quiet else log.LOG_LEVEL_WARNING)


_LOG_LOCK = threading.Lock()


@contextmanager
def opencv_warnings_hidden() -> Iterator[None]:
    """Show only OpenCV errors while a net is built: OpenCV 5 prints "Targets are not
    supported by the new graph engine" for every YuNet it creates, which says nothing to
    the user. The previous log level is restored after."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    with _LOG_LOCK:
        previous = log.getLogLevel()
        log.setLogLevel(min(previous, log.LOG_LEVEL_ERROR))
        try:
            yield
        finally:
            log.setLogLevel(previous)


def opencv_version() -> str:
    """The OpenCV version string, e.g. ``"5.0.0"``."""
    return cv2.__version__
