"""Clicking notebook 15 after Run All, as a learner would (see test_jupyterlab): push a fresh
authorization request (the one of Run All is used up: a request_uri is single use), decide in the
consent panel, and redeem the code with a DPoP proof."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from jupyterlab_driver import (allow_in_panel, last_seq, mock_server, output_text, run_cell_containing,
                               screenshot)


def click_allow_on_a_pushed_request(lab, artifacts, name):
    seq = last_seq()
    run_cell_containing(lab, "first_push = app.pushed_authorization_request(request)")
    consent = allow_in_panel(lab, "consent = ConsentPanel(lab, str(first_push.uri))")

    token = run_cell_containing(lab, "pushed_token = app.authorization_code(")
    assert output_text(token).strip() == "('DPoP', 'customers:ro')", output_text(token)
    screenshot(lab, artifacts / f"notebook-{name}-clicked.png")

    sent = [m for m in mock_server("transcript", since=seq)["messages"] if m["seq"] > seq]
    [pushed] = [m for m in sent if m["path"] == "/par"]
    assert pushed["status"] == 201 and pushed["request_headers"]["DPoP"], pushed  # RFC 9449 §10.1
    # What the browser carried: the app's id and the request_uri, nothing of the request itself.
    visits = [parse_qs(urlsplit(m["path"]).query) for m in sent
              if m["method"] == "GET" and m["path"].startswith("/authorize")]
    assert visits and all(set(query) == {"client_id", "request_uri"} for query in visits), visits
    [exchange] = [m for m in sent if m["path"] == "/token"]
    assert exchange["status"] == 200 and exchange["request_headers"]["DPoP"], exchange


CLICKS = {"15-tokens-that-only-work-for-you-dpop-and-par": click_allow_on_a_pushed_request}
