"""Door trigger speed and behaviour: the built 720p demo video (730 frames), then the hard
scenes (cut, idle swap, crossing, a stranger standing in) and, with --lfw, the real-face
scenes (a turned 64 px face, a lookalike stranger, an enrolled face that dips below the gate).

Run by hand:  python benchmarks/bench_door.py [--rounds 3] [--out door_bench]
              [--lfw ../shared/lfw_dev]

Builds the demo of examples/make_demo_video.py (Obama walks up at 1 s, a stranger at 8 s,
Obama again at 20 s; noise, blur, dropped frames), enrols Obama and Biden from their other
photos, and runs in the same process, alternating:

* the door trigger: detection every frame, IoU tracking, embedding only when a track is new,
  its face grew, or every 5 frames until decided, K-of-N voting;
* the baseline: detection + embedding + identification of every face on every frame.

Prints frames per second of both (video decoding included in both), the share of frames that
needed an embedding, the decision latency from the first frame in which the face reached the
minimum size, resident memory after 100 frames and at the end, and false accepts of the stranger.

Then per scene (640x360, frames built in memory, door and baseline alternating): decisions
right / wrong / missed against the true face at each decision's box, identity switches (tracks
that claimed someone else's face in a frame where the detector ran; the door's own count of
switches it caught beside it), time from the face being decidable (>= min_face_px wide) to its
decision, embeddings per frame, and frames per second against the same baseline; and the
identity switches the door caught and its decisions per visit, with the identity hysteresis
and with the strict rule it replaced.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import numpy as np

import face_trigger as ft
from _timing import machine_line
from face_trigger.door.decision import DecisionSettings
from face_trigger.door.sources import FrameSource
from face_trigger.testing import (SceneRun, dip_scene, door_video, face_crop, hard_scenes,
                                  lfw_scenes, run_door_on_scene, write_video)
from face_trigger.door.trigger import DoorTrigger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from make_demo_video import DROP_EVERY, FPS, build_demo  # noqa: E402

VISITS = [("obama", 1.0), ("stranger", 8.0), ("obama", 20.0)]  # as in make_demo_video.py


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


def run_trigger(recognizer, pipeline, video, settings=DecisionSettings()):
    trigger = DoorTrigger(recognizer, pipeline, settings=settings)
    memory = {}
    events = []
    start = time.perf_counter()
    for frame in FrameSource(video):
        events += trigger.process(frame)
        if frame.index == 99:
            memory["after 100 frames"] = rss_mb()
    elapsed = time.perf_counter() - start
    memory["at the end"] = rss_mb()
    trigger.close()
    return trigger.stats.frames / elapsed, trigger, events, memory


def run_baseline(recognizer, pipeline, video):
    frames, stranger_frames, stranger_accepts = 0, 0, 0
    start = time.perf_counter()
    for frame in FrameSource(video):
        boxes, embeddings = pipeline.detect_embedding(frame.image)
        who = recognizer.identify(embeddings) if len(boxes) else []
        frames += 1
        if 8.0 <= frame.time <= 12.0 and who:
            stranger_frames += 1
            stranger_accepts += sum(w.known for w in who)
    return frames / (time.perf_counter() - start), stranger_frames, stranger_accepts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("door_bench"))
    parser.add_argument("--lfw", type=Path, help="lfw_dev folder: add the real-face scenes")
    parser.add_argument("--engine", default="auto", choices=ft.engines.ENGINES,
                        help="runtime of the nets (auto: OpenVINO when installed)")
    parser.add_argument("--part", choices=("all", "video", "scenes", "sources"), default="all",
                        help="run one part only: the demo video, the built scenes, or the "
                        "several-sources comparison")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    logging.getLogger("face_trigger").setLevel(logging.ERROR)  # switches are counted below
    print(machine_line())
    pipeline = ft.FacePipeline(engine=args.engine)
    if args.part in ("all", "video"):
        bench_video(args, pipeline)
    if args.part in ("all", "scenes"):
        bench_scenes(args, pipeline)
    if args.part in ("all", "sources"):
        bench_sources(args, pipeline)
        import bench_door_memory  # noqa: PLC0415 - fresh processes, one per case
        print()
        bench_door_memory.main()


def bench_sources(args, pipeline) -> None:
    """Frames per second per source with 1, 2 and 4 sources of the 720p demo video: one
    ``watch`` process watching all of them against as many ``watch`` processes at once."""
    video = build_demo(args.out)
    tiny = write_video(args.out / "tiny.avi",
                       (f for f, _ in door_video([], 0.2, size=(1280, 720))), FPS)
    gallery_path = args.out / "people.db"
    if not gallery_path.exists():
        gallery = ft.Gallery(gallery_path, pipeline.model)
        for person in sorted((args.out / "people").iterdir()):
            gallery.add_faceprints(person.name, [pipeline.largest_faceprint(photo)
                                                 for photo in sorted(person.iterdir())])
        gallery.close()
    frames = sum(1 for _ in FrameSource(video))

    def wall(clip: Path, sources: int, together: bool) -> float:
        """Seconds for ``sources`` copies of ``clip``: one process, or one each at once."""
        def command(n: int, tag: str) -> List[str]:
            return [sys.executable, "-m", "face_trigger", "watch", *[str(clip)] * n, "--db",
                    str(gallery_path), "--audit", str(args.out / f"audit-{tag}.jsonl"), "-q"]
        env = {**os.environ, "FACE_TRIGGER_ENGINE": pipeline.engine}
        start = time.perf_counter()
        if together:
            subprocess.run(command(sources, "one"), check=True, capture_output=True, env=env)
        else:
            running = [subprocess.Popen(command(1, str(i)), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, env=env)
                       for i in range(sources)]
            if any(p.wait() != 0 for p in running):
                raise RuntimeError("a watch process failed")
        return time.perf_counter() - start

    print(f"\nseveral sources of the 720p demo video ({frames} frames each), engine "
          f"{pipeline.engine}; frames per second per source, start-up (measured on a "
          f"5-frame clip) subtracted; median of {args.rounds} alternating rounds:")
    print("| sources | one process: fps per source | separate processes: fps per source | "
          "one / separate |")
    print("|---|---|---|---|")
    for sources in (1, 2, 4):
        fps = {True: [], False: []}
        for _ in range(args.rounds):
            for together in (True, False):
                busy = wall(video, sources, together) - wall(tiny, sources, together)
                fps[together].append(frames / busy)
        one, separate = statistics.median(fps[True]), statistics.median(fps[False])
        print(f"| {sources} | {one:.1f} | {separate:.1f} | {one / separate:.2f}x |")


def bench_video(args, pipeline) -> None:
    video = build_demo(args.out)
    recognizer = ft.FaceRecognizer()
    recognizer.fit_folder(args.out / "people", progress=False)
    print(f"video {video}: {FrameSource(video).__class__.__name__} of 720p frames at "
          f"{FPS:.0f} fps; "
          f"recognizer gate {recognizer.unknown_threshold}, margin {recognizer.margin}, "
          f"K-of-N {DecisionSettings().votes_needed} of {DecisionSettings().window}")
    tracked, baseline = [], []
    for _ in range(args.rounds):
        fps, trigger, events, memory = run_trigger(recognizer, pipeline, video)
        tracked.append(fps)
        base_fps, stranger_frames, stranger_accepts = run_baseline(recognizer, pipeline, video)
        baseline.append(base_fps)
    t, b = statistics.median(tracked), statistics.median(baseline)
    print(f"\nframes per second, median of {args.rounds} alternating rounds:")
    print(f"  door trigger (tracking)      {t:7.1f} fps  (rounds: "
          f"{', '.join(f'{x:.1f}' for x in tracked)})")
    print(f"  baseline (embed every face)  {b:7.1f} fps  (rounds: "
          f"{', '.join(f'{x:.1f}' for x in baseline)})")
    print(f"  ratio                        {t / b:7.2f}x")
    print(f"  engine: {pipeline.detector.engine}")
    if ft.engines.openvino_available():
        per_engine = {e: [] for e in ("opencv", "openvino")}
        pipes = {e: ft.FacePipeline(engine=e) for e in per_engine}
        for _ in range(args.rounds):
            for engine in per_engine:
                per_engine[engine].append(run_trigger(recognizer, pipes[engine], video)[0])
        cv_fps, ov_fps = (statistics.median(per_engine[e]) for e in ("opencv", "openvino"))
        print(f"  door trigger by engine, alternating: cv2.dnn {cv_fps:.1f} fps, OpenVINO "
              f"{ov_fps:.1f} fps ({ov_fps / cv_fps:.2f}x)")
    live_on = DecisionSettings(liveness=True)
    with_live: List[float] = []
    without: List[float] = []
    for _ in range(args.rounds):  # alternating, same pipeline
        without.append(run_trigger(recognizer, pipeline, video)[0])
        fps_live, live_trigger, live_events, _ = run_trigger(recognizer, pipeline, video, live_on)
        with_live.append(fps_live)
    off_fps, on_fps = statistics.median(without), statistics.median(with_live)
    print(f"  liveness on (K {live_on.live_needed} of {live_on.window} live), alternating: "
          f"{on_fps:.1f} fps vs {off_fps:.1f} fps off ({on_fps / off_fps:.2f}x); "
          f"{live_trigger.stats.embedded_faces} faces embedded "
          f"(off: {trigger.stats.embedded_faces}); "
          f"decisions {[(e.decision, e.person) for e in live_events]}")
    print(f"\nframes {trigger.stats.frames}, faces embedded {trigger.stats.embedded_faces} "
          f"({100 * trigger.stats.embedded_faces / trigger.stats.frames:.1f} % of frames needed "
          "an embedding); "
          f"detector skipped on {trigger.stats.skipped_detections} idle frames "
          f"(idle_detect_every = {DecisionSettings().idle_detect_every})")
    settings = DecisionSettings()
    print("\ndecisions (video time; latency from the first frame with the face >= "
          f"{settings.min_face_px} px):")
    for event in events:
        # the file lacks every DROP_EVERY-th scene frame: map its frame index to scene time
        scene_time = (event.frame + event.frame // (DROP_EVERY - 1)) / FPS
        start = max(s for _, s in VISITS if s <= scene_time)
        big = start + 3.0 * (settings.min_face_px - 40.0) / (240.0 - 40.0)
        latency = scene_time - big
        print(f"  frame {event.frame:4d} scene {scene_time:6.2f} s track {event.track_id}: "
              f"{event.decision:10s} {event.person:8s} similarity {event.similarity:.3f}  "
              f"latency {latency * 1000:5.0f} ms = {latency * FPS:4.1f} frames")
    fired_for_stranger = [e for e in events if 8.0 <= e.video_time < 19.0 and
                          e.person != "unknown"]
    print(f"\nstranger: {len(fired_for_stranger)} identified decisions (must be 0); per-frame "
          f"baseline identifications during the visit: {stranger_accepts} of {stranger_frames} "
          f"frames accepted as someone (gate {recognizer.unknown_threshold})")
    print(f"integrity: {trigger.stats.cuts_seen} cuts seen, "
          f"{trigger.stats.verifications} verifications, "
          f"{trigger.stats.identity_switches} identity switches caught")
    print(f"memory (RSS): {memory['after 100 frames']:.0f} MB after 100 frames, "
          f"{memory['at the end']:.0f} MB at the end")


def scene_baseline(recognizer, pipeline, frames) -> float:
    """Seconds to detect, embed and identify every face of every frame."""
    start = time.perf_counter()
    for image in frames:
        boxes, embeddings = pipeline.detect_embedding(image)
        if len(boxes):
            recognizer.identify(embeddings)
    return time.perf_counter() - start


def score(result: SceneRun, enrolled) -> dict:
    """Decisions right / wrong / missed, identity switches and latency of one run."""
    right = wrong = 0
    decided_at = {}
    for event, truth in result.events:
        if event.decision == "identified":
            if event.person == truth:
                right += 1
                decided_at.setdefault(truth, event.video_time)
            else:
                wrong += 1
        elif truth not in enrolled:  # "unknown" for a stranger is right
            right += 1
    labels = set(result.decidable)
    missed = len([label for label in labels if label in enrolled and label not in decided_at])
    latency = [decided_at[label] - result.decidable[label] for label in decided_at]
    return {"right": right, "wrong": wrong, "missed": missed,
            "switches": len({(t, p) for _, t, p, _ in result.wrong_claims}),
            "wrong_frames": len(result.wrong_claims),
            "latency_ms": [round(1000 * x) for x in latency]}


def bench_scenes(args, pipeline) -> None:
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    photos = {n: ft.read_image(data / f"{n}.{'png' if n == 'astronaut' else 'jpg'}")
              for n in ("obama", "obama2", "obama3", "biden", "astronaut")}
    faces = {n: pipeline.analyze(p)[0] for n, p in photos.items()}
    scenes = hard_scenes(*(((label,) + face_crop(photos[n], faces[n].box))
                           for label, n in (("obama", "obama2"), ("biden", "biden"),
                                            ("stranger", "astronaut"))))
    enrol = [(n, faces[k].embedding) for n, k in (("obama", "obama"), ("obama", "obama3"),
                                                  ("biden", "biden"))]
    runs = []  # (scene, enrolment)
    if args.lfw:
        cases = json.loads((data / "lfw_door_faces.json").read_text())
        more, extra = lfw_scenes(pipeline, args.lfw, cases)
        enrol += extra
        dip, dip_enrol = dip_scene(pipeline, args.lfw, cases["dip"])
        runs = [(scene, enrol) for scene in scenes + more] + [(dip, enrol[:3] + dip_enrol)]
    else:
        runs = [(scene, enrol) for scene in scenes]
    settings = DecisionSettings()
    strict = dataclasses.replace(settings, keep_threshold=1.0, keep_misses=1)
    print(f"\nscenes (640x360, 25 fps; median of {args.rounds} alternating rounds). Door "
          f"switches and decisions per visit with the hysteresis (keep {settings.keep_threshold}, "
          f"{settings.keep_misses} misses {settings.doubt_every_s} s apart) and, after the "
          f"slash, with the strict rule of 0.2 (one check below the gate ends a track):")
    print("| scene | frames | right / wrong / missed | wrong claims: tracks (frames) | "
          "switches caught by the door | decisions per visit | decidable -> decided | "
          "embeddings / frame | door fps | baseline fps | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scene, people in runs:
        recognizer = ft.FaceRecognizer(classifier="knn").fit(
            np.stack([v for _, v in people]), [n for n, _ in people])
        enrolled = {n for n, _ in people}
        frames = [image for image, _ in scene.frames()]
        door_s, base_s = [], []
        for _ in range(args.rounds):
            trigger = DoorTrigger(recognizer, pipeline, settings=settings)
            result = run_door_on_scene(trigger, scene, settings.min_face_px)
            door_s.append(result.seconds)
            base_s.append(scene_baseline(recognizer, pipeline, frames))
        old = DoorTrigger(recognizer, pipeline, settings=strict)
        old_result = run_door_on_scene(old, scene, strict.min_face_px)
        s = score(result, enrolled)
        door_fps = len(frames) / statistics.median(door_s)
        base_fps = len(frames) / statistics.median(base_s)
        latency = ", ".join(f"{x} ms" for x in s["latency_ms"]) or "-"
        print(f"| {scene.name} | {len(frames)} | {s['right']} / {s['wrong']} / {s['missed']} | "
              f"{s['switches']} ({s['wrong_frames']}) | {trigger.stats.identity_switches} / "
              f"{old.stats.identity_switches} | {per_visit(result, scene):.1f} / "
              f"{per_visit(old_result, scene):.1f} | {latency} | "
              f"{trigger.stats.embedded_faces / trigger.stats.frames:.2f} | {door_fps:.0f} | "
              f"{base_fps:.0f} | {door_fps / base_fps:.2f}x |")


def per_visit(result: SceneRun, scene) -> float:
    """Decisions (identified, unknown) per visit: a visit is one actor's label in view,
    consecutive appearances of the same label in the same place counting once."""
    visits = len({actor.label for actor in scene.actors})
    return sum(e.decision in ("identified", "unknown") for e, _ in result.events) / visits


if __name__ == "__main__":
    main()
