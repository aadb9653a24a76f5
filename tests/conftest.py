"""Shared fixtures: real models loaded once, real photos from tests/data."""
from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator

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


# ---------------------------------------------------------------------- lfw_dev (real faces)
#: .ci/run sets this: there ../shared/lfw_dev is beside the checkout and its tests must run.
REQUIRE_LFW = os.environ.get("FACE_TRIGGER_REQUIRE_LFW") == "1"


@pytest.fixture(scope="session")
def lfw_dev() -> Path:
    """The shared lfw_dev folder (``$FACE_TRIGGER_LFW_DEV`` or ``../shared/lfw_dev`` beside
    the checkout). Tests read the photos named in tests/data/lfw_door_faces.json from it;
    nothing of it is copied into the repository (its README forbids that)."""
    beside = Path(__file__).resolve().parent.parent.parent / "shared" / "lfw_dev"
    root = Path(os.environ.get("FACE_TRIGGER_LFW_DEV", beside))
    if not (root / "people.tsv").is_file():
        reason = f"lfw_dev not found at {root} (set FACE_TRIGGER_LFW_DEV)"
        if REQUIRE_LFW:
            pytest.fail(f"{reason} (FACE_TRIGGER_REQUIRE_LFW=1)")
        pytest.skip(reason)
    return root


@pytest.fixture(scope="session")
def lfw_embeddings(lfw_dev, pipeline):
    """Embeddings (n, 128) and person labels of every lfw_dev photo (largest face), computed
    once per session (about 35 s)."""
    result = ft.enrollment.enroll_folder(lfw_dev, pipeline, progress=False, several_faces="largest")
    return result.embeddings, list(result.labels)


# ---------------------------------------------------------------------- PostgreSQL + pgvector
#: .ci/run sets this: there tests of optional extras (faiss, matplotlib, paho-mqtt) must run.
REQUIRE_EXTRAS = os.environ.get("FACE_TRIGGER_REQUIRE_EXTRAS") == "1"


def require(module: str, extra: str):
    """Import an optional extra's module; skip the test without it (fail under .ci/run)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"needs the [{extra}] extra ({exc})"
        if REQUIRE_EXTRAS:
            pytest.fail(f"{reason} (FACE_TRIGGER_REQUIRE_EXTRAS=1)")
        pytest.skip(reason)


#: .ci/run sets this: there the PostgreSQL tests must run, not skip.
REQUIRE_POSTGRES = os.environ.get("FACE_TRIGGER_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def pg_extra() -> None:
    """Skip (fail where .ci/run requires them) without pgserver and the [postgres] extra."""
    try:
        import pgserver  # noqa: F401, PLC0415
        import pgvector.psycopg  # noqa: F401, PLC0415
        import psycopg  # noqa: F401, PLC0415
    except ImportError as exc:
        reason = f"PostgreSQL tests need pgserver and the [postgres] extra ({exc})"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (FACE_TRIGGER_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server(pg_extra):
    """A real PostgreSQL 16 with pgvector from the ``pgserver`` wheel, on a Unix socket
    (no TCP port), its data in a private folder of its own (not under pytest's shared
    temporary folder, which another pytest run of the same user prunes), stopped and
    deleted when the test session ends."""
    import tempfile  # noqa: PLC0415

    import pgserver  # noqa: PLC0415

    folder = tempfile.mkdtemp(prefix="face_trigger-pgdata-")
    server = pgserver.get_server(folder, cleanup_mode="delete")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def pg_url(pg_server) -> Iterator[str]:
    """A new, empty database on the test server; dropped after the test."""
    import psycopg  # noqa: PLC0415

    name = f"gallery_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server.get_uri(name)
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# A third store written outside the package (tests/memory_backend.py): one registry line here
# and one fixture parameter below run the shared gallery tests on it too.
ft.gallery.register_backend("memory", "memory_backend:MemoryBackend")


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def gallery_location(request, tmp_path) -> str:
    """Where a test gallery lives: an SQLite file, a PostgreSQL database, then a store in
    this process's memory (tests that need a store shared between processes skip it)."""
    if request.param == "sqlite":
        return str(tmp_path / "g.db")
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex}"
    return request.getfixturevalue("pg_url")


def shared_between_processes(location: str) -> None:
    """Skip a test that needs other processes to see the store (not the memory one)."""
    if location.startswith("memory://"):
        pytest.skip("the memory store lives in this process only")


# ---------------------------------------------------------------------- MQTT broker
REQUIRE_MQTT = os.environ.get("FACE_TRIGGER_REQUIRE_MQTT") == "1"  # set by .ci/run


def _missing(reason: str):
    if REQUIRE_MQTT:
        pytest.fail(f"{reason} (FACE_TRIGGER_REQUIRE_MQTT=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if os.path.exists(p)), None)
    if binary is None:
        _missing("mosquitto is not installed")
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        _missing("paho-mqtt is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp_path_factory.mktemp("mqtt") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)
