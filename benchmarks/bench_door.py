"""Door trigger speed and behaviour on the built 720p demo video (730 frames).

Run by hand:  python benchmarks/bench_door.py [--rounds 3] [--out door_bench]

Builds the demo of examples/make_demo_video.py (Obama walks up at 1 s, a stranger at 8 s,
Obama again at 20 s; noise, blur, dropped frames), enrols Obama and Biden from their other
photos, and runs in the same process, alternating:

* the door trigger: detection every frame, IoU tracking, embedding only when a track is new,
  its face grew, or every 5 frames until decided, K-of-N voting;
* the baseline: detection + embedding + identification of every face on every frame.

Prints frames per second of both (video decoding included in both), the share of frames that
needed an embedding, the decision latency from the first frame in which the face reached the
minimum size, resident memory after 100 frames and at the end, and false accepts of the stranger.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import face_trigger as ft
from _timing import machine_line
from face_trigger.decision import DecisionSettings
from face_trigger.sources import FrameSource
from face_trigger.trigger import DoorTrigger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from make_demo_video import DROP_EVERY, FPS, build_demo  # noqa: E402

VISITS = [("obama", 1.0), ("stranger", 8.0), ("obama", 20.0)]  # as in make_demo_video.py


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


def run_trigger(recognizer, pipeline, video):
    trigger = DoorTrigger(recognizer, pipeline, settings=DecisionSettings())
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
    return trigger.frames / elapsed, trigger, events, memory


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
    args = parser.parse_args()
    ft.configure_opencv(quiet=True)
    print(machine_line())
    video = build_demo(args.out)
    pipeline = ft.FacePipeline()
    recognizer = ft.FaceRecognizer()
    recognizer.fit_folder(args.out / "people", progress=False)
    print(f"video {video}: {FrameSource(video).__class__.__name__} of 720p frames at {FPS:.0f} fps; "
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
    print(f"\nframes {trigger.frames}, faces embedded {trigger.embedded_faces} "
          f"({100 * trigger.embedded_faces / trigger.frames:.1f} % of frames needed an embedding); "
          f"detector skipped on {trigger.skipped_detections} idle frames "
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
    print(f"memory (RSS): {memory['after 100 frames']:.0f} MB after 100 frames, "
          f"{memory['at the end']:.0f} MB at the end")


if __name__ == "__main__":
    main()
