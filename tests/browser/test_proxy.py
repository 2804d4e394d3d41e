"""Binder parity: the mock server and the app behind jupyter-server-proxy, under a JupyterHub-style prefix.

A local Jupyter server runs with ``base_url=/user/demo/`` and binder/jupyter_server_config.py — the
very file Binder installs — pointed at this test's mock server and app by ``MOCK_SERVER_PORT`` and
``MOCK_APP_PORT``. The mock server announces the proxied public URLs, as binder/start makes it do;
the app's redirection endpoint (``oauth_lab.RedirectionEndpoint``, which a notebook kernel serves)
answers at ``…/oauth-app/callback``. Then a user signs in and decides in Chromium (and, without a
browser, the same front channel with requests): every link, form and redirect must carry the prefix
exactly once and stay absolute (jupyter-server-proxy 4.5+ prepends the prefix to a root-relative
``Location``, doubling it), and the answer must reach the app.

Last, a hub that does not announce its public URL: JupyterLab under the same prefix with
``JUPYTERHUB_SERVICE_PREFIX`` and no ``JUPYTERHUB_PUBLIC_URL``, a notebook whose ``setup()`` starts
the server in its kernel and learns the address from Chromium; the consent panel's link then opens
the real pages through the proxy, and Allow lands on the app's proxied callback.

The requests-only tests run without Chromium; the browser ones skip or fail as tests/browser/conftest.py
says. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

import mock_server
from jupyterlab_driver import stop
from mock_server.settings import APP_CALLBACK, APP_REDIRECT_URI, behind_jupyter
from oauth_lab.redirection_endpoint import RedirectionEndpoint
from oauth_lab.user_agent import UserAgent, forms_of

ROOT = Path(__file__).resolve().parents[2]
PROXY_CONFIG = ROOT / "binder" / "jupyter_server_config.py"
PREFIX = "/user/demo/"
CLIENT = "fernhollow-reports"
USER = ("jane", "jane-password")
DECISIONS = {"Allow": "code", "Deny": "error"}  # button -> what the app receives


@dataclass
class Proxied:
    jupyter: str  # http://127.0.0.1:J/user/demo/
    public: str  # the mock server as the browser sees it: http://127.0.0.1:J/user/demo/oauth
    app: RedirectionEndpoint  # public_url: http://127.0.0.1:J/user/demo/oauth-app


# --- the set-up: a mock server and the app behind a local Jupyter server --------------------------

def jupyter_env(tmp: Path, mock_port: int, app_port: int, **extra: str) -> dict:
    """Jupyter writes to HOME and its config/data/runtime dirs: all in tmp. No hub variables
    unless `extra` sets them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MOCK_"))}
    dirs = {name: tmp / name for name in ("home", "config", "data", "runtime")}
    for path in dirs.values():
        path.mkdir()
    # One source of truth: the proxy entries Binder's postBuild installs, on this test's ports.
    shutil.copy(PROXY_CONFIG, dirs["config"] / "jupyter_server_config.py")
    return {**env, "HOME": str(dirs["home"]), "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "MOCK_SERVER_PORT": str(mock_port), "MOCK_APP_PORT": str(app_port), **extra}


def start_jupyter(tmp: Path, port: int, env: dict, app: str = "server") -> subprocess.Popen:
    """`jupyter server` (or `jupyter lab`) under PREFIX on `port`, token off, from `tmp`."""
    log = tmp / "jupyter.log"
    command = [sys.executable, "-m", "jupyter", app, f"--port={port}", "--ServerApp.port_retries=0",
               f"--ServerApp.base_url={PREFIX}", "--IdentityProvider.token=", "--ServerApp.password=",
               "--no-browser", "--ServerApp.ip=127.0.0.1", "--allow-root", f"--ServerApp.root_dir={tmp}"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not _answers(f"http://127.0.0.1:{port}{PREFIX}api/status"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"Jupyter server did not start; its log:\n{log.read_text()}")
        time.sleep(0.2)
    return process


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jupyter")
    jupyter_port, mock_port, app_port = (mock_server.free_port() for _ in range(3))
    jupyter = f"http://127.0.0.1:{jupyter_port}{PREFIX}"
    public, app_public = behind_jupyter(jupyter)  # what binder/start announces
    server = mock_server.start(port=mock_port, public_url=public,
                               app_redirect_uris=(APP_REDIRECT_URI, app_public + APP_CALLBACK))
    app = RedirectionEndpoint(app_port, app_public)
    process = None
    try:
        process = start_jupyter(tmp, jupyter_port, jupyter_env(tmp, mock_port, app_port))
        yield Proxied(jupyter, public, app)
    finally:
        if process is not None:
            stop(process)
        app.stop()
        server.stop()


# --- helpers -------------------------------------------------------------------------------------

def authorization_url(proxied: Proxied, state: str) -> str:
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    return f"{proxied.public}/authorize?" + urlencode({
        "response_type": "code", "client_id": CLIENT, "redirect_uri": proxied.app.redirect_uri,
        "scope": "customers:ro", "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256"})


def query_of(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def assert_prefixed(url: str, *bases: str) -> None:
    """Absolute, under one of the proxied `bases`, with the prefix exactly once."""
    assert any(url.startswith(f"{base}/") or url == base for base in bases), f"{url!r} is not under {bases}"
    assert url.count(PREFIX) == 1, f"double prefix in {url!r}"


def assert_callback(url: str, proxied: Proxied, state: str, decision: str) -> dict:
    """The authorization response on the app's proxied callback; returns its parameters."""
    assert_prefixed(url, proxied.app.public_url)
    assert url.startswith(f"{proxied.app.redirect_uri}?"), url
    params = query_of(url)
    assert params["state"] == state
    assert params["iss"] == proxied.public
    assert DECISIONS[decision] in params
    if decision == "Deny":
        assert params["error"] == "access_denied"
    return params


def page_targets(html: str) -> list[str]:
    """Form actions as written in the HTML (the browser tests read the live DOM instead)."""
    return [form.action for form in forms_of(html)]


# --- without a browser ---------------------------------------------------------------------------

def test_launcher_tile_opens_the_server(proxied):
    info = requests.get(f"{proxied.jupyter}server-proxy/servers-info", timeout=10).json()
    entries = {item["name"]: item for item in info["server_processes"]}
    assert entries["oauth"]["launcher_entry"]["title"] == "Fernhollow Accounts"
    assert entries["oauth"]["launcher_entry"]["path_info"] == "oauth/"
    assert entries["oauth-app"]["launcher_entry"]["enabled"] is False, "no tile for the app"
    home = requests.get(proxied.jupyter + entries["oauth"]["launcher_entry"]["path_info"], timeout=10)
    assert home.status_code == 200 and "Fernhollow Accounts" in home.text
    metadata = requests.get(f"{proxied.public}/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["issuer"] == proxied.public
    assert_prefixed(metadata["authorization_endpoint"], proxied.public)


@pytest.mark.parametrize("decision", DECISIONS)
def test_redirects_through_the_proxy(proxied, decision):
    """The scripted user agent, through the proxy: every Location header and form action is
    absolute and prefixed once; the browser takes the answer to the app's proxied callback."""
    agent = UserAgent(*USER)  # no reach map: everything goes through the Jupyter server
    pages: list[requests.Response] = []

    def check(response, **_):  # every response the agent gets, as it gets it
        if response.is_redirect:
            assert_prefixed(response.headers["Location"], proxied.public, proxied.app.public_url)
        else:
            pages.append(response)
            for action in page_targets(response.text):
                assert_prefixed(action, proxied.public)

    agent.session.hooks["response"].append(check)
    state = f"requests-{decision}"
    location = agent.authorize(authorization_url(proxied, state), decision)

    assert_callback(location, proxied, state, decision)
    assert [page.status_code for page in pages] == [200, 200], "a login page, then a consent page"
    callback = agent.visit(location)
    assert callback.status_code == 200 and "served by <b>your app</b>" in callback.text
    assert proxied.app.find(state) == location, "the app did not receive the answer"


# --- in Chromium ---------------------------------------------------------------------------------

def assert_dom_targets_prefixed(page, public: str) -> None:
    """Every form action and link on the page, as written (not as resolved by the browser)."""
    targets = page.eval_on_selector_all(
        "form, a[href]", "els => els.map(e => e.getAttribute(e.tagName === 'FORM' ? 'action' : 'href'))")
    assert targets, f"no forms or links on {page.url}"
    for target in targets:
        assert_prefixed(target, public)


def sign_in(page, public: str) -> None:
    """On the login page the browser was sent to: fill it in, land on the consent page."""
    assert_dom_targets_prefixed(page, public)
    page.get_by_label("Username").fill(USER[0])
    page.get_by_label("Password").fill(USER[1])
    with page.expect_navigation():  # the form post, its redirect, the consent page
        page.get_by_role("button", name="Sign in").click()
    assert_prefixed(page.url, public)
    assert_dom_targets_prefixed(page, public)


def decide(page, decision: str, redirect_uri: str) -> dict:
    """Click Allow or Deny; wait for the app's page; the parameters its table shows."""
    page.get_by_role("button", name=decision).click()
    page.wait_for_url(lambda url: url.startswith(f"{redirect_uri}?"))
    table = page.get_by_role("table", name="Received parameters")
    rows = table.locator("tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent])")
    return dict(rows)


@pytest.mark.parametrize("decision", DECISIONS)
def test_browser_flow_through_the_proxy(proxied, page, artifacts, decision):
    state = f"browser-{decision}"
    page.goto(authorization_url(proxied, state))
    sign_in(page, proxied.public)
    shown = decide(page, decision, proxied.app.redirect_uri)
    page.screenshot(path=str(artifacts / f"proxy-{decision.lower()}-callback.png"), full_page=True)

    assert shown == assert_callback(page.url, proxied, state, decision)
    assert proxied.app.find(state) == page.url, "the app's received() must have what the browser brought"


# --- a hub that does not announce its public URL: setup() learns it from the browser -------------

NOTEBOOK = "learn.ipynb"
SHOWN_NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# Every cell attached to the DOM, and no calls to the internet for news or updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}
CELLS = [
    "from oauth_lab import setup\n\nlab = setup(port={mock_port})\nlab",
    "from requests_oauthlib import OAuth2Session\n"
    "from oauth_lab.widgets.consent_panel import ConsentPanel\n\n"
    f"oauth = OAuth2Session({CLIENT!r}, redirect_uri=lab.redirect_uri, scope=['customers:ro'],\n"
    "                       state='learned')\n"
    "authorization_url, state = oauth.authorization_url(lab.metadata['authorization_endpoint'])\n"
    "ConsentPanel(lab, authorization_url)",
]


@dataclass
class Unannounced:
    jupyter: str
    mock_port: int
    app_port: int


def write_notebook(path: Path, mock_port: int) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source.format(mock_port=mock_port)} for source in CELLS]
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}))


@pytest.fixture(scope="module")
def unannounced(tmp_path_factory):
    """JupyterLab under PREFIX, as a hub starts it but without JUPYTERHUB_PUBLIC_URL; nothing runs
    on the mock server's and the app's ports until the notebook's setup() starts them."""
    tmp = tmp_path_factory.mktemp("hub")
    jupyter_port, mock_port, app_port = (mock_server.free_port() for _ in range(3))
    write_notebook(tmp / NOTEBOOK, mock_port)
    env = jupyter_env(tmp, mock_port, app_port, JUPYTERHUB_SERVICE_PREFIX=PREFIX,
                      IPYTHONDIR=str(tmp / "ipython"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
                      JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for relative, values in LAB_SETTINGS.items():
        target = tmp / "lab-settings" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    process = start_jupyter(tmp, jupyter_port, env, "lab")
    try:
        yield Unannounced(f"http://127.0.0.1:{jupyter_port}{PREFIX}", mock_port, app_port)
    finally:
        stop(process)  # and with it the kernel, its mock server and its app


# In the shown notebook: a kernel attached and idle; every code cell run (prompts "[n]:").
KERNEL_IDLE = """panel => {
    const name = document.querySelector(panel + ' .jp-Toolbar-kernelName');
    return name !== null && !/^\\s*(No Kernel)?\\s*$/.test(name.textContent)
        && document.querySelector(panel + " .jp-Notebook-ExecutionIndicator[data-status='idle']") !== null;
}"""
ALL_RAN = """panel => {
    const prompts = [...document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputArea-prompt')];
    return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()))
        && document.querySelector(panel + " .jp-Notebook-ExecutionIndicator[data-status='idle']") !== null;
}"""


def run_all(page, jupyter: str) -> None:
    """Open the notebook, wait for its kernel, Run → Run All Cells, wait until every cell ran."""
    page.goto(f"{jupyter}lab/tree/{NOTEBOOK}?reset")
    page.wait_for_function(KERNEL_IDLE, arg=SHOWN_NOTEBOOK, timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(ALL_RAN, arg=SHOWN_NOTEBOOK, timeout=60_000)


def test_setup_learns_the_public_url_from_the_browser(unannounced, page, artifacts):
    jupyter = unannounced.jupyter
    public, app_public = behind_jupyter(jupyter)
    run_all(page, jupyter)
    panel = page.locator(f"{SHOWN_NOTEBOOK} .jupyter-widgets", has_text="signed in as jane")
    panel.first.wait_for()
    page.screenshot(path=str(artifacts / "proxy-learned-notebook.png"), full_page=True)

    metadata = requests.get(f"http://127.0.0.1:{unannounced.mock_port}/.well-known/"
                            "oauth-authorization-server", timeout=5).json()
    assert metadata["issuer"] == public, "the server did not learn the address the browser uses"
    setup_output = page.locator(f"{SHOWN_NOTEBOOK} .jp-OutputArea-output", has_text="Lab(authorization server")
    assert f"your app at {app_public};" in setup_output.inner_text(), "lab.redirect_uri is not the public one"

    # The consent panel's link, built after setup(): the real pages, in this browser, through the proxy.
    link = page.get_by_role("link", name="Open the real consent page in your browser")
    href = link.get_attribute("href")
    assert_prefixed(href, public)
    assert query_of(href)["redirect_uri"] == app_public + APP_CALLBACK
    with page.context.expect_page() as opened:
        link.click()
    real = opened.value
    real.wait_for_load_state()
    sign_in(real, public)
    shown = decide(real, "Allow", app_public + APP_CALLBACK)
    real.screenshot(path=str(artifacts / "proxy-learned-callback.png"), full_page=True)

    assert shown["state"] == "learned" and shown["iss"] == public and shown["code"], shown
    received = requests.get(f"http://127.0.0.1:{unannounced.app_port}/received", timeout=5).json()
    assert [app_public + path for path in received] == [real.url], "the kernel's app did not receive it"
