"""RULES.md, "Resource server (RFC 6750)": the challenge an API client sees for each failure.

A ``WWW-Authenticate`` header on 401/403 only (client-interop point 10): a bare ``Bearer realm``
without a token, ``error="invalid_token"`` for a bad one, ``insufficient_scope`` with the scope needed.
"""
from __future__ import annotations

import base64
import re

import pytest
import requests

from flows import ADA, ADMIN_TOOLS, REPORTS, call_api, code_tokens, token
from oauth_lab.jwt_access_tokens import with_claims

API = "/v3.5/agent/action"


def client_token(server, scope="customers:ro") -> str:
    answer = token(server, {"grant_type": "client_credentials", "scope": scope})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def challenge_params(response) -> dict:
    header = response.headers.get("WWW-Authenticate", "")
    assert header.startswith("Bearer "), f"challenge: {header!r}"
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def assert_bearer_challenge(response, status: int, error: str | None = None, scope: str | None = None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    params = challenge_params(response)
    assert params.get("realm"), params
    assert params.get("error") == error, params
    if scope:
        assert params.get("scope") == scope, params
    if error:
        assert response.json()["error"] == error and response.json().get("error_description")


# --- no token: 401 bare challenge ----------------------------------------------------------------

def test_no_token_401_bare_bearer_challenge(server):
    assert_bearer_challenge(call_api(server, "list_customers", None), 401)


@pytest.mark.parametrize("header", ["Basic " + base64.b64encode(b"jane:jane-password").decode(), "Bearer",
                                    "Bearer   ", "", "Token abc"])
def test_no_bearer_token_401_challenge(server, header):
    answer = requests.post(f"{server.url}{API}/list_customers", json={}, headers={"Authorization": header})
    # No bearer token sent: the bare challenge, no error code (RFC 6750 §3.1).
    assert_bearer_challenge(answer, 401)


def test_no_token_at_userinfo_401_bare_bearer_challenge(server):
    assert_bearer_challenge(requests.get(f"{server.url}/userinfo"), 401)


@pytest.mark.parametrize("case", ["no token", "no openid", "revoked", "an app's own token"])
def test_userinfo_challenges_name_the_accounts_servers_realm_not_the_apis(server, case):
    """Userinfo is the accounts server's own protected resource (OIDC Core §5.3): its challenges
    name its realm; the agent API's stay the API's (RFC 6750 §3)."""
    if case == "an app's own token":  # client credentials: a token with openid, but no user
        bearer = client_token(server, "openid customers:ro")
    else:
        tokens = code_tokens(server, scope="customers:ro" if case == "no openid" else "openid profile")
        bearer = tokens["access_token"]
        if case == "revoked":
            requests.post(f"{server.url}/revoke", data={"token": bearer}, auth=REPORTS)
    headers = {} if case == "no token" else {"Authorization": f"Bearer {bearer}"}
    answer = requests.get(f"{server.url}/userinfo", headers=headers)
    assert answer.status_code == (403 if case == "no openid" else 401), answer.text
    assert challenge_params(answer)["realm"] == "fernhollow-accounts"
    api = call_api(server, "list_chats", None if case == "no token" else bearer)
    assert challenge_params(api)["realm"] == "agent-api"


# --- malformed / expired / revoked: 401 invalid_token --------------------------------------------

@pytest.mark.parametrize("bad", ["not-a-token", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJqYW5lIn0.",
                                 "x" * 5000, "é"])
def test_malformed_token_401_invalid_token(server, bad):
    assert_bearer_challenge(call_api(server, "list_customers", bad), 401, "invalid_token")


@pytest.mark.parametrize("change", [{"scope": "chats--all:rw customers:ro"}, {"exp": 4102444800},
                                    {"sub": "ada"}], ids=["scope", "exp", "sub"])
def test_tampered_jwt_401_invalid_token(server, change):
    forged = with_claims(client_token(server), **change)
    assert_bearer_challenge(call_api(server, "list_customers", forged), 401, "invalid_token")


def test_tampered_signature_401_invalid_token(server):
    good = client_token(server)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert_bearer_challenge(call_api(server, "list_customers", forged), 401, "invalid_token")


def test_unknown_opaque_token_401_invalid_token(start_server):
    server = start_server(seed=7, access_token_format="opaque")
    assert call_api(server, "list_customers", client_token(server)).status_code == 200
    assert_bearer_challenge(call_api(server, "list_customers", "at_unknown"), 401, "invalid_token")


def test_expired_token_401_invalid_token(server):
    access_token = client_token(server)
    server.clock.advance(3601)
    answer = call_api(server, "list_customers", access_token)
    assert_bearer_challenge(answer, 401, "invalid_token")
    assert "expired" in answer.json()["error_description"]


def test_token_just_before_expiry_works(server):
    access_token = client_token(server)
    server.clock.advance(3590)
    assert call_api(server, "list_customers", access_token).status_code == 200


def test_revoked_token_401_invalid_token(server):
    access_token = client_token(server)
    assert requests.post(f"{server.url}/revoke", data={"token": access_token}, auth=REPORTS).status_code == 200
    answer = call_api(server, "list_customers", access_token)
    assert_bearer_challenge(answer, 401, "invalid_token")
    assert "revoked" in answer.json()["error_description"]


def test_revoked_token_at_userinfo_401_invalid_token(server):
    tokens = code_tokens(server, scope="openid profile")
    requests.post(f"{server.url}/revoke", data={"token": tokens["access_token"]}, auth=REPORTS)
    answer = requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert_bearer_challenge(answer, 401, "invalid_token")


# --- token lacks the scope: 403 insufficient_scope with scope="<needed>" -------------------------

@pytest.mark.parametrize("action, needed", [("list_chats", "chats--access:ro"), ("list_agents", "agents--all:ro")])
def test_token_lacks_scope_403_insufficient_scope(server, action, needed):
    assert_bearer_challenge(call_api(server, action, client_token(server, "customers:ro")), 403,
                            "insufficient_scope", scope=needed)


def test_read_scope_does_not_cover_write_403_insufficient_scope(server):
    answer = call_api(server, "update_agent", client_token(server, "agents--all:ro"),
                      {"id": "jane", "job_title": "x"})
    assert_bearer_challenge(answer, 403, "insufficient_scope", scope="agents--all:rw")


def test_broader_scope_covers_narrower_one(server):
    # list_chats needs chats--access:ro; chats--all:ro (an administrator's: Ada grants it) covers it.
    ada = code_tokens(server, ADMIN_TOOLS, scope="chats--all:ro", user=ADA)
    answer = call_api(server, "list_chats", ada["access_token"])
    assert answer.status_code == 200 and answer.json()["found_chats"] == 5


def test_the_scope_caps_the_app_and_the_users_groups_still_apply(server):
    """The same chats--access:ro finds the chats of each user's groups: Jane works in Returns
    (3 chats), Ada in both groups (5); an app's own token belongs to no group (0)."""
    def groups_found(access_token):
        chats = call_api(server, "list_chats", access_token).json()["chats_summary"]
        return sorted({group for chat in chats for group in chat["access"]["group_ids"]}), len(chats)

    jane = code_tokens(server, scope="chats--access:ro")["access_token"]
    ada = code_tokens(server, scope="chats--access:ro", user=ADA)["access_token"]
    assert groups_found(jane) == ([1], 3)
    assert groups_found(ada) == ([0, 1], 5)
    assert groups_found(client_token(server, "chats--access:ro")) == ([], 0)


def test_valid_token_200_without_challenge(server):
    answer = call_api(server, "list_customers", client_token(server))
    assert answer.status_code == 200 and "WWW-Authenticate" not in answer.headers


# --- token in the query string: refused unless the switch allows it ------------------------------

def query_call(server, access_token) -> requests.Response:
    return requests.post(f"{server.url}{API}/list_customers", params={"access_token": access_token}, json={})


def test_token_in_query_string_refused_401(server):
    answer = query_call(server, client_token(server))
    assert_bearer_challenge(answer, 401)
    assert "query" in answer.json()["error_description"]


def test_allow_token_in_query_switch_accepts_it(start_server):
    server = start_server(seed=7, allow_token_in_query=True)
    assert query_call(server, client_token(server)).status_code == 200
