"""Notebook 10's two APIs, as an app calling them sees them: the local JWT check keeps accepting
a revoked token until it expires, the introspecting one refuses it at once (or after its cache)."""
from __future__ import annotations

import pytest
import requests

import mock_server
from oauth_lab import resource_servers
from oauth_lab.flows import authorization_code_flow
from oauth_lab.jwt_access_tokens import with_claims
from oauth_lab.widgets.api_comparison import ApiComparison

REPORTS = ("fernhollow-reports", "reports-secret")


@pytest.fixture
def apis(lab):
    started = [resource_servers.LocalCheck(lab, mock_server.free_port()),
               resource_servers.IntrospectionCheck(lab, mock_server.free_port())]
    yield started
    for api in started:
        api.stop()


@pytest.fixture
def tokens(lab):
    return authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret=REPORTS[1]).token


def revoke(lab, token):
    assert requests.post(lab.endpoint("revocation"), data={"token": token}, auth=REPORTS).status_code == 200


def answer(api, token):
    response = api.call(token)
    return response.status_code, response.json().get("error_description")


def test_both_accept_a_live_token_and_say_who_it_is_for(apis, tokens):
    for api in apis:
        response = api.call(tokens["access_token"])
        assert response.status_code == 200 and "WWW-Authenticate" not in response.headers
        assert response.json() == {"sub": "jane", "client_id": "fernhollow-reports", "scope": "customers:ro"}


def test_after_revocation_only_the_introspecting_api_refuses(lab, apis, tokens):
    local, introspecting = apis
    revoke(lab, tokens["refresh_token"])
    assert answer(local, tokens["access_token"]) == (200, None)
    assert answer(introspecting, tokens["access_token"]) == (401, "the authorization server says it is not active")
    challenge = introspecting.call(tokens["access_token"]).headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="agent-api", error="invalid_token"')
    lab.clock.advance(3600)
    assert answer(local, tokens["access_token"]) == (401, "the exp check failed")


def test_the_local_check_asks_the_server_only_for_its_keys(lab, apis, tokens):
    local, introspecting = apis
    for _ in range(3):
        local.call(tokens["access_token"])
        introspecting.call(tokens["access_token"])
    assert local.calls_to_authorization_server == 1  # the JWKS, at start
    assert introspecting.calls_to_authorization_server == 3


def test_the_local_check_fetches_the_keys_again_for_a_new_key(lab, apis):
    local, _ = apis
    lab.handle.keys.rotate()
    fresh = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret=REPORTS[1]).token
    assert answer(local, fresh["access_token"]) == (200, None)
    assert local.calls_to_authorization_server == 2


def test_a_cache_hides_a_revocation_until_its_entry_ends(lab, apis, tokens):
    _, introspecting = apis
    introspecting.cache_seconds = 300
    assert answer(introspecting, tokens["access_token"]) == (200, None)
    revoke(lab, tokens["access_token"])
    assert answer(introspecting, tokens["access_token"]) == (200, None)  # from the cache
    assert introspecting.calls_to_authorization_server == 1
    lab.clock.advance(300)
    assert answer(introspecting, tokens["access_token"])[0] == 401
    assert introspecting.calls_to_authorization_server == 2


def test_a_cached_answer_never_outlives_the_token(lab, apis, tokens):
    _, introspecting = apis
    introspecting.cache_seconds = 24 * 3600
    assert answer(introspecting, tokens["access_token"]) == (200, None)
    lab.clock.advance(3600)  # the token's exp, long before the cache period ends
    assert answer(introspecting, tokens["access_token"])[0] == 401


def test_neither_takes_a_refresh_token_or_garbage_for_an_access_token(apis, tokens):
    local, introspecting = apis
    assert answer(local, tokens["refresh_token"]) == (401, "not a JWT")
    # A refresh token is never sent to an API (RFC 6749 §1.5): introspection tells the API nothing.
    assert answer(introspecting, tokens["refresh_token"]) == (401, "the authorization server says it is not active")
    assert answer(local, "not-a-token") == (401, "not a JWT")
    assert answer(introspecting, "not-a-token") == (401, "the authorization server says it is not active")


def test_an_edited_token_fails_the_local_signature_check(apis, tokens):
    local, _ = apis
    assert answer(local, with_claims(tokens["access_token"], scope="agents--all:rw")) == \
        (401, "the signature check failed")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer"}])
def test_no_bearer_token_gets_the_bare_challenge(apis, headers):
    for api in apis:
        response = requests.get(api.url, headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="agent-api"'


def test_only_the_protected_path_exists(apis):
    assert requests.get(apis[0].url.replace("/protected", "/admin")).status_code == 404


def test_start_puts_each_api_at_its_offset_from_the_app_and_reuses_them(lab):
    local, introspecting = resource_servers.start(lab)
    try:
        assert (local.port, introspecting.port) == (lab.app.port + 2, lab.app.port + 3)
        assert resource_servers.start(lab) == (local, introspecting)  # running the cell again
    finally:
        local.stop()
        introspecting.stop()


def test_start_explains_a_port_someone_else_holds(lab):
    squatter = resource_servers.LocalCheck(lab, lab.app.port + 2)  # not started by start(): another kernel's
    try:
        with pytest.raises(RuntimeError, match="another notebook's kernel"):
            resource_servers.start(lab)
    finally:
        squatter.stop()


# --- the side-by-side widget -------------------------------------------------------------------

def test_comparison_rows_follow_revocation_and_expiry(lab, apis, tokens):
    comparison = ApiComparison(lab, tokens["access_token"], apis)
    revoke(lab, tokens["refresh_token"])
    comparison.call("after the revocation")
    comparison.plus_1h.click()
    statuses = [[a.status for a in row.answers] for row in comparison.rows]
    assert statuses == [[200, 200], [200, 401], [401, 401]]
    lines = comparison.text().splitlines()
    assert lines[0].split() == ["local", "JWT", "check", "introspection"]
    assert "after the revocation" in lines[2] and "200 accepted" in lines[2] and "401 the authorization" in lines[2]
    assert "60 min later" in lines[3] and "401 the exp check failed" in lines[3]
    assert lines[-1] == "Calls to the authorization server while answering: local JWT check 0 · introspection 3"
    assert comparison._repr_mimebundle_()["text/plain"] == comparison.text()
    assert "asks the authorization server about each token" in comparison.view.value
    assert comparison.view.value.count("<tr class='step'>") == 3


def test_comparison_buttons_call_and_move_the_clock(lab, apis, tokens):
    comparison = ApiComparison(lab, tokens["access_token"], apis)
    start = lab.clock.now()
    comparison.call_button.click()
    comparison.plus_10min.click()
    assert 600 <= lab.clock.now() - start < 605  # this lab's clock also follows real time (seed=None)
    assert [row.step for row in comparison.rows] == ["first call", "call", "10 min later"]
    assert all(a.status == 200 for row in comparison.rows for a in row.answers)
