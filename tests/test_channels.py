"""RGB input (face_recognition, PIL and notebook arrays): said explicitly, never guessed."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from conftest import require

import face_trigger as ft
from face_trigger.errors import InvalidParameterError


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_an_rgb_array_read_as_bgr_scores_lower_and_channels_rgb_fixes_it(pipeline, images):
    bgr = images["obama"]
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    reference = pipeline.analyze(bgr)[0].vector
    wrong = pipeline.analyze(rgb)[0].vector  # the silent mistake the issue measured
    right = pipeline.analyze(rgb, channels="rgb")[0].vector
    assert cosine(reference, wrong) < 0.95
    assert cosine(reference, right) > 0.9999
    boxes, embeddings = pipeline.detect_embedding(rgb, channels="rgb")
    assert boxes.shape == (1, 4) and cosine(embeddings[0], reference) > 0.9999
    boxes, embeddings = ft.detect_embedding(rgb, channels="rgb", pipeline=pipeline)
    assert cosine(embeddings[0], reference) > 0.9999
    assert cosine(pipeline.largest_faceprint(rgb, channels="rgb").vector, reference) > 0.9999
    assert np.array_equal(pipeline.detect(rgb, channels="rgb").boxes, pipeline.detect(bgr).boxes)


def test_embed_and_recognizer_embed_take_rgb_frames(pipeline, images):
    bgr = images["obama"]
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    landmarks = pipeline.detect(bgr).landmarks
    reference = pipeline.embed(bgr, landmarks)
    assert np.allclose(pipeline.embed(rgb, landmarks, channels="rgb"), reference, atol=1e-5)
    assert np.allclose(pipeline.embed([rgb], landmarks, channels="rgb"), reference, atol=1e-5)
    recognizer = ft.FaceRecognizer()
    assert np.allclose(recognizer.embed(rgb, landmarks, channels="rgb"), reference, atol=1e-4)


def test_a_reversed_view_with_negative_strides_is_accepted(pipeline, images):
    """``frame[:, :, ::-1]`` (the face_recognition examples' idiom) is not contiguous."""
    view = images["obama"][:, :, ::-1]
    assert view.strides[2] < 0
    faces = pipeline.analyze(view, channels="rgb")
    assert len(faces) == 1
    assert cosine(faces[0].vector, pipeline.analyze(images["obama"])[0].vector) > 0.9999


def test_verify_takes_rgb_arrays(images, pipeline):
    rgb = [cv2.cvtColor(images[n], cv2.COLOR_BGR2RGB) for n in ("obama", "obama2")]
    by_array = ft.verify(*rgb, channels="rgb", pipeline=pipeline)
    by_bgr = ft.verify(images["obama"], images["obama2"], pipeline=pipeline)
    assert by_array.verified and by_array.similarity == pytest.approx(by_bgr.similarity, abs=1e-4)


@pytest.mark.parametrize("bad", ["RGB", "rgba", "", None, 3])
def test_an_unknown_channel_order_is_refused_by_name(images, pipeline, bad):
    with pytest.raises(InvalidParameterError, match="channels must be 'bgr' or 'rgb'"):
        pipeline.analyze(images["obama"], channels=bad)
    with pytest.raises(InvalidParameterError, match="channels"):
        ft.read_image(images["obama"], channels=bad)


def test_read_image_converts_rgb_and_rgba_arrays(images, data_dir):
    bgr = images["obama"]
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert np.array_equal(ft.read_image(rgb, channels="rgb"), bgr)
    rgba = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)
    assert np.array_equal(ft.read_image(rgba, channels="rgb"), bgr)
    # Files know their own order: channels does not change what a path gives.
    path = data_dir / "biden.jpg"
    assert np.array_equal(ft.read_image(path, channels="rgb"), ft.read_image(path))


def test_pil_images_are_read_in_their_own_order(data_dir, images, pipeline):
    Image = require("PIL.Image", "matplotlib")  # Pillow comes with matplotlib
    with Image.open(data_dir / "obama.jpg") as photo:
        from_pil = ft.read_image(photo)
        assert from_pil.shape == images["obama"].shape
        # Two JPEG decoders: a grey level or so apart, never channel-swapped.
        assert np.abs(from_pil.astype(np.int16) - images["obama"]).mean() < 1.5
        assert cosine(pipeline.analyze(from_pil)[0].vector,
                      pipeline.analyze(images["obama"])[0].vector) > 0.99
        for mode in ("L", "RGBA", "P"):
            converted = ft.read_image(photo.convert(mode))
            assert converted.shape == images["obama"].shape and converted.dtype == np.uint8
    result = ft.verify(Image.open(data_dir / "obama.jpg"), data_dir / "obama2.jpg",
                       pipeline=pipeline)
    assert result.verified


def test_a_pil_image_gets_its_exif_orientation_applied(images):
    Image = require("PIL.Image", "matplotlib")
    stored = cv2.rotate(images["obama"], cv2.ROTATE_90_COUNTERCLOCKWISE)
    sideways = Image.fromarray(np.ascontiguousarray(stored[..., ::-1]))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display", as a phone held sideways writes it
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    loaded = ft.read_image(Image.open(io.BytesIO(buffer.getvalue())))
    assert loaded.shape == images["obama"].shape
    assert np.abs(loaded.astype(np.int16) - images["obama"]).mean() < 4
