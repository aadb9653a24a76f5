"""FaceRecognizer on real faces: enrol, recognise, reject strangers, save and load safely."""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import face_trigger as ft
from face_trigger import EmbeddingError, ModelFileError, NotFittedError
from face_trigger.errors import LabelMapError
from face_trigger.signed_file import read_signed, write_signed
from face_trigger.testing import paste_faces

PACKAGE_PARENT = str(Path(ft.__file__).resolve().parent.parent)


def variants(image: np.ndarray):
    """Other 'photos' of a person made from one: mirrored, darker, smaller, turned."""
    h, w = image.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 0.9)
    return [cv2.flip(image, 1), cv2.convertScaleAbs(image, alpha=0.7, beta=10),
            cv2.resize(image, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA),
            cv2.warpAffine(image, turn, (w, h), borderMode=cv2.BORDER_REFLECT)]


@pytest.fixture(scope="module")
def faces(pipeline, images, reference):
    biden = [pipeline.analyze(v)[0].embedding for v in variants(images["biden"])]
    return {
        "train": np.stack([reference[n].embedding for n in
                           ("obama", "obama3", "obama_partial_face2")] + [
            reference["biden"].embedding] + biden[:3]),
        "labels": ["obama"] * 3 + ["biden"] * 4,
        "obama_new": reference["obama2"].embedding,
        "biden_new": biden[3],
        "astronaut": reference["astronaut"].embedding,
    }


@pytest.fixture(scope="module", params=["svm", "knn"])
def trained(request, faces):
    return ft.FaceRecognizer(classifier=request.param).fit(faces["train"], faces["labels"])


def test_recognises_new_photos_and_rejects_a_stranger(trained, faces):
    queries = np.stack([faces["obama_new"], faces["biden_new"], faces["astronaut"]])
    codes = trained.infer(queries)
    assert trained.label_map_.decode(codes) == ["obama", "biden", "unknown"]
    assert list(trained.predict(queries)) == ["obama", "biden", "unknown"]
    who = trained.identify(queries)
    assert [i.known for i in who] == [True, True, False]
    assert who[0].similarity >= ft.IDENTIFY_COSINE and who[2].similarity < ft.IDENTIFY_COSINE
    assert trained.infer(faces["astronaut"], unknown_index=99).tolist() == [99]


def test_single_embedding_and_codes(trained, faces):
    code = trained.infer(faces["obama_new"])
    assert code.shape == (1,) and code.dtype == np.int64
    assert trained.label_map_.name(int(code[0])) == "obama"
    assert list(trained.classes_) == ["biden", "obama"]


def test_probabilities_follow_the_label_map(trained, faces):
    proba = trained.predict_proba(np.stack([faces["obama_new"], faces["biden_new"]]))
    assert proba.shape == (2, 2)
    assert np.allclose(proba.sum(axis=1), 1)
    assert np.argmax(proba[0]) == trained.label_map_.code("obama")


def test_fast_knn_votes_match_scikit_learn(faces, images, pipeline):
    recognizer = ft.FaceRecognizer(classifier="knn").fit(faces["train"], faces["labels"])
    queries = np.stack([faces["obama_new"], faces["biden_new"], faces["astronaut"],
                        faces["train"][0]] + [f.embedding for f in pipeline.analyze(
                            cv2.flip(images["obama3"], 1))])
    ours = recognizer.predict_proba(queries)
    theirs = recognizer.classifier_.predict_proba(queries)
    assert np.allclose(ours, theirs, atol=1e-4)


def test_one_person_is_enough(faces):
    recognizer = ft.FaceRecognizer().train(faces["train"][:3], ["obama"] * 3)
    assert recognizer.classifier_ is None
    names = [i.name for i in recognizer.identify(
        np.stack([faces["obama_new"], faces["biden_new"], faces["astronaut"]]))]
    assert names == ["obama", "unknown", "unknown"]


@pytest.mark.parametrize("classifier", ["svm", "knn"])
def test_ids_as_labels_follow_the_estimator_contract(faces, classifier):
    """predict returns values of classes_ (the labels given to fit), unknown_label for a
    rejected face; so score() works with integer ids as with names."""
    recognizer = ft.FaceRecognizer(classifier=classifier).fit(faces["train"],
                                                              [7] * 3 + [3] * 4)
    assert recognizer.label_map_.names == ("3", "7") and recognizer.classes_.tolist() == [3, 7]
    queries = np.stack([faces["obama_new"], faces["biden_new"], faces["astronaut"]])
    assert recognizer.predict(queries).tolist() == [7, 3, -1]
    assert recognizer.score(queries, [7, 3, -1]) == 1.0
    assert recognizer.predict_proba(queries).shape == (3, 2)
    named = ft.FaceRecognizer(classifier=classifier, unknown_label="nobody").fit(
        faces["train"], faces["labels"])
    assert named.predict(queries).tolist() == ["obama", "biden", "nobody"]
    assert named.score(queries, ["obama", "biden", "nobody"]) == 1.0


def test_parameters_are_only_set_by_init_or_set_params(faces):
    from sklearn.base import clone

    recognizer = ft.FaceRecognizer(classifier="knn", unknown_threshold=0.5, n_neighbors=3)
    params = recognizer.get_params()
    assert params["classifier"] == "knn" and params["unknown_threshold"] == 0.5
    recognizer.train(faces["train"], faces["labels"])  # the seed call keeps the classifier
    assert recognizer.get_params() == params
    copy = clone(recognizer)
    assert copy.get_params() == params and not hasattr(copy, "classes_")
    recognizer.train(faces["train"], faces["labels"], classifier="svm")  # asked for: set_params
    assert recognizer.classifier == "svm"


def test_margin_rejects_a_query_between_two_people(faces):
    obama, biden = faces["train"][0], faces["train"][3]
    recognizer = ft.FaceRecognizer(unknown_threshold=0.0).fit(
        np.stack([obama, biden]), ["obama", "biden"])
    between = (obama + biden) / 2
    assert recognizer.identify(between)[0].name == "unknown"


def test_bad_input(trained, faces):
    with pytest.raises(EmbeddingError, match=r"\(N, 128\)"):
        trained.infer(np.zeros((2, 64), np.float32))
    with pytest.raises(EmbeddingError, match="NaN"):
        trained.infer(np.full(128, np.nan))
    with pytest.raises(EmbeddingError, match="zeros"):
        trained.infer(np.zeros(128))
    with pytest.raises(EmbeddingError, match="numeric"):
        trained.infer(["a"] * 128)
    with pytest.raises(EmbeddingError, match="zero embeddings"):
        ft.FaceRecognizer().fit(np.zeros((0, 128)), [])
    with pytest.raises(ValueError, match="7 embeddings but 2 labels"):
        ft.FaceRecognizer().fit(faces["train"], ["a", "b"])
    with pytest.raises(ValueError, match="classifier must be"):
        ft.FaceRecognizer(classifier="forest").fit(faces["train"], faces["labels"])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not trained"):
        ft.FaceRecognizer().infer(np.ones(128))
    with pytest.raises(NotFittedError):
        ft.FaceRecognizer().save("never.pkl")


def test_embed_aligns_and_batches(images, reference):
    recognizer = ft.FaceRecognizer()
    frames = [images["obama"], images["biden"]]
    landmarks = np.stack([reference["obama"].landmarks, reference["biden"].landmarks])
    out = recognizer.embed(frames, landmarks)
    assert out.shape == (2, 128) and out.dtype == np.float32
    assert float(out[0] @ reference["obama"].embedding) > 0.9999
    with pytest.raises(ft.errors.InvalidLandmarksError, match="2 landmark sets for 1 images"):
        recognizer.embed([images["obama"]], landmarks)
    with pytest.raises(ft.InvalidImageError):
        recognizer.embed([images["obama"].astype(np.float32)], landmarks[:1])


def test_four_threads_infer_and_embed(trained, faces, images, reference):
    queries = np.stack([faces["obama_new"], faces["biden_new"], faces["astronaut"]] * 20)
    landmarks = reference["obama"].landmarks
    serial_codes = trained.infer(queries)
    serial_embedding = trained.embed(images["obama"], landmarks)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append((trained.infer(queries), trained.embed(images["obama"], landmarks)))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 20
    for codes, embedding in results:
        assert np.array_equal(codes, serial_codes)
        assert np.allclose(embedding, serial_embedding, atol=1e-6)


# ------------------------------------------------------------------ saving and loading

@pytest.mark.slow
def test_save_load_roundtrip_in_a_new_process(tmp_path, trained, faces):
    path = tmp_path / "model.pkl"
    trained.save(path, key="door-secret")
    queries = np.stack([faces["obama_new"], faces["biden_new"], faces["astronaut"]])
    np.save(tmp_path / "q.npy", queries)
    script = (
        "import json, sys, numpy as np, face_trigger as ft\n"
        f"r = ft.FaceRecognizer().load({str(path)!r}, key='door-secret')\n"
        f"q = np.load({str(tmp_path / 'q.npy')!r})\n"
        "print(json.dumps({'codes': r.infer(q).tolist(), 'proba': r.predict_proba(q).tolist(),"
        " 'names': list(r.label_map_.names)}))\n")
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["codes"] == trained.infer(queries).tolist()
    assert np.allclose(loaded["proba"], trained.predict_proba(queries))
    assert loaded["names"] == list(trained.label_map_.names)


def test_seed_constructor_loads_model_and_label_map(tmp_path, trained, faces, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    trained.save(tmp_path / "m.pkl")
    ft.label_map.LabelMap(("Joe Biden", "Barack Obama")).save(tmp_path / "names.json")
    with pytest.warns(DeprecationWarning, match="from_file"):
        recognizer = ft.FaceRecognizer(classifier_model_path=tmp_path / "m.pkl",
                                       label_map_path=tmp_path / "names.json")
    assert recognizer.identify(faces["obama_new"])[0].name == "Barack Obama"
    header, _, signed = read_signed(tmp_path / "m.pkl")
    assert not signed and header["labels"] == ["biden", "obama"]
    assert header["embedder_model"].startswith("face_recognition_sface_2021dec@")
    for key in ("library_version", "sklearn_version", "created", "unknown_threshold", "margin",
                "embedding_dim", "format_version"):
        assert key in header


def test_key_from_environment(tmp_path, trained, monkeypatch):
    monkeypatch.setenv("FACE_TRIGGER_MODEL_KEY", "from-env")
    trained.save(tmp_path / "m.pkl")
    assert read_signed(tmp_path / "m.pkl")[2]  # signed with the env key
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY")
    with pytest.raises(ModelFileError, match="is signed"):
        ft.FaceRecognizer().load(tmp_path / "m.pkl")


class _Marker:
    """Unpickling this creates a file: proof that a loader unpickled it."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _refused(path: Path, marker: Path, match: str, key=None) -> None:
    with pytest.raises(ModelFileError, match=match):
        ft.FaceRecognizer().load(path, key=key)
    assert not marker.exists(), "the loader unpickled an unverified payload"


def test_tampered_files_are_refused_before_unpickling(tmp_path, trained, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    marker = tmp_path / "pwned"
    good = tmp_path / "good.pkl"
    trained.save(good, key="k1")
    data = good.read_bytes()
    evil = pickle.dumps(_Marker(marker))

    flipped = tmp_path / "flipped.pkl"
    flipped.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    _refused(flipped, marker, "failed verification", key="k1")

    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    _refused(truncated, marker, "truncated", key="k1")
    _refused(good, marker, "failed verification", key="another key")

    plain = tmp_path / "plain.pkl"
    plain.write_bytes(evil)
    _refused(plain, marker, "plain pickle", key="k1")
    _refused(plain, marker, "plain pickle")

    header, _, _ = read_signed(good, key="k1")
    swapped = tmp_path / "swapped.pkl"  # header and signature of a good file, evil payload
    swapped.write_bytes(data[: len(data) - header["payload_size"]] + evil)
    _refused(swapped, marker, "truncated|failed verification", key="k1")

    forged = tmp_path / "forged.pkl"  # digest-only file: anyone can make one, so a key refuses it
    write_signed(forged, dict(header, payload_size=len(evil)), evil, key=None)
    _refused(forged, marker, "not signed", key="k1")


def test_file_for_another_embedder_is_refused(tmp_path, trained, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    trained.save(tmp_path / "m.pkl")
    other = tmp_path / "my_finetuned_sface.onnx"
    data = bytearray(Path(ft.model_files.locate_model("embedder")).read_bytes())
    data[-1000] ^= 0x01
    other.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="trained on embeddings of"):
        ft.FaceRecognizer(dnn_model_path=other).load(tmp_path / "m.pkl")


def test_other_sklearn_version_warns(tmp_path, trained, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    trained.save(tmp_path / "m.pkl")
    header, payload, _ = read_signed(tmp_path / "m.pkl")
    write_signed(tmp_path / "old.pkl", dict(header, sklearn_version="0.24.2"), payload)
    with pytest.warns(UserWarning, match="scikit-learn 0.24.2"):
        ft.FaceRecognizer().load(tmp_path / "old.pkl")


KILL_SCRIPT = """
import sys, numpy as np, face_trigger as ft
rng = np.random.default_rng(0)
x = rng.normal(size=(60000, 128)).astype(np.float32)
r = ft.FaceRecognizer(classifier="knn").fit(x, np.arange(60000) % 2)
print("saving", flush=True)
while True:
    r.save(sys.argv[1])
"""


@pytest.mark.slow
def test_kill_during_save_leaves_the_previous_file_intact(tmp_path, trained, faces, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    target = tmp_path / "model.pkl"
    trained.save(target)
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(target)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout.readline().strip() == "saving"
        deadline = time.monotonic() + 60
        # Kill the moment a temp file exists: the child is then inside a write.
        while not list(tmp_path.glob(".model.pkl.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.0005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        assert list(tmp_path.glob(".model.pkl.*.tmp")), "the kill did not land inside a write"
        loaded = ft.FaceRecognizer().load(target)  # the old file or a whole new one
        assert len(loaded.enrolled_) in (len(trained.enrolled_), 60000)
        for leftover in tmp_path.glob(".model.pkl.*.tmp"):
            leftover.unlink()
    assert ft.FaceRecognizer().load(target).infer(faces["obama_new"]).shape == (1,)


# ------------------------------------------------------------------ enrolment from a folder

def test_fit_folder_enrols_and_reports_skipped_photos(tmp_path, images, reference):
    for person, photos in {"obama": ["obama", "obama3"], "biden": ["biden"]}.items():
        (tmp_path / person).mkdir()
        for name in photos:
            ft.write_image(tmp_path / person / f"{name}.jpg", images[name])
    ft.write_image(tmp_path / "biden" / "flipped.png", cv2.flip(images["biden"], 1))
    ft.write_image(tmp_path / "obama" / "wall.jpg", np.full((200, 300, 3), 90, np.uint8))
    two = paste_faces((1200, 600), [
        (ft.image_io.crop_around(images["obama"], reference["obama"].box), 0, 0, 0.8),
        (ft.image_io.crop_around(images["biden"], reference["biden"].box), 600, 0, 0.8)])
    ft.write_image(tmp_path / "obama" / "group.jpg", two)
    (tmp_path / "obama" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "notes.txt").write_text("not a person")

    recognizer = ft.FaceRecognizer(classifier="knn")
    result = recognizer.fit_folder(tmp_path, progress=False)
    assert sorted(result.labels) == ["biden", "biden", "obama", "obama"]
    statuses = {r.path.name: r.status for r in result.records}
    assert statuses["wall.jpg"] == "no_face"
    assert statuses["group.jpg"] == "several_faces"
    assert statuses["broken.jpg"] == "unreadable"
    assert "skipped 3" in result.summary()
    assert recognizer.identify(reference["obama2"].embedding)[0].name == "obama"


def test_fit_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        ft.FaceRecognizer().fit_folder(tmp_path / "missing")
    (tmp_path / "nobody").mkdir()
    with pytest.raises(EmbeddingError, match="nothing to train on"):
        ft.FaceRecognizer().fit_folder(tmp_path)


# ------------------------------------------------------------------ label maps

def test_label_map_json_and_legacy_pickle(tmp_path, trained, monkeypatch):
    path = trained.save_label_mapping(tmp_path / "labels.json")
    assert json.loads(path.read_text())["labels"] == {"0": "biden", "1": "obama"}
    assert ft.label_map.LabelMap.load(path) == trained.label_map_
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps({0: "biden", 1: "obama"}))
    with pytest.raises(LabelMapError, match="allow_pickle"):
        ft.label_map.LabelMap.load(legacy)
    assert ft.label_map.LabelMap.load(legacy, allow_pickle=True).names == ("biden", "obama")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "face_trigger-label-map", "version": 1, "labels": {"1": "x"}}')
    with pytest.raises(LabelMapError, match="0..K-1"):
        ft.label_map.LabelMap.load(bad)
    with pytest.raises(LabelMapError, match="not in the label map"):
        trained.label_map_.name(5)
    with pytest.raises(LabelMapError, match="3 names"):
        ft.label_map.LabelMap(("a", "b", "c")).save(tmp_path / "three.json")
        trained.load_label_mapping(tmp_path / "three.json")


@pytest.mark.parametrize("classifier", ["svm", "knn"])
def test_a_model_saved_by_release_0_1_still_loads(data_dir, reference, classifier):
    """tests/data/recognizer_0_*.pkl were saved by face_trigger 0.1.0 (signed with the key
    below) before the modules moved into door/ and gallery/: they must keep loading."""
    model = ft.FaceRecognizer().load(data_dir / f"recognizer_0_{classifier}.pkl",
                                     key="compat-test-key")
    assert model.classifier == classifier and set(model.classes_) == {"obama", "biden"}
    queries = np.stack([reference[n].embedding for n in ("obama_partial_face2", "astronaut")])
    assert [i.name for i in model.identify(queries)] == ["obama", "unknown"]


def test_clone_of_a_recognizer_loaded_from_a_file(tmp_path, trained):
    """from_file leaves __init__ storing parameters only: scikit-learn's clone() works."""
    from sklearn.base import clone

    trained.save(tmp_path / "m.pkl", key="k")
    loaded = ft.FaceRecognizer.from_file(tmp_path / "m.pkl", key="k")
    fresh = clone(loaded)
    assert fresh.get_params() == loaded.get_params()
    assert not hasattr(fresh, "enrolled_") and hasattr(loaded, "enrolled_")
    assert loaded.get_params()["classifier"] == trained.classifier
