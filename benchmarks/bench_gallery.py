"""Gallery search at 1k, 10k, 100k and 1M faceprints against numpy float32 brute force.

Run by hand:  python benchmarks/bench_gallery.py [--sizes 1000 10000 100000 1000000]
              [--out gallery_bench]   (needs faiss for 1M: pip install 'face_trigger[faiss]')
              [--db postgresql://.../scratch --reset-db [--db-sizes 100000 1000000]]

With --db, the same data also goes into a PostgreSQL + pgvector gallery at the --db-sizes:
load time (COPY + IVFFlat build), single adds per second, query p50/p95 (one query; 64 per
call) and recall@1 against exact float32, in the same interleaved run as the local gallery.
--reset-db drops the schema face_trigger of that database first: point it at a scratch
database, never at one you keep.

Synthetic gallery: random unit vectors (10 faceprints per person) plus, for 1,000 queries,
planted near-duplicates (the query is a gallery vector plus noise of 0.05 per dimension).
The gallery picks its method by size (exact float32 below COMPACT_FROM, else faiss IVF with
4-bit PQ codes, fast scan, exact re-ranking from the database). Same run, interleaved: numpy
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


def reset_postgres(url: str) -> None:
    import psycopg  # noqa: PLC0415 - the [postgres] extra
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS face_trigger CASCADE")


def postgres_gallery(url: str, names, vectors) -> tuple:
    """Load the vectors into a fresh PostgreSQL gallery; returns (gallery, ids, load s,
    single adds per s)."""
    reset_postgres(url)
    gallery = ft.Gallery(url, "synthetic@0")
    start = time.perf_counter()
    ids = gallery.bulk_add(names, vectors)
    load = time.perf_counter() - start
    extra = np.random.default_rng(1).standard_normal((200, 128), dtype=np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    start = time.perf_counter()
    for i, row in enumerate(extra):  # one transaction each
        gallery.add_faceprints(f"late{i}", [row])
    adds = len(extra) / (time.perf_counter() - start)
    return gallery, ids, load, adds


def recall_at_1(gallery, queries, exact_ids) -> float:
    found = np.concatenate([gallery.search(queries[i:i + 100], k=1)[1][:, 0]
                            for i in range(0, len(queries), 100)])
    return float(np.mean(found == exact_ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("gallery_bench"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--db", help="also a PostgreSQL gallery at this URL (scratch database)")
    parser.add_argument("--db-sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reset-db", action="store_true",
                        help="drop the schema face_trigger of --db first (required with --db)")
    args = parser.parse_args()
    if args.db and not args.reset_db:
        parser.error("--db drops the gallery schema of that database: add --reset-db")
    pg_rows = []
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
        pg = None
        if args.db and n in args.db_sizes:
            pg, pg_ids, load, adds = postgres_gallery(args.db, [f"p{i // 10}" for i in range(n)],
                                                      vectors)
            cases["postgres 1 query"] = lambda: pg.search(q1, k=1)
            cases["postgres 64 queries"] = lambda: pg.search(q64, k=1)
        times = measure(cases, args.repeats, warmup=3)
        medians = report(times, title=f"{n:,} faceprints ({'compact IVF-PQ4fs' if gallery.compact else 'exact float32'}); built in {build:.1f} s")
        exact_rows = np.argmax(queries @ vectors.T, axis=1)
        exact = ids[exact_rows]
        recall = recall_at_1(gallery, queries, exact)
        if pg is not None:
            pg_recall = recall_at_1(pg, queries, pg_ids[exact_rows])
            p1, p64 = (np.array(times[c]) * 1e3 for c in ("postgres 1 query",
                                                          "postgres 64 queries"))
            pg_rows.append((n, load, n / load, adds, np.median(p1), np.percentile(p1, 95),
                            np.median(p64) / 64, np.percentile(p64, 95) / 64, pg_recall,
                            medians["gallery 1 query"] * 1e3))
            print(f"  postgres: loaded in {load:.1f} s (COPY + IVFFlat build), {adds:.0f} single "
                  f"adds/s, recall@1 {pg_recall:.4f}")
            pg.close()
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
        print(f"  {n:>10,}  {'IVF-PQfs' if compact else 'exact':8s}  {t1:7.2f} ms  {r1:5.2f}x "
              f"{t64:9.3f} ms  {r64:5.2f}x  {recall:.4f}  {ready:4.1f} s {rss:5.0f} MB")
    if pg_rows:
        print("\n  PostgreSQL + pgvector (IVFFlat, lists 2 sqrt(n), probes lists/16, >= 128)")
        print("  faceprints  load      rows/s   adds/s  1 query p50/p95    64 batch p50/p95 per "
              "query  recall@1  local 1 query")
        for n, load, rate, adds, p50, p95, b50, b95, recall, local in pg_rows:
            print(f"  {n:>10,}  {load:6.1f} s {rate:8.0f} {adds:8.0f}  {p50:6.2f} / {p95:6.2f} ms"
                  f"  {b50:7.3f} / {b95:7.3f} ms      {recall:.4f}  {local:7.2f} ms")


if __name__ == "__main__":
    main()
