"""Alignment against OpenCV's own FaceRecognizerSF.alignCrop on real photos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import face_trigger as ft
from face_trigger import InvalidImageError
from face_trigger.errors import InvalidLandmarksError

PHOTOS = ["obama", "obama2", "obama3", "biden", "astronaut"]


@pytest.fixture(scope="module")
def opencv_sface():
    data, _ = ft.model_files.read_verified("embedder")
    return cv2.FaceRecognizerSF.create("onnx", np.frombuffer(data, np.uint8),
                                       np.zeros(0, np.uint8))


def yunet_row(face: ft.Face) -> np.ndarray:
    """A face in FaceDetectorYN's 15-column layout, for OpenCV's alignCrop."""
    x1, y1, x2, y2 = face.box
    return np.concatenate([[x1, y1, x2 - x1, y2 - y1], face.landmarks.ravel(),
                           [face.score]]).astype(np.float32)


@pytest.mark.parametrize("name", PHOTOS)
def test_chips_match_opencv_align_crop(name, images, reference, opencv_sface, pipeline):
    face = reference[name]
    theirs = opencv_sface.alignCrop(images[name], yunet_row(face))
    ours = ft.align.align_faces(images[name], face.landmarks)[0]
    assert ours.shape == (112, 112, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(np.int16) - theirs).max() <= 1
    their_feature = opencv_sface.feature(theirs).ravel()
    their_feature /= np.linalg.norm(their_feature)
    ours_embedding = pipeline.embedder.embed_chips(ours)[0]
    assert float(ours_embedding @ their_feature) >= 0.999


def test_template_maps_onto_itself():
    matrix = ft.align.similarity_matrix(ft.align.ARCFACE_TEMPLATE_112)[0]
    assert np.allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-6)


def test_similarity_recovers_a_known_transform():
    angle, scale, shift = np.deg2rad(20), 2.5, np.array([300.0, 120.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (ft.align.ARCFACE_TEMPLATE_112 @ rotation.T) * scale + shift
    matrix = ft.align.similarity_matrix(points)[0]
    mapped = points @ matrix[:, :2].T + matrix[:, 2]
    assert np.allclose(mapped, ft.align.ARCFACE_TEMPLATE_112, atol=1e-4)


def test_one_frame_per_face(images, reference):
    frames = [images["obama"], images["biden"]]
    landmarks = np.stack([reference["obama"].landmarks, reference["biden"].landmarks])
    chips = ft.align.align_faces(frames, landmarks)
    assert chips.shape == (2, 112, 112, 3)
    assert np.array_equal(chips[1], ft.align.align_faces(images["biden"], landmarks[1])[0])


def test_bad_landmarks(images):
    frame = images["obama"]
    with pytest.raises(InvalidLandmarksError, match=r"\(N, 5, 2\)"):
        ft.align.align_faces(frame, np.zeros((1, 4, 2)))
    with pytest.raises(InvalidLandmarksError, match="NaN"):
        ft.align.align_faces(frame, np.full((5, 2), np.nan))
    with pytest.raises(InvalidLandmarksError, match="degenerate"):
        ft.align.align_faces(frame, np.ones((5, 2)))
    with pytest.raises(InvalidLandmarksError, match="numeric"):
        ft.align.align_faces(frame, np.array([["a"] * 2] * 5))
    with pytest.raises(InvalidLandmarksError, match="2 landmark sets for 1 images"):
        ft.align.align_faces([frame], np.stack([ft.align.ARCFACE_TEMPLATE_112] * 2))


def test_bad_frame():
    with pytest.raises(InvalidImageError, match="uint8"):
        ft.align.align_faces(np.zeros((50, 50, 3), np.float64), ft.align.ARCFACE_TEMPLATE_112)
