"""Where a gallery lives: the store types, by the scheme of their location.

``postgresql://`` and ``postgres://`` URLs go to PostgreSQL, ``sqlite:///<path>`` and plain
paths to SQLite. A third store is one module with a backend class and one line here (or a
:func:`register_backend` call from outside the package). A backend class is built as
``cls(location, model, dim=None, create=True, **options)`` and answers the classmethods
``exists(location)`` and ``upgrade(location, model)``; its instances follow
:class:`~face_trigger.gallery.backend.GalleryBackend`.
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Dict, Optional, Tuple, Union

from ..errors import GalleryLocationError
from .._secrets import looks_like_conninfo, redact
from .backend import GalleryBackend

#: scheme -> backend class, or "module:Class" imported on first use (optional extras).
_BACKENDS: Dict[str, Union[str, type]] = {
    "sqlite": "face_trigger.gallery.sqlite:SQLiteBackend",
    "postgresql": "face_trigger.gallery.postgres:PostgresBackend",
    "postgres": "face_trigger.gallery.postgres:PostgresBackend",
}
#: The store of a location without a scheme (a file path).
DEFAULT_SCHEME = "sqlite"

Location = Union[str, "os.PathLike[str]"]


def register_backend(scheme: str, backend: Union[str, type]) -> None:
    """Make ``<scheme>://...`` locations open with ``backend`` (a class, or "module:Class")."""
    if not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
        raise GalleryLocationError(f"a scheme is letters, digits, '+', '-' and '.', got "
                                   f"{scheme!r}")
    _BACKENDS[scheme.lower()] = backend


def unregister_backend(scheme: str) -> None:
    """Forget a scheme added by :func:`register_backend`."""
    _BACKENDS.pop(scheme.lower(), None)


def schemes() -> Tuple[str, ...]:
    """The location schemes galleries may use."""
    return tuple(sorted(_BACKENDS))


def scheme_of(location: Location) -> str:
    """The scheme of a location (``DEFAULT_SCHEME`` for a plain path); GalleryLocationError
    for a scheme no store is registered for."""
    text = os.fspath(location)
    if "://" not in text:
        if looks_like_conninfo(text):  # never a file name: it would be created, password in it
            raise GalleryLocationError(
                f"{redact(text)!r} is a libpq key=value connection string: give the gallery "
                "as postgresql://user@host/db (the password in $PGPASSWORD or ~/.pgpass)")
        return DEFAULT_SCHEME
    scheme = text.split("://", 1)[0].lower()
    if scheme not in _BACKENDS:
        raise GalleryLocationError(
            f"unknown gallery location {redact(text)!r}: give a file path, sqlite:///path/"
            f"gallery.db or postgresql://user@host/db (schemes: {', '.join(schemes())})")
    return scheme


def backend_class(location: Location) -> Any:
    """The backend class for a location (imported on first use)."""
    scheme = scheme_of(location)
    entry = _BACKENDS[scheme]
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = getattr(importlib.import_module(module), name)
        _BACKENDS[scheme] = entry
    return entry


def open_backend(location: Location, model: str, *, dim: Optional[int] = None,
                 create: bool = True, **options: Any) -> GalleryBackend:
    """The store at ``location`` for faceprints of ``model`` (``dim`` long: None takes
    what the store holds). ``create=False`` refuses a location that holds no gallery
    (GalleryNotFoundError) instead of making a new, empty one. ``options`` are the
    backend's (SQLite: ``compact_from``; PostgreSQL: ``probes``, ``exact_below``,
    ``connect_timeout``)."""
    backend: GalleryBackend = backend_class(location)(os.fspath(location), model, dim=dim,
                                                      create=create, **options)
    return backend


def gallery_exists(location: Location) -> bool:
    """Whether a gallery is stored at ``location`` (nothing is created)."""
    return bool(backend_class(location).exists(os.fspath(location)))


def upgrade_gallery(location: Location, model: Optional[str] = None) -> Tuple[int, int]:
    """Bring a gallery's schema to this version of face_trigger (back it up first).

    Returns (version before, version after). ``model`` is checked when given.
    """
    before_after: Tuple[int, int] = backend_class(location).upgrade(os.fspath(location), model)
    return before_after


def looks_like_gallery(location: Location) -> bool:
    """Whether ``location`` names a gallery rather than another file (a saved recognizer,
    a folder of photos): a URL of a registered scheme, or a file that holds a gallery.
    Never opens a FIFO or creates anything."""
    text = os.fspath(location)
    if "://" in text:
        return text.split("://", 1)[0].lower() in _BACKENDS
    return gallery_exists(text)
