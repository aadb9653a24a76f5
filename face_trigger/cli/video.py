"""Video files given to the per-image commands (``detect``, ``annotate``): recognised by
their suffix and read frame by frame."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

from face_trigger.door.sources import Frame, FrameSource
from face_trigger.errors import ImageReadError

#: Suffixes taken for video files (anything else is read as an image).
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"})


def is_video(path: str) -> bool:
    """Whether ``path`` names a video file (by its suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def open_video(path: str) -> FrameSource:
    """The frame source of a video file; ImageReadError when there is no such file."""
    try:
        return FrameSource(path, live=False)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{path}: cannot be read as a video ({exc})") from exc


def video_frames(path: str, source: Optional[FrameSource] = None) -> Iterator[Frame]:
    """The frames of a video file (``Frame``: index, time in s from the file's timestamps,
    BGR uint8 image), read by ``source`` (:func:`open_video`) when given: its ``fps`` is
    known once the first frame came. ImageReadError when it cannot be opened or holds no
    frame."""
    source = source if source is not None else open_video(path)
    count = 0
    try:
        for frame in source:
            count += 1
            yield frame
    except OSError as exc:  # not found, or not a video OpenCV can open
        raise ImageReadError(f"{path}: cannot be read as a video ({exc})") from exc
    if not count:
        raise ImageReadError(f"{path}: no frame could be decoded from this video")
