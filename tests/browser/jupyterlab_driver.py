"""Driving JupyterLab in Chromium the way a learner does: open a notebook, Run All, find a cell,
click a widget, read what it shows. Shared by tests/browser/test_jupyterlab.py and the per-notebook
click scenarios in tests/browser/clicks_*.py."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts"  # as in conftest.py
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
WHOLE_NOTEBOOKS = os.environ.get("WHOLE_NOTEBOOK_SCREENSHOTS") == "1"
# Where each notebook's kernel starts the server and the app (oauth_lab.lab: MOCK_SERVER_PORT,
# MOCK_APP_PORT; the kernels inherit this environment).
MOCK_SERVER_PORT = int(os.environ.get("MOCK_SERVER_PORT", "5001"))
MOCK_SERVER = f"http://127.0.0.1:{MOCK_SERVER_PORT}"

# Selectors. JupyterLab may keep hidden panels around: only look at what is shown.
SHOWN = ":not(.lm-mod-hidden)"
NOTEBOOK = f".jp-NotebookPanel{SHOWN}"
IDLE = f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
WIDGET_ERROR = ".jupyter-widgets-error-widget"
RUNNING_PROMPT = re.compile(r"^\s*\[\*\]:?\s*$")
DONE_PROMPT = re.compile(r"^\s*\[(\d+)\]:?\s*$")

# Settings for the temporary JupyterLab user: every cell attached to the DOM (so all outputs can be
# inspected and screenshotted), and no calls to the internet for news or updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}
RUN_TIMEOUT_MS = 90_000  # the slowest notebook runs in well under this on 2 cores


def stop(process: subprocess.Popen) -> None:
    """Stop a server this test started (Jupyter, a hub): terminate, then kill if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- driving JupyterLab ------------------------------------------------------------------------

def wait_for_kernel(page) -> None:
    """Until the notebook's kernel is connected and idle. (The indicator says "idle" before any
    kernel is attached too; Run All then only opens the kernel picker.)"""
    page.wait_for_function(
        """([panel, idle]) => {
            const name = document.querySelector(panel + ' .jp-Toolbar-kernelName');
            const label = name ? name.textContent.trim() : '';
            return label !== '' && label !== 'No Kernel' && document.querySelector(idle) !== null;
        }""", arg=[NOTEBOOK, IDLE], timeout=60_000)


def wait_for_widgets(page) -> None:
    """Until no widget output says "Loading widget..." any more (it shows a view, or an error):
    rendering is asynchronous and may lag behind the cell's execution count."""
    pending = page.locator(f"{NOTEBOOK} .jp-OutputArea-output",
                           has_text=re.compile(r"^\s*Loading widget\.\.\.\s*$"))
    _wait_until(page, lambda: pending.count() == 0, "widgets to render", timeout_ms=30_000)


def load_lab(page, base: str) -> None:
    """Load JupyterLab once (its JavaScript costs Chromium about 5 s of CPU per load); the notebooks
    then open in it one after the other. The app is reachable as window.jupyterapp
    (--LabApp.expose_app_in_browser): the commands below are the ones its menus and file browser run."""
    page.goto(f"{base}/lab?reset")
    wait_for_lab(page)


def wait_for_lab(page) -> None:
    """Until the JupyterLab this page is loading (or being sent to) is ready to take commands."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('docmanager:open')",
                           timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored")  # the workspace restored: the shell is ready


def open_notebook(page, name: str) -> None:
    """Open `name` as a double click in the file browser does, and wait for its kernel."""
    # (returns nothing: the widget it opened, or found open already, is too deep to serialize)
    page.evaluate("async path => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }",
                  f"{name}.ipynb")
    wait_for_kernel(page)


def close_everything(page) -> None:
    """Between notebooks: every extra tab (a consent page a test opened) and every notebook closed,
    saved first (the copy is throw-away) so that no "Save your work?" dialog is left open."""
    for other in page.context.pages:
        if other is not page:
            other.close()
    page.evaluate("""async () => {
        const commands = window.jupyterapp.commands;
        await commands.execute('docmanager:save-all');
        await commands.execute('application:close-all');
    }""")
    page.context.clear_cookies()  # the next notebook's server must not find Jane signed in


def menu(page, *path: str) -> None:
    """Click through the menu bar, e.g. ``menu(page, "Run", "Run All Cells")``."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(path[0])}$")).click()
    for label in path[1:]:
        label_text = page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(label)}$"))
        page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has=label_text).first.click()


def _prompts(page) -> list[str]:
    return page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()


def _wait_until(page, condition, what: str, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "jupyterlab-timeout.png")
            pytest.fail(f"timed out waiting for {what}; prompts: {_prompts(page)} "
                        "(see test-artifacts/jupyterlab-timeout.png)")
        page.wait_for_timeout(200)


def run_all(page, restart: bool = False) -> None:
    """Clear every output (so stored results cannot pass for new ones), then Run → Run All Cells
    (or, with `restart`, Kernel → Restart Kernel and Run All Cells… and Restart in its dialog),
    and wait until no cell is running or queued any more: all ran, or an error stopped the run."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    _wait_until(page, lambda: not any(DONE_PROMPT.match(p) for p in _prompts(page)), "outputs cleared")
    if restart:
        menu(page, "Kernel", "Restart Kernel and Run All Cells…")
        page.locator(".jp-Dialog .jp-mod-accept", has_text="Restart").click()
    else:
        menu(page, "Run", "Run All Cells")

    def settled() -> bool:
        prompts = _prompts(page)
        if any(RUNNING_PROMPT.match(p) for p in prompts):
            return False
        return (all(DONE_PROMPT.match(p) for p in prompts)
                or page.locator(f"{NOTEBOOK} {STDERR}").count() > 0)  # Run All stops at an error

    _wait_until(page, settled, "Run All Cells to finish")
    page.locator(IDLE).wait_for()
    wait_for_widgets(page)


def code_cell(page, text: str):
    """The code cell whose source contains `text` (exactly one)."""
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell",
                        has=page.locator(".jp-InputArea-editor", has_text=text))
    assert cell.count() == 1, f"expected one code cell containing {text!r}, found {cell.count()}"
    return cell


def run_cell_containing(page, text: str):
    """Select the code cell whose source contains `text`, run it with Shift+Enter, wait for it."""
    cell = code_cell(page, text)
    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    _wait_until(page, lambda: (DONE_PROMPT.match(prompt.inner_text()) is not None
                               and prompt.inner_text() != before), f"the cell with {text!r} to run")
    page.locator(IDLE).wait_for()
    wait_for_widgets(page)
    return cell


def assert_no_errors(page, name: str) -> None:
    notebook = page.locator(NOTEBOOK)
    broken = notebook.locator(WIDGET_ERROR)
    assert broken.count() == 0, f"{name}: widgets failed to render: {broken.all_inner_texts()}"
    lost = notebook.locator(".jp-OutputArea-output", has_text="Error displaying widget")
    assert lost.count() == 0, f"{name}: {lost.all_inner_texts()}"  # e.g. "model not found"
    failures = [text for text in notebook.locator(STDERR).all_inner_texts()
                if "Error" in text or "Traceback" in text]
    assert not failures, f"{name}: error output:\n" + "\n---\n".join(failures)
    not_run = [p for p in _prompts(page) if not DONE_PROMPT.match(p)]
    assert not not_run, f"{name}: {len(not_run)} code cells did not run"


def screenshot(page, path: Path, cell=None) -> None:
    """A cell (e.g. a clicked widget), uncropped; without `cell`, the whole notebook — only with
    WHOLE_NOTEBOOK_SCREENSHOTS=1: the failure of a browser test takes one anyway (conftest.py),
    and each costs a layout of the whole notebook at its full height and a PNG of megabytes
    (measured: 6 of the 41 CPU-seconds of a group of five notebooks)."""
    if cell is None:
        if WHOLE_NOTEBOOKS:
            whole_notebook(page, path)
        return
    if cell.bounding_box()["height"] < page.viewport_size["height"] - 100:
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=path)
        return
    whole_notebook(page, path, cell)


def whole_notebook(page, path: Path, cell=None) -> None:
    """The whole notebook in one image (or a cell taller than the viewport): grow the viewport to
    the notebook's height first. A cell that fits the viewport needs no growing (a resize lays the
    whole notebook out twice: most of what a screenshot costs)."""
    panel = page.locator(f"{NOTEBOOK} .jp-WindowedPanel-outer")
    height = panel.evaluate("e => e.scrollHeight")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(height + 200, 16_000)})
    panel.evaluate("e => { e.scrollTop = 0; }")
    page.wait_for_timeout(300)  # let the layout settle
    (cell or page).screenshot(path=path)
    page.set_viewport_size(size)


# --- clicking widgets --------------------------------------------------------------------------

def exactly(text: str) -> re.Pattern:
    """For `has_text=`: the whole text is `text` (give or take white space, e.g. after an icon)."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def button(scope, label: str):
    """The ipywidgets Button labelled exactly `label`."""
    return scope.locator(".widget-button", has_text=exactly(label))


def allow_in_panel(page, cell_text: str):
    """Run the cell that makes a fresh consent panel, click its Allow, wait until the browser is
    sent back to the app; the panel's cell, with Allow now disabled."""
    consent = run_cell_containing(page, cell_text)
    allow = button(consent, "Allow")
    allow.click()
    consent.get_by_text("The browser is sent back to the app with").wait_for()
    assert allow.is_disabled()
    return consent


def control(scope, kind: str, label: str):
    """The `.widget-<kind>` control (text, textarea, dropdown, toggle-buttons...) whose description
    is exactly `label`."""
    description = scope.page.locator(".widget-label", has_text=exactly(label))
    found = scope.locator(f".widget-{kind}", has=description)
    assert found.count() == 1, f"expected one {kind} labelled {label!r}, found {found.count()}"
    return found


def choose(scope, label: str, option: str) -> None:
    """Pick the Dropdown option whose label is `option`, or starts with `option` + " "."""
    select = control(scope, "dropdown", label).locator("select")
    values = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    matching = [v for v in values if v == option or v.startswith(option + " ")]
    assert len(matching) == 1, f"{label}: no single option {option!r} in {values}"
    select.select_option(value=matching[0])
    assert select.input_value() == matching[0]


def synced(page) -> None:
    """Let a changed control's state reach the kernel before the next click. ipywidgets holds a
    state update back while an earlier one is unanswered, but sends a button's click at once: a
    click right after a change could reach the kernel first and act on the old value."""
    page.wait_for_timeout(300)
    page.locator(IDLE).wait_for()


def open_and_sign_in(page, scope, link: str, user: str = "jane"):
    """Click the link named `link` in `scope` (it opens a server page in a new tab) and sign in
    there as `user`, as a learner does in their own browser; returns the new tab."""
    with page.context.expect_page() as opened:
        scope.get_by_role("link", name=link).click()
    real = opened.value
    real.wait_for_load_state()
    if real.get_by_label("Username").count() == 0:  # say what the learner sees instead
        ARTIFACTS.mkdir(exist_ok=True)
        real.screenshot(path=ARTIFACTS / "sign-in-missing.png", full_page=True)
        pytest.fail(f"{link!r} opened no sign-in form but {real.url}:\n{real.locator('body').inner_text()}"
                    "\n(see test-artifacts/sign-in-missing.png)")
    real.get_by_label("Username").fill(user)
    real.get_by_label("Password").fill(f"{user}-password")
    real.get_by_role("button", name="Sign in").click()
    return real


def output_text(cell) -> str:
    return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())


def wait_for_output(page, cell, pattern: str, what: str) -> str:
    """Until the cell's output matches the regular expression `pattern`; that output."""
    _wait_until(page, lambda: re.search(pattern, output_text(cell)) is not None, what, timeout_ms=30_000)
    return output_text(cell)


def owner_headers(url: str) -> dict:
    """The owner key of the server at `url`, from the card its kernel wrote (mock_server/owner.py;
    the kernels inherit this process's MOCK_SERVER_CARDS)."""
    from mock_server.owner import read_card

    return {"Authorization": f"Bearer {read_card(url)['key']}"}


def mock_server(path: str, **params):
    """GET one of the mock server's own /_mock/ endpoints (virtual clock, transcript): the server
    runs in the notebook's kernel, so this is the state the widgets show, read behind their back."""
    url = f"{MOCK_SERVER}/_mock/{path}" + (f"?{urlencode(params)}" if params else "")
    request = urllib.request.Request(url, headers=owner_headers(MOCK_SERVER))
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def last_seq() -> int:
    return mock_server("transcript", since=10**9)["last_seq"]


def virtual_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def uses_widgets(name: str) -> bool:
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    return any("oauth_lab.widgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")



