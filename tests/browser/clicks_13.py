"""Clicking notebook 13's widgets after Run All, as a learner would (see test_jupyterlab): the
LiveChat-profile consent page in the real browser, then a Deny in the consent panel."""
from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

from jupyterlab_driver import (MOCK_SERVER_PORT, button, code_cell, open_and_sign_in, output_text,
                               owner_headers, run_cell_containing, screenshot)

LIVECHAT = f"http://127.0.0.1:{MOCK_SERVER_PORT + 9}"  # the notebook's `lc`: setup(port=lab.port + 9, ...)


def advance_livechat_clock(seconds: int) -> None:
    """LiveChat allows 3 authorization redirects per 30 s per app and user, and Run All made its
    last three at the same frozen instant: move the profile server's clock, as the notebook does."""
    request = urllib.request.Request(f"{LIVECHAT}/_mock/clock", data=json.dumps({"advance": seconds}).encode(),
                                     headers={"Content-Type": "application/json", **owner_headers(LIVECHAT)},
                                     method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def click_livechat_consent(lab, artifacts, name):
    advance_livechat_clock(30)
    consent = run_cell_containing(lab, "comma = OAuth2Session(")
    real = open_and_sign_in(lab, consent, "Open the real consent page in your browser")
    assert real.get_by_role("heading", level=1).inner_text() == "Allow Fernhollow Reports?"
    assert "livechat profile" in real.locator("header").inner_text()
    page = real.locator("main").inner_text()
    assert "chats--access:ro" in page and "customers:ro" in page, page
    real.screenshot(path=artifacts / f"notebook-{name}-livechat-consent.png", full_page=True)
    real.get_by_role("button", name="Allow").click()
    real.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/callback\?code=dal%3A"))  # the %3A, in the address bar
    state = parse_qs(urlsplit(real.url).query)["state"][0]
    assert real.get_by_role("heading", level=1).inner_text() == "Your app's redirect URI"
    real.close()

    button(consent, "Read what my app received").click()
    consent.get_by_text("The browser is sent back to the app with").wait_for()
    assert state in output_text(consent) and button(consent, "Allow").is_disabled()
    token = run_cell_containing(lab, "token = comma.fetch_token(")
    assert "['chats--access:ro,customers:ro']" in output_text(token), output_text(token)
    screenshot(lab, artifacts / f"notebook-{name}-real-decision.png", consent)

    again = code_cell(lab, "again = ConsentPanel(")
    button(again, "Deny").click()
    again.get_by_text("The browser is sent to the server's error page with").wait_for()
    assert "oauth_exception=access_denied" in output_text(again), output_text(again)
    screenshot(lab, artifacts / f"notebook-{name}-deny-clicked.png", again)


CLICKS = {"13-livechat-in-practice": click_livechat_consent}
