"""RULES.md, "Authorization endpoint": one test per rule, as the user and the app see it.

While the client or its redirect URI cannot be trusted the user gets an error *page* (HTML, 400, no
Location); once both are known, errors go back to the app as ``?error=...&state=...&iss=...``.
"""
from __future__ import annotations

import pytest
import requests

from flows import APP_CALLBACK, ADMIN_TOOLS, REPORTS, WIDGET, authorization_url, authorize, pkce_pair, query_of
from oauth_lab.user_agent import UserAgent, forms_of

ODD_STATE = "a b&c=d/é"
EVIL = "https://evil.example/callback"


def visit(server, client_id=REPORTS[0], **params) -> requests.Response:
    """The first GET of the authorization URL, by a browser that is not signed in yet."""
    return requests.get(authorization_url(server, client_id, **params), allow_redirects=False)


def assert_error_page(response: requests.Response):
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Location" not in response.headers  # never a redirect: no open redirector
    assert "WWW-Authenticate" not in response.headers


def assert_error_redirect(server, location: str, error: str, state: str | None = "s-123",
                          callback: str | None = None):
    """What the app receives: its own callback, the error, the state it sent, and the issuer."""
    assert location.startswith(f"{callback or APP_CALLBACK}?"), location
    got = query_of(location)
    assert got["error"] == error, location
    assert got.get("error_description"), location
    assert got.get("state") == state
    assert got["iss"] == server.issuer


def redirect_of(response: requests.Response) -> str:
    assert response.status_code == 302, response.text  # Authlib's authorization responses
    return response.headers["Location"]


def signed_in(server) -> UserAgent:
    """jane's browser, already signed in (so an error cannot hide behind the login page)."""
    agent = UserAgent()
    agent.sign_in_if_asked(agent.session.get(f"{server.url}/login"), server.url)
    return agent


def signed_in_consent_page(server, **params) -> tuple[UserAgent, requests.Response]:
    """A browser signed in as jane, looking at the consent page."""
    agent = signed_in(server)
    page = agent.session.get(authorization_url(server, **params))
    assert page.status_code == 200 and "Allow" in page.text
    return agent, page


def register(server, **metadata) -> str:
    """A public app registered over RFC 7591 with the callback on this server; its client_id."""
    metadata = {"redirect_uris": [APP_CALLBACK], "token_endpoint_auth_method": "none",
                "scope": "customers:ro", **metadata}
    answer = requests.post(f"{server.url}/register", json=metadata)
    assert answer.status_code == 201, answer.text
    return answer.json()["client_id"]


def fragment_of(location: str) -> dict:
    return query_of("?" + location.partition("#")[2])


IMPLICIT_APP = {"grant_types": ["implicit"], "response_types": ["token"]}


# --- unknown or missing client_id: error page --------------------------------------------------

@pytest.mark.parametrize("client_id", ["no-such-app", None, ""])
def test_unknown_or_missing_client_id_shows_error_page(server, client_id):
    assert_error_page(visit(server, client_id))


def test_unknown_client_id_with_evil_redirect_uri_shows_error_page(server):
    assert_error_page(visit(server, "no-such-app", redirect_uri=EVIL))


# --- redirect_uri not registered: error page (exact match by default) --------------------------

@pytest.mark.parametrize("suffix", ["/callback/extra", "/callback?next=x", "/callback/", "/CALLBACK",
                                    "/callback#frag", "/call"])
def test_redirect_uri_not_registered_exact_match_shows_error_page(server, suffix):
    assert_error_page(visit(server, redirect_uri=server.url + suffix))


@pytest.mark.parametrize("redirect_uri", [EVIL, "http://127.0.0.1:8765.evil.example/callback",
                                          "http://127.0.0.1:8765/callback/../evil", "javascript:alert(1)"])
def test_redirect_uri_foreign_shows_error_page(server, redirect_uri):
    assert_error_page(visit(server, redirect_uri=redirect_uri))


def test_redirect_uri_registered_second_one_is_used(server):
    location = redirect_of(requests.Session().get(authorization_url(
        server, redirect_uri=APP_CALLBACK, scope="nonsense:ro"), allow_redirects=False))
    assert location.startswith(APP_CALLBACK + "?")


def test_redirect_matching_prefix_switch_accepts_longer_path_but_not_other_hosts(start_server):
    server = start_server(seed=7, redirect_matching="prefix")
    location = redirect_of(visit(server, redirect_uri=f"{APP_CALLBACK}/extra", scope="nonsense:ro"))
    assert location.startswith(f"{APP_CALLBACK}/extra?")
    assert_error_page(visit(server, redirect_uri=EVIL))


def test_redirect_matching_lax_switch_accepts_any_uri(start_server):
    server = start_server(seed=7, redirect_matching="lax")
    assert redirect_of(visit(server, redirect_uri=EVIL, scope="nonsense:ro")).startswith(EVIL)


# --- a native app's loopback IP redirect URI: any port (RFC 8252 §7.3; RFC 9700 §2.1, §4.1.3) -----

NATIVE_URIS = ["http://127.0.0.1/callback", "http://[::1]:8765/callback", "http://localhost:8765/callback"]


def test_native_app_loopback_ip_redirect_uri_matches_on_any_port(server):
    native = register(server, application_type="native", redirect_uris=NATIVE_URIS)
    verifier, challenge = pkce_pair()
    ephemeral = "http://127.0.0.1:51004/callback"  # the port the app was given when it asked
    location = UserAgent().authorize(authorization_url(server, native, redirect_uri=ephemeral, scope="customers:ro",
                                                       code_challenge=challenge, code_challenge_method="S256"))
    assert location.startswith(ephemeral + "?code="), location
    exchange = {"grant_type": "authorization_code", "code": query_of(location)["code"], "client_id": native,
                "code_verifier": verifier}
    moved = requests.post(f"{server.url}/token", data=dict(exchange, redirect_uri="http://127.0.0.1:51005/callback"))
    assert moved.status_code == 400 and moved.json()["error"] == "invalid_grant"  # the request's port, exactly
    assert requests.post(f"{server.url}/token", data=dict(exchange, redirect_uri=ephemeral)).status_code == 200
    assert visit(server, native, redirect_uri="http://[::1]:61023/callback").status_code == 200  # sign-in page


@pytest.mark.parametrize("application_type, redirect_uri", [
    ("web", "http://127.0.0.1:51004/callback"),  # a web app on loopback: another port is another origin
    ("native", "http://localhost:51004/callback"),  # a name, not a loopback IP literal (RFC 8252 §8.3)
    ("native", "http://[::1]:51004/callback/extra"), ("native", "http://127.0.0.1:51004/callback?x=1"),
    ("native", "https://127.0.0.1:51004/callback"), ("native", "http://evil@127.0.0.1:51004/callback"),
    ("native", "http://127.0.0.2:51004/callback"), ("native", "http://127.0.0.1:99999/callback"),
    ("native", "http://127.0.0.1:0/callback"), ("native", "http://[::1]:51004/callback#frag"),
], ids=["web-app", "localhost", "longer-path", "query", "https", "userinfo", "another-address", "port-too-big",
        "port-zero", "fragment"])
def test_any_loopback_port_only_for_native_apps_and_loopback_ip_literals(server, application_type, redirect_uri):
    client_id = register(server, application_type=application_type, redirect_uris=NATIVE_URIS)
    assert_error_page(visit(server, client_id, redirect_uri=redirect_uri))


def test_native_app_without_pkce_is_refused_even_with_a_secret(server):
    answer = requests.post(f"{server.url}/register", json={
        "redirect_uris": NATIVE_URIS, "application_type": "native", "scope": "customers:ro"}).json()
    page = signed_in(server).session.get(authorization_url(server, answer["client_id"], scope="customers:ro",
                                                           redirect_uri="http://127.0.0.1:51004/callback"))
    assert "Allow" not in page.text and "A native app must send" in page.text  # RFC 8252 §8.1
    _, challenge = pkce_pair()
    assert signed_in_consent_page(server, client_id=answer["client_id"], scope="customers:ro",
                                  redirect_uri="http://127.0.0.1:51004/callback", code_challenge=challenge,
                                  code_challenge_method="S256")


@pytest.mark.parametrize("application_type", ["desktop", 7, ["native"]])
def test_application_type_is_web_or_native(server, application_type):
    answer = requests.post(f"{server.url}/register", json={
        "redirect_uris": NATIVE_URIS, "token_endpoint_auth_method": "none", "application_type": application_type})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata", answer.text
    echoed = requests.post(f"{server.url}/register", json={
        "redirect_uris": NATIVE_URIS, "token_endpoint_auth_method": "none", "application_type": "native"})
    assert echoed.status_code == 201 and echoed.json()["application_type"] == "native"  # RFC 7591 §3.2.1


# --- redirect_uri omitted with several registered: error page ----------------------------------

def test_redirect_uri_omitted_with_several_registered_shows_error_page(server):
    two = register(server, redirect_uris=[APP_CALLBACK, f"{APP_CALLBACK}/second"])
    _, challenge = pkce_pair()
    assert_error_page(signed_in(server).session.get(authorization_url(
        server, two, redirect_uri=None, code_challenge=challenge, code_challenge_method="S256"),
        allow_redirects=False))


def test_redirect_uri_omitted_with_one_registered_is_fine(server):
    _, challenge = pkce_pair()
    location = UserAgent().authorize(authorization_url(
        server, register(server), redirect_uri=None, code_challenge=challenge, code_challenge_method="S256"))
    assert location.startswith(APP_CALLBACK + "?") and "code" in query_of(location)


# --- response_type not allowed: redirect unsupported_response_type / unauthorized_client -------

@pytest.mark.parametrize("response_type", ["token", "id_token token", "bogus", ""])
def test_response_type_not_offered_redirects_unsupported_response_type(server, response_type):
    location = redirect_of(visit(server, response_type=response_type))
    assert_error_redirect(server, location, "unsupported_response_type")
    assert "This server offers response_type=code." in query_of(location)["error_description"]


def test_response_type_not_registered_for_the_client_redirects_unauthorized_client(start_server):
    # With the implicit switch on, the server offers token; the widget is registered for code only.
    server = start_server(seed=7, allow_implicit=True)
    location = redirect_of(visit(server, WIDGET, response_type="token"))
    assert location.startswith(APP_CALLBACK + "#")  # implicit: the response is in the fragment
    assert fragment_of(location)["error"] == "unauthorized_client"
    assert fragment_of(location)["iss"] == server.issuer


def test_response_type_not_allowed_with_unregistered_redirect_uri_shows_error_page(server):
    # The redirect URI is checked before any error may be sent to it.
    page = visit(server, response_type="token", redirect_uri=EVIL)
    assert_error_page(page)
    assert "response_type=token is not supported. This server offers response_type=code." in page.text


def test_response_type_token_app_cannot_even_register_without_switch(server):
    answer = requests.post(f"{server.url}/register", json={
        "redirect_uris": [APP_CALLBACK], "token_endpoint_auth_method": "none", **IMPLICIT_APP})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"


def test_allow_implicit_switch_returns_token_state_and_iss_in_fragment(start_server):
    server = start_server(seed=7, allow_implicit=True)
    location = UserAgent().authorize(authorization_url(server, register(server, **IMPLICIT_APP),
                                                       response_type="token", redirect_uri=APP_CALLBACK))
    got = fragment_of(location)
    assert got["access_token"] and got["state"] == "s-123"
    assert got.get("iss") == server.issuer, location  # RFC 9207: iss travels with the response


# --- scope unknown or not allowed for the client: redirect invalid_scope -----------------------

@pytest.mark.parametrize("scope", ["nonsense:ro", "customers:ro nonsense:ro", "webhooks--all:rw",
                                   "chats--my:rw"])
def test_scope_unknown_or_not_allowed_for_client_redirects_invalid_scope(server, scope):
    assert_error_redirect(server, redirect_of(visit(server, scope=scope)), "invalid_scope")


# --- scope needs a role the user lacks: redirect invalid_scope ---------------------------------

# Administrator scopes in LiveChat's scope table; Jane is a normal agent, Ada an administrator.
@pytest.mark.parametrize("scope", ["agents--all:rw", "chats--all:ro"])
def test_scope_needs_role_user_lacks_redirects_invalid_scope(server, scope):
    # The app's other callback: the scripted browser follows redirects that stay on the server.
    location = UserAgent("jane", "jane-password").authorize(
        authorization_url(server, ADMIN_TOOLS[0], scope=scope, redirect_uri=APP_CALLBACK))
    assert_error_redirect(server, location, "invalid_scope", callback=APP_CALLBACK)
    assert f"{scope}: only a user with the administrator role" in query_of(location)["error_description"]


@pytest.mark.parametrize("scope", ["agents--all:rw", "chats--all:ro"])
def test_scope_needing_role_is_granted_to_user_with_role(server, scope):
    got = authorize(server, ADMIN_TOOLS[0], user=("ada", "ada-password"), scope=scope)
    assert "code" in got and got["iss"] == server.issuer


# --- PKCE for public clients: redirect invalid_request ------------------------------------------

@pytest.mark.parametrize("pkce", [{}, {"code_challenge_method": "S256"},
                                  {"code_challenge": "x" * 43, "code_challenge_method": "plain"},
                                  {"code_challenge": "x" * 43, "code_challenge_method": "S512"}],
                         ids=["none", "method-only", "plain", "unknown-method"])
def test_public_client_without_s256_code_challenge_redirects_invalid_request(server, pkce):
    assert_error_redirect(server, redirect_of(visit(server, WIDGET, **pkce)), "invalid_request")


def test_require_pkce_switch_off_lets_public_client_skip_pkce(start_server):
    server = start_server(seed=7, require_pkce=False)
    assert "code" in authorize(server, WIDGET)


# --- Deny: redirect access_denied with the same state -------------------------------------------

@pytest.mark.parametrize("state", ["s-123", ODD_STATE])
def test_user_clicks_deny_redirects_access_denied_with_same_state(server, state):
    got_location = UserAgent().authorize(authorization_url(server, state=state), decision="Deny")
    assert_error_redirect(server, got_location, "access_denied", state=state)
    assert "code" not in query_of(got_location)


# --- state echoed unchanged -----------------------------------------------------------------------

@pytest.mark.parametrize("state", [ODD_STATE, "+%20%2B", "x" * 500, "ü€😀"])
def test_state_echoed_unchanged(server, state):
    assert authorize(server, state=state, scope="customers:ro")["state"] == state


def test_state_echoed_unchanged_on_error_redirect(server):
    assert_error_redirect(server, redirect_of(visit(server, scope="nonsense:ro", state=ODD_STATE)),
                          "invalid_scope", state=ODD_STATE)


def test_state_absent_when_not_sent(server):
    got = authorize(server, state=None, scope="customers:ro")
    assert "code" in got and "state" not in got


# --- CSRF tokens on the consent and login forms: 400 page ---------------------------------------

@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_consent_form_without_valid_csrf_token_shows_400_page(server, csrf):
    agent, page = signed_in_consent_page(server)
    data = {"decision": "allow"} | ({} if csrf is None else {"csrf_token": csrf})
    answer = agent.session.post(page.url, data=data, allow_redirects=False)
    assert_error_page(answer)


def test_consent_form_with_another_sessions_csrf_token_shows_400_page(server):
    _, attacker_page = signed_in_consent_page(server)
    attacker_token = forms_of(attacker_page.text)[-1].fields["csrf_token"]
    victim, page = signed_in_consent_page(server)
    answer = victim.session.post(page.url, data={"decision": "allow", "csrf_token": attacker_token},
                                 allow_redirects=False)
    assert_error_page(answer)


@pytest.mark.parametrize("csrf", [None, "forged-token"])
def test_login_form_without_valid_csrf_token_shows_400_page(server, csrf):
    browser = requests.Session()
    assert browser.get(authorization_url(server)).status_code == 200  # the login page
    data = {"username": "jane", "password": "jane-password"} | ({} if csrf is None else {"csrf_token": csrf})
    answer = browser.post(f"{server.url}/login", data=data, allow_redirects=False)
    assert_error_page(answer)
    assert "Sign in" in browser.get(authorization_url(server)).text  # still signed out


def test_login_form_with_valid_csrf_token_signs_in(server):
    _, page = signed_in_consent_page(server)
    assert "Signed in as" in page.text


def test_login_answers_303_so_the_browser_never_repeats_the_post(server):
    # RFC 9700 §4.12: after a 307 a browser re-sends the POST, password included; after a 302 it may.
    browser = requests.Session()
    login = browser.get(authorization_url(server))
    answer = browser.post(f"{server.url}/login", allow_redirects=False, data={
        "username": "jane", "password": "jane-password", "csrf_token": forms_of(login.text)[-1].fields["csrf_token"],
        "next": "/authorize"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"{server.issuer}/authorize"


# --- iss in every authorization response (RFC 9207) ---------------------------------------------

def test_iss_present_on_success_response(server):
    got = authorize(server, scope="customers:ro")
    assert "code" in got and got["iss"] == server.issuer


def test_iss_present_on_error_response(server):
    assert query_of(redirect_of(visit(server, scope="nonsense:ro")))["iss"] == server.issuer
