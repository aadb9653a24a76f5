"""read_image / to_bgr / write_image on real photos and broken inputs built from them."""
from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

import face_trigger as ft
from face_trigger import ImageReadError, InvalidImageError


def exif_orientation_segment(orientation: int) -> bytes:
    """A JPEG APP1 segment whose EXIF holds only the Orientation tag."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    ifd += struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff + ifd
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def test_reads_path_bytes_and_array_identically(data_dir):
    path = data_dir / "obama.jpg"
    from_path = ft.read_image(path)
    assert from_path.dtype == np.uint8 and from_path.shape == (1137, 910, 3)
    assert np.array_equal(ft.read_image(str(path)), from_path)
    assert np.array_equal(ft.read_image(path.read_bytes()), from_path)
    assert ft.read_image(from_path) is from_path  # BGR uint8 passes through, not copied


def test_rgba_png_loads_as_bgr_and_matches_the_jpeg(images, data_dir):
    rgba = ft.read_image(data_dir / "32bit.png")
    assert rgba.shape == (1200, 626, 3) and rgba.dtype == np.uint8
    raw = cv2.imdecode(np.fromfile(data_dir / "32bit.png", np.uint8), cv2.IMREAD_UNCHANGED)
    assert raw.shape[2] == 4
    assert np.array_equal(ft.image_io.to_bgr(raw), rgba)


def test_exif_orientation_is_applied(images):
    upright = images["obama"]
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # as a sideways camera wrote it
    ok, jpeg = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    tagged = jpeg.tobytes()[:2] + exif_orientation_segment(6) + jpeg.tobytes()[2:]
    loaded = ft.read_image(tagged)
    assert loaded.shape == upright.shape
    # Same picture up to JPEG loss: mean absolute difference of a few grey levels.
    assert np.abs(loaded.astype(np.int16) - upright).mean() < 4


def test_gray_and_16bit_arrays_convert(images):
    gray = cv2.cvtColor(images["obama"], cv2.COLOR_BGR2GRAY)
    assert ft.image_io.to_bgr(gray).shape == images["obama"].shape
    assert ft.image_io.to_bgr(gray[:, :, None]).shape == images["obama"].shape
    deep = images["obama"].astype(np.uint16) * 257
    assert np.array_equal(ft.image_io.to_bgr(deep), images["obama"])


def test_inputs_are_not_modified(images):
    gray = cv2.cvtColor(images["obama"], cv2.COLOR_BGR2GRAY)
    before = gray.copy()
    ft.image_io.to_bgr(gray)
    assert np.array_equal(gray, before)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 10, 3), np.float32), "dtype"),
    (np.zeros((10, 10, 3), bool), "dtype"),
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.zeros((2, 10, 10, 3), np.uint8), "shape"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 0), np.uint8), "empty"),
    ([[1, 2], [3, 4]], "numpy array"),
])
def test_bad_arrays_raise_invalid_image(bad, message):
    with pytest.raises(InvalidImageError, match=message):
        ft.read_image(bad) if not isinstance(bad, list) else ft.image_io.to_bgr(bad)


def test_unsupported_source_type():
    with pytest.raises(InvalidImageError, match="path, bytes, numpy array or PIL image"):
        ft.read_image(12345)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        ft.read_image(tmp_path / "nobody.jpg")


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ImageReadError, match="directory"):
        ft.read_image(tmp_path)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        ft.read_image(empty)


@pytest.mark.parametrize("name, keep", [("obama.jpg", 0.5), ("obama.jpg", 0.999),
                                        ("astronaut.png", 0.5), ("astronaut.png", 0.9999)])
def test_truncated_files_are_refused(tmp_path, data_dir, name, keep):
    data = (data_dir / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ImageReadError, match="truncated|decoded"):
        ft.read_image(cut)


def test_garbage_bytes_are_refused():
    with pytest.raises(ImageReadError, match="could not be decoded"):
        ft.read_image(b"this is not an image" * 20)


def test_image_errors_are_builtin_subclasses():
    assert issubclass(ImageReadError, OSError)
    assert issubclass(InvalidImageError, ValueError)
    assert issubclass(ImageReadError, ft.FaceTriggerError)


def test_write_image_roundtrip_and_atomic(tmp_path, images):
    target = tmp_path / "out.png"
    ft.write_image(target, images["astronaut"])
    assert np.array_equal(ft.read_image(target), images["astronaut"])
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp file left behind
    with pytest.raises(InvalidImageError, match="encode"):
        ft.write_image(tmp_path / "out.unknownext", images["astronaut"])
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert np.array_equal(ft.read_image(target), images["astronaut"])
