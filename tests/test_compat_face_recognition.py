"""face_trigger.compat.face_recognition runs code written for face_recognition 1.3.

The three scripts below follow face_recognition's documented usage patterns (find the faces
in a picture, compare an unknown face with known ones, name the faces of new photos from a
folder of known people, webcam-style on a reduced frame), written afresh for these tests and
run as a user would run them: in a fresh interpreter, with only the import line changed.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import face_trigger as ft
import face_trigger.compat.face_recognition as face_recognition
from face_trigger.compat.face_recognition.scale import ENCODING_NORM, cosine_to_distance
from face_trigger.errors import EmbeddingError, InvalidParameterError, NoFaceError
from face_trigger.testing import face_crop, paste_faces, reshot

PACKAGE_PARENT = str(Path(ft.__file__).resolve().parent.parent)


def cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


FIND_FACES = '''
import sys
import face_trigger.compat.face_recognition as face_recognition

image = face_recognition.load_image_file(sys.argv[1])
face_locations = face_recognition.face_locations(image)
print("I found {} face(s) in this photograph.".format(len(face_locations)))
for face_location in face_locations:
    top, right, bottom, left = face_location
    print("A face is located at pixel location Top: {}, Left: {}, Bottom: {}, Right: {}"
          .format(top, left, bottom, right))
    face_image = image[top:bottom, left:right]
    print("crop", face_image.shape[1], face_image.shape[0])
'''

COMPARE = '''
import sys
import face_trigger.compat.face_recognition as face_recognition

biden_image = face_recognition.load_image_file(sys.argv[1])
obama_image = face_recognition.load_image_file(sys.argv[2])
unknown_image = face_recognition.load_image_file(sys.argv[3])
try:
    biden_face_encoding = face_recognition.face_encodings(biden_image)[0]
    obama_face_encoding = face_recognition.face_encodings(obama_image)[0]
    unknown_face_encoding = face_recognition.face_encodings(unknown_image)[0]
except IndexError:
    print("I wasn't able to locate any faces in at least one of the images.")
    sys.exit(1)
known_faces = [biden_face_encoding, obama_face_encoding]
results = face_recognition.compare_faces(known_faces, unknown_face_encoding)
print("Is the unknown face a picture of Biden? {}".format(results[0]))
print("Is the unknown face a picture of Obama? {}".format(results[1]))
print("Is the unknown face a new person that we've never seen before? {}"
      .format(not True in results))
'''

IDENTIFY_FOLDER = '''
import sys
from pathlib import Path

import cv2
import numpy as np
import face_trigger.compat.face_recognition as face_recognition

known_face_names, known_face_encodings = [], []
for path in sorted(Path(sys.argv[1]).glob("*.jpg")):
    encodings = face_recognition.face_encodings(face_recognition.load_image_file(str(path)))
    if len(encodings) != 1:
        print("WARNING: {} has {} faces; skipped".format(path.name, len(encodings)))
        continue
    known_face_names.append(path.stem)
    known_face_encodings.append(encodings[0])

for path in sorted(Path(sys.argv[2]).iterdir()):
    frame = cv2.imread(str(path))
    # the webcam example's speed-up: a quarter-size frame, BGR -> RGB by slicing
    small_frame = cv2.resize(frame, (0, 0), fx=0.5, fy=0.5)
    rgb_small_frame = small_frame[:, :, ::-1]
    face_locations = face_recognition.face_locations(rgb_small_frame)
    face_encodings = face_recognition.face_encodings(rgb_small_frame, face_locations)
    names = []
    for face_encoding in face_encodings:
        matches = face_recognition.compare_faces(known_face_encodings, face_encoding)
        name = "Unknown"
        face_distances = face_recognition.face_distance(known_face_encodings, face_encoding)
        best_match_index = np.argmin(face_distances)
        if matches[best_match_index]:
            name = known_face_names[best_match_index]
        names.append(name)
    for (top, right, bottom, left), name in sorted(zip(face_locations, names),
                                                   key=lambda item: item[0][3]):
        print("{},{},{},{}".format(path.name, name, left * 2, top * 2))
'''


def run_script(tmp_path: Path, source: str, *args) -> subprocess.CompletedProcess:
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    done = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True,
                          text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def group_photo(tmp_path_factory, images, reference) -> Path:
    """Biden left, Obama right, on one 1280x720 picture."""
    crops = [face_crop(images[n], reference[n].box)[0] for n in ("biden", "obama")]
    frame = paste_faces((1280, 720), [(crops[0], 80, 120, 0.8), (crops[1], 700, 100, 0.8)])
    path = tmp_path_factory.mktemp("group") / "group.jpg"
    ft.image_io.write_image(path, frame)
    return path


def test_find_faces_in_a_picture(tmp_path, group_photo, data_dir):
    out = run_script(tmp_path, FIND_FACES, group_photo).stdout.splitlines()
    assert out[0] == "I found 2 face(s) in this photograph."
    assert len([line for line in out if line.startswith("A face is located")]) == 2
    sizes = [tuple(map(int, line.split()[1:])) for line in out if line.startswith("crop")]
    assert all(w > 80 and h > 80 for w, h in sizes)
    out = run_script(tmp_path, FIND_FACES, data_dir / "obama.jpg").stdout
    assert "Top: 94, Left: 374, Bottom: 416, Right: 605" in out  # the box `detect` prints


def test_compare_an_unknown_face_with_known_ones(tmp_path, data_dir):
    known = (data_dir / "biden.jpg", data_dir / "obama.jpg")
    out = run_script(tmp_path, COMPARE, *known, data_dir / "obama2.jpg").stdout
    assert out.splitlines() == ["Is the unknown face a picture of Biden? False",
                                "Is the unknown face a picture of Obama? True",
                                "Is the unknown face a new person that we've never seen "
                                "before? False"]
    out = run_script(tmp_path, COMPARE, *known, data_dir / "astronaut.png").stdout
    assert "Obama? False" in out and "never seen before? True" in out


def test_identify_new_photos_from_a_folder_of_known_people(tmp_path, data_dir, group_photo,
                                                           images):
    known, unknown = tmp_path / "known", tmp_path / "unknown"
    known.mkdir()
    unknown.mkdir()
    for name in ("obama", "biden"):
        (known / f"{name}.jpg").write_bytes((data_dir / f"{name}.jpg").read_bytes())
    for name in ("obama2.jpg", "obama3.jpg", "astronaut.png"):
        (unknown / name).write_bytes((data_dir / name).read_bytes())
    (unknown / "group.jpg").write_bytes(group_photo.read_bytes())
    out = run_script(tmp_path, IDENTIFY_FOLDER, known, unknown).stdout
    named = [line.split(",")[:2] for line in out.splitlines()]
    assert named == [["astronaut.png", "Unknown"], ["group.jpg", "biden"],
                     ["group.jpg", "obama"], ["obama2.jpg", "obama"], ["obama3.jpg", "obama"]]


# ----------------------------------------------------------------- the details, in-process
def test_results_are_face_recognitions_types(data_dir):
    image = face_recognition.load_image_file(data_dir / "obama.jpg")
    assert image.dtype == np.uint8 and image.shape == (1137, 910, 3)
    assert np.array_equal(image, ft.read_image(data_dir / "obama.jpg")[..., ::-1])
    with open(data_dir / "obama.jpg", "rb") as handle:  # file objects, as PIL.Image.open takes
        assert np.array_equal(face_recognition.load_image_file(handle), image)
    gray = face_recognition.load_image_file(data_dir / "obama.jpg", mode="L")
    assert gray.shape == (1137, 910)
    (location,) = face_recognition.face_locations(image)
    assert all(isinstance(v, int) for v in location)
    top, right, bottom, left = location
    assert top < bottom and left < right
    (encoding,) = face_recognition.face_encodings(image, [location])
    assert encoding.dtype == np.float64 and encoding.shape == (128,)
    assert np.linalg.norm(encoding) == pytest.approx(ENCODING_NORM, abs=1e-5)
    (from_gray,) = face_recognition.face_locations(gray)  # gray images work too
    assert abs(np.subtract(from_gray, location)).max() < 0.05 * (bottom - top)
    assert face_recognition.face_distance([], encoding).shape == (0,)
    assert face_recognition.compare_faces([], encoding) == []


def test_landmarks_use_face_recognitions_keys(data_dir):
    image = face_recognition.load_image_file(data_dir / "obama.jpg")
    (marks,) = face_recognition.face_landmarks(image)
    assert set(marks) == {"left_eye", "right_eye", "nose_tip", "top_lip", "bottom_lip"}
    (left,), (right,), (nose,) = marks["left_eye"], marks["right_eye"], marks["nose_tip"]
    assert left[0] < nose[0] < right[0]  # left_eye is the eye on the image's left
    assert max(left[1], right[1]) < nose[1] < marks["top_lip"][0][1]
    (small,) = face_recognition.face_landmarks(image, model="small")
    assert set(small) == {"left_eye", "right_eye", "nose_tip"}


def test_distances_are_on_face_recognitions_scale(data_dir):
    """0.6 (the default) is the shipped match threshold; below it the distance is the
    Euclidean distance of the encodings (as the peer's), above it the calibrated scale."""
    assert face_recognition.DEFAULT_TOLERANCE == 0.6
    assert float(cosine_to_distance(ft.MATCH_COSINE)) == pytest.approx(0.6)
    photos = {n: face_recognition.face_encodings(face_recognition.load_image_file(
        data_dir / f"{n}.jpg"))[0] for n in ("obama", "obama2", "biden")}
    distances = face_recognition.face_distance([photos["obama2"], photos["biden"]],
                                               photos["obama"])
    assert distances.dtype == np.float64 and isinstance(distances.tolist()[0], float)
    assert distances[0] == pytest.approx(np.linalg.norm(photos["obama2"] - photos["obama"]))
    assert distances[0] < 0.5 < 0.6 < distances[1]  # the peer: 0.35 and 0.82
    assert face_recognition.face_distance([photos["obama"]], photos["obama"])[0] == 0.0
    for tolerance in (None, 0.6, 0.5):  # code written for the peer's numbers
        args = () if tolerance is None else (tolerance,)
        assert face_recognition.compare_faces([photos["obama2"], photos["biden"]],
                                              photos["obama"], *args) == [True, False]
    cosines = np.linspace(-1, 1, 4001)
    assert np.all(np.diff(cosine_to_distance(cosines)) < 0)  # monotonic
    unit = photos["obama"] / ENCODING_NORM  # 0.3 encodings (unit vectors) still compare
    assert face_recognition.face_distance([unit], photos["obama"])[0] == 0.0


def test_dlib_encodings_are_refused_not_compared(data_dir):
    ours = face_recognition.face_encodings(face_recognition.load_image_file(
        data_dir / "obama.jpg"))[0]
    dlib_like = ours * 0.45  # dlib's 128-d encodings are not unit vectors
    with pytest.raises(EmbeddingError, match="not an encoding made by face_trigger"):
        face_recognition.face_distance([dlib_like], ours)
    with pytest.raises(EmbeddingError, match="128"):
        face_recognition.compare_faces([ours[:64]], ours[:64])


def test_locations_from_a_reduced_frame_and_locations_without_a_face(data_dir, images):
    image = face_recognition.load_image_file(data_dir / "obama.jpg")
    full = face_recognition.face_encodings(image)[0]
    # a location found by another detector (tighter, square, as dlib's) still finds the face
    top, right, bottom, left = face_recognition.face_locations(image)[0]
    side = min(right - left, bottom - top) * 0.8
    cx, cy = (left + right) / 2, (top + bottom) / 2 + 20
    square = (int(cy - side / 2), int(cx + side / 2), int(cy + side / 2), int(cx - side / 2))
    # found again in a crop around the box, not in the whole image: landmarks a few px
    # apart, and SFace moves with them (0.94-0.97 for this face; docs/coming-from.md)
    assert cos(face_recognition.face_encodings(image, [square])[0], full) > 0.93
    with pytest.raises(NoFaceError, match="location 1"):
        face_recognition.face_encodings(image, [square, (900, 300, 1100, 100)])
    with pytest.raises(InvalidParameterError, match="bottom > top"):
        face_recognition.face_encodings(image, [(300, 100, 100, 300)])


def test_small_faces_need_upsampling_as_in_face_recognition(images, reference):
    crop = face_crop(images["obama"], reference["obama"].box)[0]
    tiny = paste_faces((3000, 2000), [(crop, 1400, 900, 0.12)])  # a face of about 30 px
    rgb = np.ascontiguousarray(tiny[..., ::-1])
    assert face_recognition.face_locations(rgb, number_of_times_to_upsample=0) == []
    assert len(face_recognition.face_locations(rgb, number_of_times_to_upsample=3)) == 1
    assert face_recognition.batch_face_locations([rgb], number_of_times_to_upsample=3)[0]


def test_num_jitters_gives_a_steadier_encoding(data_dir):
    """The same photo re-shot (shifted, rescaled, recompressed) moves less with jitters."""
    image = face_recognition.load_image_file(data_dir / "obama2.jpg")
    again = np.ascontiguousarray(reshot(np.ascontiguousarray(image[..., ::-1]))[..., ::-1])
    one = [face_recognition.face_encodings(i)[0] for i in (image, again)]
    two = [face_recognition.face_encodings(i, num_jitters=2)[0] for i in (image, again)]
    assert cos(*two) > cos(*one) + 0.005  # measured: 0.988 vs 0.976
    assert cos(two[0], one[0]) > 0.95  # the same face's vector, only steadier
    with pytest.raises(InvalidParameterError, match="num_jitters"):
        face_recognition.face_encodings(image, num_jitters=0)


@pytest.mark.parametrize("call", [
    lambda img: face_recognition.face_locations(img, model="mmod"),
    lambda img: face_recognition.face_locations(img, number_of_times_to_upsample=-1),
    lambda img: face_recognition.face_landmarks(img, model="68"),
    lambda img: face_recognition.batch_face_locations([img], batch_size=0),
    lambda img: face_recognition.load_image_file(io.BytesIO(b""), mode="CMYK"),
])
def test_bad_arguments_are_named(call, images):
    with pytest.raises(InvalidParameterError):
        call(images["obama"][..., ::-1])
