"""The course as a learner meets it: every notebook run in JupyterLab, in a real browser.

A JupyterLab server (the venv's, on a free port, token off) serves a temporary copy of notebooks/ so
running them never touches the committed files. Each test opens one notebook, clears it, runs all
cells from the menu and checks that nothing failed: no widget that could not render, no traceback,
no error output, and live widgets where the notebook has them. With WHOLE_NOTEBOOK_SCREENSHOTS=1 a
screenshot of each whole notebook goes to test-artifacts/notebook-<name>.png; a failed test
leaves one of the page it failed on (conftest.py).

Each notebook runs once. Where it has widgets to click, the same run goes on to click them the way
a learner would (CLICKS below):
- 02: the RegistrationForm, retyped as a browser app and registered: a client id and no secret;
- 03: scope checkboxes in the ScopePicker, then Allow in the ConsentPanel, and the token the next
  cell shows must carry exactly those scopes; then the consent panel's link opens the *real*
  consent page in a new tab, Jane signs in and allows there, the browser lands on the app's own
  redirect URI (served by the kernel), and "Read what my app received" shows it in the panel;
- 04: "Show secrets" in the ExchangeInspector unmasks the code and credentials, and masks them again;
- 05: the ApiExplorer's dropdowns and Send: 403 insufficient_scope, then 200, then invalid JSON;
- 06: "+1 h" on the ClockWidget moves the server's virtual clock and the token's countdown.
- 09: the DevicePoller polls (Wait and poll, then Poll now: slow_down), its link opens the real
  verification page, Jane signs in and allows there, and Wait and poll shows the tokens.
Each clicked widget's cell is screenshotted to test-artifacts/notebook-<name>-<what>.png (the
whole notebook after the clicks, for 03, 07 and 15, with WHOLE_NOTEBOOK_SCREENSHOTS=1).

Every notebook's kernel starts the mock server on port 5001 in-process (``lab = setup()``), so the
notebooks of a group run one at a time and each test shuts its kernel down before the next one
starts (under pytest-xdist each worker has ports of its own: tests/conftest.py). A group's notebooks
open one after the other in one JupyterLab page, loaded once, as a learner opens them from the file
browser; between two, every tab is closed and the cookies cleared.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import mock_server
from jupyterlab_driver import (LAB_SETTINGS, MOCK_SERVER_PORT, NAMES, NOTEBOOK, NOTEBOOKS,
                                REPO, uses_widgets, assert_no_errors, close_everything, load_lab,
                                open_notebook, run_all, screenshot, stop)

# --- the server --------------------------------------------------------------------------------

def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _api(base: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/api/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def _wait_port_free(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _port_taken(port):
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} is still taken {timeout:.0f} s after the kernels were shut down")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def jupyter(chromium, tmp_path_factory, artifacts):
    """Base URL of a JupyterLab serving a throw-away copy of notebooks/ (venv kernel, no token)."""
    if _port_taken(MOCK_SERVER_PORT):
        pytest.fail(f"port {MOCK_SERVER_PORT} is already in use: each notebook's kernel starts the mock "
                    "server there. Stop whatever holds it (`make server`, another Jupyter kernel, "
                    "another test run) and run again.")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    home = tmp / "home"
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               IPYTHONDIR=str(home / ".ipython"), JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
               # the kernel imports the course's code from this checkout
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("JUPYTER_PATH", None)
    for relative, values in LAB_SETTINGS.items():
        target = home / "lab-settings" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))

    port = mock_server.free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = artifacts / "jupyterlab-server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=",
             "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             "--allow-root", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
             "--KernelSpecManager.ensure_native_kernel=True"],
            env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}: see {log_path}")
            try:
                _api(base, "status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status within 60 s: see {log_path}")
                time.sleep(0.3)
        _check_kernel_is_the_venvs(base, server.pid)
        yield base
    finally:
        stop(server)


def _check_kernel_is_the_venvs(base: str, server_pid: int) -> None:
    """The `python3` kernel must run this venv's interpreter (jupyter_client runs a kernelspec that
    says plain `python` with its own): start one, read its command line, shut it down."""
    specs = _api(base, "kernelspecs")
    assert specs["default"] == "python3", specs["default"]
    kernel = _api(base, "kernels", method="POST", body={"name": "python3"})
    try:
        children = [Path(f"/proc/{pid}/cmdline") for pid in os.listdir("/proc") if pid.isdigit()
                    and _parent(pid) == server_pid]
        commands = [c.read_bytes().split(b"\0")[0].decode() for c in children if c.exists()]
        venv_bin = Path(sys.executable).parent
        assert any(Path(c).parent == venv_bin for c in commands), (
            f"the python3 kernel runs {commands}, not a python from {venv_bin}")
    finally:
        _api(base, f"kernels/{kernel['id']}", method="DELETE")


def _parent(pid: str) -> int | None:
    try:  # /proc/<pid>/stat: "pid (name) state ppid ..."; the name may contain spaces
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def shutdown_kernels(base: str) -> None:
    """Shut every session's kernel down (and any kernel left over); wait until port 5001 is free."""
    for session in _api(base, "sessions"):
        _api(base, f"sessions/{session['id']}", method="DELETE")
    for kernel in _api(base, "kernels"):
        _api(base, f"kernels/{kernel['id']}", method="DELETE")
    _wait_port_free(MOCK_SERVER_PORT)


@pytest.fixture(scope="class")
def lab_page(chromium, jupyter):
    """One browser page per group of notebooks, with JupyterLab loaded once."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    load_lab(page, jupyter)
    yield page
    context.close()


@pytest.fixture
def lab(jupyter, lab_page):
    """The JupyterLab page with nothing open and no kernel running; afterwards the same again."""
    shutdown_kernels(jupyter)
    yield lab_page
    close_everything(lab_page)
    shutdown_kernels(jupyter)


# --- the test ----------------------------------------------------------------------------------

def clicks() -> dict:
    """Every notebook's click scenario, from the clicks_*.py modules beside this file."""
    found = {}
    for path in sorted(Path(__file__).parent.glob("clicks_*.py")):
        found.update(importlib.import_module(path.stem).CLICKS)
    return found


CLICKS = clicks()


def check_in_jupyterlab(lab, artifacts, name):
    """Run All, nothing fails, the widgets render — then click what a learner would click."""
    open_notebook(lab, name)
    run_all(lab)
    screenshot(lab, artifacts / f"notebook-{name}.png")
    assert_no_errors(lab, name)
    if uses_widgets(name):
        assert lab.locator(f"{NOTEBOOK} .jp-OutputArea-output .jupyter-widgets").count() > 0, (
            f"{name} creates widgets but none rendered")
    if name in CLICKS:
        CLICKS[name](lab, artifacts, name)
        assert_no_errors(lab, name)


# Four groups of about the same length, each a class: `make test` (pytest-xdist, --dist loadscope)
# runs them on four workers at once, each with its own JupyterLab, Chromium and ports. They are
# most of the suite's CPU (Chromium laying out JupyterLab): started together, they keep both cores
# busy from the first minute while the other workers' tests fill the gaps.
def notebooks_from(first: str, last: str) -> list[str]:
    return [name for name in NAMES if first <= name[:2] <= last]


def group(first: str, last: str) -> type:
    """A class of tests: one notebook each, from `first` to `last` (their numbers)."""
    class Group:
        @pytest.mark.parametrize("name", notebooks_from(first, last))
        def test_in_jupyterlab(self, lab, artifacts, name):
            check_in_jupyterlab(lab, artifacts, name)
    return Group


# Measured in `make test` (s, with JupyterLab's start): 00–04 about 90, 05–09 85, 10–12 75, 13– 90.
GROUPS = {"00": "04", "05": "09", "10": "12", "13": "zz"}
TestNotebooks00To04, TestNotebooks05To09, TestNotebooks10To12, TestNotebooks13ToTheIndex = (
    group(first, last) for first, last in GROUPS.items())


def test_every_notebook_is_in_one_group():
    assert sorted(sum((notebooks_from(first, last) for first, last in GROUPS.items()), [])) == NAMES
