"""Door trigger on built videos: tracking, K-of-N decisions, one firing per visit, actions,
audit log, frame sources."""
from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import face_trigger as ft
from face_trigger.door.actions import CommandAction, LogAction, WebhookAction
from face_trigger.door.audit import AuditLog, verify_chain
from face_trigger.door.decision import DOUBT, HOLD, SWITCH, DecisionSettings, TrackDecider
from face_trigger.door.policy import GrantPolicy, PersonArming
from face_trigger.door.sources import FrameSource
from face_trigger.testing import Visit, door_video, write_video
from face_trigger.door.tracking import IoUTracker
from face_trigger.door.trigger import DoorTrigger

pytestmark = pytest.mark.slow  # real videos and servers: not in the fast tier

FPS = 25.0
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SETTINGS = DecisionSettings(cooldown_s=3.0, rearm_s=1.0)


@pytest.fixture(scope="module")
def crops(images, reference):
    return {n: (ft.image_io.crop_around(images[n], reference[n].box, 0.6), reference[n].width)
            for n in ("obama2", "biden", "astronaut")}


@pytest.fixture(scope="module")
def recognizer(reference):
    enrolled = np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")])
    return ft.FaceRecognizer(classifier="knn").fit(enrolled, ["obama", "obama", "biden"])


def build(tmp_path_factory, name, visits, seconds, **kwargs):
    path = tmp_path_factory.mktemp("video") / name
    infos = []

    def frames():
        for frame, info in door_video(visits, seconds, fps=FPS, **kwargs):
            infos.append(info)
            yield frame

    write_video(path, frames(), FPS)
    return path, infos


@pytest.fixture(scope="module")
def visits_video(tmp_path_factory, crops):
    """obama walks up at 0.5 s, a stranger at 5.5 s, obama again at 10.5 s (720p)."""
    visits = [Visit("obama", *crops["obama2"], start_s=0.5),
              Visit("stranger", *crops["astronaut"], start_s=5.5),
              Visit("obama", *crops["obama2"], start_s=10.5, x_from=0.6, x_to=0.5)]
    path, infos = build(tmp_path_factory, "visits.avi", visits, 15.0, blur_every=11)
    return path, visits


def run(recognizer, pipeline, path, **kwargs):
    trigger = DoorTrigger(recognizer, pipeline, settings=SETTINGS, **kwargs)
    events = list(trigger.run(FrameSource(path)))
    trigger.close()
    return trigger, events


def test_one_firing_per_visit_never_for_the_stranger(recognizer, pipeline, visits_video,
                                                     tmp_path):
    path, visits = visits_video
    audit = AuditLog(tmp_path / "audit.jsonl")
    trigger, events = run(recognizer, pipeline, path, actions=[LogAction()], audit=audit,
                          snapshot_dir=tmp_path / "snapshots")
    fired = [e for e in events if e.fired]
    assert [e.person for e in fired] == ["obama", "obama"]
    assert all(e.decision == "identified" for e in fired)
    # within one second of the face reaching the minimum size
    for event, visit in zip(fired, [visits[0], visits[2]]):
        big_enough = visit.start_s + visit.walk_s * (
            (SETTINGS.min_face_px - visit.start_px) / (visit.end_px - visit.start_px))
        assert big_enough <= event.video_time <= big_enough + 1.0
    strangers = [e for e in events if 5.5 <= e.video_time < 10.5]
    assert strangers and all(not e.fired and e.person == "unknown" for e in strangers)
    assert all(e.refused["log"] == "unknown person" for e in strangers)
    # embedding is not needed on every frame
    assert trigger.stats.embedded_faces < trigger.stats.frames / 5
    # audit: chained, one line per decision, snapshots decode
    ok, lines, problem = verify_chain(tmp_path / "audit.jsonl")
    assert ok, problem
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    decisions = [r for r in records if r["type"] == "decision"]
    assert len(decisions) == len(events)
    assert {r["type"] for r in records} == {"decision", "action"}
    for event in events:
        assert event.snapshot and cv2.imread(event.snapshot) is not None
        assert event.model == pipeline.model.id and event.thresholds["votes_needed"] == 3


def test_two_people_at_once_are_tracked_separately(tmp_path_factory, crops, recognizer,
                                                   pipeline):
    visits = [Visit("obama", *crops["obama2"], start_s=0.2, x_from=0.25, x_to=0.25),
              Visit("biden", *crops["biden"], start_s=0.2, x_from=0.75, x_to=0.75)]
    path, _ = build(tmp_path_factory, "two.avi", visits, 3.0)
    _, events = run(recognizer, pipeline, path, actions=[LogAction()])
    identified = {e.person: e.track_id for e in events if e.decision == "identified"}
    assert set(identified) == {"obama", "biden"}
    assert identified["obama"] != identified["biden"]


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_reaches_a_real_http_server(recognizer, pipeline, visits_video, tmp_path):
    _Hook.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/door"
        audit = AuditLog(tmp_path / "audit.jsonl")
        _, events = run(recognizer, pipeline, visits_video[0],
                        actions=[WebhookAction(url=url)], audit=audit)
    finally:
        server.shutdown()
    fired = [e for e in events if e.fired]
    assert len(_Hook.received) == len(fired) == 2
    for (content_type, body), event in zip(_Hook.received, fired):
        assert content_type == "application/json"
        assert body["event_id"] == event.event_id and body["person"] == "obama"
        assert body["similarity"] >= ft.IDENTIFY_COSINE and body["action"] == "webhook"
    results = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["detail"] for r in results if r["type"] == "action"] == ["HTTP 204", "HTTP 204"]
    # each event carries the anchor of its decision line: the receiver can check the log
    decisions = {r["event_id"]: r["seq"] for r in results if r["type"] == "decision"}
    anchors = [(body["audit"]["seq"], body["audit"]["digest"]) for _, body in _Hook.received]
    assert [seq for seq, _ in anchors] == [decisions[body["event_id"]]
                                           for _, body in _Hook.received]
    assert ft.door.verify_chain(tmp_path / "audit.jsonl", anchors=anchors) == (True, len(results),
                                                                               None)


def test_command_gets_its_arguments_without_a_shell(reference, pipeline, visits_video,
                                                    tmp_path):
    odd_name = "o'bama; touch pwned $(id)"
    recognizer = ft.FaceRecognizer(classifier="knn").fit(
        np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")]),
        [odd_name, odd_name, "biden"])
    out = tmp_path / "calls.jsonl"
    script = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"
    action = CommandAction(argv=[sys.executable, "-c", script, str(out), "{person}",
                                 "{event_id}", "{similarity}"])
    _, events = run(recognizer, pipeline, visits_video[0], actions=[action])
    calls = [json.loads(line) for line in out.read_text().splitlines()]
    fired = [e for e in events if e.fired]
    assert len(calls) == len(fired) == 2
    for call, event in zip(calls, fired):
        assert call == [odd_name, event.event_id, str(event.similarity)]
    assert not (tmp_path / "pwned").exists()


def test_a_failing_command_does_not_stop_the_loop(recognizer, pipeline, visits_video, tmp_path):
    failing = CommandAction(argv=[sys.executable, "-c", "import sys; sys.exit(3)"], retries=1)
    audit = AuditLog(tmp_path / "audit.jsonl")
    trigger, events = run(recognizer, pipeline, visits_video[0], actions=[failing, LogAction()],
                          audit=audit)
    assert [e.person for e in events if e.fired] == ["obama", "obama"]
    assert trigger.stats.frames > 300  # the whole video was processed
    results = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()
               if '"action"' in line and '"type": "action"' in line]
    failed = [r for r in results if r["action"] == "command"]
    assert len(failed) == 2 and all(not r["ok"] and "exit status 3" in r["detail"]
                                    for r in failed)


def test_unhealthy_source_fails_closed_and_dry_run_fires_nothing(recognizer, pipeline,
                                                                 visits_video, tmp_path):
    trigger = DoorTrigger(recognizer, pipeline, settings=SETTINGS, actions=[LogAction()])
    events = list(trigger.run(FrameSource(visits_video[0]), health=lambda: False))
    trigger.close()
    identified = [e for e in events if e.decision == "identified"]
    assert identified and all(not e.fired and "fail closed" in e.refused["log"]
                              for e in identified)
    marker = tmp_path / "ran"
    command = CommandAction(argv=["touch", str(marker), "{event_id}", "{person}"])
    _, events = run(recognizer, pipeline, visits_video[0], actions=[LogAction(), command],
                    dry_run=True)
    assert all(not e.fired for e in events) and not marker.exists()
    assert any(e.refused.get("log", "").startswith("dry run") for e in events)
    identified = [e for e in events if e.decision == "identified"]
    for event in identified:  # "would run" shows the event's own fields, not blanks
        assert f"'{event.event_id}', 'obama'" in event.refused["command"]


def test_known_strangers_and_time_windows(recognizer, pipeline, visits_video):
    never = LogAction(policy=GrantPolicy(known_strangers=frozenset({"obama"})))
    night = LogAction(name="night", policy=GrantPolicy(windows=("22:00-06:00",)))
    noon = lambda: dt.datetime(2026, 11, 23, 12, 0)  # noqa: E731
    trigger = DoorTrigger(recognizer, pipeline, settings=SETTINGS, actions=[never, night],
                          clock=noon)
    events = list(trigger.run(FrameSource(visits_video[0])))
    trigger.close()
    identified = [e for e in events if e.decision == "identified"]
    assert identified and all(not e.fired for e in identified)
    assert identified[0].refused == {"log": "known stranger", "night": "outside the time windows"}


# ---------------------------------------------------------------- units of the door loop

def test_tracker_follows_moving_boxes():
    tracker = IoUTracker(min_iou=0.3, max_missed=2)
    a, b = np.array([0, 0, 100, 100.0]), np.array([300, 300, 400, 400.0])
    first, _ = tracker.update(np.stack([a, b]), 0)
    second, _ = tracker.update(np.stack([b + 5, a + 5]), 1)  # order swapped, moved a little
    assert [t.track_id for t in second] == [first[1].track_id, first[0].track_id]
    gone = []
    for frame in range(2, 6):
        _, ended = tracker.update(np.zeros((0, 4)), frame)
        gone += ended
    assert sorted(t.track_id for t in gone) == [1, 2] and tracker.tracks == []
    new, _ = tracker.update(a[None], 6)
    assert new[0].track_id == 3


def test_decider_votes_k_of_n():
    decider = TrackDecider(DecisionSettings(votes_needed=3, window=5))
    sequence = [("obama", True), ("x", False), ("obama", True), ("biden", True)]
    assert [decider.observe(1, n, k, 0.5, 100, i) for i, (n, k) in enumerate(sequence)] == \
        [None] * 4
    assert decider.observe(1, "obama", True, 0.5, 100, 4) == "identified"
    assert not decider.needs_embedding(1, 200, 5)
    for i in range(5):
        result = decider.observe(2, "x", False, 0.1, 100, i)
    assert result == "unknown"
    assert decider.needs_embedding(3, 100, 0) and not decider.needs_embedding(3, 30, 0)
    for i in range(5, 500):  # a stranger who stays in view: the state stays bounded
        decider.observe(2, "x", False, 0.1, 100, i)
    assert len(decider.state(2).observations) == len(decider.state(2).votes) == 5


def test_decider_hysteresis_holds_a_dip_and_ends_on_misses_or_another_person(reference):
    """Real embeddings: obama's identity (earned on obama.jpg and obama3.jpg) holds for
    obama2.jpg named by nobody; another enrolled person ends it at once; a stranger's face
    ends it after keep_misses misses counted doubt_every_s apart, or at once when strict."""
    settings = DecisionSettings(votes_needed=2, window=3, keep_misses=3, doubt_every_s=0.25)
    emb = {n: reference[n].embedding for n in ("obama", "obama3", "obama2", "astronaut")}

    def identified_track(decider, track):
        for i, name in enumerate(("obama", "obama3")):
            verdict = decider.observe(track, "obama", True, 0.6, 100, i, video_time=i / 25,
                                      embedding=emb[name])
        assert verdict == "identified" and decider.state(track).anchor is not None

    decider = TrackDecider(settings)
    identified_track(decider, 1)
    assert float(emb["obama2"] @ decider.state(1).anchor) >= settings.keep_threshold
    assert decider.verify(1, "unknown", False, 1.0, emb["obama2"]) == HOLD
    assert decider.verify(1, "obama", True, 2.0, emb["astronaut"]) == HOLD  # named: holds
    assert decider.verify(1, "biden", True, 3.0, emb["obama2"]) == SWITCH   # another person
    identified_track(decider, 2)
    verdicts = [decider.verify(2, "unknown", False, t, emb["astronaut"])
                for t in (1.0, 1.1, 1.25, 1.4, 1.5)]
    assert verdicts == [DOUBT, DOUBT, DOUBT, DOUBT, SWITCH]  # misses at 1.0, 1.25, 1.5
    identified_track(decider, 3)
    assert decider.verify(3, "unknown", False, 1.0, emb["astronaut"]) == DOUBT
    assert decider.verify(3, "unknown", False, 1.3, emb["obama2"]) == HOLD  # back: reset
    assert decider.state(3).misses == 0
    assert decider.verify(3, "unknown", False, 1.6, emb["astronaut"], strict=True) == SWITCH
    assert decider.verify(3, "unknown", False, 1.7, None) == DOUBT  # unverifiable: a miss
    with pytest.raises(ft.InvalidParameterError, match="keep_threshold"):
        DecisionSettings(keep_threshold=1.5)


def test_arming_one_fire_per_visit():
    arming = PersonArming(cooldown_s=3.0, rearm_s=1.0)
    assert arming.can_fire("a", 0.0)
    arming.fired("a", 0.0)
    for t in np.arange(0.0, 5.0, 0.1):  # still in view: never re-armed
        arming.tick(t, ["a"])
        assert not arming.can_fire("a", t)
    arming.tick(5.5, [])
    arming.tick(6.6, [])
    assert arming.can_fire("a", 6.6)


def test_grant_policy_windows_wrap_midnight():
    policy = GrantPolicy(people=frozenset({"ann"}), windows=("22:00-06:00",))
    assert policy.allows("ann", dt.datetime(2026, 1, 1, 23, 30))[0]
    assert policy.allows("ann", dt.datetime(2026, 1, 1, 5, 0))[0]
    assert policy.allows("ann", dt.datetime(2026, 1, 1, 12, 0)) == (False,
                                                                    "outside the time windows")
    assert policy.allows("bob", dt.datetime(2026, 1, 1, 23, 0)) == (False,
                                                                    "not in the allowed people")
    with pytest.raises(ValueError, match="08:00-18:30"):
        GrantPolicy(windows=("8 to 6",))


def test_command_placeholders_are_checked_at_start():
    with pytest.raises(ValueError, match="unknown placeholder"):
        CommandAction(argv=["notify", "{name}"])
    with pytest.raises(ValueError, match="argv"):
        CommandAction(argv=[])
    with pytest.raises(ValueError, match="http"):
        WebhookAction(url="ftp://example")


def test_audit_chain_detects_edits_and_survives_rotation(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl", max_bytes=2048, backups=3, fsync=False)
    for i in range(60):
        log.append({"type": "decision", "n": i})
    assert (tmp_path / "a.jsonl.1").exists()
    ok, lines, problem = verify_chain(tmp_path / "a.jsonl", backups=3)
    assert ok and problem is None
    reopened = AuditLog(tmp_path / "a.jsonl", max_bytes=2048, backups=3, fsync=False)
    reopened.append({"type": "decision", "n": 60})  # the chain goes on after a restart
    assert verify_chain(tmp_path / "a.jsonl", backups=3)[0]
    rotated = tmp_path / "a.jsonl.1"  # a full file: several lines
    text = rotated.read_text().splitlines()
    text[1] = text[1].replace('"n": ', '"n": 1')
    rotated.write_text("\n".join(text) + "\n")
    ok, _, problem = verify_chain(tmp_path / "a.jsonl", backups=3)
    assert not ok and "prev hash" in problem


# ---------------------------------------------------------------- frame sources

def test_file_source_ends_cleanly_and_missing_file(visits_video, tmp_path):
    source = FrameSource(visits_video[0])
    frames = list(source)
    assert len(frames) == source.stats.frames == 375
    assert frames[-1].time == pytest.approx(374 / FPS, abs=0.05)
    with pytest.raises(FileNotFoundError):
        FrameSource(tmp_path / "none.avi")


def test_live_source_that_fails_and_comes_back(tmp_path, visits_video):
    """A live source that is missing at first, then delivers, then ends (drops) is reopened."""
    target = tmp_path / "live.avi"
    short = [cv2.resize(f.image, (320, 180)) for f, _ in zip(FrameSource(visits_video[0]),
                                                             range(20))]
    delivered = []

    def appear_later():
        time.sleep(0.4)
        write_video(target, short, FPS)

    threading.Thread(target=appear_later, daemon=True).start()
    source = FrameSource(target, live=True, max_backoff_s=0.2,
                         stop=lambda: len(delivered) >= 50)
    for frame in source:
        delivered.append(frame.index)
    assert len(delivered) == 50 and delivered == list(range(50))
    assert source.stats.reopens >= 3  # missing at first, then every time the "stream" ended


def test_example_script_stops_cleanly_on_sigterm(visits_video, tmp_path, images):
    """examples/door_trigger.py: JSON lines out, SIGTERM ends it with a complete audit log."""
    script = EXAMPLES / "door_trigger.py"
    people = tmp_path / "people" / "obama"
    people.mkdir(parents=True)
    ft.write_image(people / "obama.jpg", images["obama"])
    ft.write_image(people / "obama3.jpg", images["obama3"])
    audit = tmp_path / "audit.jsonl"
    env = dict(os.environ, PYTHONPATH=str(Path(ft.__file__).resolve().parent.parent))
    child = subprocess.Popen(
        [sys.executable, str(script), "--source", str(visits_video[0]), "--people",
         str(tmp_path / "people"), "--audit", str(audit), "--json",
         "--set", "decision.cooldown_s=3", "--set", "decision.rearm_s=1",
         "--set", f'audit.snapshots="{tmp_path / "snaps"}"'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    first = json.loads(child.stdout.readline())
    assert first["person"] == "obama" and first["decision"] == "identified"
    assert set(first) >= {"event_id", "frame", "video_time", "similarity", "fired"}
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "frames" in err.splitlines()[-1]
    assert verify_chain(audit)[0]
    frames_done = int(err.splitlines()[-1].split()[0])
    assert frames_done < 375  # stopped before the end of the video


def test_example_script_rejects_a_bad_setting(tmp_path):
    script = EXAMPLES / "door_trigger.py"
    env = dict(os.environ, PYTHONPATH=str(Path(ft.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, str(script), "--source", "x.avi", "--people", "p",
                           "--set", "decision.votes=4"], capture_output=True, text=True,
                          env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and "decision.votes" in done.stderr


def test_demo_builder_help_writes_nothing(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "make_demo_video.py"), "--help"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0 and "usage" in done.stdout
    assert list(tmp_path.iterdir()) == []  # it wrote a 22 MB video into "--help/" before


def test_quality_gates_blur_and_turned_faces(images, reference):
    from face_trigger.quality import FaceQuality, face_quality

    face = reference["obama"]
    sharp = face_quality(images["obama"], face.box, face.landmarks)
    blurred = face_quality(cv2.GaussianBlur(images["obama"], (0, 0), 6), face.box, face.landmarks)
    assert sharp.sharpness > 500 > 60 > blurred.sharpness
    assert sharp.yaw < 0.1 and sharp.width == pytest.approx(face.width, abs=1)
    turned = face.landmarks.copy()
    turned[2, 0] = turned[1, 0]  # nose over the left eye: a strongly turned head
    assert face_quality(images["obama"], face.box, turned).yaw > 0.35
    # Shipped defaults: no yaw or sharpness gate (docs/door.md: real faces that
    # are turned or soft still match); the size gate stays.
    decider = TrackDecider(DecisionSettings())
    assert decider.needs_embedding(1, blurred, 0)
    assert decider.needs_embedding(2, FaceQuality(width=200, sharpness=900, yaw=1.1), 0)
    assert not decider.needs_embedding(3, FaceQuality(width=30, sharpness=900, yaw=0.0), 0)
    assert decider.state(3).gated == {"too_small": 1}
    # Gates set by hand drop the sighting and count why.
    decider = TrackDecider(DecisionSettings(max_yaw=0.35, min_sharpness=60))
    assert decider.needs_embedding(1, sharp, 0)
    assert not decider.needs_embedding(1, blurred, 0)
    assert not decider.needs_embedding(1, FaceQuality(width=200, sharpness=900, yaw=0.6), 0)
    assert decider.state(1).gated == {"blurred": 1, "turned": 1}
    decider.observe(1, "x", False, 0.1, FaceQuality(200, 300, 0.2), 0)
    assert not decider.needs_embedding(1, FaceQuality(205, 320, 0.2), 1)   # nothing better
    assert decider.needs_embedding(1, FaceQuality(205, 500, 0.2), 1)       # much sharper
    assert decider.needs_embedding(1, FaceQuality(205, 320, 0.05), 1)      # more frontal
