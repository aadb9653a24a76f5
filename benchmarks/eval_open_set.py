"""Open-set identification: enrolled people must be recognised, strangers rejected.

Run by hand, on a prepared folder or on a folder of people:

    # ROOT/train/<name>/*, ROOT/test/<name>/*, ROOT/unknown/*
    python benchmarks/eval_open_set.py ROOT
    python benchmarks/eval_open_set.py --lfw ../shared/lfw_dev

With --lfw, people with two or more photos are enrolled with the first half of their photos
(rounded up) and queried with the rest; people with one photo are the strangers. Each photo
contributes its most central face. For the SVM and the KNN recognizer it prints the
identification rate (queries of enrolled people named correctly), the misidentification rate
(named as someone else) and the false accepts of strangers, over a sweep of the similarity
gate and the margin, and the figures at the shipped defaults.

Enrolment photos are embedded as the product enrols them (landmarks at
``thresholds.STILL_SCALES`` averaged; ``--enrol-scales one`` for a single pass); queries and
strangers with one pass, as a camera frame is.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

import face_trigger as ft
from face_trigger.enrollment import IMAGE_SUFFIXES

Split = Dict[str, List[Tuple[str, Path]]]


def photos(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def split_prepared(root: Path) -> Split:
    split: Split = {"train": [], "test": [], "unknown": []}
    for part in ("train", "test"):
        for person in sorted(d for d in (root / part).iterdir() if d.is_dir()):
            split[part] += [(person.name, p) for p in photos(person)]
    unknown = root / "unknown"
    for item in sorted(unknown.iterdir()):
        split["unknown"] += [(item.name, p) for p in (photos(item) if item.is_dir() else [item])
                             if p.suffix.lower() in IMAGE_SUFFIXES]
    return split


def split_people(root: Path) -> Split:
    split: Split = {"train": [], "test": [], "unknown": []}
    for person in sorted(d for d in root.iterdir() if d.is_dir()):
        files = photos(person)
        if len(files) == 1:
            split["unknown"].append((person.name, files[0]))
        elif files:
            cut = (len(files) + 1) // 2
            split["train"] += [(person.name, p) for p in files[:cut]]
            split["test"] += [(person.name, p) for p in files[cut:]]
    return split


def central_face(faces: list, frame: np.ndarray):
    """The face whose box centre is nearest the frame centre (LFW centres its subject)."""
    centre = np.array([frame.shape[1] / 2, frame.shape[0] / 2])
    return min(faces, key=lambda f: np.hypot(*((f.box[:2] + f.box[2:]) / 2 - centre)))


def central_embedding(pipeline: ft.FacePipeline, path: Path, scales=None):
    frame = ft.read_image(path)
    faces = pipeline.analyze(frame, scales=scales)
    return central_face(faces, frame).embedding if faces else None


def embed(split: Split, pipeline: ft.FacePipeline, enrol_scales):
    out = {}
    for part, items in split.items():
        names, rows = [], []
        scales = enrol_scales if part == "train" else None
        for name, path in items:
            embedding = central_embedding(pipeline, path, scales)
            if embedding is not None:
                names.append(name)
                rows.append(embedding)
        out[part] = (names, np.stack(rows))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, help="prepared train/test/unknown folder")
    parser.add_argument("--lfw", type=Path, help="folder of <person>/<photos> to split instead")
    parser.add_argument("--enrol-scales", choices=["still", "one"], default="still",
                        help="enrolment photos: STILL_SCALES averaged (default) or one pass")
    args = parser.parse_args()
    if (args.root is None) == (args.lfw is None):
        parser.error("give ROOT or --lfw DIR")
    ft.runtime.configure_opencv(quiet=True)
    split = split_people(args.lfw) if args.lfw else split_prepared(args.root)
    start = time.perf_counter()
    enrol_scales = ft.thresholds.STILL_SCALES if args.enrol_scales == "still" else None
    data = embed(split, ft.FacePipeline(), enrol_scales)
    (train_names, train), (test_names, test), (_, unknown) = (
        data["train"], data["test"], data["unknown"])
    print(f"enrolled {len(train_names)} photos of {len(set(train_names))} people; "
          f"{len(test_names)} queries of enrolled people; {len(unknown)} strangers; "
          f"enrolment scales {enrol_scales} "
          f"(embedded in {time.perf_counter() - start:.0f} s)")
    truth = np.array(test_names)
    gates = (0.30, 0.34, 0.36, 0.38, 0.40, 0.42, 0.44, 0.46, 0.50)
    margins = (0.0, 0.05, 0.10)
    for classifier in ("svm", "knn"):
        recognizer = ft.FaceRecognizer(classifier=classifier, unknown_threshold=0.0,
                                       margin=0.0).fit(train, train_names)
        known_q = recognizer.identify(test)
        stranger_q = recognizer.identify(unknown)
        print(f"\n{classifier.upper()} (probability >= 0.2): rows = similarity gate, "
              "columns = margin; identified / misidentified (of queries) | strangers accepted")
        print("  gate   " + "".join(f"{'margin ' + str(m):>34s}" for m in margins))
        for gate in gates:
            cells = []
            for margin in margins:
                def accepted(ids):
                    return np.array([i.probability >= 0.2 and i.similarity >= gate
                                     and i.margin >= margin for i in ids])
                ok_known = accepted(known_q)
                named = np.array([i.name for i in known_q])
                right = (ok_known & (named == truth)).mean()
                wrong = (ok_known & (named != truth)).mean()
                fpir = accepted(stranger_q).mean()
                cells.append(f"{100 * right:6.1f}% / {100 * wrong:4.1f}% | {100 * fpir:5.2f}%")
            marker = "  <- default gate" if gate == ft.IDENTIFY_COSINE else ""
            print(f"  {gate:.2f}  " + "".join(f"{c:>34s}" for c in cells) + marker)
        default = ft.FaceRecognizer(classifier=classifier).fit(train, train_names)
        codes = default.infer(test)
        names = np.array(default.label_map_.decode(codes))
        stranger_codes = default.infer(unknown)
        print(f"  shipped defaults (gate {default.unknown_threshold}, margin {default.margin}, "
              f"probability 0.2): identified {100 * (names == truth).mean():.1f}%, "
              f"misidentified {100 * ((names != truth) & (codes >= 0)).mean():.1f}%, "
              f"strangers accepted {100 * (stranger_codes >= 0).mean():.2f}% "
              f"({int((stranger_codes >= 0).sum())} of {len(unknown)})")


if __name__ == "__main__":
    main()
