"""12 · Security lab: each wrong callback the check must refuse, with the reason it gives (the
check attacks the learner's function: a planted code, a mix-up, and Jane's own answer)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

import mock_server
from oauth_lab.exercises import security_lab
from oauth_lab.lab import setup


@pytest.fixture(scope="module")
def servers():
    lab = setup(seed=None, port=mock_server.free_port())
    no_pkce = setup(seed=None, port=mock_server.free_port(), make_current=False, require_pkce=False)
    yield lab, no_pkce
    no_pkce.handle.stop()
    lab.handle.stop()


def iss_of(redirect):
    return dict(parse_qsl(urlsplit(redirect).query)).get("iss")


def careless(app, redirect, issuer, token_endpoint):
    code = dict(parse_qsl(urlsplit(redirect).query))["code"]
    return app.fetch_token(token_endpoint, code=code, include_client_id=True)


def state_only(app, redirect, issuer, token_endpoint):
    return app.fetch_token(token_endpoint, authorization_response=redirect, include_client_id=True)


def iss_only(app, redirect, issuer, token_endpoint):
    if iss_of(redirect) != issuer:
        raise ValueError("mix-up")
    return careless(app, redirect, issuer, token_endpoint)


def refuses_everything(app, redirect, issuer, token_endpoint):
    raise ValueError("no")


def iss_after_the_token(app, redirect, issuer, token_endpoint):
    token = state_only(app, redirect, issuer, token_endpoint)  # the code already went out
    if iss_of(redirect) != issuer:
        raise ValueError("mix-up")
    return token


@pytest.mark.parametrize("wrong, why", [
    (careless, "Jane's app is now connected to ada's account"),
    (iss_only, "Jane's app is now connected to ada's account"),
    (state_only, "sent Jane's code and verifier to the attacker's token endpoint"),
    (iss_after_the_token, "sent Jane's code and verifier to the attacker's token endpoint"),
    (refuses_everything, "did not return Jane's token for the answer to her own request"),
    ("careful_callback", "expected a function"),
], ids=["careless", "iss-only", "state-only", "iss-checked-too-late", "refuses-everything", "not-a-function"])
def test_a_wrong_answer_fails_with_a_reason(servers, wrong, why):
    _, no_pkce = servers
    verdict = security_lab.careful_callback.check(wrong, no_pkce)
    assert not verdict.passed and why in verdict.message, verdict.text()
