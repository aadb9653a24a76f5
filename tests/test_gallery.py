"""Gallery: store, quality report, exact and compact (faiss) search, with real faceprints.

Tests that take ``gallery`` or ``gallery_location`` run twice: on an SQLite file and on a
real PostgreSQL + pgvector database (tests/conftest.py); test_gallery_postgres.py has the
PostgreSQL-only ones (many processes, outages, migrations)."""
from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import face_trigger as ft
from face_trigger import GalleryError
from face_trigger.testing import paste_faces
from synthetic_vectors import planted
from conftest import require, shared_between_processes
from face_trigger.errors import GalleryNotFoundError, PersonExistsError, PersonNotFoundError

PACKAGE_PARENT = str(Path(ft.__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def prints(pipeline, images):
    def fp(image):
        return pipeline.largest_faceprint(image)

    biden = images["biden"]
    return {
        "obama": [fp(images[n]) for n in ("obama", "obama3", "obama_partial_face2")],
        "biden": [fp(biden), fp(cv2.flip(biden, 1)),
                  fp(cv2.resize(biden, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))],
        "obama_new": fp(images["obama2"]),
        "biden_new": fp(cv2.convertScaleAbs(biden, alpha=0.7, beta=10)),
        "astronaut": fp(images["astronaut"]),
    }


@pytest.fixture()
def gallery(gallery_location, prints, pipeline):
    g = ft.Gallery(gallery_location, pipeline.model.id)
    g.add_faceprints("obama", prints["obama"])
    g.add_faceprints("biden", prints["biden"])
    return g


def test_identify_per_person(gallery, prints):
    matches = gallery.identify([prints["obama_new"], prints["biden_new"], prints["astronaut"]])
    assert [m.name for m in matches] == ["obama", "biden", "unknown"]
    assert matches[0].known and matches[0].similarity >= ft.IDENTIFY_COSINE
    assert matches[0].faceprint_id is not None and matches[2].faceprint_id is None
    mean = gallery.identify(prints["obama_new"], per_person="mean2")[0]
    assert mean.name == "obama" and mean.similarity <= matches[0].similarity


def test_search_top_k(gallery, prints):
    scores, ids, names = gallery.search(np.stack([prints["obama_new"].vector]), k=4)
    assert scores.shape == ids.shape == (1, 4) and scores.dtype == np.float32
    assert np.all(np.diff(scores[0]) <= 0)
    assert names[0][:3] == ["obama"] * 3 and names[0][3] == "biden"
    empty = ft.Gallery(":memory:", gallery.model)
    scores, ids, names = empty.search(prints["obama_new"], k=2)
    assert np.all(ids == -1) and np.all(np.isneginf(scores))


def test_runner_up_is_found_behind_many_photos_of_one_person(gallery_location):
    rng = np.random.default_rng(7)
    base = rng.standard_normal(128).astype(np.float32)
    base /= np.linalg.norm(base)
    rows = np.vstack([base + 0.03 * rng.standard_normal((100, 128)).astype(np.float32),
                      base + 0.06 * rng.standard_normal((1, 128)).astype(np.float32)])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    gallery = ft.Gallery(gallery_location, "synthetic@0")
    gallery.bulk_add(["alice"] * 100 + ["bob"], rows)
    match = gallery.identify(base)[0]
    assert (rows[:100] @ base).min() > rows[100] @ base  # bob is behind all of alice
    best = float((rows @ base).max())
    assert match.name == "alice" and match.similarity == pytest.approx(best)
    runner_up = match.similarity - match.margin
    assert runner_up == pytest.approx(float(rows[100] @ base), abs=1e-5)
    other, score = gallery.best_other(base, "alice")  # the enrolment lookalike check
    assert other == "bob" and score == pytest.approx(runner_up, abs=1e-5)


def test_people_rename_remove(gallery, prints):
    assert [(p["name"], p["faceprints"]) for p in gallery.people()] == [("biden", 3), ("obama", 3)]
    gallery.rename_person("obama", "Barack Obama")
    assert gallery.identify(prints["obama_new"])[0].name == "Barack Obama"
    first = gallery.records("biden")[0].id
    gallery.remove_faceprint(first)
    assert len(gallery) == 5
    assert gallery.remove_person("biden") == 2
    assert gallery.identify(prints["biden_new"])[0].name == "unknown"
    with pytest.raises(GalleryError, match="not enrolled"):
        gallery.remove_person("biden")
    with pytest.raises(GalleryError, match="already enrolled"):
        gallery.add_person("Barack Obama")
    with pytest.raises(GalleryError, match="non-empty"):
        gallery.add_person(" ")


def test_typed_errors_for_people_and_missing_galleries(gallery, gallery_location, pipeline):
    assert ft.gallery.gallery_exists(gallery_location)
    with pytest.raises(PersonNotFoundError, match="'nobody' is not enrolled"):
        gallery.rename_person("nobody", "x")
    with pytest.raises(PersonExistsError, match="already enrolled"):
        gallery.rename_person("obama", "biden")
    with pytest.raises(PersonNotFoundError):
        gallery.remove_person("nobody")
    assert issubclass(PersonNotFoundError, GalleryError) and PersonNotFoundError.exit_code == 1
    if gallery_location.startswith("postgresql://"):
        return  # a database without a gallery: test_gallery_postgres.py
    missing = gallery_location + ".missing.db"
    assert not ft.gallery.gallery_exists(missing)
    with pytest.raises(GalleryNotFoundError, match="no gallery"):
        ft.Gallery(missing, pipeline.model.id, create=False)
    assert not ft.gallery.gallery_exists(missing)  # nothing was created


def test_persists_across_processes(gallery, gallery_location, prints, tmp_path):
    shared_between_processes(gallery_location)
    np.save(tmp_path / "q.npy", prints["obama_new"].vector)
    script = ("import numpy as np, face_trigger as ft\n"
              f"g = ft.Gallery({gallery_location!r}, {gallery.model!r})\n"
              f"print(len(g), g.identify(np.load({str(tmp_path / 'q.npy')!r}))[0].name)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=PACKAGE_PARENT), timeout=120, check=True)
    assert out.stdout.split() == ["6", "obama"]


def test_wrong_model_and_foreign_faceprints_refused(gallery, gallery_location, prints):
    with pytest.raises(GalleryError, match="cannot be compared"):
        ft.Gallery(gallery_location, "other_model@123456789abc")
    other = ft.Faceprint(prints["obama_new"].vector, "other_model@123456789abc")
    with pytest.raises(GalleryError, match="cannot go into"):
        gallery.add_faceprints("obama", [other])
    with pytest.raises(ft.EmbeddingError, match="unit length"):
        gallery.add_faceprints("obama", [np.ones(128, np.float32)])
    with pytest.raises(GalleryError, match="must be a dict"):
        gallery.add_person("someone", metadata=["not", "a", "dict"])


def test_unusable_locations_refused(tmp_path, pipeline):
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(GalleryError, match="not a usable gallery"):
        ft.Gallery(tmp_path / "junk.db", pipeline.model.id)
    with pytest.raises(GalleryError, match="unknown gallery location"):
        ft.Gallery("mysql://host/db", pipeline.model.id)
    same = ft.Gallery(f"sqlite:///{tmp_path / 'url.db'}", pipeline.model.id)
    assert same.location == same.path == str(tmp_path / "url.db")
    assert (tmp_path / "url.db").is_file()
    # up to date
    assert ft.gallery.upgrade_gallery(tmp_path / "url.db", pipeline.model.id) == (1, 1)
    with pytest.raises(GalleryError, match="no gallery at"):
        ft.gallery.upgrade_gallery(tmp_path / "missing.db", pipeline.model.id)


def test_export_import_round_trip(gallery, tmp_path, prints):
    gallery.add_person("carol", {"badge": 17})
    gallery.export_json(tmp_path / "g.json")
    copy = ft.Gallery(tmp_path / "copy.db", gallery.model)
    assert copy.import_json(tmp_path / "g.json") == 6  # into SQLite, whatever the source
    assert copy.identify(prints["biden_new"])[0].name == "biden"
    assert copy.people() == gallery.people()
    assert {"name": "carol", "metadata": {"badge": 17}, "faceprints": 0} in copy.people()
    assert np.allclose(copy.vectors_of("obama"), gallery.vectors_of("obama"), atol=1e-6)
    foreign = ft.Gallery(tmp_path / "f.db", "other@0")
    with pytest.raises(GalleryError, match="holds faceprints of"):
        foreign.import_json(tmp_path / "g.json")


def test_concurrent_search_during_an_add(gallery, prints):
    query = np.stack([prints["obama_new"].vector, prints["biden_new"].vector])
    expected = [m.name for m in gallery.identify(query)]
    errors, results = [], []
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(200, 128)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)

    def reader():
        try:
            for _ in range(50):
                results.append([m.name for m in gallery.identify(query)])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(0, 200, 20):
        gallery.add_faceprints(f"noise{i}", list(noise[i:i + 20]))
    for t in threads:
        t.join()
    assert not errors and len(results) == 200
    assert all(r == expected for r in results)
    assert len(gallery) == 206


KILL_SCRIPT = """
import sys, numpy as np, face_trigger as ft
g = ft.Gallery(sys.argv[1], sys.argv[2])
rng = np.random.default_rng(1)
v = rng.normal(size=(20000, 128)).astype(np.float32)
v /= np.linalg.norm(v, axis=1, keepdims=True)
print("adding", flush=True)
for i in range(100):
    g.add_faceprints(f"batch{i}", list(v))
"""


@pytest.mark.slow
def test_kill_mid_batch_leaves_the_store_consistent(gallery, gallery_location):
    shared_between_processes(gallery_location)
    child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, gallery_location,
                              gallery.model], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=PACKAGE_PARENT))
    assert child.stdout.readline().strip() == "adding"
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    if not gallery_location.startswith("postgresql://"):
        db = sqlite3.connect(gallery_location)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    reopened = ft.Gallery(gallery_location, gallery.model)
    batches = {p["name"]: p["faceprints"] for p in reopened.people()
               if p["name"].startswith("batch")}
    assert all(c == 20000 for c in batches.values())  # whole batches only, never half of one
    assert len(reopened) == 6 + 20000 * len(batches)
    assert reopened.identify(gallery.vectors_of("obama")[:1])[0].name == "obama"


def test_quality_report_of_a_folder(tmp_path, gallery_location, images, reference, pipeline):
    from face_trigger.gallery import enroll_folder, enroll_photo

    root = tmp_path / "people"
    (root / "obama").mkdir(parents=True)
    (root / "biden").mkdir()
    ft.write_image(root / "obama" / "a_obama.jpg", images["obama"])
    ft.write_image(root / "obama" / "b_obama3.jpg", images["obama3"])
    group = paste_faces((1200, 600), [
        (ft.image_io.crop_around(images["obama"], reference["obama"].box), 0, 0, 0.8),
        (ft.image_io.crop_around(images["biden"], reference["biden"].box), 600, 0, 0.8)])
    ft.write_image(root / "obama" / "c_group.jpg", group)
    obama = ft.image_io.crop_around(images["obama"], reference["obama"].box)
    tiny = paste_faces((800, 800), [(obama, 300, 300, 60 / reference["obama"].width)])
    ft.write_image(root / "obama" / "d_tiny.jpg", tiny)
    ft.write_image(root / "obama" / "e_blurred.jpg",
                   cv2.GaussianBlur(images["obama3"], (0, 0), 8))
    ft.write_image(root / "biden" / "a_biden.jpg", images["biden"])
    ft.write_image(root / "biden" / "b_filed_wrong.jpg", images["obama2"])
    gallery = ft.Gallery(gallery_location, pipeline.model.id)
    result = enroll_folder(gallery, root, pipeline, progress=False)
    by_file = {Path(r.path).name: r for r in result.reports}
    # biden/ is enrolled first, with the misfiled obama photo, so the real obama photos
    # look like "biden": flagged as lookalikes (enrolled with a warning at normal strictness)
    assert by_file["a_obama.jpg"].enrolled and by_file["a_obama.jpg"].flags == ("lookalike",)
    assert "to biden" in by_file["a_obama.jpg"].detail
    assert by_file["b_obama3.jpg"].enrolled
    assert "several_faces" in by_file["c_group.jpg"].flags and not by_file["c_group.jpg"].enrolled
    assert "too_small" in by_file["d_tiny.jpg"].flags and not by_file["d_tiny.jpg"].enrolled
    assert "blurred" in by_file["e_blurred.jpg"].flags and not by_file["e_blurred.jpg"].enrolled
    assert "outlier" in by_file["b_filed_wrong.jpg"].flags  # normal strictness: warned, enrolled
    assert by_file["b_filed_wrong.jpg"].enrolled
    # once obama is enrolled, another obama photo filed under biden is also a lookalike
    strict = enroll_photo(gallery, "biden", tmp_path / "people" / "obama" / "a_obama.jpg",
                          pipeline, strictness="strict")
    assert "lookalike" in strict.flags and not strict.enrolled
    assert "refused" in result.summary() and "several_faces" in result.summary()
    first = gallery.records("obama")[0]
    assert isinstance(first, ft.gallery.FaceprintRecord) and first.quality["width"] > 80
    assert first.source_sha256 == hashlib.sha256(
        (root / "obama" / "a_obama.jpg").read_bytes()).hexdigest()


def test_compact_search_recall_against_exact(tmp_path):
    require("faiss", "faiss")
    vectors, queries = planted(20_000, 1000)
    names = [f"p{i // 4}" for i in range(len(vectors))]  # 5,000 people, 4 faceprints each
    gallery = ft.Gallery(tmp_path / "big.db", "synthetic@0", compact_from=5_000)
    ids = gallery.bulk_add(names, vectors)
    assert gallery.compact and len(gallery) == 20_000
    exact = ids[np.argmax(queries @ vectors.T, axis=1)]
    scores, found, found_names = gallery.search(queries, k=3)
    assert np.mean(found[:, 0] == exact) >= 0.999
    assert np.allclose(scores[:, 0], np.max(queries @ vectors.T, axis=1), atol=1e-5)  # re-ranked
    match = gallery.identify(queries[:5], unknown_threshold=0.5)
    assert [m.name for m in match] == [found_names[i][0] for i in range(5)]
    # incremental add and remove in compact mode
    gallery.remove_person(found_names[0][0])
    assert gallery.search(queries[:1], k=1)[1][0, 0] != found[0, 0]
    new_id = gallery.add_faceprints("newcomer", [queries[1]])[0]
    assert gallery.search(queries[1:2], k=1)[1][0, 0] == new_id
    gallery.close()
    assert (tmp_path / "big.db.faiss").is_file()


@pytest.mark.slow
def test_compact_search_keeps_recall_on_real_faces(tmp_path, lfw_embeddings):
    """Real queries are other photos of a person (cosine 0.45-0.85 to the enrolled one),
    not near-copies: lfw_dev's real faces, padded with people drawn from a Gaussian fitted
    to them (benchmarks/bench_gallery.py does this at 1M)."""
    require("faiss", "faiss")
    from face_trigger.testing import FittedFaces

    real, labels = lfw_embeddings
    labels_arr = np.array(labels)
    rng = np.random.default_rng(3)
    first = {}
    held_out, truth = [], []
    for i, name in enumerate(labels):
        if name in first:
            held_out.append(real[i]), truth.append(name)
        else:
            first[name] = real[i]
    fitted = FittedFaces.fit(real, labels_arr)
    centres, scales = fitted.identities(40_000 - len(first), rng)
    vectors = np.concatenate([np.stack(list(first.values())), fitted.photos(centres, scales, rng)])
    names = list(first) + [f"s{i}" for i in range(len(centres))]
    queries = np.concatenate([np.stack(held_out), fitted.photos(centres[:1000], scales[:1000],
                                                                rng)])
    truth += [f"s{i}" for i in range(1000)]
    gallery = ft.Gallery(tmp_path / "real.db", "synthetic@0", compact_from=5_000)
    ids = gallery.bulk_add(names, vectors)
    assert gallery.compact
    exact_sims = queries @ vectors.T
    exact = ids[np.argmax(exact_sims, axis=1)]
    scores, found, found_names = gallery.search(queries, k=1)
    assert len(held_out) >= 80 and np.median(exact_sims.max(axis=1)) < 0.8  # not near-copies
    assert np.mean(found[:, 0] == exact) >= 0.999
    above_gate = exact_sims.max(axis=1) >= ft.IDENTIFY_COSINE
    assert np.all(found[above_gate, 0] == exact[above_gate])  # no match above the gate lost
    decided = [m.name for m in gallery.identify(queries)]
    assert decided == [m.name for m in gallery.identify(queries, exact=True)]
    real_rank1 = np.mean([n[0] == t for n, t in zip(found_names[:len(held_out)], truth)])
    assert real_rank1 >= 0.95


@pytest.mark.slow
def test_compact_index_hides_removed_faceprints_then_rebuilds(tmp_path):
    require("faiss", "faiss")
    from face_trigger.gallery.index import MAX_HIDDEN

    vectors, queries = planted(6_000, 50, seed=4)
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0", compact_from=5_000)
    ids = gallery.bulk_add([f"p{i}" for i in range(6_000)], vectors)
    best = np.argmax(queries @ vectors.T, axis=1)
    for i in best[:10]:
        gallery.remove_person(f"p{i}")
    index = gallery.backend._snapshot.index
    assert index.hidden == 10 and len(index) == 5_990
    found = gallery.search(queries[:10], k=3)[1]
    assert not np.isin(found, ids[best[:10]]).any() and (found >= 0).all()
    for i in range(MAX_HIDDEN + 1):  # past the limit the index is rebuilt without them
        if i not in best[:10]:
            gallery.backend.remove_faceprint(int(ids[i]))
    rebuilt = gallery.backend._snapshot.index
    assert rebuilt is not index and rebuilt.hidden < 20 and len(rebuilt) == len(gallery)
    rest = np.setdiff1d(np.arange(6_000), np.concatenate([best[:10], np.arange(MAX_HIDDEN + 1)]))
    exact = ids[rest][np.argmax(queries[10:] @ vectors[rest].T, axis=1)]
    assert np.array_equal(gallery.search(queries[10:], k=1)[1][:, 0], exact)


def test_compact_index_is_persisted_and_reused(tmp_path):
    require("faiss", "faiss")
    vectors, queries = planted(6_000, 20, seed=1)
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0", compact_from=5_000)
    gallery.bulk_add([f"p{i}" for i in range(6_000)], vectors)
    gallery.close()
    stamp = (tmp_path / "g.db.faiss").stat().st_mtime_ns
    reopened = ft.Gallery(tmp_path / "g.db", "synthetic@0", compact_from=5_000)
    assert reopened.compact and (tmp_path / "g.db.faiss").stat().st_mtime_ns == stamp  # loaded
    before = reopened.search(queries, k=1)[1]
    reopened.add_faceprints("late", [queries[0]])  # not saved: the next start rebuilds
    reopened.backend._local.db.close()  # closed without close(): the index is not saved
    reopened.backend._local.db = None
    again = ft.Gallery(tmp_path / "g.db", "synthetic@0", compact_from=5_000)
    assert len(again) == 6_001 and again.search(queries[:1], k=1)[2][0][0] == "late"
    assert np.array_equal(again.search(queries[1:], k=1)[1], before[1:])


def test_without_faiss_a_large_gallery_stays_exact_and_says_so(tmp_path, monkeypatch, caplog):
    import face_trigger.gallery.local as local_module

    vectors, queries = planted(3_000, 5, seed=2)
    monkeypatch.setattr(local_module, "faiss_available", lambda: False)
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0", compact_from=1_000)
    gallery.bulk_add([f"p{i}" for i in range(3_000)], vectors)
    assert not gallery.compact
    with caplog.at_level("WARNING", logger="face_trigger.gallery"):
        reopened = ft.Gallery(tmp_path / "g.db", "synthetic@0", compact_from=1_000)
    assert not reopened.compact and "without faiss" in caplog.text
    exact = np.argmax(queries @ vectors.T, axis=1) + 1  # ids start at 1
    assert np.array_equal(reopened.search(queries, k=1)[1][:, 0], exact)


def test_a_flat_folder_of_name_photos_enrols_in_both_1_to_n_paths(tmp_path, data_dir, pipeline):
    """KNOWN/<name>.jpg (face_recognition's layout) and KNOWN/<name>/*.jpg mixed."""
    import shutil

    root = tmp_path / "known"
    (root / "biden").mkdir(parents=True)
    shutil.copy(data_dir / "obama.jpg", root / "obama.jpg")
    shutil.copy(data_dir / "obama3.jpg", root / "obama.png")  # not a copy: another photo
    shutil.copy(data_dir / "biden.jpg", root / "biden" / "a.jpg")
    recognizer = ft.FaceRecognizer(classifier="knn")
    result = recognizer.fit_folder(root, progress=False)
    assert sorted(result.labels) == ["biden", "obama", "obama"]
    gallery = ft.Gallery(tmp_path / "g.db", pipeline.model)
    enrolled = ft.gallery.enroll_folder(gallery, root, pipeline, progress=False)
    assert sum(r.enrolled for r in enrolled.reports) == 3
    assert {p["name"]: p["faceprints"] for p in gallery.people()} == {"biden": 1, "obama": 2}
    query = pipeline.largest_faceprint(ft.read_image(data_dir / "obama2.jpg"))
    assert gallery.identify(query)[0].name == recognizer.identify(query.vector)[0].name == "obama"
