"""mock_server/RULES.md cannot rot: every test it names exists, and it names every teaching switch."""
from __future__ import annotations

import ast
import dataclasses
import functools
import re
from pathlib import Path

from mock_server.settings import Switches

ROOT = Path(__file__).resolve().parents[1]
RULES = (ROOT / "mock_server" / "RULES.md").read_text()
CITED = re.findall(r"`(tests/(?:browser/)?test_\w+\.py)::(test_\w+)`", RULES)
RULE_FILES = ("test_rules_*.py", "test_livechat_profile.py")  # the files that test RULES.md


@functools.cache  # RULES.md cites a few files a hundred times
def defined_tests(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_the_rules_page_names_exists():
    assert len(CITED) > 80, "RULES.md names its tests as `tests/test_rules_x.py::test_y`"
    missing = [f"{path}::{name}" for path, name in CITED
               if not (ROOT / path).is_file() or name not in defined_tests(path)]
    assert missing == []


def test_every_rules_test_file_is_cited():
    files = {path.relative_to(ROOT).as_posix() for pattern in RULE_FILES
             for path in (ROOT / "tests").glob(pattern) if path.name != Path(__file__).name}
    assert files <= {path for path, _ in CITED}


def test_the_rules_page_names_every_teaching_switch():
    assert [f.name for f in dataclasses.fields(Switches) if f"`{f.name}`" not in RULES] == []
