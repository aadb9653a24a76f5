"""face_trigger: find, align, embed and recognise faces on a plain CPU.

Quick start::

    from face_trigger import FacePipeline, read_image
    pipeline = FacePipeline()                       # bundled, checksum-verified models
    faces = pipeline.analyze(read_image("photo.jpg"))
    for face in faces:
        print(face.box, face.score, face.embedding.shape)
"""
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .align import ARCFACE_TEMPLATE_112, align_faces, similarity_matrix
from .detector import YuNetDetector
from .embedder import SFaceEmbedder
from .errors import (EmbeddingError, FaceTriggerError, ImageReadError, InvalidImageError,
                     InvalidLandmarksError, LabelMapError, ModelFileError, ModelIntegrityError,
                     ModelNotFoundError, NotFittedError, NoFaceError, CalibrationError,
                     GalleryError, GalleryUnavailableError, InvalidParameterError)
from .enrollment import IMAGE_SUFFIXES
from .faceprint import Faceprint
from .label_map import LabelMap
from .draw import draw_faces, side_by_side
from .image_io import crop_around, decode_image, read_image, sample_images, to_bgr, write_image
from .model_files import BUNDLED_MODELS, locate_model, read_verified
from .runtime import configure_opencv, opencv_version
from .pipeline import FacePipeline, detect_embedding, largest_face, load_model
from .calibration import (CalibrationReport, MatchCalibration, calibrate, default_calibration,
                          pair_similarities)
from .verification import VerifyResult, compare, similarities, similarity, verify
from .thresholds import (DETECT_CONF, DETECT_MAX_SIDE, DETECT_NMS, IDENTIFY_COSINE,
                         IDENTIFY_MARGIN, MATCH_COSINE, MAX_FACES)
from .types import Detections, Face, ModelInfo

__all__ = [
    "__version__",
    "ARCFACE_TEMPLATE_112", "align_faces", "similarity_matrix",
    "YuNetDetector", "SFaceEmbedder", "FacePipeline", "detect_embedding", "load_model",
    "Detections", "Face", "ModelInfo",
    "IMAGE_SUFFIXES", "read_image", "decode_image", "to_bgr", "write_image", "sample_images",
    "draw_faces", "side_by_side", "crop_around",
    "configure_opencv", "opencv_version",
    "BUNDLED_MODELS", "locate_model", "read_verified",
    "DETECT_CONF", "DETECT_NMS", "DETECT_MAX_SIDE", "MAX_FACES", "MATCH_COSINE",
    "IDENTIFY_COSINE", "IDENTIFY_MARGIN",
    "FaceRecognizer", "Identity", "LabelMap", "EnrollmentResult", "EnrollmentRecord",
    "enroll_folder",
    "largest_face", "Faceprint", "similarity", "similarities", "compare", "verify",
    "VerifyResult", "calibrate", "CalibrationReport", "MatchCalibration", "default_calibration",
    "pair_similarities",
    "FaceTriggerError", "InvalidImageError", "ImageReadError", "InvalidLandmarksError",
    "EmbeddingError", "ModelNotFoundError", "ModelIntegrityError", "LabelMapError",
    "ModelFileError", "NotFittedError", "NoFaceError", "CalibrationError", "InvalidParameterError",
    "DoorTrigger", "DoorEvent", "FrameSource", "Frame", "AuditLog", "verify_chain",
    "load_config", "DoorConfig", "ConfigError", "DecisionSettings", "GrantPolicy", "IoUTracker",
    "CommandAction", "WebhookAction", "MqttAction", "LogAction", "run_door", "door_overrides",
    "Gallery", "Match", "GalleryError", "GalleryUnavailableError", "GalleryRecognizer",
    "upgrade_gallery", "enroll_photo", "enroll_gallery_folder",
    "QualityLimits", "PhotoReport",
]

# The recognizer imports scikit-learn (about 0.9 s): load it on first use, not at import.
_LAZY = {"FaceRecognizer": "recognizer", "Identity": "recognizer",
         "EnrollmentResult": "enrollment", "EnrollmentRecord": "enrollment",
         "enroll_folder": "enrollment",
         # the door loop: HTTP, TOML and threads are only loaded by applications that watch
         "DoorTrigger": "trigger", "DoorEvent": "trigger", "FrameSource": "sources",
         "Frame": "sources", "AuditLog": "audit", "verify_chain": "audit",
         "load_config": "door_config", "DoorConfig": "door_config", "ConfigError": "door_config",
         "DecisionSettings": "decision", "GrantPolicy": "decision", "IoUTracker": "tracking",
         "CommandAction": "actions", "WebhookAction": "actions", "MqttAction": "actions",
         "LogAction": "actions", "run_door": "door_app", "door_overrides": "door_app",
         "Gallery": "gallery", "Match": "gallery", "upgrade_gallery": "gallery",
         "GalleryRecognizer": "gallery", "enroll_photo": "gallery_enrollment",
         "enroll_gallery_folder": "gallery_enrollment", "QualityLimits": "gallery_enrollment",
         "PhotoReport": "gallery_enrollment"}

if TYPE_CHECKING:
    from .actions import CommandAction, LogAction, MqttAction, WebhookAction
    from .audit import AuditLog, verify_chain
    from .decision import DecisionSettings, GrantPolicy
    from .door_app import door_overrides, run_door
    from .door_config import ConfigError, DoorConfig, load_config
    from .enrollment import EnrollmentRecord, EnrollmentResult, enroll_folder
    from .gallery import Gallery, GalleryRecognizer, Match, upgrade_gallery
    from .gallery_enrollment import (PhotoReport, QualityLimits, enroll_gallery_folder,
                                     enroll_photo)
    from .recognizer import FaceRecognizer, Identity
    from .sources import Frame, FrameSource
    from .tracking import IoUTracker
    from .trigger import DoorEvent, DoorTrigger


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'face_trigger' has no attribute {name!r}")
