"""Door threading: one pipeline with OpenCV's threads, or two pipelines in parallel?

Run by hand:  python benchmarks/bench_threads.py [--frames 300] [--rounds 3]

Detection throughput (the door's main cost) on the frames of the built door demo, per engine,
rounds alternating: one pipeline with 2 threads (the DoorTrigger default), one with 1 thread,
and two pipelines with 1 thread each detecting alternate frames in two Python threads (the
nets release the GIL), i.e. the upper bound of detecting frame t+1 while frame t is handled.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np

import face_trigger as ft
from _timing import machine_line
from face_trigger.door.sources import FrameSource

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from make_demo_video import build_demo  # noqa: E402


def serial(frames: List[np.ndarray], engine: str, threads: int) -> float:
    cv2.setNumThreads(threads)  # OpenVINO takes its thread count from this when built
    pipeline = ft.FacePipeline(engine=engine)
    pipeline.detect(frames[0])
    start = time.perf_counter()
    for frame in frames:
        pipeline.detect(frame)
    return len(frames) / (time.perf_counter() - start)


def parallel(frames: List[np.ndarray], engine: str) -> float:
    cv2.setNumThreads(1)
    pipelines = [ft.FacePipeline(engine=engine) for _ in range(2)]
    for pipeline in pipelines:
        pipeline.detect(frames[0])

    def work(pipeline: ft.FacePipeline, part: List[np.ndarray]) -> None:
        for frame in part:
            pipeline.detect(frame)

    workers = [threading.Thread(target=work, args=(pipelines[i], frames[i::2]))
               for i in range(2)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    print(machine_line())
    with tempfile.TemporaryDirectory() as folder:
        video = build_demo(Path(folder))
        frames = [f.image for f in FrameSource(video)][:args.frames]
    threads = cv2.getNumThreads()
    engines = ["opencv"] + (["openvino"] if ft.engines.openvino_available() else [])
    for engine in engines:
        rates: Dict[str, List[float]] = {"one pipeline, 2 threads (default)": [],
                                         "one pipeline, 1 thread": [],
                                         "two pipelines, 1 thread each, in parallel": []}
        for _ in range(args.rounds):
            rates["one pipeline, 2 threads (default)"].append(serial(frames, engine, 2))
            rates["one pipeline, 1 thread"].append(serial(frames, engine, 1))
            rates["two pipelines, 1 thread each, in parallel"].append(parallel(frames, engine))
        base = statistics.median(rates["one pipeline, 2 threads (default)"])
        print(f"\n{engine}: detections per second on {len(frames)} 720p frames, median of "
              f"{args.rounds} alternating rounds")
        for name, values in rates.items():
            print(f"  {name:44s} {statistics.median(values):6.1f}/s  "
                  f"{statistics.median(values) / base:5.2f}x")
    cv2.setNumThreads(threads)


if __name__ == "__main__":
    main()
