"""The notebooks under strict nbval, as learners run them: (1) each in a fresh kernel that starts the
server itself (a laptop: `make lab`); then (2) each once more, one after the other, in kernels that
join a server outliving them (Binder: binder/start runs `python -m mock_server --seed 1` in the
background), as Restart & Run All meets it: a server an earlier run used, whose world the setup
cell starts over (the first notebook runs again last, so that it meets a used server too). Both
must give the committed outputs. The second pass differs from the first in one line only, the setup
cell's "Fernhollow Accounts: …" (which server the notebook joined):
tests/nbval-running-server.cfg normalises that line, and nothing else.

The committed outputs name the default ports (5001 for the server, 8765 for the app), so each pass
needs those ports to itself. Where the machine lets a user make a network namespace (`unshare -rn`,
Linux), each pass runs in one of its own, with a loopback of its own, and the two run at once;
elsewhere one after the other. (scripts/run_tests.py starts this beside the other tests.)

    python scripts/check_notebooks.py [notebooks/03-*.ipynb ...]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
SANITIZE = ROOT / "tests" / "nbval-running-server.cfg"
PORT = 5001


def nbval(notebooks: list[str], *options: str) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
                            *options, *notebooks], cwd=ROOT)


def background_server(env: dict) -> subprocess.Popen:
    """binder/start's server: the same command, seed and port."""
    server = subprocess.Popen([sys.executable, "-m", "mock_server", "--port", str(PORT), "--seed", "1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"http://127.0.0.1:{PORT}/.well-known/oauth-authorization-server", timeout=1)
            return server
        except requests.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the background server did not start on port {PORT}") from None
            time.sleep(0.1)


PASSES = {"fresh": "1. each notebook in a fresh kernel that starts its own server",
          "running": "2. each notebook again, against a server an earlier run used (Restart & Run All)"}


def check(which: str, notebooks: list[str]) -> int:
    """One pass, in this process's network (its own namespace, when main() could make one)."""
    with tempfile.TemporaryDirectory(prefix="mock-server-cards-") as cards:
        # The servers' owner cards (mock_server/owner.py): here, not in the user's home. nbval's
        # kernels and the background server inherit this process's environment.
        os.environ["MOCK_SERVER_CARDS"] = cards
        if which == "fresh":
            return nbval(notebooks)
        server = background_server(dict(os.environ))
        try:
            # Each notebook once: every run but the first finds the world an earlier one left.
            return nbval([*notebooks, notebooks[0]], "--keep-duplicates", f"--nbval-sanitize-with={SANITIZE}")
        finally:
            server.terminate()
            server.wait(timeout=10)


def isolated() -> list[str] | None:
    """The command prefix that runs a program in a new network namespace with its loopback up."""
    prefix = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "isolated"]
    if shutil.which("unshare") and shutil.which("ip"):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


def in_its_own_network(prefix: list[str], which: str, notebooks: list[str]) -> tuple[int, str]:
    done = subprocess.run([*prefix, sys.executable, __file__, f"--pass={which}", *notebooks], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return done.returncode, done.stdout


def main(argv: list[str]) -> int:
    only = next((a.removeprefix("--pass=") for a in argv if a.startswith("--pass=")), None)
    notebooks = [a for a in argv if not a.startswith("--pass=")] or NOTEBOOKS
    if only:
        return check(only, notebooks)
    prefix = isolated()
    if prefix is None:
        codes = []
        for which, title in PASSES.items():
            print(f"=== {title} ===", flush=True)
            codes.append(check(which, notebooks))
        return max(codes)
    with ThreadPoolExecutor(len(PASSES)) as pool:
        runs = {which: pool.submit(in_its_own_network, prefix, which, notebooks) for which in PASSES}
    for which, title in PASSES.items():
        print(f"=== {title} (a network of its own, beside the other pass) ===\n{runs[which].result()[1]}",
              flush=True)
    return max(run.result()[0] for run in runs.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
