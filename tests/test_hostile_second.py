"""Hostile and careless inputs, second round (issue #25): each of the ten worst cases of the
broad sweep, then one case per class (a FIFO, a deep JSON, a memory bomb, a forged name...).
Each got through before; each is refused now with a typed error or a clean exit status."""
from __future__ import annotations

import json
import os
import resource
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

import face_trigger as ft
from face_trigger.cli import EXIT_DIFFERENT, EXIT_INPUT, EXIT_MODEL, EXIT_OK, EXIT_USAGE, main
from face_trigger.door.actions import CommandAction, WebhookAction
from face_trigger.door.audit import AuditLog, verify_chain
from face_trigger.door.config import ConfigError, load_config
from face_trigger.errors import (CalibrationError, GalleryLocationError, GalleryNotFoundError,
                                 LabelMapError, ModelFileError)

BASE = {"source": {"uri": "door.avi"}, "recognizer": {"model": "door.pkl"}}


def finishes(fn, seconds=10.0):
    """Run ``fn`` on a thread; (finished in time, what it raised or None)."""
    outcome = {}

    def call():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), outcome.get("error")


def fifo(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    return path


# ------------------------------------------------------------- 1: the audit tail
def written_log(tmp_path, lines=5):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(lines):
        log.append({"type": "decision", "i": i})
    return path


@pytest.mark.parametrize("erase", ["cut the last lines", "empty the log", "delete the log"])
def test_erasing_the_tail_with_the_checkpoint_fails_verification(tmp_path, erase, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_AUDIT_KEY", raising=False)
    path = written_log(tmp_path)
    (tmp_path / "audit.jsonl.checkpoint").unlink()
    if erase == "cut the last lines":
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:3]))
    elif erase == "empty the log":
        path.write_bytes(b"")
    else:
        path.unlink()
    ok, _, problem = verify_chain(path)
    assert not ok and problem
    assert main(["audit", "verify", str(path)]) == EXIT_DIFFERENT


def test_audit_verify_command_checks_anchors_and_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOOR_AUDIT_KEY", "s3cret")
    monkeypatch.delenv("FACE_TRIGGER_AUDIT_KEY", raising=False)
    log = AuditLog(tmp_path / "a.jsonl", key="s3cret")
    anchor = log.append_anchored({"type": "decision"})
    log.append({"type": "decision"})
    path = str(tmp_path / "a.jsonl")
    good = f"{anchor['seq']}:{anchor['digest']}"
    assert main(["audit", "verify", path, "--key-env", "DOOR_AUDIT_KEY", "--anchor", good]) \
        == EXIT_OK
    assert "2 lines, chain intact" in capsys.readouterr().out
    assert main(["audit", "verify", path]) == EXIT_DIFFERENT  # a keyed log needs its key
    assert main(["audit", "verify", path, "--anchor", "1:abc"]) == EXIT_USAGE


# ------------------------------------------------------------- 2: a chatty action
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_chatty_command_leaves_the_memory_flat(stream):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    redirect = "" if stream == "stdout" else " >&2"
    action = CommandAction(argv=["sh", "-c", f"cat /dev/zero{redirect}"], timeout_s=1)
    with pytest.raises(RuntimeError, match="timed out"):
        action.run({})
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50  # before: 2 GB in 1 s
    failing = CommandAction(argv=["sh", "-c", "echo why >&2; exit 3"])
    with pytest.raises(RuntimeError, match="exit status 3: why"):
        failing.run({})


# ------------------------------------------------------------- 4: gates that let strangers in
def test_gates_below_the_calibration_are_refused(data_dir):
    for threshold in (-1, float("nan"), 1.5):
        with pytest.raises(ft.InvalidParameterError, match="threshold"):
            ft.verify(data_dir / "obama.jpg", data_dir / "obama2.jpg", threshold=threshold)
    assert main(["verify", str(data_dir / "obama.jpg"), str(data_dir / "biden.jpg"),
                 "--threshold", "-0.5"]) == EXIT_USAGE
    weak = {**BASE, "recognizer": {"model": "door.pkl", "unknown_threshold": 0.0,
                                   "margin": 0.0}}
    with pytest.raises(ConfigError, match="allow_weak_gate"):
        load_config(data=weak)
    weak["recognizer"]["allow_weak_gate"] = True
    assert load_config(data=weak).sections["recognizer"]["unknown_threshold"] == 0.0


# ------------------------------------------------------------- 5: secrets
def test_secrets_are_masked_in_every_form(tmp_path):
    from face_trigger._secrets import redact

    webhook = WebhookAction(url="http://door:PW1234@127.0.0.1:8123/hook")
    assert "PW1234" not in webhook.describe({})
    assert "PW1234" not in redact("http://door:PW1234@127.0.0.1:8123/hook")
    assert "PW x" not in redact("host=db password='PW x' user=door")
    conninfo = "host=db user=door password=hunter2"
    os.chdir(tmp_path)
    with pytest.raises(GalleryLocationError) as caught:
        ft.Gallery(conninfo, "synthetic@0")
    assert "hunter2" not in str(caught.value) and "postgresql://" in str(caught.value)
    assert not any(tmp_path.iterdir())  # no file named after the password


# ------------------------------------------------------------- 6: a misspelt gallery
def test_a_misspelt_gallery_opens_nothing(tmp_path, data_dir):
    missing = tmp_path / "gallry.db"
    photo = str(data_dir / "obama.jpg")
    assert main(["identify", "--db", str(missing), photo]) == EXIT_INPUT
    assert main(["annotate", photo, "-o", str(tmp_path / "a.jpg"), "--db", str(missing)]) \
        == EXIT_INPUT
    assert main(["watch", str(tmp_path / "none.avi"), "--gallery", str(missing),
                 "--audit", str(tmp_path / "audit.jsonl")]) == EXIT_INPUT
    assert not missing.exists()
    with pytest.raises(GalleryNotFoundError):
        ft.Gallery(missing, "synthetic@0", create=False)


# ------------------------------------------------------------- 7: unsigned models
def test_the_command_line_requires_signed_models(tmp_path, reference, data_dir, monkeypatch):
    monkeypatch.delenv("FACE_TRIGGER_MODEL_KEY", raising=False)
    recognizer = ft.FaceRecognizer(classifier="knn").fit(
        np.stack([reference["obama"].embedding, reference["biden"].embedding]),
        ["obama", "biden"])
    recognizer.save(tmp_path / "unsigned.pkl")
    photo = str(data_dir / "obama2.jpg")
    assert main(["identify", str(tmp_path / "unsigned.pkl"), photo]) == EXIT_MODEL
    assert main(["annotate", photo, "-o", str(tmp_path / "a.jpg"), "--model",
                 str(tmp_path / "unsigned.pkl")]) == EXIT_MODEL
    assert main(["identify", str(tmp_path / "unsigned.pkl"), photo, "--allow-unsigned"]) \
        == EXIT_OK


# ------------------------------------------------------------- 8: FIFOs never hang
def test_fifos_are_refused_at_once(tmp_path, pipeline):
    gallery = ft.Gallery(tmp_path / "g.db", pipeline.model)
    cases = {
        "config": (lambda: load_config(fifo(tmp_path, "door.toml")), ConfigError),
        "audit log": (lambda: AuditLog(fifo(tmp_path, "audit.jsonl")), ft.errors.AuditError),
        "import": (lambda: gallery.import_json(fifo(tmp_path, "export.json")), ft.GalleryError),
        "calibration": (lambda: ft.calibration.MatchCalibration.load(fifo(tmp_path, "c.json")),
                        CalibrationError),
        "label map": (lambda: ft.label_map.LabelMap.load(fifo(tmp_path, "l.json")),
                      LabelMapError),
        "/dev/zero import": (lambda: gallery.import_json("/dev/zero"), ft.GalleryError),
    }
    for name, (call, error) in cases.items():
        done, raised = finishes(call)
        assert done, f"{name}: still blocked after 10 s"
        assert isinstance(raised, error), f"{name}: {raised!r}"
    assert main(["audit", "verify", str(fifo(tmp_path, "other.jsonl"))]) == EXIT_DIFFERENT


# ------------------------------------------------------------- 9: gallery integrity
def test_another_applications_sqlite_file_is_left_untouched(tmp_path):
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('theme', 'dark')")
    db.commit()
    db.close()
    with pytest.raises(ft.GalleryError, match="another application"):
        ft.Gallery(path, "synthetic@0")
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert tables == {"meta"}


def test_a_faceprint_without_its_person_is_not_given_to_someone_else(tmp_path, reference):
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0")
    gallery.add_faceprints("alice", [reference["obama"].embedding])
    gallery.add_faceprints("bob", [reference["biden"].embedding])
    gallery.close()
    db = sqlite3.connect(tmp_path / "g.db")
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("DELETE FROM people WHERE name = 'alice'")
    db.commit()
    db.close()
    with pytest.raises(ft.GalleryError, match="not in the gallery"):
        ft.Gallery(tmp_path / "g.db", "synthetic@0")


@pytest.mark.parametrize("name", ["ali\tce", "bob\nmallory\t9", "nul\x00", "\u202eecila",
                                  "unknown", "Unknown"])
def test_forged_names_are_refused(tmp_path, name, reference):
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0")
    with pytest.raises(ft.GalleryError):
        gallery.add_faceprints(name, [reference["obama"].embedding])
    assert gallery.people() == []


def test_unknown_is_not_a_label(reference):
    with pytest.raises(LabelMapError, match="stranger"):
        ft.FaceRecognizer().fit(np.stack([reference["obama"].embedding,
                                          reference["biden"].embedding]), ["unknown", "biden"])


# ------------------------------------------------------------- 10: memory bombs, deep JSON
def test_memory_bombs_are_refused_before_decoding(tmp_path):
    image = pytest.importorskip("PIL.Image")
    with pytest.raises(ft.ImageReadError, match="limit"):
        ft.read_image(image.new("1", (12000, 12000)))
    # a small TIFF that declares 16000 x 16000 pixels
    entries = [(256, 4, 1, 16000), (257, 4, 1, 16000)]
    tiff = b"II*\x00" + (8).to_bytes(4, "little") + len(entries).to_bytes(2, "little")
    for tag, kind, count, value in entries:
        tiff += (tag.to_bytes(2, "little") + kind.to_bytes(2, "little")
                 + count.to_bytes(4, "little") + value.to_bytes(4, "little"))
    tiff += b"\x00" * 4 + b"\x00" * 1000
    with pytest.raises(ft.ImageReadError, match="16000x16000"):
        ft.read_image(tiff)


def test_deeply_nested_json_and_toml_get_typed_errors(tmp_path, pipeline):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    (tmp_path / "deep.toml").write_text("x = " + deep)
    gallery = ft.Gallery(tmp_path / "g.db", pipeline.model)
    with pytest.raises(ft.GalleryError, match="deeply"):
        gallery.import_json(tmp_path / "deep.json")
    with pytest.raises(CalibrationError, match="deeply"):
        ft.calibration.MatchCalibration.load(tmp_path / "deep.json")
    with pytest.raises(LabelMapError, match="deeply"):
        ft.label_map.LabelMap.load(tmp_path / "deep.json")
    with pytest.raises(ConfigError):
        load_config(tmp_path / "deep.toml")
    assert main(["watch", "--config", str(tmp_path / "deep.toml")]) == EXIT_USAGE
    audit = tmp_path / "audit.jsonl"
    AuditLog(audit).append({"type": "decision"})
    with open(audit, "a") as handle:
        handle.write(deep + "\n")
    assert not verify_chain(audit)[0]
    from face_trigger.signed_file import MAGIC

    header, signature = deep.encode(), json.dumps({"type": "sha256", "value": ""}).encode()
    (tmp_path / "m.pkl").write_bytes(MAGIC + len(header).to_bytes(4, "big") + header
                                     + len(signature).to_bytes(4, "big") + signature)
    with pytest.raises(ModelFileError, match="RecursionError"):
        ft.FaceRecognizer().load(tmp_path / "m.pkl")


def test_non_utf8_toml_is_a_config_error(tmp_path):
    (tmp_path / "door.toml").write_bytes(b"[source]\nuri = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(tmp_path / "door.toml")


def test_an_import_naming_a_person_twice_imports_both_entries(tmp_path, reference):
    source = ft.Gallery(tmp_path / "a.db", "synthetic@0")
    source.add_person("bob", {"role": "guest"})
    source.add_faceprints("bob", [reference["biden"].embedding])
    source.export_json(tmp_path / "export.json")
    data = json.loads(Path(tmp_path / "export.json").read_text())
    data["people"].append(data["people"][0])  # before: the second entry failed mid-import
    (tmp_path / "export.json").write_text(json.dumps(data))
    target = ft.Gallery(tmp_path / "b.db", "synthetic@0")
    assert target.import_json(tmp_path / "export.json") == 2
    assert target.people() == [{"name": "bob", "metadata": {"role": "guest"}, "faceprints": 2}]


# ------------------------------------------------------------- the other classes
def test_corrupted_gallery_columns_and_odd_arguments_get_typed_errors(tmp_path, reference):
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0")
    gallery.add_person("alice", {"role": "staff"})
    gallery.add_faceprints("alice", [reference["obama"].embedding])
    for k in (float("nan"), 2.5, "3", True):
        with pytest.raises(ft.InvalidParameterError, match="k must be"):
            gallery.search(reference["obama"].embedding, k=k)
    with pytest.raises(ft.InvalidParameterError, match="faceprint id"):
        gallery.remove_faceprint("abc")
    gallery.close()
    db = sqlite3.connect(tmp_path / "g.db")
    db.execute("UPDATE people SET metadata = '{not json' WHERE name = 'alice'")
    db.commit()
    db.close()
    with pytest.raises(ft.GalleryError, match="damaged"):
        ft.Gallery(tmp_path / "g.db", "synthetic@0").people()
    db = sqlite3.connect(tmp_path / "g.db")
    db.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(ft.GalleryError, match="schema_version"):
        ft.Gallery(tmp_path / "g.db", "synthetic@0")


def test_door_objects_refuse_what_would_misbehave(tmp_path, reference):
    from face_trigger.door.policy import GrantPolicy
    from face_trigger.door.sources import Frame
    from face_trigger.door.trigger import DoorTrigger

    with pytest.raises(ft.InvalidParameterError, match="argv"):
        CommandAction(argv="open-door")
    with pytest.raises(ft.InvalidParameterError, match="format spec"):
        CommandAction(argv=["open-door", "{person:>50000000}"])
    with pytest.raises(ft.InvalidParameterError, match="line breaks"):
        WebhookAction(url="http://127.0.0.1/x", headers={"X-A": "1\r\nX-Injected: 2"})
    with pytest.raises(ft.InvalidParameterError, match="empty audit key"):
        AuditLog(tmp_path / "a.jsonl", key="")
    with pytest.raises(ft.InvalidParameterError, match="single string"):
        GrantPolicy(people="alice")
    recognizer = ft.FaceRecognizer(classifier="knn").fit(
        np.stack([reference["obama"].embedding, reference["biden"].embedding]),
        ["obama", "biden"])
    with pytest.raises(ft.InvalidParameterError, match="unknown_index"):
        recognizer.infer(reference["obama"].embedding, unknown_index=0)
    with pytest.raises(ft.InvalidParameterError, match="unknown_label"):
        recognizer.set_params(unknown_label="biden").predict(reference["obama2"].embedding)
    trigger = DoorTrigger(recognizer.set_params(unknown_label=None))
    for image in (None, np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8)):
        with pytest.raises(ft.InvalidImageError):
            trigger.process(Frame(0, 0.0, image))
    with pytest.raises(ft.InvalidParameterError, match="Frame"):
        trigger.process(np.zeros((8, 8, 3), np.uint8))
    trigger.close()
    assert main(["bench", "--repeats", "0"]) == EXIT_USAGE


def test_a_stream_that_never_answers_gives_up_in_seconds():
    """An HTTP camera that accepts and never answers held FFmpeg, and SIGTERM, for 30 s."""
    import socket
    import time

    from face_trigger.door.sources import STREAM_TIMEOUT_MS, FrameSource

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: [held.append(server.accept()) for _ in range(8)],
                     daemon=True).start()
    source = FrameSource(f"http://127.0.0.1:{server.getsockname()[1]}/video.mjpg",
                         max_reopen_s=0.0)
    start = time.monotonic()
    assert list(source) == []
    assert time.monotonic() - start < 3 * STREAM_TIMEOUT_MS / 1000 + 2
    server.close()
