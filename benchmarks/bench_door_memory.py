"""Resident memory of a door watching one and four sources in one process (issue #26).

Each case runs in a fresh process: ``face-trigger watch`` on a built 640x360 clip (6 s, one
person walking up) with a one-person gallery, on each engine. Printed, in MB: RSS after the
imports, the median RSS over the second half of the run (warmed up: models loaded, every
door running), RSS when the doors have finished, and the peak (VmHWM of the process: not
ru_maxrss, which keeps the high-water mark of the forked parent across exec); then the
four-source / one-source ratios.

    python benchmarks/bench_door_memory.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import face_trigger as ft
from face_trigger.testing import Visit, door_video, write_video

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

CHILD = """
import json, os, statistics, sys, threading, time
def status(key):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) // 1024 for l in lines if l.startswith(key))
os.environ["FACE_TRIGGER_ENGINE"] = sys.argv[1]
from face_trigger.cli import main
imports = status("VmRSS")
samples, done = [], threading.Event()
def sample():
    while not done.wait(0.02):
        samples.append(status("VmRSS"))
threading.Thread(target=sample, daemon=True).start()
main(["watch", *[sys.argv[2]] * int(sys.argv[3]), "--gallery", sys.argv[4], "--audit",
      sys.argv[5], "-q"])
done.set()
warm = samples[len(samples) // 2:]  # the second half of the run: models loaded, warmed up
print(json.dumps({"imports": imports, "running": round(statistics.median(warm)),
                  "after": status("VmRSS"), "peak": status("VmHWM")}))
"""


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="door-memory-"))
    pipeline = ft.FacePipeline()
    photo = ft.read_image(DATA / "obama2.jpg")
    face = pipeline.analyze(photo)[0]
    crop = ft.image_io.crop_around(photo, face.box, 0.6)
    video = write_video(folder / "door.avi", (f for f, _ in door_video(
        [Visit("obama", crop, face.width, start_s=0.2)], 6.0, size=(640, 360))))
    gallery = ft.Gallery(folder / "door.db")
    gallery.add_faceprints("obama", [pipeline.largest_faceprint(DATA / "obama.jpg")])
    gallery.close()
    print(f"face_trigger {ft.__version__}; clip {video} (640x360, 150 frames); MB")
    for engine in ("opencv", "openvino"):
        rows = {}
        for sources in (1, 4):
            done = subprocess.run([sys.executable, "-c", CHILD, engine, str(video), str(sources),
                                   str(folder / "door.db"), str(folder / "audit.jsonl")],
                                  capture_output=True, text=True, check=True)
            rows[sources] = json.loads(done.stdout.strip().splitlines()[-1])
            r = rows[sources]
            print(f"{engine:8s} {sources} source(s): after imports {r['imports']}, running "
                  f"{r['running']}, after the door {r['after']}, peak {r['peak']}")
        ratio = rows[4]["running"] / rows[1]["running"]
        print(f"{engine:8s} four / one source: running {ratio:.2f}x, "
              f"peak {rows[4]['peak'] / rows[1]['peak']:.2f}x")


if __name__ == "__main__":
    main()
