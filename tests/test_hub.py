"""On a JupyterHub that does not announce its public URL: the server learns it from the browser.

The route ``POST /_mock/public-url`` (mock_server/public_url.py) over real HTTP: it learns once,
from loopback, from an http(s) origin and a hub prefix, and then every browser-facing URL is the
proxied one. ``setup()`` in a real kernel (jupyter_client): without a hub prefix it shows nothing
and waits for nothing; with one and no browser to answer, it asks, waits its 3 s and goes on; once
the server has learned, it asks nothing and hands out the public URLs.
tests/browser/test_proxy.py runs the whole learning in JupyterLab and Chromium.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import requests

import mock_server
from flows import authorization_url, query_of
from mock_server.owner import read_card
from mock_server.settings import APP_REDIRECT_URI
from oauth_lab.hub import LEARN_TIMEOUT
from oauth_lab.user_agent import UserAgent

ROOT = Path(__file__).resolve().parents[1]
HUB = {"origin": "https://hub.example.org", "prefix": "/user/demo/"}
PUBLIC = "https://hub.example.org/user/demo/oauth"
APP_PUBLIC_CALLBACK = "https://hub.example.org/user/demo/oauth-app/callback"


def learning_token(server) -> str | None:
    """None once the server knows its public URL (the token route answers 409 then)."""
    return requests.get(f"{server.url}/_mock/public-url/token", timeout=5,
                        headers=server.admin_headers).json().get("token")


def learn(server, body, **kwargs) -> requests.Response:
    """The browser's POST, with the one-time token the kernel fetched (unless `body` brings one)."""
    body = {"token": learning_token(server), **body} if isinstance(body, dict) else body
    return requests.post(f"{server.url}/_mock/public-url", json=body, timeout=5, **kwargs)


def issuer_of(server) -> str:
    return requests.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=5).json()["issuer"]


def assert_refused(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error_description"]


# --- the admin route -----------------------------------------------------------------------------

def test_learns_the_public_url_once(server):
    answer = learn(server, HUB)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"issuer": PUBLIC, "app_redirect_uris": [APP_REDIRECT_URI, APP_PUBLIC_CALLBACK]}
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=5).json()
    assert metadata["issuer"] == server.issuer == PUBLIC
    assert metadata["authorization_endpoint"] == f"{PUBLIC}/authorize"

    # A second browser (another notebook, a reload) cannot move it: clients have read the issuer.
    assert_refused(learn(server, {"origin": "https://elsewhere.example", "prefix": "/"}), 409)
    assert issuer_of(server) == PUBLIC


def test_the_front_channel_then_runs_on_the_public_urls(server):
    """What the browser sees after learning: pages, forms and the redirect on the proxied URLs,
    and the app's proxied callback registered for the demo apps (its loopback one still works)."""
    learn(server, HUB).raise_for_status()
    agent = UserAgent(reach={PUBLIC: server.url})
    url = authorization_url(server, redirect_uri=APP_PUBLIC_CALLBACK, scope="customers:ro")
    page = agent.consent_page(url, server=PUBLIC)
    assert page.status_code == 200 and f'action="{PUBLIC}/authorize' in page.text
    location = agent.decide(page, "Allow")
    assert location.startswith(f"{APP_PUBLIC_CALLBACK}?"), location
    assert query_of(location)["iss"] == PUBLIC
    loopback = agent.authorize(authorization_url(server, scope="customers:ro"), server=PUBLIC)
    assert loopback.startswith(f"{APP_REDIRECT_URI}?"), loopback


def test_a_configured_public_url_is_never_replaced(start_server):
    server = start_server(public_url="https://configured.example/oauth")
    assert_refused(learn(server, HUB), 409)
    assert issuer_of(server) == "https://configured.example/oauth"


def test_only_loopback_may_teach_it():
    """A caller from another machine (a class server on 0.0.0.0) is refused: Flask's own test
    client, to send from an address this machine does not have."""
    app = mock_server.create_app(mock_server.Settings(seed=1))
    client = app.test_client()
    answer = client.post("/_mock/public-url", json=HUB, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert answer.status_code == 403 and answer.json["error_description"], answer.json
    assert client.get("/.well-known/oauth-authorization-server").json["issuer"] == "http://127.0.0.1:5001"


def test_the_browser_post_passes_the_host_check_only_with_the_kernels_token(start_server):
    """Through the proxy the POST carries the hub's Host, unknown until learned; a page that
    rebinds its own name to 127.0.0.1 sends its own Host and can fetch no token."""
    server = start_server(seed=7)
    rebound = {"Host": "attacker.example"}
    assert requests.get(f"{server.url}/_mock/public-url/token", headers=rebound).status_code == 400
    assert_refused(learn(server, {**HUB, "token": "guessed"}, headers=rebound), 403)
    assert_refused(learn(server, {**HUB, "token": None}), 403)
    assert issuer_of(server) == server.url
    answer = learn(server, HUB, headers={"Host": "hub.example.org"})  # the proxy's Host, with the token
    assert answer.status_code == 200 and issuer_of(server) == PUBLIC
    assert requests.get(f"{server.url}/.well-known/oauth-authorization-server",
                        headers={"Host": "hub.example.org"}).status_code == 200  # now one of ours
    assert requests.get(f"{server.url}/_mock/clock", headers=rebound).status_code == 400


def test_a_token_teaches_once_and_only_the_latest_counts(start_server):
    server = start_server(seed=7)
    older, token = learning_token(server), learning_token(server)
    post = lambda body: requests.post(f"{server.url}/_mock/public-url", json=body, timeout=5)  # noqa: E731
    assert_refused(post({**HUB, "token": older}), 403)
    assert post({**HUB, "token": token}).status_code == 200
    assert_refused(post({**HUB, "token": token}), 409)  # learned: the route is closed
    assert requests.get(f"{server.url}/_mock/public-url/token", headers=server.admin_headers).status_code == 409


# --- the launcher tile: the first page viewed through the proxy learns the address -------------------

PROXIED = {"Host": "hub.example.org", "X-Forwarded-Context": "/user/demo/oauth"}  # jupyter-server-proxy's


def test_the_launcher_tile_works_on_its_first_click(start_server):
    """binder/start tells the server its Jupyter prefix; the tile's first view is a page whose
    script sends the browser's origin (as setup()'s does), then reloads onto the home page."""
    server = start_server(seed=7, jupyter_prefix="/user/demo/")
    first = requests.get(f"{server.url}/", headers=PROXIED, timeout=5)
    assert first.status_code == 200 and "Finding the address your browser reaches" in first.text
    assert 'fetch("/user/demo/oauth/_mock/public-url"' in first.text and "location.origin" in first.text
    token = re.search(r'token: "([^"]+)"', first.text)[1]
    taught = requests.post(f"{server.url}/_mock/public-url", json={**HUB, "token": token}, timeout=5,
                           headers={"Host": "hub.example.org"})  # the page's POST, through the proxy
    assert taught.status_code == 200 and issuer_of(server) == PUBLIC
    home = requests.get(f"{server.url}/", headers=PROXIED, timeout=5)
    assert home.status_code == 200 and f'href="{PUBLIC}/console"' in home.text and "<script" not in home.text


@pytest.mark.parametrize("case, settings, headers", [
    ("not through the proxy", {"jupyter_prefix": "/user/demo/"}, {"Host": "hub.example.org"}),
    ("another user's prefix", {"jupyter_prefix": "/user/demo/"},
     {**PROXIED, "X-Forwarded-Context": "/user/someone-else/oauth"}),
    ("the app's entry", {"jupyter_prefix": "/user/demo/"}, {**PROXIED, "X-Forwarded-Context": "/user/demo/oauth-app"}),
    ("a server not started for a hub", {}, PROXIED),
    ("a public URL configured", {"jupyter_prefix": "/user/demo/", "public_url": "https://configured.example/oauth"},
     PROXIED),
])
def test_the_tile_teaches_only_through_our_own_proxy(start_server, case, settings, headers):
    server = start_server(seed=7, **settings)
    answer = requests.get(f"{server.url}/", headers=headers, timeout=5)
    assert answer.status_code == 400 and "Wrong host" in answer.text and "token" not in answer.text


def test_the_tile_never_hands_a_token_to_another_machine():
    app = mock_server.create_app(mock_server.Settings(seed=1, jupyter_prefix="/user/demo/"))
    answer = app.test_client().get("/", headers=PROXIED, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert answer.status_code == 400 and b"token" not in answer.data


GARBAGE = {
    "not JSON": "origin=https://hub.example.org",
    "a JSON array": [HUB],
    "no prefix": {"origin": HUB["origin"]},
    "no origin": {"prefix": HUB["prefix"]},
    "a number": {**HUB, "origin": 5},
    "javascript: scheme": {**HUB, "origin": "javascript:alert(1)"},
    "ftp scheme": {**HUB, "origin": "ftp://hub.example.org"},
    "an origin with a path": {**HUB, "origin": "https://hub.example.org/user/demo"},
    "an origin with a trailing slash": {**HUB, "origin": "https://hub.example.org/"},
    "credentials in the origin": {**HUB, "origin": "https://me@hub.example.org"},
    "a query in the origin": {**HUB, "origin": "https://hub.example.org?x=1"},
    "a port out of range": {**HUB, "origin": "https://hub.example.org:99999"},
    "markup in the host": {**HUB, "origin": "https://hub<script>.example"},
    "a relative prefix": {**HUB, "prefix": "user/demo/"},
    "a prefix without its last slash": {**HUB, "prefix": "/user/demo"},
    "a prefix climbing up": {**HUB, "prefix": "/user/../admin/"},
    "a prefix with a query": {**HUB, "prefix": "/user/demo/?next=/"},
    "a protocol-relative prefix": {**HUB, "prefix": "//evil.example/"},
}


@pytest.fixture(scope="module")
def untaught():
    """One server for all the garbage: each case checks that it learned nothing."""
    with mock_server.start(port=mock_server.free_port(), seed=7) as server:
        yield server


@pytest.mark.parametrize("case", GARBAGE)
def test_garbage_is_refused(untaught, case):
    body = GARBAGE[case]
    if isinstance(body, str):
        answer = requests.post(f"{untaught.url}/_mock/public-url", data=body, timeout=5,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        answer = learn(untaught, body)
    assert_refused(answer, 400)
    assert issuer_of(untaught) == untaught.url, "a refused request must change nothing"


# --- setup() in a real kernel --------------------------------------------------------------------

@pytest.fixture
def kernel(tmp_path):
    """A python3 kernel of this venv, in an environment with no hub and our own ports."""
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTERHUB_", "MOCK_", "JUPYTER_")) or k == "MOCK_SERVER_CARDS"}
    env.update(IPYTHONDIR=str(tmp_path / "ipython"), MOCK_APP_PORT=str(mock_server.free_port()),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> dict:
    """Execute `code`; the outputs it produced, by kind: stdout text and displayed mime bundles."""
    outputs = {"stdout": "", "displayed": []}

    def collect(message):
        content = message["content"]
        if message["msg_type"] == "stream" and content["name"] == "stdout":
            outputs["stdout"] += content["text"]
        elif message["msg_type"] in ("display_data", "execute_result"):
            outputs["displayed"].append(content["data"])
        elif message["msg_type"] == "error":
            pytest.fail("\n".join(content["traceback"]))

    client.execute_interactive(code, output_hook=collect, timeout=60)
    return outputs


SETUP = """
import json, os, time
from oauth_lab import setup
os.environ["MOCK_SERVER_PORT"] = "{port}"  # the server a hub's proxy serves
started = time.monotonic()
lab = setup()
print(json.dumps({{"took": time.monotonic() - started, "issuer": lab.issuer,
                  "redirect_uri": lab.redirect_uri}}))
"""


def test_a_second_server_beside_the_proxied_one_never_asks(kernel):
    """07, 12 and 13 start weakened servers at fixed offsets: no proxy serves them, so asking the
    browser would only make the notebook wait."""
    port = mock_server.free_port()
    beside = run(kernel, "import json, os, time\nos.environ['JUPYTERHUB_SERVICE_PREFIX'] = '/user/demo/'\n"
                         "from oauth_lab import setup\nstarted = time.monotonic()\n"
                         f"weak = setup(port={port}, make_current=False, require_pkce=False)\n"
                         "print(json.dumps({'took': time.monotonic() - started, 'issuer': weak.issuer}))")
    result = json.loads(beside["stdout"].splitlines()[-1])
    assert not [d for d in beside["displayed"] if "application/javascript" in d], beside["displayed"]
    assert result["took"] < 3 and result["issuer"] == f"http://127.0.0.1:{port}"


def test_setup_asks_the_browser_only_under_a_hub(kernel):
    port = mock_server.free_port()
    # Headless (nbval, CI, a laptop): no hub prefix, so no script and no waiting.
    plain = run(kernel, SETUP.format(port=port))
    result = json.loads(plain["stdout"].splitlines()[-1])
    assert not [d for d in plain["displayed"] if "application/javascript" in d], plain["displayed"]
    assert result["took"] < LEARN_TIMEOUT, "setup() waited for a browser without a hub"
    assert result["issuer"] == f"http://127.0.0.1:{port}"

    # Under a hub prefix with a loopback issuer it asks — and no browser answers here: it waits
    # its few seconds, says so, and goes on with the loopback addresses.
    hub = run(kernel, "import os; os.environ['JUPYTERHUB_SERVICE_PREFIX'] = '/user/demo/'\n"
                      + SETUP.format(port=port))
    [script] = [d["application/javascript"] for d in hub["displayed"] if "application/javascript" in d]
    assert '"/user/demo/oauth/_mock/public-url"' in script and "location.origin" in script, script
    result = json.loads(hub["stdout"].splitlines()[-1])
    assert LEARN_TIMEOUT <= result["took"] < LEARN_TIMEOUT + 2, result
    assert "did not tell the server its address" in hub["stdout"]
    assert result["issuer"] == f"http://127.0.0.1:{port}"
    assert result["redirect_uri"].startswith("http://127.0.0.1:"), result

    # Once a browser has told it (as the script would, through the proxy), the next setup() —
    # another notebook — asks nothing and uses the public URLs: the server's and the app's beside it.
    owner = {"Authorization": f"Bearer {read_card(f'http://127.0.0.1:{port}')['key']}"}
    token = requests.get(f"http://127.0.0.1:{port}/_mock/public-url/token", timeout=5, headers=owner).json()["token"]
    requests.post(f"http://127.0.0.1:{port}/_mock/public-url", json={**HUB, "token": token},
                  timeout=5).raise_for_status()
    taught = run(kernel, SETUP.format(port=port))
    result = json.loads(taught["stdout"].splitlines()[-1])
    assert not [d for d in taught["displayed"] if "application/javascript" in d], taught["displayed"]
    assert result["took"] < LEARN_TIMEOUT
    assert (result["issuer"], result["redirect_uri"]) == (PUBLIC, APP_PUBLIC_CALLBACK)
