"""Every fenced ``python`` and ``bash`` block of README.md and docs/ runs as written (issue
#27 item 7), in a scratch folder holding what the examples name: photos (photo.jpg,
frame.jpg, camera.jpg, id_photo.jpg, alice.jpg, wall.jpg without a face), people/<name>/,
door.db with obama and biden enrolled, and door.pkl signed with the key "change-me".

A bash block is run unless the comment line before it says why it cannot be here:
``<!-- ci:... -->`` (.ci/run runs it) or ``<!-- docs-test: skip REASON -->`` (a camera, a
server on another machine...).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import face_trigger as ft

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"(?:^(<!--[^\n]*-->)\n)?^```(python|bash)\n(.*?)^```", re.S | re.M)


def blocks(kind):
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text())):
            if match.group(2) == kind:
                found.append(pytest.param(match.group(1) or "", match.group(3),
                                          id=f"{page.name}-{number}"))
    return found


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, data_dir, pipeline):
    root = tmp_path_factory.mktemp("docs")
    for name, source in {"photo.jpg": "obama.jpg", "frame.jpg": "obama2.jpg",
                         "camera.jpg": "obama2.jpg", "id_photo.jpg": "obama.jpg",
                         "alice.jpg": "biden.jpg"}.items():
        shutil.copy(data_dir / source, root / name)
    ft.write_image(root / "wall.jpg", np.full((240, 320, 3), 120, np.uint8))
    for person, photos in {"obama": ["obama.jpg", "obama3.jpg"], "biden": ["biden.jpg"]}.items():
        (root / "people" / person).mkdir(parents=True)
        for photo in photos:
            shutil.copy(data_dir / photo, root / "people" / person / photo)
    gallery = ft.Gallery(root / "door.db")
    for person in ("obama", "biden"):
        gallery.add_faceprints(person, [pipeline.largest_faceprint(data_dir / f"{person}.jpg")])
    gallery.close()
    recognizer = ft.FaceRecognizer(classifier="knn")
    recognizer.fit_folder(root / "people")
    recognizer.save(root / "door.pkl", key="change-me")
    (root / "examples").symlink_to(ROOT / "examples")
    return root


def fresh(scratch, tmp_path):
    """A copy of the scratch folder per block: one block's writes never reach another."""
    target = tmp_path / "work"
    shutil.copytree(scratch, target, symlinks=True)
    return target


@pytest.mark.parametrize("marker, code", blocks("python"))
def test_python_blocks_run(marker, code, scratch, tmp_path, monkeypatch):
    monkeypatch.chdir(fresh(scratch, tmp_path))
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "docs block", "exec"), {"__name__": "__docs__"})  # noqa: S102


@pytest.mark.slow
@pytest.mark.parametrize("marker, code", blocks("bash"))
def test_bash_blocks_run_or_say_why_not(marker, code, scratch, tmp_path):
    if marker.startswith("<!-- ci:"):
        pytest.skip(".ci/run runs this block")
    if marker.startswith("<!-- docs-test: skip"):
        reason = marker[len("<!-- docs-test: skip"):-len("-->")].strip()
        assert reason, "a skipped block must say why"
        pytest.skip(reason)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                f"{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ROOT))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=fresh(scratch, tmp_path),
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_block_is_seen():
    assert len(blocks("python")) >= 9 and len(blocks("bash")) >= 8


def test_docs_do_not_contradict_the_package():
    """No page says liveness is missing, nor installs the package by a name that is not on
    the package index (from a checkout it is ``pip install ".[extra]"``)."""
    for page in PAGES:
        text = page.read_text()
        assert "no liveness check" not in text, page.name
        assert 'pip install "face_trigger[' not in text, page.name
        assert "pkill" not in text, page.name


def test_labels_stay_inside_the_image():
    from face_trigger.draw import draw_boxes

    canvas = np.zeros((100, 200, 3), np.uint8)
    draw_boxes(canvas, [np.array([170, 0, 199, 40], np.float32)], ["a long label here"],
               [(0, 200, 0)])
    label = np.all(canvas == (0, 200, 0), axis=2)
    assert label[:, :120].any()  # shifted left to fit, not cut at the right edge
    assert label[0].any() or label[1].any()  # drawn from the top, not above it
