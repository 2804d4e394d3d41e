"""RULES.md, "The livechat profile": each rule of LiveChat's accounts server as its public docs
describe it (the repository livechat/livechat-public-docs: src/pages/authorization/oauth-authorization
and troubleshooting), as the app and the user's browser see it (status, body, headers) — and, beside
each, the request the rule refuses. With the profile off nothing here applies (the last tests)."""
from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from flows import (APP_CALLBACK, REPORTS, WIDGET, assert_oauth_error, call_api, dpop_key, dpop_proof, pkce_pair,
                   query_of)
from mock_server.__main__ import banner, main
from mock_server.livechat.limits import RedirectLimit
from mock_server.runner import settings_from
from mock_server.settings import Settings, Switches
from oauth_lab.lab import setup
from oauth_lab.user_agent import UserAgent, UserAgentError, forms_of

ADMIN_TOOLS = "fernhollow-admin-tools"
REPORTS_SCOPE = "chats--access:ro,customers:ro,agents--all:ro"  # registered, comma-joined
DAL = re.compile(r"^dal:[A-Za-z0-9_-]{43}$")
# LiveChat's descriptions of two errors, from its troubleshooting page.
LIVECHAT_CODE_REFUSED = "The client is not authorized to request a token using this method"
LIVECHAT_INVALID_REQUEST = ("The request is missing a required parameter, includes an invalid parameter value, "
                            "includes a parameter more than once, or is otherwise malformed.")


@pytest.fixture
def livechat(start_server):
    return start_server(seed=7, profile="livechat")


def url(server, client_id=REPORTS[0], **params) -> str:
    """An authorization request at LiveChat's authorization endpoint, "/"."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": APP_CALLBACK,
              "state": "s-123", **params}
    params = {k: v for k, v in params.items() if v is not None}
    return requests.Request("GET", f"{server.url}/", params=params).prepare().url


def first_answer(server, client_id=REPORTS[0], **params) -> requests.Response:
    """What a browser that is not signed in gets first."""
    return requests.get(url(server, client_id, **params), allow_redirects=False)


def landing(server, client_id=REPORTS[0], user=("jane", "jane-password"), decision="Allow",
            browser=None, **params) -> str:
    """Where the browser ends up: the app's redirect URI with a code, or the /ooops page."""
    browser = browser or UserAgent(*user)
    try:
        return browser.authorize(url(server, client_id, **params), decision, server.url)
    except UserAgentError as error:  # the server's own error page, reached by its redirect
        return error.response.url


def assert_ooops(server, location: str, oauth_exception: str, details: str | None = None):
    """LiveChat's error page, never the app: ?oauth_exception=...&exception_details=..."""
    assert location.startswith(f"{server.url}/ooops?"), location
    got = query_of(location)
    assert got["oauth_exception"] == oauth_exception, location
    if details:
        assert got["exception_details"] == details, location
    assert "code" not in got and "state" not in got
    page = requests.get(location)
    assert page.status_code == 400 and page.headers["Content-Type"].startswith("text/html")
    assert f"oauth_exception={oauth_exception}" in page.text


def code_of(location: str) -> str:
    assert location.startswith(f"{APP_CALLBACK}?"), location
    return query_of(location)["code"]


def fragment_pairs(location: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(location).fragment)


def exchange(server, code, verifier=None, auth=REPORTS, **extra) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK, **extra}
    if verifier:
        data["code_verifier"] = verifier
    data = {name: value for name, value in data.items() if value is not None}
    return requests.post(f"{server.url}/v2/token", data=data, auth=auth)


def tokens_for(server, client=REPORTS, user=("jane", "jane-password"), **params) -> dict:
    """A whole code flow with PKCE S256 (a browser app sends its id, no secret): the token response."""
    verifier, challenge = pkce_pair()
    client_id = client if isinstance(client, str) else client[0]
    code = code_of(landing(server, client_id, user, code_challenge=challenge, code_challenge_method="S256",
                           **params))
    answer = exchange(server, code, verifier, auth=None if isinstance(client, str) else client,
                      **({"client_id": client} if isinstance(client, str) else {}))
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(server, refresh_token, client=REPORTS) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if isinstance(client, str):
        return requests.post(f"{server.url}/v2/token", data=dict(data, client_id=client))
    return requests.post(f"{server.url}/v2/token", data=data, auth=client)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def info(server, token: str) -> requests.Response:
    return requests.get(f"{server.url}/v2/info", headers=bearer(token))


def revoke(server, token: str) -> requests.Response:
    return requests.delete(f"{server.url}/v2/token", headers=bearer(token))


# --- the authorization endpoint: "/" ----------------------------------------------------------------

def test_authorization_request_at_root_redirects_with_a_dal_code_url_encoded(livechat):
    location = landing(livechat)
    assert re.search(r"[?&]code=dal%3A[A-Za-z0-9_-]{43}(&|$)", location), location  # the %3A pitfall
    got = query_of(location)
    assert DAL.match(got["code"]) and got["state"] == "s-123"
    assert "iss" not in got  # LiveChat's redirect names no issuer (RFC 9207 is the standard's)


def test_root_without_an_authorization_request_is_the_home_page(livechat):
    page = requests.get(f"{livechat.url}/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "livechat profile" in page.text and "/device" not in page.text


@pytest.mark.parametrize("path, kind", [
    ("/authorize", "text/html"), ("/token", "application/json"), ("/par", "application/json"),
    ("/revoke", "application/json"),
    ("/introspect", "application/json"), ("/register", "application/json"),
    ("/device_authorization", "application/json"), ("/userinfo", "application/json"),
    ("/.well-known/jwks.json", "application/json"), ("/.well-known/openid-configuration", "application/json")])
def test_standard_endpoints_are_absent(livechat, path, kind):
    answer = requests.post(livechat.url + path, data={"grant_type": "client_credentials"}, auth=REPORTS)
    assert answer.status_code == 404 and answer.headers["Content-Type"].startswith(kind), answer.text


def test_the_profile_has_no_pushed_requests_and_no_dpop(livechat):
    metadata = requests.get(f"{livechat.url}/.well-known/oauth-authorization-server").json()
    assert not {"pushed_authorization_request_endpoint", "require_pushed_authorization_requests",
                "dpop_signing_alg_values_supported"} & metadata.keys()
    key = dpop_key()  # a proof at LiveChat's token endpoint binds nothing: its tokens are bearer tokens
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, REPORTS[0], ("jane", "jane-password"), code_challenge=challenge,
                           code_challenge_method="S256"))
    answer = requests.post(f"{livechat.url}/v2/token", auth=REPORTS, headers={
        "DPoP": dpop_proof(livechat, key, "POST", "/v2/token")}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK, "code_verifier": verifier})
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    assert call_api(livechat, "list_customers", answer.json()["access_token"]).status_code == 200


def test_no_scope_gets_every_scope_of_the_app_comma_separated(livechat):
    assert tokens_for(livechat)["scope"] == REPORTS_SCOPE


def test_comma_scope_asks_for_a_subset(livechat):
    answer = tokens_for(livechat, scope="chats--access:ro,customers:ro")
    assert answer["scope"] == "chats--access:ro,customers:ro"
    assert call_api(livechat, "list_customers", answer["access_token"]).status_code == 200
    assert call_api(livechat, "list_agents", answer["access_token"]).status_code == 403


@pytest.mark.parametrize("scope, why", [
    ("chats--access:ro customers:ro", "scope name not found: 'chats--access:ro customers:ro'"),  # the RFC's way
    ("chats--access:ro,,customers:ro", "scope name not found: ''"),
    ("chats--access:ro, customers:ro", "scope name not found: ' customers:ro'"),
    ("chats--access:ro,webhooks--all:rw", "The requested scope is invalid")])  # not one of the app's
def test_scope_that_is_not_a_comma_list_of_the_apps_scopes_ends_on_ooops(livechat, scope, why):
    location = first_answer(livechat, scope=scope).headers["Location"]
    assert_ooops(livechat, location, "invalid_scope")
    assert why in query_of(location)["exception_details"]


def test_prompt_consent_shows_the_consent_page(livechat):
    agent = UserAgent()
    page = agent.consent_page(url(livechat, prompt="consent"), livechat.url)
    assert page.status_code == 200 and "Allow Fernhollow Reports?" in page.text
    assert "livechat profile" in page.text  # the page says which server this is
    assert page.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("client_id, params, details", [
    ("no-such-app", {}, "client_id_not_found"),
    (None, {}, "client_id_not_found"),
    (REPORTS[0], {"redirect_uri": "https://evil.example/callback"}, "invalid_redirect_uri"),
    ("agent-api", {}, "redirect_uri_not_set")])
def test_unknown_app_or_redirect_uri_ends_on_ooops_not_the_app(livechat, client_id, params, details):
    answer = first_answer(livechat, client_id, **params)
    assert answer.status_code == 302
    assert_ooops(livechat, answer.headers["Location"], "unauthorized_client", details)


@pytest.mark.parametrize("response_type", ["code", "token"])
def test_authorization_request_without_redirect_uri_ends_on_ooops_invalid_request(livechat, response_type):
    answer = first_answer(livechat, response_type=response_type, redirect_uri=None)
    assert_ooops(livechat, answer.headers["Location"], "invalid_request", LIVECHAT_INVALID_REQUEST)
    assert landing(livechat, response_type=response_type).startswith(APP_CALLBACK)  # with it: fine


def test_deny_ends_on_ooops_and_the_app_hears_nothing(livechat):
    assert_ooops(livechat, landing(livechat, decision="Deny"), "access_denied")


@pytest.mark.parametrize("scope", ["agents--all:rw", "chats--all:ro"])  # administrator scopes
def test_role_gated_scope_for_an_agent_ends_on_ooops_invalid_scope(livechat, scope):
    assert_ooops(livechat, landing(livechat, ADMIN_TOOLS, scope=scope), "invalid_scope")
    assert DAL.match(query_of(landing(livechat, ADMIN_TOOLS, ("ada", "ada-password"), scope=scope))["code"])


@pytest.mark.parametrize("redirect_uri", [f"{APP_CALLBACK}/extra", f"{APP_CALLBACK}extra"],
                         ids=["under-the-path", "the-path-continued"])
def test_redirect_uri_under_the_registered_path_is_accepted(livechat, redirect_uri):
    location = landing(livechat, redirect_uri=redirect_uri)
    assert location.startswith(f"{redirect_uri}?code=dal%3A"), location


@pytest.mark.parametrize("redirect_uri", [
    f"{APP_CALLBACK}/../admin", f"{APP_CALLBACK}/%2e%2e/admin", f"{APP_CALLBACK}?next=/x",
    f"{APP_CALLBACK}#frag", "http://127.0.0.1:8766/callback",  # another loopback port (RFC 8252 §7.3 would allow it)
    "http://localhost:8765/callback", "https://127.0.0.1:8765/callback", "http://127.0.0.1:8765/"],
    ids=["dot-dot", "encoded-dot-dot", "query", "fragment", "another-port", "localhost", "https", "root"])
def test_redirect_uri_outside_livechats_rules_ends_on_ooops(livechat, redirect_uri):
    assert_ooops(livechat, first_answer(livechat, redirect_uri=redirect_uri).headers["Location"],
                 "unauthorized_client", "invalid_redirect_uri")


def console_register(server, redirect_uris: str) -> requests.Response:
    session = requests.Session()
    (form,) = [f for f in forms_of(session.get(f"{server.url}/console").text) if "csrf_token" in f.fields]
    return session.post(f"{server.url}/console", data={
        "csrf_token": form.fields["csrf_token"], "client_name": "Shop", "app_type": "server-side",
        "redirect_uris": redirect_uris, "scope": "customers:ro"})


def test_console_accepts_plain_http_beyond_loopback(livechat, start_server):
    assert console_register(livechat, "http://shop.example/oauth").status_code == 201
    standard = start_server(seed=7)
    refused = console_register(standard, "http://shop.example/oauth")
    assert refused.status_code == 400 and "RFC 9700 section 2.6" in refused.text


def test_more_than_three_redirects_in_30_seconds_end_on_ooops(livechat):
    browser = UserAgent()
    for _ in range(3):
        assert DAL.match(query_of(landing(livechat, browser=browser))["code"])
    assert_ooops(livechat, landing(livechat, browser=browser), "access_denied", "too_many_redirects")
    assert DAL.match(query_of(landing(livechat, WIDGET, browser=browser, code_challenge=pkce_pair()[1],
                                      code_challenge_method="S256"))["code"])  # another app: its own count
    assert DAL.match(query_of(landing(livechat, user=("ada", "ada-password")))["code"])  # another user
    livechat.clock.advance(30)
    assert DAL.match(query_of(landing(livechat, browser=browser))["code"])


# --- the implicit grant: response_type=token at "/" -----------------------------------------------------

@pytest.mark.parametrize("client_id", [WIDGET, REPORTS[0]], ids=["browser-app", "server-side-app"])
def test_implicit_grant_returns_the_token_in_the_fragment(livechat, client_id):
    location = landing(livechat, client_id, response_type="token", scope="customers:ro")
    assert location.startswith(f"{APP_CALLBACK}#access_token=dal%3A"), location  # no query: nothing for a server
    got = fragment_pairs(location)
    assert [name for name, _ in got] == ["access_token", "token_type", "expires_in", "state"]  # LiveChat's example
    got = dict(got)
    assert DAL.match(got["access_token"]) and (got["token_type"], got["expires_in"], got["state"]) == (
        "Bearer", "28800", "s-123")
    assert call_api(livechat, "list_customers", got["access_token"]).status_code == 200
    facts = info(livechat, got["access_token"]).json()
    assert (facts["client_id"], facts["scope"]) == (client_id, "customers:ro") and "refresh_token" not in facts


def test_an_app_registered_in_the_console_may_use_the_implicit_grant_too(livechat):
    page = console_register(livechat, APP_CALLBACK)
    assert page.status_code == 201
    client_id = re.search(r'<code id="client-id">([^<]+)</code>', page.text)[1]
    location = landing(livechat, client_id, response_type="token", scope="customers:ro")
    assert DAL.match(dict(fragment_pairs(location))["access_token"]), location


def test_implicit_grant_errors_end_on_ooops_like_the_code_grants(livechat):
    assert_ooops(livechat, landing(livechat, WIDGET, response_type="token", decision="Deny"), "access_denied")
    assert_ooops(livechat, landing(livechat, ADMIN_TOOLS, response_type="token", scope="chats--all:ro"),
                 "invalid_scope")  # an administrator's scope, and Jane signed in
    evil = first_answer(livechat, WIDGET, response_type="token", redirect_uri="https://evil.example/callback")
    assert_ooops(livechat, evil.headers["Location"], "unauthorized_client", "invalid_redirect_uri")


def test_the_standard_server_offers_no_implicit_grant(server):
    location = requests.get(url(server, WIDGET, response_type="token").replace(f"{server.url}/?",
                                                                               f"{server.url}/authorize?"),
                            allow_redirects=False).headers["Location"]
    assert location.startswith(f"{APP_CALLBACK}?error=unsupported_response_type"), location


# --- the token endpoint: POST /v2/token ---------------------------------------------------------------

def test_token_response_is_livechats(livechat):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    answer = exchange(livechat, code, verifier)
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    body = answer.json()
    assert set(body) == {"access_token", "account_id", "expires_in", "organization_id", "refresh_token",
                         "scope", "token_type"}
    assert DAL.match(body["access_token"]) and ":" not in body["refresh_token"]
    assert (body["expires_in"], body["token_type"], body["scope"]) == (28800, "Bearer", REPORTS_SCOPE)
    assert uuid.UUID(body["account_id"]) and uuid.UUID(body["organization_id"])
    assert "WWW-Authenticate" not in answer.headers


def test_code_copied_with_its_3a_fails_as_livechat_answers_a_bad_code(livechat):
    verifier, challenge = pkce_pair()
    location = landing(livechat, code_challenge=challenge, code_challenge_method="S256")
    by_hand = re.search(r"code=([^&]+)", location)[1]  # dal%3A…, straight from the address bar
    answer = exchange(livechat, by_hand, verifier)
    assert_oauth_error(answer, 400, "unauthorized_client")
    assert answer.json()["error_description"] == LIVECHAT_CODE_REFUSED
    assert exchange(livechat, code_of(location), verifier).status_code == 200  # decoded: dal:…


def test_reused_or_expired_code_gets_the_same_answer(livechat):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    first = exchange(livechat, code, verifier).json()
    again = exchange(livechat, code, verifier)
    assert_oauth_error(again, 400, "unauthorized_client")
    assert call_api(livechat, "list_customers", first["access_token"]).status_code == 401  # revoked too
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    livechat.clock.advance(601)
    assert exchange(livechat, code, verifier).json()["error_description"] == LIVECHAT_CODE_REFUSED


def test_code_exchange_without_redirect_uri_is_refused_and_the_code_stays_good(livechat):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    without = exchange(livechat, code, verifier, redirect_uri=None)
    assert_oauth_error(without, 400, "invalid_request")
    assert without.json()["error_description"] == LIVECHAT_INVALID_REQUEST
    assert exchange(livechat, code, verifier).status_code == 200


def test_json_token_requests_as_livechats_accounts_sdk_sends_them(livechat):
    """The Accounts SDK's PKCE sample: fetch(server_url + "/v2/token", {headers: {'Content-Type':
    'application/json'}, method: "POST", body: JSON.stringify({grant_type, code, client_id,
    redirect_uri, code_verifier})})."""
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, WIDGET, code_challenge=challenge, code_challenge_method="S256"))
    answer = requests.post(f"{livechat.url}/v2/token", headers={"Accept": "application/json"}, json={
        "grant_type": "authorization_code", "code": code, "client_id": WIDGET, "redirect_uri": APP_CALLBACK,
        "code_verifier": verifier})
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert DAL.match(tokens["access_token"]) and tokens["scope"] == "chats--access:ro,chats--my:rw,customers:ro"
    refreshed = requests.post(f"{livechat.url}/v2/token", json={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": WIDGET})
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != tokens["refresh_token"]
    verifier, challenge = pkce_pair()  # a server-side app, its secret in the JSON body
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    answer = requests.post(f"{livechat.url}/v2/token", json={
        "grant_type": "authorization_code", "code": code, "client_id": REPORTS[0], "client_secret": REPORTS[1],
        "redirect_uri": APP_CALLBACK, "code_verifier": verifier})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("body, content_type, params", [
    ('["grant_type", "authorization_code"]', "application/json", {}),
    ('{"grant_type": "authorization_code", "code": 7}', "application/json", {}),
    ('{"grant_type": "authorization_code", "code": {"x": "y"}}', "application/json", {}),
    ('{"grant_type": "authorization_code", "code": "a", "code": "b"}', "application/json", {}),
    ('{"grant_type": "authorization_code"}', "application/json", {"grant_type": "authorization_code"}),
    (b'{"grant_type": "\xff"}', "application/json", {}),
    ('{"grant_type": "authorization_code"', "application/json", {}),
    ("grant_type=authorization_code", "text/plain", {})],
    ids=["array", "number", "object", "repeated", "also-in-query", "not-utf8", "truncated", "text-plain"])
def test_a_token_request_body_that_is_no_form_or_json_object_of_strings_is_refused(livechat, body, content_type,
                                                                                  params):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    if isinstance(body, str):
        body = body.replace('"a"', f'"{code}"').encode()
    answer = requests.post(f"{livechat.url}/v2/token", data=body, params=params, auth=REPORTS,
                           headers={"Content-Type": content_type})
    assert_oauth_error(answer, 400, "invalid_request")
    assert exchange(livechat, code, verifier).status_code == 200  # nothing was spent


def test_client_authentication_fails_in_livechats_words(livechat):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    refused = {
        "missing client ID": exchange(livechat, code, verifier, auth=None),
        "client ID not found": exchange(livechat, code, verifier, auth=("no-such-app", "x")),
        "invalid client secret": exchange(livechat, code, verifier, auth=(REPORTS[0], "wrong-secret")),
        "invalid client secret (in the body)": exchange(livechat, code, verifier, auth=None, client_id=REPORTS[0],
                                                        client_secret="wrong-secret")}
    for reason, answer in refused.items():
        assert_oauth_error(answer, 400, "unauthorized_client")
        assert answer.json()["error_description"] == f"{LIVECHAT_CODE_REFUSED}: {reason.split(' (')[0]}.", reason
    no_secret = exchange(livechat, code, verifier, auth=None, client_id=REPORTS[0])  # not settled by the docs
    assert_oauth_error(no_secret, 401, "invalid_client")
    assert no_secret.json()["error_description"] == "Client authentication failed: no client authentication included."
    assert exchange(livechat, code, verifier, auth=None, client_id=REPORTS[0],
                    client_secret=REPORTS[1]).status_code == 200  # the secret in the body, as LiveChat's docs show it


def test_http_basic_client_authentication_is_accepted_too(livechat):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, code_challenge=challenge, code_challenge_method="S256"))
    assert exchange(livechat, code, verifier, auth=REPORTS).status_code == 200  # RFC 6749 §2.3.1


def test_refresh_token_unknown_or_another_apps_fails_in_livechats_words(livechat):
    reports = tokens_for(livechat)
    unknown = refresh(livechat, "not-a-refresh-token")
    assert_oauth_error(unknown, 400, "unauthorized_client")
    assert unknown.json()["error_description"] == f"{LIVECHAT_CODE_REFUSED}: refresh token not found."
    widgets = refresh(livechat, reports["refresh_token"], WIDGET)  # "using refresh token with wrong client id"
    assert_oauth_error(widgets, 401, "invalid_client")
    assert refresh(livechat, reports["refresh_token"]).status_code == 200  # its own app still can


@pytest.mark.parametrize("grant_type", ["client_credentials", "urn:ietf:params:oauth:grant-type:device_code",
                                        "password"])
def test_grants_livechat_does_not_offer_get_unsupported_grant_type(livechat, grant_type):
    answer = requests.post(f"{livechat.url}/v2/token", data={"grant_type": grant_type}, auth=REPORTS)
    assert_oauth_error(answer, 400, "unsupported_grant_type")
    assert "authorization_code, refresh_token" in answer.json()["error_description"]


@pytest.mark.parametrize("pkce", [True, False], ids=["with-pkce", "without-pkce"])
def test_server_side_refresh_token_does_not_rotate_and_keeps_working(livechat, pkce):
    if pkce:
        first = tokens_for(livechat)
    else:
        first = exchange(livechat, code_of(landing(livechat))).json()
    for _ in range(2):  # the same refresh token, twice: a replay the standard would refuse
        again = refresh(livechat, first["refresh_token"])
        assert again.status_code == 200, again.text
        assert again.json()["refresh_token"] == first["refresh_token"]
        assert DAL.match(again.json()["access_token"]) and again.json()["scope"] == REPORTS_SCOPE
    assert call_api(livechat, "list_customers", again.json()["access_token"]).status_code == 200


def test_browser_app_refresh_token_rotates_and_the_old_one_is_refused(livechat):
    first = tokens_for(livechat, WIDGET)
    rotated = refresh(livechat, first["refresh_token"], WIDGET)
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != first["refresh_token"]
    replay = refresh(livechat, first["refresh_token"], WIDGET)
    assert_oauth_error(replay, 400, "invalid_grant")
    # reuse detection as in the standard server: the family, the rotated token included, is revoked
    assert_oauth_error(refresh(livechat, rotated.json()["refresh_token"], WIDGET), 400, "invalid_grant")


def test_pkce_plain_is_accepted_and_assumed_without_a_method(livechat):
    verifier = pkce_pair()[0]
    for method in ("plain", None):
        code = code_of(landing(livechat, WIDGET, code_challenge=verifier, code_challenge_method=method))
        assert exchange(livechat, code, verifier, auth=None, client_id=WIDGET).status_code == 200


@pytest.mark.parametrize("method", ["S256", "s256"])  # the Accounts SDK's spelling, and the docs' table's
def test_pkce_s256_is_accepted_in_either_spelling(livechat, method):
    verifier, challenge = pkce_pair()
    code = code_of(landing(livechat, WIDGET, code_challenge=challenge, code_challenge_method=method))
    assert_oauth_error(exchange(livechat, code, "w" * 43, auth=None, client_id=WIDGET), 400,
                       "invalid_grant")  # checked as S256: a wrong verifier fails
    code = code_of(landing(livechat, WIDGET, code_challenge=challenge, code_challenge_method=method))
    assert exchange(livechat, code, verifier, auth=None, client_id=WIDGET).status_code == 200


@pytest.mark.parametrize("params, where", [
    ({}, "authorize"),  # a browser app without PKCE
    ({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, "authorize"),
    ({"code_challenge": "v" * 43, "code_challenge_method": "plain"}, "token")])  # the wrong verifier
def test_pkce_failures(livechat, params, where):
    location = landing(livechat, WIDGET, **params)
    if where == "authorize":
        assert_ooops(livechat, location, "invalid_request")
    else:
        answer = exchange(livechat, code_of(location), "w" * 43, auth=None, client_id=WIDGET)
        assert_oauth_error(answer, 400, "invalid_grant")


def test_the_26th_access_token_revokes_the_oldest(livechat):
    first = tokens_for(livechat)
    others = tokens_for(livechat, user=("ada", "ada-password"))
    for _ in range(24):
        newest = refresh(livechat, first["refresh_token"]).json()
    assert call_api(livechat, "list_customers", first["access_token"]).status_code == 200  # 25 live
    refresh(livechat, first["refresh_token"])
    assert call_api(livechat, "list_customers", first["access_token"]).status_code == 401  # 26: oldest out
    assert call_api(livechat, "list_customers", newest["access_token"]).status_code == 200
    assert call_api(livechat, "list_customers", others["access_token"]).status_code == 200  # ada's: hers


def test_the_26th_refresh_token_revokes_the_oldest(livechat):
    refresh_tokens = []
    for flow in range(26):
        livechat.clock.advance(10)  # 3 redirects per 30 s
        refresh_tokens.append(tokens_for(livechat, WIDGET)["refresh_token"])
    assert_oauth_error(refresh(livechat, refresh_tokens[0], WIDGET), 400, "invalid_grant")
    assert refresh(livechat, refresh_tokens[1], WIDGET).status_code == 200


# --- revocation: DELETE /v2/token; token info: GET /v2/info ----------------------------------------------

def test_delete_with_the_access_token_revokes_it_and_its_refresh_token(livechat):
    tokens = tokens_for(livechat)
    answer = revoke(livechat, tokens["access_token"])
    assert answer.status_code == 200 and answer.json() == {}
    assert call_api(livechat, "list_customers", tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(livechat, tokens["refresh_token"]), 400, "invalid_grant")


def test_delete_with_a_refreshed_access_token_revokes_the_refresh_token_it_came_with(livechat):
    tokens = tokens_for(livechat)
    refreshed = refresh(livechat, tokens["refresh_token"]).json()  # no rotation: the same refresh token
    assert revoke(livechat, refreshed["access_token"]).json() == {}
    assert_oauth_error(refresh(livechat, tokens["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_delete_with_the_token_in_the_code_parameter_revokes_it_too(livechat, which):
    tokens = tokens_for(livechat)
    answer = requests.delete(f"{livechat.url}/v2/token", params={"code": tokens[which]})  # dal%3A… in the URL
    assert answer.status_code == 200 and answer.json() == {}
    assert call_api(livechat, "list_customers", tokens["access_token"]).status_code == 401
    assert_oauth_error(refresh(livechat, tokens["refresh_token"]), 400, "invalid_grant")
    raw = tokens_for(livechat)  # as LiveChat's curl sample writes it: ?code=dal:…, the colon as it is
    assert requests.delete(f"{livechat.url}/v2/token?code={raw['access_token']}").json() == {}
    assert call_api(livechat, "list_customers", raw["access_token"]).status_code == 401


def test_delete_with_the_refresh_token_revokes_the_grant(livechat):
    tokens = tokens_for(livechat)
    assert revoke(livechat, tokens["refresh_token"]).json() == {}
    assert call_api(livechat, "list_customers", tokens["access_token"]).status_code == 401


@pytest.mark.parametrize("headers, params, status, error", [
    ({}, {}, 400, "invalid_request"), ({"Authorization": "Basic eDp5"}, {}, 400, "invalid_request"),
    ({}, {"code": ""}, 400, "invalid_request"),
    ({}, {"code": ["dal:unknown", "dal:other"]}, 400, "invalid_request"),  # which one?
    (bearer("dal:unknown"), {"code": "dal:other"}, 400, "invalid_request"),  # both ways at once (RFC 6750 §2)
    (bearer("dal:unknown"), {}, 200, None), ({}, {"code": "dal:unknown"}, 200, None)],  # unknown: {} (no probing)
    ids=["nothing", "basic", "empty-code", "two-codes", "header-and-code", "unknown-header", "unknown-code"])
def test_delete_without_a_known_token_revokes_nothing(livechat, headers, params, status, error):
    tokens = tokens_for(livechat)
    answer = requests.delete(f"{livechat.url}/v2/token", headers=headers, params=params)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/json")
    assert (answer.json().get("error") if error else answer.json()) == (error or {})
    assert call_api(livechat, "list_customers", tokens["access_token"]).status_code == 200


def test_delete_with_the_token_both_ways_at_once_revokes_nothing(livechat):
    tokens = tokens_for(livechat)
    answer = requests.delete(f"{livechat.url}/v2/token", headers=bearer(tokens["access_token"]),
                             params={"code": tokens["access_token"]})
    assert_oauth_error(answer, 400, "invalid_request")
    assert call_api(livechat, "list_customers", tokens["access_token"]).status_code == 200


def test_rfc7009_revocation_request_at_v2_token_revokes_nothing(livechat):
    tokens = tokens_for(livechat)
    answer = requests.post(f"{livechat.url}/v2/token", data={"token": tokens["access_token"]}, auth=REPORTS)
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"
    assert call_api(livechat, "list_customers", tokens["access_token"]).status_code == 200


def test_info_answers_the_tokens_facts_with_the_time_left(livechat):
    tokens = tokens_for(livechat, scope="customers:ro")
    livechat.clock.advance(100)
    answer = info(livechat, tokens["access_token"])
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    assert answer.json() == {
        "access_token": tokens["access_token"], "account_id": tokens["account_id"],
        "client_id": REPORTS[0], "expires_in": 28700, "organization_id": tokens["organization_id"],
        "scope": "customers:ro", "token_type": "Bearer"}


@pytest.mark.parametrize("client", [REPORTS, WIDGET], ids=["server-side-app", "browser-app"])
def test_info_on_a_token_obtained_by_refresh_returns_both_tokens(livechat, client):
    first = tokens_for(livechat, client)
    assert "refresh_token" not in info(livechat, first["access_token"]).json()  # from the code: one token
    refreshed = refresh(livechat, first["refresh_token"], client).json()
    facts = info(livechat, refreshed["access_token"])
    assert facts.status_code == 200 and facts.json()["access_token"] == refreshed["access_token"]
    assert facts.json()["refresh_token"] == refreshed["refresh_token"]  # the one that came with it
    assert (refreshed["refresh_token"] == first["refresh_token"]) == (client == REPORTS)  # rotation: browser apps


def test_the_refresh_token_info_returns_is_not_stored(start_server, tmp_path):
    db = tmp_path / "livechat.sqlite3"
    livechat = start_server(db=str(db), seed=None, profile="livechat")
    first = tokens_for(livechat, WIDGET)
    refreshed = refresh(livechat, first["refresh_token"], WIDGET).json()
    assert info(livechat, refreshed["access_token"]).json()["refresh_token"] == refreshed["refresh_token"]
    livechat.stop()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("livechat.sqlite3*"))  # WAL too
    for value in (first["refresh_token"], refreshed["refresh_token"], refreshed["access_token"]):
        assert value.encode() not in stored


@pytest.mark.parametrize("case", ["none", "revoked", "expired", "refresh-token", "with-3a"])
def test_info_refuses_what_is_not_a_live_access_token(livechat, case):
    tokens = tokens_for(livechat)
    presented = {"refresh-token": tokens["refresh_token"],
                 "with-3a": tokens["access_token"].replace(":", "%3A")}.get(case, tokens["access_token"])
    if case == "revoked":
        revoke(livechat, presented)
    if case == "expired":
        livechat.clock.advance(28800)
    answer = requests.get(f"{livechat.url}/v2/info", headers={} if case == "none" else bearer(presented))
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and ("invalid_token" in challenge) == (case != "none")


def test_info_refuses_a_token_that_acts_for_no_user(start_server, tmp_path):
    """A client credentials token, issued by a standard server on the same --db: LiveChat's
    tokens always act for a user account, so /v2/info has no account to describe."""
    db = str(tmp_path / "shared.sqlite3")
    standard = start_server(db=db)
    access_token = requests.post(f"{standard.url}/token", auth=REPORTS, data={
        "grant_type": "client_credentials", "scope": "customers:ro"}).json()["access_token"]
    standard.stop()
    livechat = start_server(db=db, profile="livechat")
    answer = requests.get(f"{livechat.url}/v2/info", headers=bearer(access_token))
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert "no user" in answer.json()["error_description"]


def test_the_redirect_count_forgets_what_is_past_its_window():
    limit = RedirectLimit()
    for n in range(2000):  # 2,000 apps (or made-up client ids), a minute apart on the virtual clock
        assert limit.allows(f"app-{n}-" + "x" * 200, "jane", now=60 * n)
    assert len(limit) <= 10  # only what is inside the 30-second window is remembered
    assert [limit.allows("app", "jane", now=10**6) for _ in range(4)] == [True, True, True, False]


def test_agent_api_takes_the_dal_token_and_refuses_it_with_3a(livechat):
    access_token = tokens_for(livechat)["access_token"]
    assert call_api(livechat, "list_customers", access_token).status_code == 200
    refused = call_api(livechat, "list_customers", access_token.replace(":", "%3A"))
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


# --- metadata, banner, settings ----------------------------------------------------------------------

def test_metadata_names_the_profiles_endpoints_and_says_it_is_a_convenience(livechat):
    metadata = requests.get(f"{livechat.url}/.well-known/oauth-authorization-server").json()
    issuer = livechat.issuer
    assert (metadata["authorization_endpoint"], metadata["token_endpoint"]) == (f"{issuer}/", f"{issuer}/v2/token")
    assert metadata["mock_server_profile"] == "livechat"
    assert "describe no RFC 8414 metadata document" in metadata["mock_server_profile_description"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token", "implicit"]
    assert metadata["response_types_supported"] == ["code", "token"]
    assert set(metadata["code_challenge_methods_supported"]) == {"plain", "S256"}
    assert not {"revocation_endpoint", "introspection_endpoint", "registration_endpoint", "jwks_uri",
                "authorization_response_iss_parameter_supported"} & set(metadata)
    assert "openid" not in metadata["scopes_supported"]


def test_banner_shows_the_profile():
    text = banner(settings_from(port=5410, profile="livechat"))
    assert "PROFILE livechat" in text and "http://127.0.0.1:5410/v2/token" in text
    assert "PROFILE" not in banner(settings_from(port=5410))


@pytest.mark.parametrize("changes", [{"switches": Switches(require_pkce=False)}, {"profile": "okta"},
                                     {"require_pushed_authorization_requests": True}, {"require_dpop_nonce": True}])
def test_settings_refuse_a_profile_with_switches_or_an_unknown_one(changes, capsys):
    with pytest.raises(ValueError):
        Settings(**{"profile": "livechat", **changes})
    assert main(["--profile", "livechat", "--no-require-pkce"]) == 2  # the command line says why
    assert "takes no teaching switch" in capsys.readouterr().err


def test_setup_refuses_a_found_server_with_another_profile(livechat):
    assert setup(seed=None, port=livechat.settings.port, make_current=False, profile="livechat").metadata[
        "mock_server_profile"] == "livechat"
    with pytest.raises(RuntimeError, match="has the profile livechat, not none"):
        setup(seed=None, port=livechat.settings.port, make_current=False)


@pytest.mark.parametrize("request_args, status", [
    (("GET", "/?response_type=c%C3%B6de&client_id=fernhollow-reports", {}), 302),  # to /ooops
    (("GET", "/?response_type=token&client_id=fernhollow-widget&redirect_uri=%ff", {}), 302),
    (("POST", "/v2/token", {"headers": {"Authorization": "Basic " + "gA==" * 3}, "data": {"grant_type": "x"}}), 401),
    (("POST", "/v2/token", {"json": {"grant_type": "authorization_code"}}), 400),
    (("POST", "/v2/token", {"json": {"grant_type": "refresh_token", "refresh_token": ["x"] * 3}}), 400),
    (("POST", "/v2/token", {"data": "[" * 5000 + "]" * 5000, "headers": {"Content-Type": "application/json"}}), 400),
    (("POST", "/v2/token", {"json": {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "\ud800"}}),
     400),
    (("DELETE", "/v2/token?code=%ff%fe", {}), 200),  # an unknown token: {}
    (("DELETE", "/v2/token", {"headers": {"Authorization": "Bearer "}}), 400),
    (("GET", "/v2/info", {"headers": {"Authorization": "Bearer"}}), 401)])
def test_odd_input_gets_an_answer_never_a_500(livechat, request_args, status):
    method, path, kwargs = request_args
    answer = requests.request(method, livechat.url + path, allow_redirects=False, **kwargs)
    assert answer.status_code == status, answer.text
    assert status != 302 or answer.headers["Location"].startswith(f"{livechat.url}/ooops?oauth_exception=")


def test_no_protected_resource_metadata_and_no_second_api(livechat):
    """LiveChat's docs describe no resource metadata (RFC 9728) and no audiences (RFC 8707)."""
    for path in ("/.well-known/oauth-protected-resource/v3.5/agent", "/.well-known/oauth-protected-resource",
                 "/v3.5/configuration", "/v3.5/configuration/action/list_agents", "/v3.5/agent"):
        assert requests.get(livechat.url + path).status_code == 404, path
    challenge = call_api(livechat, "list_customers", None).headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="agent-api"'  # no resource_metadata
    metadata = requests.get(f"{livechat.url}/.well-known/oauth-authorization-server").json()
    assert "protected_resources" not in metadata and "client_id_metadata_document_supported" not in metadata


def test_the_resource_parameter_is_ignored_as_an_unknown_one(livechat):
    """RFC 6749 §3.1, §3.2: unknown parameters are ignored; LiveChat documents no `resource`."""
    answer = tokens_for(livechat, scope="customers:ro", resource="https://evil.example/api")
    assert call_api(livechat, "list_customers", answer["access_token"]).status_code == 200


def test_a_client_id_url_is_an_unknown_app(livechat):
    """No Client ID Metadata Documents: a URL is a client_id like any other, and none is known."""
    assert_ooops(livechat, landing(livechat, "https://app.example/client.json"), "unauthorized_client",
                 "client_id_not_found")


def test_with_the_profile_off_nothing_of_it_applies(server):
    assert requests.get(f"{server.url}/v2/info").status_code == 404
    assert requests.delete(f"{server.url}/v2/token").status_code == 404
    home = requests.get(f"{server.url}/?response_type=code&client_id=fernhollow-reports", allow_redirects=False)
    assert home.status_code == 200 and "livechat profile" not in home.text  # "/" is only the home page
    assert requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()[
        "authorization_endpoint"].endswith("/authorize")
