"""Locate the ONNX model files and read them with a SHA-256 integrity check.

Search order for a model: an explicit path, then the folder named by the
``FACE_TRIGGER_MODEL_DIR`` environment variable (read at call time), then the
models shipped inside the installed package, then ``models/`` of a source
checkout. Nothing is ever downloaded.

The expected hashes of the bundled models are part of the code (not read from a
file next to the models), so replacing a model file together with a checksum
file does not pass the check.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from ._fileio import MAX_MODEL_FILE_BYTES, read_regular_file
from .errors import InvalidParameterError, ModelIntegrityError, ModelNotFoundError
from .types import ModelInfo

logger = logging.getLogger(__name__)

ENV_MODEL_DIR = "FACE_TRIGGER_MODEL_DIR"


@dataclass(frozen=True)
class BundledModel:
    """One model shipped with face_trigger (see ``models/manifest.json``)."""

    role: str
    filename: str
    sha256: str
    size: int
    licence: str


BUNDLED_MODELS: Dict[str, BundledModel] = {
    "detector": BundledModel(
        role="detector",
        filename="face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        size=232_589,
        licence="MIT",
    ),
    "embedder": BundledModel(
        role="embedder",
        filename="face_recognition_sface_2021dec.onnx",
        sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
        size=38_696_353,
        licence="Apache-2.0",
    ),
    "liveness_v2": BundledModel(
        role="liveness_v2",
        filename="minifasnet_v2_2.7_80x80.onnx",
        sha256="80e9e626983611363d9ac2d1755004c995aa0f67bbc74a8ab665dfaad7bb1191",
        size=1_744_193,
        licence="Apache-2.0",
    ),
    "liveness_v1se": BundledModel(
        role="liveness_v1se",
        filename="minifasnet_v1se_4.0_80x80.onnx",
        sha256="c01e1017a52a2ed43e208c5e5f6779f544fc980427bb80882f7f78f1e1537d19",
        size=1_743_361,
        licence="Apache-2.0",
    ),
}

_BY_FILENAME = {m.filename: m for m in BUNDLED_MODELS.values()}
_BY_SHA256 = {m.sha256: m for m in BUNDLED_MODELS.values()}


def _bundled(role: str) -> BundledModel:
    try:
        return BUNDLED_MODELS[role]
    except KeyError:
        raise InvalidParameterError(f"unknown model role {role!r}; expected one of "
                                    f"{sorted(BUNDLED_MODELS)}") from None


def bundled_info(role: str) -> ModelInfo:
    """Identity of a bundled model (what its embeddings are marked with), without reading
    the file or building a net."""
    bundled = _bundled(role)
    return ModelInfo(Path(bundled.filename).stem, bundled.sha256, True)


def model_search_dirs() -> List[Path]:
    """Folders searched for bundled model files, in order (environment read now)."""
    dirs: List[Path] = []
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        dirs.append(Path(env))
    package_dir = Path(__file__).resolve().parent
    dirs.append(package_dir / "models")  # installed wheel: face_trigger/models/
    checkout = package_dir.parent
    if (checkout / "pyproject.toml").is_file():  # running from a source checkout
        dirs.append(checkout / "models")
    return dirs


def locate_model(role: str, path: Union[str, os.PathLike, None] = None) -> Path:
    """Return the path of the model file for ``role`` (``"detector"`` or ``"embedder"``).

    Raises
    ------
    ModelNotFoundError
        ``path`` does not exist, or no search folder holds the bundled file.
    """
    bundled = _bundled(role)
    if path is not None:
        candidate = Path(path)
        if candidate.is_dir():
            candidate = candidate / bundled.filename
        if not candidate.is_file():
            raise ModelNotFoundError(f"{role} model file not found: {candidate}")
        return candidate
    searched = model_search_dirs()
    for directory in searched:
        candidate = directory / bundled.filename
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"{role} model {bundled.filename} not found in "
        f"{', '.join(str(d) for d in searched)}; reinstall face_trigger, or put the file in "
        f"a folder named by ${ENV_MODEL_DIR}")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_verified(role: str, path: Union[str, os.PathLike, None] = None,
                  expected_sha256: Optional[str] = None) -> Tuple[bytes, ModelInfo]:
    """Read a model file once and check its SHA-256 before anything parses it.

    A file named like a bundled model (or found by the search, ``path=None``)
    must carry the bundled hash. A file with any other name is a custom model:
    it is checked against ``expected_sha256`` when given, else accepted with a
    logged warning (the caller takes responsibility for it).

    Returns
    -------
    data : bytes
        The file content, to hand to OpenCV as a buffer (no second read).
    info : ModelInfo
        Name and hash of exactly these bytes.

    Raises
    ------
    ModelNotFoundError
        The file is missing.
    ModelIntegrityError
        The file is empty, or its hash differs from the expected one; the message
        names the file and both hashes.
    """
    file_path = locate_model(role, path)
    try:
        data = read_regular_file(file_path, MAX_MODEL_FILE_BYTES)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {role} model {file_path}: {exc}") from exc
    if not data:
        raise ModelIntegrityError(f"{role} model file {file_path} is empty")
    found = sha256_hex(data)
    known = _BY_FILENAME.get(file_path.name)
    if expected_sha256 is None and known is not None:
        expected_sha256 = known.sha256
    if expected_sha256 is not None and found != expected_sha256.lower():
        raise ModelIntegrityError(
            f"{role} model {file_path} failed its integrity check: expected sha256 "
            f"{expected_sha256.lower()}, found {found} ({len(data)} bytes"
            + (f", expected {known.size}" if known is not None else "")
            + "); the file is corrupted, truncated or altered")
    match = _BY_SHA256.get(found)
    if match is not None and match.role != role:
        raise ModelIntegrityError(f"{file_path} is the bundled {match.role} "
                                  f"({match.filename}), not the {role} model")
    if match is not None:
        return data, ModelInfo(name=Path(match.filename).stem, sha256=found, bundled=True)
    if expected_sha256 is None:
        logger.warning("loading unverified custom %s model %s (sha256 %s); you take "
                       "responsibility for its content", role, file_path, found)
    return data, ModelInfo(name=file_path.stem, sha256=found, bundled=False)
