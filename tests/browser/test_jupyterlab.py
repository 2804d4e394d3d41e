"""The course as a learner meets it: every notebook run in JupyterLab, in a real browser.

A JupyterLab server (the venv's, on a free port, token off) serves a temporary copy of notebooks/ so
running them never touches the committed files. Each test opens one notebook, clears it, runs all
cells from the menu and checks that nothing failed: no widget that could not render, no traceback,
no error output, and live widgets where the notebook has them. A screenshot of each notebook goes
to test-artifacts/notebook-<name>.png.

Each notebook runs once. Where it has widgets to click, the same run goes on to click them the way
a learner would (CLICKS below):
- 02: the RegistrationForm, retyped as a browser app and registered: a client id and no secret;
- 03: scope checkboxes in the ScopePicker, then Allow in the ConsentPanel, and the token the next
  cell shows must carry exactly those scopes; then the consent panel's link opens the *real*
  consent page in a new tab, Jane signs in and allows there, the browser lands on the app's own
  redirect URI (served by the kernel), and "Read what my app received" shows it in the panel;
- 04: "Show secrets" in the ExchangeInspector unmasks the code and credentials, and masks them again;
- 05: the ApiExplorer's dropdowns and Send: 403 insufficient_scope, then 200, then invalid JSON;
- 06: "+1 h" on the ClockWidget moves the server's virtual clock and the token's countdown.
Each clicked state is screenshotted to test-artifacts/notebook-<name>-<what>.png.

Every notebook's kernel starts the mock server on port 5001 in-process (``lab = setup()``), so the
notebooks run one at a time and each test shuts its kernel down before the next one starts.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts"  # as in conftest.py
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
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


# --- the server --------------------------------------------------------------------------------

def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _api(base: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/api/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def _wait_port_free(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _port_taken(port):
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} is still taken {timeout:.0f} s after the kernels were shut down")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def jupyter(chromium, tmp_path_factory, artifacts):
    """Base URL of a JupyterLab serving a throw-away copy of notebooks/ (venv kernel, no token)."""
    if _port_taken(MOCK_SERVER_PORT):
        pytest.fail(f"port {MOCK_SERVER_PORT} is already in use: each notebook's kernel starts the mock "
                    "server there. Stop whatever holds it (`make server`, another Jupyter kernel, "
                    "another test run) and run again.")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    home = tmp / "home"
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               IPYTHONDIR=str(home / ".ipython"), JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
               # the kernel imports the course's code from this checkout
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("JUPYTER_PATH", None)
    for relative, values in LAB_SETTINGS.items():
        target = home / "lab-settings" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = artifacts / "jupyterlab-server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=",
             "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             "--allow-root", f"--ServerApp.root_dir={root}",
             "--KernelSpecManager.ensure_native_kernel=True"],
            env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}: see {log_path}")
            try:
                _api(base, "status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status within 60 s: see {log_path}")
                time.sleep(0.3)
        _check_kernel_is_the_venvs(base, server.pid)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _check_kernel_is_the_venvs(base: str, server_pid: int) -> None:
    """The `python3` kernel must run this venv's interpreter (jupyter_client runs a kernelspec that
    says plain `python` with its own): start one, read its command line, shut it down."""
    specs = _api(base, "kernelspecs")
    assert specs["default"] == "python3", specs["default"]
    kernel = _api(base, "kernels", method="POST", body={"name": "python3"})
    try:
        children = [Path(f"/proc/{pid}/cmdline") for pid in os.listdir("/proc") if pid.isdigit()
                    and _parent(pid) == server_pid]
        commands = [c.read_bytes().split(b"\0")[0].decode() for c in children if c.exists()]
        venv_bin = Path(sys.executable).parent
        assert any(Path(c).parent == venv_bin for c in commands), (
            f"the python3 kernel runs {commands}, not a python from {venv_bin}")
    finally:
        _api(base, f"kernels/{kernel['id']}", method="DELETE")


def _parent(pid: str) -> int | None:
    try:  # /proc/<pid>/stat: "pid (name) state ppid ..."; the name may contain spaces
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def shutdown_kernels(base: str) -> None:
    """Shut every session's kernel down (and any kernel left over); wait until port 5001 is free."""
    for session in _api(base, "sessions"):
        _api(base, f"sessions/{session['id']}", method="DELETE")
    for kernel in _api(base, "kernels"):
        _api(base, f"kernels/{kernel['id']}", method="DELETE")
    _wait_port_free(MOCK_SERVER_PORT)


@pytest.fixture
def lab(jupyter, page):
    """A browser page on the JupyterLab server; its kernels are shut down afterwards."""
    shutdown_kernels(jupyter)
    yield page
    shutdown_kernels(jupyter)


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


def open_notebook(page, base: str, name: str) -> None:
    page.goto(f"{base}/lab/tree/{name}.ipynb?reset")
    wait_for_kernel(page)


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


def run_all(page) -> None:
    """Clear every output (so stored results cannot pass for new ones), then Run → Run All Cells,
    and wait until no cell is running or queued any more: all ran, or an error stopped the run."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    _wait_until(page, lambda: not any(DONE_PROMPT.match(p) for p in _prompts(page)), "outputs cleared")
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
    """The whole notebook in one image (or just `cell`, e.g. a clicked widget, uncropped): grow
    the viewport to the notebook's height first."""
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


def output_text(cell) -> str:
    return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())


def wait_for_output(page, cell, pattern: str, what: str) -> str:
    """Until the cell's output matches the regular expression `pattern`; that output."""
    _wait_until(page, lambda: re.search(pattern, output_text(cell)) is not None, what, timeout_ms=30_000)
    return output_text(cell)


def mock_server(path: str, **params):
    """GET one of the mock server's own /_mock/ endpoints (virtual clock, transcript): the server
    runs in the notebook's kernel, so this is the state the widgets show, read behind their back."""
    url = f"{MOCK_SERVER}/_mock/{path}" + (f"?{urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def last_seq() -> int:
    return mock_server("transcript", since=10**9)["last_seq"]


def virtual_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _uses_widgets(name: str) -> bool:
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    return any("oauth_lab.widgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")


# --- clicking, notebook by notebook ----------------------------------------------------------

def click_scopes_and_consent(lab, artifacts, name):
    picker = code_cell(lab, "ScopePicker(")
    clicks = {"chats--all:ro": False, "customers:ro": True, "profile": True}  # scope → ticked?
    for scope, ticked in clicks.items():
        box = picker.get_by_role("checkbox", name=scope, exact=True)
        box.set_checked(ticked)
        assert box.is_checked() is ticked
    chosen = {scope for scope, ticked in clicks.items() if ticked}
    ticked_now = {box.inner_text().strip() for box in picker.locator(".widget-checkbox").all()
                  if box.locator("input[type=checkbox]").is_checked()}
    assert ticked_now == chosen

    request = run_cell_containing(lab, "authorization_url, state = oauth.authorization_url(")
    printed = request.locator(".jp-OutputArea-output").all_inner_texts()
    url = next(line for text in printed for line in text.splitlines() if line.startswith("http"))
    assert set(parse_qs(urlsplit(url).query)["scope"][0].split()) == chosen, url

    consent = run_cell_containing(lab, "ConsentPanel(lab, authorization_url")
    allow = button(consent, "Allow")
    allow.click()
    consent.get_by_text("The browser is sent back to the app with").wait_for()
    assert allow.is_disabled()

    run_cell_containing(lab, "read_redirect(redirect)")
    token = run_cell_containing(lab, "oauth.fetch_token(")
    run_cell_containing(lab, "SequenceDiagram(lab.transcript.flow(")  # the new flow, drawn
    screenshot(lab, artifacts / f"notebook-{name}-clicked.png")
    shown = token.locator(".jp-OutputArea-output[data-mime-type='text/plain']").inner_text()
    scopes = ast.literal_eval(shown)
    scopes = scopes.split() if isinstance(scopes, str) else scopes
    assert sorted(scopes) == sorted(chosen), f"token scopes {shown} ≠ clicked {sorted(chosen)}"

    decide_on_the_real_page(lab, artifacts, name)


def decide_on_the_real_page(lab, artifacts, name):
    """The real-browser path: a new request, the panel's link to the real consent page, Jane
    decides there, the browser lands on the app's redirect URI, the panel reads it from the app."""
    request = run_cell_containing(lab, "authorization_url, state = oauth.authorization_url(")
    state = re.search(r"state = (\S+)", output_text(request))[1]
    consent = run_cell_containing(lab, "ConsentPanel(lab, authorization_url")
    with lab.context.expect_page() as opened:
        consent.get_by_role("link", name="Open the real consent page in your browser").click()
    real = opened.value
    real.get_by_label("Username").fill("jane")
    real.get_by_label("Password").fill("jane-password")
    real.get_by_role("button", name="Sign in").click()
    real.get_by_role("button", name="Allow").click()
    real.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/callback\?"))
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


# --- the test ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_notebook_in_jupyterlab(jupyter, lab, artifacts, name):
    """Run All, nothing fails, the widgets render — then click what a learner would click."""
    open_notebook(lab, jupyter, name)
    run_all(lab)
    screenshot(lab, artifacts / f"notebook-{name}.png")
    assert_no_errors(lab, name)
    if _uses_widgets(name):
        assert lab.locator(f"{NOTEBOOK} .jp-OutputArea-output .jupyter-widgets").count() > 0, (
            f"{name} creates widgets but none rendered")
    if name in CLICKS:
        CLICKS[name](lab, artifacts, name)
        assert_no_errors(lab, name)
