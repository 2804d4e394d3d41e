"""The robustness properties of tests/test_robustness.py, run much longer than in `make test`.

    python scripts/fuzz_server.py                      # 20000 random examples per property
    python scripts/fuzz_server.py --examples 2000 -k resource
    python scripts/fuzz_server.py --derandomize        # the CI examples' seed, just more of them

The properties are defined once, in the test module; this only sets how many examples it draws
(FUZZ_EXAMPLES), whether they are random (FUZZ_RANDOM) and calls pytest on it. Exit status is
pytest's: 0 when every property held. A failure prints the minimal input Hypothesis found.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = ROOT / "tests" / "test_robustness.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000, help="examples per property")
    parser.add_argument("--derandomize", action="store_true",
                        help="a fixed seed (as in CI) instead of fresh random examples")
    parser.add_argument("-k", dest="keyword", help="only the properties whose test name matches")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    args = parser.parse_args(argv)

    os.environ["FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["FUZZ_RANDOM"] = "0" if args.derandomize else "1"
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    os.chdir(ROOT)  # pyproject.toml's pytest settings (pythonpath, markers) apply

    import pytest

    pytest_args = [str(TEST_FILE), "-q", "-p", "no:cacheprovider",
                   "--hypothesis-show-statistics", *args.pytest_args]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    return int(pytest.main(pytest_args))


if __name__ == "__main__":
    sys.exit(main())
