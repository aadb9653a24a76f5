"""Every exception face_trigger raises.

All derive from :class:`FaceTriggerError`, and each also subclasses the builtin
exception a caller would naturally catch (``ValueError`` for bad arguments,
``OSError`` for unreadable files), so both ``except FaceTriggerError`` and
``except ValueError`` work.
"""
from __future__ import annotations


class FaceTriggerError(Exception):
    """Base class of every error raised by face_trigger."""


class InvalidImageError(FaceTriggerError, ValueError):
    """An image array has the wrong type, dtype, shape or is empty."""


class ImageReadError(FaceTriggerError, OSError):
    """An image file or byte string could not be read or decoded (missing, empty, truncated)."""


class InvalidLandmarksError(FaceTriggerError, ValueError):
    """Landmarks are not a finite float array of shape (N, 5, 2) matching the images."""


class EmbeddingError(FaceTriggerError, ValueError):
    """Embeddings have the wrong size, dtype, are not finite, or come from another model."""


class ModelNotFoundError(FaceTriggerError, FileNotFoundError):
    """A model file could not be located."""


class ModelIntegrityError(FaceTriggerError):
    """A model file is corrupted, truncated, altered, or cannot be parsed."""
