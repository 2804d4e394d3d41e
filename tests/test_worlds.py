"""A server that outlives the kernel (Binder's background server, `make server`, another notebook's):
whose it is, and a fresh world for each notebook that runs against it.

The owner key and its card (mock_server/owner.py), ``POST /_mock/start-over`` and the run a
notebook's clock and transcript calls belong to (mock_server/admin.py), and ``setup()`` joining a
running ``python -m mock_server --seed 1`` the way a notebook on Binder does.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import mock_server
from flows import REPORTS, authorization_url, code_tokens, query_of
from mock_server.owner import card_path, read_card
from oauth_lab.lab import setup
from oauth_lab.server_link import StartedOver
from oauth_lab.user_agent import UserAgent

ROOT = Path(__file__).resolve().parents[1]


def owner_of(server) -> dict:
    return server.admin_headers


# --- the owner key ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/_mock/clock", "/_mock/transcript", "/_mock/run", "/_mock/public-url/token"])
def test_the_admin_routes_answer_only_their_owner(server, path):
    for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": f"Basic {server.owner_key}"}):
        answer = requests.get(f"{server.url}{path}", headers=headers, timeout=5)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_token" and "owner key" in answer.json()["error_description"]
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="owner"'
    assert requests.get(f"{server.url}{path}", headers=owner_of(server), timeout=5).status_code == 200


def test_the_owners_card_holds_the_key_for_their_eyes_only(server):
    card = read_card(server.url)
    assert card["key"] == server.owner_key and card["url"] == server.url and card["pid"] == os.getpid()
    assert card_path(server.url).stat().st_mode & 0o077 == 0, "the card must be readable by its user only"


def test_the_card_goes_with_the_server():
    server = mock_server.start(port=mock_server.free_port())
    assert read_card(server.url) is not None
    server.stop()
    assert read_card(server.url) is None


def test_another_machine_is_refused_even_with_the_key():
    app = mock_server.create_app(mock_server.Settings(seed=1))
    key = app.extensions["mock_server"].owner_key
    answer = app.test_client().get("/_mock/transcript", headers={"Authorization": f"Bearer {key}"},
                                   environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert answer.status_code == 403


def test_the_owner_asks_about_any_token_and_nobody_else_may(server):
    """POST /_mock/introspect: the exercise checks ask whether a refresh token still works — one
    of a public app, which no API may introspect and the app cannot (no secret)."""
    tokens = code_tokens(server, "fernhollow-widget", scope="customers:ro")
    url = f"{server.url}/_mock/introspect"
    for headers in ({}, {"Authorization": "Bearer guessed"}):
        refused = requests.post(url, data={"token": tokens["refresh_token"]}, headers=headers, timeout=5)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token", refused.text
        assert "active" not in refused.text
    facts = requests.post(url, data={"token": tokens["refresh_token"]}, headers=owner_of(server), timeout=5).json()
    assert facts["active"] is True and facts["token_type"] == "refresh_token"
    assert facts["client_id"] == "fernhollow-widget" and facts["sub"] == "jane"
    revoked = requests.post(f"{server.url}/revoke", timeout=5,
                            data={"token": tokens["refresh_token"], "client_id": "fernhollow-widget"})
    assert revoked.status_code == 200
    for token in (tokens["refresh_token"], tokens["access_token"], "no-such-token"):
        answer = requests.post(url, data={"token": token}, headers=owner_of(server), timeout=5)
        assert answer.status_code == 200 and answer.json() == {"active": False}, answer.text
    missing = requests.post(url, data={}, headers=owner_of(server), timeout=5)
    assert missing.status_code == 400 and "token" in missing.json()["error_description"]


def test_another_machine_may_not_ask_about_tokens_even_with_the_key():
    app = mock_server.create_app(mock_server.Settings(seed=1))
    key = app.extensions["mock_server"].owner_key
    answer = app.test_client().post("/_mock/introspect", data={"token": "x"},
                                    headers={"Authorization": f"Bearer {key}"},
                                    environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert answer.status_code == 403


# --- starting the world over -----------------------------------------------------------------------

def test_a_deterministic_world_starts_over_from_its_first_instant(server):
    first = code_tokens(server, scope="customers:ro", state="one")
    registered = requests.post(f"{server.url}/register", json={"redirect_uris": ["https://a.example/cb"]})
    server.clock.advance(3600)
    run = requests.get(f"{server.url}/_mock/run", headers=owner_of(server)).json()["run"]

    answer = requests.post(f"{server.url}/_mock/start-over", headers=owner_of(server), timeout=5)
    assert answer.status_code == 200 and answer.json()["run"] != run
    assert server.clock.isoformat() == "2026-01-05T09:00:00+00:00"
    assert server.transcript.last_seq() == 0
    assert code_tokens(server, scope="customers:ro", state="one") == first, "the same requests, the same tokens"
    app = requests.get(f"{server.url}/.well-known/oauth-authorization-server")
    assert app.ok
    gone = requests.post(f"{server.url}/token", timeout=5, data={"grant_type": "client_credentials"},
                         auth=(registered.json()["client_id"], registered.json()["client_secret"]))
    assert gone.status_code == 401, "an app registered before is gone"


def test_tokens_and_sign_ins_of_the_old_world_are_gone(server):
    browser = UserAgent()
    tokens = code_tokens(server, scope="customers:ro")
    browser.authorize(authorization_url(server, scope="customers:ro"))  # Jane is signed in now
    requests.post(f"{server.url}/_mock/start-over", headers=owner_of(server)).raise_for_status()
    api = requests.post(f"{server.url}/v3.5/agent/action/list_customers", json={},
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert api.status_code == 401 and 'error="invalid_token"' in api.headers["WWW-Authenticate"]
    refresh = requests.post(f"{server.url}/token", auth=REPORTS, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    page = browser.session.get(authorization_url(server, scope="customers:ro"))
    assert "<h1>Sign in</h1>" in page.text, "a browser signed in to the old world must sign in again"


def test_a_random_server_keeps_what_its_users_made(start_server):
    server = start_server()  # no seed: `make server`, a workshop's LAN server
    answer = requests.post(f"{server.url}/_mock/start-over", headers=owner_of(server))
    assert answer.status_code == 409 and answer.json()["error"] == "not_deterministic"


def test_the_livechat_profile_forgets_its_redirect_count():
    """It counts on the virtual clock, which goes back: the redirects it counted go with it."""
    from test_livechat_profile import landing

    with mock_server.start(port=mock_server.free_port(), seed=2, profile="livechat") as server:
        browser = UserAgent()
        assert all("code=" in landing(server, browser=browser) for _ in range(3))
        assert "too_many_redirects" in landing(server, browser=browser)
        requests.post(f"{server.url}/_mock/start-over", headers=owner_of(server)).raise_for_status()
        assert "code=" in landing(server), "a fresh world has counted nothing yet"


def test_a_notebooks_calls_name_their_run(server):
    run = requests.get(f"{server.url}/_mock/run", headers=owner_of(server)).json()["run"]
    mine = {**owner_of(server), "X-Mock-Run": run}
    assert requests.get(f"{server.url}/_mock/transcript", headers=mine).status_code == 200
    requests.post(f"{server.url}/_mock/start-over", headers=owner_of(server)).raise_for_status()
    stale = requests.get(f"{server.url}/_mock/transcript", headers=mine)
    assert stale.status_code == 409 and stale.json()["error"] == "started_over"
    assert "Run setup() again" in stale.json()["error_description"]


# --- setup() against a server that outlives the kernel ---------------------------------------------

@pytest.fixture
def background_server(tmp_path):
    """`python -m mock_server --seed 1` in the background, as binder/start runs it."""
    port = mock_server.free_port()
    process = subprocess.Popen([sys.executable, "-m", "mock_server", "--port", str(port), "--seed", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not mock_server.runner.port_in_use("127.0.0.1", port):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.05)
    assert read_card(url) is not None
    yield port
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert read_card(url) is None, "the card must go when the server stops"


def one_code(lab) -> dict:
    browser = UserAgent(reach=lab.reach())
    return query_of(browser.authorize(
        f"{lab.metadata['authorization_endpoint']}?response_type=code&client_id=fernhollow-reports"
        f"&scope=customers:ro&state=s&redirect_uri={requests.utils.quote(lab.redirect_uri, safe='')}"))


def test_setup_starts_a_running_servers_world_over_every_time(background_server, capsys):
    first = setup(port=background_server, make_current=False)
    said = capsys.readouterr().out
    assert "joined the server already running at" in said and "started by python -m mock_server" in said
    assert "its world started over for this notebook: seed 1" in said
    code = one_code(first)["code"]
    first.clock.advance(600)

    again = setup(port=background_server, make_current=False)  # Restart & Run All
    assert one_code(again)["code"] == code, "the same requests give the same code again"
    assert again.clock.isoformat() == "2026-01-05T09:00:00+00:00"
    assert [m["path"].split("?")[0] for m in again.transcript.messages()][:1] == ["/.well-known/oauth-authorization-server"]
    with pytest.raises(StartedOver, match="started over since yours began"):
        first.transcript.messages()  # the first run's lab: no longer its world


def test_setup_refuses_a_server_it_has_no_card_for(background_server, monkeypatch, tmp_path):
    """Another user on the same machine: the server answers, but this user has no card for it."""
    monkeypatch.setenv("MOCK_SERVER_CARDS", str(tmp_path / "someone-else"))
    with pytest.raises(RuntimeError, match="it is not yours: this user has no card for it"):
        setup(port=background_server, make_current=False)
    requests_made = requests.get(f"http://127.0.0.1:{background_server}/_mock/transcript")
    assert requests_made.status_code == 401, "nor can it read the transcript by hand"
