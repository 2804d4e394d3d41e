"""The steps of a flow as a client does them, and the demo world's names — shared by the tests.

(Fixtures live in conftest.py; helpers live here, a plain module, so every test folder can import
them: two conftest.py files cannot both be imported as `conftest`.)"""
from __future__ import annotations

import os
import secrets
from urllib.parse import parse_qsl, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws

from mock_server.settings import APP_REDIRECT_URI as APP_CALLBACK  # the app's, not the server's
from oauth_lab.user_agent import UserAgent

# requests-oauthlib refuses http:// otherwise; everything here is loopback.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

REPORTS = ("fernhollow-reports", "reports-secret")  # confidential demo app
WIDGET = "fernhollow-widget"  # public demo app (PKCE, no secret)
ADMIN_TOOLS = ("fernhollow-admin-tools", "admin-tools-secret")
RESOURCE_SERVER = ("agent-api", "agent-api-secret")
JANE, ADA = ("jane", "jane-password"), ("ada", "ada-password")  # a normal agent, an administrator
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def pkce_pair(verifier: str | None = None) -> tuple[str, str]:
    verifier = verifier or secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def query_of(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def authorization_url(server, client_id=REPORTS[0], **params) -> str:
    params = {"response_type": "code", "client_id": client_id,
              "redirect_uri": APP_CALLBACK, "state": "s-123", **params}
    params = {k: v for k, v in params.items() if v is not None}
    return requests.Request("GET", f"{server.url}/authorize", params=params).prepare().url


def authorize(server, client_id=REPORTS[0], user=("jane", "jane-password"), decision="Allow",
              **params) -> dict:
    """Run the front channel as a user would; returns the parameters the app receives."""
    location = UserAgent(*user).authorize(authorization_url(server, client_id, **params), decision)
    return query_of(location)


def token(server, data: dict, auth=REPORTS, **kwargs) -> requests.Response:
    return requests.post(f"{server.url}/token", data=data, auth=auth, **kwargs)


def code_tokens(server, client=REPORTS, scope="chats--access:ro customers:ro", **params) -> dict:
    """A complete authorization-code + PKCE flow: the token response."""
    verifier, challenge = pkce_pair()
    client_id = client if isinstance(client, str) else client[0]
    got = authorize(server, client_id, scope=scope, code_challenge=challenge,
                    code_challenge_method="S256", **params)
    data = {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": APP_CALLBACK, "code_verifier": verifier}
    if isinstance(client, str):
        data["client_id"] = client
    response = token(server, data, auth=None if isinstance(client, str) else client)
    assert response.status_code == 200, response.text
    return response.json()


def call_api(server, action: str, access_token: str | None, payload=None) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return requests.post(f"{server.url}/v3.5/agent/action/{action}", json=payload or {},
                         headers=headers)


def assert_oauth_error(response, status: int, error: str):
    """The RFC 6749 §5.2 error shape: status, JSON, `error`, no-store."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error, response.text
    assert "no-store" in response.headers.get("Cache-Control", "")


def jwt_header(jwt_token: str) -> dict:
    """A JWT's protected header, read (not verified) by joserfc."""
    return jws.extract_compact(jwt_token.encode()).protected
