"""The command line, through main([...]) and as the installed console script."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import face_trigger as ft
from face_trigger.cli import EXIT_OK, EXIT_USAGE, main


def test_demo_prints_faces_and_writes_an_annotated_image(tmp_path, capsys):
    out = tmp_path / "demo.jpg"
    assert main(["demo", "-o", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "obama.jpg vs obama2.jpg" in printed and "same person" in printed
    assert "different people" in printed
    assert printed.count("face 0: box") == 3
    image = ft.read_image(out)
    assert image.shape[0] == 480 and image.shape[1] > 480


def test_demo_unwritable_output_is_one_error_line(tmp_path, capsys):
    code = main(["demo", "-o", str(tmp_path / "missing_dir" / "demo.jpg")])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("face-trigger: error:")


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == EXIT_USAGE
    assert "usage" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["demo", "--no-such-option"]) == EXIT_USAGE


def test_version(capsys):
    assert main(["--version"]) == EXIT_OK
    assert ft.__version__ in capsys.readouterr().out


def test_module_entry_point_runs_from_another_directory(tmp_path):
    """`python -m face_trigger demo` from outside the checkout (the installed package
    when installed; the source tree via PYTHONPATH otherwise) finds models and photos."""
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(ft.__file__))
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "face_trigger", "demo", "-o", "d.png"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d.png").is_file()
    assert "sha256 verified" in result.stdout
    assert "WARN" not in result.stderr  # OpenCV's own warnings are hidden without -v


@pytest.mark.skipif(shutil.which("face-trigger") is None, reason="console script not installed")
def test_console_script(tmp_path):
    result = subprocess.run(["face-trigger", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and ft.__version__ in result.stdout
