"""The server's HTML pages in a real browser, driven the way a user (or a screen reader) finds things:
by accessible names — labels, roles, button names.

Login → consent → redirect; the device page; the Developer Console. The back channel (token
endpoint) is called with requests, as the app would.
"""
from __future__ import annotations

import re

import pytest
import requests

from flows import (APP_CALLBACK, DEVICE_CODE, REPORTS, WIDGET, assert_oauth_error, authorization_url,
                   pkce_pair, query_of, token)
from mock_server.scopes import describe
from oauth_lab.redirection_endpoint import RedirectionEndpoint

JANE = ("jane", "jane-password")
ODD_STATE = "a b&c=d/é"
SCOPES = ("customers:ro", "chats--access:ro")
CONSOLE_REDIRECT = APP_CALLBACK  # the app of this test run (its port: MOCK_APP_PORT)


@pytest.fixture(scope="module")
def app():
    """The app's own redirection endpoint, where the browser lands after Allow or Deny."""
    endpoint = RedirectionEndpoint()
    yield endpoint
    endpoint.stop()


# --- helpers: what a user does -------------------------------------------------------------

def submit(page, button):
    """Click a form's button and wait for the page the server answers with: a check made at once
    would read the old page (the device page's code check failed that way in CI)."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def sign_in(page, user=JANE[0], password=JANE[1]):
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    submit(page, "Sign in")


def expect_heading(page, text):
    assert page.get_by_role("heading", level=1).inner_text() == text


def open_consent(page, server, login_screenshot=None):
    """Open the authorization URL (a PKCE S256 request from fernhollow-reports), sign in as jane;
    returns the PKCE verifier."""
    verifier, challenge = pkce_pair()
    page.goto(authorization_url(server, REPORTS[0], scope=" ".join(SCOPES), state=ODD_STATE,
                                code_challenge=challenge, code_challenge_method="S256"))
    expect_heading(page, "Sign in")
    if login_screenshot:
        page.screenshot(path=login_screenshot, full_page=True)
    sign_in(page)
    expect_heading(page, "Allow Fernhollow Reports?")
    return verifier


def decide(page, decision):
    """Click Allow or Deny; returns the parameters the app's redirect URI received."""
    page.get_by_role("button", name=decision).click()
    page.wait_for_url(re.compile(r"/callback\?"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your app's redirect URI"
    return query_of(page.url)


def start_device_flow(server, scope="customers:ro") -> dict:
    response = requests.post(f"{server.url}/device_authorization",
                             data={"client_id": WIDGET, "scope": scope})
    assert response.status_code == 200, response.text
    return response.json()


def poll(server, device: dict) -> requests.Response:
    server.clock.advance(device.get("interval", 5))
    return token(server, {"grant_type": DEVICE_CODE, "device_code": device["device_code"],
                          "client_id": WIDGET}, auth=None)


def enter_code(page, code):
    page.get_by_label("Code").fill(code)
    submit(page, "Continue")


def scope_checkbox(page, scope):
    """A console scope checkbox, by its label: "customers:ro — See your customers' details"."""
    return page.get_by_role("checkbox", name=re.compile(rf"^{re.escape(scope)} —"))


def register_app(page, name, redirect_uris=CONSOLE_REDIRECT, app_type="server-side",
                 scopes=("customers:ro",)):
    page.get_by_label("App name").fill(name)
    page.get_by_label("App type").select_option(app_type)
    page.get_by_label("Redirect URIs").fill(redirect_uris)
    for scope in scopes:
        scope_checkbox(page, scope).check()
    submit(page, "Register app")


def credentials(page) -> dict:
    section = page.get_by_role("region", name="New app credentials")
    return {row.get_by_role("rowheader").inner_text(): row.get_by_role("cell").inner_text()
            for row in section.get_by_role("row").all()}


# --- authorization code flow through the pages ---------------------------------------------

def test_code_flow_login_consent_allow_then_exchange(page, server, app, artifacts):
    verifier = open_consent(page, server, login_screenshot=artifacts / "page-login.png")
    for scope in SCOPES:
        assert page.get_by_text(describe(scope), exact=True).is_visible(), scope
    page.screenshot(path=artifacts / "page-consent.png", full_page=True)

    got = decide(page, "Allow")
    assert page.url.startswith(f"{APP_CALLBACK}?")  # the app's origin, not the server's
    assert app.find(ODD_STATE) == page.url  # and the app saw the request
    assert got["state"] == ODD_STATE
    assert got["iss"] == server.issuer
    assert got["code"]

    response = token(server, {"grant_type": "authorization_code", "code": got["code"],
                              "redirect_uri": APP_CALLBACK, "code_verifier": verifier})
    assert response.status_code == 200, response.text
    assert set(response.json()["scope"].split()) == set(SCOPES)


def test_deny_sends_access_denied_with_state_and_iss(page, server, app):
    open_consent(page, server)
    got = decide(page, "Deny")
    assert got["error"] == "access_denied"
    assert got["state"] == ODD_STATE
    assert got["iss"] == server.issuer
    assert "code" not in got


def test_wrong_password_stays_on_login_with_an_alert(page, server):
    page.goto(authorization_url(server, REPORTS[0], scope="customers:ro"))
    sign_in(page, password="not-her-password")
    expect_heading(page, "Sign in")
    assert "Wrong username or password" in page.get_by_role("alert").inner_text()
    sign_in(page)
    expect_heading(page, "Allow Fernhollow Reports?")


def test_consent_page_cannot_be_framed(page, server):
    open_consent(page, server)
    consent_url = page.url
    headers = page.goto(consent_url).headers
    assert headers["x-frame-options"].upper() == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]

    page.goto("about:blank")  # a page of another origin tries to frame the consent page
    page.set_content(f'<iframe src="{consent_url}" width="800" height="600"></iframe>')
    assert page.frames[1].url.startswith("chrome-error:")  # Chromium refused to render it
    framed = page.frame_locator("iframe")
    assert framed.get_by_role("button", name="Allow").count() == 0
    assert framed.get_by_role("button", name="Sign in").count() == 0


# --- device page ---------------------------------------------------------------------------

def test_device_page_allow_connects_the_device(page, server, artifacts):
    device = start_device_flow(server)
    page.goto(device["verification_uri"])
    sign_in(page)
    expect_heading(page, "Connect a device")
    enter_code(page, device["user_code"].replace("-", "").lower())  # typed loosely: normalised

    assert page.get_by_text(describe("customers:ro"), exact=True).is_visible()
    assert device["user_code"] in page.locator("main").inner_text()
    page.screenshot(path=artifacts / "page-device.png", full_page=True)
    submit(page, "Allow")
    assert "connected" in page.get_by_role("status").inner_text()

    response = poll(server, device)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "customers:ro"


def test_device_page_wrong_code_shows_an_error(page, server):
    start_device_flow(server)
    page.goto(f"{server.url}/device")
    sign_in(page)
    enter_code(page, "WXYZ-WXYZ")
    assert "unknown" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Code").input_value() == "WXYZ-WXYZ"


def test_device_page_deny_tells_the_device(page, server):
    device = start_device_flow(server)
    page.goto(device["verification_uri"])
    sign_in(page)
    enter_code(page, device["user_code"])
    submit(page, "Deny")
    assert "Access denied" in page.get_by_role("status").inner_text()
    assert_oauth_error(poll(server, device), 400, "access_denied")


# --- Developer Console ---------------------------------------------------------------------

def test_console_registers_a_server_side_app_and_shows_its_secret_once(page, server, artifacts):
    page.goto(f"{server.url}/console")
    register_app(page, "Nightly Export")
    shown = credentials(page)
    assert shown["Client Id"] and shown["Client Secret"]
    assert shown["Redirect URIs"] == CONSOLE_REDIRECT
    assert shown["Scopes"] == "customers:ro"
    assert "shown only once" in page.get_by_role("alert").inner_text()
    page.screenshot(path=artifacts / "page-console.png", full_page=True)

    page.goto(f"{server.url}/console")  # reload without re-posting the form
    assert shown["Client Secret"] not in page.content()
    assert page.get_by_role("region", name="New app credentials").count() == 0
    listed = page.get_by_role("row").filter(has_text="Nightly Export")
    assert shown["Client Id"] in listed.inner_text()


def test_console_server_side_app_gets_a_client_credentials_token(page, server):
    page.goto(f"{server.url}/console")
    register_app(page, "Nightly Export")
    shown = credentials(page)
    response = token(server, {"grant_type": "client_credentials", "scope": "customers:ro"},
                     auth=(shown["Client Id"], shown["Client Secret"]))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "customers:ro"


def test_console_browser_app_gets_no_secret(page, server):
    page.goto(f"{server.url}/console")
    register_app(page, "Chat Sidebar", app_type="browser")
    shown = credentials(page)
    assert shown["Client Id"]
    assert "Client Secret" not in shown
    assert page.get_by_role("alert").count() == 0
    assert page.get_by_text("gets no secret").is_visible()


def test_console_bad_redirect_uri_shows_error_and_keeps_the_form(page, server):
    page.goto(f"{server.url}/console")
    register_app(page, "Leaky App", redirect_uris="http://example.com/cb")
    assert "use https" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("region", name="New app credentials").count() == 0
    assert page.get_by_label("App name").input_value() == "Leaky App"
    assert page.get_by_label("Redirect URIs").input_value() == "http://example.com/cb"
    assert scope_checkbox(page, "customers:ro").is_checked()
    assert page.get_by_role("row").filter(has_text="Leaky App").count() == 0


# --- an app anyone registered: errors go through "Leave Fernhollow Accounts?" --------------------

def test_deny_for_a_self_registered_app_asks_before_leaving(page, server, app):
    page.goto(f"{server.url}/console")
    register_app(page, "Quiz App", app_type="browser")
    client_id = credentials(page)["Client Id"]
    _, challenge = pkce_pair()
    page.goto(authorization_url(server, client_id, scope="customers:ro", state=ODD_STATE,
                                code_challenge=challenge, code_challenge_method="S256"))
    sign_in(page)
    submit(page, "Deny")
    expect_heading(page, "Leave Fernhollow Accounts?")  # not sent on by itself
    assert "access_denied" in page.get_by_role("alert").inner_text()
    page.get_by_role("link", name=f"Continue to {APP_CALLBACK.removesuffix('/callback')}").click()
    page.wait_for_url(re.compile(r"/callback\?"))
    got = query_of(page.url)
    assert got["error"] == "access_denied" and got["state"] == ODD_STATE and got["iss"] == server.issuer
