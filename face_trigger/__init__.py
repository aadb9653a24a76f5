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
import warnings
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .calibration import calibrate
from .errors import (ConfigError, EmbeddingError, FaceTriggerError, GalleryError,
                     GalleryUnavailableError, ImageReadError, InvalidImageError,
                     InvalidParameterError, ModelFileError, ModelIntegrityError,
                     ModelNotFoundError, NoFaceError, NotFittedError)
from .embedder import OnnxEmbedder
from .faceprint import Faceprint
from .identity import Identifier, Identity
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
    "Identity", "Identifier", "Gallery", "FaceRecognizer",
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

#: Names that left the top level in 0.2: still found (with a DeprecationWarning) until 0.3.
_MOVED = {
    "ARCFACE_TEMPLATE_112": "align", "align_faces": "align", "similarity_matrix": "align",
    "YuNetDetector": "detector", "SFaceEmbedder": "embedder", "largest_face": "pipeline",
    "IMAGE_SUFFIXES": "enrollment", "EnrollmentResult": "enrollment",
    "EnrollmentRecord": "enrollment", "enroll_folder": "enrollment",
    "decode_image": "image_io", "to_bgr": "image_io", "sample_images": "image_io",
    "crop_around": "image_io", "draw_faces": "draw", "side_by_side": "draw",
    "configure_opencv": "runtime", "opencv_version": "runtime",
    "BUNDLED_MODELS": "model_files", "locate_model": "model_files",
    "read_verified": "model_files", "LabelMap": "label_map",
    "DETECT_CONF": "thresholds", "DETECT_NMS": "thresholds", "DETECT_MAX_SIDE": "thresholds",
    "MAX_FACES": "thresholds", "similarities": "verification", "compare": "verification",
    "CalibrationReport": "calibration", "MatchCalibration": "calibration",
    "default_calibration": "calibration", "pair_similarities": "calibration",
    "InvalidLandmarksError": "errors", "LabelMapError": "errors",
    "CalibrationError": "errors",
    "DoorEvent": "door", "FrameSource": "door", "Frame": "door", "AuditLog": "door",
    "verify_chain": "door", "DoorConfig": "door", "DecisionSettings": "door",
    "GrantPolicy": "door", "IoUTracker": "door", "CommandAction": "door",
    "WebhookAction": "door", "MqttAction": "door", "LogAction": "door", "run_door": "door",
    "door_overrides": "door",
    "upgrade_gallery": "gallery", "enroll_photo": "gallery", "QualityLimits": "gallery",
    "PhotoReport": "gallery", "GalleryRecognizer": "gallery",
}
_RENAMED = {"enroll_gallery_folder": ("gallery", "enroll_folder")}

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
    if name in _MOVED or name in _RENAMED:
        module, new = _RENAMED.get(name, (_MOVED.get(name, ""), name))
        warnings.warn(f"face_trigger.{name} is now face_trigger.{module}.{new}; the old "
                      "name goes in 0.3", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(f".{module}", __name__), new)
    raise AttributeError(f"module 'face_trigger' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(__all__) | set(_SUBPACKAGES))
