"""The dependency rules of ARCHITECTURE.md, stated with ``ast``:

* the core is layered: L0 errors/types/... -> L1 reading, alignment, quality -> L2 the nets
  -> L3 the pipeline -> L4 what is built on it (1:1 faceprints, verification, calibration,
  identity, the seed's recognizer);
* ``gallery/`` and ``compat/`` build on the core only; ``door/`` on the core and
  ``gallery/``; the CLI on everything; neither the core nor ``gallery/`` imports ``door/``;
* ``testing.py`` is imported by tests, benchmarks and examples only;
* the CLI uses public names only (no ``_private`` module).
"""
from __future__ import annotations

import ast
from pathlib import Path

import face_trigger

PACKAGE = Path(face_trigger.__file__).parent

CORE = {
    0: {"errors", "types", "thresholds", "_validate", "_fileio", "_version", "runtime", "boxes",
        "_secrets"},
    1: {"model_files", "image_io", "align", "draw", "label_map", "signed_file", "quality",
        "engines"},
    2: {"detector", "embedder", "liveness"},
    3: {"pipeline", "faceprint", "identity", "enrollment"},
    4: {"verification", "calibration", "recognizer"},
}
#: Higher levels: each may import from any level below it, never above.
LEVEL = {**{name: layer for layer, names in CORE.items() for name in names},
         "gallery": 5, "compat": 5, "door": 6, "cli": 7, "__main__": 7, "__init__": 7, "testing": 8}


def module_of(path: Path) -> str:
    """``detector``, ``gallery``, ``door``...: a subpackage counts as one unit."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


def imported(path: Path):
    """The package units ``path`` imports (relative or absolute)."""
    own = path.relative_to(PACKAGE).parts[:-1]  # () in the core, ("door",) in door/
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(own[:len(own) - (node.level - 1)]) if node.level > 1 else list(own)
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    yield parts[0]
                else:  # "from . import x" in the core
                    yield from (alias.name for alias in node.names)
            elif node.module and node.module.startswith("face_trigger."):
                yield node.module.split(".")[1]
            elif node.module == "face_trigger":
                yield "__init__"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("face_trigger."):
                    yield alias.name.split(".")[1]


def sources():
    return [p for p in PACKAGE.rglob("*.py") if "samples" not in p.parts]


def test_every_module_has_a_level():
    units = {module_of(p) for p in sources()}
    assert units == set(LEVEL), f"assign a level to: {units ^ set(LEVEL)}"


def test_imports_go_downwards_only():
    problems = []
    for path in sources():
        unit = module_of(path)
        for other in imported(path):
            if other not in LEVEL or other == unit:
                continue
            if unit != "__init__" and LEVEL[other] > LEVEL[unit]:
                problems.append(f"{path.relative_to(PACKAGE)} (L{LEVEL[unit]}) imports "
                                f"{other} (L{LEVEL[other]})")
    assert not problems, sorted(set(problems))


def test_neither_the_core_nor_the_gallery_imports_the_door():
    for path in sources():
        if module_of(path) in ("door", "cli", "__init__", "testing", "__main__"):
            continue
        assert "door" not in set(imported(path)), f"{path.relative_to(PACKAGE)} imports door/"


def test_the_package_never_imports_its_test_helpers():
    for path in sources():
        if module_of(path) != "testing":
            assert "testing" not in set(imported(path)), path


def test_cli_uses_only_public_modules():
    private = {m for path in (PACKAGE / "cli").glob("*.py") for m in imported(path)
               if m.startswith("_") and m != "__init__"}
    assert not private, f"cli imports private modules: {private}"


def test_every_subpackage_is_in_the_wheel():
    """pyproject.toml lists packages by hand: a new subpackage missing there works in a
    checkout and is absent from an installed wheel."""
    import re
    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(face_trigger(?:\.\w+)?)"', text.split("packages = [")[1]
                            .split("]")[0]))
    found = {"face_trigger"} | {f"face_trigger.{p.parent.name}"
                                for p in PACKAGE.glob("*/__init__.py")}
    assert found <= listed, f"add to pyproject.toml packages: {sorted(found - listed)}"
