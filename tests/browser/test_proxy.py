"""Binder parity: the mock server behind jupyter-server-proxy, under a JupyterHub-style prefix.

A local Jupyter server runs with ``base_url=/user/demo/`` and binder/jupyter_server_config.py — the
very file Binder installs — pointed at this test's mock server by ``MOCK_SERVER_PORT``. The mock server
announces the proxied public URL, as binder/start makes it do. Then a user signs in and decides in
Chromium (and, without a browser, the same front channel with requests): every link, form and
redirect must carry the prefix exactly once and stay absolute (jupyter-server-proxy 4.5+ prepends the
prefix to a root-relative ``Location``, doubling it).

The requests-only tests run without Chromium; the browser ones skip or fail as tests/browser/conftest.py
says. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import base64
import hashlib
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


# --- the set-up: a mock server behind a local Jupyter server --------------------------------------

def jupyter_env(tmp: Path, mock_port: int) -> dict:
    """Jupyter writes to HOME and its config/data/runtime dirs: all in tmp. No hub variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MOCK_SERVER_"))}
    dirs = {name: tmp / name for name in ("home", "config", "data", "runtime")}
    for path in dirs.values():
        path.mkdir()
    # One source of truth: the proxy entry Binder's postBuild installs, on this test's port.
    shutil.copy(PROXY_CONFIG, dirs["config"] / "jupyter_server_config.py")
    return {**env, "HOME": str(dirs["home"]), "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "MOCK_SERVER_PORT": str(mock_port)}


def start_jupyter(tmp: Path, port: int, mock_port: int) -> subprocess.Popen:
    log = tmp / "jupyter.log"
    command = [sys.executable, "-m", "jupyter", "server", f"--port={port}", "--ServerApp.port_retries=0",
               f"--ServerApp.base_url={PREFIX}", "--IdentityProvider.token=", "--ServerApp.password=",
               "--no-browser", "--ServerApp.ip=127.0.0.1", "--allow-root", f"--ServerApp.root_dir={tmp}"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=jupyter_env(tmp, mock_port), cwd=tmp,
                                   stdout=out, stderr=subprocess.STDOUT)
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


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jupyter")
    jupyter_port, mock_port = mock_server.free_port(), mock_server.free_port()
    jupyter = f"http://127.0.0.1:{jupyter_port}{PREFIX}"
    server = mock_server.start(port=mock_port, public_url=f"{jupyter}oauth")
    process = None
    try:
        process = start_jupyter(tmp, jupyter_port, mock_port)
        yield Proxied(jupyter, f"{jupyter}oauth")
    finally:
        if process is not None:
            stop(process)
        server.stop()


# --- helpers -------------------------------------------------------------------------------------

def authorization_url(public: str, state: str) -> str:
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    return f"{public}/authorize?" + urlencode({
        "response_type": "code", "client_id": CLIENT, "redirect_uri": f"{public}/callback",
        "scope": "customers:ro", "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256"})


def query_of(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def assert_prefixed(url: str, public: str) -> None:
    """Absolute, on the proxied server, with the prefix exactly once."""
    assert url.startswith(f"{public}/") or url == public, f"{url!r} is not under {public}"
    assert url.count(PREFIX) == 1, f"double prefix in {url!r}"


def assert_callback(url: str, public: str, state: str, decision: str) -> dict:
    """The authorization response on the app's (proxied) callback; returns its parameters."""
    assert_prefixed(url, public)
    assert url.startswith(f"{public}/callback?"), url
    params = query_of(url)
    assert params["state"] == state
    assert params["iss"] == public
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
    entry = next(item for item in info["server_processes"] if item["name"] == "oauth")
    assert entry["launcher_entry"]["title"] == "Fernhollow Accounts"
    assert entry["launcher_entry"]["path_info"] == "oauth/"
    home = requests.get(proxied.jupyter + entry["launcher_entry"]["path_info"], timeout=10)
    assert home.status_code == 200 and "Fernhollow Accounts" in home.text
    metadata = requests.get(f"{proxied.public}/.well-known/oauth-authorization-server", timeout=10).json()
    assert metadata["issuer"] == proxied.public
    assert_prefixed(metadata["authorization_endpoint"], proxied.public)


@pytest.mark.parametrize("decision", DECISIONS)
def test_redirects_through_the_proxy(proxied, decision):
    """The scripted user agent, through the proxy: every Location header and form action is
    absolute and prefixed once; the app gets its answer on the prefixed callback."""
    agent = UserAgent(*USER)
    pages: list[requests.Response] = []

    def check(response, **_):  # every response the agent gets, as it gets it
        if response.is_redirect:
            assert_prefixed(response.headers["Location"], proxied.public)
        else:
            pages.append(response)
            for action in page_targets(response.text):
                assert_prefixed(action, proxied.public)

    agent.session.hooks["response"].append(check)
    state = f"requests-{decision}"
    location = agent.authorize(authorization_url(proxied.public, state), decision)

    assert_callback(location, proxied.public, state, decision)
    assert [page.status_code for page in pages] == [200, 200], "a login page, then a consent page"


# --- in Chromium ---------------------------------------------------------------------------------

def assert_dom_targets_prefixed(page, public: str) -> None:
    """Every form action and link on the page, as written (not as resolved by the browser)."""
    targets = page.eval_on_selector_all(
        "form, a[href]", "els => els.map(e => e.getAttribute(e.tagName === 'FORM' ? 'action' : 'href'))")
    assert targets, f"no forms or links on {page.url}"
    for target in targets:
        assert_prefixed(target, public)


def sign_in(page, url: str, public: str) -> None:
    page.goto(url)
    assert_dom_targets_prefixed(page, public)
    page.get_by_label("Username").fill(USER[0])
    page.get_by_label("Password").fill(USER[1])
    with page.expect_navigation():  # the form post, its redirect, the consent page
        page.get_by_role("button", name="Sign in").click()
    assert_prefixed(page.url, public)


def received_parameters(page) -> dict:
    """The callback page's table of what the app received."""
    table = page.get_by_role("table", name="Received parameters")
    rows = table.locator("tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent])")
    return dict(rows)


@pytest.mark.parametrize("decision", DECISIONS)
def test_browser_flow_through_the_proxy(proxied, page, artifacts, decision):
    public, state = proxied.public, f"browser-{decision}"
    sign_in(page, authorization_url(public, state), public)

    assert_dom_targets_prefixed(page, public)  # the consent page
    page.get_by_role("button", name=decision).click()
    page.wait_for_url(lambda url: url.startswith(f"{public}/callback"))
    page.screenshot(path=str(artifacts / f"proxy-{decision.lower()}-callback.png"), full_page=True)

    params = assert_callback(page.url, public, state, decision)
    assert received_parameters(page) == params
