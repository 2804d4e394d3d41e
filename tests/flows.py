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


# --- DPoP (RFC 9449) and PAR (RFC 9126), as a client does them -----------------------------------


def dpop_key(kind: str = "EC"):
    """A client's DPoP key pair (joserfc): EC P-256 for ES256 by default."""
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    return {"EC": lambda: ECKey.generate_key("P-256"), "OKP": lambda: OKPKey.generate_key("Ed25519"),
            "RSA": lambda: RSAKey.generate_key(2048)}[kind]()


def dpop_proof(server, key, htm: str, path_or_url: str, *, access_token: str | None = None,
               nonce: str | None = None, iat: int | None = None, jti: str | None = None,
               header: dict | None = None, claims: dict | None = None, alg: str | None = None) -> str:
    """A DPoP proof (RFC 9449 §4.2) signed by `key` for `htm` and the URL (the server's URL plus a
    path, or a whole URL), at the server's clock unless `iat` says otherwise. `header` and
    `claims` add or replace members (None removes one): for proofs a server must refuse."""
    from joserfc import jwt

    from mock_server.dpop import access_token_hash

    alg = alg or {"EC": "ES256", "OKP": "Ed25519", "RSA": "RS256"}[key.key_type]
    url = path_or_url if "://" in path_or_url else server.url + path_or_url
    protected = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    payload = {"jti": jti or secrets.token_urlsafe(16), "htm": htm, "htu": url,
               "iat": server.clock.timestamp() if iat is None else iat}
    if access_token is not None:
        payload["ath"] = access_token_hash(access_token)
    if nonce is not None:
        payload["nonce"] = nonce
    for target, changes in ((protected, header), (payload, claims)):
        for name, value in (changes or {}).items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
    return jwt.encode(protected, payload, key, algorithms=[alg])


def thumbprint(key) -> str:
    """RFC 7638: what `cnf.jkt` and `dpop_jkt` carry."""
    return key.thumbprint()


def dpop_token(server, key, client=REPORTS, data: dict | None = None, proof: str | None = None,
               **kwargs) -> requests.Response:
    """A token request (by default client credentials for the confidential app) with a DPoP proof
    by `key` (or the given `proof`)."""
    data = data or {"grant_type": "client_credentials", "scope": "customers:ro"}
    headers = {"DPoP": proof if proof is not None else dpop_proof(server, key, "POST", "/token")}
    return token(server, data, auth=client, headers=headers, **kwargs)


def call_api_dpop(server, key, access_token: str, action: str = "list_customers", proof: str | None = None,
                  scheme: str = "DPoP") -> requests.Response:
    """A call to the agent API with a DPoP-bound token: `Authorization: DPoP` and a proof."""
    url = f"{server.url}/v3.5/agent/action/{action}"
    headers = {"Authorization": f"{scheme} {access_token}",
               "DPoP": proof if proof is not None else dpop_proof(server, key, "POST", url, access_token=access_token)}
    return requests.post(url, json={}, headers=headers)


def push(server, client=REPORTS, headers: dict | None = None, **params) -> requests.Response:
    """A pushed authorization request (RFC 9126 §2.1): the authorization request's parameters,
    POSTed with the client's authentication (a public client: its client_id alone)."""
    client_id = client if isinstance(client, str) else client[0]
    body = {"response_type": "code", "client_id": client_id, "redirect_uri": APP_CALLBACK,
            "state": "s-par", **params}
    body = {k: v for k, v in body.items() if v is not None}
    return requests.post(f"{server.url}/par", data=body, auth=None if isinstance(client, str) else client,
                         headers=headers or {})


def pushed_authorization_url(server, request_uri: str, client_id: str = REPORTS[0], **extra) -> str:
    """What the browser carries with PAR: the client's id and the request_uri (and `extra`)."""
    params = {"client_id": client_id, "request_uri": request_uri, **extra}
    return requests.Request("GET", f"{server.url}/authorize", params=params).prepare().url
