"""Each grant end to end over real HTTP, with requests-oauthlib as the client a learner uses."""
from __future__ import annotations

import requests
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from flows import APP_CALLBACK, DEVICE_CODE, REPORTS, WIDGET, call_api, token
from oauth_lab.user_agent import UserAgent


def test_authorization_code_with_pkce_then_api(server):
    oauth = OAuth2Session(REPORTS[0], redirect_uri=APP_CALLBACK,
                          scope=["chats--access:ro", "customers:ro"], pkce="S256")
    url, state = oauth.authorization_url(f"{server.url}/authorize")
    redirect = UserAgent().authorize(url)
    assert f"state={state}" in redirect and "iss=" in redirect
    tokens = oauth.fetch_token(f"{server.url}/token", authorization_response=redirect,
                               client_secret=REPORTS[1])
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("rt_")
    answer = oauth.post(f"{server.url}/v3.5/agent/action/list_chats", json={})
    assert answer.status_code == 200
    assert answer.json()["found_chats"] == 3  # chats--access:ro: the chats of Jane's group


def test_public_client_flow_without_secret(server):
    oauth = OAuth2Session(WIDGET, redirect_uri=APP_CALLBACK, pkce="S256")
    url, _ = oauth.authorization_url(f"{server.url}/authorize")
    tokens = oauth.fetch_token(f"{server.url}/token", authorization_response=UserAgent().authorize(url),
                               include_client_id=True)
    # No scope asked: the app's registered scopes (LiveChat's way, RFC 6749 §3.3).
    assert set(tokens["scope"]) == {"chats--access:ro", "chats--my:rw", "customers:ro", "openid", "profile"}
    answer = oauth.post(f"{server.url}/v3.5/agent/action/list_chats", json={})
    assert answer.json()["found_chats"] == 3  # jane's group only: chats--access:ro


def test_refresh_gives_a_new_pair_and_the_new_token_works(server):
    oauth = OAuth2Session(REPORTS[0], redirect_uri=APP_CALLBACK, scope=["customers:ro"],
                          pkce="S256")
    url, _ = oauth.authorization_url(f"{server.url}/authorize")
    first = oauth.fetch_token(f"{server.url}/token", authorization_response=UserAgent().authorize(url),
                              client_secret=REPORTS[1])
    second = oauth.refresh_token(f"{server.url}/token", auth=HTTPBasicAuth(*REPORTS))
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert call_api(server, "list_customers", second["access_token"]).status_code == 200


def test_client_credentials_then_api(server):
    oauth = OAuth2Session(client=__import__("oauthlib.oauth2").oauth2.BackendApplicationClient(REPORTS[0]))
    tokens = oauth.fetch_token(f"{server.url}/token", client_id=REPORTS[0], client_secret=REPORTS[1])
    assert "refresh_token" not in tokens  # RFC 6749 §4.4.3: no refresh token without a user
    assert call_api(server, "list_customers", tokens["access_token"]).status_code == 200


def test_device_flow(server):
    start = requests.post(f"{server.url}/device_authorization", data={"client_id": WIDGET})
    assert start.status_code == 200
    grant = start.json()
    assert grant["verification_uri"] == f"{server.url}/device" and grant["interval"] == 5
    poll = {"grant_type": DEVICE_CODE, "device_code": grant["device_code"], "client_id": WIDGET}
    assert token(server, poll, auth=None).json()["error"] == "authorization_pending"
    page = UserAgent().approve_device(grant["verification_uri"], grant["user_code"].lower())
    assert "is connected" in page
    server.clock.advance(grant["interval"])
    answer = token(server, poll, auth=None)
    assert answer.status_code == 200, answer.text
    assert call_api(server, "list_chats", answer.json()["access_token"]).status_code == 200


def test_openid_connect_id_token_and_userinfo(server):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    oauth = OAuth2Session(REPORTS[0], redirect_uri=APP_CALLBACK,
                          scope=["openid", "profile", "email"], pkce="S256")
    url, _ = oauth.authorization_url(f"{server.url}/authorize", nonce="n-42")
    tokens = oauth.fetch_token(f"{server.url}/token", authorization_response=UserAgent().authorize(url),
                               client_secret=REPORTS[1])
    keys = KeySet.import_key_set(requests.get(f"{server.url}/.well-known/jwks.json").json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == server.issuer and claims["aud"] == REPORTS[0]
    assert claims["nonce"] == "n-42" and claims["sub"] == "jane" and "at_hash" in claims
    info = oauth.get(f"{server.url}/userinfo").json()
    assert info == {"sub": "jane", "name": "Jane Agent", "preferred_username": "jane",
                    "email": "jane@fernhollow.example", "email_verified": True}
