"""Append-only audit log: JSON lines chained by SHA-256, size-capped with rotation.

Each line is a JSON object with ``seq`` (1, 2, ...) and ``prev``, the SHA-256 of the
previous line's bytes (64 zeros for the very first). Editing, deleting or reordering a
line breaks the chain, which :func:`verify_chain` reports. When the file would exceed
``max_bytes`` it is renamed to ``<name>.1`` (older ones shift to ``.2`` ...) and the
chain continues in the new file.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ._validate import check_range
from .errors import AuditError

GENESIS = "0" * 64


class AuditLog:
    """Thread-safe appender of chained JSON lines.

    Parameters
    ----------
    path : path
        The current log file; created with its folder if missing.
    max_bytes : int
        Rotate before a line would push the file past this size.
    backups : int
        Rotated files kept (``.1`` newest ... ``.backups`` oldest); older are deleted.
    fsync : bool
        fsync after every line (durable across power loss; slower).
    """

    def __init__(self, path: Union[str, os.PathLike], max_bytes: int = 10_000_000,
                 backups: int = 5, fsync: bool = True) -> None:
        check_range(max_bytes, "max_bytes", 1024, 1 << 40)
        check_range(backups, "backups", 0, 1000)
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.backups = int(backups)
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = _repair_torn_tail(self.path)
        self._seq, self._prev = _tail_state(_chain_files(self.path, self.backups))
        if torn:
            self.append({"type": "repair", "torn_bytes": torn,
                         "kept_in": str(self.path.with_name(self.path.name + ".torn")),
                         "detail": "the last line was cut off (disk full or killed while "
                                   "writing); it was moved out and the chain goes on"})

    def append(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """Write ``record`` plus ``seq`` and ``prev`` as one line; returns what was written."""
        with self._lock:
            entry = dict(record, seq=self._seq + 1, prev=self._prev)
            line = (json.dumps(entry, sort_keys=True, default=_jsonable) + "\n").encode("utf-8")
            try:
                size = self.path.stat().st_size if self.path.exists() else 0
                if size and size + len(line) > self.max_bytes:
                    self._rotate()
                    size = 0
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    view = memoryview(line)
                    while view:  # unbuffered: a failed write leaves nothing pending
                        view = view[os.write(fd, view):]
                    if self.fsync:
                        os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, size)  # never leave half a line behind
                    raise
                finally:
                    os.close(fd)
            except OSError as exc:
                raise AuditError(f"cannot write the audit log {self.path}: {exc}") from exc
            self._seq += 1
            self._prev = hashlib.sha256(line[:-1]).hexdigest()
            return entry

    def _rotate(self) -> None:
        oldest = self.path.with_name(f"{self.path.name}.{self.backups}")
        if self.backups == 0:
            self.path.unlink()
            return
        if oldest.exists():
            oldest.unlink()
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))


def _repair_torn_tail(path: Path) -> int:
    """Move a last line that was cut off (no newline, or not JSON) into ``<log>.torn`` and
    cut the log back to its last whole line; returns the bytes moved (0: nothing torn)."""
    if not path.is_file():
        return 0
    data = path.read_bytes()
    end = len(data)
    if data.endswith(b"\n"):
        last = data[:-1].rsplit(b"\n", 1)[-1]
        try:
            json.loads(last)
            return 0
        except ValueError:
            end = len(data) - len(last) - 1
    else:
        end = data.rfind(b"\n") + 1
    torn = data[end:]
    if not torn:
        return 0
    with open(path.with_name(path.name + ".torn"), "ab") as keep:
        keep.write(torn + (b"" if torn.endswith(b"\n") else b"\n"))
        keep.flush()
        os.fsync(keep.fileno())
    with open(path, "r+b") as handle:
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
    return len(torn)


def _chain_files(path: Path, backups: int) -> List[Path]:
    """The existing files of a log, oldest first: ``.backups`` ... ``.1``, then the log."""
    rotated = [path.with_name(f"{path.name}.{i}") for i in range(backups, 0, -1)]
    return [p for p in rotated + [path] if p.exists()]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to the audit log")


def _tail_state(files: List[Path]) -> Tuple[int, str]:
    for path in reversed(files):
        lines = path.read_bytes().splitlines()
        if lines:
            last = lines[-1]
            return int(json.loads(last)["seq"]), hashlib.sha256(last).hexdigest()
    return 0, GENESIS


def verify_chain(path: Union[str, os.PathLike], backups: int = 5
                 ) -> Tuple[bool, int, Optional[str]]:
    """Check the chain of a log and its rotated files.

    Returns
    -------
    ok : bool
    lines : int
        Lines checked.
    problem : str or None
        Where and what broke the chain (file, line number).
    """
    path = Path(path)
    files = _chain_files(path, backups)
    prev, seq, count = None, None, 0
    for file in files:
        for number, line in enumerate(file.read_bytes().splitlines(), start=1):
            count += 1
            try:
                entry = json.loads(line)
            except ValueError:
                return False, count, f"{file}:{number}: not JSON"
            if prev is not None and entry.get("prev") != prev:
                return False, count, f"{file}:{number}: prev hash does not match the line before"
            if prev is None and file == files[0] and entry.get("seq") == 1 \
                    and entry.get("prev") != GENESIS:
                return False, count, f"{file}:{number}: first line does not start the chain"
            if seq is not None and entry.get("seq") != seq + 1:
                return False, count, f"{file}:{number}: sequence jumps from {seq} to " \
                                     f"{entry.get('seq')}"
            prev, seq = hashlib.sha256(line).hexdigest(), entry.get("seq")
    return True, count, None
