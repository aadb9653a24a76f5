"""Append-only audit log: JSON lines chained by SHA-256 (or HMAC-SHA256 with a key),
size-capped with rotation, with a checkpoint of its ends.

Each line is a JSON object with ``seq`` (1, 2, ...), ``chain`` ("sha256" or "hmac") and
``prev``, the digest of the previous line's bytes (64 zeros for the very first). Editing,
deleting or reordering a line breaks the chain, which :func:`verify_chain` reports. When the
file would exceed ``max_bytes`` it is renamed to ``<name>.1`` (older ones shift to ``.2``
...) and the chain continues in the new file. ``<name>.checkpoint`` (written atomically after
every line) holds the first sequence number still kept and the last line's number and
digest: deleting lines at either end, or the whole file, no longer verifies; every line says
``"checkpointed": true``, so deleting the checkpoint itself does not verify either.

Without a key anyone who can write the files can rewrite the whole chain and checkpoint
consistently: the unkeyed chain shows accidents and careless edits, not an attacker. With
``key`` (or ``$FACE_TRIGGER_AUDIT_KEY``) the digests are HMACs: nothing can be recomputed
without the key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from .._fileio import atomic_write_text, parse_json, read_regular_file
from .._validate import check_range
from ..errors import AuditError, InvalidParameterError

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
    key : str or bytes, optional
        HMAC key of the chain; ``None`` reads ``$FACE_TRIGGER_AUDIT_KEY`` (unkeyed when
        that is unset too).
    """

    def __init__(self, path: Union[str, os.PathLike], max_bytes: int = 10_000_000,
                 backups: int = 5, fsync: bool = True,
                 key: Union[str, bytes, None] = None) -> None:
        check_range(max_bytes, "max_bytes", 1024, 1 << 40)
        if key is not None and not key:
            raise InvalidParameterError("an empty audit key would leave the chain unkeyed: "
                                        "give a key, or None for $FACE_TRIGGER_AUDIT_KEY")
        check_range(backups, "backups", 0, 1000)
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.backups = int(backups)
        self.fsync = fsync
        self._key = _key_bytes(key)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = _repair_torn_tail(self.path)
        files = _chain_files(self.path, self.backups)
        self._seq, self._prev = _tail_state(files, self._key)
        self._first = _first_seq(files) or self._seq + 1
        if torn:
            self.append({"type": "repair", "torn_bytes": torn,
                         "kept_in": str(self.path.with_name(self.path.name + ".torn")),
                         "detail": "the last line was cut off (disk full or killed while "
                                   "writing); it was moved out and the chain goes on"})

    def append(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """Write ``record`` plus ``seq`` and ``prev`` as one line; returns what was written."""
        return self._append(record)[0]

    def append_anchored(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """Write ``record`` like :meth:`append`; return its anchor ``{"seq", "digest",
        "chain"}``. Published elsewhere (the door adds it to every MQTT/webhook event), an
        anchor lets ``verify_chain(..., anchors=...)`` prove the log still holds that line
        unchanged, even if the log and its checkpoint were later cut back together."""
        entry, digest = self._append(record)
        return {"seq": entry["seq"], "digest": digest, "chain": entry["chain"]}

    def _append(self, record: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
        with self._lock:
            # "checkpointed": a log written with a checkpoint says so in every line, so a
            # deleted checkpoint (and with it the record of the log's end) is noticed
            entry = dict(record, seq=self._seq + 1, prev=self._prev,
                         chain="hmac" if self._key else "sha256", checkpointed=True)
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
            self._prev = _digest(line[:-1], self._key)
            self._write_checkpoint()
            return entry, self._prev

    @property
    def checkpoint_path(self) -> Path:
        """``<log>.checkpoint``: first kept and last written sequence number, last digest."""
        return _checkpoint_path(self.path)

    def _write_checkpoint(self) -> None:
        state = {"first_seq": self._first, "last_seq": self._seq, "last_digest": self._prev,
                 "chain": "hmac" if self._key else "sha256"}
        state["mac"] = _digest(json.dumps(state, sort_keys=True).encode(), self._key)
        try:
            atomic_write_text(self.checkpoint_path, json.dumps(state, sort_keys=True) + "\n")
        except OSError as exc:
            raise AuditError(f"cannot write the audit checkpoint {self.checkpoint_path}: "
                             f"{exc}") from exc

    def _rotate(self) -> None:
        oldest = self.path.with_name(f"{self.path.name}.{self.backups}")
        if self.backups == 0:
            self.path.unlink()
            self._first = self._seq + 1
            return
        if oldest.exists():
            oldest.unlink()
            newer = self.path.with_name(f"{self.path.name}.{self.backups - 1}") \
                if self.backups > 1 else self.path
            self._first = _first_seq([newer]) or self._seq + 1
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
        except (ValueError, RecursionError):
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
    """The existing files of a log, oldest first: ``.backups`` ... ``.1``, then the log.
    AuditError for one that is not a regular file (a FIFO would block every read)."""
    rotated = [path.with_name(f"{path.name}.{i}") for i in range(backups, 0, -1)]
    found = [p for p in rotated + [path] if p.exists()]
    for file in found:
        if not file.is_file():
            raise AuditError(f"{file} is not a regular file (a FIFO, device or folder): an "
                             "audit log cannot be kept there")
    return found


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to the audit log")


def _key_bytes(key: Union[str, bytes, None]) -> Optional[bytes]:
    if key is None:
        key = os.environ.get("FACE_TRIGGER_AUDIT_KEY") or None
    if isinstance(key, str):
        key = key.encode("utf-8")
    return key or None


def _digest(data: bytes, key: Optional[bytes]) -> str:
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


def _first_seq(files: List[Path]) -> Optional[int]:
    """Sequence number of the first line of the oldest file, None for an empty log."""
    for path in files:
        with open(path, "rb") as handle:
            first = handle.readline()
        if first.strip():
            try:
                return int(json.loads(first)["seq"])
            except (ValueError, KeyError, TypeError, RecursionError):
                return None
    return None


def _tail_state(files: List[Path], key: Optional[bytes]) -> Tuple[int, str]:
    for path in reversed(files):
        lines = path.read_bytes().splitlines()
        if lines:
            last = lines[-1]
            try:
                return int(json.loads(last)["seq"]), _digest(last, key)
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                raise AuditError(f"{path}: its last line is not an audit record "
                                 f"({type(exc).__name__}); check it with face-trigger audit "
                                 "verify") from None
    return 0, GENESIS


def verify_chain(path: Union[str, os.PathLike], backups: int = 5,
                 key: Union[str, bytes, None] = None,
                 anchors: Iterable[Tuple[int, str]] = ()) -> Tuple[bool, int, Optional[str]]:
    """Check the chain of a log and its rotated files against its checkpoint.

    ``key`` (or ``$FACE_TRIGGER_AUDIT_KEY``) verifies a keyed chain; a keyed log checked
    without it, or a line that is not keyed in a keyed log, fails. ``anchors`` are
    ``(seq, digest)`` pairs kept outside the log (the ``audit`` field of the door's
    MQTT/webhook events): each line they name must still be there with that digest (lines
    rotated out of the kept files cannot be checked and are skipped).

    Returns
    -------
    ok : bool
    lines : int
        Lines checked.
    problem : str or None
        Where and what broke the chain (file, line number), or which end was cut.
    """
    path = Path(path)
    secret = _key_bytes(key)
    try:
        files = _chain_files(path, backups)
    except AuditError as exc:
        return False, 0, str(exc)
    checkpoint = _read_checkpoint(path, secret)
    if isinstance(checkpoint, str):
        return False, 0, checkpoint
    if not files:
        return False, 0, (f"{path}: no audit log there" + (
            " but its checkpoint says it held lines: the log was deleted" if checkpoint
            else ""))
    expected = {int(n): str(d) for n, d in anchors}
    walk = _ChainWalk(secret, checkpoint["first_seq"] if checkpoint else 1, expected)
    for file in files:
        for number, line in enumerate(file.read_bytes().splitlines(), start=1):
            problem = walk.step(line)
            if problem:
                return False, walk.count, f"{file}:{number}: {problem}"
    prev, seq, count = walk.prev, walk.seq, walk.count
    if checkpoint is None and (walk.checkpointed or count == 0):
        return False, count, (
            f"{_checkpoint_path(path)} is missing: the log was written with a checkpoint, and "
            "without it lines deleted at its end cannot be told apart" if walk.checkpointed
            else f"{path}: the log is empty and has no checkpoint")
    cut = sorted(n for n in expected if seq is None or n > seq)
    if cut:
        return False, count, (f"{path}: the log ends at line {seq or 0}, a published anchor "
                              f"names line {cut[-1]}: lines were deleted at its end")
    if checkpoint:
        if seq != checkpoint["last_seq"] or prev != checkpoint["last_digest"]:
            return False, count, (f"{path}: the log ends at line {seq or 0}, its checkpoint at "
                                  f"{checkpoint['last_seq']}: lines were deleted or changed at "
                                  "its end (or the file was emptied or deleted)")
    return True, count, None


class _ChainWalk:
    """The lines of a log in order, each checked against the one before: its chain kind,
    its sequence number, its link to the previous digest, and any anchor kept for it."""

    def __init__(self, secret: Optional[bytes], first: int, expected: Dict[int, str]) -> None:
        self.secret, self.first, self.expected = secret, first, expected
        self.chain = "hmac" if secret else "sha256"
        self.prev: Optional[str] = None
        self.seq: Optional[int] = None
        self.count = 0
        self.checkpointed = False

    def step(self, line: bytes) -> Optional[str]:
        """Check the next line; what is wrong with it, or None."""
        self.count += 1
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            return "not JSON"
        if not isinstance(entry, dict):
            return f"not an audit record ({type(entry).__name__})"
        if entry.get("chain", "sha256") != self.chain:
            return (f"a {entry.get('chain', 'sha256')} line, the check expects {self.chain}: "
                    + ("give the key ($FACE_TRIGGER_AUDIT_KEY)" if not self.secret
                       else "an unkeyed line in a keyed log"))
        if self.prev is None:
            if entry.get("seq") != self.first:
                return (f"the log starts at line {entry.get('seq')}, expected {self.first}: "
                        "lines were deleted at its start")
            if self.first == 1 and entry.get("prev") != GENESIS:
                return "first line does not start the chain"
        elif entry.get("prev") != self.prev:
            return "prev hash does not match the line before"
        if self.seq is not None and entry.get("seq") != self.seq + 1:
            return f"sequence jumps from {self.seq} to {entry.get('seq')}"
        self.prev, self.seq = _digest(line, self.secret), entry.get("seq")
        self.checkpointed = self.checkpointed or entry.get("checkpointed") is True
        if self.seq in self.expected and not hmac.compare_digest(
                self.expected.pop(self.seq), self.prev):
            return (f"line {self.seq} does not match its published anchor: it was changed "
                    "(and the chain rewritten)")
        return None


def _read_checkpoint(path: Path, key: Optional[bytes]) -> Union[None, str, Dict[str, Any]]:
    """The checkpoint as a dict, None when there is none (a log from before checkpoints),
    or a message saying why it cannot be trusted."""
    file = _checkpoint_path(path)
    if not file.is_file():
        return None
    try:
        state = parse_json(read_regular_file(file, 1 << 16), str(file), ValueError)
        mac = state.pop("mac")
        if not hmac.compare_digest(mac, _digest(json.dumps(state, sort_keys=True).encode(),
                                                key)):
            return f"{file}: its digest does not match (altered, or another key)"
        int(state["first_seq"]), int(state["last_seq"]), str(state["last_digest"])
        return state
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{file}: not a checkpoint ({type(exc).__name__}: {exc})"
