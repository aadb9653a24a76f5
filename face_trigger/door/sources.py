"""Frame sources: a video file, a camera index or a stream URL, through cv2.VideoCapture.

A file ends cleanly at its end. A live source (camera, URL) that stops delivering is
released and reopened with exponential backoff. Frames that fail to decode are
skipped and counted.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import cv2
import numpy as np

from .._validate import check_range

logger = logging.getLogger(__name__)

SourceArg = Union[str, int, "os.PathLike[str]"]


@dataclass
class SourceStats:
    """Counters of a FrameSource."""

    frames: int = 0
    skipped: int = 0
    reopens: int = 0
    healthy: bool = True
    #: True when the source was given up (``max_reopen_s`` passed without a frame)
    gave_up: bool = False


@dataclass(frozen=True)
class Frame:
    """One frame: ``index`` counts delivered frames from 0; ``time`` is seconds since
    the source started (from the video's timestamps for a file, the clock when live)."""

    index: int
    time: float
    image: np.ndarray


#: How long opening a stream URL, or waiting for its next frame, may block (FFmpeg's own
#: default is 30 s: that long before a reopen, or before SIGTERM is seen).
STREAM_TIMEOUT_MS = 3000


class FrameSource:
    """Iterate over frames of a file, camera or URL.

    Parameters
    ----------
    source : path, int or URL
        A video file, a camera index (``0``, or ``"0"``), or an RTSP/HTTP URL.
    live : bool, optional
        Reopen when frames stop; default: True for cameras and URLs, False for files.
    max_backoff_s : float
        Longest wait between reopen attempts (doubling from 0.1 s).
    max_reopen_s : float or None
        Give up after trying to reopen this long (None: forever).
    stop : callable, optional
        Polled between frames and during backoff; True ends the iteration.
    """

    def __init__(self, source: SourceArg, live: Optional[bool] = None,
                 max_backoff_s: float = 5.0, max_reopen_s: Optional[float] = None,
                 stop: Optional[Callable[[], bool]] = None) -> None:
        if isinstance(source, str) and source.isdigit():
            source = int(source)
        self.source = source
        is_file = not isinstance(source, int) and "://" not in str(source)
        self.live = (not is_file) if live is None else live
        self.max_backoff_s = check_range(max_backoff_s, "max_backoff_s", 0.0, 3600.0,
                                         low_open=True)
        self.max_reopen_s = None if max_reopen_s is None else check_range(
            max_reopen_s, "max_reopen_s", 0.0, 1e9)
        self.stop = stop or (lambda: False)
        self.stats = SourceStats()
        #: frames per second the source declares (0 until opened, or when it does not say)
        self.fps = 0.0
        if is_file and not self.live and not Path(str(source)).is_file():
            raise FileNotFoundError(f"video file not found: {source}")

    def _open(self) -> Optional[cv2.VideoCapture]:
        target = self.source if isinstance(self.source, int) else str(self.source)
        if isinstance(target, str) and "://" in target:
            # a stream that accepts and never answers held FFmpeg (and SIGTERM) for 30 s
            capture = cv2.VideoCapture(target, cv2.CAP_ANY, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS])
        else:
            capture = cv2.VideoCapture(target)
        if capture.isOpened():
            self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            return capture
        capture.release()
        return None

    def _reopen(self) -> Optional[cv2.VideoCapture]:
        self.stats.healthy = False
        delay, started = 0.1, time.monotonic()
        while not self.stop():
            capture = self._open()
            if capture is not None:
                self.stats.reopens += 1
                self.stats.healthy = True
                logger.info("source %s reopened", self.source)
                return capture
            if self.max_reopen_s is not None and time.monotonic() - started > self.max_reopen_s:
                logger.error("source %s did not come back within %.0f s", self.source,
                             self.max_reopen_s)
                self.stats.gave_up = True
                return None
            logger.warning("source %s unavailable; retrying in %.1f s", self.source, delay)
            end = time.monotonic() + delay
            while time.monotonic() < end and not self.stop():
                time.sleep(min(0.05, delay))
            delay = min(delay * 2, self.max_backoff_s)
        return None

    def __iter__(self) -> Iterator[Frame]:
        capture = self._open()
        if capture is None:
            if not self.live:
                raise OSError(f"cannot open video source {self.source}")
            capture = self._reopen()
        start = time.monotonic()
        failures = 0
        try:
            while capture is not None and not self.stop():
                ok, image = capture.read()
                if ok and image is not None and image.size:
                    failures = 0
                    if self.live:
                        stamp = time.monotonic() - start
                    else:
                        stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    yield Frame(self.stats.frames, stamp, image)
                    self.stats.frames += 1
                    continue
                if not self.live:
                    # A file: a frame that fails to decode is skipped; several in a row
                    # (or the end) end the video.
                    failures += 1
                    if failures > 5 or capture.get(cv2.CAP_PROP_POS_FRAMES) >= \
                            capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
                        break
                    self.stats.skipped += 1
                    continue
                self.stats.skipped += 1
                capture.release()
                capture = self._reopen()
        finally:
            if capture is not None:
                capture.release()
