"""SFace embedder: unit rows, batching, golden embeddings, input checks."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import face_trigger as ft
from face_trigger import InvalidImageError

GOLDEN = "golden_embeddings.npz"


@pytest.fixture(scope="module")
def chips(images, reference):
    names = ["obama", "obama2", "obama3", "biden", "astronaut"]
    frames = [images[n] for n in names]
    landmarks = np.stack([reference[n].landmarks for n in names])
    return ft.align.align_faces(frames, landmarks)


def test_unit_rows_float32(pipeline, chips):
    out = pipeline.embedder.embed_chips(chips)
    assert out.shape == (5, 128) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_batching_matches_one_at_a_time(pipeline, chips):
    batched = pipeline.embedder.embed_chips(chips)
    single = np.concatenate([pipeline.embedder.embed_chips(c) for c in chips])
    small_batches = ft.embedder.SFaceEmbedder(batch_size=2).embed_chips(chips)
    assert np.allclose(batched, single, atol=1e-5)
    assert np.allclose(batched, small_batches, atol=1e-5)


def test_empty_batch(pipeline):
    out = pipeline.embedder.embed_chips(np.zeros((0, 112, 112, 3), np.uint8))
    assert out.shape == (0, 128) and out.dtype == np.float32


def test_golden_embeddings(pipeline, images, data_dir):
    """Catches any silent change in detection, alignment or preprocessing."""
    golden = np.load(data_dir / GOLDEN)
    assert set(golden.files) == {"obama", "obama2", "obama3", "biden", "astronaut"}
    for name in golden.files:
        face = pipeline.analyze(images[name])[0]
        assert float(face.embedding @ golden[name]) >= 0.999, name


@pytest.mark.parametrize("bad", [
    np.zeros((112, 112, 3), np.float32),
    np.zeros((1, 96, 112, 3), np.uint8),
    np.zeros((1, 112, 112, 4), np.uint8),
    [[0] * 3] * 112,
])
def test_bad_chips(pipeline, bad):
    with pytest.raises(InvalidImageError, match="chips must be"):
        pipeline.embedder.embed_chips(bad)


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        ft.embedder.SFaceEmbedder(batch_size=0)


def test_pickle_rebuilds_and_reverifies(pipeline, chips):
    clone = pickle.loads(pickle.dumps(pipeline.embedder))
    assert clone.model == pipeline.embedder.model
    assert np.allclose(clone.embed_chips(chips[:1]), pipeline.embedder.embed_chips(chips[:1]))
