"""Clicking notebook 14 after Run All, as a stuck learner would (see test_jupyterlab): load the
solution into the blank cell, run it, click "Grade again" on the report that said "no app yet",
then show the messages it read."""
from __future__ import annotations

from jupyterlab_driver import (NOTEBOOK, button, code_cell, last_seq, mock_server, output_text,
                               run_cell_containing, screenshot, wait_for_output)

LOADED = "# %load solutions/14_capstone.py"  # IPython keeps the magic as the cell's first line


def click_grade_again(lab, artifacts, name):
    report = code_cell(lab, "capstone.app.check(attempt)")
    assert "no app was registered after the mark" in output_text(report), output_text(report)

    blank = code_cell(lab, "# Your app: register it")
    blank.locator(".jp-InputArea-editor").click()
    lab.keyboard.press("Control+a")
    lab.keyboard.type("%load solutions/14_capstone.py")
    lab.keyboard.press("Shift+Enter")  # %load only fills the cell
    lab.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-editor", has_text=LOADED).wait_for()
    seq = last_seq()
    solution = run_cell_containing(lab, LOADED)
    assert output_text(solution).split() == ["4", "customers", "4", "customers"], output_text(solution)
    registered = [m for m in mock_server("transcript", since=seq)["messages"] if m["path"] == "/register"]
    assert [m["status"] for m in registered] == [201], registered

    button(report, "Grade again").click()
    shown = wait_for_output(lab, report, r"✓ Capstone — Customer Lookup \(client_id \S+\): 7 of 7 phases pass",
                            "the report to grade the loaded solution")
    client_id = registered[0]["keys"][0].split(":", 1)[1]
    assert f"(client_id {client_id})" in shown and "✗" not in shown, shown

    report.get_by_role("checkbox", name="Show your app's messages").check()
    report.locator("svg", has_text="POST /revoke").wait_for()
    screenshot(lab, artifacts / f"notebook-{name}-graded-again.png", report)


CLICKS = {"14-capstone": click_grade_again}
