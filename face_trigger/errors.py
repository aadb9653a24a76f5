"""Every exception face_trigger raises.

All derive from :class:`FaceTriggerError`, and each also subclasses the builtin
exception a caller would naturally catch (``ValueError`` for bad arguments,
``OSError`` for unreadable files), so both ``except FaceTriggerError`` and
``except ValueError`` work.

Each class carries the exit status ``face-trigger`` ends with when it stops a command
(``exit_code``): 1 the command failed (try again, or see the message), 2 the caller's
arguments or settings, 3 an input that cannot be read, 4 a model or store that cannot be
used.
"""
from __future__ import annotations

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_MODEL = 4


class FaceTriggerError(Exception):
    """Base class of every error raised by face_trigger."""

    exit_code = EXIT_ERROR


class InvalidImageError(FaceTriggerError, ValueError):
    """An image array has the wrong type, dtype, shape or is empty."""

    exit_code = EXIT_INPUT


class ImageReadError(FaceTriggerError, OSError):
    """An image file or byte string could not be read or decoded (missing, empty, truncated)."""

    exit_code = EXIT_INPUT


class InvalidLandmarksError(FaceTriggerError, ValueError):
    """Landmarks are not a finite float array of shape (N, 5, 2) matching the images."""


class EmbeddingError(FaceTriggerError, ValueError):
    """Embeddings have the wrong size, dtype, are not finite, or come from another model."""


class ModelNotFoundError(FaceTriggerError, FileNotFoundError):
    """A model file could not be located."""

    exit_code = EXIT_MODEL


class ModelIntegrityError(FaceTriggerError):
    """A model file is corrupted, truncated, altered, or cannot be parsed."""

    exit_code = EXIT_MODEL


class LabelMapError(FaceTriggerError, ValueError):
    """A label map is malformed, or a code or name is not in it."""


class NotFittedError(FaceTriggerError, ValueError, AttributeError):
    """A recognizer was used before it was trained or loaded.

    Same bases as scikit-learn's ``NotFittedError`` (ValueError, AttributeError)
    but not a subclass of it: that would make ``import face_trigger`` import
    scikit-learn, which alone takes about 0.9 s on a 2-core machine.
    """


class ModelFileError(FaceTriggerError, ValueError):
    """A saved recognizer file is not ours, is corrupted, truncated, altered, signed with
    another key, unsigned where a key was given, or made for another embedder. Raised
    before anything in the file is unpickled."""

    exit_code = EXIT_MODEL


class NoFaceError(FaceTriggerError, ValueError):
    """An image that needed a face has none (the message says which image)."""

    exit_code = EXIT_INPUT


class CalibrationError(FaceTriggerError, ValueError):
    """Calibration data is insufficient (fewer than two people, or nobody with two
    photos) or a calibration file is malformed."""


class GalleryError(FaceTriggerError):
    """A gallery store is unusable: made for another embedder, a newer schema, or a
    corrupted database (and the base of the gallery's other errors)."""

    exit_code = EXIT_MODEL


class GalleryUnavailableError(GalleryError, ConnectionError):
    """The gallery's database server cannot be reached (down, restarting, wrong address,
    refused login). Raised at once for the call; the next call tries to reconnect."""

    exit_code = EXIT_ERROR


class GalleryNotFoundError(GalleryError, FileNotFoundError):
    """No gallery at a location that had to hold one (a misspelt path is not turned into
    a new, empty gallery)."""

    exit_code = EXIT_INPUT


class PersonNotFoundError(GalleryError, KeyError):
    """A name that is not enrolled in the gallery."""

    exit_code = EXIT_ERROR

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PersonExistsError(GalleryError):
    """A name that is already enrolled (adding or renaming to it)."""

    exit_code = EXIT_ERROR


class InvalidParameterError(FaceTriggerError, ValueError):
    """A threshold or setting outside its range (NaN included); the message names it."""

    exit_code = EXIT_USAGE


class AuditError(FaceTriggerError, OSError):
    """The audit log could not be written (disk full, file size limit, permissions); the
    log on disk still ends with a whole line."""


class GalleryLocationError(GalleryError, InvalidParameterError):
    """A gallery location that names no supported store (an ``http://`` URL, an empty
    ``sqlite:///``): the caller's to fix."""

    exit_code = EXIT_USAGE


class ConfigError(FaceTriggerError, ValueError):
    """Invalid door configuration; the message names the key."""

    exit_code = EXIT_USAGE
