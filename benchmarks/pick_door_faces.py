"""Choose the real lfw_dev photos of the door's hard test scenes; write their names (never
the photos) to tests/data/lfw_door_faces.json.

Run by hand:  python benchmarks/pick_door_faces.py ../shared/lfw_dev
              [-o tests/data/lfw_door_faces.json]

* turned: among people with several photos, the photo whose face, shrunk to 64 px wide
  (as in benchmarks/door_gates_lfw.py), has a yaw proxy in 0.5-1.0 and still matches one
  of the person's other photos at >= 0.5; the most turned such photo. The other photos are
  the enrolment.
* lookalike: the most similar pair of photos of two different people (largest faces)
  whose similarity is at least NOISE below the identify gate: the hardest stranger the
  door is meant to reject. NOISE = 0.05 is how far one face's similarity moves with its
  size in a built video (the pair just below the gate, 0.458, scored 0.42-0.50 per frame
  at 50-140 px and was identified: a stranger that close to the gate is, at some sizes,
  above it). The most similar pairs of all are printed too: pairs at or above the gate
  are false matches no similarity gate refuses (docs/door.md).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import face_trigger as ft
from door_gates_lfw import largest, probe_views
from face_trigger.quality import face_quality

#: Spread of one face's similarity with its size in a built video (see the docstring).
NOISE = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of <person>/<photo> (../shared/lfw_dev)")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests" / "data"
                        / "lfw_door_faces.json")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    pipeline = ft.FacePipeline()
    photos = sorted(p for p in args.root.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))
    names, embeddings, widths, images = [], [], [], {}
    for path in photos:
        image = ft.read_image(path)
        found = pipeline.detect(image)
        if not len(found):
            continue
        i = largest(found)
        names.append(path)
        embeddings.append(pipeline.embed(image, found.landmarks[i:i + 1])[0])
        widths.append(float(found.boxes[i, 2] - found.boxes[i, 0]))
        images[path] = image
    enrolled = np.stack(embeddings)
    person = np.array([p.parent.name for p in names])
    rel = [str(p.relative_to(args.root)) for p in names]

    turned = None
    for k, path in enumerate(names):
        others = np.nonzero((person == person[k]) & (np.arange(len(names)) != k))[0]
        if not len(others):
            continue
        (_, small), = [v for v in probe_views(images[path], widths[k], [64]) if v[0] == "64px"]
        det = pipeline.detect(small)
        if not len(det):
            continue
        j = largest(det)
        yaw = face_quality(small, det.boxes[j], det.landmarks[j]).yaw
        best = float((enrolled[others] @ pipeline.embed(small, det.landmarks[j:j + 1])[0]).max())
        if 0.5 <= yaw <= 1.0 and best >= 0.5 and (turned is None or yaw > turned["yaw_64px"]):
            turned = {"person": str(person[k]), "photo": rel[k],
                      "enrol": [rel[o] for o in others], "yaw_64px": round(yaw, 3),
                      "best_similarity_64px": round(best, 3)}

    sims = enrolled @ enrolled.T
    sims[person[:, None] == person[None, :]] = -1.0
    upper = np.triu_indices(len(names), 1)
    order = np.argsort(-sims[upper])
    top = [(rel[upper[0][o]], rel[upper[1][o]], round(float(sims[upper][o]), 3))
           for o in order[:10]]
    below = next(o for o in order if sims[upper][o] < ft.IDENTIFY_COSINE - NOISE)
    lookalike = {"enrolled": rel[upper[0][below]], "stranger": rel[upper[1][below]],
                 "similarity": round(float(sims[upper][below]), 3),
                 "gate": ft.IDENTIFY_COSINE, "noise": NOISE}
    print("most similar pairs of different people:")
    for a, b, s in top:
        print(f"  {s:.3f}  {a}  {b}")
    result = {"source": "../shared/lfw_dev (names only; the photos stay there)",
              "command": "python benchmarks/pick_door_faces.py ../shared/lfw_dev",
              "turned": turned, "lookalike": lookalike,
              "most_similar_pairs": [list(t) for t in top[:5]]}
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
