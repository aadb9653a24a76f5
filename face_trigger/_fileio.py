"""Atomic file writes (a reader or a crash never sees a half-written file) and bounded reads
(a FIFO, a device or a huge file never blocks or exhausts a reader)."""
from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Type, Union

PathLike = Union[str, "os.PathLike[str]"]

#: Largest model or saved-recognizer file read (bytes).
MAX_MODEL_FILE_BYTES = 2 * 1024 ** 3


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    The bytes go to a temporary file in the same directory, are flushed and
    fsynced, then renamed over ``path`` with :func:`os.replace`. If anything
    fails, the previous file (if any) is untouched and the temporary file is
    removed. A replaced file keeps its permission bits; a new one gets the
    usual ``0o666 & ~umask``.
    """
    return atomic_write_with(path, lambda name: Path(name).write_bytes(data))


def atomic_write_with(path: PathLike, write: Callable[[str], object],
                      suffix: str = ".tmp") -> Path:
    """Let ``write(name)`` write a temporary file beside ``path``, then fsync it and rename
    it over ``path`` (for writers that want a file name, e.g. faiss or numpy). If anything
    fails the previous file is untouched and the temporary file removed; ``suffix`` is the
    temporary name's ending (``.npy`` keeps ``numpy.save`` from adding one)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():  # say so, rather than name the temporary file
        raise FileNotFoundError(f"cannot write {target}: folder {directory} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        os.chmod(tmp_name, _mode_for(target))
        write(tmp_name)
        fd = os.open(tmp_name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)
    return target


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def _current_umask() -> int:
    # Reading the umask through os.umask() briefly changes it for every thread;
    # Linux exposes it read-only in /proc instead.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def read_regular_file(path: PathLike, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``.

    Opened without blocking and checked with ``fstat`` before reading: a FIFO named
    ``photo.jpg`` or ``door.pkl`` would otherwise block forever, ``/dev/zero`` would be read
    until memory runs out.

    Raises
    ------
    OSError
        The file cannot be opened or read, is not a regular file (``errno`` EINVAL), or is
        larger than ``max_bytes`` (EFBIG); the message says which.
    """
    import errno  # noqa: PLC0415

    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or socket is "
                          "refused)", os.fspath(path))
        if info.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"file of {info.st_size} bytes is larger than the "
                          f"limit of {max_bytes}", os.fspath(path))
        # one read of the whole file: a 37 MB model is then one allocation, not chunks and
        # their joined copy (twice its size at the peak)
        first = os.read(fd, min(info.st_size, max_bytes) + 1)
        if len(first) > max_bytes:
            raise OSError(errno.EFBIG, f"file grew past the limit of {max_bytes} bytes",
                          os.fspath(path))
        if len(first) == info.st_size:  # asked for one byte more: this is the end
            return first
        chunks, total = [first], len(first)  # a short read, or the file grew: read on
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise OSError(errno.EFBIG, f"file grew past the limit of {max_bytes} bytes",
                              os.fspath(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


#: Size caps of the small files the package reads besides models and images.
MAX_CONFIG_BYTES = 1 << 20
MAX_JSON_BYTES = 64 << 20
#: A gallery export of a million 128-d faceprints is about 1.5 GB of JSON.
MAX_EXPORT_BYTES = 4 << 30


def parse_json(data: Union[bytes, str], what: str, error: Type[Exception]) -> Any:
    """JSON text parsed, or ``error`` naming ``what`` and the problem: not UTF-8, not JSON,
    or nested too deeply (Python's parser recurses; a file of 100,000 '[' must not escape
    as a bare RecursionError)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise error(f"{what}: not valid JSON ({exc})") from None
    except RecursionError:
        raise error(f"{what}: nested too deeply to be read") from None


def read_json(path: PathLike, what: str, error: Type[Exception],
              max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON of a regular file of at most ``max_bytes`` (:func:`read_regular_file`: a
    FIFO, a device or a huge file is refused at once), or ``error``."""
    try:
        data = read_regular_file(path, max_bytes)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    return parse_json(data, f"cannot read {what} {path}", error)
