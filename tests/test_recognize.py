"""From a photo to named faces in one call, and results that convert to JSON (issue #27)."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import face_trigger as ft

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture()
def door_db(tmp_path, pipeline, data_dir):
    gallery = ft.Gallery(tmp_path / "door.db")  # the bundled model by default
    gallery.add_faceprints("obama", [pipeline.largest_faceprint(data_dir / "obama.jpg")])
    gallery.add_faceprints("biden", [pipeline.largest_faceprint(data_dir / "biden.jpg")])
    gallery.close()
    return tmp_path / "door.db"


def test_the_readme_first_example_runs_as_written(door_db, data_dir, monkeypatch):
    text = README.read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len([line for line in block.splitlines() if line.strip()]) <= 3
    shutil.copy(data_dir / "obama2.jpg", door_db.parent / "photo.jpg")
    monkeypatch.chdir(door_db.parent)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own README
    name, similarity, *box = out.getvalue().split()
    assert name == "obama" and float(similarity) > 0.6


def test_analyze_and_identify_take_what_users_have(door_db, pipeline, data_dir, images):
    gallery = ft.Gallery(door_db)
    photo = data_dir / "obama2.jpg"
    from_path = pipeline.analyze(photo)
    assert [f.score for f in pipeline.analyze(photo.read_bytes())] == \
        [f.score for f in from_path]
    assert [f.score for f in pipeline.analyze(str(photo))] == [f.score for f in from_path]
    assert [w.name for w in gallery.identify(from_path)] == ["obama"]  # Faces, no loop
    assert gallery.identify(from_path[0])[0].name == "obama"
    assert len(pipeline.detect(photo)) == 1 and pipeline.detect_embedding(photo)[1].shape == \
        (1, 128)
    with pytest.raises(ft.EmbeddingError, match="detected but not embedded"):
        gallery.identify(list(pipeline.detect(images["obama2"])))


def test_recognize_is_one_call_on_both_identifiers(door_db, pipeline, data_dir, reference):
    gallery = ft.Gallery(door_db)
    named = gallery.recognize(data_dir / "obama2.jpg")
    assert [n.name for n in named] == ["obama"] and named[0].known
    recognizer = ft.FaceRecognizer(classifier="knn").fit(
        np.stack([reference["obama"].embedding, reference["biden"].embedding]),
        ["obama", "biden"])
    assert [n.name for n in recognizer.recognize(data_dir / "obama2.jpg")] == ["obama"]
    assert [n.name for n in recognizer.recognize(data_dir / "astronaut.png")] == ["unknown"]
    assert gallery.recognize(np.zeros((64, 64, 3), np.uint8)) == []


def test_results_convert_to_json(door_db, pipeline, data_dir):
    face = pipeline.analyze(data_dir / "obama2.jpg")[0]
    assert len(repr(face)) < 120 and "128-d" in repr(face)
    as_dict = face.to_dict()
    assert "embedding" not in as_dict and len(as_dict["landmarks"]) == 5
    assert len(face.to_dict(embedding=True)["embedding"]) == 128
    named = ft.Gallery(door_db).recognize(data_dir / "obama2.jpg")
    verified = ft.verify(data_dir / "obama.jpg", data_dir / "obama2.jpg")
    text = json.dumps({"face": as_dict, "named": [n.to_dict() for n in named],
                       "identity": named[0].identity.to_dict(),
                       "verify": verified.to_dict()})
    back = json.loads(text)
    assert back["named"][0]["name"] == "obama" and back["verify"]["verified"] is True


# ------------------------------------------------------------- the command line (#27 items 2-5)
def test_single_photos_on_the_command_line(tmp_path, data_dir, images, reference, capsys,
                                           monkeypatch):
    from face_trigger.cli import EXIT_ERROR, EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
    from face_trigger.testing import paste_faces

    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    db = str(tmp_path / "door.db")
    assert main(["enroll", str(data_dir / "obama.jpg"), "--name", "barack", "--db", db]) \
        == EXIT_OK
    assert main(["enroll", str(data_dir / "biden.jpg"), "--db", db]) == EXIT_OK  # its name
    assert [p["name"] for p in ft.Gallery(db).people()] == ["barack", "biden"]
    shutil.copy(data_dir / "obama.jpg", tmp_path / "lin.jpg")
    capsys.readouterr()
    assert main(["identify", str(tmp_path / "lin.jpg"), str(data_dir / "obama2.jpg")]) \
        == EXIT_OK
    assert capsys.readouterr().out.strip().endswith(",lin")
    # train refuses to write a model the door would refuse
    people = tmp_path / "people" / "obama"
    people.mkdir(parents=True)
    shutil.copy(data_dir / "obama.jpg", people / "a.jpg")
    assert main(["train", str(tmp_path / "people"), "-o", str(tmp_path / "m.pkl")]) == EXIT_USAGE
    assert "--key" in capsys.readouterr().err and not (tmp_path / "m.pkl").exists()
    # verify compares every face with every face, and a photo without a face is exit 3
    group = paste_faces((1200, 600), [
        (ft.image_io.crop_around(images["biden"], reference["biden"].box), 0, 0, 0.8),
        (ft.image_io.crop_around(images["obama2"], reference["obama2"].box), 600, 0, 0.8)])
    ft.write_image(tmp_path / "group.jpg", group)
    assert main(["verify", "--json", str(data_dir / "obama.jpg"), str(tmp_path / "group.jpg")]) \
        == EXIT_OK
    answer = json.loads(capsys.readouterr().out)
    assert answer["verified"] and answer["faces"] == [1, 2]
    ft.write_image(tmp_path / "wall.png", np.full((200, 200, 3), 90, np.uint8))
    assert main(["verify", str(data_dir / "obama.jpg"), str(tmp_path / "wall.png")]) \
        == EXIT_INPUT
    # detect: a row for an image without a face, and the landmarks when asked
    capsys.readouterr()
    assert main(["detect", "--landmarks", str(tmp_path / "wall.png"),
                 str(data_dir / "obama.jpg")]) == EXIT_OK
    rows = capsys.readouterr().out.splitlines()
    assert len(rows[0].split(",")) == 16 and rows[1].endswith("wall.png" + "," * 15)
    assert len(rows[2].split(",")) == 16
    assert main(["enroll", str(tmp_path / "wall.png"), "--db", db]) == EXIT_ERROR


def test_shared_flags_mean_the_same_on_every_command(tmp_path, data_dir, capsys):
    """Walks every subcommand: -v/-q after the command, --gallery wherever --db is, and the
    shared flags with one help text each (issue #27 item 4)."""
    import argparse

    from face_trigger.cli import EXIT_OK, main
    from face_trigger.cli.main import build_parser

    def commands(parser, prefix=()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from commands(sub, prefix + (name,))
        if prefix:
            yield prefix, parser

    helps = {}
    walked = list(commands(build_parser()))
    assert len(walked) >= 20
    for name, parser in walked:
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue  # "gallery", "audit": their actions are walked
        options = {o: a for a in parser._actions for o in a.option_strings}
        assert {"-v", "-q"} <= set(options), name
        if "--db" in options:
            assert options["--gallery"] is options["--db"], name
        for flag in ("--json", "--key", "--max-side", "--cpus", "--allow-unsigned"):
            if flag in options:
                helps.setdefault(flag, set()).add(
                    options[flag].help.split(" (default")[0] if flag != "--json" else "json")
    assert all(len(texts) == 1 for texts in helps.values()), helps
    assert main(["detect", str(data_dir / "obama.jpg"), "-q"]) == EXIT_OK
    capsys.readouterr()
    db = str(tmp_path / "door.db")
    assert main(["enroll", str(data_dir / "obama.jpg"), "--gallery", db]) == EXIT_OK
    assert main(["identify", "--gallery", db, str(data_dir / "obama2.jpg")]) == EXIT_OK
    assert capsys.readouterr().out.strip().endswith(",obama")
    assert main(["annotate", str(data_dir / "obama2.jpg"), "-o", str(tmp_path / "a.jpg"),
                 "--db", db, "--max-side", "480", "--threshold", "0.5"]) == EXIT_OK
