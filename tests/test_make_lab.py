"""`make lab`, with stand-ins for Python and JupyterLab: what it prints while it sets up, and how it
starts JupyterLab — as whoever runs it, on notebook 00, on the port asked for, with the course's
settings. (tests/browser/test_lab_start.py starts the real JupyterLab through it in Chromium.)

The stand-in `python3` makes a stand-in virtualenv whose `python` answers every pip command with
what pip really prints — pages of progress, and setuptools' warning box — and whose `jupyter`
prints its arguments."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

PIP_NOISE = "\n".join([f"Collecting package-{i}" for i in range(280)] + [
    "  BuildBackendWarning: Editable installation.", "  !!", "  " + "*" * 80,
    "  Please be careful with folders in your working directory with the same", "  !!"])

# python3 -m venv DIR: a virtualenv whose python is pip's noise (failing when FAIL_ON is in its
# arguments) and whose jupyter echoes its arguments.
FAKE_PYTHON = f"""#!/bin/sh
[ "$1 $2" = "-m venv" ] || exit 9
mkdir -p "$3/bin"
cat > "$3/bin/python" <<'PY'
#!/bin/sh
cat <<'NOISE'
{PIP_NOISE}
NOISE
echo "WARNING: something pip says on stderr" >&2
case "$*" in *"$FAIL_ON"*) [ -n "$FAIL_ON" ] && {{ echo "ERROR: No matching distribution found" >&2; exit 1; }};; esac
exit 0
PY
printf '#!/bin/sh\\necho "jupyter $*"\\n' > "$3/bin/jupyter"
chmod +x "$3/bin/python" "$3/bin/jupyter"
"""


def make(venv: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "lab", f"VENV={venv}", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def installed(tmp_path) -> Path:
    """A stand-in virtualenv that `make` considers installed: only `make lab`'s own steps run."""
    (tmp_path / "bin").mkdir()
    jupyter = tmp_path / "bin" / "jupyter"
    jupyter.write_text('#!/bin/sh\necho "jupyter $*"\n')
    jupyter.chmod(0o755)
    (tmp_path / ".installed").touch()
    return tmp_path


def jupyter_arguments(ran: subprocess.CompletedProcess) -> list[str]:
    assert ran.returncode == 0, ran.stderr
    (line,) = [line for line in ran.stdout.splitlines() if line.startswith("jupyter ")]
    return line.split()[1:]


def option(arguments: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in arguments if a.startswith(f"--{name}=")]
    assert len(values) <= 1, arguments
    return values[0] if values else None


# --- setting up from nothing -------------------------------------------------------------------

@pytest.fixture
def fake_python(tmp_path) -> Path:
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return python


def test_setting_up_prints_one_line_per_step_and_keeps_pips_output_in_a_log(tmp_path, fake_python):
    venv = tmp_path / "venv"
    ran = make(venv, f"PYTHON={fake_python}")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    steps = [line for line in lines if line.endswith(" s)")]
    assert len(steps) == 4, ran.stdout
    for step, doing in zip(steps, ["Creating the Python environment", "Updating pip",
                                   "Installing requirements.txt", "Installing the course's packages"]):
        assert step.startswith(doing), step
        assert re.search(r"\(.*(about|a few) .*\)\.\.\. done \(\d+ s\)$", step), step  # usual time, then actual
    assert len(lines) <= 8 and max(map(len, steps[1:])) <= 130, ran.stdout  # the steps, two lines, jupyter's
    for noise in ("Collecting", "BuildBackendWarning", "*****", "WARNING"):
        assert noise not in ran.stdout + ran.stderr
    log = (venv / "install.log").read_text()
    assert log.count("Collecting package-279") == 3 and "BuildBackendWarning" in log  # three pip runs
    assert (venv / ".installed").exists()


def test_a_failing_step_stops_and_shows_the_end_of_its_log(tmp_path, fake_python):
    venv = tmp_path / "venv"
    ran = make(venv, f"PYTHON={fake_python}", env={"FAIL_ON": "requirements.txt"})
    assert ran.returncode != 0
    assert "Installing requirements.txt" in ran.stdout and "failed." in ran.stderr
    assert "ERROR: No matching distribution found" in ran.stderr  # what went wrong, at the end of the log
    assert f"the whole output is in {venv}/install.log" in ran.stderr
    assert "Installing the course's packages" not in ran.stdout and "jupyter " not in ran.stdout
    assert not (venv / ".installed").exists()  # the next `make lab` tries again


# --- starting JupyterLab -------------------------------------------------------------------------

def test_make_lab_passes_allow_root_exactly_when_run_as_root(installed):
    # As root (a container, a dev box) JupyterLab refuses to start unless given --allow-root.
    arguments = jupyter_arguments(make(installed))
    assert arguments[0] == "lab"
    assert ("--allow-root" in arguments) == (os.getuid() == 0), arguments


def test_the_printed_link_opens_notebook_00(installed):
    """JupyterLab prints its default URL: /lab/tree/<path> opens that file, relative to the folder
    it serves (its first argument)."""
    arguments = jupyter_arguments(make(installed))
    root = ROOT / arguments[1]
    url = option(arguments, "LabApp.default_url")
    assert url.startswith("/lab/tree/"), url
    assert (root / url.removeprefix("/lab/tree/")).resolve() == ROOT / "notebooks" / "00-start-here.ipynb"


@pytest.mark.parametrize("asked, port", [((), "8888"), (("PORT=9876",), "9876")], ids=["default", "PORT"])
def test_the_port(installed, asked, port):
    arguments = jupyter_arguments(make(installed, *asked))
    assert option(arguments, "port") == port
    assert f"port {port}" in make(installed, *asked).stdout.splitlines()[0]


def test_jupyterlab_logs_only_warnings(installed):
    arguments = jupyter_arguments(make(installed))
    assert option(arguments, "ServerApp.log_level") == option(arguments, "LabApp.log_level") == "WARN"


def test_the_course_ships_its_jupyterlab_settings_no_news_pop_up(installed):
    """JupyterLab asks "Would you like to get notified about official Jupyter news?" on first load
    unless fetchNews is set: the course sets it (and no update checks) in the settings overrides
    of the virtualenv's JupyterLab, where JupyterLab reads overrides.d/*.json."""
    make(installed)
    installed_file = installed / "share/jupyter/lab/settings/overrides.d/oauth-hands-on.json"
    settings = json.loads(installed_file.read_text())
    assert settings == {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                                        "checkForUpdates": False}}
    assert installed_file.read_text() == (ROOT / "jupyter-settings" / "overrides.json").read_text()
