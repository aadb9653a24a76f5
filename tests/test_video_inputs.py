"""``detect`` and ``annotate`` take video files (per-frame rows; an annotated video out), and
``watch --show`` says clearly why no window can open here."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import face_trigger as ft
from face_trigger.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from face_trigger.door.view import Window, display_problem
from face_trigger.testing import Actor, Scene, face_crop, read_video, write_video

pytestmark = pytest.mark.slow  # real videos

FRAMES = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory, images, reference):
    """A 320x240 video of 30 frames: obama walks across (true boxes kept), and an empty
    first frame."""
    crop, box = face_crop(images["obama2"], reference["obama2"].box)
    scene = Scene("clip", (Actor("obama", crop, box, 1 / 25, 2.0, start=(0.3, 0.45),
                                 end=(0.7, 0.45), start_px=70),), FRAMES / 25, size=(320, 240))
    frames = list(scene.frames())
    path = write_video(tmp_path_factory.mktemp("clip") / "clip.avi", (f for f, _ in frames))
    return path, [truth for _, truth in frames]


def test_detect_prints_one_row_per_face_per_frame(clip, capsys):
    path, truth = clip
    assert main(["detect", str(path), "--json"]) == EXIT_OK
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in rows] == list(range(FRAMES))
    assert rows[0]["box"] is None  # the empty first frame is a row too
    for row, faces in zip(rows[1:], truth[1:]):
        (_, true_box), = faces
        assert row["file"] == str(path)
        assert row["time"] == pytest.approx(row["frame"] / 25, abs=0.002)
        iou = ft.boxes.iou_matrix(np.float32([row["box"]]), true_box[None])[0, 0]
        assert iou > 0.5, (row, true_box)


def test_detect_mixes_images_and_videos_in_input_order(clip, data_dir, capsys):
    path, _ = clip
    assert main(["detect", str(data_dir / "obama.jpg"), str(path),
                 str(data_dir / "biden.jpg")]) == EXIT_OK
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["file", "frame", "time"]
    files = [r[0] for r in rows[1:]]
    assert files[0].endswith("obama.jpg") and files[-1].endswith("biden.jpg")
    assert files[1:-1] == [str(path)] * FRAMES
    assert rows[1][1:3] == ["", ""] and rows[2][1:3] == ["0", "0.0"]


def test_annotate_writes_a_playable_video_with_names(clip, tmp_path, data_dir, capsys):
    path, truth = clip
    assert main(["enroll", str(data_dir / "obama.jpg"), "--name", "obama", "--db",
                 str(tmp_path / "people.db")]) == EXIT_OK
    out = tmp_path / "annotated.mp4"
    assert main(["annotate", str(path), "-o", str(out), "--db", str(tmp_path / "people.db")]) \
        == EXIT_OK
    assert f"{FRAMES} frames" in capsys.readouterr().err
    frames = read_video(out)
    assert len(frames) == FRAMES and frames[0].shape == (240, 320, 3)
    assert not list(tmp_path.glob(".*partial*"))  # written whole, then put in place
    # the named face is drawn in the colour of a known face, inside its true box
    (_, box), = truth[15]
    x1, y1, x2, y2 = (int(v) for v in box)

    def drawn(image, colour):  # pixels of that colour that were not in the input frame
        def near(im):
            return np.all(np.abs(im.astype(int) - colour) < 60, axis=2)
        new = near(image) & ~near(read_video(path)[15])
        region = np.zeros_like(new)
        region[max(0, y1 - 25):y2 + 5, max(0, x1 - 5):min(320, x2 + 80)] = True
        return new[region].mean(), new[~region].mean()

    inside, outside = drawn(frames[15], ft.draw.FACE_COLOUR)
    assert inside > 0.02 and inside > 5 * outside, (inside, outside)


def test_annotate_video_errors_are_clear(clip, tmp_path, capsys):
    path, _ = clip
    assert main(["annotate", str(path), "-o", str(tmp_path / "out.jpg")]) == EXIT_USAGE
    assert ".mp4, .avi or .mkv" in capsys.readouterr().err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    assert main(["annotate", str(broken), str(path), "-o", str(tmp_path / "out")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "video" in err
    assert len(read_video(tmp_path / "out" / "clip.avi")) == FRAMES  # the good one still done
    assert not (tmp_path / "out" / "broken.mp4").exists()
    assert main(["detect", str(broken)]) == EXIT_INPUT
    assert "broken.mp4" in capsys.readouterr().err


def test_show_says_why_no_window_can_open_here(clip, tmp_path, capsys, monkeypatch):
    """This machine has the headless OpenCV wheel and no display: --show refuses at once,
    naming the reason and the alternative (with a display and a GUI build it opens)."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    problem = display_problem()
    assert problem is not None
    with pytest.raises(ft.ConfigError, match="--save-video"):
        Window("test")
    path, _ = clip
    status = main(["watch", str(path), "--people", str(tmp_path), "--show",
                   "--audit", str(tmp_path / "audit.jsonl")])
    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--show" in err and problem in err
