"""Build the door demo: a 720p video and a folder of enrolled people, from the test photos.

    python examples/make_demo_video.py [OUT_DIR]      (default: door_demo/)

The video (25 fps, 30 s of scene, 730 frames in the file): Obama walks up to the door (his face
grows from 40 to 240 px over 3 s), stays a second and leaves; a stranger (the astronaut, not
enrolled) walks up at 8 s; Obama comes back at 20 s, after the default cooldown. Gaussian noise
on every frame, motion blur on every 11th, and every 37th frame is dropped. The people folder
enrols Obama (obama.jpg, obama3.jpg) and Biden (biden.jpg); obama2.jpg, the face in the video,
is not among them.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import face_trigger as ft
from face_trigger.testing import Visit, door_video, write_video

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
FPS = 25.0
SECONDS = 30.0
DROP_EVERY = 37  # every 37th frame of the scene is missing from the file
BLUR_EVERY = 11


def build_demo(out: Path) -> Path:
    """Write ``out/demo.avi`` and ``out/people/<name>/*.jpg``; return the video path."""
    out.mkdir(parents=True, exist_ok=True)
    for person, photos in {"obama": ["obama.jpg", "obama3.jpg"], "biden": ["biden.jpg"]}.items():
        (out / "people" / person).mkdir(parents=True, exist_ok=True)
        for photo in photos:
            shutil.copyfile(DATA / photo, out / "people" / person / photo)
    detector = ft.detector.YuNetDetector()
    crops = {}
    for name in ("obama2.jpg", "astronaut.png"):
        photo = ft.read_image(DATA / name)
        face = detector.detect(photo)[0]
        crops[name] = (ft.image_io.crop_around(photo, face.box, 0.6), face.width)
    visits = [Visit("obama", *crops["obama2.jpg"], start_s=1.0),
              Visit("stranger", *crops["astronaut.png"], start_s=8.0, x_from=0.7, x_to=0.55),
              Visit("obama", *crops["obama2.jpg"], start_s=20.0, x_from=0.2, x_to=0.4)]
    frames = (frame for frame, _ in door_video(visits, SECONDS, fps=FPS, blur_every=BLUR_EVERY,
                                               drop_every=DROP_EVERY))
    return write_video(out / "demo.avi", frames, FPS)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("door_demo"),
                        help="folder for demo.avi and people/ (default: door_demo)")
    out = parser.parse_args(argv).out
    ft.runtime.configure_opencv(quiet=True)
    video = build_demo(out)
    print(f"wrote {video} and {out / 'people'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
