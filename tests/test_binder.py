"""The Binder set-up in binder/.

repo2docker cannot build here (no Docker engine), so these tests check the files themselves and run
what can run: the requirements resolve for Binder's Python, postBuild installs the proxy entries,
``binder/start`` starts a mock server announcing the right public URLs (its own and the app's, by
the same derivation as ``mock_server.settings.behind_jupyter``) and then execs its arguments.
tests/browser/test_proxy.py drives the same proxy entries through a real Jupyter server and Chromium.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from traitlets.config.loader import PyFileConfigLoader

import mock_server
from mock_server.__main__ import parse_args
from mock_server.settings import APP_CALLBACK, DEFAULT_APP_PORT, PROXY_ENTRIES, Settings, behind_jupyter
from oauth_lab.lab import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
VENV_BIN = Path(sys.executable).parent
HUB = "https://hub.example.org"
# What binder/start registers in a fresh container (no MOCK_APP_PORT there).
DEFAULT_APP_REDIRECT_URI = f"http://127.0.0.1:{DEFAULT_APP_PORT}{APP_CALLBACK}"


# --- helpers -------------------------------------------------------------------------------------

def read_lines(path: Path) -> list[str]:
    """The lines that do something: no blanks, no comments (a shebang is a comment too)."""
    stripped = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in stripped if line]


def proxy_servers(config_file: Path = BINDER / "jupyter_server_config.py") -> dict:
    """``c.ServerProxy.servers`` as Jupyter's own config loader reads it (env as it is now)."""
    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    return config.ServerProxy.servers


def clean_env(home: Path, **env: str) -> dict:
    """An environment like a fresh Binder container's: no hub or mock-server variables of ours,
    a private HOME, this venv's python / jupyter / pip first on PATH."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("JUPYTERHUB_", "MOCK_", "JUPYTER_"))}
    return {**base, "HOME": str(home), "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}", **env}


def issuer_on(port: int, timeout: float = 20) -> str:
    """Poll the server's metadata until it answers; its issuer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server",
                                timeout=2).json()["issuer"]
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stop_group(pgid: int, port: int) -> None:
    """Stop what binder/start left running: its process group (the server outlives the exec'd
    command, and is no child of ours to wait for)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while port_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not port_open(port):
            return


# --- the files -----------------------------------------------------------------------------------

def test_requirements_reuse_the_course_pins():
    assert read_lines(BINDER / "requirements.txt") == ["-r ../requirements.txt"]
    root_pins = read_lines(ROOT / "requirements.txt")
    assert "jupyter-server-proxy==4.6.0" in root_pins, "pin the proxy version the tests use"


def test_requirements_resolve_for_binder_python(tmp_path):
    """Resolve everything from the package index, as repo2docker will, for runtime.txt's Python
    (wheels only: that is what --python-version allows). Needs the index; ~10-20 s."""
    python = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--python-version", python, "--only-binary=:all:", "--report", str(report),
         "-r", str(BINDER / "requirements.txt")],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    assert resolved["jupyter-server-proxy"] == "4.6.0"
    assert {"jupyterlab", "authlib", "waitress"} <= resolved.keys()
    # The hub that serves a Binder image brings its own jupyterhub: a second one (the tests' pin)
    # would replace the version repo2docker matched to it.
    assert not {"jupyterhub", "pytest", "playwright"} & resolved.keys(), "test tools in the Binder image"


def test_runtime_is_a_python_we_support():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert SpecifierSet(requires.group(1)).contains(runtime.removeprefix("python-") + ".0")


@pytest.mark.parametrize("script", ["start", "postBuild"])
def test_scripts_are_executable_bash(script):
    path = BINDER / script
    assert os.access(path, os.X_OK), f"chmod +x binder/{script}"
    assert path.read_text().startswith("#!/bin/bash\n")
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_postbuild_is_strict_and_installs_the_course_packages():
    lines = read_lines(BINDER / "postBuild")
    assert lines[0] == "set -euo pipefail", "the first command must be `set -euo pipefail`"
    assert "pip install --no-deps -e ." in lines


def test_start_ends_by_exec_ing_its_arguments():
    lines = read_lines(BINDER / "start")
    assert lines[-1] == 'exec "$@"'
    assert "set -e" not in " ".join(lines), "a failing step must not stop the launch"


def test_proxy_entries():
    """The server at {base_url}oauth/ with a launcher tile, the app at {base_url}oauth-app/ without:
    the names the Python side derives the public URLs from."""
    from jupyter_server_proxy.config import ServerProcess

    servers = proxy_servers()
    assert sorted(servers) == sorted(PROXY_ENTRIES.values())
    for name, entry in servers.items():
        assert entry["command"] == [], f"{name}: already running (binder/start, the kernel): only forward"
        assert entry["absolute_url"] is False, f"{name}: the prefix must be stripped before forwarding"
    server = ServerProcess(name=PROXY_ENTRIES["server"], **servers[PROXY_ENTRIES["server"]])
    assert server.launcher_entry.enabled and server.launcher_entry.title == "Fernhollow Accounts"
    assert server.launcher_entry.path_info == "oauth/"
    app = ServerProcess(name=PROXY_ENTRIES["app"], **servers[PROXY_ENTRIES["app"]])
    assert not app.launcher_entry.enabled, "the app has no page to open from the launcher"


def test_one_default_port_everywhere(monkeypatch):
    monkeypatch.delenv("MOCK_SERVER_PORT", raising=False)
    monkeypatch.delenv("MOCK_APP_PORT", raising=False)
    start_default = re.search(r'port="\$\{MOCK_SERVER_PORT:-(\d+)\}"', (BINDER / "start").read_text())
    assert start_default, "binder/start: port=\"${MOCK_SERVER_PORT:-5001}\""
    ports = {"binder/start": int(start_default.group(1)),
             "binder proxy entry": proxy_servers()["oauth"]["port"],
             "oauth_lab DEFAULT_PORT": DEFAULT_PORT,
             "python -m mock_server": parse_args([]).port,
             "Settings": Settings().port}
    assert set(ports.values()) == {5001}, ports
    app_ports = {"binder proxy entry": proxy_servers()["oauth-app"]["port"],
                 "mock_server.settings (oauth_lab's too)": DEFAULT_APP_PORT}
    assert set(app_ports.values()) == {8765}, app_ports
    monkeypatch.setenv("MOCK_SERVER_PORT", "5099")
    monkeypatch.setenv("MOCK_APP_PORT", "8799")
    ports = {name: entry["port"] for name, entry in proxy_servers().items()}
    assert ports == {"oauth": 5099, "oauth-app": 8799}, "the entries must follow the variables like start"


# --- running them --------------------------------------------------------------------------------

def test_postbuild_installs_the_packages_and_the_proxy_entry(tmp_path):
    """Run postBuild with a stand-in `pip` (records its arguments) and a private HOME."""
    home, stubs = tmp_path / "home", tmp_path / "bin"
    stubs.mkdir(parents=True)
    pip_log = tmp_path / "pip.log"
    (stubs / "pip").write_text(f'#!/bin/sh\necho "$@" >> "{pip_log}"\n')
    (stubs / "pip").chmod(0o755)
    existing = home / ".jupyter" / "jupyter_server_config.py"
    existing.parent.mkdir(parents=True)
    existing.write_text("c.ServerApp.terminals_enabled = False\n")  # the image's own, if any

    env = clean_env(home)
    env["PATH"] = f"{stubs}{os.pathsep}{env['PATH']}"
    env["JUPYTERLAB_DIR"] = str(tmp_path / "lab")  # JupyterLab's application folder (the image's)
    result = subprocess.run([str(BINDER / "postBuild")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert pip_log.read_text().splitlines() == ["install --no-deps -e ."]
    installed = PyFileConfigLoader(existing.name, path=str(existing.parent)).load_config()
    assert installed.ServerApp.terminals_enabled is False, "postBuild must keep existing settings"
    assert installed.ServerProxy.servers == proxy_servers()
    overrides = tmp_path / "lab" / "settings" / "overrides.d" / "oauth-hands-on.json"
    assert json.loads(overrides.read_text())["@jupyterlab/apputils-extension:notification"] == {
        "fetchNews": "false", "checkForUpdates": False}, "no news pop-up on Binder either"


# --- binder/start: the public URLs it announces -------------------------------------------------

def start_env(tmp: Path, **env: str) -> dict:
    """binder/start's environment on a hub: the prefix is always there, the rest per case."""
    return clean_env(tmp, **{"JUPYTERHUB_SERVICE_PREFIX": "/user/demo/", **env})


def announced(tmp: Path, **env: str) -> tuple[dict, dict]:
    """Run binder/start with a stand-in `python` that records the server's arguments instead of
    serving. Returns them (option -> value) and the environment Jupyter (the exec'd command) got."""
    stubs, recorded = tmp / "bin", tmp / "server-args"
    stubs.mkdir()
    # Written whole, then renamed: the stand-in runs in the background, the test may look early.
    (stubs / "python").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{recorded}.part" '
                                  f'&& mv "{recorded}.part" "{recorded}"\n')
    (stubs / "python").chmod(0o755)
    environment = start_env(tmp, **env)
    environment["PATH"] = f"{stubs}{os.pathsep}{environment['PATH']}"
    jupyter = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    result = subprocess.run([str(BINDER / "start"), *jupyter], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 5
    while not recorded.exists():
        assert time.monotonic() < deadline, "binder/start did not start the server"
        time.sleep(0.02)
    args = recorded.read_text().splitlines()
    assert args[:2] == ["-m", "mock_server"], args
    options = dict(zip(args[2::2], args[3::2]))
    return options, json.loads(result.stdout.splitlines()[-1])


ELSEWHERE = "https://elsewhere.example/lab/"
ANNOUNCED = {
    # name: (extra environment, the server's --public-url, the app's public URL; None = unknown)
    "from the hub's public URL (prefix included)": (
        {"JUPYTERHUB_PUBLIC_URL": f"{HUB}/user/demo/"}, f"{HUB}/user/demo/oauth", f"{HUB}/user/demo/oauth-app"),
    "MOCK_SERVER_PUBLIC_URL wins, the app beside it": (
        {"MOCK_SERVER_PUBLIC_URL": f"{ELSEWHERE}oauth/", "JUPYTERHUB_PUBLIC_URL": f"{HUB}/user/demo/"},
        f"{ELSEWHERE}oauth", f"{ELSEWHERE}oauth-app"),
    "MOCK_APP_PUBLIC_URL wins": (
        {"JUPYTERHUB_PUBLIC_URL": f"{HUB}/user/demo/", "MOCK_APP_PUBLIC_URL": "https://apps.example/mine/"},
        f"{HUB}/user/demo/oauth", "https://apps.example/mine"),
    "a server URL elsewhere says nothing of the app": (
        {"MOCK_SERVER_PUBLIC_URL": "https://auth.example"}, "https://auth.example", None),
    "no public URL known": ({}, None, None),
}


@pytest.mark.parametrize("case", ANNOUNCED)
def test_start_announces_both_public_urls(case, tmp_path):
    extra, server_url, app_url = ANNOUNCED[case]
    options, jupyter_env = announced(tmp_path, **extra)
    assert options.get("--public-url") == server_url
    assert options.get("--app-redirect-uri") == (app_url and app_url + APP_CALLBACK)
    assert jupyter_env.get("MOCK_APP_PUBLIC_URL") == app_url, "the kernels read the app's URL from it"
    assert options["--port"] == "5001" and options["--seed"] == "1"


JUPYTER_URLS = [f"{HUB}/user/demo/", f"{HUB}/user/demo", f"{HUB}/jhub/user/demo/second-server/",
                "http://127.0.0.1:8888/user/ada%40example.org/"]


@pytest.mark.parametrize("jupyter_url", JUPYTER_URLS)
def test_start_derives_what_the_server_learns(jupyter_url, tmp_path):
    """One derivation, two spellings: binder/start's bash from the hub's URL, and
    ``behind_jupyter`` in the admin route that learns the same URL from the browser."""
    parts = urlsplit(jupyter_url)
    prefix = parts.path.rstrip("/") + "/"
    options, jupyter_env = announced(tmp_path, JUPYTERHUB_PUBLIC_URL=jupyter_url,
                                     JUPYTERHUB_SERVICE_PREFIX=prefix)
    app = mock_server.create_app(Settings(seed=1))
    client = app.test_client()
    owner = {"Authorization": f"Bearer {app.extensions['mock_server'].owner_key}"}
    token = client.get("/_mock/public-url/token", headers=owner).json["token"]
    learned = client.post("/_mock/public-url", json={"origin": f"{parts.scheme}://{parts.netloc}",
                                                     "prefix": prefix, "token": token})
    assert learned.status_code == 200, learned.json

    server_url, app_url = behind_jupyter(jupyter_url)
    assert options["--public-url"] == learned.json["issuer"] == server_url
    assert options["--app-redirect-uri"] == learned.json["app_redirect_uris"][-1] == app_url + APP_CALLBACK
    assert jupyter_env["MOCK_APP_PUBLIC_URL"] == app_url
    assert server_url.count(prefix) == 1, "the prefix is in the hub's URL already: never add it twice"


# --- binder/start for real: a server in the background, then Jupyter ------------------------------

START_CASES = {
    # name: (extra environment, expected issuer, the app's redirect URI; {port} = the server's port)
    "from the hub's public URL": (
        {"JUPYTERHUB_PUBLIC_URL": f"{HUB}/user/demo/"}, f"{HUB}/user/demo/oauth",
        f"{HUB}/user/demo/oauth-app/callback"),
    "MOCK_SERVER_PUBLIC_URL wins": (
        {"MOCK_SERVER_PUBLIC_URL": "https://elsewhere.example/lab/oauth/", "JUPYTERHUB_PUBLIC_URL": HUB},
        "https://elsewhere.example/lab/oauth", "https://elsewhere.example/lab/oauth-app/callback"),
    "no public URL known": ({}, "http://127.0.0.1:{port}", DEFAULT_APP_REDIRECT_URI),
}


def accepts_redirect_uri(port: int, redirect_uri: str) -> bool:
    """Does the server take this redirect URI for the demo apps? (a sign-in page, not an error)"""
    answer = requests.get(f"http://127.0.0.1:{port}/authorize", timeout=5, allow_redirects=False, params={
        "response_type": "code", "client_id": "fernhollow-reports", "redirect_uri": redirect_uri,
        "scope": "customers:ro", "state": "s"})
    return answer.status_code == 200 and "Sign in" in answer.text


@pytest.mark.parametrize("case", START_CASES)
def test_start_serves_then_execs(case, tmp_path):
    extra, expected, redirect_uri = START_CASES[case]
    port = mock_server.free_port()
    log = tmp_path / "mock_server.log"
    env = start_env(tmp_path, **extra, MOCK_SERVER_PORT=str(port), MOCK_SERVER_LOG=str(log))
    started = time.monotonic()
    proc = subprocess.Popen([str(BINDER / "start"), "echo", "started"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: we stop it whole
    try:
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 5, "start must hand over to Jupyter quickly"
        assert proc.returncode == 0, err
        assert out.splitlines()[-1] == "started", "start must end with exec \"$@\""
        hint = "learns it from your browser" in out
        assert hint == (case == "no public URL known"), out
        try:
            assert issuer_on(port) == expected.format(port=port)
        except requests.ConnectionError:
            pytest.fail(f"no mock server on port {port}; its log:\n{log.read_text()}")
        assert accepts_redirect_uri(port, redirect_uri), f"{redirect_uri} is not registered"
        assert accepts_redirect_uri(port, DEFAULT_APP_REDIRECT_URI), "the app's loopback one must stay"
        assert not accepts_redirect_uri(port, "https://evil.example/user/demo/oauth-app/callback")
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_group(proc.pid, port)
    assert not port_open(port), "the background server must be stopped"
