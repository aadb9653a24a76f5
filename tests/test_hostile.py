"""Hostile and careless inputs (issue #15): each gets a typed error or a clean refusal.

So far: thresholds and numeric settings out of range (#15 item 1), refused at start with the
key named (door configuration, ``--set``) and in the Python objects that use them.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import face_trigger as ft
from face_trigger.door.actions import CommandAction, LogAction, WebhookAction
from face_trigger.cli import EXIT_USAGE, main
from face_trigger.door.decision import DecisionSettings
from face_trigger.door.config import ConfigError, load_config
from face_trigger.door.sources import FrameSource
from conftest import require

BASE = {"source": {"uri": "door.avi"}, "recognizer": {"model": "door.pkl"}}

BAD_SETTINGS = [
    ("recognizer.unknown_threshold", -1), ("recognizer.unknown_threshold", float("-inf")),
    ("recognizer.unknown_threshold", float("nan")), ("recognizer.unknown_threshold", 5),
    ("recognizer.margin", -1), ("recognizer.margin", float("nan")),
    ("source.max_backoff_s", -1), ("detector.max_side", 10), ("detector.conf_threshold", 5),
    ("audit.max_bytes", 10), ("audit.backups", -1), ("decision.cooldown_s", float("nan")),
    ("decision.verify_every_s", 0), ("decision.cut_threshold", 2),
]


@pytest.mark.parametrize("dotted,value", BAD_SETTINGS)
def test_a_bad_setting_stops_the_start_naming_its_key(dotted, value):
    section, key = dotted.split(".")
    data = {s: dict(v) for s, v in BASE.items()}
    data.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError, match=key):
        load_config(data=data)


@pytest.mark.parametrize("override", ["recognizer.unknown_threshold=nan",
                                      "recognizer.unknown_threshold=-inf",
                                      "recognizer.margin=-1", "detector.max_side=10"])
def test_a_bad_override_stops_the_start(override):
    with pytest.raises(ConfigError, match=override.split("=")[0].split(".")[1]):
        load_config(data=BASE, overrides=[override])


def test_bad_action_delivery_settings_are_refused():
    data = dict(BASE, actions=[{"type": "log", "retries": -1}])
    with pytest.raises(ConfigError, match="retries"):
        load_config(data=data)
    for bad in ({"retries": -1}, {"timeout_s": 0}, {"timeout_s": float("nan")},
                {"retries": 1.5}):
        with pytest.raises(ft.InvalidParameterError):
            CommandAction(argv=["true"], **bad)
        with pytest.raises(ft.InvalidParameterError):
            WebhookAction(url="http://127.0.0.1:9/hook", **bad)
    with pytest.raises(ft.InvalidParameterError):
        LogAction(retries=-1)


def test_watch_exits_2_on_a_threshold_that_would_open_the_door(tmp_path):
    assert main(["watch", str(tmp_path / "door.avi"), "--people", str(tmp_path),
                 "--set", "recognizer.unknown_threshold=-1"]) == EXIT_USAGE


def test_the_python_objects_check_their_gates_too(reference, tmp_path):
    enrolled = np.stack([reference[n].embedding for n in ("obama", "biden")])
    recognizer = ft.FaceRecognizer(classifier="knn").fit(enrolled, ["obama", "biden"])
    stranger = reference["astronaut"].embedding[None]
    assert recognizer.identify(stranger)[0].name == "unknown"
    for threshold, margin in ((-1.0, 0.05), (float("nan"), 0.05), (5.0, 0.05), (0.46, -1.0)):
        recognizer.unknown_threshold, recognizer.margin = threshold, margin  # as after load
        with pytest.raises(ft.InvalidParameterError):
            recognizer.identify(stranger)
        with pytest.raises(ft.InvalidParameterError):
            recognizer.infer(stranger)
    recognizer.unknown_threshold, recognizer.margin = 0.46, 0.05
    with pytest.raises(ft.InvalidParameterError, match="threshold"):
        recognizer.infer(stranger, threshold=float("nan"))
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0")
    gallery.add_faceprints("obama", [reference["obama"].embedding])
    with pytest.raises(ft.InvalidParameterError):
        gallery.identify(stranger, unknown_threshold=-1)
    with pytest.raises(ft.InvalidParameterError):
        ft.Gallery(tmp_path / "g.db", "synthetic@0", unknown_threshold=float("nan"))
    with pytest.raises(ft.InvalidParameterError):
        ft.door.AuditLog(tmp_path / "audit.jsonl", max_bytes=10)
    with pytest.raises(ft.InvalidParameterError):
        FrameSource(tmp_path / "door.avi", max_backoff_s=-1)
    with pytest.raises(ft.InvalidParameterError):
        DecisionSettings(cooldown_s=float("nan"))
    with pytest.raises(ft.InvalidParameterError):
        ft.detector.YuNetDetector(conf_threshold=5)


def test_a_gallery_refuses_to_search_a_faceprint_of_another_model(tmp_path, reference, pipeline):
    gallery = ft.Gallery(tmp_path / "g.db", pipeline.model.id)
    vector = reference["obama"].embedding
    gallery.add_faceprints("obama", [ft.Faceprint(vector, pipeline.model.id)])
    other = ft.Faceprint(vector, "other_model@000000000000")
    with pytest.raises(ft.GalleryError, match="other_model"):
        gallery.identify(other)
    with pytest.raises(ft.GalleryError, match="other_model"):
        gallery.search([ft.Faceprint(vector, pipeline.model.id), other], k=1)
    assert gallery.identify(ft.Faceprint(vector, pipeline.model.id))[0].name == "obama"


# ---------------------------------------------------------------- items 6 and 7: files
def _png_header_only(width, height):
    """A small PNG whose header declares width x height (a decompression bomb's shape)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1) * 4)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size", [(32000, 32000), (100000, 100000)])
def test_decompression_bombs_are_refused_from_the_header(size, tmp_path):
    bomb = _png_header_only(*size)
    assert len(bomb) < 200_000
    with pytest.raises(ft.ImageReadError, match="declares"):
        ft.read_image(bomb)
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(ft.ImageReadError, match="declares"):
        ft.read_image(path)
    assert main(["detect", str(path)]) == 3  # an unreadable input, no traceback


def test_the_pixel_limit_is_configurable(data_dir):
    data = (data_dir / "obama.jpg").read_bytes()  # 910 x 1137 = 1.03 MP
    assert ft.read_image(data).shape == (1137, 910, 3)
    with pytest.raises(ft.ImageReadError, match="declares 910x1137"):
        ft.read_image(data, max_pixels=1_000_000)


def test_a_fifo_or_a_device_is_refused_not_waited_on(tmp_path):
    import os

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ft.ImageReadError, match="not a regular file"):
        ft.read_image(fifo)
    with pytest.raises(ft.ImageReadError, match="not a regular file"):
        ft.read_image("/dev/zero")
    pkl = tmp_path / "door.pkl"
    os.mkfifo(pkl)
    with pytest.raises(ft.ModelFileError, match="not a regular file"):
        ft.FaceRecognizer().load(pkl)
    with pytest.raises(ft.ImageReadError):
        ft.verify(fifo, fifo)


# ---------------------------------------------------------------- item 10: tampered gallery
@pytest.mark.parametrize("damage,message", [
    (lambda v: v.tobytes()[:-4], "508 bytes"),
    (lambda v: np.full(128, np.nan, np.float32).tobytes(), "norm nan"),
    (lambda v: (v * 100).tobytes(), "norm 100"),
])
@pytest.mark.parametrize("compact", [False, True])
def test_a_tampered_gallery_vector_is_refused_with_its_id(tmp_path, damage, message, compact):
    import sqlite3

    if compact:
        require("faiss", "faiss")
    from synthetic_vectors import unit_rows

    vectors = unit_rows(np.random.default_rng(5), 300)
    path = tmp_path / "g.db"
    gallery = ft.Gallery(path, "synthetic@0", compact_from=200 if compact else 200_000)
    ids = gallery.bulk_add([f"p{i}" for i in range(300)], vectors)
    gallery.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE faceprints SET vector = ? WHERE id = ?",
                   (damage(vectors[7]), int(ids[7])))
    if compact:  # the index is loaded from its file; the vector is read back to re-rank
        reopened = ft.Gallery(path, "synthetic@0", compact_from=200)
        with pytest.raises(ft.GalleryError, match=f"faceprint {ids[7]} .*{message}"):
            reopened.search(vectors[7:8], k=1)
    else:
        with pytest.raises(ft.GalleryError, match=f"faceprint {ids[7]} .*{message}"):
            ft.Gallery(path, "synthetic@0").search(vectors[:1], k=1)


@pytest.mark.parametrize("factor", [100.0, 0.0])
def test_a_tampered_postgres_vector_is_refused_with_its_id(pg_url, factor, tmp_path):
    import psycopg
    from pgvector.psycopg import register_vector
    from synthetic_vectors import unit_rows

    vectors = unit_rows(np.random.default_rng(6), 50)
    gallery = ft.Gallery(pg_url, "synthetic@0")
    ids = gallery.bulk_add([f"p{i // 2}" for i in range(50)], vectors)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        register_vector(conn)
        with pytest.raises(psycopg.Error, match="NaN"):  # pgvector itself refuses NaN
            conn.execute("UPDATE face_trigger.faceprints SET vector = %s WHERE id = %s",
                         (np.full(128, np.nan, np.float32), int(ids[7])))
        conn.execute("UPDATE face_trigger.faceprints SET vector = %s WHERE id = %s",
                     (vectors[7] * factor, int(ids[7])))
    expected = f"faceprint {ids[7]} .*norm {factor:g}"
    with pytest.raises(ft.GalleryError, match=expected):
        gallery.search(vectors[7:8], k=50)  # every row returned (a zero vector sorts last)
    with pytest.raises(ft.GalleryError, match=expected):
        gallery.search(vectors[6:9], k=50)  # the batched statement
    with pytest.raises(ft.GalleryError, match=expected):
        gallery.vectors_of("p3")
    with pytest.raises(ft.GalleryError, match=expected):
        gallery.export_json(tmp_path / "g.json")
    assert not (tmp_path / "g.json").exists()


# ---------------------------------------------------------------- item 5: secrets in URLs
def test_database_secrets_never_reach_messages():
    from face_trigger._secrets import redact

    assert redact("postgresql://door:s3cret@db.example:5432/faces?password=zzz&sslmode=require") \
        == "postgresql://door:***@db.example:5432/faces?password=***&sslmode=require"
    assert redact("postgresql:///faces?host=/tmp&password=abc&sslpassword=k") == \
        "postgresql:///faces?host=/tmp&password=***&sslpassword=***"
    require("psycopg", "postgres")
    url = "postgresql://door@127.0.0.1:1/faces?password=hunter2&connect_timeout=2"
    with pytest.raises(ft.GalleryUnavailableError) as caught:
        ft.Gallery(url, "synthetic@0")
    assert "hunter2" not in str(caught.value) and "password=***" in str(caught.value)


# ---------------------------------------------------------------- item 12: empty input
@pytest.mark.parametrize("classifier", ["svm", "knn"])
def test_a_frame_without_a_face_is_answered_with_empty_results(classifier, reference):
    enrolled = np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")])
    recognizer = ft.FaceRecognizer(classifier=classifier).fit(enrolled,
                                                              ["obama", "obama", "biden"])
    none = np.zeros((0, 128), np.float32)  # detect_embedding's answer for an empty frame
    assert recognizer.identify(none) == [] and recognizer.infer(none).shape == (0,)
    assert recognizer.predict(none).shape == (0,)
    assert recognizer.predict_proba(none).shape == (0, 2)


# ---------------------------------------------------------------- item 14: unsigned models
def test_an_unsigned_model_warns_and_the_door_refuses_it(reference, tmp_path, monkeypatch,
                                                         caplog, folders_for_door):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    enrolled = np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")])
    model = tmp_path / "door.pkl"
    ft.FaceRecognizer(classifier="knn").fit(enrolled, ["obama", "obama", "biden"]).save(model)
    with caplog.at_level("WARNING", logger="face_trigger.recognizer"):
        ft.FaceRecognizer().load(model)
    assert "unsigned" in caplog.text
    with pytest.raises(ft.ModelFileError, match="signature is required"):
        ft.FaceRecognizer().load(model, require_signature=True)
    assert load_config(data=BASE).sections["recognizer"]["require_signature"] is True
    video = folders_for_door
    quiet = ["--audit", str(tmp_path / "audit.jsonl"),
             "--set", f"audit.snapshots={json.dumps(str(tmp_path / 'snapshots'))}"]
    assert main(["watch", str(video), "--model", str(model)] + quiet) == 4
    signed = tmp_path / "signed.pkl"
    ft.FaceRecognizer(classifier="knn").fit(enrolled, ["obama", "obama", "biden"]).save(
        signed, key="k")
    assert main(["watch", str(video), "--model", str(signed), "--key", "k", "--dry-run"]
                + quiet) == 0
    assert (tmp_path / "audit.jsonl").is_file()


@pytest.fixture()
def folders_for_door(tmp_path, images, reference):
    """A one-second video of obama's face (enough for the door to start and stop)."""
    from face_trigger.testing import Visit, door_video, face_crop, write_video

    crop, _ = face_crop(images["obama2"], reference["obama2"].box)
    visit = Visit("obama", crop, reference["obama2"].width, start_s=0.0, walk_s=0.5, stay_s=0.5)
    return write_video(tmp_path / "v.avi", (f for f, _ in door_video([visit], 1.0)), 25.0)


# ---------------------------------------------------------------- item 2: label maps
def test_an_unsigned_label_map_cannot_rename_a_signed_model(reference, tmp_path):
    enrolled = np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")])
    model = tmp_path / "door.pkl"
    trained = ft.FaceRecognizer(classifier="knn").fit(enrolled, ["alice", "alice", "bob"])
    trained.save(model, key="k")
    trained.save_label_mapping(tmp_path / "same.json")
    swapped = tmp_path / "swapped.json"
    ft.label_map.LabelMap(("bob", "alice")).save(swapped)
    loaded = ft.FaceRecognizer().load(model, key="k")
    with pytest.raises(ft.errors.LabelMapError, match="signed"):
        loaded.load_label_mapping(swapped)
    assert loaded.identify(reference["obama"].embedding[None])[0].name == "alice"
    loaded.load_label_mapping(tmp_path / "same.json")  # the same names: fine
    unsigned = tmp_path / "unsigned.pkl"
    trained.save(unsigned)
    relabelled = ft.FaceRecognizer().load(unsigned)
    relabelled.load_label_mapping(swapped)  # no signature to protect: the map decides
    assert relabelled.identify(reference["obama"].embedding[None])[0].name == "bob"


# ---------------------------------------------------------------- item 9: SQLite failures
def test_another_applications_sqlite_file_is_not_taken_for_a_gallery(tmp_path):
    import sqlite3

    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT)")
    with pytest.raises(ft.GalleryError, match="another application"):
        ft.Gallery(foreign, "synthetic@0")
    with sqlite3.connect(foreign) as db:  # and it was left as it was
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["people"]


def test_a_read_only_gallery_file_gives_a_typed_error(tmp_path):
    import os

    from synthetic_vectors import unit_rows

    path = tmp_path / "g.db"
    gallery = ft.Gallery(path, "synthetic@0")
    gallery.add_faceprints("alice", unit_rows(np.random.default_rng(0), 1))
    gallery.close()
    os.chmod(path, 0o444)
    if os.access(path, os.W_OK):
        pytest.skip("running as root: a read-only file is still writable")
    read_only = ft.Gallery(path, "synthetic@0")
    with pytest.raises(ft.GalleryError, match="read-only"):
        read_only.add_faceprints("bob", unit_rows(np.random.default_rng(1), 1))


def test_a_gallery_locked_too_long_is_unavailable_not_a_crash(tmp_path):
    import sqlite3

    from synthetic_vectors import unit_rows

    path = tmp_path / "g.db"
    gallery = ft.Gallery(path, "synthetic@0")
    gallery.backend._db().execute("PRAGMA busy_timeout = 100")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(ft.GalleryUnavailableError, match="locked"):
            gallery.add_faceprints("alice", unit_rows(np.random.default_rng(0), 1))
    finally:
        holder.rollback()
        holder.close()
    gallery.add_faceprints("alice", unit_rows(np.random.default_rng(0), 1))  # free again
    assert len(gallery) == 1


@pytest.mark.slow
def test_processes_creating_the_same_person_at_once_all_succeed(tmp_path):
    import multiprocessing

    path = tmp_path / "g.db"
    ft.Gallery(path, "synthetic@0").close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        counts = pool.map(_enrol_many, [(str(path), seed) for seed in range(4)])
    assert counts == [40] * 4
    gallery = ft.Gallery(path, "synthetic@0")
    assert len(gallery) == 160 and {p["name"] for p in gallery.people()} == \
        {f"shared{i}" for i in range(10)} | {f"batch{i}" for i in range(4)}


def _enrol_many(job):
    """20 single adds into 10 people that all four processes create, and a bulk add."""
    import numpy as np  # noqa: F811 - a spawned process

    import face_trigger as ft  # noqa: F811

    path, seed = job
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((40, 128)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    gallery = ft.Gallery(path, "synthetic@0")
    for i in range(20):
        gallery.add_faceprints(f"shared{i % 10}", rows[i:i + 1])
    gallery.bulk_add([f"batch{seed}"] * 20, rows[20:])
    gallery.close()
    return 40


# ---------------------------------------------------------------- item 12: untyped leaks
def test_malformed_faceprints_exports_and_ids_get_typed_errors(tmp_path, reference):
    good = ft.Faceprint(reference["obama"].embedding, "m@1")
    data = json.loads(good.to_json())
    big = dict(data, values=[10 ** 20] + data["values"][1:])
    for text in (json.dumps(big), "[" * 100_000 + "]" * 100_000, json.dumps(dict(data, model=5))):
        with pytest.raises(ft.EmbeddingError):
            ft.Faceprint.from_json(text)
    gallery = ft.Gallery(tmp_path / "g.db", "m@1")
    gallery.add_faceprints("obama", [good])
    with pytest.raises(ft.GalleryError, match="no faceprint"):
        gallery.remove_faceprint(10 ** 30)
    with pytest.raises(ft.InvalidParameterError, match="k must be"):
        gallery.search(good, k=10 ** 12)
    export = tmp_path / "export.json"
    gallery.export_json(export)
    content = json.loads(export.read_text())
    content["people"].append({"faceprints": [{"vector": [0.1] * 128}]})  # no name
    export.write_text(json.dumps(content))
    other = ft.Gallery(tmp_path / "other.db", "m@1")
    with pytest.raises(ft.GalleryError, match=r"people\[1\] is malformed"):
        other.import_json(export)
    assert len(other) == 0  # nothing was imported


def test_a_signed_file_whose_header_is_not_an_object_is_refused(tmp_path, reference):
    from face_trigger.signed_file import write_signed

    path = tmp_path / "odd.pkl"
    write_signed(path, ["a", "list"], b"payload", None)
    with pytest.raises(ft.ModelFileError, match="header"):
        ft.FaceRecognizer().load(path)


def test_landmarks_far_outside_the_frame_are_refused(images, reference):
    frame = images["obama"]
    face = reference["obama"].landmarks
    with pytest.raises(ft.errors.InvalidLandmarksError, match="outside"):
        ft.align.align_faces(frame, face + 5000)
    edge = face - np.array([face[:, 0].min() + 5, 0], np.float32)  # cut by the left edge
    assert ft.align.align_faces(frame, edge).shape == (1, 112, 112, 3)


def test_detector_and_embedder_settings_and_files_are_checked(tmp_path):
    from face_trigger.model_files import locate_model

    with pytest.raises(ft.InvalidParameterError, match="top_k"):
        ft.detector.YuNetDetector(top_k=0)
    with pytest.raises(ft.InvalidParameterError, match="conf_threshold"):
        ft.detector.YuNetDetector(conf_threshold="0.5")
    with pytest.raises(ft.ModelIntegrityError, match="bundled detector .*not the embedder"):
        ft.embedder.SFaceEmbedder(locate_model("detector"))


# ---------------------------------------------------------------- item 13: CLI output
def test_csv_output_cannot_be_forged_by_a_file_name(tmp_path, data_dir, capsys):
    import csv
    import io
    import shutil

    name = tmp_path / 'x,"y"\nforged,1,2,3,4,0.99.jpg'
    shutil.copyfile(data_dir / "obama.jpg", name)
    assert main(["detect", str(name)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["file", "x1", "y1", "x2", "y2", "score"]
    assert len(rows) == 2 and rows[1][0] == str(name)


# ---------------------------------------------------------------- item 8: hung actions
def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting to be reaped is gone too
        return stat.read().split()[2] != "Z"


@pytest.mark.slow
def test_a_command_that_outlives_its_timeout_is_killed_with_its_children(tmp_path):
    import time

    pids = tmp_path / "pids"
    action = CommandAction(argv=["sh", "-c", f"sleep 60 & echo $! > {pids}; sleep 60"],
                           timeout_s=1.0, retries=0)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out"):
        action.run({})
    assert time.monotonic() - start < 10
    child = int(pids.read_text())
    time.sleep(0.2)
    assert not _alive(child)


@pytest.mark.slow
def test_a_hung_action_does_not_outlive_the_door_and_is_reported(tmp_path):
    import time

    from face_trigger.door.actions import ActionRunner

    results = []
    runner = ActionRunner(on_result=lambda event, action, ok, detail:
                          results.append((event["event_id"], ok, detail)))
    slow = CommandAction(argv=["sleep", "987"], timeout_s=600, retries=0)
    runner.submit({"event_id": "a"}, slow)
    runner.submit({"event_id": "b"}, slow)
    time.sleep(0.5)
    start = time.monotonic()
    runner.close(timeout=1.0)
    assert time.monotonic() - start < 15
    assert [(e, ok) for e, ok, _ in results] == [("a", False), ("b", False)]
    assert "killed" in results[0][2] and "not run" in results[1][2]
    assert not slow._running()


# ---------------------------------------------------------------- item 4: a full disk
_FILL_AUDIT = """
import resource, sys
from face_trigger.door.audit import AuditLog
from face_trigger.errors import AuditError
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))   # like `ulimit -f`: a full disk
log = AuditLog(sys.argv[1], fsync=False)
written = 0
try:
    for i in range(100):
        log.append({"type": "decision", "person": "alice", "padding": "x" * 200, "i": i})
        written += 1
except AuditError as exc:
    print(written, "AuditError", exc)
"""


@pytest.mark.slow
def test_a_full_disk_leaves_whole_audit_lines_and_a_typed_error(tmp_path):
    import subprocess
    import sys

    from face_trigger.door.audit import verify_chain

    path = tmp_path / "audit.jsonl"
    done = subprocess.run([sys.executable, "-c", _FILL_AUDIT, str(path)], capture_output=True,
                          text=True, timeout=60)
    written, kind = done.stdout.split()[:2]
    assert done.returncode == 0 and kind == "AuditError" and 0 < int(written) < 100
    assert path.read_bytes().endswith(b"\n")
    ok, lines, problem = verify_chain(path)
    assert ok and lines == int(written), problem


def test_a_torn_last_line_is_moved_out_and_the_repair_audited(tmp_path):
    from face_trigger.door.audit import AuditLog, verify_chain

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(3):
        log.append({"type": "decision", "i": i})
    with open(path, "ab") as handle:
        handle.write(b'{"type": "decision", "i": 3, "pre')  # the process died mid-line
    reopened = AuditLog(path)
    assert (tmp_path / "audit.jsonl.torn").read_bytes() == b'{"type": "decision", "i": 3, "pre\n'
    reopened.append({"type": "decision", "i": 4})
    ok, lines, problem = verify_chain(path)
    assert ok and lines == 5, problem
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["type"] for r in records] == ["decision"] * 3 + ["repair", "decision"]


@pytest.mark.slow
def test_the_door_fails_closed_and_keeps_watching_when_it_cannot_audit(tmp_path, images,
                                                                       reference, pipeline):
    import shutil

    from face_trigger.door.audit import AuditLog
    from face_trigger.door.sources import Frame
    from face_trigger.testing import Actor, Scene, face_crop
    from face_trigger.door.trigger import DoorTrigger

    enrolled = np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")])
    recognizer = ft.FaceRecognizer(classifier="knn").fit(enrolled, ["obama", "obama", "biden"])
    audit_path = tmp_path / "audit.jsonl"
    audit = AuditLog(audit_path)
    audit_path.mkdir()  # from now on every append fails with a real OSError
    trigger = DoorTrigger(recognizer, pipeline, actions=[LogAction()], audit=audit)
    scene = Scene("obama", (Actor("obama", *face_crop(images["obama2"], reference["obama2"].box),
                                  0.0, 2.0, start_px=100),), 2.0)
    events = []
    for index, (image, _) in enumerate(scene.frames()):
        events += trigger.process(Frame(index, index / scene.fps, image))
    trigger.close()
    assert trigger.stats.frames == 50 and trigger.stats.audit_failures >= 1
    decided = [e for e in events if e.decision == "identified"]
    assert decided and all(not e.fired for e in decided)
    assert decided[0].refused["log"] == "audit log unwritable (fail closed)"
    shutil.rmtree(audit_path)


def test_a_setting_out_of_range_on_the_command_line_exits_2(data_dir):
    assert main(["detect", "--max-side", "10", str(data_dir / "obama.jpg")]) == EXIT_USAGE


# ---------------------------------------------------------------- item 3: the audit chain
def _log(tmp_path, n=6, **kwargs):
    from face_trigger.door.audit import AuditLog

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, **kwargs)
    for i in range(n):
        log.append({"type": "decision", "i": i})
    return path


@pytest.mark.parametrize("cut", ["last line", "last two", "first line", "empty", "deleted",
                                 "edited last", "null line"])
def test_cutting_either_end_of_the_audit_log_is_detected(tmp_path, cut, monkeypatch):
    from face_trigger.door.audit import verify_chain

    monkeypatch.delenv("FACE_TRIGGER_AUDIT_KEY", raising=False)
    path = _log(tmp_path)
    assert verify_chain(path) == (True, 6, None)
    lines = path.read_bytes().splitlines(keepends=True)
    changed = {"last line": lines[:-1], "last two": lines[:-2], "first line": lines[1:],
               "empty": [], "deleted": None,
               "edited last": lines[:-1] + [lines[-1].replace(b'"i": 5', b'"i": 9')],
               "null line": lines + [b"null\n"]}[cut]
    if changed is None:
        path.unlink()
    else:
        path.write_bytes(b"".join(changed))
    ok, _, problem = verify_chain(path)
    assert not ok and problem


def test_a_keyed_audit_chain_cannot_be_recomputed_without_the_key(tmp_path, monkeypatch):
    import hashlib

    from face_trigger.door.audit import GENESIS, verify_chain

    monkeypatch.delenv("FACE_TRIGGER_AUDIT_KEY", raising=False)
    path = _log(tmp_path, key="door-secret")
    assert verify_chain(path, key="door-secret")[0]
    ok, _, problem = verify_chain(path)
    assert not ok and "key" in problem
    # an attacker rewrites every line as an unkeyed chain, and its checkpoint to match
    prev, rewritten = GENESIS, []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        entry = dict(json.loads(line), prev=prev, chain="sha256", i=number * 100)
        data = json.dumps(entry, sort_keys=True).encode()
        rewritten.append(data)
        prev = hashlib.sha256(data).hexdigest()
    path.write_bytes(b"\n".join(rewritten) + b"\n")
    state = {"first_seq": 1, "last_seq": 6, "last_digest": prev, "chain": "sha256"}
    state["mac"] = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
    (tmp_path / "audit.jsonl.checkpoint").write_text(json.dumps(state))
    assert verify_chain(path)[0]  # what an unkeyed chain cannot show
    assert not verify_chain(path, key="door-secret")[0]


def test_published_anchors_catch_a_log_cut_back_with_its_checkpoint(tmp_path, monkeypatch):
    from face_trigger.door.audit import AuditLog, verify_chain

    monkeypatch.delenv("FACE_TRIGGER_AUDIT_KEY", raising=False)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    anchors = [log.append_anchored({"type": "decision", "i": i}) for i in range(6)]
    assert [a["seq"] for a in anchors] == [1, 2, 3, 4, 5, 6]
    published = [(a["seq"], a["digest"]) for a in anchors]
    assert verify_chain(path, anchors=published) == (True, 6, None)
    # the log and its checkpoint cut back together after line 4: only an anchor sees it
    lines = path.read_bytes().splitlines(keepends=True)
    checkpoint = path.with_name("audit.jsonl.checkpoint")
    path.write_bytes(b"".join(lines[:4]))
    checkpoint.unlink()
    assert not verify_chain(path)[0]  # a deleted checkpoint alone is caught (issue #25)
    AuditLog(path)._write_checkpoint()  # unkeyed, a consistent checkpoint can be rewritten
    assert verify_chain(path)[0]
    ok, _, problem = verify_chain(path, anchors=published)
    assert not ok and "anchor names line 6" in problem
    assert verify_chain(path, anchors=published[:4])[0]
    # line 2 rewritten and the (unkeyed) chain recomputed after it: its anchor differs
    path.write_bytes(b"".join(lines))
    ok, _, problem = verify_chain(path, anchors=[(2, "0" * 64)])
    assert not ok and "line 2 does not match its published anchor" in problem


def test_a_rotated_audit_log_that_dropped_its_oldest_file_still_verifies(tmp_path, monkeypatch):
    from face_trigger.door.audit import verify_chain

    monkeypatch.delenv("FACE_TRIGGER_AUDIT_KEY", raising=False)
    path = _log(tmp_path, n=60, max_bytes=1024, backups=1)
    assert (tmp_path / "audit.jsonl.1").is_file()
    ok, lines, problem = verify_chain(path, backups=1)
    assert ok and 0 < lines < 60, problem


def test_usage_problems_found_at_start_exit_2(tmp_path, data_dir):
    missing = tmp_path / "no" / "such" / "folder"
    assert main(["enroll", str(data_dir), "--db", "http://example.invalid/g"]) == EXIT_USAGE
    assert main(["annotate", str(data_dir / "obama.jpg"), "-o",
                 str(missing / "named.jpg")]) == EXIT_USAGE
    assert main(["demo", "-o", str(missing / "demo.jpg")]) == EXIT_USAGE
    assert main(["train", str(tmp_path), "-o", str(missing / "door.pkl")]) == EXIT_USAGE
    with pytest.raises(ft.GalleryError, match="unknown gallery location"):
        ft.Gallery("http://user:pw@example.invalid/g", "m@1")


def test_bad_parameters_raise_the_librarys_own_error_type(reference, tmp_path):
    enrolled = np.stack([reference[n].embedding for n in ("obama", "biden")])
    cases = [
        lambda: ft.FaceRecognizer(classifier="forest").fit(enrolled, ["a", "b"]),
        lambda: ft.FaceRecognizer().fit(enrolled, ["a"]),
        lambda: ft.Gallery(tmp_path / "g.db", "m@1").identify(enrolled, per_person="worst"),
        lambda: ft.door.IoUTracker(min_iou=0),
        lambda: ft.door.GrantPolicy(windows=("8 to 6",)),
        lambda: ft.embedder.SFaceEmbedder(batch_size=0),
        lambda: ft.load_model(role="classifier"),
    ]
    for case in cases:
        with pytest.raises(ft.FaceTriggerError):
            case()
