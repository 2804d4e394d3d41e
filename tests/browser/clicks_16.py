"""Clicking notebook 16 after Run All, as a learner would (see test_jupyterlab): the consent panel
of the app known by its own metadata document — run again, Allow clicked — then the iss check,
the token request with `resource` and the token's claims; then the exercise with its solution
loaded (``%load``), whose own check passes."""
from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

from jupyterlab_driver import (allow_in_panel, code_cell, last_seq, MOCK_SERVER, mock_server, NOTEBOOK,
                               output_text, run_cell_containing, screenshot, wait_for_output)

API = f"{MOCK_SERVER}/v3.5/agent"
DOCUMENT = "/client-metadata.json"
CHECK = "where_to_sign_in.may_go_on.check(may_go_on)"
LOADED = "# %load solutions/16_may_go_on.py"  # IPython keeps the magic as the cell's first line


def click_allow_for_one_api(lab, artifacts, name):
    seq = last_seq()
    consent = allow_in_panel(lab, "consent = ConsentPanel(lab, authorization_url)")  # a fresh panel

    checked = run_cell_containing(lab, "params = check_iss(redirect, server)")
    assert output_text(checked).strip() == "['code', 'iss', 'state']", output_text(checked)
    run_cell_containing(lab, "include_client_id=True, resource=api")
    claims = run_cell_containing(lab, "claims = unverified_parts(")
    shown = output_text(claims)
    assert f"'aud': '{API}'" in shown and DOCUMENT in shown, shown
    screenshot(lab, artifacts / f"notebook-{name}-clicked.png", consent)

    sent = [m for m in mock_server("transcript", since=seq)["messages"] if m["seq"] > seq]
    decisions = [m for m in sent if m["method"] == "POST" and m["path"].startswith("/authorize")]
    assert [dict(parse_qsl(m["request_body"]))["decision"] for m in decisions] == ["allow"], decisions
    asked = parse_qs(urlsplit(decisions[0]["path"]).query)
    assert asked["resource"] == [API] and asked["client_id"][0].endswith(DOCUMENT), asked
    [exchange] = [m for m in sent if m["path"] == "/token"]
    form = dict(parse_qsl(exchange["request_body"]))
    assert exchange["status"] == 200 and form["resource"] == API and "client_secret" not in form, exchange

    exercise = code_cell(lab, CHECK)
    assert "✗" in output_text(exercise), output_text(exercise)  # the cell as the notebook has it
    exercise.locator(".jp-InputArea-editor").click()
    lab.keyboard.press("Control+a")
    lab.keyboard.type("%load solutions/16_may_go_on.py")
    lab.keyboard.press("Shift+Enter")  # %load only fills the cell
    lab.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-editor", has_text=LOADED).wait_for()
    report = run_cell_containing(lab, LOADED)
    wait_for_output(lab, report, r"✓ 16 · may the client go on\?", "the loaded solution's own check")
    screenshot(lab, artifacts / f"notebook-{name}-solved.png", report)


CLICKS = {"16-an-api-that-tells-you-where-to-sign-in": click_allow_for_one_api}
