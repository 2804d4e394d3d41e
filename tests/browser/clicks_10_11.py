"""Clicking the widgets of notebooks 10 and 11 after Run All, as a learner would (see test_jupyterlab).

- 10: a fresh token in the two-APIs comparison, **Call each API** (both accept it), the app's
  revocation, **Call each API** again (the local JWT check still accepts, introspection refuses),
  then **+1 h** (both refuse: the token expired);
- 11: a new login — **Allow** in the consent panel — whose ID token passes every check, nonce and
  at_hash included; two hours later (the notebook's own cell) **Check again** finds it expired.
"""
from __future__ import annotations

import re

from jupyterlab_driver import (allow_in_panel, button, mock_server, output_text, run_cell_containing,
                               screenshot, wait_for_output, _wait_until)


def comparison_rows(cell) -> list[list[str]]:
    """The comparison table as shown: one list of cell texts per step (time, step, each API)."""
    rows = cell.locator(".widget-html table tr.step").all()
    return [[td.inner_text().strip() for td in row.locator("td").all()] for row in rows]


def wait_for_rows(lab, cell, count: int, what: str) -> list[list[str]]:
    _wait_until(lab, lambda: len(comparison_rows(cell)) == count, what, timeout_ms=30_000)
    return comparison_rows(cell)


def click_two_apis(lab, artifacts, name):
    comparison = run_cell_containing(lab, "comparison = ApiComparison(")  # a fresh token: first row
    [first] = wait_for_rows(lab, comparison, 1, "the first call")
    assert first[2].startswith("200") and first[3].startswith("200"), first

    button(comparison, "Call each API").click()
    _, called = wait_for_rows(lab, comparison, 2, "the row of the click")
    assert called[1] == "call" and called[2].startswith("200") and called[3].startswith("200"), called

    revoked = run_cell_containing(lab, 'token_type_hint="refresh_token").status_code')
    assert output_text(revoked).strip() == "200", output_text(revoked)
    button(comparison, "Call each API").click()
    after = wait_for_rows(lab, comparison, 3, "the row after the revocation")[-1]
    assert after[2].startswith("200 accepted"), f"the local JWT check should still accept: {after}"
    assert after[3].startswith("401") and "not active" in after[3], f"introspection should refuse: {after}"
    screenshot(lab, artifacts / f"notebook-{name}-two-apis-revoked.png", comparison)

    before = mock_server("clock")["now"]
    button(comparison, "+1 h").click()
    expired = wait_for_rows(lab, comparison, 4, "the row an hour later")[-1]
    assert mock_server("clock")["now"] == before + 3600
    assert expired[1] == "60 min later" and expired[2].startswith("401") and "exp" in expired[2], expired
    assert expired[3].startswith("401"), expired
    screenshot(lab, artifacts / f"notebook-{name}-two-apis-expired.png", comparison)


def click_login_and_check_again(lab, artifacts, name):
    consent = allow_in_panel(lab, "consent = ConsentPanel(lab, authorization_url)")  # a new login

    token = run_cell_containing(lab, "sorted(token)")  # fetch_token: the code for tokens
    assert "'id_token'" in output_text(token), output_text(token)
    anatomy = run_cell_containing(lab, "id_token_view = TokenAnatomy(")
    checked = wait_for_output(lab, anatomy, r"every check passed", "the new ID token's checks")
    for check in ("signature", "iss", "aud", "exp", "nonce", "at_hash"):
        assert re.search(rf"✓\s*{check}\b", checked), f"{check} did not pass:\n{checked}"
    screenshot(lab, artifacts / f"notebook-{name}-id-token.png", anatomy)

    run_cell_containing(lab, "lab.clock.advance(2 * 3600)")  # the notebook's "two hours later"
    button(anatomy, "Check again").click()
    expired = wait_for_output(lab, anatomy, r"refuse it — exp:", "Check again to find the ID token expired")
    assert re.search(r"✗\s*exp\b", expired), expired
    screenshot(lab, artifacts / f"notebook-{name}-id-token-expired.png", anatomy)


CLICKS = {
    "10-ending-access-revocation-and-introspection": click_two_apis,
    "11-openid-connect-who-is-the-user": click_login_and_check_again,
}
