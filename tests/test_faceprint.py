"""Faceprints: round trips on real embeddings, model checks, input errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import face_trigger as ft
from face_trigger import EmbeddingError
from face_trigger.model_files import bundled_info

SFACE_ID = bundled_info("embedder").id


@pytest.fixture(scope="module")
def prints(pipeline, images):
    return {n: pipeline.largest_faceprint(images[n]) for n in ("obama", "obama2", "biden")}


def test_json_round_trip(prints):
    original = prints["obama"]
    text = original.to_json()
    data = json.loads(text)
    assert data["format"] == "face_trigger-faceprint" and data["version"] == 1
    assert data["dim"] == 128 and data["scale"] == 32767 and len(data["values"]) == 128
    assert data["model"] == original.model and data["library_version"] == ft.__version__
    back = ft.Faceprint.from_json(text)
    assert back.model == original.model
    assert float(back.vector @ original.vector) >= 1 - 1e-4
    assert abs(back.similarity(prints["obama2"]) - original.similarity(prints["obama2"])) < 1e-4


def test_int16_round_trip(prints):
    for fp in prints.values():
        q = fp.to_int16()
        assert q.dtype == np.int16 and q.shape == (128,)
        back = ft.Faceprint.from_int16(q, fp.model)
        assert 1 - float(back.vector @ fp.vector) <= 1e-4
        assert np.isclose(np.linalg.norm(back.vector), 1, atol=1e-6)


def test_vectors_are_read_only_copies(pipeline, images):
    embedding = pipeline.analyze(images["obama"])[0].embedding.copy()
    fp = ft.Faceprint(embedding, "m@1")
    embedding[0] = 5
    assert fp.vector[0] != 5
    with pytest.raises(ValueError):
        fp.vector[0] = 1


def test_different_models_are_not_compared(prints):
    other = ft.Faceprint(prints["obama2"].vector, "another_model@123456789abc")
    with pytest.raises(EmbeddingError, match="different models"):
        prints["obama"].similarity(other)
    with pytest.raises(EmbeddingError, match="different models"):
        ft.verification.compare(prints["obama"], other)


@pytest.mark.parametrize("vector, message", [
    (np.ones(128, np.float32), "unit length"),
    (np.ones(64, np.float32) / 8, r"shape \(128,\)"),
    (np.full(128, np.nan, np.float32), "NaN"),
    (np.ones(128, np.int32), "floating point"),
    (np.ones((1, 128), np.float32) / np.sqrt(128), r"shape \(128,\)"),
])
def test_bad_vectors(vector, message):
    with pytest.raises(EmbeddingError, match=message):
        ft.Faceprint(vector, SFACE_ID)


def test_a_model_of_another_size_keeps_its_size():
    """SFace's faceprints are 128-d; a model of one's own may have any size (64 here)."""
    faceprint = ft.Faceprint(np.ones(64, np.float32) / 8, "mine@1")
    assert faceprint.dim == 64
    assert ft.Faceprint.from_json(faceprint.to_json()).dim == 64
    with pytest.raises(EmbeddingError, match="different models"):
        faceprint.similarity(ft.Faceprint(np.ones(128, np.float32) / np.sqrt(128), SFACE_ID))


@pytest.mark.parametrize("text, message", [
    ("{not json", "malformed"),
    ("[1, 2]", "not a faceprint"),
    ('{"format": "face_trigger-faceprint", "version": 9}', "version"),
    ('{"format": "face_trigger-faceprint", "version": 1, "model": "m"}', "lacks"),
])
def test_malformed_json(text, message):
    with pytest.raises(EmbeddingError, match=message):
        ft.Faceprint.from_json(text)


def test_json_values_checked(prints):
    data = prints["obama"].to_dict()
    for change, message in [({"dim": 64}, "dim 64"), ({"values": [1.5] * 128}, "integers"),
                            ({"values": [0] * 128}, "all zero"), ({"scale": 10}, "scale"),
                            ({"values": [40000] * 128}, "int16 range")]:
        with pytest.raises(EmbeddingError, match=message):
            ft.Faceprint.from_json(json.dumps(dict(data, **change)))
    with pytest.raises(EmbeddingError, match="model"):
        ft.Faceprint(prints["obama"].vector, "")
