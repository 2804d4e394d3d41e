"""Holes found by probing the server as an attacker: each test *is* the attack, and passes only while
the hole stays shut (RULES.md, "Scopes and roles", "Hardening").
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests

import mock_server
from flows import (ADMIN_TOOLS, APP_CALLBACK, DEVICE_CODE, REPORTS, assert_oauth_error, authorization_url,
                   call_api, code_tokens, pkce_pair, query_of, token)
from oauth_lab.user_agent import UserAgent, forms_of, return_link

ADMIN_SCOPES = "agents--all:rw webhooks--all:rw"
JANE, ADA = ("jane", "jane-password"), ("ada", "ada-password")


def register(server, **metadata) -> dict:
    """An app registered by anyone at all: no sign-in, no initial access token (loopback)."""
    answer = requests.post(f"{server.url}/register", json={"client_name": "Totally Legit Tools", **metadata})
    assert answer.status_code == 201, answer.text
    return answer.json()


def administrator_name(server) -> str:
    readable = token(server, {"grant_type": "client_credentials", "scope": "agents--all:ro"}).json()
    agents = call_api(server, "list_agents", readable["access_token"]).json()["agents"]
    return next(agent["name"] for agent in agents if agent["id"] == "ada")


def csrf_of(html: str) -> str:
    return forms_of(html)[-1].fields["csrf_token"]


def is_signed_in(browser: requests.Session, server) -> bool:
    """The device page asks a signed-out browser to sign in first."""
    page = browser.get(f"{server.url}/device")
    return "Sign in" not in {button for form in forms_of(page.text) for button in form.buttons}


def sign_in(server, user=JANE, browser: requests.Session | None = None) -> requests.Session:
    browser = browser or requests.Session()
    login = browser.get(f"{server.url}/login")
    answer = browser.post(f"{server.url}/login", allow_redirects=False, data={
        "username": user[0], "password": user[1], "csrf_token": csrf_of(login.text), "next": "/"})
    assert answer.status_code == 303, answer.text
    return browser


# --- anyone could obtain administrator powers ------------------------------------------------------

@pytest.mark.parametrize("scope", [None, ADMIN_SCOPES, "agents--all:rw", "webhooks--all:rw customers:ro"])
def test_self_registered_app_gets_no_administrator_scope_by_client_credentials(server, scope):
    app = register(server, grant_types=["client_credentials"], scope=f"{ADMIN_SCOPES} customers:ro")
    data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    answer = token(server, data, auth=(app["client_id"], app["client_secret"]))
    assert_oauth_error(answer, 400, "invalid_scope")
    assert "only a signed-in user whose role allows it" in answer.json()["error_description"]
    assert administrator_name(server) == "Ada Admin"


def test_console_registered_app_gets_no_administrator_scope_by_client_credentials(server):
    browser = requests.Session()
    form = {"csrf_token": csrf_of(browser.get(f"{server.url}/console").text), "client_name": "Helpful Bot",
            "app_type": "server-side", "redirect_uris": APP_CALLBACK, "scope": ADMIN_SCOPES.split()}
    page = browser.post(f"{server.url}/console", data=form)
    assert page.status_code == 201, page.text
    client_id, secret = (re.search(rf'id="{name}">([^<]+)<', page.text).group(1)
                         for name in ("client-id", "client-secret"))
    answer = token(server, {"grant_type": "client_credentials", "scope": ADMIN_SCOPES}, auth=(client_id, secret))
    assert_oauth_error(answer, 400, "invalid_scope")


def test_client_credentials_still_work_for_agent_level_scopes(server):
    answer = token(server, {"grant_type": "client_credentials"})  # fernhollow-reports, registered scopes
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "chats--access:ro customers:ro agents--all:ro openid profile email"


def test_self_registered_app_gets_administrator_scope_only_from_an_administrator(server):
    app = register(server, redirect_uris=[APP_CALLBACK], scope=ADMIN_SCOPES)
    jane = UserAgent(*JANE).authorize(authorization_url(server, app["client_id"], scope=ADMIN_SCOPES))
    assert query_of(jane)["error"] == "invalid_scope"
    ada = query_of(UserAgent(*ADA).authorize(authorization_url(server, app["client_id"], scope=ADMIN_SCOPES)))
    granted = token(server, {"grant_type": "authorization_code", "code": ada["code"], "redirect_uri": APP_CALLBACK},
                    auth=(app["client_id"], app["client_secret"])).json()
    assert granted["scope"] == ADMIN_SCOPES
    renamed = call_api(server, "update_agent", granted["access_token"], {"id": "jane", "job_title": "Lead"})
    assert renamed.status_code == 200, renamed.text


def test_device_flow_administrator_scope_needs_an_administrator_approving(server):
    app = register(server, grant_types=[DEVICE_CODE], token_endpoint_auth_method="none", scope=ADMIN_SCOPES)

    def approved_by(user) -> requests.Response:
        grant = requests.post(f"{server.url}/device_authorization", data={"client_id": app["client_id"]}).json()
        UserAgent(*user).approve_device(grant["verification_uri"], grant["user_code"])
        server.clock.advance(grant["interval"])
        return token(server, {"grant_type": DEVICE_CODE, "device_code": grant["device_code"],
                              "client_id": app["client_id"]}, auth=None)

    assert_oauth_error(approved_by(JANE), 400, "access_denied")
    assert approved_by(ADA).json()["scope"] == ADMIN_SCOPES


def test_refresh_cannot_widen_an_agent_grant_to_an_administrator_scope(server):
    tokens = code_tokens(server, ADMIN_TOOLS, scope="agents--all:ro")
    answer = token(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                            "scope": "agents--all:rw"}, auth=ADMIN_TOOLS)
    assert_oauth_error(answer, 400, "invalid_scope")


def test_implicit_switch_administrator_scope_needs_an_administrator(start_server):
    server = start_server(seed=7, allow_implicit=True)
    app = register(server, redirect_uris=[APP_CALLBACK], token_endpoint_auth_method="none",
                   grant_types=["implicit"], response_types=["token"], scope=ADMIN_SCOPES)
    url = authorization_url(server, app["client_id"], response_type="token", scope=ADMIN_SCOPES)
    assert query_of("?" + UserAgent(*JANE).authorize(url).partition("#")[2])["error"] == "invalid_scope"
    assert query_of("?" + UserAgent(*ADA).authorize(url).partition("#")[2])["scope"] == ADMIN_SCOPES


# --- the console skipped the initial access token off loopback -----------------------------------

def console_post(server, browser, **extra) -> requests.Response:
    page = browser.get(f"{server.url}/console")
    return browser.post(f"{server.url}/console", data={
        "csrf_token": csrf_of(page.text), "client_name": "Student App", "app_type": "server-side",
        "redirect_uris": APP_CALLBACK, "scope": "customers:ro", **extra})


def test_registration_off_loopback_needs_the_initial_access_token(start_server):
    # Bound to all interfaces (as an instructor's class server is), reached here over loopback.
    server = start_server(host="0.0.0.0", registration_token="class-2026")
    app = {"client_name": "Student App", "redirect_uris": ["http://127.0.0.1:8765/callback"]}
    refused = requests.post(f"{server.url}/register", json=app)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    accepted = requests.post(f"{server.url}/register", json=app,
                             headers={"Authorization": "Bearer class-2026"})
    assert accepted.status_code == 201


@pytest.mark.parametrize("typed", [None, "guess"])
def test_console_off_loopback_refuses_without_the_initial_access_token(start_server, typed):
    # Bound to all interfaces (a class server), reached here over loopback.
    server = start_server(host="0.0.0.0", registration_token="class-2026")
    browser = requests.Session()
    assert "Initial access token" in browser.get(f"{server.url}/console").text
    refused = console_post(server, browser, **({"initial_access_token": typed} if typed else {}))
    assert refused.status_code == 401 and "initial access token" in refused.text
    assert "Student App" not in browser.get(f"{server.url}/console").text


def test_console_off_loopback_registers_with_the_initial_access_token(start_server):
    server = start_server(host="0.0.0.0", registration_token="class-2026")
    accepted = console_post(server, requests.Session(), initial_access_token="class-2026")
    assert accepted.status_code == 201 and 'id="client-secret"' in accepted.text


def test_console_on_loopback_asks_for_no_token(server):
    assert "Initial access token" not in requests.get(f"{server.url}/console").text


# --- DNS rebinding: a page elsewhere points its own name at 127.0.0.1 -----------------------------

@pytest.mark.parametrize("method, path, kind", [
    ("GET", "/_mock/transcript", "json"), ("POST", "/_mock/clock", "json"), ("GET", "/.well-known/jwks.json", "json"),
    ("POST", "/token", "json"), ("GET", "/console", "html"), ("GET", "/authorize", "html")])
def test_rebound_host_is_refused_before_any_route(server, method, path, kind):
    code_tokens(server)  # the transcript now holds a password, a secret and tokens
    before = server.clock.now()
    port = urlsplit(server.url).port
    answer = requests.request(method, server.url + path, json={"advance": 3600},
                              headers={"Host": f"rebind.attacker.example:{port}"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json" if kind == "json" else "text/html")
    assert "jane-password" not in answer.text and "rebind.attacker.example" in answer.text
    assert server.clock.now() == before


@pytest.mark.parametrize("host", ["127.0.0.1:8888", "localhost", "LOCALHOST:5001", "[::1]:8888", "hub.example",
                                  "hub.example:443"])
def test_own_names_answer_on_any_port(start_server, host):
    # 127.0.0.1:8888 is jupyter-server-proxy's Host locally; on a hub, the public URL's host.
    server = start_server(seed=7, public_url="https://hub.example/user/jane/oauth")
    assert requests.get(f"{server.url}/.well-known/jwks.json", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["hub.example.attacker.example", "evil@127.0.0.1", "[::1", ""])
def test_lookalike_or_malformed_hosts_are_refused(start_server, host):
    server = start_server(seed=7, public_url="https://hub.example/user/jane/oauth")
    assert requests.get(f"{server.url}/.well-known/jwks.json", headers={"Host": host}).status_code == 400


def test_allowed_hosts_follow_settings_replaced_while_running(server):
    url = f"{server.url}/.well-known/jwks.json"
    assert requests.get(url, headers={"Host": "learned.example"}).status_code == 400
    state = server.app.extensions["mock_server"]
    state.settings = state.settings.replace(public_url="https://learned.example/oauth")
    assert requests.get(url, headers={"Host": "learned.example"}).status_code == 200


# --- inputs that answered 500 ----------------------------------------------------------------------

@pytest.mark.parametrize("password, status, signed_in", [(JANE[1], 303, True), ("wrong", 401, False)])
def test_login_with_crlf_in_next_never_splits_the_location_header(server, password, status, signed_in):
    browser = requests.Session()
    login = browser.get(f"{server.url}/login")
    answer = browser.post(f"{server.url}/login", allow_redirects=False, data={
        "username": "jane", "password": password, "csrf_token": csrf_of(login.text), "next": "/\r\nX-Evil: 1"})
    assert answer.status_code == status, answer.text
    assert "X-Evil" not in answer.headers
    if status == 303:
        assert answer.headers["Location"] == server.issuer + "/"  # not a path this server serves
    assert is_signed_in(browser, server) is signed_in


def test_logout_with_crlf_in_next_signs_out(server):
    browser = sign_in(server)
    page = browser.get(f"{server.url}/console")
    answer = browser.post(f"{server.url}/logout", allow_redirects=False,
                          data={"csrf_token": csrf_of(page.text), "next": "/\r\nX"})
    assert answer.status_code == 303 and answer.headers["Location"] == server.issuer + "/"
    assert not is_signed_in(browser, server)


@pytest.mark.parametrize("since, status", [("²", 400), ("-1", 400), ("x", 400), (str(2**63), 400), ("0", 200),
                                           ("3", 200), (str(2**63 - 1), 200)])
def test_transcript_since_must_be_a_message_number(server, since, status):
    answer = requests.get(f"{server.url}/_mock/transcript", params={"since": since}, headers=server.admin_headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")


# --- an app learnt who is signed in, without consent ----------------------------------------------

def test_role_refusal_tells_the_app_what_was_refused_not_who_refused(server):
    location = UserAgent(*JANE).authorize(authorization_url(server, ADMIN_TOOLS[0], scope="agents--all:rw"))
    got = query_of(location)
    assert got["error"] == "invalid_scope" and "agents--all:rw" in got["error_description"]
    assert "administrator" in got["error_description"]
    for revealing in ("jane", "Jane Agent", "(agent)"):
        assert revealing.lower() not in got["error_description"].lower()


# --- the server as an open redirector for anyone who can register (RFC 9700 §4.11.2) ------------

PHISHING = "https://login-fernhollow.phish.example/cb"


def phishing_app(server) -> str:
    return register(server, redirect_uris=[PHISHING], token_endpoint_auth_method="none",
                    scope="customers:ro")["client_id"]


def test_untrusted_app_error_is_not_redirected_before_sign_in(server):
    url = authorization_url(server, phishing_app(server), redirect_uri=PHISHING, scope="nonsense:ro")
    answer = requests.get(url, allow_redirects=False)
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert "Sign in" in {button for form in forms_of(answer.text) for button in form.buttons}


def test_untrusted_app_error_is_shown_on_a_page_naming_where_it_goes(server):
    url = authorization_url(server, phishing_app(server), redirect_uri=PHISHING, scope="nonsense:ro")
    browser = sign_in(server)
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200 and "Location" not in page.headers
    assert "https://login-fernhollow.phish.example" in page.text and "Leave Fernhollow Accounts?" in page.text
    # Only a click sends the browser on, with the complete error response (RFC 6749 §4.1.2.1, RFC 9207).
    link = return_link(page.text)
    assert link.startswith(PHISHING + "?")
    assert query_of(link) | {"error_description": ""} == {"error": "invalid_scope", "error_description": "",
                                                         "state": "s-123", "iss": server.issuer}


def test_untrusted_app_deny_is_shown_on_a_page_too(server):
    client_id = phishing_app(server)
    _, challenge = pkce_pair()
    url = authorization_url(server, client_id, redirect_uri=PHISHING, scope="customers:ro",
                            code_challenge=challenge, code_challenge_method="S256")
    agent = UserAgent(*JANE)
    form = forms_of(agent.consent_page(url).text)[-1]
    answer = agent.session.post(form.action, data={**form.fields, "decision": "deny"}, allow_redirects=False)
    assert answer.status_code == 200 and "Location" not in answer.headers
    assert "access_denied" in answer.text
    assert query_of(return_link(answer.text))["error"] == "access_denied"


def test_untrusted_app_success_goes_straight_back(server):
    # The consent page named the redirect URI before the user clicked Allow.
    client_id = phishing_app(server)
    _, challenge = pkce_pair()
    agent = UserAgent(*JANE)
    consent = agent.consent_page(authorization_url(server, client_id, redirect_uri=PHISHING, scope="customers:ro",
                                                   code_challenge=challenge, code_challenge_method="S256"))
    assert PHISHING in consent.text
    location = agent.decide(consent, "Allow")
    assert location.startswith(PHISHING + "?") and "code" in query_of(location)


# --- logout left the signed cookie valid when replayed -------------------------------------------

def test_replayed_session_cookie_after_logout_is_signed_out(server):
    browser = sign_in(server)
    stolen = dict(browser.cookies)
    page = browser.get(f"{server.url}/console")
    assert browser.post(f"{server.url}/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 200
    replay = requests.Session()
    replay.cookies.update(stolen)
    assert not is_signed_in(replay, server)


def test_sign_in_gives_a_new_session_id(server):
    planted = requests.Session()
    login = planted.get(f"{server.url}/login")  # the attacker's pre-login session, planted in a browser
    before = dict(planted.cookies)
    planted.post(f"{server.url}/login", data={"username": "jane", "password": JANE[1],
                                              "csrf_token": csrf_of(login.text), "next": "/"})
    assert dict(planted.cookies) != before and is_signed_in(planted, server)
    attacker = requests.Session()
    attacker.cookies.update(before)
    assert not is_signed_in(attacker, server)


def test_a_request_that_fails_keeps_nothing_it_did_to_the_session():
    app = mock_server.create_app(mock_server.Settings(seed=7))

    @app.post("/half-done-sign-in")
    def half_done():  # signs in, then breaks: the 500 that next=/\r\nX once caused after login
        from flask import session
        session.update(user_id="jane")
        raise RuntimeError("after the session was changed")

    browser = app.test_client()
    answer = browser.post("/half-done-sign-in")
    assert answer.status_code == 500 and "Set-Cookie" not in answer.headers
    assert "Sign in" in browser.get("/device").text


def test_the_session_cookie_holds_only_an_id(server):
    browser = sign_in(server)
    (cookie,) = browser.cookies
    assert cookie.name == f"mock_oauth_session_{server.settings.port}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie.value)
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_sessions_live_in_the_database_shared_by_two_servers(start_server, tmp_path):
    db = str(tmp_path / "shared.sqlite3")
    first = start_server(db=db)
    second = start_server(db=db, public_url=first.url)  # as behind one load balancer
    browser = sign_in(first)  # the cookie jar sends the same cookie to both ports of 127.0.0.1
    assert is_signed_in(browser, second)
    page = browser.get(f"{second.url}/console")
    browser.post(f"{second.url}/logout", data={"csrf_token": csrf_of(page.text)})
    assert not is_signed_in(browser, first)


def test_two_servers_on_one_host_keep_their_own_sessions(start_server):
    # Browsers share cookies across the ports of a host (RFC 6265 §8.5): one cookie name would let
    # signing in to one server (notebook 12's weakened one) sign Jane out of the other.
    first, second = start_server(), start_server()
    browser = sign_in(first)
    sign_in(second, browser=browser)
    assert is_signed_in(browser, first) and is_signed_in(browser, second)
    assert sorted(c.name for c in browser.cookies) == sorted(
        f"mock_oauth_session_{s.settings.port}" for s in (first, second))
