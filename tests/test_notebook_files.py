"""The committed notebooks themselves: runnable as committed, framed by the course map, widgets
saved, a recap at the end — the checks nbval cannot make."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from oauth_lab.course import COURSE, contents, footer, header, index

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
COURSE_FILES = [NOTEBOOKS / f"{notebook.name}.ipynb" for notebook in COURSE]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(path):
    return [c for c in read(path).cells if c.cell_type == "code"]


def test_every_course_notebook_exists_and_nothing_else_is_numbered():
    numbered = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    assert numbered == COURSE_FILES


def test_the_index_is_the_course_map():
    (cell,) = read(NOTEBOOKS / "index.ipynb").cells
    assert cell.source == index()


@pytest.mark.parametrize("path", COURSE_FILES + [NOTEBOOKS / "index.ipynb"], ids=lambda p: p.stem)
def test_kernelspec_is_python3(path):
    # A notebook without it opens a kernel-picker dialog in JupyterLab (platform-notes).
    assert read(path).metadata.kernelspec.name == "python3"


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
def test_widgets_are_saved_with_their_state(path):
    """GitHub, nbviewer and a kernel-less JupyterLab render widgets only from saved state."""
    nb = read(path)
    shown = {o.data[WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code"
             for o in c.outputs if WIDGET_VIEW in o.get("data", {})}
    saved = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert shown <= set(saved), f"{len(shown - set(saved))} widgets shown without saved state"


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_framed_by_the_course_map(path):
    """Navigation, expected time and the "where we are" strip first; navigation last."""
    cells = read(path).cells
    assert cells[0].source == header(path.stem) and cells[-1].source == footer(path.stem)


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_ends_with_a_three_line_recap(path):
    recap = read(path).cells[-2].source
    assert recap.startswith("## Recap\n")
    assert len(re.findall(r"^- ", recap, re.M)) == 3


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_starts_with_one_setup_call_and_has_a_checked_exercise(path):
    cells = code_cells(path)
    assert "lab = setup()" in cells[0].source
    assert any(".check(" in c.source and "oauth_lab.exercises" in c.source for c in cells)


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_no_private_attributes_in_learner_code(path):
    for cell in code_cells(path):
        assert not re.search(r"\._[a-z]", cell.source), cell.source


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_points_only_to_notebooks_that_exist(path):
    """"notebook 07 shows…" is a promise: the notebook must be in the course."""
    numbers = {notebook.name[:2] for notebook in COURSE}
    for cell in read(path).cells:
        for number in re.findall(r"\bnotebooks? (\d\d)\b", cell.source):
            assert number in numbers, f"{path.stem} points to notebook {number}, which does not exist"


def test_the_readme_lists_the_course():
    assert contents("notebooks/") in (NOTEBOOKS.parent / "README.md").read_text()


IMAGE = re.compile(r"!\[([^\]]*)\]\((images/[^)]+)\)")


@pytest.mark.parametrize("path", COURSE_FILES, ids=lambda p: p.stem)
def test_every_notebook_shows_a_picture_that_says_what_it_shows(path):
    """A drawing of notebooks/images (which exists, with alt text and an SVG <title>), or a
    diagram one of its cells draws (an image/svg+xml output)."""
    cells = read(path).cells
    pictures = [m for c in cells if c.cell_type == "markdown" for m in IMAGE.findall(c.source)]
    drawn = any("image/svg+xml" in output.get("data", {}) for c in cells if c.cell_type == "code"
                for output in c.outputs)
    assert pictures or drawn, f"{path.name} shows no picture"
    for alt, image in pictures:
        svg = (NOTEBOOKS / image).read_text()
        assert alt.strip() and re.search(r"<title>[^<]+</title>", svg), image


def test_each_notebook_starts_its_other_servers_on_ports_no_other_notebook_takes():
    """JupyterLab keeps a notebook's kernel, and the servers it started, when the learner opens
    the next one: a second server at `lab.port + N` (a weakened one, the attacker's) must not be
    on a port another notebook's kernel may still hold (15 once took 12's attacker's port)."""
    takers = {}
    for path in COURSE_FILES:
        code = "\n".join(cell.source for cell in read(path).cells if cell.cell_type == "code")
        for offset in set(re.findall(r"lab\.port \+ (\d+)", code)):
            takers.setdefault(int(offset), []).append(path.stem[:2])
    assert {offset: nbs for offset, nbs in takers.items() if len(nbs) > 1} == {}
    assert max(takers) < 20  # tests/conftest.py gives each xdist worker 20 ports
