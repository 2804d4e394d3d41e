"""Clicking notebook 09's device poller after Run All, as a learner would (see test_jupyterlab): the
TV polls (Wait and poll, then Poll now: slow_down), Jane approves in her own browser on the real
verification page — the poller's link, verification_uri_complete — and the poller, clicked again,
shows the tokens."""
from __future__ import annotations

import re

from jupyterlab_driver import (button, mock_server, open_and_sign_in, output_text, run_cell_containing,
                               screenshot, wait_for_output)


def approve_in_the_browser_then_poll(lab, artifacts, name):
    # Run All finished the first device code; fresh codes and a fresh poller, as a learner re-runs them.
    run_cell_containing(lab, 'grant = requests.post(lab.endpoint("device_authorization"),')
    poller = run_cell_containing(lab, "poller = DevicePoller(lab, tv, grant)")
    user_code = re.search(r"User code ([B-Z]{4}-[B-Z]{4})", output_text(poller))[1]

    button(poller, "Wait and poll").click()
    wait_for_output(lab, poller, r"poll 1 at \+5 s: 400 authorization_pending", "the first poll")
    button(poller, "Poll now").click()
    wait_for_output(lab, poller, r"poll 2 at \+5 s: 400 slow_down; interval now 10 s", "slow_down")

    real = open_and_sign_in(lab, poller, "Open the verification page in your browser")  # the QR code's URL
    page = real.locator("main").inner_text()
    assert f"Allow only if it shows {user_code} right now" in " ".join(page.split()), page  # RFC 8628 §5.4
    real.screenshot(path=artifacts / f"notebook-{name}-verification-page.png", full_page=True)
    real.get_by_role("button", name="Allow").click()
    assert "is connected" in real.get_by_role("status").inner_text()
    real.close()

    button(poller, "Wait and poll").click()
    shown = wait_for_output(lab, poller, r"poll 3 at \+15 s: 200 — Bearer token", "the tokens")
    screenshot(lab, artifacts / f"notebook-{name}-poller-clicked.png", poller)
    assert "The token response" in shown and "jane, on another device:" not in shown, shown  # decided in Chromium
    assert all(button(poller, label).is_disabled() for label in ("Wait and poll", "Poll now", "Allow as jane"))
    decided = [m for m in mock_server("transcript", key=f"user_code:{user_code}")["messages"]
               if m["method"] == "POST" and m["path"] == "/device"]
    assert len(decided) == 1 and "decision=allow" in decided[0]["request_body"], decided


CLICKS = {"09-devices-without-a-browser-device-flow": approve_in_the_browser_then_poll}
