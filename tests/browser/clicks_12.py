"""Clicking notebook 12's attacker page after Run All, as a learner would (see test_jupyterlab).

The notebook shows the attacker's prize page twice, each framing a server's sign-in page, live in
the notebook's output: the switched server's (allow_framing=True), and the default one's.
"""
from __future__ import annotations

import json
import os
import urllib.request
from urllib.parse import parse_qsl, urlsplit

from jupyterlab_driver import MOCK_SERVER, _wait_until, code_cell, screenshot

# The attacker's site runs in the notebook's kernel, at the app's port + 4 (oauth_lab.attacker).
ATTACKER = f"http://127.0.0.1:{int(os.environ.get('MOCK_APP_PORT', '8765')) + 4}"


def caught() -> list[dict]:
    """What the attacker's /catch has received, read from the site's own log."""
    with urllib.request.urlopen(f"{ATTACKER}/received", timeout=10) as response:
        return [entry for entry in json.loads(response.read()) if entry["path"].startswith("/catch?")]


def prize_frame(lab, framing_default: bool):
    """The attacker's page as the notebook shows it live (an <object>: Playwright's frame_locator
    takes iframes only, so the frame is found by its URL): the one framing the default server, or
    the other one."""
    def matching() -> list:
        return [f for f in lab.frames if f.url.startswith(f"{ATTACKER}/prize")
                and dict(parse_qsl(urlsplit(f.url).query))["frame"].startswith(MOCK_SERVER + "/") == framing_default]
    _wait_until(lab, lambda: matching() != [], "the attacker's page to load")
    found = matching()
    assert len(found) == 1, [f.url for f in lab.frames]
    return found[0]


def click_the_prize(lab, artifacts, name):
    """Jane signs in inside the frame on the switched server's prize page and clicks the decoy: the
    code reaches the attacker. On the default server's prize page the frame stays empty, and the
    caption under it says why."""
    framing = code_cell(lab, "Window(prize_page(framing))")
    framing.scroll_into_view_if_needed()
    outer = prize_frame(lab, framing_default=False)
    _wait_until(lab, lambda: bool(outer.child_frames), "the frame inside the attacker's page")
    inner = outer.child_frames[0]
    inner.get_by_role("heading", name="Sign in").wait_for()  # the server's page, inside the attacker's
    inner.get_by_label("Username").fill("jane")
    inner.get_by_label("Password").fill("jane-password")
    inner.get_by_role("button", name="Sign in").click()
    inner.get_by_role("button", name="Allow").wait_for()
    screenshot(lab, artifacts / f"notebook-{name}-framed.png", framing)  # the consent, over the decoy

    before = len(caught())
    framing.locator(".jp-OutputArea-output").scroll_into_view_if_needed()
    box = outer.get_by_role("button", name="Claim!").bounding_box()
    lab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # where Jane clicks
    _wait_until(lab, lambda: len(caught()) > before, "the attacker's /catch to receive the code", 30_000)
    assert "code=" in caught()[-1]["path"], caught()[-1]
    screenshot(lab, artifacts / f"notebook-{name}-clickjacked.png", framing)

    default = code_cell(lab, "Window(prize_page(lab))")
    default.scroll_into_view_if_needed()
    prize = prize_frame(lab, framing_default=True)
    prize.get_by_role("button", name="Claim!").wait_for()
    [framed] = prize.child_frames
    _wait_until(lab, lambda: framed.url != "about:blank", "the framed page to load or be refused")
    assert framed.url.startswith("chrome-error://"), framed.url  # refused: X-Frame-Options, frame-ancestors
    assert "refused to connect" in default.locator(".jp-OutputArea-output p").inner_text()  # what it means
    assert default.locator("img[alt^=\"the attacker's page\"]").is_hidden()  # the drawing: only if no page
    screenshot(lab, artifacts / f"notebook-{name}-refused.png", default)


CLICKS = {"12-security-lab": click_the_prize}
