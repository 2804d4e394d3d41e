"""`make test`: the notebooks under strict nbval, beside every other test on pytest-xdist workers.

The notebooks' committed outputs name the default ports (5001 for the server, 8765 for the app),
so they run in a process of their own with those ports (scripts/check_notebooks.py: in fresh
kernels, then each again against a server an earlier run used). Everything else runs at the same time on
`--workers` processes, each with ports of its own (tests/conftest.py), grouped by module so a
module's servers start once, the longest modules first (tests/conftest.py: the JupyterLab runs are
four classes of tests/browser/test_jupyterlab.py, each about 90 s; tests/browser/test_real_hub.py, a
JupyterHub with its own JupyterLab and Chromium, about 50 s; four workers, measured best on 2
cores). The notebooks' report follows the others'.

    python scripts/run_tests.py [--workers N] [pytest arguments for the tests/ run]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = ("MOCK_SERVER_PORT", "MOCK_APP_PORT")  # the notebooks' run must see the defaults


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    args, rest = parser.parse_known_args(argv)
    notebooks_env = {k: v for k, v in os.environ.items() if k not in PORTS}
    with tempfile.TemporaryFile("w+") as notebooks_log:
        notebooks = subprocess.Popen([sys.executable, "scripts/check_notebooks.py"],
                                     cwd=ROOT, env=notebooks_env, stdout=notebooks_log,
                                     stderr=subprocess.STDOUT, text=True)
        tests = subprocess.call([sys.executable, "-m", "pytest", "-n", str(args.workers),
                                 "--dist", "loadscope", "--no-loadscope-reorder", "tests", *rest], cwd=ROOT)
        notebooks.wait()
        notebooks_log.seek(0)
        print("\n=== the notebooks, under strict nbval ===", flush=True)
        sys.stdout.write(notebooks_log.read())
    print(f"\ntests/: {'passed' if tests == 0 else 'FAILED'} · notebooks/: "
          f"{'passed' if notebooks.returncode == 0 else 'FAILED'}")
    return tests or notebooks.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
