"""Train a recognizer from a folder of people and save it, signed.

    python examples/train_recognizer.py PEOPLE_DIR -o model.pkl [--classifier knn] [--key SECRET]

PEOPLE_DIR is laid out as PEOPLE_DIR/<person name>/*.jpg, one face per photo. Photos with no
face or several faces are skipped and listed. The label map is written next to the model in
label_maps/<model name>.json. Without --key, $FACE_TRIGGER_MODEL_KEY signs the file; with
neither it is only digested, and must then be trusted like code.

Try it on the test photos:

    mkdir -p /tmp/people/obama /tmp/people/biden
    cp tests/data/obama.jpg tests/data/obama3.jpg /tmp/people/obama/
    cp tests/data/biden.jpg /tmp/people/biden/
    python examples/train_recognizer.py /tmp/people -o /tmp/door.pkl --key change-me
    python examples/recognize.py /tmp/door.pkl tests/data/obama2.jpg tests/data/astronaut.png \
        --key change-me
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import face_trigger as ft


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("people", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--classifier", choices=["svm", "knn"], default="svm")
    parser.add_argument("--key", help="HMAC key (default: $FACE_TRIGGER_MODEL_KEY)")
    parser.add_argument("--label-maps", type=Path, default=Path("label_maps"))
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    recognizer = ft.FaceRecognizer(classifier=args.classifier)
    result = recognizer.fit_folder(args.people)
    print(result.summary())
    recognizer.save(args.output, key=args.key)
    args.label_maps.mkdir(parents=True, exist_ok=True)
    label_map = recognizer.save_label_mapping(args.label_maps / f"{args.output.stem}.json")
    print(f"saved {args.output} and {label_map}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
