"""An OAuth error no cell expected, in a real Jupyter kernel: Jane clicked Deny (in her browser, or
in the panel), and the next cell, the learner's own `fetch_token`, meets it. The kernel shows the
course's failure panel — what the app saw, what the server said, the RFC — and one line, not
oauthlib's 40-line traceback; the cell still stops (Run All stops there too). Other errors keep
their traceback."""
from __future__ import annotations

import os
from queue import Empty

import pytest
from jupyter_client.manager import start_new_kernel

import mock_server

SETUP = """
from requests_oauthlib import OAuth2Session
from oauth_lab import setup
from oauth_lab.widgets.consent_panel import ConsentPanel

lab = setup(seed=None, port={port})
oauth = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["chats--access:ro"], pkce="S256")
authorization_url, state = oauth.authorization_url(lab.metadata["authorization_endpoint"])
consent = ConsentPanel(lab, authorization_url)
"""
FETCH = 'token = oauth.fetch_token(lab.endpoint("token"), authorization_response=redirect, client_secret="reports-secret")'


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A real IPython kernel (this virtualenv's), with a lab of its own: its server on a free port,
    its app's redirect URI on another."""
    env = dict(os.environ, MOCK_APP_PORT=str(mock_server.free_port()),
               IPYTHONDIR=str(tmp_path_factory.mktemp("ipython")))
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        assert run(client, SETUP.format(port=mock_server.free_port()))["status"] == "ok"
        yield client
    finally:
        run(client, "lab.handle.stop()")
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> dict:
    """Execute a cell; its outputs (text/plain of each display, the error's traceback) and status."""
    msg_id = client.execute(code)
    outputs = {"displays": [], "traceback": None, "stream": ""}
    while True:
        try:
            message = client.get_iopub_msg(timeout=30)
        except Empty:
            pytest.fail(f"no answer from the kernel for {code!r}")
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind in ("display_data", "execute_result"):
            outputs["displays"].append(content["data"])
        elif kind == "error":
            outputs["traceback"] = content["traceback"]
        elif kind == "stream":
            outputs["stream"] += content["text"]
        elif kind == "status" and content["execution_state"] == "idle":
            break
    while (reply := client.get_shell_msg(timeout=30))["parent_header"].get("msg_id") != msg_id:
        pass  # a reply to an earlier request (a busy machine may deliver it late)
    outputs["status"] = reply["content"]["status"]
    return outputs


def test_deny_then_fetch_token_shows_the_failure_panel(kernel):
    assert run(kernel, 'redirect = consent.decide("Deny")')["status"] == "ok"
    ran = run(kernel, FETCH)
    assert ran["status"] == "error"  # the cell stops: the app got no token
    (panel,) = ran["displays"]
    lines = panel["text/plain"].splitlines()
    assert lines == [
        "Your app sees: oauthlib: AccessDeniedError",
        "Server answered: with an error, in the redirect to your app (the front channel)",
        "error: access_denied",
        "error_description: The resource owner or authorization server denied the request",
        "Standard: RFC 6749 §4.1.2.1 — the user (or the server) said no"], lines
    assert "<table" in panel["text/html"] and "access_denied" in panel["text/html"]
    assert ran["traceback"] == [
        "AccessDeniedError: the cell stopped here (the failure above; %tb shows the traceback)"]
    # ... and the traceback is still there for whoever asks
    full = "\n".join(run(kernel, "%tb")["traceback"])
    assert "rfc6749/parameters.py" in full and "AccessDeniedError" in full and len(full.splitlines()) > 20


def test_an_error_in_the_token_response_names_the_servers_answer(kernel):
    run(kernel, 'consent.try_again(); redirect = consent.decide("Allow")')
    assert run(kernel, FETCH)["status"] == "ok"
    ran = run(kernel, FETCH)  # the same code again: already used
    assert ran["status"] == "error"
    text = ran["displays"][0]["text/plain"]
    assert text.startswith("Your app sees: oauthlib: InvalidGrantError\n"
                           "Server answered: HTTP 400 from POST /token\nerror: invalid_grant\n"), text
    assert "Standard: RFC 6749 §5.2" in text and len(ran["traceback"]) == 1


def test_an_error_of_the_apps_own_making_says_no_request_reached_the_server(kernel):
    ran = run(kernel, 'oauth.fetch_token(lab.endpoint("token"), client_secret="reports-secret",'
                      ' authorization_response=lab.redirect_uri + "?code=x&state=not-ours")')
    assert ran["displays"][0]["text/plain"].splitlines()[:2] == [
        "Your app sees: oauthlib: MismatchingStateError", "Server answered: nothing: no request reached it"]


def test_other_errors_keep_their_traceback(kernel):
    ran = run(kernel, "1 / 0")
    assert ran["status"] == "error" and ran["displays"] == []
    assert len(ran["traceback"]) > 1 and "ZeroDivisionError" in ran["traceback"][-1]
