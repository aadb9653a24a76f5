"""``watch`` acts from the command line (--exec, --webhook, --mqtt, --print, no TOML file),
refuses actions that cannot work, and tells the truth about each firing."""
from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pytest

import face_trigger as ft
from face_trigger.cli import EXIT_ERROR, EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from face_trigger.testing import Visit, door_video, read_video, write_video

pytestmark = pytest.mark.slow  # real videos, a real HTTP server and broker


@pytest.fixture(scope="module")
def door(tmp_path_factory, images, reference):
    """(a video where obama walks up, a folder enrolling obama and biden)."""
    root = tmp_path_factory.mktemp("door")
    crop = ft.image_io.crop_around(images["obama2"], reference["obama2"].box, 0.6)
    video = write_video(root / "door.avi", (f for f, _ in door_video(
        [Visit("obama", crop, reference["obama2"].width, start_s=0.2)], 3.0, size=(960, 540))))
    for name in ("obama", "biden"):
        (root / "people" / name).mkdir(parents=True)
        ft.write_image(root / "people" / name / f"{name}.jpg", images[name])
    return video, root / "people"


def watch(door, tmp_path, *extra):
    video, people = door
    return main(["watch", str(video), "--people", str(people), "--audit",
                 str(tmp_path / "audit.jsonl"), *map(str, extra)])


def audit_actions(tmp_path):
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    return [r for r in lines if r["type"] == "action"]


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the stdlib's name
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_exec_webhook_and_print_without_a_config_file(door, tmp_path, capsys):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = tmp_path / "open-door"
    script.write_text(f'#!/bin/sh\necho "$1 $2" >> {tmp_path / "opened.txt"}\n')
    script.chmod(0o755)
    _Hook.received = []
    try:
        status = watch(door, tmp_path, "--exec", f"{script} {{person}} {{event_id}}",
                       "--webhook", f"http://127.0.0.1:{server.server_port}/door", "--print")
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    assert status == EXIT_OK
    person, event_id = (tmp_path / "opened.txt").read_text().split()
    assert person == "obama"
    assert [r["event_id"] for r in _Hook.received] == [event_id]
    assert "obama\t" in out and event_id in out  # --print's line
    assert "fired open-door ok, webhook 127.0.0.1 ok, print ok" in out
    assert {(r["action"], r["ok"]) for r in audit_actions(tmp_path)} == {
        ("open-door", True), ("webhook 127.0.0.1", True), ("print", True)}


def test_an_action_that_cannot_work_is_refused_at_start(door, tmp_path, capsys):
    assert watch(door, tmp_path, "--exec", "/usr/local/bin/no-such-open-door {person}") \
        == EXIT_USAGE
    assert "no-such-open-door does not exist" in capsys.readouterr().err
    assert watch(door, tmp_path, "--webhook", "http://:8123/x") == EXIT_USAGE


def test_a_failing_action_is_reported_per_firing(door, tmp_path, capsys):
    status = watch(door, tmp_path, "--exec", "sh -c 'echo jammed >&2; exit 7'", "--json")
    captured = capsys.readouterr()
    assert status == EXIT_ERROR
    fired = [json.loads(line) for line in captured.out.splitlines()]
    fired = [e for e in fired if e["fired"]]
    assert len(fired) == 1
    assert fired[0]["results"]["sh"]["ok"] is False
    assert "exit status 7: jammed" in fired[0]["results"]["sh"]["detail"]
    assert "every action failed for obama" in captured.err
    assert "1 of 1 action runs failed" in captured.err
    assert [r["ok"] for r in audit_actions(tmp_path)] == [False]
    # --allow-failing-actions starts with a missing program, and says it failed
    assert watch(door, tmp_path, "--exec", "/nonexistent/open {person}",
                 "--allow-failing-actions") == EXIT_ERROR
    assert "FAILED" in capsys.readouterr().out


def test_mqtt_from_the_command_line(door, tmp_path, broker):
    from test_mqtt import subscribe

    client, received = subscribe(broker)
    try:
        status = watch(door, tmp_path, "--mqtt", f"mqtt://127.0.0.1:{broker}/face_trigger/door")
    finally:
        client.loop_stop()
        client.disconnect()
    assert status == EXIT_OK
    assert [topic for topic, _ in received] == ["face_trigger/door"]
    assert received[0][1]["person"] == "obama"


def test_a_camera_that_is_not_there_gives_up(tmp_path, door, capsys):
    _, people = door
    status = main(["watch", "http://127.0.0.1:9/none.mjpg", "--people", str(people),
                   "--audit", str(tmp_path / "audit.jsonl"), "--give-up-after", "0.5"])
    assert status == EXIT_INPUT
    assert "could not be opened" in capsys.readouterr().err


def test_save_video_writes_what_the_door_sees(door, tmp_path, capsys):
    import cv2

    out = tmp_path / "seen.avi"
    assert watch(door, tmp_path, "--save-video", out) == EXIT_OK
    frames = read_video(out)
    source = cv2.VideoCapture(str(door[0]))
    expected = int(source.get(cv2.CAP_PROP_FRAME_COUNT))
    source.release()
    assert len(frames) == expected == 75
    assert frames[0].shape == (540, 960, 3)
    # a decided track is drawn in its decision's colour (green: identified) on late frames
    near = np.abs(frames[-10].astype(int) - ft.draw.FACE_COLOUR) < 40
    green = np.all(near, axis=2).sum()
    assert green > 100
    assert "75 frames written" in capsys.readouterr().err
    assert watch(door, tmp_path, "--save-video", tmp_path / "seen.gif") == EXIT_USAGE


def test_several_sources_in_one_process(door, tmp_path, capsys, images, reference):
    """Two videos, one pipeline and recognizer: each source decides on its own (its own
    tracks and cooldowns), events and audit records name their source, and a missing third
    source does not stop the other two."""
    video, people = door
    second = tmp_path / "second.avi"
    crop = ft.image_io.crop_around(images["biden"], reference["biden"].box, 0.6)
    write_video(second, (f for f, _ in door_video(
        [Visit("biden", crop, reference["biden"].width, start_s=0.2)], 3.0, size=(960, 540))))
    status = main(["watch", str(video), str(second), str(tmp_path / "missing.avi"),
                   "--people", str(people), "--json", "--print",
                   "--audit", str(tmp_path / "audit.jsonl")])
    captured = capsys.readouterr()
    assert status == EXIT_INPUT and "missing.avi could not be opened" in captured.err
    events = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    fired = {(e["source"], e["person"]) for e in events if e["fired"]}
    assert fired == {(str(video), "obama"), (str(second), "biden")}
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {r["source"] for r in records if r["type"] in ("decision", "action")} == {
        str(video), str(second)}
    assert ft.door.verify_chain(tmp_path / "audit.jsonl")[0]


def test_sources_tables_in_toml_watch_two_named_cameras(door, tmp_path, capsys, monkeypatch):
    """[[sources]] tables: one process, the models loaded once for both, each source's
    events and records carry its name."""
    video, people = door
    loaded = []
    real_load = ft.engines.load_net

    def counting_load(data, engine, **options):
        loaded.append(options.get("name", "?"))
        return real_load(data, engine, **options)

    monkeypatch.setattr(ft.engines, "load_net", counting_load)
    config = tmp_path / "door.toml"
    config.write_text(f"""[recognizer]
people = "{people}"
[audit]
path = "{tmp_path / 'audit.jsonl'}"
[[sources]]
uri = "{video}"
name = "front"
[[sources]]
uri = "{video}"
name = "back"
""")
    assert main(["watch", "--config", str(config), "--json"]) == EXIT_OK
    assert sorted(name.split(" model")[0] for name in loaded) == ["detector", "embedder"]
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(e["source"], e["person"]) for e in events if e["decision"] == "identified"} == \
        {("front", "obama"), ("back", "obama")}
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {r["source"] for r in records if r["type"] == "decision"} == {"front", "back"}
