"""Gallery search against numpy float32 brute force, on real-like faces (default) or on
random vectors with near-copy queries (--data nearcopy).

Run by hand:  python benchmarks/bench_gallery.py --lfw ../shared/lfw_dev
              [--sizes 100000 1000000] [--out gallery_bench] [--cache lfw_embeddings.npz]
              python benchmarks/bench_gallery.py --data nearcopy [--sizes 1000 ... 1000000]
              [--db postgresql://.../scratch --reset-db [--db-sizes 100000 1000000]]
              (faiss is needed from 200,000 faceprints: pip install 'face_trigger[faiss]')

Real-like data (issue #14): lfw_dev is embedded (largest face of each photo); 500 people with
one photo are held out as real strangers, every other person is enrolled with their first
photo, and the other photos of the 52 people with several are real queries. The gallery is
padded to N with synthetic people from ``testing.FittedFaces`` fitted to lfw_dev (one
faceprint each), and gets 2,000 synthetic held-out queries (another draw of an enrolled
synthetic identity) and 1,000 synthetic strangers. A realism line compares real and
synthetic genuine and impostor similarity percentiles. Against exact search over the same
vectors: recall@1 (same top faceprint), rank-1 identification of the genuine queries (top
faceprint's person is the right one) for the gallery and for exact search, and the share of
default ``identify`` decisions (person or unknown) equal to ``identify(exact=True)``'s.

Near-copy data (the old benchmark): random unit vectors, 10 faceprints per person, 1,000
queries that are gallery vectors plus noise of 0.05 per dimension (cosine about 0.99).

Both: numpy brute force over the same float32 matrix (``argmax(X @ q)``), one query and
batches of 64, interleaved with the gallery's ``search(k=1)``, with --settle seconds of idle
before each timed call (the numpy batch allocates a 256 MB result at 1M and slowed whatever
ran right after it); then a fresh process opens the saved gallery: time until ready to
serve, peak resident memory (VmHWM).
With --backend postgres (a real PostgreSQL 16 + pgvector from the ``pgserver`` wheel, started
in a temporary folder as the tests do) or --db URL --reset-db (a scratch database: its schema
face_trigger is dropped), the same data also goes into a PostgreSQL gallery at the --db-sizes,
searched by each of --designs: "local" (the shipped default: every process keeps the compact
index, follows the change log and re-ranks with vectors read from PostgreSQL), "hnsw"
(pgvector's HNSW index in the server, m 16, ef_construction 64, each --ef-search) and
"ivfflat" (the earlier server index). Printed per design: load (COPY, plus the index build for
the server designs), latency, accuracy against exact search, and a fresh process's time to
be ready and its peak memory (local: with the index cached by the first process, which 200
faceprints were added to since: the first fresh process applies them and saves the index,
the second finds it current).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

import face_trigger as ft
from _timing import machine_line, measure, report
from face_trigger.testing import FittedFaces, similarity_percentiles

SERVE = """
import json, resource, sys, time
t = time.perf_counter()
import numpy as np, face_trigger as ft
g = ft.Gallery(sys.argv[1], "synthetic@0")
q = np.load(sys.argv[2])
g.search(q[:1], k=1)
ready = time.perf_counter() - t
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({"ready_s": ready, "rss_mb": int(hwm.split()[1]) / 1e3, "compact": g.compact}))
"""


SERVE_PG = """
import json, sys, time
t = time.perf_counter()
import numpy as np, face_trigger as ft
g = ft.Gallery(sys.argv[1], "synthetic@0", cache_dir=sys.argv[3])
q = np.load(sys.argv[2])
g.search(q[:1], k=1)
ready = time.perf_counter() - t
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({"ready_s": ready, "rss_mb": int(hwm.split()[1]) / 1e3, "compact": g.compact}))
"""


def start_pgserver():
    """A PostgreSQL 16 + pgvector server from the pgserver wheel, in a temporary folder
    (deleted at exit); returns (server, scratch database URL)."""
    import atexit  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    import pgserver  # noqa: PLC0415 - a benchmark dependency, as in the tests

    server = pgserver.get_server(tempfile.mkdtemp(prefix="bench-pg-"), cleanup_mode="delete")
    atexit.register(server.cleanup)
    import psycopg  # noqa: PLC0415
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS gallery_bench")
        conn.execute("CREATE DATABASE gallery_bench")
    return server, server.get_uri("gallery_bench")


def hnsw_search(gallery, ef_search: int):
    """A search function running pgvector's HNSW index for ``gallery`` (server mode), the
    same SQL as the server search with the index the planner now finds."""
    backend = gallery.backend

    def search(queries, k, exact=False):
        if exact:
            return backend._server_search(queries, k, True)
        with backend._session() as conn:
            conn.execute(f"SET hnsw.ef_search = {int(max(ef_search, k))}")
        # "large, and an index exists": no sequential scan (the planner takes HNSW)
        backend._small = (time.monotonic() + 1e9, False)
        backend._index = (time.monotonic() + 1e9, (1, 1))
        return backend._server_search(queries, k, False)
    return search


def reset_postgres(url: str) -> None:
    import psycopg  # noqa: PLC0415 - the [postgres] extra
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS face_trigger CASCADE")


def postgres_gallery(url: str, names, vectors, design: str, cache: Path) -> tuple:
    """Load the vectors into a fresh PostgreSQL gallery searched by ``design``; returns
    (gallery, ids, load s (COPY and, server designs, the index build; local: until the
    first search is served), single adds per s)."""
    reset_postgres(url)
    options = {"search": "local", "cache_dir": cache} if design == "local" else \
        {"search": "server", "exact_below": 1 if design == "ivfflat" else 10 ** 12}
    gallery = ft.Gallery(url, "synthetic@0", **options)
    start = time.perf_counter()
    ids = gallery.bulk_add(names, vectors)
    if design == "hnsw":
        with gallery.backend._session() as conn:
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")
            conn.execute("CREATE INDEX ON face_trigger.faceprints USING hnsw "
                         "(vector vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
    if design == "local":
        gallery.search(vectors[:1], k=1)  # loads the state, builds and caches the index
    load = time.perf_counter() - start
    extra = np.random.default_rng(1).standard_normal((200, 128), dtype=np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    start = time.perf_counter()
    for i, row in enumerate(extra):  # one transaction each
        gallery.add_faceprints(f"late{i}", [row])
    adds = len(extra) / (time.perf_counter() - start)
    return gallery, ids, load, adds


def nearcopy_data(n: int, rng: np.random.Generator):
    """Random unit vectors (10 per person) and 1,000 near-copy queries."""
    vectors = rng.standard_normal((n, 128), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    targets = rng.choice(n, min(1000, n), replace=False)
    queries = vectors[targets] + 0.05 * rng.standard_normal((len(targets), 128),
                                                            dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    names = [f"p{i // 10}" for i in range(n)]
    return vectors, names, queries, [names[t] for t in targets], ["near-copy"] * len(targets)


def lfw_embeddings(root: Path, cache: Path = None) -> Tuple[np.ndarray, List[str]]:
    if cache is not None and cache.is_file():
        data = np.load(cache)
        return data["embeddings"], data["labels"].tolist()
    result = ft.enrollment.enroll_folder(root, ft.FacePipeline(), progress=False,
                                         several_faces="largest")
    if cache is not None:
        np.savez(cache, embeddings=result.embeddings, labels=np.array(result.labels))
    return result.embeddings, list(result.labels)


def realistic_data(n: int, real: np.ndarray, labels: List[str], fitted: FittedFaces,
                   rng: np.random.Generator, synthetic_queries: int = 2000):
    """Gallery of N (real enrolled + synthetic), queries, their true names ("" for
    strangers) and kinds."""
    labels_arr = np.array(labels)
    people, counts = np.unique(labels_arr, return_counts=True)
    singles = people[counts == 1]
    strangers = set(rng.choice(singles, min(500, len(singles)), replace=False).tolist())
    vectors, names, queries, truth, kinds = [], [], [], [], []
    for person in people:
        rows = real[labels_arr == person]
        if person in strangers:
            queries.append(rows[0]), truth.append(""), kinds.append("real stranger")
            continue
        vectors.append(rows[0]), names.append(person)
        for row in rows[1:]:
            queries.append(row), truth.append(person), kinds.append("real genuine")
    synthetic = n - len(vectors)
    centres, scales = fitted.identities(synthetic, rng)
    padded = np.concatenate([np.stack(vectors), fitted.photos(centres, scales, rng)])
    names += [f"s{i}" for i in range(synthetic)]
    held = min(synthetic_queries, synthetic)
    others, other_scales = fitted.identities(synthetic_queries // 2, rng)
    queries = np.concatenate([np.stack(queries),
                              fitted.photos(centres[:held], scales[:held], rng),
                              fitted.photos(others, other_scales, rng)])
    truth += [f"s{i}" for i in range(held)] + [""] * len(others)
    kinds += ["synthetic genuine"] * held + ["synthetic stranger"] * len(others)
    return padded, names, queries.astype(np.float32), truth, kinds


def realism_line(real: np.ndarray, labels: List[str], fitted: FittedFaces) -> str:
    rng = np.random.default_rng(7)
    centres, scales = fitted.identities(1000, rng)
    pairs = np.concatenate([fitted.photos(centres, scales, rng),
                            fitted.photos(centres, scales, rng)])
    synthetic = similarity_percentiles(pairs, [f"s{i}" for i in range(1000)] * 2)
    measured = similarity_percentiles(real, labels)
    fmt = lambda values: " ".join(f"{v:.3f}" for v in values)  # noqa: E731
    return (f"realism: genuine similarity p1 p5 p50 p95 p99 real {fmt(measured[0])} | synthetic "
            f"{fmt(synthetic[0])}; impostor p50 p99 p99.9 p99.99 real {fmt(measured[1])} | "
            f"synthetic {fmt(synthetic[1])}")


def in_batches(fn, queries, size=500):
    out: list = []
    for start in range(0, len(queries), size):
        out += fn(queries[start:start + size])
    return out


def accuracy(gallery, vectors, ids, names, queries, truth, kinds, exact_decided=None
             ) -> Tuple[Dict[str, float], List[str]]:
    """recall@1 vs exact, rank-1 of gallery and exact, decisions equal to exact (from
    ``identify(exact=True)``, or ``exact_decided`` when given: the decisions depend on the
    data, not the store); also returns the exact decisions."""
    exact_rows = np.concatenate([np.argmax(queries[i:i + 500] @ vectors.T, axis=1)
                                 for i in range(0, len(queries), 500)])
    found = np.concatenate([gallery.search(queries[i:i + 500], k=1)[1][:, 0]
                            for i in range(0, len(queries), 500)])
    position = np.searchsorted(ids, found)
    genuine = np.array([t != "" for t in truth])
    truth_arr = np.array(truth)
    names_arr = np.array(names)
    decided = in_batches(lambda q: [m.name for m in gallery.identify(q)], queries)
    if exact_decided is None:
        exact_decided = in_batches(
            lambda q: [m.name for m in gallery.identify(q, exact=True)], queries)
    out = {"recall": float(np.mean(found == ids[exact_rows])),
           "rank1": float(np.mean(names_arr[position][genuine] == truth_arr[genuine])),
           "exact_rank1": float(np.mean(names_arr[exact_rows][genuine] == truth_arr[genuine])),
           "decisions": float(np.mean(np.array(decided) == np.array(exact_decided)))}
    kinds_arr = np.array(kinds)
    for kind in dict.fromkeys(kinds):
        mask = kinds_arr == kind
        out[f"recall {kind}"] = float(np.mean(found[mask] == ids[exact_rows][mask]))
    return out, exact_decided


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("realistic", "nearcopy"), default="realistic")
    parser.add_argument("--lfw", type=Path, help="lfw_dev folder (realistic data)")
    parser.add_argument("--cache", type=Path, help="reuse/write lfw_dev's embeddings (.npz)")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--out", type=Path, default=Path("gallery_bench"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds of idle before each timed call (0: back to back)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: also a PostgreSQL gallery, on a pgserver started here")
    parser.add_argument("--designs", nargs="+", default=["local", "hnsw"],
                        choices=("local", "hnsw", "ivfflat"))
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200, 400])
    parser.add_argument("--db", help="also a PostgreSQL gallery at this URL (scratch database)")
    parser.add_argument("--db-sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reset-db", action="store_true",
                        help="drop the schema face_trigger of --db first (required with --db)")
    args = parser.parse_args()
    if args.backend == "postgres" and not args.db:
        _server, args.db = start_pgserver()
        args.reset_db = True
    if args.db and not args.reset_db:
        parser.error("--db drops the gallery schema of that database: add --reset-db")
    if args.data == "realistic" and args.lfw is None:
        parser.error("realistic data needs --lfw ../shared/lfw_dev (or --data nearcopy)")
    sizes = args.sizes or ([100_000, 1_000_000] if args.data == "realistic"
                           else [1000, 10_000, 100_000, 1_000_000])
    pg_rows = []
    print(machine_line())
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if args.data == "realistic":
        real, labels = lfw_embeddings(args.lfw, args.cache)
        fitted = FittedFaces.fit(real, labels)
        print(f"lfw_dev: {len(labels)} photos of {len(set(labels))} people")
        print(realism_line(real, labels, fitted))
    rows = []
    for n in sizes:
        if args.data == "realistic":
            vectors, names, queries, truth, kinds = realistic_data(n, real, labels, fitted, rng)
        else:
            vectors, names, queries, truth, kinds = nearcopy_data(n, rng)
        path = args.out / f"g{n}.db"
        for stale in (path, Path(f"{path}.faiss"), Path(f"{path}.faiss.ids.npy"),
                      Path(f"{path}-wal")):
            stale.unlink(missing_ok=True)
        start = time.perf_counter()
        gallery = ft.Gallery(path, "synthetic@0")
        ids = gallery.bulk_add(names, vectors)
        gallery.close()
        build = time.perf_counter() - start
        q1, q64 = queries[:1], queries[:64]
        cases = {
            "baseline 1 query": lambda: np.argmax(vectors @ q1[0]),
            "gallery 1 query": lambda: gallery.search(q1, k=1),
            "baseline 64 queries": lambda: np.argmax(q64 @ vectors.T, axis=1),
            "gallery 64 queries": lambda: gallery.search(q64, k=1),
        }
        times = measure(cases, args.repeats, warmup=3, settle_s=args.settle)
        method = "compact PQ64x4fs+SQ6" if gallery.compact else "exact float32"
        medians = report(times, title=f"{n:,} faceprints ({method}); built in {build:.1f} s")
        acc, exact_decided = accuracy(gallery, vectors, ids, names, queries, truth, kinds)
        np.save(args.out / "q.npy", queries)
        if args.db and n in args.db_sizes:
            for design in args.designs:
                pg_rows += bench_postgres(args, design, n, names, vectors, queries, truth,
                                          kinds, exact_decided, medians)
        served = json.loads(subprocess.run([sys.executable, "-c", SERVE, str(path),
                                            str(args.out / "q.npy")], capture_output=True,
                                           text=True, check=True).stdout.strip().splitlines()[-1])
        rows.append((n, method, medians["gallery 1 query"] / medians["baseline 1 query"],
                     medians["gallery 64 queries"] / medians["baseline 64 queries"],
                     medians["gallery 1 query"] * 1e3, medians["gallery 64 queries"] / 64 * 1e3,
                     acc, served["ready_s"], served["rss_mb"]))
        print(f"  {len(queries)} queries: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()))
        print(f"  a fresh process was ready in {served['ready_s']:.1f} s, peak RSS "
              f"{served['rss_mb']:.0f} MB")
        gallery = vectors = None  # frees the vectors (512 MB at 1M) before the next size
    print(f"\n{args.data} data:")
    print("| faceprints | method | 1 query | vs numpy | batch of 64, per query | vs numpy | "
          "recall@1 | rank-1 (exact) | decisions = exact | ready | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, method, r1, r64, t1, t64, acc, ready, rss in rows:
        print(f"| {n:,} | {method} | {t1:.2f} ms | {r1:.2f}x | {t64:.3f} ms | {r64:.2f}x | "
              f"{acc['recall']:.4f} | {acc['rank1']:.3f} ({acc['exact_rank1']:.3f}) | "
              f"{acc['decisions']:.4f} | {ready:.1f} s | {rss:.0f} MB |")
    if pg_rows:
        print("\nPostgreSQL + pgvector (SQLite: the compact index of the same run)")
        print("| faceprints | design | load | adds/s | 1 query p50 / p95 | vs SQLite | batch of 64 "
              "p50 / p95 per query | vs SQLite | recall@1 | rank-1 (exact) | decisions = exact "
              "| fresh process ready | its peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for row in pg_rows:
            print(row)


def bench_postgres(args, design, n, names, vectors, queries, truth, kinds, exact_decided,
                   sqlite_medians) -> List[str]:
    """One design of the PostgreSQL gallery at size n: table rows (one per ef_search for
    HNSW)."""
    cache = args.out / "pg-cache"
    pg, pg_ids, load, adds = postgres_gallery(args.db, names, vectors, design, cache)
    q1, q64 = queries[:1], queries[:64]
    variants = [(f"ef_search {ef}", hnsw_search(pg, ef)) for ef in args.ef_search] \
        if design == "hnsw" else [("", None)]
    out = []
    for label, search in variants:
        if search is not None:
            pg.backend.search = search
        times = measure({"postgres 1 query": lambda: pg.search(q1, k=1),
                         "postgres 64 queries": lambda: pg.search(q64, k=1)},
                        args.repeats, warmup=3, settle_s=args.settle)
        pg_acc, _ = accuracy(pg, vectors, pg_ids, names, queries, truth, kinds, exact_decided)
        p1, p64 = (np.array(times[c]) * 1e3 for c in ("postgres 1 query", "postgres 64 queries"))
        ready, rss = "-", "-"
        if design == "local":  # twice: the first applies the 200 late adds to the cached
            served = [json.loads(subprocess.run(  # index and saves it; the second finds it current
                [sys.executable, "-c", SERVE_PG, args.db, str(args.out / "q.npy"), str(cache)],
                capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
                for _ in range(2)]
            ready = " / ".join(f"{x['ready_s']:.1f} s" for x in served)
            rss = " / ".join(f"{x['rss_mb']:.0f} MB" for x in served)
        s1, s64 = sqlite_medians["gallery 1 query"] * 1e3, sqlite_medians["gallery 64 queries"] \
            * 1e3 / 64
        name = f"{design} {label}".strip()
        print(f"  postgres {name}: loaded in {load:.1f} s, {adds:.0f} single adds/s, "
              f"{json.dumps({k: round(v, 4) for k, v in pg_acc.items()})}")
        out.append(f"| {n:,} | {name} | {load:.1f} s | {adds:.0f} | {np.median(p1):.2f} / "
                   f"{np.percentile(p1, 95):.2f} ms | {np.median(p1) / s1:.1f}x | "
                   f"{np.median(p64) / 64:.3f} / {np.percentile(p64, 95) / 64:.3f} ms | "
                   f"{np.median(p64) / 64 / s64:.1f}x | {pg_acc['recall']:.4f} | "
                   f"{pg_acc['rank1']:.3f} ({pg_acc['exact_rank1']:.3f}) | "
                   f"{pg_acc['decisions']:.4f} | {ready} | {rss} |")
        print("  " + out[-1], flush=True)
    pg.close()
    return out


if __name__ == "__main__":
    main()
