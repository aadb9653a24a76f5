"""face_trigger: find, align, embed and recognise faces on a plain CPU.

Quick start::

    import face_trigger as ft
    pipeline = ft.FacePipeline()                    # bundled, checksum-verified models
    for face in pipeline.analyze(ft.read_image("photo.jpg")):
        print(face.box, face.score, face.embedding.shape)

Which API for which job: compare two photos -> :func:`verify`; name faces among enrolled
people -> :class:`Gallery` (or :class:`FaceRecognizer` for the seed's ``.pkl``); raw
vectors -> :class:`FacePipeline`; a camera -> :class:`DoorTrigger` (``face-trigger
watch``). Everything else lives in the modules and in ``face_trigger.gallery`` /
``face_trigger.door``.
"""
import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .calibration import calibrate
from .errors import (ConfigError, EmbeddingError, FaceTriggerError, GalleryError,
                     GalleryUnavailableError, ImageReadError, InvalidImageError,
                     InvalidParameterError, ModelFileError, ModelIntegrityError,
                     ModelNotFoundError, NoFaceError, NotFittedError)
from .embedder import OnnxEmbedder
from .faceprint import Faceprint
from .identity import Identifier, Identity, NamedFace
from .image_io import read_image, write_image
from .pipeline import FacePipeline, detect_embedding, load_model
from .thresholds import IDENTIFY_COSINE, IDENTIFY_MARGIN, MATCH_COSINE
from .types import Detections, Face, ModelInfo
from .verification import VerifyResult, similarity, verify

__all__ = [
    "__version__",
    # faces in an image
    "read_image", "write_image", "FacePipeline", "Face", "Detections", "ModelInfo",
    "load_model", "detect_embedding", "OnnxEmbedder",
    # 1:1
    "Faceprint", "verify", "VerifyResult", "similarity", "calibrate",
    # 1:N
    "Identity", "Identifier", "NamedFace", "Gallery", "FaceRecognizer",
    # the door
    "DoorTrigger", "load_config",
    # thresholds (thresholds.py says how each was measured)
    "MATCH_COSINE", "IDENTIFY_COSINE", "IDENTIFY_MARGIN",
    # errors (all in face_trigger.errors)
    "FaceTriggerError", "InvalidImageError", "ImageReadError", "EmbeddingError",
    "ModelFileError", "ModelNotFoundError", "ModelIntegrityError", "NotFittedError",
    "NoFaceError", "InvalidParameterError", "GalleryError", "GalleryUnavailableError",
    "ConfigError",
]

# Loaded on first use: scikit-learn (about 0.9 s), the gallery's stores, the door loop.
_LAZY = {"FaceRecognizer": "recognizer", "Gallery": "gallery", "DoorTrigger": "door",
         "load_config": "door"}
#: Public modules, reachable as attributes (``ft.draw.draw_faces``) without an import.
_SUBPACKAGES = ("door", "gallery", "compat", "align", "boxes", "calibration", "detector", "draw",
                "embedder", "engines", "enrollment", "errors", "faceprint", "identity", "image_io",
                "label_map", "liveness", "model_files", "pipeline", "quality", "recognizer",
                "runtime", "signed_file", "thresholds", "types", "verification")

if TYPE_CHECKING:
    from . import door, gallery  # noqa: F401 - attributes for type checkers
    from .door import DoorTrigger, load_config
    from .gallery import Gallery
    from .recognizer import FaceRecognizer


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'face_trigger' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(__all__) | set(_SUBPACKAGES))
