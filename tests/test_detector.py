"""YuNet detector on real photos and frames built from them."""
from __future__ import annotations

import numpy as np
import pytest

import face_trigger as ft
from face_trigger import InvalidImageError
from face_trigger.detector import detection_size
from face_trigger.testing import paste_faces

ONE_FACE = ["obama", "obama2", "obama3", "32bit", "obama_partial_face",
            "obama_partial_face2", "biden", "astronaut"]


@pytest.mark.parametrize("name", ONE_FACE)
def test_one_face_per_photo(pipeline, images, name):
    det = pipeline.detect(images[name])
    assert len(det) == 1, f"{name}: {len(det)} faces"
    face = det[0]
    height, width = images[name].shape[:2]
    x1, y1, x2, y2 = face.box
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
    assert face.score >= ft.thresholds.DETECT_CONF
    # Landmarks in their YuNet order: the right eye (image left) left of the left eye,
    # eyes above the nose, nose above the mouth corners.
    lm = face.landmarks
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
    assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])


def test_face_cut_by_the_edge_box_clipped_landmarks_not(pipeline, images):
    frame = np.ascontiguousarray(images["obama"][:, 480:])  # right eye falls outside
    face = pipeline.detect(frame)[0]
    assert 0 <= face.box[0] < face.box[2] <= frame.shape[1]
    assert face.landmarks[:, 0].min() < 0


@pytest.fixture(scope="module")
def crowd(pipeline, images, reference):
    """A 1920x1080 frame with six faces of 90-260 px from three people, and where
    each face centre should be."""
    layout = [("obama", 60, 80, 260), ("biden", 700, 60, 200), ("astronaut", 1350, 100, 160),
              ("obama2", 150, 650, 120), ("biden", 900, 700, 100), ("astronaut", 1500, 700, 90)]
    items, centres = [], []
    for name, x, y, face_px in layout:
        crop = ft.image_io.crop_around(images[name], reference[name].box, margin=0.5)
        scale = face_px / reference[name].width
        box_in_crop = pipeline.detect(crop)[0].box
        centres.append((x + scale * (box_in_crop[0] + box_in_crop[2]) / 2,
                        y + scale * (box_in_crop[1] + box_in_crop[3]) / 2, face_px))
        items.append((crop, x, y, scale))
    return paste_faces((1920, 1080), items), centres


def test_several_faces_sorted_and_placed(pipeline, crowd):
    frame, expected = crowd
    det = pipeline.detect(frame)
    assert len(det) == len(expected)
    assert np.all(np.diff(det.scores) <= 0)
    centres = (det.boxes[:, :2] + det.boxes[:, 2:]) / 2
    for cx, cy, face_px in expected:
        distance = np.hypot(centres[:, 0] - cx, centres[:, 1] - cy)
        assert distance.min() < 0.1 * face_px


def test_max_count_keeps_the_strongest(pipeline, crowd):
    frame, _ = crowd
    det = pipeline.detect(frame)
    top2 = pipeline.detect(frame, max_count=2)
    assert len(top2) == 2
    assert np.array_equal(top2.scores, det.scores[:2])


def test_faces_of_60px_in_1080p_are_found_at_defaults(pipeline, images, reference):
    """The documented smallest reliable face at the default 640 px detection side."""
    for name in ["obama", "obama2", "biden", "astronaut"]:
        crop = ft.image_io.crop_around(images[name], reference[name].box, margin=0.5)
        scale = 60 / reference[name].width
        for x, y in [(100, 100), (900, 500), (1700, 900)]:
            frame = paste_faces((1920, 1080), [(crop, x, y, scale)])
            det = pipeline.detect(frame)
            assert len(det) == 1, f"{name} at {(x, y)}"
            assert 45 <= det[0].width <= 80


def test_no_face_gives_typed_empty_arrays(pipeline):
    det = pipeline.detect(np.full((480, 640, 3), 127, np.uint8))
    assert len(det) == 0 and list(det) == []
    assert det.boxes.shape == (0, 4) and det.landmarks.shape == (0, 5, 2)
    assert det.scores.shape == (0,) and det.boxes.dtype == np.float32


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 3, 3), (31, 500, 3)])
def test_tiny_frames_work(pipeline, shape):
    assert len(pipeline.detect(np.zeros(shape, np.uint8))) == 0


def test_detection_size_downscales_only():
    assert detection_size(1920, 1080, 640) == (640, 360)
    assert detection_size(1080, 1920, 640) == (360, 640)
    assert detection_size(320, 240, 640) == (320, 240)
    assert detection_size(4000, 3000, None) == (4000, 3000)


def test_small_face_setting_finds_smaller_faces(images, reference):
    crop = ft.image_io.crop_around(images["obama"], reference["obama"].box, margin=0.5)
    frame = paste_faces((1920, 1080), [(crop, 900, 500, 32 / reference["obama"].width)])
    assert len(ft.detector.YuNetDetector(max_side=1920).detect(frame)) == 1


def test_detections_indexing(pipeline, images):
    det = pipeline.detect(images["obama"])
    assert isinstance(det[0], ft.Face)
    assert isinstance(det[np.array([True])], ft.Detections)
    assert len(det[1:]) == 0
    with pytest.raises(ValueError, match="read-only"):
        det.boxes[0, 0] = 1


@pytest.mark.parametrize("bad", [np.zeros((100, 100), np.uint8), np.zeros((100, 100, 3)),
                                 np.zeros((0, 100, 3), np.uint8)])
def test_bad_frames(pipeline, bad):
    with pytest.raises(InvalidImageError):
        pipeline.detect(bad)


def test_a_path_is_read_and_a_missing_one_is_an_unreadable_input(pipeline, data_dir):
    """0.3: the pipeline takes what read_image takes (a path, bytes, a PIL image)."""
    assert len(pipeline.detect(data_dir / "obama.jpg")) == 1
    with pytest.raises(ft.ImageReadError, match="not found"):
        pipeline.detect("no-such-photo.jpg")


def test_bad_settings():
    with pytest.raises(ValueError, match="conf_threshold"):
        ft.detector.YuNetDetector(conf_threshold=1.5)
    with pytest.raises(ValueError, match="max_count"):
        ft.detector.YuNetDetector(max_count=0)
    with pytest.raises(ValueError, match="max_side"):
        ft.detector.YuNetDetector(max_side=8)
