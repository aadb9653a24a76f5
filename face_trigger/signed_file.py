"""A container for saved models: header + payload, authenticated before use.

Layout (all lengths big-endian unsigned 32-bit)::

    b"FTSIGNED\\n"  | len(header) | header (JSON) | len(signature) | signature (JSON) | payload

The signature covers the magic, the header bytes and the payload. It is an
HMAC-SHA256 when a key is given, else a plain SHA-256 digest (which catches
corruption and truncation, but not deliberate tampering: an unsigned file must be
trusted like code). :func:`read_signed` checks everything before it returns the
payload, so a caller unpickles only verified bytes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from ._fileio import MAX_MODEL_FILE_BYTES, atomic_write_bytes, read_regular_file
from .errors import InvalidParameterError, ModelFileError

MAGIC = b"FTSIGNED\n"
ENV_KEY = "FACE_TRIGGER_MODEL_KEY"
_LENGTH = struct.Struct(">I")

KeyArg = Union[str, bytes, None]


def resolve_key(key: KeyArg) -> Optional[bytes]:
    """The key to use: the argument, else ``$FACE_TRIGGER_MODEL_KEY`` (read now), else None."""
    if key is None:
        key = os.environ.get(ENV_KEY) or None
    if key is None:
        return None
    key_bytes = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not key_bytes:
        raise InvalidParameterError("an empty signing key is not a key")
    return key_bytes


def _signature(key: Optional[bytes], header: bytes, payload: bytes) -> Dict[str, str]:
    if key is None:
        digest = hashlib.sha256(MAGIC + header + payload).hexdigest()
        return {"type": "sha256", "value": digest}
    mac = hmac.new(key, MAGIC + header, hashlib.sha256)
    mac.update(payload)
    return {"type": "hmac-sha256", "value": mac.hexdigest()}


def write_signed(path: Union[str, os.PathLike], header: Dict[str, Any], payload: bytes,
                 key: KeyArg = None) -> Path:
    """Write header and payload atomically, signed with ``key`` (or digested without one)."""
    header_bytes = json.dumps(header, sort_keys=True).encode("utf-8")
    signature = json.dumps(_signature(resolve_key(key), header_bytes, payload)).encode("utf-8")
    blob = b"".join([MAGIC, _LENGTH.pack(len(header_bytes)), header_bytes,
                     _LENGTH.pack(len(signature)), signature, payload])
    return atomic_write_bytes(path, blob)


def _parts(path: Path, data: bytes) -> Tuple[Dict[str, Any], bytes, Any, Any, bytes]:
    """(header, header bytes, signature type, signature value, payload) of a file's bytes;
    ModelFileError for another format, a truncated or a padded file."""
    if not data.startswith(MAGIC):
        raise ModelFileError(
            f"{path} is not a face_trigger model file (no {MAGIC!r} header); a plain pickle "
            "is refused because unpickling runs code")
    try:
        offset = len(MAGIC)
        (header_len,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        header_bytes = data[offset:offset + header_len]
        offset += header_len
        (signature_len,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        signature = json.loads(data[offset:offset + signature_len].decode("utf-8"))
        offset += signature_len
        header = json.loads(header_bytes.decode("utf-8"))
        if not isinstance(header, dict) or not isinstance(signature, dict):
            raise TypeError("header and signature must be JSON objects")
        kind, value = signature["type"], signature["value"]
    except (struct.error, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"{path} is truncated or corrupted: its header cannot be read "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None
    payload = data[offset:]
    expected_size = header.get("payload_size")
    if expected_size is not None and len(payload) != expected_size:
        raise ModelFileError(f"{path} is truncated or padded: payload has {len(payload)} bytes, "
                             f"header says {expected_size}")
    return header, header_bytes, kind, value, payload


def read_signed(path: Union[str, os.PathLike], key: KeyArg = None
                ) -> Tuple[Dict[str, Any], bytes, bool]:
    """Read and verify a signed file.

    Returns
    -------
    header : dict
    payload : bytes
        Verified bytes, safe to hand to the unpickler of a trusted writer.
    signed : bool
        True when an HMAC was verified, False for a digest-only file.

    Raises
    ------
    ModelFileError
        Not this format (e.g. a plain pickle), truncated, altered, signed with
        another key, signed but no key given, or unsigned although a key was given.
    """
    path = Path(path)
    try:
        data = read_regular_file(path, MAX_MODEL_FILE_BYTES)
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from exc
    header, header_bytes, kind, value, payload = _parts(path, data)
    key_bytes = resolve_key(key)
    if kind == "hmac-sha256" and key_bytes is None:
        raise ModelFileError(f"{path} is signed: pass key=... or set ${ENV_KEY} to load it")
    if kind == "sha256" and key_bytes is not None:
        raise ModelFileError(f"{path} is not signed, but a key was given: refusing a file whose "
                             "origin cannot be checked")
    if kind not in ("sha256", "hmac-sha256"):
        raise ModelFileError(f"{path} has an unknown signature type {kind!r}")
    computed = _signature(key_bytes, header_bytes, payload)["value"]
    if not hmac.compare_digest(computed, str(value)):
        what = "signed with another key, or altered" if kind == "hmac-sha256" else \
            "corrupted or altered"
        raise ModelFileError(f"{path} failed verification: it was {what}; nothing was loaded")
    return header, payload, kind == "hmac-sha256"
