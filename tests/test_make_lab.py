"""`make lab` starts JupyterLab as whoever runs it: as root (a container, a dev box) JupyterLab
refuses to start unless given --allow-root, so make passes it then, and only then."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_passes_allow_root_exactly_when_run_as_root(tmp_path):
    # A stand-in virtualenv whose `jupyter` prints its arguments; the stamp says it is installed.
    (tmp_path / "bin").mkdir()
    jupyter = tmp_path / "bin" / "jupyter"
    jupyter.write_text('#!/bin/sh\necho "jupyter $*"\n')
    jupyter.chmod(0o755)
    (tmp_path / ".installed").touch()
    ran = subprocess.run(["make", "-s", "lab", f"VENV={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    arguments = ran.stdout.split()
    assert arguments[:2] == ["jupyter", "lab"], ran.stdout
    assert ("--allow-root" in arguments) == (os.getuid() == 0), ran.stdout
