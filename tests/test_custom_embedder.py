"""A user's own ONNX embedder of another size (512-d, as ArcFace-family models are) runs end
to end: pipeline, faceprints, both gallery backends, recognizer save/load, the door, on both
engines.

The model is built here from the bundled SFace graph followed by a fixed 128 -> 512 matrix
with orthonormal rows: its 512-d embeddings have exactly SFace's cosines, so the shipped
thresholds keep their meaning and every answer can be checked against SFace's own.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

import face_trigger as ft
from face_trigger.door.actions import LogAction
from face_trigger.door.decision import DecisionSettings
from face_trigger.door.sources import FrameSource
from face_trigger.door.trigger import DoorTrigger
from face_trigger.errors import EmbeddingError, GalleryError, ModelFileError
from face_trigger.model_files import locate_model
from face_trigger.testing import Visit, door_video, write_video

from conftest import require

DIM = 512
ENGINES = ["opencv", "openvino"]


def build_512d_model(path):
    """SFace's graph, then MatMul by Q (128, 512) with Q Q^T = I: cosines are preserved."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper  # noqa: PLC0415

    model = onnx.load_from_string(locate_model("embedder").read_bytes())
    graph = model.graph
    q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(DIM, 128)))
    graph.initializer.append(numpy_helper.from_array(q.T.astype(np.float32), "to_512"))
    old = graph.output[0]
    flat = helper.make_node("Flatten", [old.name], ["flat_128"], axis=1)
    graph.node.extend([flat, helper.make_node("MatMul", ["flat_128", "to_512"], ["emb_512"])])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("emb_512", onnx.TensorProto.FLOAT,
                                                      ["N", DIM]))
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return build_512d_model(tmp_path_factory.mktemp("arcface") / "arcface_like_512.onnx")


def own_embedder(path, engine="opencv"):
    # the SFace graph takes raw 0-255 RGB: mean 0, std 1
    return ft.OnnxEmbedder(path, mean=0.0, std=1.0, channels="rgb", engine=engine)


@pytest.fixture(scope="module")
def own_pipeline(model_path):
    return ft.FacePipeline(embedder=own_embedder(model_path))


@pytest.mark.parametrize("engine", ENGINES)
def test_size_is_read_from_the_model_and_cosines_match_sface(model_path, engine, images,
                                                             pipeline):
    if engine == "openvino":
        require("openvino", "openvino")
    embedder = own_embedder(model_path, engine)
    assert embedder.dim == DIM and not embedder.model.bundled
    assert embedder.model.name == "arcface_like_512"
    own = ft.FacePipeline(embedder=embedder, engine=engine)
    faces = {n: own.analyze(images[n])[0] for n in ("obama", "obama2", "biden")}
    ref = {n: pipeline.analyze(images[n])[0] for n in faces}
    assert all(f.embedding.shape == (DIM,) for f in faces.values())
    for a, b in (("obama", "obama2"), ("obama", "biden")):
        ours = float(faces[a].embedding @ faces[b].embedding)
        theirs = float(ref[a].embedding @ ref[b].embedding)
        assert abs(ours - theirs) < 2e-3, (a, b, ours, theirs)
    assert float(faces["obama"].embedding @ faces["obama2"].embedding) > ft.MATCH_COSINE
    # a pickled embedder comes back from its file, checked again
    again = pickle.loads(pickle.dumps(embedder))
    assert again.dim == DIM and again.model == embedder.model


def test_a_wrong_dim_or_hash_is_refused(model_path, images, own_pipeline):
    wrong = ft.OnnxEmbedder(model_path, mean=0.0, std=1.0, channels="rgb", dim=256,
                            engine="opencv")
    face = own_pipeline.detect(images["obama"])
    with pytest.raises(ft.ModelIntegrityError, match="not \\(1, 256\\)"):
        ft.FacePipeline(own_pipeline.detector, wrong).embed(images["obama"], face.landmarks)
    with pytest.raises(ft.ModelIntegrityError, match="integrity"):
        ft.OnnxEmbedder(model_path, sha256="0" * 64)
    with pytest.raises(ft.InvalidParameterError, match="std"):
        ft.OnnxEmbedder(model_path, std=0)
    with pytest.raises(ft.InvalidParameterError, match="embedder must have"):
        ft.FacePipeline(embedder=object())


def test_faceprints_carry_the_size(own_pipeline, images):
    faceprint = own_pipeline.largest_faceprint(images["obama"])
    assert faceprint.dim == DIM and faceprint.model == own_pipeline.model.id
    back = ft.Faceprint.from_json(faceprint.to_json())
    assert back.dim == DIM and back.similarity(faceprint) > 0.999


def test_gallery_of_512d_faceprints(gallery_location, own_pipeline, images):
    gallery = ft.Gallery(gallery_location, own_pipeline)
    assert gallery.dim == DIM
    gallery.add_faceprints("obama", [own_pipeline.largest_faceprint(images["obama"])])
    gallery.add_faceprints("biden", [own_pipeline.largest_faceprint(images["biden"])])
    query = own_pipeline.analyze(images["obama2"])[0].embedding
    assert gallery.identify(query)[0].name == "obama"
    with pytest.raises(EmbeddingError, match="512"):
        gallery.identify(np.ones(128, np.float32) / np.sqrt(128))
    with pytest.raises(EmbeddingError, match="512"):
        gallery.add_faceprints("x", [np.ones(128, np.float32) / np.sqrt(128)])
    gallery.close()
    # reopened by its model id alone, the store remembers its size; another size is refused
    again = ft.Gallery(gallery_location, own_pipeline.model)
    assert again.dim == DIM and again.identify(query)[0].name == "obama"
    again.close()
    with pytest.raises(GalleryError, match="512-d"):
        ft.Gallery(gallery_location, own_pipeline.model, dim=128)


def test_recognizer_saves_and_loads_512d(tmp_path, model_path, own_pipeline, images):
    embedder = own_pipeline.embedder
    X = np.stack([own_pipeline.analyze(images[n])[0].embedding
                  for n in ("obama", "obama3", "biden")])
    recognizer = ft.FaceRecognizer(embedder=embedder, classifier="knn").fit(
        X, ["obama", "obama", "biden"])
    assert recognizer.n_features_in_ == DIM
    recognizer.save(tmp_path / "own.pkl", key="k")
    loaded = ft.FaceRecognizer.from_file(tmp_path / "own.pkl", key="k", embedder=embedder)
    query = own_pipeline.analyze(images["obama2"])[0].embedding
    assert loaded.identify(query)[0].name == "obama"
    assert loaded.embed(images["obama2"], own_pipeline.detect(images["obama2"]).landmarks
                        ).shape == (1, DIM)
    fresh = clone(loaded)
    assert fresh.get_params()["classifier"] == "knn" and not hasattr(fresh, "enrolled_")
    # a recognizer of SFace (128-d) refuses the file
    with pytest.raises(ModelFileError, match="re-enrol"):
        ft.FaceRecognizer.from_file(tmp_path / "own.pkl", key="k")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_door_opens_with_a_512d_embedder(backend, engine, request, tmp_path, model_path,
                                             images, reference):
    if engine == "openvino":
        require("openvino", "openvino")
    own_pipeline = ft.FacePipeline(embedder=own_embedder(model_path, engine), engine=engine)
    location = (str(tmp_path / "door.db") if backend == "sqlite"
                else request.getfixturevalue("pg_url"))
    gallery = ft.Gallery(location, own_pipeline)
    gallery.add_faceprints("obama", [own_pipeline.largest_faceprint(images["obama"])])
    crop = ft.image_io.crop_around(images["obama2"], reference["obama2"].box, 0.6)
    visit = Visit("obama", crop, reference["obama2"].width, start_s=0.3, walk_s=2.0)
    video = write_video(tmp_path / "door.avi",
                        (f for f, _ in door_video([visit], 3.5, size=(640, 360))), 25.0)
    trigger = DoorTrigger(gallery, own_pipeline, settings=DecisionSettings(min_face_px=40),
                          actions=[LogAction()])
    events = list(trigger.run(FrameSource(video)))
    trigger.close()
    gallery.close()
    fired = [e for e in events if e.fired]
    assert [e.person for e in fired] == ["obama"]
    assert fired[0].model == own_pipeline.model.id
