"""Record face_recognition's own answers on the compat fixtures, for the tests that run the
same example scripts (tests/peer_examples/) with only the import lines changed.

    python -c "from face_trigger.testing import peer_fixtures; \
               peer_fixtures('tests/data', 'peer_fixtures')"
    /tmp/peer/bin/pip install scikit-learn opencv-python-headless   # besides the peer itself
    /tmp/peer/bin/python benchmarks/peer/peer_answers.py peer_fixtures tests/data/peer_answers.json

(the environment of benchmarks/peer/encode_lfw_dlib.py). Each example's stdout and each of
the peer's command lines (``face_recognition``, ``face_detection``) is stored as it printed,
with the fixture folder's path replaced by ``FIXTURES``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "tests" / "peer_examples"


def main() -> None:
    fixtures, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    bin_dir = Path(sys.executable).parent
    f = {"known": fixtures / "known", "unknown": fixtures / "unknown",
         "train": fixtures / "train", "clip": fixtures / "clip.avi"}
    runs = {
        "face_distance": [sys.executable, EXAMPLES / "face_distance.py", f["known"] / "obama.jpg",
                          f["known"] / "biden.jpg", f["unknown"] / "obama2.jpg"],
        "knn": [sys.executable, EXAMPLES / "knn.py", f["train"], f["unknown"]],
        "video": [sys.executable, EXAMPLES / "video.py", f["clip"], f["known"] / "obama.jpg"],
        "find_faces": [sys.executable, EXAMPLES / "find_faces.py",
                       f["unknown"] / "small_faces.jpg"],
        "cli": [bin_dir / "face_recognition", f["known"], f["unknown"]],
        "cli_show_distance": [bin_dir / "face_recognition", "--show-distance", "true",
                              f["known"], f["unknown"]],
        "cli_tolerance": [bin_dir / "face_recognition", "--tolerance", "0.5", "--cpus", "2",
                          f["known"], f["unknown"]],
        "cli_known_photo": [bin_dir / "face_recognition", "--show-distance", "true",
                            f["known"], f["known"] / "obama.jpg"],
        "cli_detection": [bin_dir / "face_detection", "--model", "hog", f["unknown"]],
    }
    answers = {"command": "python benchmarks/peer/peer_answers.py peer_fixtures "
                          "tests/data/peer_answers.json",
               "peer": "face_recognition 1.3.0, dlib-bin 20.0.1"}
    for name, argv in runs.items():
        done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=True)
        answers[name] = sorted(done.stdout.replace(str(fixtures), "FIXTURES").splitlines()) \
            if name.startswith("cli") else done.stdout.replace(str(fixtures), "FIXTURES") \
            .splitlines()
        print(name, answers[name][:6])
    out.write_text(json.dumps(answers, indent=1) + "\n")


if __name__ == "__main__":
    main()
