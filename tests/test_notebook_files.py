"""The committed notebooks themselves: runnable as committed, navigable, no tracebacks."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from oauth_lab.course import COURSE, navigation

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
COURSE_FILES = [NOTEBOOKS / f"{name}.ipynb" for name, _, _ in COURSE]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_every_course_notebook_exists_and_nothing_else_is_numbered():
    numbered = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    assert numbered == COURSE_FILES


@pytest.mark.parametrize("path", COURSE_FILES + [NOTEBOOKS / "index.ipynb"], ids=lambda p: p.stem)
def test_kernelspec_is_python3(path):
    # A notebook without it opens a kernel-picker dialog in JupyterLab (platform-notes).
    assert nbformat.read(path, as_version=4).metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_committed_with_outputs_from_a_clean_run(path):
    cells = code_cells(path)
    counts = [c.execution_count for c in cells]
    assert None not in counts, "a cell without an execution count is not checked by nbval"
    assert counts == list(range(1, len(cells) + 1)), "outputs must come from one top-to-bottom run"
    for cell in cells:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        assert "Traceback" not in str(cell.outputs), cell.source
        if "NBVAL_IGNORE_OUTPUT" in cell.source:
            reason = cell.source.split("NBVAL_IGNORE_OUTPUT", 1)[1].splitlines()[0]
            assert len(reason.strip(" :-—")) > 10, "say why the output cannot be compared"


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_navigation_first_and_last(path):
    cells = nbformat.read(path, as_version=4).cells
    line = navigation(path.stem)
    assert cells[0].source.startswith(line) and cells[-1].source.endswith(line)


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_starts_with_one_setup_call_and_ends_with_a_checked_exercise(path):
    cells = code_cells(path)
    assert "lab = setup()" in cells[0].source
    assert ".check(" in cells[-1].source and "oauth_lab.exercises" in cells[-1].source
