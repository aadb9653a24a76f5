"""Gallery search at 1k, 10k, 100k and 1M faceprints against numpy float32 brute force.

Run by hand:  python benchmarks/bench_gallery.py [--sizes 1000 10000 100000 1000000]
              [--out gallery_bench]   (needs faiss for 1M: pip install 'face_trigger[faiss]')

Synthetic gallery: random unit vectors (10 faceprints per person) plus, for 1,000 queries,
planted near-duplicates (the query is a gallery vector plus noise of 0.05 per dimension).
The gallery picks its method by size (exact float32 below COMPACT_FROM, else faiss IVF with
8-bit vectors and exact re-ranking from the database). In the same run, interleaved: numpy
brute force over the same float32 matrix (``argmax(X @ q)``), one query and batches of 64.
A fresh process then opens the saved gallery: time until ready to serve, resident memory.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import face_trigger as ft
from _timing import machine_line, measure, report

SERVE = """
import json, resource, sys, time
t = time.perf_counter()
import numpy as np, face_trigger as ft
g = ft.Gallery(sys.argv[1], "synthetic@0")
q = np.load(sys.argv[2])
g.search(q[:1], k=1)
ready = time.perf_counter() - t
rss = int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6
print(json.dumps({"ready_s": ready, "rss_mb": rss, "compact": g.compact}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("gallery_bench"))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(machine_line())
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for n in args.sizes:
        vectors = rng.standard_normal((n, 128), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        targets = rng.choice(n, min(1000, n), replace=False)
        queries = vectors[targets] + 0.05 * rng.standard_normal((len(targets), 128),
                                                                   dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        path = args.out / f"g{n}.db"
        for stale in (path, Path(str(path) + ".ivf"), Path(str(path) + "-wal")):
            stale.unlink(missing_ok=True)
        start = time.perf_counter()
        gallery = ft.Gallery(path, "synthetic@0")
        ids = gallery.bulk_add([f"p{i // 10}" for i in range(n)], vectors)
        gallery.close()
        build = time.perf_counter() - start
        q1, q64 = queries[:1], queries[:64]
        cases = {
            "baseline 1 query": lambda: np.argmax(vectors @ q1[0]),
            "gallery 1 query": lambda: gallery.search(q1, k=1),
            "baseline 64 queries": lambda: np.argmax(q64 @ vectors.T, axis=1),
            "gallery 64 queries": lambda: gallery.search(q64, k=1),
        }
        medians = report(measure(cases, args.repeats, warmup=3),
                         title=f"{n:,} faceprints ({'compact IVF-SQ8' if gallery.compact else 'exact float32'}); built in {build:.1f} s")
        found = gallery.search(queries, k=1)[1][:, 0]
        exact = ids[np.argmax(queries @ vectors.T, axis=1)]
        recall = float(np.mean(found == exact))
        np.save(args.out / "q.npy", queries)
        served = json.loads(subprocess.run([sys.executable, "-c", SERVE, str(path),
                                            str(args.out / "q.npy")], capture_output=True,
                                           text=True, check=True).stdout.strip().splitlines()[-1])
        rows.append((n, gallery.compact, medians["gallery 1 query"] / medians["baseline 1 query"],
                     medians["gallery 64 queries"] / medians["baseline 64 queries"],
                     medians["gallery 1 query"] * 1e3, medians["gallery 64 queries"] / 64 * 1e3,
                     recall, served["ready_s"], served["rss_mb"]))
        print(f"  recall@1 vs exact float32 over {len(queries)} queries: {recall:.4f}; a fresh "
              f"process was ready in {served['ready_s']:.1f} s with {served['rss_mb']:.0f} MB "
              f"resident")
        del gallery, vectors
    print("\n  faceprints  method   1 query     ratio  64 batch/query  ratio  recall@1  ready   RSS")
    for n, compact, r1, r64, t1, t64, recall, ready, rss in rows:
        print(f"  {n:>10,}  {'IVF-SQ8' if compact else 'exact':7s}  {t1:7.2f} ms  {r1:5.2f}x "
              f"{t64:9.3f} ms  {r64:5.2f}x  {recall:.4f}  {ready:4.1f} s {rss:5.0f} MB")


if __name__ == "__main__":
    main()
