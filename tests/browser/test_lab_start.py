"""`make lab` for real, as a learner starts the course: what it prints, and the link it prints,
opened in Chromium — notebook 00, and no "official Jupyter news?" pop-up.

It runs `make lab` in a copy of the repository (JupyterLab may write to the notebooks it serves)
with this virtualenv as VENV, taken as installed (`make -o`): so the settings override it installs
lands in this virtualenv's JupyterLab, as `make lab` would put it there for a learner.
(tests/test_make_lab.py covers the set-up steps with stand-ins.)"""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import mock_server

REPO = Path(__file__).resolve().parents[2]
NEWS = "Would you like to get notified about official Jupyter news?"
TOAST = ".Toastify__toast"
NOTIFICATION_SETTINGS = "lab/api/settings/@jupyterlab/apputils-extension:notification"


@pytest.fixture
def started(tmp_path):
    """`make lab` started in a copy of the repository: (its output up to the link, the link)."""
    if shutil.which("make") is None:
        pytest.skip("needs make")
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(REPO / name, repo / name)
    for folder in ("scripts", "jupyter-settings", "notebooks"):
        shutil.copytree(REPO / folder, repo / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               IPYTHONDIR=str(home / ".ipython"), JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
               BROWSER="true")  # JupyterLab opens "a browser": here a command that does nothing
    env.pop("JUPYTER_PATH", None)
    venv = Path(sys.prefix)
    port = mock_server.free_port()
    make = subprocess.Popen(["make", "-s", "-o", f"{venv}/.installed", "lab", f"VENV={venv}", f"PORT={port}"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: make, then JupyterLab
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in make.stdout], daemon=True).start()
    printed, link = [], None
    deadline = time.monotonic() + 90
    while link is None:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
        except queue.Empty:
            pytest.fail(f"`make lab` printed no link in 90 s:\n" + "\n".join(printed))
        printed.append(line)
        if found := re.search(rf"http://127\.0\.0\.1:{port}/\S+", line):
            link = found.group(0)
    try:
        yield printed, link
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # make and the JupyterLab it runs
        try:
            make.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()


def settings(link: str, raw: dict | None = None) -> dict:
    """JupyterLab's notification settings (the schema, its defaults overridden, and the user's
    own settings), or set the user's own."""
    base, token = link.split("/lab/")[0], re.search(r"token=(\w+)", link).group(1)
    request = urllib.request.Request(f"{base}/{NOTIFICATION_SETTINGS}", method="PUT" if raw else "GET",
                                     data=json.dumps({"raw": json.dumps(raw)}).encode() if raw else None,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else {}


def test_make_lab_prints_a_short_start_and_a_link_to_notebook_00(started, chromium, artifacts):
    printed, link = started
    assert len(printed) <= 10, "\n".join(printed)  # our two lines, JupyterLab's link box
    assert not [line for line in printed if line.startswith("[I ") or len(line) > 200], "\n".join(printed)
    assert "/lab/tree/00-start-here.ipynb?token=" in link

    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(60_000)
    page.goto(link)
    current = page.locator(".lm-DockPanel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    current.filter(has_text="00-start-here.ipynb").wait_for()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownOutput h1", has_text="00 · Start here").wait_for()
    page.wait_for_timeout(5_000)  # unasked, the news question shows within a second or two of loading
    page.screenshot(path=artifacts / "make-lab-notebook-00.png")
    assert page.locator(TOAST, has_text=NEWS).count() == 0, page.locator(TOAST).all_inner_texts()
    shown = settings(link)  # the default the override set, and nothing the user chose
    assert shown["schema"]["properties"]["fetchNews"]["default"] == "false" and shown["settings"] == {}, shown

    # The probe sees the pop-up where it shows: with the question left open (the default) it is there.
    settings(link, {"fetchNews": "none"})
    page.reload()
    page.locator(TOAST, has_text=NEWS).wait_for(timeout=30_000)
    page.context.close()
