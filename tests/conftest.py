"""Shared fixtures: real models loaded once, real photos from tests/data."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

import face_trigger as ft

DATA = Path(__file__).parent / "data"


def _check_sums() -> None:
    for line in (DATA / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        found = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert found == digest, f"tests/data/{name} changed: sha256 {found}, expected {digest}"


_check_sums()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def pipeline() -> ft.FacePipeline:
    return ft.FacePipeline()


@pytest.fixture(scope="session")
def images() -> Dict[str, np.ndarray]:
    """Every test photo, decoded once (read-only arrays)."""
    loaded = {}
    for path in sorted(DATA.iterdir()):
        if path.suffix in (".jpg", ".png"):
            image = ft.read_image(path)
            image.flags.writeable = False
            loaded[path.stem] = image
    return loaded


@pytest.fixture(scope="session")
def reference(pipeline, images) -> Dict[str, ft.Face]:
    """The single face of each whole photo, analysed once."""
    return {name: pipeline.analyze(image)[0] for name, image in images.items()}
