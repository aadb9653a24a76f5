"""The public API: what the top level exports, what the README says it exports, and the
deprecated names that 0.3 removed."""
from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import face_trigger as ft

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_api_names() -> set:
    """Every backquoted name in the first column of the README's "Public API" table."""
    text = README.read_text()
    section = text[text.index("## Public API"):]
    section = section[:section.index("\n## ", 1)]
    names = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| name") and "---" not in line:
            names |= set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", line.split(" | ")[0]))
    return names


def test_the_readme_table_lists_exactly_the_exported_names():
    assert readme_api_names() == set(ft.__all__)


def test_every_exported_name_resolves_and_the_top_level_stays_small():
    for name in ft.__all__:
        assert getattr(ft, name) is not None, name
    assert len(ft.__all__) <= 40
    assert {"door", "gallery", "detector", "align"} <= set(dir(ft))


def test_import_loads_neither_scikit_learn_nor_the_door():
    code = ("import sys, face_trigger; "
            "print(any(m.split('.')[0] == 'sklearn' for m in sys.modules), "
            "'face_trigger.door' in sys.modules, 'face_trigger.gallery' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "False"]


@pytest.mark.parametrize("old", ["YuNetDetector", "align_faces", "AuditLog",
                                 "enroll_gallery_folder", "LabelMap", "compare"])
def test_names_that_left_the_top_level_in_0_2_are_gone_in_0_3(old):
    """0.3 dropped the deprecated aliases: one API, each name in its module."""
    with pytest.raises(AttributeError, match=old):
        getattr(ft, old)


def test_both_1_to_n_paths_answer_with_one_identity_type(reference, tmp_path):
    enrolled = np.stack([reference[n].embedding for n in ("obama", "obama3", "biden")])
    names = ["obama", "obama", "biden"]
    recognizer = ft.FaceRecognizer(classifier="knn").fit(enrolled, names)
    gallery = ft.Gallery(tmp_path / "g.db", ft.FacePipeline().model)
    for vector, name in zip(enrolled, names):
        gallery.add_faceprints(name, [vector])
    queries = np.stack([reference[n].embedding for n in ("obama2", "astronaut")])
    for identifier in (recognizer, gallery):
        assert isinstance(identifier, ft.Identifier)
        answers = identifier.identify(queries)
        assert all(type(a) is ft.Identity for a in answers)
        assert [(a.name, a.known) for a in answers] == [("obama", True), ("unknown", False)]
    by_recognizer, by_gallery = recognizer.identify(queries)[0], gallery.identify(queries)[0]
    assert by_recognizer.similarity == pytest.approx(by_gallery.similarity, abs=1e-5)
    assert by_recognizer.margin == pytest.approx(by_gallery.margin, abs=1e-5)
    assert by_recognizer.probability is not None and by_gallery.faceprint_id is not None


def test_old_keyword_names_are_gone_and_model_info_is_accepted(reference, tmp_path):
    gallery = ft.Gallery(tmp_path / "g.db", "synthetic@0")
    gallery.add_faceprints("obama", [reference["obama"].embedding])
    with pytest.raises(TypeError, match="threshold"):
        gallery.identify(reference["obama2"].embedding, threshold=0.99)
    assert not hasattr(ft.gallery, "GalleryRecognizer") and not hasattr(gallery, "faceprints")
    recognizer = ft.FaceRecognizer().fit(reference["obama"].embedding[None], ["obama"])
    with pytest.raises(TypeError, match="threshold"):
        recognizer.identify(reference["obama2"].embedding, threshold=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ft.Gallery(tmp_path / "h.db", ft.FacePipeline().model)  # a ModelInfo is accepted


def test_every_public_module_is_reached_from_the_package():
    """``ft.<module>`` works for every public module and subpackage, imported or not."""
    package = Path(ft.__file__).parent
    names = {p.stem for p in package.glob("*.py")}
    names |= {p.parent.name for p in package.glob("*/__init__.py")}
    public = sorted(n for n in names if not n.startswith("_") and n not in ("testing", "cli"))
    code = ("import face_trigger as ft, sys; missing = [n for n in sys.argv[1:] "
            "if not hasattr(ft, n)]; print(missing)")
    out = subprocess.run([sys.executable, "-c", code, *public], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"
