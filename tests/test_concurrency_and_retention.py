"""One learner's server: requests in parallel (no request-wide lock), races settled by the database,
token strings never stored, and a size that stays flat (bounded transcript, expired rows purged)."""
from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import text

import mock_server
from flows import WIDGET, call_api, code_tokens, dpop_key, dpop_proof, pkce_pair, push, token
from mock_server.retention import GRACE, Purger, purge
from mock_server.state import serving
from test_workshop import assert_exactly_one_won, race_a_code, race_a_refresh


def client_credentials(server):
    return token(server, {"grant_type": "client_credentials", "scope": "customers:ro"})


@pytest.mark.parametrize("seed", [None, 3])
def test_a_client_trickling_its_body_delays_nobody(start_server, seed):
    server = start_server(seed=seed)
    slow = socket.create_connection(("127.0.0.1", server.settings.port))
    slow.sendall(b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                 b"\r\nContent-Length: 40\r\n\r\ngrant_type=")
    try:
        started = time.monotonic()
        for _ in range(5):
            assert client_credentials(server).status_code == 200
        assert time.monotonic() - started < 2
    finally:
        slow.close()


def test_idle_connections_do_not_stall_the_default_server():
    """`python -m mock_server` (waitress): a web page, or anything on the machine, opening more
    idle connections than the server serves at once must not make every request wait."""
    port = mock_server.free_port()
    process = subprocess.Popen([sys.executable, "-m", "mock_server", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server"
    idle = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(150)]
        started = time.monotonic()
        assert requests.get(url, timeout=15).status_code == 200
        assert time.monotonic() - started < 3
    finally:
        for connection in idle:
            connection.close()
        process.terminate()
        process.wait(10)


def test_an_oversized_body_is_refused_413_unread(server):
    answer = requests.post(f"{server.url}/token", data=b"a=" + b"x" * 300_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and answer.json()["error"] == "invalid_request"
    page = requests.post(f"{server.url}/login", data=b"a=" + b"x" * 300_000,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert page.status_code == 413 and page.headers["Content-Type"].startswith("text/html")


def test_a_code_and_a_refresh_token_raced_on_one_learners_server(start_server):
    server = start_server(seed=None)
    assert_exactly_one_won(server, race_a_code(server))
    winner = assert_exactly_one_won(server, race_a_refresh(server))
    assert call_api(server, "list_customers", winner["access_token"]).status_code == 401


def test_token_strings_are_never_stored(start_server, tmp_path):
    db = tmp_path / "oauth.sqlite3"
    server = start_server(db=str(db), seed=None)
    tokens = code_tokens(server, scope="customers:ro")
    opaque = start_server(db=str(tmp_path / "opaque.sqlite3"), access_token_format="opaque")
    opaque_tokens = code_tokens(opaque, scope="customers:ro")
    assert call_api(opaque, "list_customers", opaque_tokens["access_token"]).status_code == 200
    server.stop()
    opaque.stop()
    for path, issued in ((db, tokens), (tmp_path / "opaque.sqlite3", opaque_tokens)):
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # WAL too
        for value in (issued["access_token"], issued["refresh_token"]):
            assert value.encode() not in stored
            assert value.split(".")[-1].encode() not in stored  # not even a JWT's signature


def test_a_database_from_before_token_hashes_keeps_its_tokens(start_server, tmp_path):
    db = tmp_path / "old.sqlite3"
    first = start_server(db=str(db), seed=None)
    tokens = code_tokens(first, scope="customers:ro")
    first.stop()
    with sqlite3.connect(db) as old:  # the token table as it was: the strings themselves
        old.execute("ALTER TABLE tokens RENAME TO tokens_new")
        old.execute("CREATE TABLE tokens AS SELECT * FROM tokens_new")
        old.execute("ALTER TABLE tokens ADD COLUMN access_token TEXT")
        old.execute("ALTER TABLE tokens ADD COLUMN refresh_token TEXT")
        old.execute("UPDATE tokens SET access_token = ?, refresh_token = ?, access_token_hash = 'x', "
                    "refresh_token_hash = 'y'", (tokens["access_token"], tokens["refresh_token"]))
        old.execute("DROP TABLE tokens_new")
    second = start_server(db=str(db), seed=None)
    assert call_api(second, "list_customers", tokens["access_token"]).status_code == 200
    assert token(second, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).status_code == 200


def test_the_transcript_keeps_its_last_messages_numbered_on(start_server, monkeypatch):
    monkeypatch.setattr("mock_server.transcript.WINDOW", 5)
    server = start_server(seed=None)
    for _ in range(8):
        requests.get(f"{server.url}/.well-known/jwks.json")
    messages = server.transcript.messages()
    assert [m.seq for m in messages] == [4, 5, 6, 7, 8] and server.transcript.last_seq() == 8


def purged_rows(server) -> int:
    """Purge now; the token rows left."""
    state = server.app.extensions["mock_server"]
    with server.app.app_context(), serving(state):
        purge(state)
        return state.db.execute(text("SELECT count(*) FROM tokens")).scalar()


def test_expired_rows_are_purged_after_a_grace_and_live_ones_kept(start_server):
    server = start_server(seed=None)
    spent = client_credentials(server).json()["access_token"]
    refreshable = code_tokens(server, scope="customers:ro")
    server.clock.advance(3601)  # expired, but still said so
    assert purged_rows(server) == 2
    assert "expired at" in call_api(server, "list_customers", spent).json()["error_description"]
    server.clock.advance(GRACE)  # the access tokens are long gone; the refresh token lives on
    kept = client_credentials(server).json()["access_token"]
    assert purged_rows(server) == 2  # the refreshable grant and the new token
    assert call_api(server, "list_customers", spent).status_code == 401
    assert call_api(server, "list_customers", kept).status_code == 200
    refreshed = token(server, {"grant_type": "refresh_token", "refresh_token": refreshable["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


def rows(server, table: str) -> int:
    """Purge now; the rows of `table` left."""
    state = server.app.extensions["mock_server"]
    with server.app.app_context(), serving(state):
        purge(state)
        return state.db.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_dpop_proofs_nonces_and_pushed_requests_are_purged_once_useless(start_server):
    """RFC 9449 §11.1 (a proof's jti, kept while the proof could be accepted), §8 (nonces), RFC 9126
    (pushed requests, kept a grace past their expiry like codes): the tables stay bounded."""
    server = start_server(seed=None, require_dpop_nonce=True)
    key = dpop_key()
    nonce = token(server, {"grant_type": "client_credentials"}, headers={
        "DPoP": dpop_proof(server, key, "POST", "/token")}).headers["DPoP-Nonce"]
    assert token(server, {"grant_type": "client_credentials"}, headers={
        "DPoP": dpop_proof(server, key, "POST", "/token", nonce=nonce)}).status_code == 200
    assert push(server, WIDGET, scope="customers:ro", code_challenge=pkce_pair()[1],
                code_challenge_method="S256").status_code == 201
    assert (rows(server, "dpop_proofs"), rows(server, "dpop_nonces"), rows(server, "pushed_requests")) == (1, 1, 1)
    server.clock.advance(361)  # past a proof's 300 s (+60 s of skew) and a nonce's 300 s
    assert (rows(server, "dpop_proofs"), rows(server, "dpop_nonces"), rows(server, "pushed_requests")) == (0, 0, 1)
    server.clock.advance(GRACE)
    assert rows(server, "pushed_requests") == 0


@pytest.mark.parametrize("seed, left", [(None, 0), (5, 1)])
def test_deterministic_mode_purges_nothing(start_server, seed, left):
    server = start_server(seed=seed)
    client_credentials(server)
    server.clock.advance(3601 + GRACE)
    state = server.app.extensions["mock_server"]
    with server.app.app_context(), serving(state):
        Purger(every=0).maybe_purge(state)  # as after a request, once it is time
        assert state.db.execute(text("SELECT count(*) FROM tokens")).scalar() == left
