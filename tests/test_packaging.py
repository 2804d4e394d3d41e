"""`pip install .` (not editable) gives the whole course, and a course that runs: every module, the
templates, the demo key, and the dependencies they import.

The wheel is built from a copy of the tree (pip builds in place, and would leave build/ here), then
installed *with* its dependencies into a fresh virtualenv that sees nothing of this one: what
`mock_server` and `oauth_lab` import there came from the wheel's own `Requires-Dist`. The versions
are held to requirements.txt's pins (as constraints), so the install reuses pip's cache, and a pin
outside a declared range fails the install. (About 15 s with the cache warm.)
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mock_server", "oauth_lab")

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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([*pip(), "wheel", "--no-deps", "-w", tmp / "dist", source], check=True)
    (built,) = (tmp / "dist").glob("*.whl")
    return built


def pip(*python) -> list:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *(("--python", *python) if python else ())]


def test_wheel_installs_what_the_server_and_the_notebooks_import(wheel, tmp_path):
    # Constraints may not carry extras: psycopg[binary]==3.3.9 constrains psycopg.
    pins = [re.sub(r"\[.*?\]", "", line.split("#")[0]).strip()
            for line in (ROOT / "requirements.txt").read_text().splitlines()]
    (tmp_path / "constraints.txt").write_text("\n".join(p for p in pins if p) + "\n")
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    # No .pyc compiled at install (a fifth of the time): the imports below compile what they use.
    subprocess.run([*pip(python), "install", "--no-compile", "-c", tmp_path / "constraints.txt", wheel],
                   check=True)

    help_ = subprocess.run([python, "-m", "mock_server", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert help_.returncode == 0, help_.stderr
    assert help_.stdout.startswith("usage: python -m mock_server"), help_.stdout
    walked = subprocess.run([python, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True)
    assert walked.returncode == 0, walked.stderr
    assert int(walked.stdout) >= 40  # modules imported from the installed copy, with its own dependencies


def imported_distributions() -> dict[str, set[str]]:
    """Every third-party distribution the two packages import (lazily too), by the modules that do."""
    distributions = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES:
                        continue
                    for distribution in distributions.get(top, [top]):
                        found.setdefault(canonical(distribution), set()).add(str(path.relative_to(ROOT)))
    return found


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_import_is_declared(wheel):
    """A module imported only in a function (granian, by the class server) escapes the walk above:
    read the imports themselves, and find each one's distribution among the wheel's requirements
    (an extra counts: `pip install .[workshop]` is how the class server is installed)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        declared = {canonical(re.split(r"[\s<>=!~;\[(]", line.split(":", 1)[1].strip())[0])
                    for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")}
    imported = imported_distributions()
    assert {"flask", "authlib", "ipywidgets", "requests-oauthlib", "granian"} <= imported.keys(), imported
    missing = {name: sorted(where) for name, where in imported.items() if name not in declared}
    assert not missing, f"imported but not in pyproject.toml's dependencies: {missing}"
