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
* dip: the same person's face reading a little lower for a while (turning away and back),
  measured as the door sees it (``face_trigger.testing.dip_scene``'s geometry: faces of
  FRONT_PX and DIP_PX in a 640x360 frame, embeddings averaged over a few frames): among
  people with several photos, a "front" photo (the enrolment, as ``analyze`` embeds it)
  and a "dip" photo that reads below the gate by at least KEEP_MARGIN against the
  enrolment and above the door's keep threshold by at least 2 * KEEP_MARGIN against the
  front photo's frames (the anchor a track of the front face holds); the one reading
  lowest against the enrolment. LFW's genuine pairs rarely read below the gate: only a
  few pairs qualify.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import face_trigger as ft
from door_gates_lfw import largest, probe_views
from face_trigger.quality import face_quality
from face_trigger.testing import Actor, Scene, face_crop

#: Spread of one face's similarity with its size in a built video (see the docstring).
NOISE = 0.05
#: How far the dip photo stays from the keep threshold and the gate (per-frame noise).
KEEP_MARGIN = 0.015
#: Face widths (px) of the dip scene: the front photo, then the dip photo.
FRONT_PX, DIP_PX = 72, 64


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

    dip = pick_dip(pipeline, names, person, rel, images)

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
              "turned": turned, "lookalike": lookalike, "dip": dip,
              "most_similar_pairs": [list(t) for t in top[:5]]}
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def pick_dip(pipeline: ft.FacePipeline, names: list, person: np.ndarray, rel: list,
             images: dict) -> dict:
    """The "dip" case (see the module docstring)."""
    gate, keep = ft.IDENTIFY_COSINE, ft.thresholds.DOOR_KEEP_COSINE
    enrolled, front, dip = {}, {}, {}
    for k, path in enumerate(names):
        if (person == person[k]).sum() < 2:
            continue
        face = max(pipeline.analyze(images[path]), key=lambda f: f.width)
        crop, box = face_crop(images[path], face.box)
        enrolled[k] = face.embedding
        front[k], dip[k] = (in_video(pipeline, crop, box, px) for px in (FRONT_PX, DIP_PX))
    best = None
    for f in enrolled:
        for d in enrolled:
            if d == f or person[d] != person[f] or front[f] is None or dip[d] is None:
                continue
            to_enrolment, to_front = float(enrolled[f] @ dip[d]), float(front[f] @ dip[d])
            if to_enrolment > gate - KEEP_MARGIN or to_front < keep + 2 * KEEP_MARGIN:
                continue
            if best is None or to_enrolment < best["dip_to_enrolment"]:
                best = {"person": str(person[f]), "front": rel[f], "dip": rel[d],
                        "enrol": [rel[f]], "front_px": FRONT_PX, "dip_px": DIP_PX,
                        "dip_to_enrolment": round(to_enrolment, 3),
                        "dip_to_front": round(to_front, 3), "keep_threshold": keep,
                        "gate": gate}
    if best is None:
        raise SystemExit("no dip pair found")
    return best


def in_video(pipeline: ft.FacePipeline, crop: np.ndarray, box: tuple, px: int
             ) -> "np.ndarray | None":
    """Unit mean embedding of the face in 5 frames of a 640x360 scene, ``px`` wide."""
    scene = Scene("probe", (Actor("face", crop, box, 0.0, 1.0, start_px=px),), 0.2)
    found = [faces[0].embedding for faces in (pipeline.analyze(f) for f, _ in scene.frames())
             if faces]
    if not found:
        return None
    mean = np.mean(found, axis=0)
    return mean / np.linalg.norm(mean)


if __name__ == "__main__":
    main()
