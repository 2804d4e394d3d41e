"""Clicking notebook 07's widget after Run All, as a learner would (see test_jupyterlab)."""
from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

from oauthlib.oauth2 import WebApplicationClient

from jupyterlab_driver import (allow_in_panel, last_seq, mock_server, output_text, run_cell_containing,
                               screenshot)


def click_allow_with_pkce(lab, artifacts, name):
    """Allow in the consent panel of the by-hand PKCE flow: the next cell's token request, with
    the verifier, gets the token; the server saw the challenge in front and the verifier behind."""
    seq = last_seq()
    consent = allow_in_panel(lab, "consent = ConsentPanel(lab, url)")  # a fresh request

    token = run_cell_containing(lab, "code_verifier=verifier, include_client_id=True")
    assert output_text(token).strip() == "['chats--access:ro']", output_text(token)
    run_cell_containing(lab, "SequenceDiagram(lab.transcript.flow(state=state)")
    screenshot(lab, artifacts / f"notebook-{name}-clicked.png")

    sent = [m for m in mock_server("transcript", since=seq)["messages"] if m["seq"] > seq]
    decisions = [m for m in sent if m["method"] == "POST" and m["path"].startswith("/authorize")]
    assert [dict(parse_qsl(m["request_body"]))["decision"] for m in decisions] == ["allow"], decisions
    # The browser asks for the authorization URL twice: before and after signing in.
    requests = [parse_qs(urlsplit(m["path"]).query) for m in sent
                if m["method"] == "GET" and m["path"].startswith("/authorize")]
    [challenge] = {request["code_challenge"][0] for request in requests}
    assert not any("code_verifier" in request for request in requests), "the verifier went through the browser"
    [exchange] = [m for m in sent if m["path"] == "/token"]
    form = dict(parse_qsl(exchange["request_body"]))
    assert exchange["status"] == 200 and "client_secret" not in form, exchange
    assert WebApplicationClient("x").create_code_challenge(form["code_verifier"], "S256") == challenge


CLICKS = {"07-pkce-and-public-clients": click_allow_with_pkce}
