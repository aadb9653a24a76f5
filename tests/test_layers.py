"""The dependency rule of ARCHITECTURE.md: a module imports only from its own or lower layers,
and the CLI only from the public package."""
from __future__ import annotations

import ast
from pathlib import Path

import face_trigger

PACKAGE = Path(face_trigger.__file__).parent

LAYERS = {
    0: {"errors", "types", "thresholds", "_validate", "_fileio", "_version", "runtime"},
    1: {"model_files", "image_io", "align", "draw", "label_map", "signed_file",
        "faceprint", "tracking", "decision", "audit", "actions", "sources", "vector_index",
        "gallery_backend"},
    2: {"detector", "embedder", "gallery_sqlite", "gallery_postgres"},
    3: {"pipeline", "enrollment", "recognizer", "calibration", "verification", "gallery"},
    4: {"trigger", "door_config", "gallery_enrollment"},
    5: {"cli", "__main__", "__init__", "door_app"},
    6: {"testing"},  # built frames for tests, benchmarks and examples only
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    yield node.module.split(".")[0]
                else:
                    yield from (alias.name for alias in node.names)
            elif node.module and node.module.startswith("face_trigger."):
                yield node.module.split(".")[1]
            elif node.module == "face_trigger":
                yield "__init__"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("face_trigger."):
                    yield alias.name.split(".")[1]


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set(LAYER_OF), f"assign a layer to: {modules ^ set(LAYER_OF)}"


def test_imports_go_downwards_only():
    problems = []
    for path in PACKAGE.glob("*.py"):
        own = LAYER_OF[path.stem]
        for module in imported_modules(path):
            if module not in LAYER_OF:
                continue  # e.g. the samples/models data folders
            if path.stem != "__init__" and LAYER_OF[module] > own:
                problems.append(f"{path.stem} (L{own}) imports {module} (L{LAYER_OF[module]})")
    assert not problems, problems


def test_cli_uses_only_the_public_package():
    for stem in ("cli", "door_app"):
        modules = set(imported_modules(PACKAGE / f"{stem}.py"))
        assert modules <= {"__init__"}, f"{stem} imports private modules: {modules}"
