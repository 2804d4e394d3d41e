"""Clicking notebook 08's widgets after Run All, as a learner would (see test_jupyterlab)."""
from __future__ import annotations

import re
from base64 import b64encode

from jupyterlab_driver import (_wait_until, button, choose, code_cell, output_text, run_cell_containing,
                               screenshot, synced, wait_for_output)


def click_secrets_and_explorer(lab, artifacts, name):
    """Show secrets: the app's id and secret are the grant. Then the API explorer: list_chats
    with the job's tokens and Jane's — a token with no user sees no group's chats."""
    inspector = code_cell(lab, 'ExchangeInspector.for_step(step, title="Client credentials")')
    basic = "Basic " + b64encode(b"fernhollow-reports:reports-secret").decode()
    masked = output_text(inspector)
    assert "grant_type=client_credentials" in masked and basic not in masked
    box = inspector.get_by_role("checkbox", name="Show secrets", exact=True)
    box.check()
    wait_for_output(lab, inspector, re.escape(basic), "the app's credentials in the Authorization header")
    synced(lab)
    screenshot(lab, artifacts / f"notebook-{name}-inspector-clicked.png", inspector)
    box.uncheck()
    _wait_until(lab, lambda: output_text(inspector) == masked, "the secrets to be masked again",
                timeout_ms=30_000)

    # Later cells moved the virtual clock past the first tokens' expiry: make the tokens anew.
    explorer = run_cell_containing(lab, "explorer = ApiExplorer(lab, tokens)")
    choose(explorer, "action", "list_chats")
    for token, found in [("job: chats--access:ro", 0), ("jane: chats--access:ro", 3), ("ada: chats--all:ro", 5)]:
        choose(explorer, "token", token)
        synced(lab)
        button(explorer, "Send").click()
        shown = wait_for_output(lab, explorer, rf'(?s)HTTP 200 .*"found_chats": {found}\b',
                                f"list_chats with {token} to find {found} chats")
        assert "Bearer" in shown and "allowed: the token carries chats--access:ro" in shown, shown
    screenshot(lab, artifacts / f"notebook-{name}-explorer-clicked.png", explorer)


CLICKS = {"08-machine-to-machine-client-credentials": click_secrets_and_explorer}
