"""The command line: main([...]) in-process, and the real console script in subprocesses."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import face_trigger as ft
from face_trigger.cli import (EXIT_DIFFERENT, EXIT_ERROR, EXIT_INPUT, EXIT_MODEL, EXIT_OK,
                              EXIT_USAGE, main)
from face_trigger.testing import paste_faces

PACKAGE_PARENT = str(Path(ft.__file__).resolve().parent.parent)


def cli(*args, cwd=None, timeout=180):
    """Run the installed console script (or python -m face_trigger from a checkout)."""
    script = shutil.which("face-trigger")
    command = [script] if script else [sys.executable, "-m", "face_trigger"]
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, images, data_dir):
    root = tmp_path_factory.mktemp("cli")
    known, unknown = root / "known", root / "unknown"
    known.mkdir()
    unknown.mkdir()
    shutil.copyfile(data_dir / "obama.jpg", known / "obama.jpg")
    shutil.copyfile(data_dir / "biden.jpg", known / "biden.jpg")
    shutil.copyfile(data_dir / "obama2.jpg", unknown / "a_obama2.jpg")
    shutil.copyfile(data_dir / "astronaut.png", unknown / "b_astronaut.png")
    cv2.imwrite(str(unknown / "c_wall.png"), np.full((120, 160, 3), 128, np.uint8))
    (unknown / "d_broken.jpg").write_bytes((data_dir / "obama.jpg").read_bytes()[:5000])
    people = root / "people"
    for person, photos in {"obama": ["obama.jpg", "obama3.jpg"], "biden": ["biden.jpg"]}.items():
        (people / person).mkdir(parents=True)
        for photo in photos:
            shutil.copyfile(data_dir / photo, people / person / photo)
    return root


def test_demo_prints_faces_and_writes_an_annotated_image(tmp_path, capsys):
    out = tmp_path / "demo.jpg"
    assert main(["demo", "-o", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "obama.jpg vs obama2.jpg" in printed and "same person" in printed
    assert "different people" in printed
    assert printed.count("face 0: box") == 3
    image = ft.read_image(out)
    assert image.shape[0] == 480 and image.shape[1] > 480


def test_demo_unwritable_output_is_one_error_line(tmp_path, capsys):
    code = main(["demo", "-o", str(tmp_path / "missing_dir" / "demo.jpg")])
    assert code == EXIT_USAGE  # found at start: a usage error (issue #15), not an input
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("face-trigger: error:")


def test_usage_errors(capsys):
    assert main([]) == EXIT_USAGE
    assert "usage" in capsys.readouterr().err
    assert main(["demo", "--no-such-option"]) == EXIT_USAGE
    assert main(["identify", "/nonexistent/known", "x.jpg"]) == EXIT_USAGE


def test_version(capsys):
    assert main(["--version"]) == EXIT_OK
    assert ft.__version__ in capsys.readouterr().out


@pytest.mark.slow
def test_detect_formats(folders, data_dir):
    done = cli("detect", data_dir / "obama.jpg", folders / "unknown")
    assert done.returncode == EXIT_INPUT  # the truncated JPEG
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "file,x1,y1,x2,y2,score"
    files = [line.split(",")[0] for line in lines[1:]]
    # an image without a face is a row too (empty fields), not silence (issue #27)
    assert [Path(f).name for f in files] == ["obama.jpg", "a_obama2.jpg", "b_astronaut.png",
                                             "c_wall.png"]
    assert lines[-1].endswith("c_wall.png,,,,,")
    assert "d_broken.jpg" in done.stderr and "truncated" in done.stderr
    peer = cli("detect", "--format", "face_recognition", data_dir / "obama.jpg")
    top, right, bottom, left = map(int, peer.stdout.strip().split(",")[1:])
    assert left < right and top < bottom and peer.returncode == EXIT_OK
    as_json = cli("detect", "--json", data_dir / "biden.jpg")
    record = json.loads(as_json.stdout)
    assert record["file"].endswith("biden.jpg") and len(record["box"]) == 4


@pytest.mark.slow
def test_detect_in_worker_processes_keeps_the_order(folders, data_dir):
    one = cli("detect", folders / "unknown", data_dir)
    two = cli("detect", "--cpus", "2", folders / "unknown", data_dir)
    assert one.stdout == two.stdout and one.returncode == two.returncode == EXIT_INPUT


@pytest.mark.slow
def test_identify_like_face_recognition(folders):
    done = cli("identify", folders / "known", folders / "unknown")
    lines = done.stdout.strip().splitlines()
    names = {Path(line.split(",")[0]).name: line.split(",")[1] for line in lines}
    assert names == {"a_obama2.jpg": "obama", "b_astronaut.png": "unknown_person",
                     "c_wall.png": "no_persons_found"}
    assert done.returncode == EXIT_INPUT and "d_broken.jpg" in done.stderr
    distance = cli("identify", "--show-distance", folders / "known", folders / "unknown" /
                   "a_obama2.jpg")
    path, name, value = distance.stdout.strip().split(",")
    assert name == "obama" and 0 < float(value) < 0.6  # face_recognition's scale
    for tolerance in ("0.6", "0.5"):  # the peer's numbers mean what they meant
        peer = cli("identify", "--tolerance", tolerance, folders / "known",
                   folders / "unknown" / "a_obama2.jpg")
        assert peer.stdout.strip().endswith(",obama")
    strict = cli("identify", "--tolerance", "0.2", folders / "known", folders / "unknown" /
                 "a_obama2.jpg")
    assert strict.stdout.strip().endswith(",unknown_person")
    # sub-folders of KNOWN are ignored, as by face_recognition, unless --folders
    ignored = cli("identify", folders / "people", folders / "unknown" / "a_obama2.jpg")
    assert ignored.returncode == EXIT_USAGE and "no usable face" in ignored.stderr
    by_folders = cli("identify", "--folders", folders / "people",
                     folders / "unknown" / "a_obama2.jpg")
    assert by_folders.stdout.strip().endswith(",obama")
    as_json = json.loads(cli("identify", "--json", folders / "known",
                             folders / "unknown" / "a_obama2.jpg").stdout)
    assert as_json["faces"][0]["name"] == "obama" and as_json["faces"][0]["known"]


@pytest.mark.slow
def test_train_then_identify_and_annotate_with_the_model(folders, tmp_path):
    model = tmp_path / "door.pkl"
    done = cli("train", folders / "people", "-o", model, "--classifier", "knn", "--key", "k")
    assert done.returncode == EXIT_OK, done.stderr
    assert model.is_file() and (tmp_path / "door.labels.json").is_file()
    assert "enrolled 3 photos of 2 people" in done.stderr
    named = cli("identify", model, folders / "unknown" / "a_obama2.jpg", "--key", "k")
    assert named.stdout.strip().endswith(",obama")
    wrong_key = cli("identify", model, folders / "unknown" / "a_obama2.jpg", "--key", "nope")
    assert wrong_key.returncode == EXIT_MODEL and "failed verification" in wrong_key.stderr
    assert len(wrong_key.stderr.strip().splitlines()) == 1  # one line, no traceback
    out = tmp_path / "named.png"
    annotated = cli("annotate", folders / "unknown" / "a_obama2.jpg", "-o", out, "--model", model,
                    "--key", "k")
    assert annotated.returncode == EXIT_OK and ft.read_image(out).shape == (1200, 626, 3)


@pytest.mark.slow
def test_verify_exit_codes(data_dir, folders):
    same = cli("verify", data_dir / "obama.jpg", data_dir / "obama2.jpg")
    assert same.returncode == EXIT_OK and same.stdout.startswith("same person")
    different = cli("verify", "--json", data_dir / "obama.jpg", data_dir / "biden.jpg")
    assert different.returncode == EXIT_DIFFERENT
    assert json.loads(different.stdout)["verified"] is False
    # a photo without a face is an input problem (exit 3, not "different people"), named
    wall = folders / "unknown" / "c_wall.png"
    no_face = cli("verify", data_dir / "obama.jpg", wall)
    assert no_face.returncode == EXIT_INPUT and str(wall) in no_face.stderr
    as_json = json.loads(cli("verify", "--json", data_dir / "obama.jpg", wall).stdout)
    assert as_json["verified"] is False and str(wall) in as_json["error"]
    assert as_json["faces"] == [1, 0]
    unreadable = cli("verify", data_dir / "obama.jpg", folders / "missing.jpg")
    assert unreadable.returncode == EXIT_INPUT
    bad = cli("verify", "--threshold", "5", data_dir / "obama.jpg", data_dir / "obama2.jpg")
    assert bad.returncode == EXIT_USAGE and "--threshold" in bad.stderr


def test_output_folders_that_do_not_exist_are_named_before_any_work(folders, tmp_path):
    missing = tmp_path / "nodir"
    enrolled = cli("enroll", folders / "people", "--db", missing / "g.db")
    assert enrolled.returncode == EXIT_USAGE and f"folder {missing} does not exist" in \
        enrolled.stderr  # it was exit 4, "not a usable gallery"
    recognizer = ft.FaceRecognizer(classifier="knn").fit(
        np.eye(128, dtype=np.float32)[:2], ["a", "b"])
    for write in (lambda: recognizer.save_label_mapping(missing / "x.json"),
                  lambda: recognizer.save(missing / "x.pkl")):
        with pytest.raises(FileNotFoundError, match=f"cannot write .*folder {missing}"):
            write()  # it named a temporary file


@pytest.mark.slow
def test_identify_with_worker_processes_never_hangs(folders, tmp_path):
    """--cpus 2 hung in 3 of 8 runs (children forked after OpenCV's threads had started in
    the parent, which had just enrolled KNOWN): workers are spawned now. Eight runs, each
    under a timeout, all complete with every image named, in input order."""
    images = tmp_path / "many"
    images.mkdir()
    for i in range(3):
        shutil.copyfile(folders / "unknown" / "a_obama2.jpg", images / f"{i}_obama2.jpg")
        shutil.copyfile(folders / "unknown" / "b_astronaut.png", images / f"{i}_astronaut.png")
    expected = sorted((f"{i}_astronaut.png", "unknown_person") for i in range(3)) + \
        sorted((f"{i}_obama2.jpg", "obama") for i in range(3))
    for _ in range(8):
        done = cli("identify", "--cpus", "2", folders / "known", images, timeout=60)
        assert done.returncode == EXIT_OK, done.stderr
        rows = [line.split(",") for line in done.stdout.strip().splitlines()]
        assert [(Path(p).name, n) for p, n in rows] == sorted(expected)


def test_identify_against_a_gallery(folders, tmp_path):
    db = tmp_path / "g.db"
    assert cli("enroll", folders / "people", "--db", db).returncode == EXIT_OK
    photos = [folders / "unknown" / "a_obama2.jpg", folders / "unknown" / "b_astronaut.png"]
    for call in (("identify", db, *photos), ("identify", "--db", db, *photos)):
        done = cli(*call)  # a gallery as KNOWN (it said "not a face_trigger model file")
        assert done.returncode == EXIT_OK, done.stderr
        names = [line.split(",")[1] for line in done.stdout.strip().splitlines()]
        assert names == ["obama", "unknown_person"]
    lonely = cli("identify", folders / "known")
    assert lonely.returncode == EXIT_USAGE and "image" in lonely.stderr
    fifo = tmp_path / "known.db"
    os.mkfifo(fifo)  # not waited on while guessing whether KNOWN is a gallery
    piped = cli("identify", fifo, photos[0], timeout=30)
    assert piped.returncode == EXIT_USAGE and "neither a folder nor a saved model" in piped.stderr


def test_identify_flags_are_checked_as_usage(data_dir, folders):
    too_high = cli("identify", "--threshold", "2", folders / "known", folders / "unknown")
    assert too_high.returncode == EXIT_USAGE and "--threshold" in too_high.stderr
    assert "Traceback" not in too_high.stderr
    both = cli("identify", "--threshold", "0.5", "--tolerance", "1.0", folders / "known",
               folders / "unknown")
    assert both.returncode == EXIT_USAGE and "not both" in both.stderr


@pytest.mark.slow
def test_calibrate_command(folders, tmp_path):
    # 2 impostor pairs cannot show an FMR of 0.5: nothing is written without --force (#27)
    refused = cli("calibrate", folders / "people", "--target-fmr", "0.5", "-o",
                  tmp_path / "c.json")
    assert refused.returncode == EXIT_ERROR and "--force" in refused.stderr
    assert "2 impostor pairs" in refused.stderr and not (tmp_path / "c.json").exists()
    done = cli("calibrate", folders / "people", "--target-fmr", "0.5", "-o", tmp_path / "c.json",
               "--force")
    assert done.returncode == EXIT_OK, done.stderr
    assert "threshold for FMR <= 0.5" in done.stdout
    assert ft.calibration.MatchCalibration.load(tmp_path / "c.json").genuine_pairs == 1
    assert "warning: 2 impostor pairs" in done.stderr and "rule of three" in done.stderr


def test_corrupt_model_directory_is_a_model_error(tmp_path, data_dir):
    bad = tmp_path / "models"
    bad.mkdir()
    (bad / "face_detection_yunet_2023mar.onnx").write_bytes(b"not a model")
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT, FACE_TRIGGER_MODEL_DIR=str(bad))
    script = shutil.which("face-trigger")
    command = [script] if script else [sys.executable, "-m", "face_trigger"]
    done = subprocess.run(command + ["detect", str(data_dir / "obama.jpg")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == EXIT_MODEL and "integrity" in done.stderr


def test_empty_folder(tmp_path):
    done = cli("detect", tmp_path)
    assert done.returncode == EXIT_OK and done.stdout.strip() == "file,x1,y1,x2,y2,score"


@pytest.mark.slow
def test_watch_runs_the_door(folders, tmp_path, images, reference):
    from face_trigger.testing import Visit, door_video, write_video
    crop = ft.image_io.crop_around(images["obama2"], reference["obama2"].box, 0.6)
    video = write_video(tmp_path / "v.avi", (f for f, _ in door_video(
        [Visit("obama", crop, reference["obama2"].width, start_s=0.2)], 3.0)))
    done = cli("watch", video, "--people", folders / "people", "--json", "--audit",
               tmp_path / "audit.jsonl", "--set", f'audit.snapshots="{tmp_path / "s"}"')
    assert done.returncode == EXIT_OK, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["person"] for e in events] == ["obama"]
    bad = cli("watch", video, "--people", folders / "people", "--set", "decision.vote=1")
    assert bad.returncode == EXIT_USAGE and "decision.vote" in bad.stderr


@pytest.mark.slow
def test_bench_and_module_entry_point_from_another_directory(tmp_path):
    done = cli("bench", "--repeats", "3", cwd=tmp_path)
    assert done.returncode == EXIT_OK and "detect_embedding" in done.stdout
    demo = cli("demo", "-o", "d.png", cwd=tmp_path)
    assert demo.returncode == EXIT_OK and (tmp_path / "d.png").is_file()
    assert "sha256 verified" in demo.stdout
    assert "WARN" not in demo.stderr  # OpenCV's own warnings are hidden without -v


@pytest.mark.slow
def test_enroll_into_a_gallery_and_annotate_with_it(folders, tmp_path, images, reference):
    people = tmp_path / "people"
    shutil.copytree(folders / "people", people)
    group = paste_faces((1200, 600), [
        (ft.image_io.crop_around(images["obama"], reference["obama"].box), 0, 0, 0.8),
        (ft.image_io.crop_around(images["biden"], reference["biden"].box), 600, 0, 0.8)])
    ft.write_image(people / "obama" / "group.jpg", group)
    db = tmp_path / "g.db"
    done = cli("enroll", people, "--db", db)
    # the group photo is refused: the report is the same, the exit status says so (#27)
    assert done.returncode == EXIT_ERROR, done.stderr
    assert "1 of 4 photos were refused" in done.stderr
    assert "enrolled 3 of 4 photos" in done.stdout and "several_faces" in done.stdout
    assert "2 people, 3 faceprints" in done.stderr
    again = cli("enroll", people, "--db", db)  # the same folder once more: nothing twice
    assert again.returncode == EXIT_ERROR and "2 people, 3 faceprints" in again.stderr
    assert "enrolled 0 of 4 photos; 3 already enrolled, skipped" in again.stdout
    as_json = [json.loads(line) for line in cli("enroll", people, "--db", tmp_path / "h.db",
                                                "--json").stdout.splitlines()]
    assert len(as_json) == 4 and sum(r["enrolled"] for r in as_json) == 3
    out = tmp_path / "named.png"
    annotated = cli("annotate", folders / "unknown" / "a_obama2.jpg", "-o", out, "--db", db)
    assert annotated.returncode == EXIT_OK and out.is_file()
    # a known face and a stranger side by side: their boxes are drawn in different colours
    pair = paste_faces((1200, 600), [
        (ft.image_io.crop_around(images["obama2"], reference["obama2"].box), 0, 0, 0.8),
        (ft.image_io.crop_around(images["astronaut"], reference["astronaut"].box), 600, 0,
         0.8 * reference["obama2"].width / reference["astronaut"].width)])
    ft.write_image(tmp_path / "pair.png", pair)
    cli("annotate", tmp_path / "pair.png", "-o", out, "--db", db)
    drawn = ft.read_image(out)
    edge = {}
    as_annotate = ft.FacePipeline(ft.detector.YuNetDetector(max_side=ft.thresholds.STILL_MAX_SIDE))
    for face in as_annotate.analyze(pair):
        x1, y1, _, y2 = (int(round(v)) for v in face.box)
        edge["left" if x1 < 600 else "right"] = drawn[(y1 + y2) // 2, x1].astype(int)
    assert np.abs(edge["left"] - ft.draw.FACE_COLOUR).max() < 80  # obama: known
    assert np.abs(edge["right"] - ft.draw.UNKNOWN_COLOUR).max() < 80  # the astronaut
    wrong = tmp_path / "wrong.db"
    ft.Gallery(wrong, "another_model@0")
    refused = cli("enroll", people, "--db", wrong)
    assert refused.returncode == EXIT_MODEL and "cannot be compared" in refused.stderr


def test_annotate_a_folder_into_a_folder(folders, tmp_path, capsys):
    db = tmp_path / "door.db"
    assert main(["enroll", str(folders / "people"), "--db", str(db)]) == EXIT_OK
    out = tmp_path / "annotated"  # created: its parent exists
    status = main(["annotate", str(folders / "unknown"), "-o", str(out), "--db", str(db)])
    assert status == EXIT_INPUT  # d_broken.jpg is reported, the others are written
    err = capsys.readouterr().err
    assert "d_broken.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["a_obama2.jpg", "b_astronaut.png",
                                                     "c_wall.png"]
    assert ft.read_image(out / "a_obama2.jpg").shape == ft.read_image(
        folders / "unknown" / "a_obama2.jpg").shape
    assert main(["annotate", str(folders / "unknown"), "-o", str(out / "a_obama2.jpg")]
                ) == EXIT_USAGE  # several images need a folder
    assert main(["annotate", str(folders / "unknown"), "-o", str(tmp_path / "no" / "dir")]
                ) == EXIT_USAGE


def test_identify_max_side_finds_small_faces(tmp_path, images, reference, folders, capsys):
    crop = ft.testing.face_crop(images["obama2"], reference["obama2"].box)[0]
    small = paste_faces((3840, 2160), [(crop, 1800, 1000, 0.12)])  # a face of about 35 px
    path = tmp_path / "crowd.jpg"
    ft.image_io.write_image(path, small)
    known = str(folders / "known")
    assert main(["identify", known, str(path), "--max-side", "736"]) == EXIT_OK
    assert capsys.readouterr().out.strip().endswith("no_persons_found")
    assert main(["identify", known, str(path)]) == EXIT_OK  # default: up to 2048 px
    assert capsys.readouterr().out.strip() == f"{path},obama"
    assert main(["identify", known, str(path), "--max-side", "8"]) == EXIT_USAGE


def test_gallery_commands_list_rename_remove_export_import(folders, tmp_path, capsys):
    db = tmp_path / "door.db"
    assert main(["enroll", str(folders / "people"), "--db", str(db)]) == EXIT_OK
    capsys.readouterr()
    assert main(["gallery", "list", "--db", str(db)]) == EXIT_OK
    listed = capsys.readouterr()
    assert listed.out.splitlines() == ["biden\t1", "obama\t2"]
    assert "2 people, 3 faceprints" in listed.err
    assert main(["gallery", "rename", "biden", "joe_biden", "--db", str(db)]) == EXIT_OK
    export = tmp_path / "export.json"
    assert main(["gallery", "export", str(export), "--db", str(db)]) == EXIT_OK
    assert main(["gallery", "remove", "obama", "--db", str(db)]) == EXIT_OK
    assert "2 faceprint(s)" in capsys.readouterr().err
    assert main(["gallery", "list", "--json", "--db", str(db)]) == EXIT_OK
    assert [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()] == [
        "joe_biden"]
    copy = tmp_path / "copy.db"  # import creates the gallery it is given
    assert main(["gallery", "import", str(export), "--db", str(copy)]) == EXIT_OK
    assert "3 faceprint(s)" in capsys.readouterr().err
    restored = ft.Gallery(copy, ft.FacePipeline().model)
    restored_people = [(p["name"], p["faceprints"]) for p in restored.people()]
    assert restored_people == [("joe_biden", 1), ("obama", 2)]
    assert restored.identify(ft.FacePipeline().analyze(ft.read_image(
        folders / "unknown" / "a_obama2.jpg"))[0].vector)[0].name == "obama"
    assert main(["gallery", "upgrade", "--db", str(db)]) == EXIT_OK


def test_gallery_commands_refuse_clearly(folders, tmp_path, capsys):
    db = tmp_path / "door.db"
    assert main(["enroll", str(folders / "people"), "--db", str(db)]) == EXIT_OK
    capsys.readouterr()
    typo = tmp_path / "dor.db"
    assert main(["gallery", "list", "--db", str(typo)]) == EXIT_INPUT
    assert "no gallery at" in capsys.readouterr().err and not typo.exists()  # not created
    assert main(["gallery", "remove", "nobody", "--db", str(db)]) == EXIT_ERROR
    assert "'nobody' is not enrolled" in capsys.readouterr().err
    assert main(["gallery", "rename", "obama", "biden", "--db", str(db)]) == EXIT_ERROR
    assert "already enrolled" in capsys.readouterr().err
    assert main(["gallery", "export", str(tmp_path / "nodir" / "x.json"), "--db", str(db)]
                ) == EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    assert main(["gallery", "import", str(tmp_path / "missing.json"), "--db", str(db)]
                ) == EXIT_INPUT
    assert main(["gallery", "list"]) == EXIT_USAGE  # --db is required
    assert main(["gallery"]) == EXIT_USAGE  # and an action
    assert [p["faceprints"] for p in ft.Gallery(db, ft.FacePipeline().model).people()] == [1, 2]


@pytest.mark.slow
def test_a_postgresql_gallery_from_the_command_line(folders, pg_url, tmp_path, images,
                                                    reference):
    from face_trigger.testing import Visit, door_video, write_video
    done = cli("enroll", folders / "people", "--db", pg_url)
    assert done.returncode == EXIT_OK, done.stderr
    assert "2 people" in done.stderr
    upgraded = cli("gallery-upgrade", "--db", pg_url)
    assert upgraded.returncode == EXIT_OK and "up to date" in upgraded.stdout
    listed = cli("gallery", "list", "--db", pg_url)
    assert listed.returncode == EXIT_OK and listed.stdout.splitlines() == ["biden\t1",
                                                                           "obama\t2"]
    renamed = cli("gallery", "rename", "biden", "joe", "--db", pg_url)
    assert renamed.returncode == EXIT_OK, renamed.stderr
    crop = ft.image_io.crop_around(images["obama2"], reference["obama2"].box, 0.6)
    video = write_video(tmp_path / "v.avi", (f for f, _ in door_video(
        [Visit("obama", crop, reference["obama2"].width, start_s=0.2)], 3.0)))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    watched = cli("watch", video, "--gallery", pg_url, "--json", "--audit",
                  tmp_path / "log" / "audit.jsonl", cwd=elsewhere)
    assert watched.returncode == EXIT_OK, watched.stderr
    events = [json.loads(line) for line in watched.stdout.splitlines()]
    assert [e["person"] for e in events] == ["obama"]
    # snapshots go beside the audit log, not into the working folder
    assert Path(events[0]["snapshot"]).parent == tmp_path / "log" / "snapshots"
    assert list(elsewhere.iterdir()) == []
    down = cli("enroll", folders / "people", "--db",
               f"postgresql://door:secret@/faces?host={tmp_path}")
    assert down.returncode == EXIT_ERROR and "cannot reach" in down.stderr
    assert "secret" not in down.stderr
