"""SQLite keeps everything across a restart; the transcript ties each flow's messages together."""
from __future__ import annotations

import re
import subprocess
import sys
import time

import requests
from flask import Flask, jsonify

import mock_server
from flows import call_api, code_tokens, token
from oauth_lab.user_agent import forms_of
from mock_server.authorization_server import AuthorizationServer
from mock_server.recording import answered_payload
from mock_server.runner import SERVER_SOFTWARE
from mock_server.transcript import Transcript


def test_everything_survives_a_restart_on_the_same_sqlite_file(start_server, tmp_path):
    db, port = str(tmp_path / "oauth.sqlite3"), mock_server.free_port()
    first = start_server(db=db, port=port)
    app = requests.post(f"{first.url}/register", json={
        "client_name": "Night Shift Reports", "redirect_uris": ["http://127.0.0.1:8765/callback"],
        "grant_types": ["client_credentials"], "scope": "customers:ro"}).json()
    tokens = code_tokens(first, scope="customers:ro")
    first.stop()

    second = start_server(db=db, port=port)
    assert call_api(second, "list_customers", tokens["access_token"]).status_code == 200  # same key
    refreshed = token(second, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new_app = token(second, {"grant_type": "client_credentials"}, auth=(app["client_id"], app["client_secret"]))
    assert new_app.status_code == 200 and new_app.json()["scope"] == "customers:ro"
    # Rotation state survived too: the pre-restart refresh token is now spent.
    assert token(second, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).status_code == 400


def test_a_sqlite_file_from_before_a_new_column_keeps_working(start_server, tmp_path):
    import sqlite3

    db, port = str(tmp_path / "old.sqlite3"), mock_server.free_port()
    first = start_server(db=db, port=port)
    tokens = code_tokens(first, scope="customers:ro")
    first.stop()
    with sqlite3.connect(db) as old:  # as the file was before tokens.refresh_scope existed
        old.execute("ALTER TABLE tokens DROP COLUMN refresh_scope")
    second = start_server(db=db, port=port)
    refreshed = token(second, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["scope"] == "customers:ro", refreshed.text


def test_memory_storage_forgets_on_restart(start_server):
    port = mock_server.free_port()
    first = start_server(port=port)
    tokens = code_tokens(first, scope="customers:ro")
    first.stop()
    second = start_server(port=port)
    assert call_api(second, "list_customers", tokens["access_token"]).status_code == 401


def test_flow_collects_front_and_back_channel_messages_of_one_flow(server):
    tokens = code_tokens(server, scope="customers:ro", state="flow-1")
    call_api(server, "list_customers", tokens["access_token"])
    token(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    code_tokens(server, scope="customers:ro", state="flow-2")  # another flow: must not leak in

    flow = server.transcript.flow(state="flow-1")
    steps = [(m.channel, m.method, m.path.split("?")[0], m.status) for m in flow]
    assert steps == [
        ("front", "GET", "/authorize", 200),   # login page
        ("front", "POST", "/login", 303),   # 303: never repeat the POST with the password
        ("front", "GET", "/authorize", 200),   # consent page
        ("front", "POST", "/authorize", 302),  # Allow -> redirect with code
        ("back", "POST", "/token", 200),       # code -> tokens
        ("back", "POST", "/v3.5/agent/action/list_customers", 200),
        ("back", "POST", "/token", 200),       # refresh
    ]
    assert flow[4].request_headers["Authorization"].startswith("Basic ")
    assert "refresh_token" in flow[4].response_body


def chained_backwards(transcript: Transcript, length: int, body: str = "") -> None:
    """A flow whose messages each share a key with the one before them, found from the last one:
    followed pass by pass, each pass over the transcript would find one more message."""
    for seq in range(1, length + 1):
        keys = [f"code:c{seq}", f"code:c{seq + 1}"] if seq < length else [f"code:c{seq}", "state:K"]
        transcript.append(time=0, channel="back", method="POST", path="/token", request_headers={},
                          request_body=body, status=200, response_headers={}, response_body="", keys=keys)


def test_following_a_flow_takes_time_linear_in_the_transcripts_length():
    transcript = Transcript()
    chained_backwards(transcript, 5000)
    started = time.perf_counter()
    flow = transcript.flow(state="K")
    assert time.perf_counter() - started < 0.5  # it took 5 s when it grew with the square
    assert [m.seq for m in flow] == list(range(1, 5001))


def test_a_transcript_entry_keeps_a_bounded_path_and_says_so(server):
    assert requests.get(f"{server.url}/nothing", params={"pad": "x" * 60_000}).status_code == 404
    [message] = server.transcript.messages(server.transcript.last_seq() - 1)
    kept, cut = re.fullmatch(r"(/nothing\?pad=x+)… \(([\d,]+) more characters not kept\)", message.path).groups()
    assert len(kept) <= 4096 and len(kept) + int(cut.replace(",", "")) == len("/nothing?pad=") + 60_000


def test_a_transcript_keeps_within_its_memory_budget():
    transcript = Transcript(budget=1_000_000)
    chained_backwards(transcript, 1000, body="x" * 10_000)  # ten times the budget
    kept = transcript.messages()
    assert sum(len(m.request_body) for m in kept) <= 1_000_000
    assert kept[-1].seq == 1000 and len(kept) >= 90  # the newest, as many as fit


def test_transcript_over_http(server):
    code_tokens(server, scope="customers:ro", state="over-http")
    owner = server.admin_headers
    messages = requests.get(f"{server.url}/_mock/transcript", params={"key": "state:over-http"},
                            headers=owner).json()["messages"]
    assert [m["path"].split("?")[0] for m in messages] == ["/authorize", "/login", "/authorize", "/authorize"]
    assert requests.get(f"{server.url}/_mock/transcript", params={"since": "x"}, headers=owner).status_code == 400
    assert requests.delete(f"{server.url}/_mock/transcript", headers=owner).json() == {"cleared": True}


def test_a_console_registration_names_its_app_in_the_transcript(server):
    """The console answers a page, not JSON: the new client id is tagged all the same, so the
    app's first message can be found by its id, as a registration through /register can."""
    browser = requests.Session()
    form = forms_of(browser.get(f"{server.url}/console").text)[-1].fields
    registered = browser.post(f"{server.url}/console", data=dict(
        form, client_name="Console App", app_type="browser", redirect_uris="https://app.example/cb"))
    refused = browser.post(f"{server.url}/console", data=dict(
        form, client_name="Typo App", app_type="browser", redirect_uris="htp://app.example/cb"))
    assert (registered.status_code, refused.status_code) == (201, 400)
    *_, first, second = server.transcript.messages()
    [client_id] = [key for key in first.keys if key.startswith("client_id:")]
    assert client_id[len("client_id:"):] in registered.text
    assert not [key for key in second.keys if key.startswith("client_id:")]


def test_cli_prints_the_banner_and_serves(tmp_path):
    port = mock_server.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "--port", str(port), "--seed", "1", "--allow-implicit"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = [process.stdout.readline() for _ in range(14)]
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server")
                metadata = answer.json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(5)
    text = "".join(banner)
    assert f"http://127.0.0.1:{port}" in text
    assert "jane   / jane-password   agent" in text and "ada    / ada-password    administrator" in text
    assert "fernhollow-reports       reports-secret" in text
    assert "INSECURE teaching switches ON: allow_implicit=True" in text
    assert metadata["mock_server_teaching_switches"] == {"allow_implicit": True}
    assert "token" in metadata["response_types_supported"]
    assert answer.raw.headers.getlist("Server") == [SERVER_SOFTWARE]  # once, as waitress's ident


def test_in_process_server_names_itself_in_the_server_header(server):
    answer = requests.get(f"{server.url}/.well-known/jwks.json")
    assert answer.raw.headers.getlist("Server") == [SERVER_SOFTWARE]


def test_the_transcript_takes_an_authorization_servers_answer_from_its_payload():
    """What the authorization server answered is read from the payload it made (no parsing of
    the JSON just written); any other response, from its JSON."""
    app = Flask(__name__)
    with app.test_request_context("/token", method="POST"):
        payload = {"access_token": "at", "token_type": "Bearer"}
        answered = AuthorizationServer().handle_response(200, payload, [])
        assert answered_payload(answered) is payload
        other = jsonify(state="s")
        assert answered_payload(other) == {"state": "s"}
        assert answered_payload(jsonify(issuer="x")) is None  # names no flow key: not parsed
