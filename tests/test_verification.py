"""Verification and the ways to get faceprints, on real photos."""
from __future__ import annotations

import numpy as np
import pytest

import face_trigger as ft
from face_trigger import NoFaceError
from face_trigger.testing import paste_faces


@pytest.mark.parametrize("other, same", [("obama2", True), ("obama3", True),
                                         ("biden", False), ("astronaut", False)])
def test_verify_pairs(pipeline, data_dir, other, same):
    suffix = "png" if other == "astronaut" else "jpg"
    result = ft.verify(data_dir / "obama.jpg", data_dir / f"{other}.{suffix}", pipeline=pipeline)
    assert result.verified is same
    assert (result.similarity >= ft.MATCH_COSINE) is same
    assert result.threshold == ft.MATCH_COSINE
    assert 0.0 <= result.match_probability <= 1.0
    assert (result.match_probability > 0.5) is same
    assert result.model == pipeline.model.id
    assert all(box is not None and box.shape == (4,) for box in result.boxes)


def test_verify_accepts_arrays_and_bytes(pipeline, images, data_dir):
    result = ft.verify(images["obama"], (data_dir / "obama2.jpg").read_bytes(), pipeline=pipeline)
    assert result.verified


def test_no_face_names_the_image(pipeline, images):
    blank = np.full((300, 300, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="img2"):
        ft.verify(images["obama"], blank, pipeline=pipeline)
    with pytest.raises(NoFaceError, match="img1 and img2"):
        ft.verify(blank, blank, pipeline=pipeline)
    soft = ft.verify(blank, images["obama"], pipeline=pipeline, soft=True)
    assert not soft.verified and np.isnan(soft.similarity) and "img1" in soft.detail
    assert soft.boxes[0] is None and soft.boxes[1] is not None


def test_no_face_in_a_file_names_the_file(pipeline, data_dir, tmp_path):
    wall = tmp_path / "wall.png"
    ft.write_image(wall, np.full((300, 300, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match=f"no face found in {wall}"):
        ft.verify(data_dir / "obama.jpg", wall)  # the module's default pipeline


def test_match_probability_is_monotonic_and_bounded():
    calibration = ft.calibration.default_calibration()
    grid = np.linspace(-1, 1, 2001)
    p = calibration.probability(grid)
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    assert calibration.probability(-1.0) < 1e-6 and calibration.probability(1.0) > 1 - 1e-6


def test_compare_seed_order(pipeline, images):
    a, b = pipeline.largest_faceprint(images["obama"]), pipeline.largest_faceprint(
        images["obama2"])
    probability, similarity = ft.verification.compare(a, b)
    assert similarity == pytest.approx(ft.similarity(a, b))
    expected = ft.calibration.default_calibration().probability(similarity)
    assert probability == pytest.approx(expected)
    assert ft.verification.compare(a.vector, b.vector)[1] == pytest.approx(similarity)
    with pytest.raises(ft.EmbeddingError, match="faceprint with a faceprint"):
        ft.similarity(a, b.vector)


def test_similarities_one_against_many(pipeline, images):
    a = pipeline.largest_faceprint(images["obama"])
    gallery = np.stack([pipeline.largest_faceprint(images[n]).vector
                        for n in ("obama2", "biden", "astronaut")])
    values = ft.verification.similarities(a, gallery)
    assert values.shape == (3,) and int(np.argmax(values)) == 0
    with pytest.raises(ft.EmbeddingError, match=r"\(N, 128\)"):
        ft.verification.similarities(a, gallery[:, :64])


def test_largest_face_of_a_multi_face_frame(pipeline, images, reference):
    items = [(ft.image_io.crop_around(images["biden"], reference["biden"].box), 50, 100,
              120 / reference["biden"].width),
             (ft.image_io.crop_around(images["obama"], reference["obama"].box), 700, 100,
              300 / reference["obama"].width),
             (ft.image_io.crop_around(images["astronaut"], reference["astronaut"].box), 1500, 100,
              150 / reference["astronaut"].width)]
    frame = paste_faces((1920, 1080), items)
    all_prints = pipeline.faceprints(frame)
    assert len(all_prints) == 3
    largest = pipeline.largest_faceprint(frame)
    assert largest.similarity(pipeline.largest_faceprint(images["obama"])) >= ft.MATCH_COSINE
    assert max(fp.similarity(largest) for fp in all_prints) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(NoFaceError):
        pipeline.largest_faceprint(np.zeros((200, 200, 3), np.uint8))


def test_chip_input_equals_box_and_landmark_input(pipeline, images, reference):
    face = reference["biden"]
    from_landmarks = pipeline.faceprint_at(images["biden"], face.landmarks)
    chip = ft.align.align_faces(images["biden"], face.landmarks)[0]
    from_chip = pipeline.faceprint_from_chip(chip)
    assert from_chip.similarity(from_landmarks) == pytest.approx(1.0, abs=1e-6)
    assert from_chip.similarity(pipeline.largest_faceprint(images["biden"])) > 0.9999
