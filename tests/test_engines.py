"""The two engines: cv2.dnn and OpenVINO give the same detections and the same embeddings
on the test photos (so they share the model identity), "auto" and $FACE_TRIGGER_ENGINE
choose between them, and OpenVINO's compiled models land in the cache folder."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import face_trigger as ft
from conftest import require
from face_trigger.detector import YuNetDetector
from face_trigger.embedder import SFaceEmbedder
from face_trigger.engines import resolve_engine
from face_trigger.testing import full_hd_frame


@pytest.fixture(scope="module")
def engines():
    require("openvino", "openvino")
    return {name: ft.FacePipeline(YuNetDetector(engine=name), SFaceEmbedder(engine=name))
            for name in ("opencv", "openvino")}


def test_both_engines_find_the_same_faces_and_embeddings(engines, images):
    cv, ov = engines["opencv"], engines["openvino"]
    assert cv.model.id == ov.model.id
    for name, image in images.items():
        for frame in (image, full_hd_frame(image)):
            a, b = cv.analyze(frame), ov.analyze(frame)
            assert len(a) == len(b), name
            for fa, fb in zip(a, b):
                assert np.abs(fa.box - fb.box).max() < 2.0, name
                assert np.abs(fa.landmarks - fb.landmarks).max() < 2.0, name
                assert abs(fa.score - fb.score) < 0.01, name
                assert float(fa.vector @ fb.vector) >= 0.999, name


def test_the_same_chip_gives_the_same_embedding(engines, images, reference):
    chips = np.stack([ft.align.align_faces(images[n], reference[n].landmarks[None])[0]
                      for n in ("obama", "biden", "astronaut")])
    a = engines["opencv"].embedder.embed_chips(chips)
    b = engines["openvino"].embedder.embed_chips(chips)
    assert np.einsum("ij,ij->i", a, b).min() >= 0.9999
    assert engines["openvino"].embedder.embed_chips(chips[:0]).shape == (0, 128)


def test_both_engines_give_the_same_liveness(engines, data_dir, images, reference):
    from face_trigger.liveness import LivenessChecker
    checkers = [LivenessChecker(engine=name) for name in ("opencv", "openvino")]
    for name in ("image_F1", "image_F2", "image_T1"):
        frame = ft.read_image(data_dir / "antispoof" / f"{name}.jpg")
        boxes = engines["opencv"].detect(frame).boxes
        a, b = (c.check(frame, boxes).probability for c in checkers)
        assert np.abs(a - b).max() < 1e-4, name
    boxes = np.stack([reference[n].box for n in ("obama", "obama")])  # a batch of two
    a, b = (c.check(images["obama"], boxes).probability for c in checkers)
    assert np.abs(a - b).max() < 1e-4


def test_bf16_embeddings_carry_their_own_identity(engines):
    fast = SFaceEmbedder(engine="openvino", precision="bf16")
    assert fast.model.id != engines["openvino"].model.id and "+bf16@" in fast.model.id
    with pytest.raises(ft.InvalidParameterError, match="bf16"):
        SFaceEmbedder(engine="opencv", precision="bf16")


def test_engine_choice(monkeypatch):
    with pytest.raises(ft.InvalidParameterError, match="engine"):
        resolve_engine("tensorrt")
    monkeypatch.setenv("FACE_TRIGGER_ENGINE", "opencv")
    assert resolve_engine("auto") == "opencv" and YuNetDetector().engine == "opencv"
    monkeypatch.setenv("FACE_TRIGGER_ENGINE", "gpu")
    with pytest.raises(ft.InvalidParameterError, match="FACE_TRIGGER_ENGINE"):
        resolve_engine("auto")
    monkeypatch.delenv("FACE_TRIGGER_ENGINE")
    expected = "openvino" if ft.engines.openvino_available() else "opencv"
    assert resolve_engine("auto") == expected


def test_compiled_models_are_cached_where_asked(tmp_path, data_dir):
    require("openvino", "openvino")
    code = ("import face_trigger as ft, numpy as np, sys; "
            "p = ft.FacePipeline(ft.detector.YuNetDetector(engine='openvino'), "
            "ft.embedder.SFaceEmbedder(engine='openvino')); "
            "print(len(p.analyze(ft.read_image(sys.argv[1]))))")
    env = {"FACE_TRIGGER_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    photo = str(data_dir / "obama.jpg")
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code, photo], capture_output=True,
                             text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "1"
    assert list((tmp_path / "openvino").glob("*.blob"))  # compiled once, loaded after


def test_cv2_reads_the_verified_bytes_from_an_in_memory_file():
    """The bytes that passed the hash are what OpenCV parses (a memfd named by its /proc
    path on Linux: no second read of the model file, no buffer copy)."""
    from face_trigger.engines import _as_file

    data = (ft.model_files.locate_model("embedder")).read_bytes()
    with _as_file(data) as source:
        if isinstance(source, str):
            with open(source, "rb") as same:
                assert same.read() == data
        else:  # no memfd here: the buffer itself
            assert source.tobytes() == data


def test_the_command_line_and_a_door_on_a_gallery_import_no_scikit_learn():
    """scikit-learn and SciPy (86 MB resident) only where a classifier is used."""
    code = ("import sys, face_trigger.cli.main, face_trigger.door.app; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
