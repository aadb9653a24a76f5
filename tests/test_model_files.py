"""Model location and integrity: every load checks the sha256 before OpenCV parses it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import face_trigger as ft
from face_trigger import ModelIntegrityError, ModelNotFoundError
from face_trigger.model_files import BUNDLED_MODELS, ENV_MODEL_DIR, sha256_hex

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
YUNET = BUNDLED_MODELS["detector"]
SFACE = BUNDLED_MODELS["embedder"]


def test_manifest_checksums_and_code_table_agree():
    manifest = json.loads((REPO_MODELS / "manifest.json").read_text())
    sums = dict(line.split()[::-1]
                for line in (REPO_MODELS / "SHA256SUMS").read_text().splitlines())
    for entry in manifest["models"]:
        bundled = BUNDLED_MODELS[entry["role"]]
        assert entry["file"] == bundled.filename
        assert entry["sha256"] == bundled.sha256 == sums[entry["file"]]
        assert entry["size"] == bundled.size
        assert (REPO_MODELS / entry["licence_file"]).is_file()


@pytest.mark.parametrize("role", sorted(BUNDLED_MODELS))
def test_bundled_models_verify(role):
    data, info = ft.model_files.read_verified(role)
    assert info.bundled and info.sha256 == BUNDLED_MODELS[role].sha256 == sha256_hex(data)
    assert info.id.startswith(Path(BUNDLED_MODELS[role].filename).stem + "@")


def copy_model(tmp_path: Path, bundled) -> Path:
    target = tmp_path / bundled.filename
    shutil.copyfile(ft.model_files.locate_model(bundled.role), target)
    return target


def test_flipped_byte_is_refused_with_both_hashes(tmp_path):
    path = copy_model(tmp_path, YUNET)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as info:
        ft.detector.YuNetDetector(path)
    message = str(info.value)
    assert str(path) in message and YUNET.sha256 in message and sha256_hex(bytes(data)) in message


def test_truncated_embedder_is_refused(tmp_path):
    path = copy_model(tmp_path, SFACE)
    path.write_bytes(path.read_bytes()[: SFACE.size // 3])
    with pytest.raises(ModelIntegrityError, match="expected sha256"):
        ft.load_model(path)


def test_empty_model_file(tmp_path):
    path = tmp_path / SFACE.filename
    path.write_bytes(b"")
    with pytest.raises(ModelIntegrityError, match="empty"):
        ft.embedder.SFaceEmbedder(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        ft.embedder.SFaceEmbedder(tmp_path / "missing.onnx")
    assert issubclass(ModelNotFoundError, FileNotFoundError)


def test_env_dir_is_searched_first_and_checked(tmp_path, monkeypatch):
    path = copy_model(tmp_path, YUNET)
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    assert ft.model_files.locate_model("detector") == path
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelIntegrityError):
        ft.detector.YuNetDetector()


def test_custom_model_is_accepted_with_its_own_identity(tmp_path):
    custom = tmp_path / "my_yunet.onnx"
    shutil.copyfile(ft.model_files.locate_model("detector"), custom)
    data, info = ft.model_files.read_verified("detector", custom)
    # The bytes are the bundled model's, so it is recognised as such.
    assert info.bundled and info.sha256 == YUNET.sha256


def test_custom_model_pinned_hash_mismatch(tmp_path):
    custom = tmp_path / "my_yunet.onnx"
    shutil.copyfile(ft.model_files.locate_model("detector"), custom)
    with pytest.raises(ModelIntegrityError, match="0" * 64):
        ft.detector.YuNetDetector(custom, expected_sha256="0" * 64)


def available_engines():
    engines = [("opencv", "OpenCV")]
    if ft.engines.openvino_available():
        engines.append(("openvino", "OpenVINO"))
    return engines


def test_unparseable_custom_model_gives_typed_error(tmp_path):
    custom = tmp_path / "not_really.onnx"
    custom.write_bytes(b"\x08\x07garbage that is not an onnx graph" * 100)
    for engine, runtime in available_engines():
        with pytest.raises(ModelIntegrityError, match=f"could not be loaded by {runtime}"):
            ft.embedder.SFaceEmbedder(custom, engine=engine)
    data, info = ft.model_files.read_verified("embedder", custom)
    assert not info.bundled and info.name == "not_really"


def test_unknown_role():
    with pytest.raises(ValueError, match="unknown model role"):
        ft.model_files.locate_model("classifier")
    with pytest.raises(ValueError, match="role must be"):
        ft.load_model(role="classifier")


def test_load_model_seed_entry_point():
    embedder = ft.load_model()
    assert isinstance(embedder, ft.embedder.SFaceEmbedder) and embedder.model.bundled
    assert isinstance(ft.load_model(role="detector"), ft.detector.YuNetDetector)
