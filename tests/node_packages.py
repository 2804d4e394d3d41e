"""Node packages the tests need, installed from a committed lock file (tests/interop, tests/browser/hub)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def npm_installed(folder: Path, package: str, why: str) -> str:
    """`node` on the PATH, with `folder`'s packages installed; returns node's path.

    Skips only when Node is missing (`why` says what for), and fails instead when REQUIRE_NODE is
    set, as CI does. With Node present, a missing `package` is installed here (`npm ci`, exactly
    the lock file); an install that fails is a test failure, not a skip."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("REQUIRE_NODE"):
            pytest.fail("REQUIRE_NODE is set but node is not installed")
        pytest.skip(f"node is not installed: {why} needs Node >= 20 "
                    "(set REQUIRE_NODE=1 to make this a failure, as CI does)")
    if not (folder / "node_modules" / package / "package.json").is_file():
        if shutil.which("npm") is None:
            pytest.fail(f"node is installed but npm is not: cannot install {folder} (npm ci)")
        command = ["npm", "ci", "--prefix", str(folder), "--no-audit", "--no-fund"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return node
