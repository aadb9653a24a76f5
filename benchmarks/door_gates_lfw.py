"""Choose the door's observation gates on real faces: how genuine and impostor similarity
behave by yaw proxy, sharpness, face width and SFace feature norm.

Run by hand:  python benchmarks/door_gates_lfw.py ../shared/lfw_dev [--widths 36 42 50 64 80]
              [--gate 0.46] [--cache probes.npz] [--json gates.json]

Each photo of ROOT/<person>/<photo> is enrolled at its own size (largest face). Each photo is
then also a probe: as it is and downscaled so that its face is 36, 42, 50, 64 and 80 px wide (pasted
on a grey 320x240 canvas, detected again, as a door camera would see a small face). For every
probe we record the door's quality measures (``face_quality``: yaw proxy, Laplacian sharpness
at 64 px, width) and the raw SFace norm, and compare its embedding with the enrolled photos:
genuine = the *other* photos of the same person (never the probe's own photo), impostor =
every photo of every other person. Per bin of each measure the script prints the true accept
rate (genuine pairs at or above the identify gate) and the false match rate (impostor pairs at
or above it). A gate may drop observations only where FMR rises above the frontal bin's or
the TAR collapses. It also compares the measures as quality scores: the genuine pairs' rank
correlation with each measure and the FNMR left after dropping the worst 10 % / 20 % of
probes by that measure (an error-versus-reject check).
Nothing of ROOT is copied; about 2.5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

import face_trigger as ft
from face_trigger.quality import face_quality

CANVAS = (320, 240)


def largest(detections: ft.Detections) -> int:
    widths = detections.boxes[:, 2] - detections.boxes[:, 0]
    return int(np.argmax(widths))


def probe_views(image: np.ndarray, face_width: float, widths: Sequence[int]
                ) -> List[Tuple[str, np.ndarray]]:
    """The photo itself, then copies whose face is ``w`` px wide, on a grey canvas."""
    views = [("native", image)]
    for width in widths:
        scale = width / face_width
        if scale >= 1:
            continue
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((CANVAS[1], CANVAS[0], 3), 110, np.uint8)
        h, w = min(small.shape[0], CANVAS[1]), min(small.shape[1], CANVAS[0])
        y0, x0 = (CANVAS[1] - h) // 2, (CANVAS[0] - w) // 2
        canvas[y0:y0 + h, x0:x0 + w] = small[:h, :w]
        views.append((f"{width}px", canvas))
    return views


def collect(root: Path, widths: Sequence[int]) -> Dict[str, np.ndarray]:
    pipeline = ft.FacePipeline()
    enrolled, enrolled_person = [], []
    probes: Dict[str, list] = {k: [] for k in ("person", "photo", "view", "width", "yaw",
                                               "sharpness", "norm", "score", "embedding")}
    photos = sorted(p for p in root.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))
    people = {name: i for i, name in enumerate(sorted({p.parent.name for p in photos}))}
    for photo_index, path in enumerate(photos):
        image = ft.read_image(path)
        found = pipeline.detect(image)
        if not len(found):
            enrolled.append(np.zeros(128, np.float32))  # keeps indices; never matches
            enrolled_person.append(-1)
            continue
        i = largest(found)
        enrolled.append(pipeline.embed(image, found.landmarks[i:i + 1])[0])
        enrolled_person.append(people[path.parent.name])
        face_width = float(found.boxes[i, 2] - found.boxes[i, 0])
        for view, frame in probe_views(image, face_width, widths):
            det = found if view == "native" else pipeline.detect(frame)
            if not len(det):
                continue
            j = largest(det)
            quality = face_quality(frame, det.boxes[j], det.landmarks[j])
            chips = ft.align.align_faces(frame, det.landmarks[j:j + 1])
            embedding, norm = pipeline.embedder.embed_chips_with_norms(chips)
            for key, value in (("person", people[path.parent.name]), ("photo", photo_index),
                               ("view", view), ("width", quality.width), ("yaw", quality.yaw),
                               ("sharpness", quality.sharpness), ("norm", norm[0]),
                               ("score", det.scores[j]), ("embedding", embedding[0])):
                probes[key].append(value)
    out = {k: np.asarray(v) for k, v in probes.items()}
    out["enrolled"] = np.stack(enrolled).astype(np.float32)
    out["enrolled_person"] = np.asarray(enrolled_person)
    return out


def load_probes(root: Path, widths: Sequence[int], cache: "Path | None") -> Dict[str, np.ndarray]:
    """:func:`collect`, or the probes it saved in ``cache`` (.npz) before."""
    if cache and cache.exists():
        return dict(np.load(cache))
    data = collect(root, widths)
    if cache:
        np.savez(cache, **data)
    return data


def pair_scores(data: Dict[str, np.ndarray], gate: float) -> Dict[str, np.ndarray]:
    """Per probe: genuine similarities (list) and impostor counts at/above the gate."""
    sims = data["embedding"] @ data["enrolled"].T            # (probes, photos)
    same = data["person"][:, None] == data["enrolled_person"][None, :]
    own = data["photo"][:, None] == np.arange(sims.shape[1])[None, :]
    valid = data["enrolled_person"][None, :] >= 0
    genuine = same & ~own & valid
    impostor = ~same & valid
    return {"sims": sims, "genuine": genuine, "impostor": impostor,
            "false_matches": ((sims >= gate) & impostor).sum(1),
            "impostor_pairs": impostor.sum(1)}


def bin_table(name: str, values: np.ndarray, edges: Sequence[float], pairs: Dict[str, np.ndarray],
              gate: float) -> List[dict]:
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (values >= lo) & (values < hi)
        genuine = pairs["sims"][mask][pairs["genuine"][mask]]
        fm = int(pairs["false_matches"][mask].sum())
        ip = int(pairs["impostor_pairs"][mask].sum())
        rows.append({"measure": name, "low": lo, "high": hi, "probes": int(mask.sum()),
                     "genuine_pairs": int(genuine.size),
                     "tar": float((genuine >= gate).mean()) if genuine.size else float("nan"),
                     "genuine_median": float(np.median(genuine)) if genuine.size else float("nan"),
                     "false_matches": fm, "impostor_pairs": ip,
                     "fmr": fm / ip if ip else float("nan")})
    return rows


def print_rows(rows: List[dict]) -> None:
    print(f"| {rows[0]['measure']} | probes | genuine pairs | TAR | genuine median | "
          "false matches / impostor pairs | FMR |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        hi = "" if not np.isfinite(r["high"]) else f"{r['high']:g}"
        print(f"| {r['low']:g}-{hi} | {r['probes']} | {r['genuine_pairs']} | "
              f"{r['tar']:.3f} | {r['genuine_median']:.3f} | {r['false_matches']:,} / "
              f"{r['impostor_pairs']:,} | {r['fmr']:.1e} |")
    print()


def quality_comparison(data: Dict[str, np.ndarray], pairs: Dict[str, np.ndarray],
                       gate: float) -> List[str]:
    """How well each measure predicts whether a genuine pair clears the gate."""
    probe_of_pair, photo_of_pair = np.nonzero(pairs["genuine"])
    sims = pairs["sims"][probe_of_pair, photo_of_pair]
    lines = ["| quality score (higher = better) | Spearman with genuine similarity | "
             "FNMR all | FNMR, worst 10 % dropped | worst 20 % dropped |", "|---|---|---|---|---|"]
    measures = {"-yaw proxy": -data["yaw"], "sharpness": data["sharpness"],
                "width": data["width"], "SFace norm": data["norm"],
                "detector score": data["score"]}
    for name, score in measures.items():
        per_pair = score[probe_of_pair]
        rho = np.corrcoef(_ranks(per_pair), _ranks(sims))[0, 1]
        cells = []
        for drop in (0.0, 0.1, 0.2):
            keep = per_pair >= np.quantile(score, drop) if drop else np.ones_like(sims, bool)
            cells.append(f"{(sims[keep] < gate).mean():.3f}")
        lines.append(f"| {name} | {rho:+.2f} | " + " | ".join(cells) + " |")
    return lines


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of <person>/<photo> (../shared/lfw_dev)")
    parser.add_argument("--widths", type=int, nargs="+", default=[36, 42, 50, 64, 80])
    parser.add_argument("--gate", type=float, default=ft.IDENTIFY_COSINE)
    parser.add_argument("--cache", type=Path, help="reuse/write the measured probes (.npz)")
    parser.add_argument("--json", type=Path, help="write the tables as JSON")
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    start = time.perf_counter()
    data = load_probes(args.root, args.widths, args.cache)
    pairs = pair_scores(data, args.gate)
    views = ", ".join(f"{v}: {int((data['view'] == v).sum())}" for v in np.unique(data["view"]))
    print(f"{len(data['enrolled'])} photos enrolled, {len(data['person'])} probes ({views}), "
          f"{int(pairs['genuine'].sum())} genuine and {int(pairs['impostor_pairs'].sum()):,} "
          f"impostor pairs, gate {args.gate} ({time.perf_counter() - start:.0f} s)\n")
    inf = float("inf")
    bins = {"yaw proxy": ("yaw", [0, 0.1, 0.2, 0.35, 0.5, 0.7, 1.0, inf]),
            "sharpness": ("sharpness", [0, 30, 45, 60, 100, 200, 400, inf]),
            "width px": ("width", [0, 45, 55, 60, 70, 90, 120, inf]),
            "SFace norm": ("norm", [0, 6, 7, 8, 9, 10, 11, 12, inf])}
    tables = [bin_table(title, data[key], edges, pairs, args.gate)
              for title, (key, edges) in bins.items()]
    for rows in tables:
        print_rows(rows)
    print("\n".join(quality_comparison(data, pairs, args.gate)))
    if args.json:
        args.json.write_text(json.dumps(tables, indent=1))


if __name__ == "__main__":
    main()
