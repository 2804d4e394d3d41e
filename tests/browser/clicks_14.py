"""Clicking notebook 14 after Run All, as a stuck learner would (see test_jupyterlab): load the
solution into the exercise cell, whose report said "no app yet", run it (it ends with the same
check), click "Grade again" on the new report, then show the messages it read."""
from __future__ import annotations

import re

from jupyterlab_driver import (NOTEBOOK, _wait_until, button, code_cell, last_seq, mock_server, output_text,
                               run_cell_containing, screenshot, wait_for_output)

from oauth_lab.capstone import PLANTED

CHECK = "capstone.app.check(attempt, callback)"
LOADED = "# %load solutions/14_capstone.py"  # IPython keeps the magic as the cell's first line
PASSED = r"✓ Capstone — Customer Lookup \(client_id (\S+)\): 7 of 7 phases pass"


def plants_since(seq: int) -> list[dict]:
    """The grader's planted authorization requests (its state says so) after message `seq`."""
    return [m for m in mock_server("transcript", since=seq)["messages"] if f"state={PLANTED}" in m["path"]]


def click_grade_again(lab, artifacts, name):
    exercise = code_cell(lab, CHECK)
    assert "no app was registered after the mark" in output_text(exercise), output_text(exercise)

    exercise.locator(".jp-InputArea-editor").click()
    lab.keyboard.press("Control+a")
    lab.keyboard.type("%load solutions/14_capstone.py")
    lab.keyboard.press("Shift+Enter")  # %load only fills the cell
    lab.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-editor", has_text=LOADED).wait_for()
    seq = last_seq()
    report = run_cell_containing(lab, LOADED)
    shown = wait_for_output(lab, report, PASSED, "the loaded solution's own check")
    registered = [m for m in mock_server("transcript", since=seq)["messages"] if m["path"] == "/register"]
    assert [m["status"] for m in registered] == [201], registered
    client_id = registered[0]["keys"][0].split(":", 1)[1]
    assert re.search(PASSED, shown).group(1) == client_id and "✗" not in shown, shown

    assert plants_since(seq), "the check planted no answer on the callback"
    seq = last_seq()
    button(report, "Grade again").click()  # the grader attacks the callback once more, and reads anew
    _wait_until(lab, lambda: plants_since(seq) != [], "Grade again to plant an answer of its own", 30_000)
    wait_for_output(lab, report, PASSED, "the report graded again")

    report.get_by_role("checkbox", name="Show your app's messages").check()
    report.locator("svg", has_text="POST /revoke").wait_for()
    screenshot(lab, artifacts / f"notebook-{name}-graded-again.png", report)


CLICKS = {"14-capstone": click_grade_again}
