"""13 · LiveChat in practice: each wrong answer the checks must refuse, with the reason they give."""
from __future__ import annotations

import pytest
import requests
from requests_oauthlib import OAuth2Session

import mock_server
from oauth_lab.exercises import livechat
from oauth_lab.flows import authorization_code_flow
from oauth_lab.lab import setup
from oauth_lab.widgets.consent_panel import ConsentPanel

REPORTS = ("fernhollow-reports", "reports-secret")


@pytest.fixture(scope="module")
def servers():
    lab = setup(seed=None, port=mock_server.free_port())
    lc = setup(seed=None, port=mock_server.free_port(), make_current=False, profile="livechat")
    yield lab, lc
    lc.handle.stop()
    lab.handle.stop()


def livechat_token(lc, client_id=REPORTS[0], scope=None) -> dict:
    """A code flow against the livechat server (its clock moves on: 3 redirects per 30 s)."""
    lc.clock.advance(30)
    app = OAuth2Session(client_id, redirect_uri=lc.redirect_uri, scope=scope, pkce="S256")
    url, _ = app.authorization_url(lc.metadata["authorization_endpoint"])
    secret = {"client_secret": REPORTS[1]} if client_id == REPORTS[0] else {"include_client_id": True}
    return app.fetch_token(lc.endpoint("token"), authorization_response=ConsentPanel(lc, url).decide("Allow"),
                           **secret)


@pytest.mark.parametrize("wrong, why", [
    (lambda lab, lc: ({"access_token": "dal:forged"}, lc), "not active"),
    (lambda lab, lc: (livechat_token(lc, scope="customers:ro"), lc), "carries customers:ro"),
    (lambda lab, lc: (livechat_token(lc), lc), "carries chats--access:ro,customers:ro,agents--all:ro"),
    (lambda lab, lc: (livechat_token(lc, "fernhollow-widget", "chats--access:ro,customers:ro"), lc),
     "issued to fernhollow-widget"),
    (lambda lab, lc: (authorization_code_flow(lab, REPORTS[0], ["chats--access:ro", "customers:ro"],
                                              client_secret=REPORTS[1]).token, lc), "not active"),
    (lambda lab, lc: (livechat_token(lc, scope="chats--access:ro,customers:ro"), lab), "pass the livechat server"),
], ids=["forged", "one-scope", "every-scope", "other-app", "standard-server", "wrong-server"])
def test_two_scopes_refuses(servers, wrong, why):
    answer, server = wrong(*servers)
    verdict = livechat.two_scopes.check(answer, server)
    assert not verdict.passed and why in verdict.message, verdict.text()


def reports_token(lc) -> dict:
    lc.clock.advance(30)
    return authorization_code_flow(lc, REPORTS[0], ["customers:ro"], client_secret=REPORTS[1]).token


def revoked_the_rfc7009_way(lc) -> dict:
    """POST token=... to the token endpoint: the standard's revocation request, which LiveChat does not know."""
    token = reports_token(lc)
    requests.post(lc.endpoint("token"), data={"token": token["access_token"]}, auth=REPORTS)
    return token


def left_to_expire(lc) -> dict:
    """Waiting 8 h: the access token dies, the refresh token does not."""
    token = reports_token(lc)
    lc.clock.advance(28800)
    return token


@pytest.mark.parametrize("wrong, why", [
    (lambda lab, lc: ({"access_token": "dal:forged"}, lc), "never issued this access token"),
    (lambda lab, lc: (left_to_expire(lc), lc), "the refresh token still works"),
    (lambda lab, lc: (reports_token(lc), lc), "the access token still works"),
    (lambda lab, lc: (revoked_the_rfc7009_way(lc), lc), "the access token still works"),
    (lambda lab, lc: (authorization_code_flow(lab, REPORTS[0], ["customers:ro"],
                                              client_secret=REPORTS[1]).token, lc), "never issued"),
    (lambda lab, lc: (reports_token(lc), lab), "pass the livechat server"),
], ids=["forged", "expired", "not-revoked", "rfc7009-request", "standard-server", "wrong-server"])
def test_disconnected_refuses(servers, wrong, why):
    answer, server = wrong(*servers)
    verdict = livechat.disconnected.check(answer, server)
    assert not verdict.passed and why in verdict.message, verdict.text()


@pytest.mark.parametrize("way", ["header", "code-parameter"])
def test_disconnected_passes_either_way_livechats_docs_show(servers, way):
    """LiveChat's docs: "Code snippets present two alternative ways of making the same request"."""
    _, lc = servers
    token = reports_token(lc)
    if way == "header":
        requests.delete(f"{lc.url}/v2/token", headers={"Authorization": f"Bearer {token['access_token']}"})
    else:
        requests.delete(f"{lc.url}/v2/token", params={"code": token["access_token"]})
    verdict = livechat.disconnected.check(token, lc)
    assert verdict.passed, verdict.text()
