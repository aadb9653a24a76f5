"""Choose the door's keep threshold (the hysteresis of an identity) on real faces.

Run by hand:  python benchmarks/door_keep_lfw.py ../shared/lfw_dev [--cache probes.npz]
              [--misses 3] [--target-impostor 1e-3]

An identified track is verified about once a second by embedding its face again and comparing
it with the *anchor*, the mean embedding of the observations that earned the decision. The
keep threshold is the cosine below which a verification is a miss; ``keep_misses`` misses in a
row end the identity. Two rates matter, per verification:

* impostor keep rate: another person's face (a stranger who took the track's place) reads at
  or above the threshold, so the swap is not seen at that check;
* genuine miss rate: the person's own face, small or turned, reads below it; a false switch
  needs ``keep_misses`` of them in a row.

Pairs come from ``benchmarks/door_gates_lfw.py``'s probes (every photo as it is and shrunk so
its face is 36-80 px wide on a grey canvas, detected again): the anchor is another photo of
the person, either as it is ("native anchor") or at the probe's own size ("same-size anchor",
as a small face in a video would have earned its decision); impostor pairs compare each probe
with every photo of every other person at the same sizes. Never the probe's own photo.

The threshold chosen is the lowest whose impostor keep rate is at most ``--target-impostor``
over all sizes (the same per-pair rate the shipped 1:1 threshold targets). Printed: the rates
per threshold and per face size, and the false-switch rate per dip of ``--misses`` checks in
two bounds: every check of a dip sees another photo (independent misses: p ** misses) and
every check sees the same photo (fully correlated: the miss rate itself).
Nothing of ROOT is copied; about 2.5 minutes on 2 cores (seconds with --cache).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

import face_trigger as ft
from door_gates_lfw import load_probes

THRESHOLDS = np.round(np.arange(0.15, 0.465, 0.025), 3)


def pairs(data: Dict[str, np.ndarray], same_size: bool
          ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Similarities of genuine and impostor (probe, anchor) pairs and each genuine pair's
    probe index; the anchor is another photo, native or at the probe's view."""
    emb, person, photo, view = data["embedding"], data["person"], data["photo"], data["view"]
    genuine, genuine_probe, impostor, impostor_probe = [], [], [], []
    for v in np.unique(view):
        rows = np.nonzero(view == v)[0]
        if same_size:
            anchors = rows
            anchor_emb, anchor_person, anchor_photo = emb[rows], person[rows], photo[rows]
        else:
            valid = data["enrolled_person"] >= 0
            anchors = np.nonzero(valid)[0]
            anchor_emb = data["enrolled"][anchors]
            anchor_person, anchor_photo = data["enrolled_person"][anchors], anchors
        sims = emb[rows] @ anchor_emb.T
        same = person[rows, None] == anchor_person[None, :]
        own = photo[rows, None] == anchor_photo[None, :]
        g_probe, g_anchor = np.nonzero(same & ~own)
        genuine.append(sims[g_probe, g_anchor])
        genuine_probe.append(rows[g_probe])
        impostor.append(sims[~same])
        impostor_probe.append(np.broadcast_to(rows[:, None], sims.shape)[~same])
    return (np.concatenate(genuine), np.concatenate(genuine_probe), np.concatenate(impostor),
            np.concatenate(impostor_probe))


def table(data: Dict[str, np.ndarray], same_size: bool, misses: int) -> List[dict]:
    genuine, g_probe, impostor, _ = pairs(data, same_size)
    small = data["width"][g_probe] < 55
    turned = data["yaw"][g_probe] >= 0.5
    rows = []
    for t in THRESHOLDS:
        miss = genuine < t
        rows.append({"threshold": float(t), "impostor_keep": float((impostor >= t).mean()),
                     "impostor_pairs": int(impostor.size), "genuine_pairs": int(genuine.size),
                     "miss_all": float(miss.mean()), "miss_small": float(miss[small].mean()),
                     "small_pairs": int(small.sum()), "miss_turned": float(miss[turned].mean()),
                     "turned_pairs": int(turned.sum()),
                     "switch_independent": float(miss.mean() ** misses)})
    return rows


def print_table(title: str, rows: List[dict], misses: int) -> None:
    r0 = rows[0]
    print(f"### {title}: {r0['genuine_pairs']} genuine pairs ({r0['small_pairs']} with the "
          f"probe under 55 px, {r0['turned_pairs']} turned, yaw proxy >= 0.5), "
          f"{r0['impostor_pairs']:,} impostor pairs\n")
    print(f"| keep threshold | impostor keep rate | genuine miss rate | under 55 px | turned | "
          f"false switch per dip, independent (p^{misses}) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threshold']:.3f} | {r['impostor_keep']:.1e} | {r['miss_all']:.3f} | "
              f"{r['miss_small']:.3f} | {r['miss_turned']:.3f} | {r['switch_independent']:.1e} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of <person>/<photo> (../shared/lfw_dev)")
    parser.add_argument("--widths", type=int, nargs="+", default=[36, 42, 50, 64, 80])
    parser.add_argument("--cache", type=Path, help="reuse/write the measured probes (.npz, the "
                        "same file as door_gates_lfw.py's)")
    parser.add_argument("--misses", type=int, default=ft.thresholds.DOOR_KEEP_MISSES)
    parser.add_argument("--target-impostor", type=float, default=1e-3)
    args = parser.parse_args()
    ft.runtime.configure_opencv(quiet=True)
    start = time.perf_counter()
    data = load_probes(args.root, args.widths, args.cache)
    print(f"{len(data['person'])} probes of {len(np.unique(data['person']))} people "
          f"({time.perf_counter() - start:.0f} s); identify gate {ft.IDENTIFY_COSINE}\n")
    chosen = []
    for title, same_size in (("native anchor", False), ("same-size anchor", True)):
        rows = table(data, same_size, args.misses)
        print_table(title, rows, args.misses)
        ok = [r for r in rows if r["impostor_keep"] <= args.target_impostor]
        if ok:
            chosen.append(ok[0])
    pick = max(chosen, key=lambda r: r["threshold"])
    print(f"keep threshold: {pick['threshold']:.3f} (the lowest whose impostor keep rate is at "
          f"most {args.target_impostor:g} with either anchor); shipped: "
          f"{ft.thresholds.DOOR_KEEP_COSINE}")


if __name__ == "__main__":
    main()
