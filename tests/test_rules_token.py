"""RULES.md, "Token endpoint": one test per rule, with the error a client library sees.

Every error is JSON with ``error`` and ``error_description``, ``Cache-Control: no-store``, and no
``WWW-Authenticate`` except on 401 ``invalid_client`` (client-interop point 8).
"""
from __future__ import annotations

import base64
import re
from urllib.parse import quote

import pytest
import requests

from flows import (ADA, APP_CALLBACK, ADMIN_TOOLS, DEVICE_CODE, REPORTS, WIDGET, assert_oauth_error, authorize,
                      call_api, code_tokens, pkce_pair, token)
from oauth_lab.user_agent import UserAgent

CLIENT_CREDENTIALS = {"grant_type": "client_credentials", "scope": "customers:ro"}


def assert_token_error(response, status: int, error: str, basic_challenge: bool | None = False):
    """The §5.2 shape; basic_challenge None = a challenge is allowed but not required."""
    assert_oauth_error(response, status, error)
    challenge = response.headers.get("WWW-Authenticate")
    if basic_challenge:
        assert challenge and challenge.startswith("Basic"), challenge
    elif basic_challenge is False:
        assert challenge is None, challenge
    assert response.json().get("error_description"), f"no error_description: {response.text}"


def get_code(server, client_id=REPORTS[0], pkce=True, **params) -> tuple[str, str | None]:
    """The code the app receives, and the PKCE verifier it keeps (None without PKCE)."""
    verifier, challenge = pkce_pair() if pkce else (None, None)
    if pkce:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    got = authorize(server, client_id, scope="customers:ro", **params)
    return got["code"], verifier


def exchange(server, code, verifier, auth=REPORTS, **overrides) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK,
            "code_verifier": verifier, **overrides}
    return token(server, {k: v for k, v in data.items() if v is not None}, auth=auth)


def refresh(server, refresh_token, auth=REPORTS, **extra) -> requests.Response:
    return token(server, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}, auth=auth)


def basic(client_id: str, secret: str) -> dict:
    """An Authorization header built as RFC 6749 §2.3.1 says: URL-encode, then base64."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def assert_token_works(server, access_token):
    assert call_api(server, "list_customers", access_token).status_code == 200


def assert_token_refused(server, access_token):
    assert call_api(server, "list_customers", access_token).status_code == 401


# --- client authentication -----------------------------------------------------------------------

@pytest.mark.parametrize("auth", [(REPORTS[0], "wrong-secret"), ("no-such-app", "x"), (REPORTS[0], "")],
                         ids=["wrong-secret", "unknown-client", "empty-secret"])
def test_client_auth_basic_wrong_credentials_401_invalid_client_with_basic_challenge(server, auth):
    assert_token_error(token(server, CLIENT_CREDENTIALS, auth=auth), 401, "invalid_client",
                       basic_challenge=True)


@pytest.mark.parametrize("pair", [b"!!!notbase64", b"no-colon", b":reports-secret"])
def test_client_auth_malformed_basic_header_401_invalid_client(server, pair):
    header = {"Authorization": b"Basic " + (pair if pair.startswith(b"!") else base64.b64encode(pair))}
    answer = requests.post(f"{server.url}/token", data=CLIENT_CREDENTIALS, headers=header)
    assert_token_error(answer, 401, "invalid_client", basic_challenge=True)


def test_client_auth_post_wrong_secret_401_invalid_client(server):
    data = dict(CLIENT_CREDENTIALS, client_id=REPORTS[0], client_secret="wrong-secret")
    assert_token_error(token(server, data, auth=None), 401, "invalid_client", basic_challenge=None)


def test_client_auth_missing_for_confidential_client_401_invalid_client(server):
    data = dict(CLIENT_CREDENTIALS, client_id=REPORTS[0])
    assert_token_error(token(server, data, auth=None), 401, "invalid_client", basic_challenge=None)


def test_client_auth_post_works(server):
    data = dict(CLIENT_CREDENTIALS, client_id=REPORTS[0], client_secret=REPORTS[1])
    assert token(server, data, auth=None).status_code == 200


def basic_header(pair: bytes) -> dict:
    """An Authorization header from the `id:secret` bytes exactly as given (no encoding added)."""
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def test_client_auth_basic_url_encoded_credentials_work(server):
    # fernhollow-reports arrives as fernhollow%2Dreports from strict clients (client-interop point 5).
    answer = requests.post(f"{server.url}/token", data=CLIENT_CREDENTIALS,
                           headers=basic_header(b"fernhollow%2Dreports:reports%2Dsecret"))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("pair", [b"fernhollow%252Dreports:reports-secret",
                                  b"fernhollow-reports:reports%252Dsecret"], ids=["id", "secret"])
def test_client_auth_basic_credentials_are_url_decoded_once(server, pair):
    # %252D decodes once to %2D, not to "-": decoded twice, it would name fernhollow-reports.
    answer = requests.post(f"{server.url}/token", data=CLIENT_CREDENTIALS, headers=basic_header(pair))
    assert_token_error(answer, 401, "invalid_client", basic_challenge=True)


@pytest.mark.parametrize("header", ["Basic " + base64.b64encode(b"\xff:\xfe").decode(), "Basic é", "Basic "],
                         ids=["not-utf8", "not-base64-alphabet", "nothing-after-scheme"])
def test_client_auth_basic_header_the_parser_cannot_read_401_invalid_client(server, header):
    answer = requests.post(f"{server.url}/token", data=CLIENT_CREDENTIALS,
                           headers={"Authorization": header.encode()})
    assert_token_error(answer, 401, "invalid_client", basic_challenge=True)


def test_client_auth_none_for_public_client_works(server):
    assert "access_token" in code_tokens(server, WIDGET, scope="customers:ro")


# --- secret comparison (constant time; observable part: the whole secret is compared) ----------

@pytest.mark.parametrize("secret", [REPORTS[1][:-1], REPORTS[1] + "x", REPORTS[1].upper()])
def test_secret_comparison_whole_secret_exactly(server, secret):
    assert_token_error(token(server, CLIENT_CREDENTIALS, auth=(REPORTS[0], secret)), 401, "invalid_client",
                       basic_challenge=True)


# --- authorization codes -------------------------------------------------------------------------

def test_code_unknown_400_invalid_grant(server):
    assert_token_error(exchange(server, "no-such-code", "v" * 43), 400, "invalid_grant")


def test_code_expired_400_invalid_grant(server):
    code, verifier = get_code(server)
    server.clock.advance(601)  # codes live 600 s by default
    assert_token_error(exchange(server, code, verifier), 400, "invalid_grant")


def test_code_already_used_400_invalid_grant(server):
    code, verifier = get_code(server)
    assert exchange(server, code, verifier).status_code == 200
    assert_token_error(exchange(server, code, verifier), 400, "invalid_grant")


def test_code_reuse_revokes_tokens_issued_from_that_code(server):
    code, verifier = get_code(server)
    first = exchange(server, code, verifier).json()
    assert_token_works(server, first["access_token"])
    assert_token_error(exchange(server, code, verifier), 400, "invalid_grant")
    assert_token_refused(server, first["access_token"])
    assert_token_error(refresh(server, first["refresh_token"]), 400, "invalid_grant")


def test_code_issued_to_another_client_400_invalid_grant(server):
    code, verifier = get_code(server)
    assert_token_error(exchange(server, code, verifier, auth=ADMIN_TOOLS), 400, "invalid_grant")


@pytest.mark.parametrize("redirect_uri", ["http://localhost:8765/callback", "", None],
                         ids=["other", "empty", "omitted"])
def test_redirect_uri_differs_from_authorization_request_400_invalid_grant(server, redirect_uri):
    code, verifier = get_code(server)
    assert_token_error(exchange(server, code, verifier, redirect_uri=redirect_uri), 400, "invalid_grant")


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 43], ids=["missing", "wrong"])
def test_code_verifier_missing_or_wrong_400_invalid_grant(server, verifier):
    code, _ = get_code(server)
    assert_token_error(exchange(server, code, verifier), 400, "invalid_grant")


def test_code_verifier_sent_without_challenge_downgrade_400_invalid_grant(server):
    code, _ = get_code(server, pkce=False)
    assert_token_error(exchange(server, code, pkce_pair()[0]), 400, "invalid_grant")


def test_code_without_pkce_for_confidential_client_works(server):
    code, _ = get_code(server, pkce=False)
    assert exchange(server, code, None).status_code == 200


# --- grant types ---------------------------------------------------------------------------------

@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:example:nope"])
def test_unknown_grant_type_400_unsupported_grant_type(server, grant_type):
    assert_token_error(token(server, {"grant_type": grant_type}), 400, "unsupported_grant_type")


def test_grant_type_not_allowed_for_client_400_unauthorized_client(server):
    # fernhollow-admin-tools is registered for authorization_code and refresh_token only.
    assert_token_error(token(server, {"grant_type": "client_credentials"}, auth=ADMIN_TOOLS),
                       400, "unauthorized_client")


# --- malformed requests: invalid_request ---------------------------------------------------------

@pytest.mark.parametrize("data", [{}, {"grant_type": "authorization_code", "redirect_uri": "x"},
                                  {"grant_type": "refresh_token"}],
                         ids=["no-grant-type", "no-code", "no-refresh-token"])
def test_missing_parameter_400_invalid_request(server, data):
    assert_token_error(token(server, data), 400, "invalid_request")


def test_repeated_parameter_400_invalid_request(server):
    answer = token(server, [("grant_type", "client_credentials"), ("grant_type", "client_credentials")])
    assert_token_error(answer, 400, "invalid_request")


def test_parameter_both_in_query_and_body_400_invalid_request(server):
    answer = requests.post(f"{server.url}/token?grant_type=client_credentials", data=CLIENT_CREDENTIALS,
                           auth=REPORTS)
    assert_token_error(answer, 400, "invalid_request")


@pytest.mark.parametrize("kwargs", [{"json": CLIENT_CREDENTIALS},
                                    {"data": "grant_type=client_credentials",
                                     "headers": {"Content-Type": "text/plain"}}], ids=["json", "text"])
def test_wrong_content_type_400_invalid_request(server, kwargs):
    assert_token_error(requests.post(f"{server.url}/token", auth=REPORTS, **kwargs), 400, "invalid_request")


def test_form_content_type_with_charset_is_accepted(server):
    headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
    answer = requests.post(f"{server.url}/token", data="grant_type=client_credentials", headers=headers,
                           auth=REPORTS)
    assert answer.status_code == 200, answer.text


def test_token_response_shape(server):
    answer = token(server, CLIENT_CREDENTIALS)
    body = answer.json()
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    assert "WWW-Authenticate" not in answer.headers
    assert isinstance(body["access_token"], str) and body["token_type"] == "Bearer"
    assert body["scope"] == "customers:ro" and isinstance(body["expires_in"], int)


# --- refresh tokens ------------------------------------------------------------------------------

@pytest.fixture
def tokens(server):
    return code_tokens(server, scope="chats--access:ro customers:ro")


def test_refresh_unknown_token_400_invalid_grant(server):
    assert_token_error(refresh(server, "rt_no-such-token"), 400, "invalid_grant")


def test_refresh_revoked_token_400_invalid_grant(server, tokens):
    revoked = requests.post(f"{server.url}/revoke", data={"token": tokens["refresh_token"]}, auth=REPORTS)
    assert revoked.status_code == 200
    assert_token_error(refresh(server, tokens["refresh_token"]), 400, "invalid_grant")


def test_refresh_other_clients_token_400_invalid_grant(server, tokens):
    assert_token_error(refresh(server, tokens["refresh_token"], auth=ADMIN_TOOLS), 400, "invalid_grant")
    assert refresh(server, tokens["refresh_token"]).status_code == 200  # still the owner's


def test_refresh_rotation_old_token_stops_working(server, tokens):
    assert refresh(server, tokens["refresh_token"]).status_code == 200
    assert_token_error(refresh(server, tokens["refresh_token"]), 400, "invalid_grant")


def test_refresh_rotation_reuse_of_rotated_token_revokes_the_family(server, tokens):
    second = refresh(server, tokens["refresh_token"]).json()
    assert_token_works(server, second["access_token"])
    assert_token_error(refresh(server, tokens["refresh_token"]), 400, "invalid_grant")  # the replay
    assert_token_refused(server, second["access_token"])
    assert_token_error(refresh(server, second["refresh_token"]), 400, "invalid_grant")


def test_refresh_rotation_switch_off_keeps_refresh_token(start_server):
    server = start_server(seed=7, refresh_rotation=False)
    first = code_tokens(server)
    assert refresh(server, first["refresh_token"]).status_code == 200
    assert refresh(server, first["refresh_token"]).status_code == 200


def test_refresh_may_narrow_scope(server, tokens):
    answer = refresh(server, tokens["refresh_token"], scope="customers:ro")
    assert answer.status_code == 200 and answer.json()["scope"] == "customers:ro"


def test_refresh_may_narrow_to_a_scope_the_grant_implies(server):
    # This server's policy (RULES.md): chats--all:ro implies chats--access:ro (LiveChat's hierarchy).
    # chats--all:ro is an administrator's scope: Ada grants it. (An app asks only for scopes it
    # registered, by name: this one registered the narrower one too.)
    app = requests.post(f"{server.url}/register", json={
        "client_name": "Supervisor Reports", "redirect_uris": [APP_CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "chats--all:ro chats--access:ro agents--all:ro"}).json()
    credentials = (app["client_id"], app["client_secret"])
    ada = code_tokens(server, credentials, scope="chats--all:ro agents--all:ro", user=ADA)
    answer = refresh(server, ada["refresh_token"], scope="chats--access:ro", auth=credentials)
    assert answer.status_code == 200 and answer.json()["scope"] == "chats--access:ro", answer.text
    assert call_api(server, "list_chats", answer.json()["access_token"]).status_code == 200
    assert call_api(server, "list_agents", answer.json()["access_token"]).status_code == 403


@pytest.mark.parametrize("scope", ["chats--access:ro customers:ro agents--all:ro", "chats--all:ro", "chats--access:rw",
                                   "customers:rw", "nonsense:ro"])
def test_refresh_never_widens_scope_400_invalid_scope(server, tokens, scope):
    assert_token_error(refresh(server, tokens["refresh_token"], scope=scope), 400, "invalid_scope")


def test_rotated_refresh_token_keeps_the_scope_of_the_one_it_replaces(server, tokens):
    # RFC 6749 §6: the new refresh token's scope is the old one's, though the access token narrowed.
    narrowed = refresh(server, tokens["refresh_token"], scope="customers:ro").json()
    assert narrowed["scope"] == "customers:ro"
    introspected = requests.post(f"{server.url}/introspect", data={"token": narrowed["refresh_token"]},
                                 auth=REPORTS).json()
    assert introspected["scope"] == tokens["scope"] == "chats--access:ro customers:ro"
    again = refresh(server, narrowed["refresh_token"]).json()  # no scope asked: the grant's
    assert again["scope"] == "chats--access:ro customers:ro"
    wide = refresh(server, again["refresh_token"], scope="chats--access:ro customers:ro")
    assert wide.status_code == 200, wide.text


# --- client credentials: confidential clients only -----------------------------------------------

def test_client_credentials_public_client_refused(server):
    # No secret to authenticate with: the grant accepts only Basic or the form secret (RFC 6749 §4.4).
    answer = token(server, dict(CLIENT_CREDENTIALS, client_id=WIDGET), auth=None)
    assert_token_error(answer, 401, "invalid_client", basic_challenge=True)


def test_client_credentials_confidential_client_works(server):
    body = token(server, CLIENT_CREDENTIALS).json()
    assert body["access_token"] and "refresh_token" not in body


@pytest.mark.parametrize("scope", ["agents--all:rw", "agents--all:ro agents--all:rw", None],
                         ids=["gated", "gated-among-others", "no-scope-asked"])
def test_client_credentials_never_yields_a_role_gated_scope_400_invalid_scope(server, scope):
    """Registering an administrator scope (open on loopback) is not enough: no user takes part,
    so nobody entitled to grant it does."""
    app = requests.post(f"{server.url}/register", json={
        "client_name": "Agent sync", "grant_types": ["client_credentials"],
        "scope": "agents--all:ro agents--all:rw"}).json()
    auth = (app["client_id"], app["client_secret"])
    asked = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    assert_token_error(token(server, asked, auth=auth), 400, "invalid_scope")
    allowed = token(server, {"grant_type": "client_credentials", "scope": "agents--all:ro"}, auth=auth)
    assert allowed.status_code == 200 and allowed.json()["scope"] == "agents--all:ro", allowed.text


# --- device code (RFC 8628) ----------------------------------------------------------------------

def start_device(server, client_id=WIDGET) -> dict:
    answer = requests.post(f"{server.url}/device_authorization", data={"client_id": client_id})
    assert answer.status_code == 200, answer.text
    return answer.json()


def poll(server, grant) -> requests.Response:
    return token(server, {"grant_type": DEVICE_CODE, "device_code": grant["device_code"], "client_id": WIDGET},
                 auth=None)


def decide(server, grant, decision):
    UserAgent().approve_device(grant["verification_uri"], grant["user_code"], decision)
    server.clock.advance(grant["interval"])


def test_device_authorization_response_shape(server):
    grant = start_device(server)
    assert grant["device_code"] and grant["user_code"]
    assert grant["verification_uri"] == f"{server.url}/device"
    assert grant["verification_uri_complete"].startswith(f"{server.url}/device?")
    assert isinstance(grant["expires_in"], int) and grant["interval"] > 0


def test_device_authorization_pending_400(server):
    assert_token_error(poll(server, start_device(server)), 400, "authorization_pending")


def test_device_slow_down_when_polled_faster_than_interval_400(server):
    grant = start_device(server)
    poll(server, grant)
    assert_token_error(poll(server, grant), 400, "slow_down")


def test_device_polling_at_interval_is_not_slow_down(server):
    grant = start_device(server)
    poll(server, grant)
    server.clock.advance(grant["interval"])
    assert_token_error(poll(server, grant), 400, "authorization_pending")


def test_device_expired_token_400(server):
    grant = start_device(server)
    server.clock.advance(grant["expires_in"] + 1)
    assert_token_error(poll(server, grant), 400, "expired_token")


def test_device_access_denied_400(server):
    grant = start_device(server)
    decide(server, grant, "Deny")
    assert_token_error(poll(server, grant), 400, "access_denied")


def test_device_approved_gives_tokens(server):
    grant = start_device(server)
    decide(server, grant, "Allow")
    assert poll(server, grant).json()["token_type"] == "Bearer"


def test_device_consent_page_asks_jane_to_compare_the_code_with_her_device(server):
    """RFC 8628 §3.3.1: the page shows the user code to compare with the device's screen; §5.4
    (remote phishing): a code someone sent her is a reason to deny."""
    grant = start_device(server)
    page = UserAgent().device_consent_page(grant["verification_uri"], grant["user_code"].lower())
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert f"Allow only if it shows {grant['user_code']} right now" in text, text
    assert "If someone sent you this code" in text and "click Deny" in text


@pytest.mark.parametrize("outcome", ["authorization_pending", "slow_down", "access_denied", "expired_token"])
def test_device_errors_for_a_confidential_client_are_400_without_a_challenge(server, outcome):
    """RFC 8628 §3.5 for an app that authenticates with HTTP Basic too: a 400 JSON error; a
    challenge belongs to 401 invalid_client only."""
    answer = requests.post(f"{server.url}/device_authorization", data={"scope": "customers:ro"}, auth=REPORTS)
    grant = answer.json()
    poll_as_reports = {"grant_type": DEVICE_CODE, "device_code": grant["device_code"]}
    if outcome == "slow_down":
        token(server, poll_as_reports)
    elif outcome == "access_denied":
        decide(server, grant, "Deny")
    elif outcome == "expired_token":
        server.clock.advance(grant["expires_in"])
    assert_token_error(token(server, poll_as_reports), 400, outcome)
