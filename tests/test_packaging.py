"""`pip install .` (not editable) gives the whole course: every module, the templates, the demo key.

The wheel is built from a copy of the tree (pip builds in place, and would leave build/ here), then
installed without dependencies into a fresh virtualenv. That virtualenv finds the dependencies
(Flask, Authlib, ipywidgets...) in this test's virtualenv through PYTHONPATH: unlike a .pth file,
PYTHONPATH does not run this virtualenv's editable-install hook, so `mock_server` can only come
from the wheel. (``--system-site-packages`` would not do: a virtualenv made by this one's Python
sees the base interpreter's site-packages, not this virtualenv's.)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import importlib, pkgutil, sys
from pathlib import Path

installed = Path(sys.prefix)
names = []
for package in ("mock_server", "oauth_lab"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        module = importlib.import_module(info.name)
        assert installed in Path(module.__file__).parents, (info.name, module.__file__)
        names.append(info.name)
assert "oauth_lab.widgets.scope_picker" in names and "mock_server.sessions" in names, names

from mock_server import Settings, create_app
from mock_server.keys import DEMO_KEY

assert installed in DEMO_KEY.parents and DEMO_KEY.is_file()
app = create_app(Settings(seed=1))  # deterministic mode signs with the key file
page = app.test_client().get("/login")
assert page.status_code == 200 and b"<h1>Sign in</h1>" in page.data, page.data[:300]
print(len(names))
"""


def test_wheel_holds_every_module_the_templates_and_the_key(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for package in ("mock_server", "oauth_lab"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", tmp_path / "dist", source], check=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")

    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([*pip, "--python", python, "install", "--no-deps", wheel], check=True)
    result = subprocess.run([python, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 40  # modules imported from the installed copy
