"""Clicking the widgets of notebooks 02-06 after Run All, as a learner would (see test_jupyterlab)."""
from __future__ import annotations

import ast
import json
import re
from base64 import b64encode
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from jupyterlab_driver import (allow_in_panel, button, choose, code_cell, control, exactly, last_seq,
                               mock_server, open_and_sign_in, output_text, run_cell_containing, screenshot,
                               synced, virtual_time, wait_for_output, _wait_until)

def click_scopes_and_consent(lab, artifacts, name):
    measure_what_run_all_drew(lab)
    try_again_and_deny_after_run_all(lab, artifacts, name)
    chosen = tick_scopes(lab, {"chats--access:ro": False, "customers:ro": True, "profile": True})
    request = run_cell_containing(lab, "authorization_url, state = oauth.authorization_url(")
    printed = request.locator(".jp-OutputArea-output").all_inner_texts()
    url = next(line for text in printed for line in text.splitlines() if line.startswith("http"))
    assert set(parse_qs(urlsplit(url).query)["scope"][0].split()) == chosen, url

    consent = allow_in_panel(lab, "ConsentPanel(lab, authorization_url")

    run_cell_containing(lab, "read_redirect(redirect)")
    token = run_cell_containing(lab, "oauth.fetch_token(")
    run_cell_containing(lab, "SequenceDiagram(lab.transcript.flow(")  # the new flow, drawn
    screenshot(lab, artifacts / f"notebook-{name}-clicked.png")
    assert_token_scopes(token, chosen)

    decide_on_the_real_page(lab, artifacts, name)


def tick_scopes(lab, clicks: dict[str, bool]) -> set[str]:
    """Tick or untick the ScopePicker's checkboxes (scope → ticked?); the scopes now chosen."""
    picker = code_cell(lab, "ScopePicker(")
    for scope, ticked in clicks.items():
        box = picker.get_by_role("checkbox", name=scope, exact=True)
        box.set_checked(ticked)
        assert box.is_checked() is ticked
    chosen = {scope for scope, ticked in clicks.items() if ticked}
    ticked_now = {box.inner_text().strip() for box in picker.locator(".widget-checkbox").all()
                  if box.locator("input[type=checkbox]").is_checked()}
    assert ticked_now == chosen
    return chosen


def assert_token_scopes(token_cell, chosen: set[str]) -> None:
    """The `token["scope"]` the cell shows is exactly `chosen`."""
    shown = token_cell.locator(".jp-OutputArea-output[data-mime-type='text/plain']").inner_text()
    scopes = ast.literal_eval(shown)
    scopes = scopes.split() if isinstance(scopes, str) else scopes
    assert sorted(scopes) == sorted(chosen), f"token scopes {shown} ≠ clicked {sorted(chosen)}"


LOOPBACK_CALLBACK = re.compile(r"^http://127\.0\.0\.1:\d+/callback\?")  # the app's redirect URI, on a laptop


def measure_what_run_all_drew(lab):
    """The sequence diagram, wider than the output, is shown no wider than it; every label of the
    URL builder has the room its text needs."""
    diagram = code_cell(lab, "SequenceDiagram(lab.transcript.flow(").locator(".jp-OutputArea-output")
    output, shown, drawn = diagram.evaluate("""e => { const img = e.querySelector('img');
        return [e.clientWidth, img.getBoundingClientRect().width, img.naturalWidth]; }""")
    assert drawn > output >= shown, (drawn, output, shown)
    labels = code_cell(lab, "AuthorizationUrlBuilder(").locator(".widget-text .widget-label")
    sizes = labels.evaluate_all("ls => ls.map(l => [l.textContent, l.clientWidth, l.scrollWidth])")
    assert [text for text, _, _ in sizes][-1] == "code_challenge", sizes
    assert all(needed <= room for _, room, needed in sizes), sizes  # nothing cut to "code_chal…"


def try_again_and_deny_after_run_all(lab, artifacts, name):
    """Run All decided the panel (the next cell clicked Allow). Try again; Jane denies on the real
    page this time; the cells below, run again, meet her Deny: the failure panel, one line of
    error, no traceback."""
    consent = code_cell(lab, "ConsentPanel(lab, authorization_url")
    assert button(consent, "Allow").is_disabled()
    button(consent, "Try again").click()
    _wait_until(lab, lambda: button(consent, "Try again").is_hidden() and not button(consent, "Allow").is_disabled(),
                "a new consent page in the panel")
    synced(lab)
    real = open_and_sign_in(lab, consent, "Open the real consent page in your browser")
    real.get_by_role("button", name="Deny").click()
    real.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/callback\?error=access_denied"))
    real.close()
    lab.context.clear_cookies()  # signed out again: decide_on_the_real_page signs in afresh
    button(consent, "Read what my app received").click()
    consent.get_by_text("Run the cells below again to use this answer").wait_for()

    run_cell_containing(lab, "read_redirect(redirect)")
    token = run_cell_containing(lab, "oauth.fetch_token(")
    shown = output_text(token)
    for row in ("Your app sees\toauthlib: AccessDeniedError", "error\taccess_denied",
                "Standard\tRFC 6749 §4.1.2.1 — the user (or the server) said no"):
        assert row in shown, shown
    assert "Traceback" not in shown and len(shown.splitlines()) <= 7, shown
    screenshot(lab, artifacts / f"notebook-{name}-denied-then-fetch-token.png", token)


def decide_on_the_real_page(lab, artifacts, name, callback: re.Pattern = LOOPBACK_CALLBACK):
    """The real-browser path: a new request, the panel's link to the real consent page, Jane
    decides there, the browser lands on the app's redirect URI (`callback`: where the app is
    reached), the panel reads it from the app."""
    request = run_cell_containing(lab, "authorization_url, state = oauth.authorization_url(")
    state = re.search(r"state = (\S+)", output_text(request))[1]
    consent = run_cell_containing(lab, "ConsentPanel(lab, authorization_url")
    real = open_and_sign_in(lab, consent, "Open the real consent page in your browser")
    real.get_by_role("button", name="Allow").click()
    real.wait_for_url(callback)
    landed = real.url
    assert real.get_by_role("heading", level=1).inner_text() == "Your app's redirect URI"
    assert parse_qs(urlsplit(landed).query)["state"] == [state], landed
    real.screenshot(path=artifacts / f"notebook-{name}-real-callback.png", full_page=True)
    real.close()

    button(consent, "Read what my app received").click()
    consent.get_by_text("The browser is sent back to the app with").wait_for()
    assert state in output_text(consent), output_text(consent)
    assert button(consent, "Allow").is_disabled()
    screenshot(lab, artifacts / f"notebook-{name}-real-decision.png", consent)


CLIENT_ID = r"Client Id (\S+)"


def click_registration_form(lab, artifacts, name):
    form = code_cell(lab, 'RegistrationForm(lab, name="Weekly Customer Report"')
    # Run All's `app = form.value or form.submit()` registered the form as it was: server-side.
    first = re.search(CLIENT_ID, wait_for_output(lab, form, CLIENT_ID, "Run All's registration"))[1]

    app_name = "Weekly Customer Report (browser)"
    control(form, "text", "App name").locator("input").fill(app_name)
    app_type = control(form, "toggle-buttons", "App type")
    browser = app_type.locator(".widget-toggle-button", has_text=exactly("browser"))
    browser.click()
    assert "mod-active" in browser.get_attribute("class")
    synced(lab)
    seq = last_seq()
    button(form, "Register app").click()
    shown = wait_for_output(lab, form, r"No secret", "the browser app's registration")
    screenshot(lab, artifacts / f"notebook-{name}-form-clicked.png", form)

    client_id = re.search(CLIENT_ID, shown)[1]
    assert client_id != first, "the widget still shows Run All's registration"
    assert "Client Secret" not in shown, shown
    # What the click sent and what came back, as the server recorded it.
    [sent] = [m for m in mock_server("transcript", since=seq)["messages"]
              if m["seq"] > seq and m["path"] == "/register"]
    request, answer = json.loads(sent["request_body"]), json.loads(sent["response_body"])
    assert (request["client_name"], request["token_endpoint_auth_method"]) == (app_name, "none"), request
    assert sent["status"] == 201 and answer["client_id"] == client_id, answer
    assert "client_secret" not in answer, answer


FULL_CODE = r"\bac_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"  # mock_server/ids.py: "ac_" + 43 characters
MASKED_CODE = r"\bac_[A-Za-z0-9_-]{3}…"  # oauth_lab.widgets.base.mask: 6 characters, then "…"


def click_show_secrets(lab, artifacts, name):
    inspector = code_cell(lab, "ExchangeInspector.for_flow(")
    basic = "Basic " + b64encode(b"fernhollow-reports:reports-secret").decode()  # the app's credentials
    masked = output_text(inspector)
    assert re.search(MASKED_CODE, masked) and not re.search(FULL_CODE, masked), masked
    assert basic not in masked

    box = inspector.get_by_role("checkbox", name="Show secrets", exact=True)
    box.check()
    shown = wait_for_output(lab, inspector, FULL_CODE, "the full authorization code")
    assert basic in shown, "the token request's Authorization header is still masked"
    synced(lab)
    screenshot(lab, artifacts / f"notebook-{name}-inspector-clicked.png", inspector)

    box.uncheck()
    _wait_until(lab, lambda: output_text(inspector) == masked, "the secrets to be masked again",
                timeout_ms=30_000)


def click_api_explorer(lab, artifacts, name):
    explorer = code_cell(lab, "ApiExplorer(lab, tokens)")

    def send(expected: str, what: str, shot: str) -> str:
        """Click Send once the choices reached the kernel; wait for the `expected` answer."""
        assert not re.search(expected, output_text(explorer)), f"shown before Send: {expected!r}"
        synced(lab)
        button(explorer, "Send").click()
        shown = wait_for_output(lab, explorer, expected, what)
        screenshot(lab, artifacts / f"notebook-{name}-explorer-{shot}.png", explorer)
        return shown

    choose(explorer, "action", "list_customers")
    choose(explorer, "token", "widget (jane)")
    send(r"(?s)action/list_customers\b.*HTTP 403 .*error=\"insufficient_scope\"",
         "403 insufficient_scope for the widget's token", "403")

    choose(explorer, "token", "reports (jane)")
    shown = send(r"(?s)action/list_customers\b.*HTTP 200 ", "200 for the reports token", "200")
    assert "allowed: the token carries customers:ro" in shown, shown

    typo = '{"limit": 5,'
    payload = control(explorer, "textarea", "JSON body").locator("textarea")
    payload.fill(typo)
    seq = last_seq()
    send(r"(?s)not valid JSON.*Nothing was sent", "the invalid-JSON message", "invalid-json")
    assert payload.input_value() == typo, "the learner's text was replaced"
    assert last_seq() == seq, "a request was sent despite the invalid JSON"


SHOWN_TIME = r"Virtual time (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)"


def click_clock(lab, artifacts, name):
    from oauth_lab.widgets.clock import expiry

    clock = code_cell(lab, "ClockWidget(lab)")
    assert re.search(SHOWN_TIME, output_text(clock)), output_text(clock)
    # The time to add the hour to is the server's, not the one shown: the widget redraws only when
    # it is created, clicked or told to advance, and later cells move the clock behind its back.
    now = mock_server("clock")["now"]

    button(clock, "+1 h").click()
    later = now + 3600
    shown = wait_for_output(lab, clock, r"Virtual time " + re.escape(virtual_time(later)),
                            "the clock to show one hour later")
    screenshot(lab, artifacts / f"notebook-{name}-clock-clicked.png", clock)
    assert mock_server("clock")["now"] == later

    row = re.search(r"access token: (.*?) \((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC\)", shown)
    assert row, shown
    expires = int(datetime.strptime(row[2], "%Y-%m-%d %H:%M:%S")
                  .replace(tzinfo=timezone.utc).timestamp())
    assert expires <= later and row[1] == expiry(expires, later), row[0]



CLICKS = {
    "02-register-your-app": click_registration_form,
    "03-the-authorization-request": click_scopes_and_consent,
    "04-the-token-exchange": click_show_secrets,
    "05-calling-the-api": click_api_explorer,
    "06-expiry-and-refresh": click_clock,
}
