"""The course as mybinder.org serves it: a real JupyterHub, a host name that is not loopback, TLS.

tests/browser/test_proxy.py checks the proxied set-up with a browser on ``http://127.0.0.1``; on
Binder the browser is never on loopback, always on https, always under a path prefix, the hub
announces no public URL, and the server outlives the kernels. Bugs hid in that gap: ``…/oauth``
taken for the start of ``…/oauth-app`` (Run All of 03 failed), an ``insecure_transport`` refusal
behind the TLS hop, a launcher tile that answered "Wrong host", and a seeded world that Restart &
Run All replayed into the running server (a nonce "Replay attack" in 11, doubled diagrams). Here:

- a real JupyterHub (PyPI ``jupyterhub``) with its proxy (npm ``configurable-http-proxy``, pinned in
  hub/package-lock.json), serving https with a certificate made for ``hub.test`` by this test;
  hub/jupyterhub_config.py says how it is set up like Binder's and where it differs;
- the single-user JupyterLab started through the repository's own ``binder/start`` (the mock
  server in the background, then ``exec jupyterhub-singleuser``), with binder/jupyter_server_config.py
  appended to the user's Jupyter config as binder/postBuild does, and no public URL announced;
- headless Chromium at ``https://hub.test:<port>/`` (``--host-resolver-rules`` maps the name to
  127.0.0.1; the certificate is trusted by its SPKI hash), no proxy in between. The browser reaches
  only the hub's port: any request elsewhere (127.0.0.1:5001, say) is refused here, as it fails
  on Binder, and reported.

The scenario, one user, in order: log in; the "Fernhollow Accounts" launcher tile first (the
server's home page, before any notebook ran ``setup()``); notebook 03: Run All; tick scopes in the
picker, open the real consent page through the proxy from the consent panel's link, sign in as
Jane, Allow, "Read what my app received", exchange the code, see exactly the ticked scopes; then
Restart Kernel and Run All of 03 (whose kernel ran the flow) and of 11 (beside 03's kernel, still
alive), with binder/start's server left running, each run's outputs compared with the committed
ones (`hub_to_committed` says which differences are allowed, and why). Screenshots in
test-artifacts/: hub-login, hub-launcher-tile, notebook-hub-03-real-callback and -real-decision,
hub-03-token, hub-<NN>-restart-run-all (the setup cell), hub-03-run-all with
WHOLE_NOTEBOOK_SCREENSHOTS=1, and the page a failed check left (conftest.py); the hub's and the
mock server's logs too.
"""
from __future__ import annotations

import base64
import datetime
import difflib
import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import mock_server
from clicks_core import assert_token_scopes, decide_on_the_real_page, tick_scopes
from conftest import launch_chromium
from jupyterlab_driver import (LAB_SETTINGS, NOTEBOOK, NOTEBOOKS, REPO, assert_no_errors, code_cell,
                               open_notebook, run_all, run_cell_containing, screenshot, stop,
                               wait_for_lab)
from node_packages import npm_installed

HUB_DIR = Path(__file__).parent / "hub"
CHP = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
HOST = "hub.test"
USER = "learner"
RESTARTED = ("03-the-authorization-request", "11-openid-connect-who-is-the-user")
# The addresses the committed outputs name (`make notebooks`: a laptop, the default ports).
COMMITTED_SERVER, COMMITTED_APP = "http://127.0.0.1:5001", "http://127.0.0.1:8765"


# --- the certificate -----------------------------------------------------------------------------

def certificate(folder: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for HOST (and nothing else): its file, its key's file, and the
    base64 SHA-256 of its public key, which Chromium's --ignore-certificate-errors-spki-list takes."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "hub.test.crt", folder / "hub.test.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_file, key_file, base64.b64encode(hashlib.sha256(spki).digest()).decode()


# --- the hub -------------------------------------------------------------------------------------

@dataclass
class Hub:
    origin: str  # https://hub.test:PORT, what the browser shows
    spki: str
    mock_port: int
    app_port: int
    home: Path  # the learner's home: a copy of notebooks/ and what Binder's postBuild put there

    @property
    def jupyter(self) -> str:
        """The learner's JupyterLab, as the browser reaches it (with the trailing slash)."""
        return f"{self.origin}/user/{USER}/"


def learners_home(home: Path) -> None:
    """What the learner's home holds on Binder: the notebooks, the proxy entries binder/postBuild
    appends to `jupyter --config-dir`, and (for the test) JupyterLab's settings: every cell attached
    to the DOM, no news."""
    shutil.copytree(NOTEBOOKS, home / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config_dir = Path(subprocess.run([sys.executable, "-m", "jupyter", "--config-dir"], env=_home_env(home),
                                     capture_output=True, text=True, check=True).stdout.strip())
    assert config_dir.is_relative_to(home), config_dir
    config_dir.mkdir(parents=True, exist_ok=True)
    with open(config_dir / "jupyter_server_config.py", "a") as config:  # binder/postBuild's `cat >>`
        config.write((REPO / "binder" / "jupyter_server_config.py").read_text())
    for relative, values in LAB_SETTINGS.items():
        target = config_dir / "lab" / "user-settings" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


def _home_env(home: Path) -> dict:
    """This environment with HOME at `home` and no JUPYTER*/MOCK_* variables of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MOCK_", "IPYTHON"))}
    return {**env, "HOME": str(home)}


def _answers(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status == 200
    except OSError:
        return False


def marked(marker: str) -> list[int]:
    """The processes whose environment holds `marker` (NAME=value): everything this hub started,
    even once re-parented (binder/start's mock server outlives the shell that started it)."""
    wanted, found = marker.encode(), []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            pass
    return found


def stop_all(hub: subprocess.Popen, marker: str) -> None:
    """The hub first (it stops its proxy and the single-user server), then whatever is left with
    the hub's marker: binder/start's mock server (nohup) at least."""
    stop(hub)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in marked(marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while marked(marker) and time.monotonic() < deadline:  # (a zombie's environment is empty)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, artifacts):
    npm_installed(HUB_DIR, "configurable-http-proxy", "the JupyterHub test (its proxy)")
    tmp = tmp_path_factory.mktemp("hub")
    home = tmp / "home"
    learners_home(home)
    cert, key, spki = certificate(tmp)
    port, hub_port, api_port, mock_port, app_port = (mock_server.free_port() for _ in range(5))
    env = {**_home_env(tmp),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           # the kernels import the course's code from this checkout, as test_jupyterlab's do
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "HUB_TEST_DIR": str(tmp), "HUB_TEST_PORT": str(port), "HUB_TEST_HUB_PORT": str(hub_port),
           "HUB_TEST_PROXY_API_PORT": str(api_port), "HUB_TEST_CERT": str(cert), "HUB_TEST_KEY": str(key),
           "HUB_TEST_CHP": str(CHP), "HUB_TEST_USER": USER, "HUB_TEST_HOME": str(home),
           "HUB_TEST_START": str(REPO / "binder" / "start"),
           "MOCK_SERVER_PORT": str(mock_port), "MOCK_APP_PORT": str(app_port),
           "MOCK_SERVER_LOG": str(tmp / "mock_server.log")}
    log_path = artifacts / "hub.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(HUB_DIR / "jupyterhub_config.py")],
                                   cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        trusted = ssl.create_default_context(cafile=cert)
        trusted.check_hostname = False  # reached as 127.0.0.1 here; the browser checks the name
        deadline = time.monotonic() + 60
        while not _answers(f"https://127.0.0.1:{port}/hub/health", trusted):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterHub did not start: see {log_path}")
            time.sleep(0.3)
        yield Hub(f"https://{HOST}:{port}", spki, mock_port, app_port, home)
    finally:
        stop_all(process, f"HUB_TEST_DIR={tmp}")
        if (tmp / "mock_server.log").exists():
            shutil.copy(tmp / "mock_server.log", artifacts / "hub-mock-server.log")


@pytest.fixture(scope="module")
def browser(playwright, hub):
    """Chromium that calls 127.0.0.1 hub.test and trusts the hub's certificate, no proxy."""
    chromium = launch_chromium(playwright, f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
                               f"--ignore-certificate-errors-spki-list={hub.spki}")
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser, hub):
    """A page whose requests may go to the hub's origin only; `page.elsewhere` lists the others,
    refused (on Binder they fail: the learner's browser cannot reach the container's loopback)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []

    def refuse(route):
        elsewhere.append(route.request.url)
        route.abort("addressunreachable")

    context.route(lambda url: not url.startswith(hub.origin + "/"), refuse)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.elsewhere = elsewhere
    yield page
    context.close()


# --- the committed outputs -----------------------------------------------------------------------

JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
AT_HASH = re.compile(r"'at_hash': '[A-Za-z0-9_-]{22}'")  # an ID token's hash of its access token (a JWT)
SETUP_LINE = re.compile(r"^Fernhollow Accounts: .*$", re.M)  # setup()'s line: which server it joined
STARTED_OVER = "its world started over for this notebook: seed 1,"


def hub_to_committed(text: str, hub: Hub) -> str:
    """A hub run's output with the addresses of the committed outputs.

    On the hub the server's issuer and the app's redirect URI are the public, proxied addresses
    (``https://hub.test:P/user/learner/oauth`` and ``…/oauth-app``, also URL-encoded inside
    authorization URLs); the committed outputs, made on a laptop, show 127.0.0.1:5001 and :8765.
    That is the whole intended difference — and what follows from it: a signed token (JWT) names
    its issuer, so its bytes differ, and so does an ID token's ``at_hash`` (OIDC Core §3.1.3.6: a
    hash of the access token, itself a JWT here); both are replaced by placeholders on both sides.
    Back-channel addresses use this test's own ports (the notebooks' nbval run holds 5001/8765
    beside it in `make test`). And setup()'s one line says which server it joined: the committed
    run started its own, the hub's kernel joins binder/start's (the test checks what it says)."""
    public = f"{hub.jupyter}oauth"
    for hub_url, committed in ((f"{public}-app", COMMITTED_APP), (public, COMMITTED_SERVER),
                               (f"http://127.0.0.1:{hub.app_port}", COMMITTED_APP),
                               (f"http://127.0.0.1:{hub.mock_port}", COMMITTED_SERVER)):
        text = text.replace(hub_url, committed).replace(quote(hub_url, safe=""), quote(committed, safe=""))
    return committed_form(text)


def committed_form(text: str) -> str:
    """What both sides are compared in: signed tokens and setup()'s line as placeholders."""
    text = SETUP_LINE.sub("Fernhollow Accounts: <the server this notebook joined>", text)
    return AT_HASH.sub("'at_hash': '<hash of a JWT>'", JWT.sub("<JWT>", text))


COMPARED = ("text/plain", "text/html")  # nbval skips widget views, images, metadata, counts
SVG_DATA = re.compile(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)")


def readable(html: str) -> str:
    """An HTML output with its embedded pictures (a diagram's SVG, base64 in a data: URL) as text,
    so the addresses they name are compared, and normalised, like the rest."""
    return SVG_DATA.sub(lambda m: "data:image/svg+xml," + base64.b64decode(m[1]).decode(), html)


def outputs(notebook: dict, normalise) -> list[tuple[str, list[str]]]:
    """Per code cell (its first line), what a learner reads, as nbval compares it: streams,
    errors, and the text and HTML of results and displays."""
    shown = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts = []
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                texts.append(output["text"])
            elif output["output_type"] == "error":
                texts.append(f"{output['ename']}: {output['evalue']}")
            else:
                texts += [output["data"][kind] for kind in COMPARED if kind in output["data"]]
        shown.append(("".join(cell["source"]).splitlines()[0],
                      [normalise(readable("".join(text))) for text in texts]))
    return shown


def differences(got: list, committed: list) -> str:
    """The cells whose outputs differ, each as a diff (committed → this run); "" when none do."""
    if [source for source, _ in got] != [source for source, _ in committed]:
        return "the notebook's code cells are not the committed ones"
    return "\n".join(
        f"--- cell `{source}`\n" + "\n".join(difflib.unified_diff(
            "\n".join(expected).splitlines(), "\n".join(shown).splitlines(), "committed", "hub", lineterm=""))
        for (source, shown), (_, expected) in zip(got, committed) if shown != expected)


# --- driving the hub -----------------------------------------------------------------------------

def log_in(page, hub: Hub, artifacts: Path) -> None:
    """The hub's login form, then the spawn: JupyterLab (its workspace reset) once the server runs."""
    lab = quote(f"/user/{USER}/lab?reset", safe="")
    page.goto(f"{hub.origin}/hub/login?next=" + quote(f"/hub/spawn?next={lab}", safe=""))
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill("anything")  # DummyAuthenticator
    page.screenshot(path=artifacts / "hub-login.png")
    page.get_by_role("button", name="Sign in").click()
    wait_for_lab(page)
    assert page.url.startswith(hub.jupyter + "lab"), page.url


def open_launcher_tile(page, hub: Hub, artifacts: Path) -> None:
    """The launcher's "Fernhollow Accounts": the server's home page in a new tab, naming itself by
    the address the browser uses — before any notebook ran."""
    tile = page.locator(".jp-LauncherCard", has_text="Fernhollow Accounts")
    with page.context.expect_page() as opened:
        tile.click()
    home = opened.value
    home.wait_for_load_state()
    heading = home.get_by_role("heading", level=1).first.inner_text()
    assert heading != "Wrong host", f"the tile opened an error page: {home.locator('body').inner_text()}"
    issuer = f"{hub.jupyter}oauth"
    # The first view tells the server the address the browser uses, then reloads onto the home page.
    try:
        home.get_by_text(f"Issuer {issuer}").wait_for(timeout=15_000)
    except PlaywrightTimeout:
        pytest.fail(f"the tile never showed the home page: {home.locator('body').inner_text()}")
    home.screenshot(path=artifacts / "hub-launcher-tile.png", full_page=True)
    assert home.url == f"{issuer}/", home.url
    home.close()


def saved_outputs(page, hub: Hub, name: str) -> dict:
    """Save the shown notebook (File → Save, as the learner would) and read it from the learner's home."""
    page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
    return json.loads((hub.home / "notebooks" / f"{name}.ipynb").read_text())


def restart_and_run_all(page, hub: Hub, artifacts: Path, name: str) -> None:
    """Kernel → Restart Kernel and Run All Cells…: no error, setup() says it joined the running
    server and started its world over, and every output is the committed one (`hub_to_committed`)."""
    open_notebook(page, f"notebooks/{name}")
    run_all(page, restart=True)
    shot = artifacts / f"hub-{name[:2]}-restart-run-all.png"
    screenshot(page, shot, code_cell(page, "setup()"))
    assert_no_errors(page, name)
    got = saved_outputs(page, hub, name)
    joined = [line for _, texts in outputs(got, str) for text in texts for line in SETUP_LINE.findall(text)]
    assert len(joined) == 1 and STARTED_OVER in joined[0], (
        f"{name}: setup() should join binder/start's server and start its world over: {joined}")
    committed = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    differ = differences(outputs(got, lambda text: hub_to_committed(text, hub)), outputs(committed, committed_form))
    assert not differ, f"{name}, Restart and Run All: not the committed outputs:\n{differ}"


# --- the test ------------------------------------------------------------------------------------

def test_the_course_on_a_real_hub(hub, page, artifacts):
    log_in(page, hub, artifacts)
    open_launcher_tile(page, hub, artifacts)

    name = "03-the-authorization-request"
    open_notebook(page, f"notebooks/{name}")
    run_all(page)
    screenshot(page, artifacts / "hub-03-run-all.png")
    assert_no_errors(page, name)

    chosen = tick_scopes(page, {"chats--access:ro": False, "customers:ro": True, "profile": True})
    app_callback = re.compile(rf"^{re.escape(hub.jupyter)}oauth-app/callback\?")
    decide_on_the_real_page(page, artifacts, "hub-03", callback=app_callback)
    run_cell_containing(page, "read_redirect(redirect)")
    token = run_cell_containing(page, "oauth.fetch_token(")
    screenshot(page, artifacts / "hub-03-token.png", token)
    assert_token_scopes(token, chosen)
    assert_no_errors(page, name)

    # Both kernels stay alive, as when a learner moves on without closing a tab: 11 runs beside
    # 03's kernel, and binder/start's server outlives every kernel.
    for name in RESTARTED:
        restart_and_run_all(page, hub, artifacts, name)
    assert not page.elsewhere, f"the browser was sent beyond the hub: {page.elsewhere}"
