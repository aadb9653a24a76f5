"""Liveness: the MiniFASNet pair on the project's samples, our photos and simulated attacks;
the pipeline's Face.live, the door's live gate, the CLI command."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import face_trigger as ft
from face_trigger.cli import EXIT_ERROR, EXIT_OK, EXIT_USAGE, main
from face_trigger.door.actions import LogAction
from face_trigger.door.decision import NOT_LIVE, DecisionSettings
from face_trigger.door.sources import Frame
from face_trigger.door.trigger import DoorTrigger
from face_trigger.liveness import LivenessChecker, original_crop
from face_trigger.model_files import BUNDLED_MODELS
from face_trigger.testing import presented_photo


@pytest.fixture(scope="module")
def checker() -> LivenessChecker:
    return LivenessChecker()


@pytest.fixture(scope="module")
def samples(data_dir, pipeline):
    """name -> (frame, box of its face) for the project's three samples."""
    out = {}
    for name in ("image_F1", "image_F2", "image_T1"):
        frame = ft.read_image(data_dir / "antispoof" / f"{name}.jpg")
        out[name] = (frame, pipeline.detect(frame).boxes[0])
    return out


def test_the_samples_at_the_shipped_threshold(checker, samples):
    probability = {n: checker.check(f, b).probability[0] for n, (f, b) in samples.items()}
    assert probability["image_F1"] == pytest.approx(0.229, abs=0.01)  # measured, both engines
    assert probability["image_F2"] == pytest.approx(0.002, abs=0.01)
    assert probability["image_T1"] > 0.99
    verdicts = {n: bool(checker.check(f, b).live[0]) for n, (f, b) in samples.items()}
    assert verdicts == {"image_F1": False, "image_F2": False, "image_T1": True}
    assert checker.threshold == ft.thresholds.LIVE_PROBABILITY


def test_our_portraits_are_live(checker, images, reference):
    for name in ("obama", "obama2", "obama3", "biden"):
        result = checker.check(images[name], reference[name].box)
        assert result.live[0], (name, result.probability)


def test_faces_are_batched_with_the_same_results(checker, samples):
    frame, box = samples["image_T1"]
    shifted = box + np.float32([5, 3, 5, 3])
    together = checker.check(frame, np.stack([box, shifted, box]))
    alone = [checker.check(frame, b).probability[0] for b in (box, shifted, box)]
    assert len(together) == 3
    assert np.allclose(together.probability, alone, atol=1e-4)
    assert checker.check(frame, np.zeros((0, 4))).probability.shape == (0,)


def test_the_crop_follows_the_original_rule(samples):
    frame, box = samples["image_T1"]
    crop = original_crop(frame, box, 2.7)
    assert crop.shape == (80, 80, 3) and crop.dtype == np.uint8
    # a box at the frame's corner: the window is shifted back inside, never padded
    corner = original_crop(frame, np.float32([0, 0, 100, 120]), 4.0)
    assert corner.shape == (80, 80, 3) and corner.mean() > 20


def test_simulated_attacks_that_the_models_refuse(checker, images, reference, pipeline):
    """What the models say of built attacks (a screen held up, re-shot): these two are
    refused; others are not (docs/liveness.md gives the rates)."""
    for name, kind in (("obama2", "screen"), ("obama3", "screen")):
        frame = presented_photo(images[name], reference[name].box, kind, seed=1)
        found = pipeline.detect(frame)
        assert len(found) == 1
        assert not checker.check(frame, found.boxes).live[0]


def test_rgb_frames_give_the_same_probability(checker, samples):
    frame, box = samples["image_T1"]
    rgb = np.ascontiguousarray(frame[..., ::-1])
    assert checker.check(rgb, box, channels="rgb").probability[0] == pytest.approx(
        checker.check(frame, box).probability[0], abs=1e-6)


@pytest.mark.parametrize("boxes, message", [
    (np.zeros((2, 3)), "shape"), ([[np.nan, 0, 10, 10]], "NaN"),
    ([[10, 10, 5, 20]], "empty"), ([[5000, 5000, 5100, 5100]], "outside"),
    ("face", "numbers"),
])
def test_bad_boxes_are_named(checker, samples, boxes, message):
    with pytest.raises(ft.InvalidParameterError, match=message):
        checker.check(samples["image_T1"][0], boxes)


def test_bad_frames_and_settings_are_named(checker):
    with pytest.raises(ft.InvalidImageError):
        checker.check(np.zeros((10, 10), np.float32), [[0, 0, 5, 5]])
    with pytest.raises(ft.InvalidParameterError, match="threshold"):
        LivenessChecker(threshold=1.5)


def test_a_tampered_liveness_model_is_refused(tmp_path):
    for bundled in (BUNDLED_MODELS["liveness_v2"], BUNDLED_MODELS["liveness_v1se"]):
        shutil.copyfile(ft.model_files.locate_model(bundled.role), tmp_path / bundled.filename)
    target = tmp_path / BUNDLED_MODELS["liveness_v1se"].filename
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ft.ModelIntegrityError, match="integrity check"):
        LivenessChecker(model_dir=tmp_path)


def test_the_pipeline_adds_face_live_when_asked(samples, images):
    with_liveness = ft.FacePipeline(liveness=True)
    faces = with_liveness.analyze(samples["image_F2"][0])
    assert len(faces) == 1 and faces[0].live is not None and faces[0].live < 0.1
    assert with_liveness.analyze(images["obama"])[0].live > 0.9
    assert ft.FacePipeline().analyze(images["obama"])[0].live is None  # off by default


# ------------------------------------------------------------------------------ the door
def test_the_live_gate_of_the_decision_logic():
    """K of N live, without models: votes alone do not identify; a full window without
    enough live observations is not_live, and final."""
    from face_trigger.door.decision import TrackDecider

    decider = TrackDecider(DecisionSettings(liveness=True, live_needed=3))

    def observe(track, live, name="obama"):
        return decider.observe(track, name, True, 0.7, 120.0, 0, live=live)

    # three votes, two live: wait; the window fills with too few live: not_live
    assert [observe(1, v) for v in (0.9, 0.1, 0.8)] == [None, None, None]
    assert observe(1, 0.2) is None
    assert observe(1, float("nan")) == NOT_LIVE  # NaN counts as not live
    assert decider.state(1).person == "obama"
    assert observe(1, 0.99) is None and not decider.needs_embedding(1, 120.0, 10)  # final
    # the third live observation identifies, window not yet full
    assert [observe(2, v) for v in (0.9, 0.2, 0.8, 0.7)] == [None, None, None, "identified"]
    # liveness off: the live values are ignored
    plain = TrackDecider(DecisionSettings())
    assert [plain.observe(3, "obama", True, 0.7, 120.0, 0, live=0.0) for _ in range(3)] == [
        None, None, "identified"]
    with pytest.raises(ft.InvalidParameterError, match="live_needed"):
        DecisionSettings(liveness=True, live_needed=6)


def door_frames(frame: np.ndarray, count: int, seed: int = 0):
    """``count`` frames of a still scene with camera noise (the face stays in place)."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        noise = rng.normal(0, 3, frame.shape)
        yield Frame(index, index / 25.0, np.clip(frame + noise, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def door_people(images, reference, samples, pipeline):
    """obama enrolled from his portraits, and the live sample's person as "t1"."""
    t1 = pipeline.analyze(samples["image_T1"][0])[0].vector
    vectors = np.stack([reference["obama"].vector, reference["obama3"].vector, t1])
    return ft.FaceRecognizer(classifier="knn").fit(vectors, ["obama", "obama", "t1"])


def run_door(recognizer, pipeline, frames, liveness: bool, tmp_path: Path):
    audit = ft.door.AuditLog(tmp_path / "audit.jsonl")
    settings = DecisionSettings(liveness=liveness, embed_every=1)
    trigger = DoorTrigger(recognizer, pipeline, settings=settings,
                          actions=[LogAction(name="open")], audit=audit)
    events = list(trigger.run(frames))
    trigger.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    return events, [line for line in lines if line.get("type") == "decision"]


def test_the_door_does_not_fire_for_a_screen_held_up(door_people, pipeline, images,
                                                     reference, tmp_path):
    attack = presented_photo(images["obama2"], reference["obama2"].box, "screen", seed=1)
    events, audited = run_door(door_people, pipeline, door_frames(attack, 12), True, tmp_path)
    assert [(e.decision, e.person, e.fired) for e in events] == [(NOT_LIVE, "obama", [])]
    assert "not live" in events[0].refused["open"]
    live_scores = [o["live"] for o in audited[0]["observations"]]
    assert len(live_scores) == 5 and max(live_scores) < ft.thresholds.LIVE_PROBABILITY
    assert audited[0]["thresholds"]["live_needed"] == ft.thresholds.LIVE_K
    # without the check the same frames open the door: the gate is what refused it
    (tmp_path / "off").mkdir()
    events, _ = run_door(door_people, pipeline, door_frames(attack, 12), False, tmp_path / "off")
    assert [(e.decision, e.person, e.fired) for e in events] == [("identified", "obama",
                                                                  ["open"])]


def test_the_door_fires_for_a_live_face(door_people, pipeline, samples, tmp_path):
    events, audited = run_door(door_people, pipeline, door_frames(samples["image_T1"][0], 12),
                               True, tmp_path)
    assert [(e.decision, e.person, e.fired) for e in events] == [("identified", "t1", ["open"])]
    assert all(o["live"] > 0.9 for o in audited[0]["observations"])


def test_liveness_settings_from_the_config(tmp_path):
    config = ft.load_config(data={"source": {"uri": "0"}, "recognizer": {"people": "p"},
                                  "liveness": {"enabled": True, "live_needed": 2}})
    settings = config.decision_settings()
    assert settings.liveness and settings.live_needed == 2
    assert settings.live_threshold == ft.thresholds.LIVE_PROBABILITY
    with pytest.raises(ft.ConfigError, match="live_needed"):
        ft.load_config(data={"source": {"uri": "0"}, "recognizer": {"people": "p"},
                             "liveness": {"enabled": True, "live_needed": 9}})
    with pytest.raises(ft.ConfigError, match="liveness.threshold"):
        ft.load_config(data={"source": {"uri": "0"}, "recognizer": {"people": "p"},
                             "liveness": {"threshold": "high"}})


# ------------------------------------------------------------------------------ the CLI
def test_the_liveness_command(data_dir, capsys, tmp_path):
    folder = data_dir / "antispoof"
    assert main(["liveness", str(folder)]) == EXIT_ERROR  # two of the three are spoofs
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "file,x1,y1,x2,y2,live_probability,verdict"
    assert [r.rsplit(",", 1)[1] for r in rows[1:]] == ["spoof", "spoof", "live"]
    assert main(["liveness", "--json", str(folder / "image_T1.jpg")]) == EXIT_OK
    record = json.loads(capsys.readouterr().out)
    assert record["faces"][0]["live"] and record["threshold"] == ft.thresholds.LIVE_PROBABILITY
    blank = tmp_path / "wall.png"
    ft.image_io.write_image(blank, np.full((100, 100, 3), 128, np.uint8))
    assert main(["liveness", str(blank)]) == EXIT_ERROR
    assert capsys.readouterr().out.splitlines()[1].endswith("no_face")
    assert main(["liveness", "--threshold", "2", str(blank)]) == EXIT_USAGE


@pytest.mark.slow
def test_watch_liveness_refuses_a_pasted_photo(tmp_path, images, reference, data_dir, capsys):
    """The door demo's kind of video (a photo pasted into the frame, walking up) opens the
    door without --liveness and is decided not_live with it."""
    from face_trigger.testing import Visit, door_video, write_video
    crop = ft.image_io.crop_around(images["obama2"], reference["obama2"].box, 0.6)
    video = write_video(tmp_path / "v.avi", (f for f, _ in door_video(
        [Visit("obama", crop, reference["obama2"].width, start_s=0.2)], 4.0)), 25.0)
    people = tmp_path / "people" / "obama"
    people.mkdir(parents=True)
    shutil.copyfile(data_dir / "obama.jpg", people / "obama.jpg")
    decisions = {}
    for flag in ([], ["--liveness"]):
        audit = tmp_path / f"audit{len(flag)}.jsonl"
        status = main(["watch", str(video), "--people", str(people.parent), "--audit",
                       str(audit), "--json", *flag])
        assert status == EXIT_OK
        lines = [json.loads(line) for line in audit.read_text().splitlines()]
        decisions[bool(flag)] = [(e["decision"], e["person"]) for e in lines
                                 if e.get("type") == "decision"]
        # --json goes to the current stdout (run_door once bound it at import time)
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(e["decision"], e["person"]) for e in printed] == decisions[bool(flag)]
    assert decisions == {False: [("identified", "obama")], True: [(NOT_LIVE, "obama")]}
