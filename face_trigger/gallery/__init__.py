"""The 1:N store: who is enrolled, with which faceprints, and identification over them.

``Gallery(location, model)`` opens an SQLite file (searched in this process) or a
``postgresql://`` database (pgvector, shared by many processes); both answer
:meth:`Gallery.identify` with :class:`~face_trigger.Identity`. Modules: ``facade`` (the
Gallery), ``registry`` (which store a location opens), ``backend`` (the storage protocol),
``sqlite``, ``postgres``, ``index`` (the
compact faiss index of large SQLite galleries), ``enrollment`` (photos in, with a
quality report).
"""
from .enrollment import PhotoReport, QualityLimits, enroll_folder, enroll_photo
from .facade import COMPACT_FROM, IDENTIFY_POOL, MAX_K, FaceprintRecord, Gallery
from .registry import (gallery_exists, looks_like_gallery, register_backend, unregister_backend,
                       upgrade_gallery)

__all__ = ["Gallery", "FaceprintRecord", "upgrade_gallery", "gallery_exists",
           "looks_like_gallery", "register_backend", "unregister_backend", "enroll_photo",
           "enroll_folder", "QualityLimits", "PhotoReport", "COMPACT_FROM", "IDENTIFY_POOL",
           "MAX_K"]
